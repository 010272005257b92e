import AsyncHTTPClient
import Backends
import FakeUpstream
import Foundation
import Logging
import OpenAIWire
import PhigateConfig
import Synchronization
import Testing

/// A clock the test moves by hand; waits return at once and are recorded.
final class ManualClock: UpstreamClock {
    private let state: Mutex<(now: ContinuousClock.Instant, sleeps: [Duration])>

    init() { state = Mutex((ContinuousClock.now, [])) }

    var now: ContinuousClock.Instant { state.withLock { $0.now } }
    var sleeps: [Duration] { state.withLock { $0.sleeps } }

    func advance(by duration: Duration) { state.withLock { $0.now = $0.now.advanced(by: duration) } }

    func sleep(for duration: Duration) async throws {
        try Task.checkCancellation()
        state.withLock { $0.sleeps.append(duration) }
    }
}

/// Retries and the circuit breaker of `ResilientBackend` against the loopback fake, with time under the test's
/// control: no test sleeps for a backoff or a cool-down.
@Suite struct ResilientBackendTests {
    static let logger = Logger(label: "test")

    static func withBackend(
        retry: RetryConfig = RetryConfig(maxAttempts: 3, initialBackoff: .milliseconds(100), maxBackoff: .seconds(1)),
        breaker: CircuitBreakerConfig = .off,
        script: @escaping FakeUpstream.Script,
        _ body: (ResilientBackend, FakeUpstream, ManualClock) async throws -> Void
    ) async throws {
        let upstream = try await FakeUpstream.start(script: script)
        let config = BackendConfig(
            name: "openai", kind: .openai, baseURL: upstream.baseURL + "/v1",
            // Generous: timeouts are not the subject here, and when the whole suite runs the compute-heavy tests can
            // hold the cooperative pool for tens of seconds (a late answer must not turn into a timeout and a retry).
            timeouts: BackendTimeouts(connect: .seconds(60), firstByte: .seconds(300), total: .seconds(600)),
            models: [], retry: retry, circuitBreaker: breaker)
        let client = HTTPClient(
            eventLoopGroupProvider: .singleton,
            configuration: BackendRegistry.httpClientConfiguration(for: GatewayConfig(backends: [config])))
        let clock = ManualClock()
        let guardian = UpstreamGuard(backend: "openai", retry: retry, breaker: breaker, clock: clock, jitter: { 0.5 })
        let backend = ResilientBackend(OpenAIBackend(config: config, apiKey: nil, httpClient: client), guardian: guardian)
        do {
            try await body(backend, upstream, clock)
        } catch {
            try? await client.shutdown()
            await upstream.shutdown()
            throw error
        }
        try await client.shutdown()
        await upstream.shutdown()
    }

    static func request(stream: Bool = false) throws -> ChatCompletionRequest {
        let json = #"{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}]\#(stream ? #","stream":true"# : "")}"#
        return try ChatCompletionRequest.decode(from: Data(json.utf8))
    }

    static func fault(_ operation: () async throws -> Void) async -> UpstreamFault? {
        do {
            try await operation()
            return nil
        } catch {
            return error as? UpstreamFault
        }
    }

    @Test func retriesWithExponentialBackoffThenAnswers() async throws {
        let script = FakeUpstream.sequence([
            .openAIError(status: 503, message: "busy"), .openAIError(status: 502, message: "bad gateway"), .openAIChat(),
        ])
        try await Self.withBackend(script: script) { backend, upstream, clock in
            let answer = try await backend.complete(try Self.request(), upstreamModel: "gpt-4o-mini", logger: Self.logger)
            #expect(answer.choices.first?.message.content == "Hello from the fake upstream.")
            #expect(upstream.requests.count == 3)
            // Full jitter at 0.5 of 100 ms, then of 200 ms.
            #expect(clock.sleeps == [.milliseconds(50), .milliseconds(100)])
        }
    }

    @Test func retryAfterIsWaitedOutWhenShortAndPassedOnWhenLong() async throws {
        let script = FakeUpstream.sequence([
            .openAIError(status: 429, message: "slow down", headers: [("retry-after", "3")]), .openAIChat(),
            .openAIError(status: 429, message: "slow down", headers: [("retry-after", "120")]),
        ])
        try await Self.withBackend(
            retry: RetryConfig(maxAttempts: 3, maxRetryAfter: .seconds(10)), script: script
        ) { backend, upstream, clock in
            _ = try await backend.complete(try Self.request(), upstreamModel: "m", logger: Self.logger)
            #expect(clock.sleeps == [.seconds(3)])
            let fault = await Self.fault { _ = try await backend.complete(try Self.request(), upstreamModel: "m", logger: Self.logger) }
            #expect(fault?.retryAfter == .seconds(120))
            #expect(upstream.requests.count == 3)
        }
    }

    @Test func clientErrorsAreNotRetried() async throws {
        try await Self.withBackend(script: { _ in .openAIError(status: 400, message: "bad", type: "invalid_request_error") }) { backend, upstream, clock in
            let fault = await Self.fault { _ = try await backend.complete(try Self.request(), upstreamModel: "m", logger: Self.logger) }
            #expect(fault?.attemptLabel == "status(400)")
            #expect(upstream.requests.count == 1)
            #expect(clock.sleeps.isEmpty)
        }
    }

    @Test func theRetryBudgetCapsRetriesOfADeadUpstream() async throws {
        let retry = RetryConfig(maxAttempts: 3, initialBackoff: .milliseconds(10), maxBackoff: .milliseconds(10), budgetRatio: 0.1, budgetReserve: 2)
        try await Self.withBackend(retry: retry, script: { _ in .openAIError(status: 500, message: "down") }) { backend, upstream, _ in
            for _ in 0..<5 {
                _ = await Self.fault { _ = try await backend.complete(try Self.request(), upstreamModel: "m", logger: Self.logger) }
            }
            // 5 requests: 2 retries from the reserve, then 0.1 per request is not yet a whole retry.
            #expect(upstream.requests.count == 7)
        }
    }

    @Test func aStreamIsRetriedOnlyBeforeItsFirstEvent() async throws {
        let script = FakeUpstream.sequence([
            // 50 ms between chunks: the first event reaches the consumer well before the reset.
            .openAIError(status: 503, message: "busy"), .openAIStreamCut(afterChunks: 3, ending: .reset, interval: .milliseconds(50)),
            .openAIStream(),
        ])
        try await Self.withBackend(script: script) { backend, upstream, _ in
            var chunks = 0
            let fault = await Self.fault {
                for try await event in backend.stream(try Self.request(stream: true), upstreamModel: "m", logger: Self.logger) {
                    if case .chunk = event { chunks += 1 }
                }
            }
            #expect(fault != nil, "the cut stream ends with its fault")
            // A reset can take with it the body parts AsyncHTTPClient had read but not yet handed over (seen under
            // load in CI: 1 of 3; see RemoteBackendTests.cutStreamIsBrokenStream).
            #expect((1...3).contains(chunks))
            #expect(upstream.requests.count == 2, "never restarted once chunks were forwarded")
        }
    }

    @Test func theBreakerOpensFailsFastProbesAndCloses() async throws {
        let breaker = CircuitBreakerConfig(consecutiveFailures: 3, failureRate: 1, window: 10, cooldown: .seconds(30))
        let healthy = Mutex(false)
        let script: FakeUpstream.Script = { _ in
            healthy.withLock { $0 } ? .openAIChat() : .openAIError(status: 503, message: "down")
        }
        try await Self.withBackend(retry: .off, breaker: breaker, script: script) { backend, upstream, clock in
            for _ in 0..<3 {
                let fault = await Self.fault { _ = try await backend.complete(try Self.request(), upstreamModel: "m", logger: Self.logger) }
                #expect(fault?.attemptLabel == "status(503)")
            }
            #expect(backend.guardian.circuitKind == .open)
            clock.advance(by: .seconds(10))
            let fast = await Self.fault { _ = try await backend.complete(try Self.request(), upstreamModel: "m", logger: Self.logger) }
            #expect(fast == .circuitOpen(retryAfter: .seconds(20)))
            let streamed = await Self.fault {
                for try await _ in backend.stream(try Self.request(stream: true), upstreamModel: "m", logger: Self.logger) {}
            }
            #expect(streamed?.attemptLabel == "circuit_open")
            #expect(upstream.requests.count == 3, "an open circuit does not call the upstream")

            // After the cool-down one probe goes through; it fails: open again.
            clock.advance(by: .seconds(20))
            #expect(backend.guardian.circuitKind == .halfOpen)
            _ = await Self.fault { _ = try await backend.complete(try Self.request(), upstreamModel: "m", logger: Self.logger) }
            #expect(upstream.requests.count == 4)
            #expect(backend.guardian.circuitKind == .open)

            // The upstream recovers: the next probe succeeds and closes the circuit.
            healthy.withLock { $0 = true }
            clock.advance(by: .seconds(30))
            _ = try await backend.complete(try Self.request(), upstreamModel: "m", logger: Self.logger)
            #expect(backend.guardian.circuitKind == .closed)
            _ = try await backend.complete(try Self.request(), upstreamModel: "m", logger: Self.logger)
            #expect(upstream.requests.count == 6)
        }
    }

    @Test(arguments: [
        ("retry-after", "7", Duration.seconds(7)),
        ("retry-after", "0", .zero),
        ("retry-after", "1.5", .milliseconds(1500)),
        ("retry-after-ms", "250", .milliseconds(250)),
        ("retry-after", "Wed, 21 Oct 2015 07:28:10 GMT", .seconds(10)),
        ("retry-after", "Wed, 21 Oct 2015 07:27:00 GMT", .zero),
    ])
    func retryAfterHeaderForms(name: String, value: String, expected: Duration) async throws {
        // The fake's clock is not the test's: HTTP dates are checked against a fixed `now` through the fault.
        let now = try #require(ISO8601DateFormatter().date(from: "2015-10-21T07:28:00Z"))
        #expect(UpstreamFault.retryAfter(header: name, value: value, now: now) == expected)
    }

    @Test func unusableRetryAfterIsIgnored() {
        #expect(UpstreamFault.retryAfter(header: "retry-after", value: "soon", now: Date()) == nil)
        #expect(UpstreamFault.retryAfter(header: "retry-after", value: "-3", now: Date()) == .zero)
    }
}
