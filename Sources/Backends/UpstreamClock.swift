/// Where the retry and circuit-breaker logic reads the time and waits: the real clock in the gateway, a manual
/// one in tests (time moves only when the test says, waits return at once).
public protocol UpstreamClock: Sendable {
    var now: ContinuousClock.Instant { get }
    /// Waits `duration` (throws `CancellationError` when the task is cancelled).
    func sleep(for duration: Duration) async throws
}

/// `ContinuousClock`.
public struct SystemUpstreamClock: UpstreamClock {
    public init() {}
    public var now: ContinuousClock.Instant { ContinuousClock.now }
    public func sleep(for duration: Duration) async throws {
        try await Task.sleep(for: duration)
    }
}

/// Told about each upstream call a request makes that fails and is tried again, so the outcome log can show
/// every attempt. Installed per request as a task local (`UpstreamAttempts.$observer`).
public protocol UpstreamAttemptObserver: Sendable {
    /// The call of `backend` for `upstreamModel` failed with `fault` and will be retried.
    func upstreamAttemptWillRetry(backend: String, upstreamModel: String, fault: UpstreamFault)
}

public enum UpstreamAttempts {
    /// The request's observer; nil outside a request (shadow evaluation, tests).
    @TaskLocal public static var observer: (any UpstreamAttemptObserver)?
}
