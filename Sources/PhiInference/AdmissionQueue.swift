// Admission of requests to an engine's batch: a slot count, a KV-cache byte budget and a bounded FIFO queue.
// A value-type state machine (no threads, no clock): the engine calls it under its lock, tests feed it events.

/// Decides which requests are active: at most `maxActive` at once, their reserved bytes within `budgetBytes`,
/// the rest waiting in arrival order (the head waits until it fits; nobody overtakes it) up to `queueCapacity`.
struct AdmissionQueue<Request> {
    struct Entry {
        let id: UInt64
        let bytes: Int
        let request: Request
    }

    enum SubmitOutcome {
        /// Runs now (its bytes are reserved).
        case admitted(Request)
        case queued
        /// `queueCapacity` requests are already waiting.
        case full
    }

    let maxActive: Int
    let queueCapacity: Int
    let budgetBytes: Int?
    private(set) var waiting: [Entry] = []
    private(set) var activeCount = 0
    private(set) var bytesInUse = 0

    init(maxActive: Int, queueCapacity: Int, budgetBytes: Int?) {
        self.maxActive = max(1, maxActive)
        self.queueCapacity = max(0, queueCapacity)
        self.budgetBytes = budgetBytes
    }

    /// Whether a request reserving `bytes` could ever run (alone, with the whole budget).
    func canEverFit(bytes: Int) -> Bool { budgetBytes.map { bytes <= $0 } ?? true }

    private func fitsNow(bytes: Int) -> Bool {
        activeCount < maxActive && (budgetBytes.map { bytesInUse + bytes <= $0 } ?? true)
    }

    mutating func submit(id: UInt64, bytes: Int, request: Request) -> SubmitOutcome {
        if waiting.isEmpty && fitsNow(bytes: bytes) {
            activeCount += 1
            bytesInUse += bytes
            return .admitted(request)
        }
        guard waiting.count < queueCapacity else { return .full }
        waiting.append(Entry(id: id, bytes: bytes, request: request))
        return .queued
    }

    /// An active request reserving `bytes` ended; returns the waiting requests admitted in its place, in order.
    mutating func release(bytes: Int) -> [Request] {
        activeCount -= 1
        bytesInUse -= bytes
        return admitWaiting()
    }

    /// Removes a waiting request (its client went away): the removed one (nil when it was not waiting) and the
    /// requests admitted because a head that did not fit left.
    mutating func removeWaiting(id: UInt64) -> (removed: Request?, admitted: [Request]) {
        guard let index = waiting.firstIndex(where: { $0.id == id }) else { return (nil, []) }
        let request = waiting.remove(at: index).request
        return (request, admitWaiting())
    }

    /// Empties the queue (shutdown), returning the waiting requests.
    mutating func removeAllWaiting() -> [Request] {
        defer { waiting.removeAll() }
        return waiting.map(\.request)
    }

    private mutating func admitWaiting() -> [Request] {
        var admitted: [Request] = []
        while let head = waiting.first, fitsNow(bytes: head.bytes) {
            waiting.removeFirst()
            activeCount += 1
            bytesInUse += head.bytes
            admitted.append(head.request)
        }
        return admitted
    }
}
