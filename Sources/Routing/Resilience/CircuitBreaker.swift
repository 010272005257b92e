/// A per-upstream circuit breaker as a value-type state machine. It reads no clock: every event carries `now`.
///
/// closed ─(N consecutive failures, or the failure rate of the last `window` calls)→ open
/// open ─(cool-down elapsed, next call)→ half-open: exactly one probe call is let through
/// half-open ─probe succeeds→ closed · ─probe fails→ open again (a fresh cool-down)
public struct CircuitBreaker: Sendable, Hashable {
    public struct Configuration: Sendable, Hashable {
        /// Consecutive failures that open the circuit (0: never on a streak).
        public var consecutiveFailures: Int
        /// Failure rate (0–1) over the last `window` calls that opens the circuit (above 1: never on a rate).
        public var failureRate: Double
        /// Calls the failure rate is computed over; the rate only counts once the window is full.
        public var window: Int
        /// How long the circuit stays open before one probe is let through.
        public var cooldown: Duration

        public init(consecutiveFailures: Int = 5, failureRate: Double = 0.5, window: Int = 20, cooldown: Duration = .seconds(30)) {
            self.consecutiveFailures = consecutiveFailures
            self.failureRate = failureRate
            self.window = max(window, 1)
            self.cooldown = cooldown
        }
    }

    public enum State: Sendable, Hashable {
        case closed
        /// Calls fail fast until `until`.
        case open(until: ContinuousClock.Instant)
        /// One probe is in flight (`isProbing`) or may be let through.
        case halfOpen(isProbing: Bool)
    }

    /// What the breaker says about a call that is about to start.
    public enum Admission: Sendable, Hashable {
        /// Go ahead (closed).
        case allowed
        /// Go ahead: this call is the half-open probe; its result decides the state.
        case probe
        /// Fail fast; the circuit may be probed again after `retryAfter`.
        case rejected(retryAfter: Duration)
    }

    /// How a call ended, from the upstream's health point of view.
    public enum CallResult: Sendable, Hashable {
        case success
        case failure
        /// Says nothing about the upstream's health (the caller went away, a 429): only releases a probe.
        case ignored
    }

    /// The gauge value of a state: 0 closed, 1 half-open, 2 open.
    public enum Kind: Int, Sendable, Hashable {
        case closed = 0
        case halfOpen = 1
        case open = 2
    }

    public let configuration: Configuration
    public private(set) var state: State = .closed
    private var consecutive = 0
    /// The last `window` results, true for a failure (a ring).
    private var recent: [Bool] = []
    private var next = 0

    public init(configuration: Configuration = Configuration()) {
        self.configuration = configuration
    }

    /// The state as seen at `now`: an open circuit whose cool-down is over reads as half-open.
    public func kind(at now: ContinuousClock.Instant) -> Kind {
        switch state {
        case .closed: .closed
        case .halfOpen: .halfOpen
        case .open(let until): now >= until ? .halfOpen : .open
        }
    }

    /// A call wants to start at `now`.
    public mutating func admit(at now: ContinuousClock.Instant) -> Admission {
        switch state {
        case .closed:
            return .allowed
        case .open(let until):
            if now < until { return .rejected(retryAfter: now.duration(to: until)) }
            state = .halfOpen(isProbing: true)
            return .probe
        case .halfOpen(let isProbing):
            if isProbing { return .rejected(retryAfter: configuration.cooldown) }
            state = .halfOpen(isProbing: true)
            return .probe
        }
    }

    /// A call admitted as `admission` ended with `result` at `now`.
    public mutating func record(_ result: CallResult, admission: Admission, at now: ContinuousClock.Instant) {
        if admission == .probe {
            switch result {
            case .success: reset()
            case .failure: trip(at: now)
            case .ignored: state = .halfOpen(isProbing: false)
            }
            return
        }
        // A call let through before the circuit opened may end after it did: it no longer changes the state.
        guard case .closed = state, admission == .allowed else { return }
        switch result {
        case .ignored:
            return
        case .success:
            consecutive = 0
            remember(failed: false)
        case .failure:
            consecutive += 1
            remember(failed: true)
            if shouldTrip { trip(at: now) }
        }
    }

    private var shouldTrip: Bool {
        if configuration.consecutiveFailures > 0 && consecutive >= configuration.consecutiveFailures { return true }
        guard recent.count >= configuration.window, configuration.failureRate <= 1 else { return false }
        let failures = recent.reduce(0) { $0 + ($1 ? 1 : 0) }
        return Double(failures) >= configuration.failureRate * Double(recent.count)
    }

    private mutating func remember(failed: Bool) {
        if recent.count < configuration.window {
            recent.append(failed)
        } else {
            recent[next] = failed
        }
        next = (next + 1) % configuration.window
    }

    private mutating func trip(at now: ContinuousClock.Instant) {
        state = .open(until: now.advanced(by: configuration.cooldown))
        consecutive = 0
        recent.removeAll(keepingCapacity: true)
        next = 0
    }

    private mutating func reset() {
        state = .closed
        consecutive = 0
        recent.removeAll(keepingCapacity: true)
        next = 0
    }
}
