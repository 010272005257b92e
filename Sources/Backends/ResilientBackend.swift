public import Logging
public import OpenAIWire
public import PhigateConfig
public import Routing
import Synchronization

/// A remote backend behind its retry policy and circuit breaker (`backends[i].retry`, `circuit_breaker`).
///
/// - A call the open breaker refuses fails at once with `UpstreamFault.circuitOpen` (routing falls back to the
///   next candidate; a direct request answers 503).
/// - A retryable fault (`UpstreamFault.isRetryable`) before any event of an answer is retried after an
///   exponential backoff with full jitter, or after the upstream's `Retry-After` when that is at most
///   `max_retry_after` (a longer one is answered at once), while attempts and the backend's retry budget last.
/// - Once a stream yielded its first event nothing is retried: a later fault ends the stream with that fault.
public struct ResilientBackend: ChatBackend, CustomStringConvertible {
    public let upstream: any ChatBackend
    public let guardian: UpstreamGuard
    public var name: String { upstream.name }
    public var kind: BackendKind { upstream.kind }

    public init(_ upstream: any ChatBackend, guardian: UpstreamGuard) {
        self.upstream = upstream
        self.guardian = guardian
    }

    public init(_ upstream: any ChatBackend, config: BackendConfig, clock: any UpstreamClock = SystemUpstreamClock()) {
        self.init(upstream, guardian: UpstreamGuard(backend: config.name, retry: config.retry, breaker: config.circuitBreaker, clock: clock))
    }

    public var description: String { "ResilientBackend(\(upstream))" }

    public func complete(_ request: ChatCompletionRequest, upstreamModel: String, logger: Logger) async throws
        -> ChatCompletionResponse
    {
        try await call(upstreamModel: upstreamModel, logger: logger) {
            try await upstream.complete(request, upstreamModel: upstreamModel, logger: logger)
        }
    }

    public func completeRaw(_ request: ChatCompletionRequest, upstreamModel: String, logger: Logger) async throws
        -> RawChatCompletion
    {
        try await call(upstreamModel: upstreamModel, logger: logger) {
            try await upstream.completeRaw(request, upstreamModel: upstreamModel, logger: logger)
        }
    }

    private func call<T>(upstreamModel: String, logger: Logger, _ operation: () async throws -> T) async throws -> T {
        guardian.requestStarted()
        var attempt = 1
        while true {
            let ticket = try guardian.admit()
            do {
                let value = try await operation()
                guardian.finish(ticket, result: .success)
                return value
            } catch {
                let delay = guardian.finish(ticket, error: error, attempt: attempt)
                guard let delay, let fault = error as? UpstreamFault else { throw error }
                try await retryAfter(delay, fault: fault, upstreamModel: upstreamModel, logger: logger)
                attempt += 1
            }
        }
    }

    private func retryAfter(_ delay: Duration, fault: UpstreamFault, upstreamModel: String, logger: Logger) async throws {
        UpstreamAttempts.observer?.upstreamAttemptWillRetry(backend: name, upstreamModel: upstreamModel, fault: fault)
        logger.debug(
            "Retrying an upstream call",
            metadata: ["route.backend": .string(name), "upstream.fault": .string(fault.attemptLabel)])
        try await guardian.clock.sleep(for: delay)
    }

    public func stream(_ request: ChatCompletionRequest, upstreamModel: String, logger: Logger)
        -> AsyncThrowingStream<ChatStreamEvent, any Error>
    {
        let (stream, continuation) = AsyncThrowingStream.makeStream(of: ChatStreamEvent.self)
        let task = Task {
            do {
                guardian.requestStarted()
                var attempt = 1
                while true {
                    let ticket = try guardian.admit()
                    var iterator = upstream.stream(request, upstreamModel: upstreamModel, logger: logger).makeAsyncIterator()
                    let first: ChatStreamEvent?
                    do {
                        first = try await iterator.next()
                    } catch {
                        let delay = guardian.finish(ticket, error: error, attempt: attempt)
                        guard let delay, let fault = error as? UpstreamFault else { throw error }
                        try await retryAfter(delay, fault: fault, upstreamModel: upstreamModel, logger: logger)
                        attempt += 1
                        continue
                    }
                    // The upstream answered: its health is settled for the breaker; nothing is retried from here.
                    guardian.finish(ticket, result: .success)
                    var event = first
                    while let current = event {
                        continuation.yield(current)
                        do {
                            event = try await iterator.next()
                        } catch let fault as UpstreamFault {
                            guardian.record(fault.breakerResult)
                            throw fault
                        }
                    }
                    continuation.finish()
                    return
                }
            } catch {
                continuation.finish(throwing: error)
            }
        }
        continuation.onTermination = { _ in task.cancel() }
        return stream
    }
}

/// The retry budget and circuit breaker of one upstream backend, shared by all its requests.
public final class UpstreamGuard: Sendable {
    public let backend: String
    public let retry: RetryConfig
    public let isBreakerEnabled: Bool
    public let clock: any UpstreamClock
    private let jitter: @Sendable () -> Double

    private struct State {
        var breaker: CircuitBreaker
        var budget: RetryBudget
    }

    private let state: Mutex<State>

    /// `jitter` returns a number in [0, 1) (random by default; fixed in tests).
    public init(
        backend: String, retry: RetryConfig, breaker: CircuitBreakerConfig, clock: any UpstreamClock = SystemUpstreamClock(),
        jitter: @escaping @Sendable () -> Double = { Double.random(in: 0..<1) }
    ) {
        self.backend = backend
        self.retry = retry
        self.isBreakerEnabled = breaker.isEnabled
        self.clock = clock
        self.jitter = jitter
        let configuration = CircuitBreaker.Configuration(
            consecutiveFailures: breaker.consecutiveFailures, failureRate: breaker.failureRate, window: breaker.window,
            cooldown: breaker.cooldown)
        self.state = Mutex(State(
            breaker: CircuitBreaker(configuration: configuration),
            budget: RetryBudget(ratio: retry.budgetRatio, reserve: retry.budgetReserve)))
    }

    /// The breaker's state now (0 closed, 1 half-open, 2 open), for the `phigate_upstream_circuit_state` gauge.
    public var circuitKind: CircuitBreaker.Kind {
        let now = clock.now
        return state.withLock { $0.breaker.kind(at: now) }
    }

    /// Retries left in the budget (whole ones).
    public var retryBudgetBalance: Double { state.withLock { $0.budget.balance } }

    /// A call's permit: what the breaker said when it started.
    public struct Ticket: Sendable {
        var admission: CircuitBreaker.Admission
    }

    func requestStarted() {
        state.withLock { $0.budget.deposit() }
    }

    /// The breaker's permission for one call, or `UpstreamFault.circuitOpen`.
    func admit() throws(UpstreamFault) -> Ticket {
        guard isBreakerEnabled else { return Ticket(admission: .allowed) }
        let now = clock.now
        let admission = state.withLock { $0.breaker.admit(at: now) }
        if case .rejected(let retryAfter) = admission { throw .circuitOpen(retryAfter: retryAfter) }
        return Ticket(admission: admission)
    }

    func finish(_ ticket: Ticket, result: CircuitBreaker.CallResult) {
        guard isBreakerEnabled else { return }
        let now = clock.now
        state.withLock { $0.breaker.record(result, admission: ticket.admission, at: now) }
    }

    /// A result after the call's admission was settled (a stream that broke after its first event).
    func record(_ result: CircuitBreaker.CallResult) {
        finish(Ticket(admission: .allowed), result: result)
    }

    /// Records the failed call `attempt` (1-based) and returns the wait before the next one, or nil when the
    /// fault is not retried: not retryable, attempts spent, `Retry-After` beyond `max_retry_after`, the breaker
    /// now open, or the retry budget spent.
    func finish(_ ticket: Ticket, error: any Error, attempt: Int) -> Duration? {
        guard let fault = error as? UpstreamFault else {
            finish(ticket, result: .ignored)  // cancellation: says nothing about the upstream
            return nil
        }
        let now = clock.now
        let unit = jitter()
        return state.withLock { state -> Duration? in
            if isBreakerEnabled { state.breaker.record(fault.breakerResult, admission: ticket.admission, at: now) }
            guard fault.isRetryable, attempt < retry.maxAttempts else { return nil }
            if isBreakerEnabled, state.breaker.kind(at: now) != .closed { return nil }
            let delay: Duration
            if let asked = fault.retryAfter {
                guard asked <= retry.maxRetryAfter else { return nil }
                delay = asked
            } else {
                delay = RetryBackoff(initial: retry.initialBackoff, maximum: retry.maxBackoff).delay(forRetry: attempt, unit: unit)
            }
            guard state.budget.withdraw() else { return nil }
            return delay
        }
    }
}
