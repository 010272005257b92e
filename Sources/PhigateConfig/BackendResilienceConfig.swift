/// `backends[i].retry` — which failed upstream calls are tried again, how soon, and how many in all.
///
/// Retried: faults before any byte of an answer was forwarded — connection refused or reset, a first-byte or
/// connect timeout, 408, 429, 500, 502, 503, 504. Never other 4xx, never once a stream chunk reached the client.
public struct RetryConfig: Sendable, Hashable {
    /// `max_attempts`: calls per request including the first (1 turns retries off).
    public var maxAttempts: Int
    /// `initial_backoff`: the ceiling of the first retry's wait; it doubles per retry (full jitter below it).
    public var initialBackoff: Duration
    /// `max_backoff`: the largest ceiling of a wait.
    public var maxBackoff: Duration
    /// `max_retry_after`: an upstream `Retry-After` up to this long is waited out and retried; a longer one is
    /// answered to the client at once (status and `Retry-After` passed on).
    public var maxRetryAfter: Duration
    /// `budget_ratio`: retries allowed per request in steady state (a token bucket per backend).
    public var budgetRatio: Double
    /// `budget_reserve`: retries the bucket holds when full (what a quiet gateway may retry at once).
    public var budgetReserve: Int

    public init(
        maxAttempts: Int = 3, initialBackoff: Duration = .milliseconds(200), maxBackoff: Duration = .seconds(2),
        maxRetryAfter: Duration = .seconds(10), budgetRatio: Double = 0.2, budgetReserve: Int = 10
    ) {
        self.maxAttempts = maxAttempts
        self.initialBackoff = initialBackoff
        self.maxBackoff = maxBackoff
        self.maxRetryAfter = maxRetryAfter
        self.budgetRatio = budgetRatio
        self.budgetReserve = budgetReserve
    }

    /// No retries at all.
    public static let off = RetryConfig(maxAttempts: 1)
}

/// `backends[i].circuit_breaker` — stop calling an upstream that keeps failing, probe it back after a cool-down.
public struct CircuitBreakerConfig: Sendable, Hashable {
    /// `enabled` (default true).
    public var isEnabled: Bool
    /// `consecutive_failures`: failed calls in a row that open the circuit.
    public var consecutiveFailures: Int
    /// `failure_rate`: share (0–1) of failed calls among the last `window` that opens it.
    public var failureRate: Double
    /// `window`: calls the failure rate is taken over.
    public var window: Int
    /// `cooldown`: how long it stays open before one probe call is let through.
    public var cooldown: Duration

    public init(
        isEnabled: Bool = true, consecutiveFailures: Int = 5, failureRate: Double = 0.5, window: Int = 20,
        cooldown: Duration = .seconds(30)
    ) {
        self.isEnabled = isEnabled
        self.consecutiveFailures = consecutiveFailures
        self.failureRate = failureRate
        self.window = window
        self.cooldown = cooldown
    }

    public static let off = CircuitBreakerConfig(isEnabled: false)
}

extension GatewayConfigDecoder {
    static let retryKeys = ["max_attempts", "initial_backoff", "max_backoff", "max_retry_after", "budget_ratio", "budget_reserve"]
    static let circuitBreakerKeys = ["enabled", "consecutive_failures", "failure_rate", "window", "cooldown"]

    /// `retry: {max_attempts: 3, initial_backoff: 200ms, max_backoff: 2s, budget_ratio: 0.2}`
    func retry(_ value: Value) -> RetryConfig? {
        guard let fields = reader.mapping(value, allowed: Self.retryKeys) else { return nil }
        var retry = RetryConfig()
        if let attempts = fields.optional("max_attempts").flatMap({ reader.int($0, in: 1...10, expected: "a number of calls from 1 to 10") }) {
            retry.maxAttempts = attempts
        }
        if let initial = fields.optional("initial_backoff").flatMap({ reader.duration($0, allowsZero: true) }) {
            retry.initialBackoff = initial
        }
        if let maximum = fields.optional("max_backoff").flatMap({ reader.duration($0, allowsZero: true) }) {
            retry.maxBackoff = maximum
        }
        if let cap = fields.optional("max_retry_after").flatMap({ reader.duration($0, allowsZero: true) }) {
            retry.maxRetryAfter = cap
        }
        if let ratio = fields.optional("budget_ratio").flatMap({ reader.double($0, in: 0...10, expected: "retries per request from 0 to 10 like 0.2") }) {
            retry.budgetRatio = ratio
        }
        if let reserve = fields.optional("budget_reserve").flatMap({ reader.int($0, in: 0...100_000, expected: "a number of retries from 0") }) {
            retry.budgetReserve = reserve
        }
        fields.finish(allowed: Self.retryKeys)
        if retry.initialBackoff > retry.maxBackoff {
            reader.report(value.child("initial_backoff"), line: value.line, "must not exceed max_backoff (\(retry.maxBackoff))")
        }
        return retry
    }

    /// `circuit_breaker: {consecutive_failures: 5, failure_rate: 0.5, window: 20, cooldown: 30s}`
    func circuitBreaker(_ value: Value) -> CircuitBreakerConfig? {
        guard let fields = reader.mapping(value, allowed: Self.circuitBreakerKeys) else { return nil }
        var breaker = CircuitBreakerConfig()
        if let flag = fields.optional("enabled") {
            switch reader.string(flag, expected: "true or false")?.lowercased() {
            case "true"?: breaker.isEnabled = true
            case "false"?: breaker.isEnabled = false
            case let other?: reader.report(flag, "expected true or false, found \"\(other.prefix(60))\"")
            case nil: break
            }
        }
        if let count = fields.optional("consecutive_failures").flatMap({
            reader.int($0, in: 0...10_000, expected: "a number of failures from 0 (0: no streak rule)")
        }) {
            breaker.consecutiveFailures = count
        }
        if let rate = fields.optional("failure_rate").flatMap({ reader.double($0, in: 0.01...1, expected: "a share above 0 up to 1 like 0.5") }) {
            breaker.failureRate = rate
        }
        if let window = fields.optional("window").flatMap({ reader.int($0, in: 1...10_000, expected: "a number of calls from 1") }) {
            breaker.window = window
        }
        if let cooldown = fields.optional("cooldown").flatMap(reader.duration) { breaker.cooldown = cooldown }
        fields.finish(allowed: Self.circuitBreakerKeys)
        return breaker
    }
}
