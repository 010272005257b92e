import Foundation
public import Logging
import Metrics
public import ServiceLifecycle
import Synchronization

/// Takes outcomes off the request path: a bounded queue that a `Service` drains in batches, one transaction per
/// batch. A full queue is counted (`phigate_outcome_queue_full_total`) and logged once per episode; the overflow
/// policy then makes the producer wait (`backpressure`, nothing lost) or drops the entry (`drop`, counted in
/// `phigate_outcomes_dropped_total`). Graceful shutdown (or cancellation) writes everything queued before `run()`
/// returns; entries recorded after that are written through directly.
public final class OutcomeRecorder: Service, Sendable {
    public struct Configuration: Sendable, Hashable {
        /// Entries held in memory at most.
        public var queueCapacity: Int
        /// Entries written per transaction at most.
        public var batchSize: Int
        public var overflowPolicy: OverflowPolicy
        /// Pruning limits; nil keeps everything.
        public var retention: OutcomeRetention?
        /// How often retention runs.
        public var pruneInterval: Duration
        /// How long the first entry of a batch may wait for others (unless the batch fills, or a flush or
        /// shutdown asks first). Without it a lightly loaded gateway commits one transaction per request, and the
        /// writer thread's wake-ups cost more CPU than the requests themselves.
        public var flushDelay: Duration

        public init(
            queueCapacity: Int = 10_000, batchSize: Int = 500, overflowPolicy: OverflowPolicy = .backpressure,
            retention: OutcomeRetention? = nil, pruneInterval: Duration = .seconds(300),
            flushDelay: Duration = .milliseconds(20)
        ) {
            self.queueCapacity = max(queueCapacity, 1)
            self.batchSize = max(batchSize, 1)
            self.overflowPolicy = overflowPolicy
            self.retention = retention
            self.pruneInterval = pruneInterval
            self.flushDelay = max(flushDelay, .zero)
        }
    }

    /// What happens when the queue is full.
    public enum OverflowPolicy: String, Sendable, Hashable, CaseIterable {
        /// The producer waits for room: nothing is lost.
        case backpressure
        /// The entry is dropped and counted.
        case drop
    }

    /// Counters since the recorder was made.
    public struct Statistics: Sendable, Hashable {
        public var enqueued = 0
        public var written = 0
        public var dropped = 0
        public var queueFullEvents = 0
        public var batches = 0
        /// Entries lost because their batch could not be written.
        public var failed = 0
    }

    private struct Waiter {
        var entry: OutcomeEntry
        var continuation: CheckedContinuation<Bool, Never>
    }

    private struct State {
        var queue: [OutcomeEntry] = []
        var head = 0
        var blockedProducers: [Waiter] = []
        var consumer: CheckedContinuation<Void, Never>?
        var flushWaiters: [(target: Int, continuation: CheckedContinuation<Void, Never>)] = []
        var isClosing = false
        var isFinished = false
        var isInFullEpisode = false
        var statistics = Statistics()

        var count: Int { queue.count - head }

        /// Whether a batch should wait for more entries: it is not full and nobody is waiting for it.
        func lingers(batchSize: Int) -> Bool {
            count > 0 && count < batchSize && !isClosing && flushWaiters.isEmpty && blockedProducers.isEmpty
        }

        /// Appends when there is room and nobody waits ahead; returns the consumer to wake (maybe none).
        mutating func enqueueIfRoom(_ entry: OutcomeEntry, capacity: Int) -> CheckedContinuation<Void, Never>?? {
            guard count < capacity && blockedProducers.isEmpty else { return nil }
            queue.append(entry)
            statistics.enqueued += 1
            isInFullEpisode = false
            let waiting = consumer
            consumer = nil
            return .some(waiting)
        }

        mutating func releaseFlushWaiters() -> [CheckedContinuation<Void, Never>] {
            let settled = statistics.written + statistics.failed
            var released: [CheckedContinuation<Void, Never>] = []
            flushWaiters.removeAll { waiter in
                if waiter.target <= settled {
                    released.append(waiter.continuation)
                    return true
                }
                return false
            }
            return released
        }

        mutating func takeBatch(_ size: Int) -> [OutcomeEntry] {
            let end = min(head + size, queue.count)
            let batch = Array(queue[head..<end])
            head = end
            if head > 4096 && head * 2 > queue.count {
                queue.removeFirst(head)
                head = 0
            }
            return batch
        }
    }

    public let store: OutcomeStore
    public let configuration: Configuration
    private let logger: Logger
    private let state = Mutex(State())
    private let onBatchCommitted: (@Sendable (_ totalWritten: Int) -> Void)?
    private let recordedCounter = Counter(label: "phigate_outcomes_recorded_total")
    private let droppedCounter = Counter(label: "phigate_outcomes_dropped_total")
    private let queueFullCounter = Counter(label: "phigate_outcome_queue_full_total")
    private let failedCounter = Counter(label: "phigate_outcome_write_failures_total")

    /// - Parameter onBatchCommitted: called after each committed batch with the number of entries written so far.
    public init(
        store: OutcomeStore, configuration: Configuration = Configuration(), logger: Logger,
        onBatchCommitted: (@Sendable (_ totalWritten: Int) -> Void)? = nil
    ) {
        self.store = store
        self.configuration = configuration
        self.logger = logger
        self.onBatchCommitted = onBatchCommitted
    }

    public var statistics: Statistics { state.withLock { $0.statistics } }

    /// Entries waiting to be written.
    public var queueDepth: Int { state.withLock { $0.count + $0.blockedProducers.count } }

    // MARK: - Producing

    /// Queues a request outcome.
    public func record(_ outcome: RequestOutcome) async {
        await record(.request(outcome))
    }

    /// Queues an entry. Returns at once unless the queue is full and the policy is `backpressure`.
    public func record(_ entry: OutcomeEntry) async {
        enum Step { case queued(CheckedContinuation<Void, Never>?), dropped(logs: Bool), wait(logs: Bool), writeThrough }
        let capacity = configuration.queueCapacity
        let policy = configuration.overflowPolicy
        let step: Step = state.withLock { state in
            if state.isFinished { return .writeThrough }
            if let consumer = state.enqueueIfRoom(entry, capacity: capacity) { return .queued(consumer) }
            state.statistics.queueFullEvents += 1
            let logs = !state.isInFullEpisode
            state.isInFullEpisode = true
            if policy == .drop {
                state.statistics.dropped += 1
                return .dropped(logs: logs)
            }
            return .wait(logs: logs)
        }
        switch step {
        case .queued(let consumer):
            consumer?.resume()
        case .dropped(let logs):
            queueFullCounter.increment()
            droppedCounter.increment()
            if logs {
                logger.warning("outcome queue full; dropping entries", metadata: ["outcome.queue.capacity": "\(capacity)"])
            }
        case .wait(let logs):
            queueFullCounter.increment()
            if logs {
                logger.warning("outcome queue full; producers wait", metadata: ["outcome.queue.capacity": "\(capacity)"])
            }
            let isQueued = await withCheckedContinuation { (continuation: CheckedContinuation<Bool, Never>) in
                enum Outcome { case queued(CheckedContinuation<Void, Never>?), blocked, finished }
                let outcome: Outcome = state.withLock { state in
                    if state.isFinished { return .finished }
                    if let consumer = state.enqueueIfRoom(entry, capacity: capacity) { return .queued(consumer) }
                    state.blockedProducers.append(Waiter(entry: entry, continuation: continuation))
                    state.statistics.enqueued += 1
                    return .blocked
                }
                switch outcome {
                case .queued(let consumer):
                    consumer?.resume()
                    continuation.resume(returning: true)
                case .blocked: break
                case .finished: continuation.resume(returning: false)
                }
            }
            if !isQueued { await writeThrough(entry) }
        case .writeThrough:
            await writeThrough(entry)
        }
    }

    /// Waits until everything queued before this call is committed (or the recorder has finished).
    public func flush() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let resumeNow: Bool = state.withLock { state in
                let settled = state.statistics.written + state.statistics.failed
                if state.isFinished || settled >= state.statistics.enqueued { return true }
                state.flushWaiters.append((state.statistics.enqueued, continuation))
                let consumer = state.consumer
                state.consumer = nil
                consumer?.resume()
                return false
            }
            if resumeNow { continuation.resume() }
        }
    }

    /// Records a quality label now (after flushing the queue, so a label for a just-answered request finds its
    /// row). Returns false when the request id is unknown.
    public func addFeedback(_ feedback: OutcomeFeedback) async throws(OutcomeStoreError) -> Bool {
        if try store.containsRequest(id: feedback.requestID) {
            return try await store.addFeedback(feedback)
        }
        await flush()
        return try await store.addFeedback(feedback)
    }

    private func writeThrough(_ entry: OutcomeEntry) async {
        do {
            try await store.write([entry])
            state.withLock {
                $0.statistics.enqueued += 1
                $0.statistics.written += 1
            }
            recordedCounter.increment()
        } catch {
            state.withLock { $0.statistics.failed += 1 }
            failedCounter.increment()
            logger.error("outcome write failed after shutdown", metadata: ["error": "\(error)"])
        }
    }

    // MARK: - Service

    /// Drains the queue until graceful shutdown or cancellation, then writes what is left and returns.
    public func run() async throws {
        let worker = IdlePriorityWorker(name: "phigate-outcomes")
        defer { worker.stop() }
        await withTaskGroup(of: Void.self) { group in
            if let retention = configuration.retention {
                group.addTask { await self.pruneLoop(retention) }
            }
            await withGracefulShutdownHandler {
                await withTaskCancellationHandler {
                    await self.drain(writer: worker)
                } onCancel: {
                    self.close()
                }
            } onGracefulShutdown: {
                self.close()
            }
            group.cancelAll()
        }
    }

    /// Stops waiting for new entries: the drain loop writes what is queued and ends.
    private func close() {
        let consumer: CheckedContinuation<Void, Never>? = state.withLock { state in
            state.isClosing = true
            let consumer = state.consumer
            state.consumer = nil
            return consumer
        }
        consumer?.resume()
    }

    private func drain(writer worker: IdlePriorityWorker) async {
        let batchSize = configuration.batchSize
        while true {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let resumeNow: Bool = state.withLock { state in
                    if state.count > 0 || state.isClosing || !state.flushWaiters.isEmpty || !state.blockedProducers.isEmpty {
                        return true
                    }
                    state.consumer = continuation
                    return false
                }
                if resumeNow { continuation.resume() }
            }
            if configuration.flushDelay > .zero, state.withLock({ $0.lingers(batchSize: batchSize) }) {
                try? await Task.sleep(for: configuration.flushDelay)
            }
            let (batch, released): ([OutcomeEntry], [CheckedContinuation<Bool, Never>]) = state.withLock { state in
                let batch = state.takeBatch(batchSize)
                var released: [CheckedContinuation<Bool, Never>] = []
                while state.count < configuration.queueCapacity, !state.blockedProducers.isEmpty {
                    let waiter = state.blockedProducers.removeFirst()
                    state.queue.append(waiter.entry)
                    released.append(waiter.continuation)
                }
                return (batch, released)
            }
            for continuation in released { continuation.resume(returning: true) }
            if batch.isEmpty {
                let (finished, waiters) = state.withLock { state in
                    if state.isClosing && state.count == 0 && state.blockedProducers.isEmpty {
                        state.isFinished = true
                    }
                    let waiters = state.flushWaiters.map(\.continuation)
                    state.flushWaiters.removeAll()
                    return (state.isFinished, waiters)
                }
                for waiter in waiters { waiter.resume() }
                if finished { return }
                continue
            }
            await write(batch, worker: worker)
        }
    }

    /// Writes on the idle-priority thread unless a backlog has built up (more than a batch waiting: the machine
    /// is too busy to leave it idle time) or the thread does not start within 50 ms; then on GRDB's
    /// normal-priority queue.
    private func write(_ batch: [OutcomeEntry], worker: IdlePriorityWorker) async {
        var attempt = 0
        while true {
            do {
                let store = store
                let backlog = state.withLock { $0.count + $0.blockedProducers.count }
                let onIdleThread = backlog > configuration.batchSize ? nil : await worker.run(within: .milliseconds(50)) {
                    Result { () throws(OutcomeStoreError) in try store.writeBlocking(batch) }
                }
                if let onIdleThread {
                    _ = try onIdleThread.get()
                } else {
                    // In an unstructured task: a cancelled `run()` (shutdown past its grace period) still commits
                    // what it drains, since GRDB's async accesses stop on cancellation.
                    _ = try await Task { try await store.write(batch) }.value
                }
                recordedCounter.increment(by: batch.count)
                let (total, waiters) = state.withLock { state in
                    state.statistics.written += batch.count
                    state.statistics.batches += 1
                    return (state.statistics.written, state.releaseFlushWaiters())
                }
                for waiter in waiters { waiter.resume() }
                onBatchCommitted?(total)
                return
            } catch {
                attempt += 1
                if attempt >= 3 {
                    failedCounter.increment(by: batch.count)
                    logger.error(
                        "outcome batch lost after retries",
                        metadata: ["outcome.batch.size": "\(batch.count)", "error": "\(error)"])
                    let waiters = state.withLock { state in
                        state.statistics.failed += batch.count
                        return state.releaseFlushWaiters()
                    }
                    for waiter in waiters { waiter.resume() }
                    return
                }
                logger.warning("outcome batch write failed; retrying", metadata: ["error": "\(error)"])
                try? await Task.sleep(for: .milliseconds(100 * attempt))
            }
        }
    }

    private func pruneLoop(_ retention: OutcomeRetention) async {
        while !Task.isCancelled {
            do {
                try await Task.sleep(for: configuration.pruneInterval)
            } catch {
                return
            }
            do {
                let result = try await store.prune(retention, now: Date())
                if result.deletedRequests > 0 {
                    logger.info(
                        "outcome log pruned",
                        metadata: [
                            "outcome.pruned": "\(result.deletedRequests)", "outcome.bytes": "\(result.bytesAfter)",
                        ])
                }
            } catch {
                logger.error("outcome log pruning failed", metadata: ["error": "\(error)"])
            }
        }
    }
}

