/// A token bucket of retries: every request deposits `ratio` of a retry, every retry withdraws one. Starting
/// full at `reserve` lets a quiet gateway retry at once; in steady state retries stay under `ratio` of the
/// requests, so a dead upstream sees at most (1 + ratio) times the load instead of `max_attempts` times.
public struct RetryBudget: Sendable, Hashable {
    public let ratio: Double
    public let reserve: Double
    public private(set) var balance: Double

    public init(ratio: Double, reserve: Int) {
        self.ratio = max(ratio, 0)
        self.reserve = Double(max(reserve, 0))
        self.balance = self.reserve
    }

    /// A request (its first attempt) started.
    public mutating func deposit() {
        balance = min(balance + ratio, max(reserve, 1))
    }

    /// Takes one retry from the budget; false when it is spent.
    public mutating func withdraw() -> Bool {
        guard balance >= 1 else { return false }
        balance -= 1
        return true
    }
}

/// Exponential backoff with full jitter: retry `n` (1-based) waits a uniformly random time in
/// [0, min(maxBackoff, initialBackoff × 2^(n-1))).
public struct RetryBackoff: Sendable, Hashable {
    public var initial: Duration
    public var maximum: Duration

    public init(initial: Duration, maximum: Duration) {
        self.initial = initial
        self.maximum = maximum
    }

    /// The ceiling of retry `retry` (1-based) before jitter.
    public func ceiling(forRetry retry: Int) -> Duration {
        let doublings = min(max(retry - 1, 0), 30)
        let grown = initial * (1 << doublings)
        return min(grown, maximum)
    }

    /// The wait before retry `retry`, `unit` a random number in [0, 1).
    public func delay(forRetry retry: Int, unit: Double) -> Duration {
        ceiling(forRetry: retry) * min(max(unit, 0), 1)
    }
}
