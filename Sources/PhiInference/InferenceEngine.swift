// The model's serial owner: one dedicated compute thread, a bounded request queue, events streamed back to
// async callers. Model compute never runs on the cooperative pool.

import Foundation
public import PhiKernels
public import PhiTokenizer
import Synchronization

/// How an engine computes: matmul numerics and KV cache element type.
public struct EngineComputeOptions: Sendable, Equatable {
    /// `.llamaCpp` (default): quantized weights multiply activations rounded per block like ggml (fast; logits
    /// within llama.cpp's own distance to the exact reference); `.off`: exact float32 products.
    public var activationQuantization: ActivationQuantization
    /// `.f32` (default, exact) or `.f16` (half the memory; measured ≤ 7.6e-3 max |Δlogit| on the fixtures).
    public var kvCache: KVCachePrecision

    public init(activationQuantization: ActivationQuantization = .llamaCpp, kvCache: KVCachePrecision = .f32) {
        self.activationQuantization = activationQuantization
        self.kvCache = kvCache
    }
}

/// Runs generation requests for one model, one at a time, on a dedicated thread.
///
/// `generate` returns at once with a stream of events; dropping or cancelling the stream's consumer cancels the
/// request between tokens and frees the slot. When `queueCapacity` requests are already waiting, `generate`
/// throws `queueFull`.
public final class InferenceEngine: Sendable {
    public let model: LoadedModel
    public let tokenizer: (any Tokenizer)?
    public let queueCapacity: Int
    public let compute: EngineComputeOptions

    private struct Job: Sendable {
        let promptTokens: [Int]
        let parameters: GenerationParameters
        let cancellation: CancellationFlag
        let continuation: AsyncThrowingStream<GenerationEvent, any Error>.Continuation
    }

    private struct State {
        var jobs: [Job] = []
        var isStopped = false
    }

    private let state = Mutex(State())
    private let signal = DispatchSemaphore(value: 0)

    public init(
        model: LoadedModel, tokenizer: (any Tokenizer)?, queueCapacity: Int = 16, threadName: String = "phigate.inference",
        compute: EngineComputeOptions = EngineComputeOptions()
    ) {
        self.model = model
        self.tokenizer = tokenizer
        self.queueCapacity = max(1, queueCapacity)
        self.compute = compute
        let thread = Thread { [self] in
            ComputeSettings.withActivationQuantization(compute.activationQuantization) { self.workerLoop() }
        }
        thread.name = threadName
        thread.start()
    }

    /// Queues a request. The stream yields `.token` / `.text` events and ends after `.finished`, or with an error.
    public func generate(
        promptTokens: [Int], parameters: GenerationParameters
    ) throws(PhiInferenceError) -> AsyncThrowingStream<GenerationEvent, any Error> {
        try parameters.validate()
        let (stream, continuation) = AsyncThrowingStream<GenerationEvent, any Error>.makeStream()
        let cancellation = CancellationFlag()
        continuation.onTermination = { _ in cancellation.cancel() }
        let job = Job(promptTokens: promptTokens, parameters: parameters, cancellation: cancellation, continuation: continuation)
        let error: PhiInferenceError? = state.withLock { state in
            if state.isStopped { return .engineStopped }
            if state.jobs.count >= queueCapacity { return .queueFull(capacity: queueCapacity) }
            state.jobs.append(job)
            return nil
        }
        if let error { throw error }
        signal.signal()
        return stream
    }

    /// Requests waiting (not counting the one running).
    public var waitingCount: Int { state.withLock { $0.jobs.count } }

    /// Stops the worker after the running request; waiting requests fail with `engineStopped`.
    public func shutdown() {
        let dropped = state.withLock { state -> [Job] in
            state.isStopped = true
            defer { state.jobs.removeAll() }
            return state.jobs
        }
        for job in dropped { job.continuation.finish(throwing: PhiInferenceError.engineStopped) }
        signal.signal()
    }

    private func workerLoop() {
        while true {
            signal.wait()
            let next = state.withLock { state -> (Job?, Bool) in
                if state.jobs.isEmpty { return (nil, state.isStopped) }
                return (state.jobs.removeFirst(), false)
            }
            if next.1 { return }
            guard let job = next.0 else { continue }
            run(job)
        }
    }

    private func run(_ job: Job) {
        do {
            let generator = try Generator(
                model: model, tokenizer: tokenizer, promptTokens: job.promptTokens, parameters: job.parameters,
                cache: model.model.makeCache(precision: compute.kvCache), cancellation: job.cancellation
            )
            while let event = try generator.next() {
                job.continuation.yield(event)
            }
            job.continuation.finish()
        } catch {
            job.continuation.finish(throwing: error)
        }
    }
}
