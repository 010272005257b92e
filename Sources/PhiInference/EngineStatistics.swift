// Live numbers of an InferenceEngine for the router and the metrics endpoint.

/// A snapshot of an engine's load and recent latency (cheap to take from any thread).
public struct EngineStatistics: Sendable, Equatable {
    /// Requests queued, not yet admitted.
    public var waiting: Int
    /// Sequences admitted (prefilling or decoding).
    public var active: Int
    public var maxSequences: Int
    public var queueCapacity: Int
    /// KV cache bytes reserved by the active sequences (each its worst case: prompt + max tokens, capped at the
    /// context; the caches never grow beyond it).
    public var kvBytesInUse: Int
    /// nil: unlimited.
    public var kvBudgetBytes: Int?
    /// Median time to first token over the last `EngineStatistics.window` requests (queueing included), in ms;
    /// nil before the first token.
    public var recentTimeToFirstTokenMilliseconds: Double?
    /// Median time between consecutive tokens of a sequence over the last `window` tokens, in ms; nil before any.
    public var recentPerTokenLatencyMilliseconds: Double?
    /// Tokens generated since the engine started.
    public var tokensGenerated: Int
    /// Requests ended since the engine started (any finish reason, errors and cancellations included).
    public var requestsCompleted: Int

    /// Samples the recent medians are taken over.
    public static let window = 128
}

/// The last `capacity` samples of a latency, with their median.
struct LatencyWindow {
    private var samples: [Double] = []
    private var next = 0
    let capacity: Int

    init(capacity: Int) { self.capacity = capacity }

    mutating func record(_ value: Double) {
        if samples.count < capacity {
            samples.append(value)
        } else {
            samples[next] = value
        }
        next = (next + 1) % capacity
    }

    var median: Double? {
        guard !samples.isEmpty else { return nil }
        let sorted = samples.sorted()
        let mid = sorted.count / 2
        return sorted.count % 2 == 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2
    }
}
