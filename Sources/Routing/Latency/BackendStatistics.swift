/// Live statistics of the upstreams at decision time (a snapshot from `LatencyRecorder`).
public struct BackendStatistics: Sendable, Hashable {
    public struct Upstream: Sendable, Hashable {
        /// Recent median time to first token, milliseconds.
        public var ttftMilliseconds: Double
        /// Recent median generation speed after the first token.
        public var tokensPerSecond: Double
        /// Requests waiting or running on it now (local backends; 0 for remote).
        public var queueDepth: Int
        /// How many samples the medians come from.
        public var samples: Int

        public init(ttftMilliseconds: Double, tokensPerSecond: Double, queueDepth: Int = 0, samples: Int = 1) {
            self.ttftMilliseconds = ttftMilliseconds
            self.tokensPerSecond = tokensPerSecond
            self.queueDepth = queueDepth
            self.samples = samples
        }
    }

    /// Backend name → statistics. A backend without any is assumed able to meet a deadline.
    public var upstreams: [String: Upstream]

    public init(upstreams: [String: Upstream] = [:]) {
        self.upstreams = upstreams
    }

    /// Predicted (time to first token, total) in milliseconds, or nil without statistics. A queue of `n`
    /// ahead multiplies the wait by (n + 1) for a serial local backend.
    public func prediction(backend: String, completionTokens: Int) -> (ttft: Double, total: Double)? {
        guard let s = upstreams[backend] else { return nil }
        let queued = Double(max(s.queueDepth, 0))
        let generation = s.tokensPerSecond > 0 ? Double(completionTokens) / s.tokensPerSecond * 1000 : 0
        let ttft = s.ttftMilliseconds + queued * (s.ttftMilliseconds + generation)
        return (ttft, ttft + generation)
    }
}

/// Collects recent latencies per upstream (fed by the server after each request) and hands out snapshots.
/// Holds no clock: callers pass measured durations.
public actor LatencyRecorder {
    private struct Window {
        var ttft: [Double] = []
        var tokensPerSecond: [Double] = []
        var queueDepth = 0
        /// A local engine's own recent medians, which see every request (routed or not); they win over the window.
        var engineTTFT: Double?
        var engineTokensPerSecond: Double?
    }

    private var windows: [String: Window] = [:]
    private let capacity: Int

    public init(capacity: Int = 64) {
        self.capacity = max(capacity, 1)
    }

    /// Records one finished request.
    public func record(backend: String, ttftMilliseconds: Double, totalMilliseconds: Double, completionTokens: Int) {
        var w = windows[backend] ?? Window()
        Self.push(ttftMilliseconds, into: &w.ttft, capacity: capacity)
        let generationMs = totalMilliseconds - ttftMilliseconds
        if completionTokens > 1 && generationMs > 0 {
            Self.push(Double(completionTokens) / (generationMs / 1000), into: &w.tokensPerSecond, capacity: capacity)
        }
        windows[backend] = w
    }

    /// A local backend's queue changed.
    public func setQueueDepth(_ depth: Int, backend: String) {
        var w = windows[backend] ?? Window()
        w.queueDepth = depth
        windows[backend] = w
    }

    /// A local engine's live numbers: requests waiting, recent median time to first token and time per token (ms).
    public func setEngineStatistics(backend: String, queueDepth: Int, ttftMilliseconds: Double?, perTokenMilliseconds: Double?) {
        var w = windows[backend] ?? Window()
        w.queueDepth = queueDepth
        w.engineTTFT = ttftMilliseconds
        w.engineTokensPerSecond = perTokenMilliseconds.flatMap { $0 > 0 ? 1000 / $0 : nil }
        windows[backend] = w
    }

    public func snapshot() -> BackendStatistics {
        var upstreams: [String: BackendStatistics.Upstream] = [:]
        for (name, w) in windows where !w.ttft.isEmpty || w.engineTTFT != nil {
            let ttft = w.engineTTFT ?? Self.median(w.ttft)
            let speed = w.engineTokensPerSecond ?? (w.tokensPerSecond.isEmpty ? 0 : Self.median(w.tokensPerSecond))
            upstreams[name] = .init(
                ttftMilliseconds: ttft, tokensPerSecond: speed, queueDepth: w.queueDepth, samples: max(w.ttft.count, 1))
        }
        return BackendStatistics(upstreams: upstreams)
    }

    private static func push(_ value: Double, into array: inout [Double], capacity: Int) {
        array.append(value)
        if array.count > capacity { array.removeFirst(array.count - capacity) }
    }

    private static func median(_ values: [Double]) -> Double {
        let sorted = values.sorted()
        return sorted[sorted.count / 2]
    }
}
