// The model's serial owner and continuous-batching scheduler: one dedicated compute thread runs steps in which
// every active sequence advances (a prompt chunk, or one token) in a single batched forward; requests join and
// leave between steps, wait in a bounded FIFO queue, and stream their events back to async callers. Model compute
// never runs on the cooperative pool.

import Foundation
import PhiKernels
public import PhiTokenizer
import Synchronization

/// Runs generation requests for one model with continuous batching on a dedicated thread.
///
/// `generate` returns at once with a stream of events. Up to `batching.maxSequences` requests run together;
/// the next ones wait in arrival order until a slot and their KV cache reservation are free (when
/// `batching.queueCapacity` are already waiting, `generate` throws `queueFull`). Dropping or cancelling the
/// stream's consumer cancels the request before the next step and frees its slot and KV cache. With greedy
/// parameters, each request gets exactly the tokens `Generator` produces for it alone.
public final class InferenceEngine: Sendable {
    public let model: LoadedModel
    public let tokenizer: (any Tokenizer)?
    public let batching: EngineBatchingOptions
    public let compute: EngineComputeOptions
    /// Positions a sequence's cache may hold (`batching.contextLength` capped at the model's).
    public let contextLength: Int

    /// One request, from `generate` until its stream finishes.
    private struct Job: Sendable {
        let id: UInt64
        let promptTokens: [Int]
        let parameters: GenerationParameters
        /// Cache positions reserved: prompt + max tokens, capped at the context.
        let positions: Int
        let bytes: Int
        let cancellation: CancellationFlag
        let continuation: AsyncThrowingStream<GenerationEvent, any Error>.Continuation
        let submittedAt: UInt64
    }

    private struct State {
        var admission: AdmissionQueue<Job>
        /// Admitted jobs the compute thread has not picked up yet.
        var admitted: [Job] = []
        var isStopped = false
        var nextID: UInt64 = 0
    }

    private struct Counters {
        var timeToFirstToken = LatencyWindow(capacity: EngineStatistics.window)
        var perToken = LatencyWindow(capacity: EngineStatistics.window)
        var tokensGenerated = 0
        var requestsCompleted = 0
    }

    private let state: Mutex<State>
    private let counters = Mutex(Counters())
    private let signal = DispatchSemaphore(value: 0)
    /// Called on the compute thread before each scheduling round (tests hold the engine still with it).
    private let beforeRound: (@Sendable () -> Void)?

    public convenience init(
        model: LoadedModel, tokenizer: (any Tokenizer)?, batching: EngineBatchingOptions = EngineBatchingOptions(),
        threadName: String = "phigate.inference", compute: EngineComputeOptions = EngineComputeOptions()
    ) {
        self.init(model: model, tokenizer: tokenizer, batching: batching, threadName: threadName, compute: compute,
                  beforeRound: nil)
    }

    init(
        model: LoadedModel, tokenizer: (any Tokenizer)?, batching: EngineBatchingOptions, threadName: String,
        compute: EngineComputeOptions, beforeRound: (@Sendable () -> Void)?
    ) {
        self.beforeRound = beforeRound
        self.model = model
        self.tokenizer = tokenizer
        var batching = batching
        batching.maxSequences = max(1, batching.maxSequences)
        batching.queueCapacity = max(0, batching.queueCapacity)
        batching.prefillChunkTokens = max(1, batching.prefillChunkTokens)
        self.batching = batching
        self.compute = compute
        contextLength = min(max(1, batching.contextLength ?? model.config.contextLength), model.config.contextLength)
        state = Mutex(State(admission: AdmissionQueue(
            maxActive: batching.maxSequences, queueCapacity: batching.queueCapacity,
            budgetBytes: batching.kvCacheBudgetBytes)))
        let thread = Thread { [self] in
            ComputeSettings.withActivationQuantization(compute.activationQuantization) { self.computeLoop() }
        }
        thread.name = threadName
        thread.start()
    }

    /// The engine before continuous batching: `queueCapacity` waiting requests, default batching otherwise.
    public convenience init(
        model: LoadedModel, tokenizer: (any Tokenizer)?, queueCapacity: Int, threadName: String = "phigate.inference",
        compute: EngineComputeOptions = EngineComputeOptions()
    ) {
        self.init(model: model, tokenizer: tokenizer, batching: EngineBatchingOptions(queueCapacity: queueCapacity),
                  threadName: threadName, compute: compute)
    }

    /// Queues a request. The stream yields `.token` / `.text` events and ends after `.finished`, or with an error.
    ///
    /// Throws at once for invalid parameters or token ids, a prompt longer than `contextLength`
    /// (`contextOverflow`), a worst case larger than the whole KV budget (`kvCacheBudgetExceeded`), a full queue
    /// (`queueFull`) or a stopped engine.
    public func generate(
        promptTokens: [Int], parameters: GenerationParameters
    ) throws(PhiInferenceError) -> AsyncThrowingStream<GenerationEvent, any Error> {
        try parameters.validate()
        guard !promptTokens.isEmpty else {
            throw .invalidParameter(name: "prompt", reason: "at least one prompt token is needed")
        }
        let vocabulary = model.config.vocabularySize
        if let bad = promptTokens.first(where: { $0 < 0 || $0 >= vocabulary }) {
            throw .invalidTokenID(bad, vocabularySize: vocabulary)
        }
        guard promptTokens.count <= contextLength else {
            throw .contextOverflow(tokens: promptTokens.count, contextLength: contextLength)
        }
        let generated = parameters.maxTokens ?? contextLength
        let positions = min(promptTokens.count + generated, contextLength)
        let bytes = KVCache.byteCount(config: model.config, positions: positions, precision: compute.kvCache)
        if let budget = batching.kvCacheBudgetBytes, bytes > budget {
            throw .kvCacheBudgetExceeded(bytes: bytes, budgetBytes: budget)
        }
        let (stream, continuation) = AsyncThrowingStream<GenerationEvent, any Error>.makeStream()
        let cancellation = CancellationFlag()
        let outcome: Result<UInt64, PhiInferenceError> = state.withLock { state in
            if state.isStopped { return .failure(.engineStopped) }
            let id = state.nextID
            state.nextID += 1
            let job = Job(
                id: id, promptTokens: promptTokens, parameters: parameters, positions: positions, bytes: bytes,
                cancellation: cancellation, continuation: continuation, submittedAt: DispatchTime.now().uptimeNanoseconds)
            switch state.admission.submit(id: id, bytes: bytes, request: job) {
            case .admitted(let job):
                state.admitted.append(job)
            case .queued:
                break
            case .full:
                return .failure(.queueFull(capacity: state.admission.queueCapacity))
            }
            return .success(id)
        }
        let id: UInt64
        switch outcome {
        case .success(let value): id = value
        case .failure(let error): throw error
        }
        continuation.onTermination = { [weak self] _ in
            cancellation.cancel()
            self?.withdraw(id)
        }
        signal.signal()
        return stream
    }

    /// Requests waiting (not counting the active ones).
    public var waitingCount: Int { state.withLock { $0.admission.waiting.count } }

    /// Load and recent latency, from any thread.
    public var statistics: EngineStatistics {
        let (waiting, active, bytes) = state.withLock {
            ($0.admission.waiting.count, $0.admission.activeCount, $0.admission.bytesInUse)
        }
        return counters.withLock { counters in
            EngineStatistics(
                waiting: waiting, active: active, maxSequences: batching.maxSequences,
                queueCapacity: batching.queueCapacity, kvBytesInUse: bytes, kvBudgetBytes: batching.kvCacheBudgetBytes,
                recentTimeToFirstTokenMilliseconds: counters.timeToFirstToken.median,
                recentPerTokenLatencyMilliseconds: counters.perToken.median,
                tokensGenerated: counters.tokensGenerated, requestsCompleted: counters.requestsCompleted)
        }
    }

    /// Stops accepting requests; waiting ones fail with `engineStopped`, active ones run to the end, then the
    /// compute thread exits.
    public func shutdown() {
        let dropped = state.withLock { state -> [Job] in
            state.isStopped = true
            return state.admission.removeAllWaiting()
        }
        for job in dropped { job.continuation.finish(throwing: PhiInferenceError.engineStopped) }
        signal.signal()
    }

    /// A waiting request whose consumer went away leaves the queue at once (an active one stops at the next step).
    private func withdraw(_ id: UInt64) {
        let removed = state.withLock { state -> Bool in
            let (removed, admitted) = state.admission.removeWaiting(id: id)
            state.admitted += admitted
            return removed != nil
        }
        if removed {
            counters.withLock { $0.requestsCompleted += 1 }
            signal.signal()
        }
    }

    // MARK: - Compute thread

    /// An admitted request on the compute thread.
    private final class ActiveSequence {
        let job: Job
        let cache: KVCache
        var decoder: SequenceDecoder
        var lastTokenAt: UInt64?

        init(job: Job, cache: KVCache, decoder: SequenceDecoder) {
            self.job = job
            self.cache = cache
            self.decoder = decoder
        }
    }

    private func computeLoop() {
        var active: [ActiveSequence] = []
        while true {
            beforeRound?()
            let (incoming, isStopped) = state.withLock { state -> ([Job], Bool) in
                defer { state.admitted.removeAll() }
                return (state.admitted, state.isStopped)
            }
            for job in incoming {
                if let sequence = start(job) { active.append(sequence) }
            }
            active.removeAll { sequence in
                guard sequence.job.cancellation.isCancelled else { return false }
                finish(sequence, events: sequence.decoder.cancel())
                return true
            }
            if active.isEmpty {
                if isStopped && incoming.isEmpty { return }
                signal.wait()
                continue
            }
            step(&active)
        }
    }

    private func start(_ job: Job) -> ActiveSequence? {
        let cache = model.model.makeCache(capacity: job.positions, precision: compute.kvCache)
        cache.reserve(forPositions: job.promptTokens.count)
        do {
            var decoder = try SequenceDecoder(
                model: model, tokenizer: tokenizer, promptTokens: job.promptTokens, parameters: job.parameters,
                capacity: cache.capacity, prefillChunkTokens: batching.prefillChunkTokens)
            decoder.queueSeconds = Double(DispatchTime.now().uptimeNanoseconds - job.submittedAt) / 1e9
            return ActiveSequence(job: job, cache: cache, decoder: decoder)
        } catch {
            release(job)
            job.continuation.finish(throwing: error)
            return nil
        }
    }

    /// One batched forward: every decoding sequence's next token, plus prompt chunks in admission order while
    /// they fit in `prefillChunkTokens` (the first waiting chunk always runs, so prefill always progresses).
    private func step(_ active: inout [ActiveSequence]) {
        var members: [ActiveSequence] = []
        var inputs: [BatchedSequenceInput] = []
        var prefillTokens = 0
        for sequence in active {
            guard let input = sequence.decoder.nextInput(cache: sequence.cache) else { continue }
            if sequence.decoder.isPrefilling {
                guard prefillTokens == 0 || prefillTokens + input.tokens.count <= batching.prefillChunkTokens else {
                    continue
                }
                prefillTokens += input.tokens.count
            }
            members.append(sequence)
            inputs.append(input)
        }
        let started = DispatchTime.now().uptimeNanoseconds
        let logits: [[Float]]
        do {
            logits = try model.model.forward(batch: inputs)
        } catch {
            // Inputs are validated in `generate`; a failure here is not one sequence's fault: end the step's members.
            for sequence in members {
                release(sequence.job)
                sequence.job.continuation.finish(throwing: error)
            }
            active.removeAll { sequence in members.contains { $0 === sequence } }
            return
        }
        let now = DispatchTime.now().uptimeNanoseconds
        let seconds = Double(now - started) / 1e9
        var firstTokenMilliseconds: [Double] = []
        var gapMilliseconds: [Double] = []
        var outcomes: [(ActiveSequence, [GenerationEvent])] = []
        for (sequence, row) in zip(members, logits) {
            let events = sequence.decoder.consume(logits: row, seconds: seconds)
            if events.contains(where: { if case .token = $0 { true } else { false } }) {
                if let last = sequence.lastTokenAt {
                    gapMilliseconds.append(Double(now - last) / 1e6)
                } else {
                    firstTokenMilliseconds.append(Double(now - sequence.job.submittedAt) / 1e6)
                }
                sequence.lastTokenAt = now
            }
            outcomes.append((sequence, events))
        }
        // Counted before the events go out, so a consumer that saw its stream end sees it in `statistics`.
        counters.withLock { counters in
            for value in firstTokenMilliseconds { counters.timeToFirstToken.record(value) }
            for value in gapMilliseconds { counters.perToken.record(value) }
            counters.tokensGenerated += firstTokenMilliseconds.count + gapMilliseconds.count
        }
        var finished: [ActiveSequence] = []
        for (sequence, events) in outcomes {
            if sequence.decoder.isFinished {
                finish(sequence, events: events)
                finished.append(sequence)
            } else {
                for event in events { sequence.job.continuation.yield(event) }
            }
        }
        if !finished.isEmpty { active.removeAll { sequence in finished.contains { $0 === sequence } } }
    }

    /// Sends a sequence's last events, ends its stream and frees its slot and KV reservation.
    private func finish(_ sequence: ActiveSequence, events: [GenerationEvent]) {
        for event in events { sequence.job.continuation.yield(event) }
        release(sequence.job)
        sequence.job.continuation.finish()
    }

    private func release(_ job: Job) {
        state.withLock { state in
            state.admitted += state.admission.release(bytes: job.bytes)
        }
        counters.withLock { $0.requestsCompleted += 1 }
    }
}
