import FakeUpstream
import Foundation
import OutcomeStore
import PhigateConfig
import Testing

/// The faults gateway users report most, each against the loopback fake through `buildApplication`: what the
/// client sees, how many calls the upstream saw, and the attempt chain of the outcome row. Backoffs are a few
/// milliseconds; timeouts are generous except where a timeout is the fault under test.
@Suite("Upstream faults: retries, fallbacks, clean errors")
struct FaultTests {
    /// Fast retries: 3 attempts, 10–50 ms backoff, Retry-After waited out up to 2 s.
    static let fastRetry = RetryConfig(
        maxAttempts: 3, initialBackoff: .milliseconds(10), maxBackoff: .milliseconds(50), maxRetryAfter: .seconds(2))

    /// Runs `body` against a gateway whose `openai` backend retries fast, then returns the outcome rows of the
    /// request ids `body` returned (the file is complete once the gateway stopped).
    static func rows(
        script: @escaping FakeUpstream.Script,
        configure: @escaping (inout GatewayConfig) -> Void = { _ in },
        _ body: @escaping @Sendable (GatewayHarness) async throws -> [Reply]
    ) async throws -> [OutcomeRow] {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("phigate-faults-\(UUID().uuidString).sqlite").path
        defer {
            for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: path + suffix) }
        }
        let ids = RoutedOutcomeTests.IDBox()
        try await GatewayHarness.run(script: script, configure: { config in
            config.database.path = path
            for i in config.backends.indices { config.backends[i].retry = fastRetry }
            configure(&config)
        }) { gateway in
            ids.set(try await body(gateway).compactMap { $0.header("x-request-id") })
        }
        let byID = Dictionary(uniqueKeysWithValues: try OutcomeStore(path: path).requests().map { ($0.id, $0) })
        return try ids.get().map { try #require(byID[$0], "no row for request \($0)") }
    }

    /// `openai/gpt-4o-mini` attempts with these faults (nil: answered).
    static func chain(_ faults: String?...) -> [OutcomeAttempt] {
        faults.map { OutcomeAttempt(backend: "openai", model: "gpt-4o-mini", fault: $0) }
    }

    static func errorEvent(_ reply: Reply) -> [String: Any]? {
        guard let last = reply.sseData.last,
              let json = (try? JSONSerialization.jsonObject(with: Data(last.utf8))) as? [String: Any] else { return nil }
        return json["error"] as? [String: Any]
    }

    static let ok = FakeResponse.openAIChat()

    // MARK: - Retried before the first byte

    @Test("429 with a short Retry-After: waited out, retried, answered")
    func rateLimitedWithShortRetryAfter() async throws {
        let rows = try await Self.rows(script: FakeUpstream.sequence([
            .openAIError(status: 429, message: "slow down", type: "rate_limit_error", headers: [("retry-after", "1")]), Self.ok,
        ])) { gateway in
            let reply = try await gateway.chat(chatBody())
            #expect(reply.status == 200)
            #expect(gateway.upstream.requests.count == 2)
            return [reply]
        }
        #expect(rows.first?.attempts == Self.chain("status(429)", nil))
    }

    @Test("429 with a Retry-After beyond max_retry_after: answered 429 at once with the upstream's Retry-After")
    func rateLimitedWithLongRetryAfter() async throws {
        let rows = try await Self.rows(script: { _ in
            .openAIError(status: 429, message: "slow down", type: "rate_limit_error", headers: [("retry-after", "120")])
        }) { gateway in
            let reply = try await gateway.chat(chatBody())
            #expect(reply.status == 429)
            #expect(reply.header("retry-after") == "120")
            #expect(reply.errorObject["type"] as? String == "rate_limit_error")
            #expect((reply.errorObject["message"] as? String)?.contains("slow down") == true)
            #expect(gateway.upstream.requests.count == 1)
            return [reply]
        }
        #expect(rows.first?.attempts == Self.chain("status(429)"))
        #expect(rows.first?.status == 429)
    }

    @Test("429 without Retry-After: retried with backoff, then 429 without Retry-After")
    func rateLimitedWithoutRetryAfter() async throws {
        let rows = try await Self.rows(script: { _ in .openAIError(status: 429, message: "slow down", type: "rate_limit_error") }) { gateway in
            let reply = try await gateway.chat(chatBody())
            #expect(reply.status == 429)
            #expect(reply.header("retry-after") == nil)
            #expect(gateway.upstream.requests.count == 3)
            return [reply]
        }
        #expect(rows.first?.attempts == Self.chain("status(429)", "status(429)", "status(429)"))
    }

    @Test("500 once: retried, answered")
    func serverErrorOnce() async throws {
        let rows = try await Self.rows(script: FakeUpstream.sequence([.openAIError(status: 500, message: "oops"), Self.ok])) { gateway in
            let reply = try await gateway.chat(chatBody())
            #expect(reply.status == 200)
            #expect(gateway.upstream.requests.count == 2)
            return [reply]
        }
        #expect(rows.first?.attempts == Self.chain("status(500)", nil))
        #expect(rows.first?.status == 200)
    }

    @Test("503 every time: 3 attempts, then a 502 naming the upstream status")
    func unavailableEveryTime() async throws {
        let rows = try await Self.rows(script: { _ in .openAIError(status: 503, message: "overloaded") }) { gateway in
            let reply = try await gateway.chat(chatBody())
            #expect(reply.status == 502)
            #expect(reply.errorObject["code"] as? String == "upstream_status_503")
            #expect(gateway.upstream.requests.count == 3)
            return [reply]
        }
        #expect(rows.first?.attempts == Self.chain("status(503)", "status(503)", "status(503)"))
    }

    @Test("connection refused: 3 attempts, then 502")
    func connectionRefused() async throws {
        let rows = try await Self.rows(script: { _ in Self.ok }, configure: { config in
            config.backends[0].baseURL = "http://127.0.0.1:1/v1"
        }) { gateway in
            let reply = try await gateway.chat(chatBody())
            #expect(reply.status == 502)
            #expect(gateway.upstream.requests.isEmpty)
            return [reply]
        }
        #expect(rows.first?.attempts == Self.chain("connection_refused", "connection_refused", "connection_refused"))
    }

    @Test("TCP reset before the response: retried, answered")
    func resetBeforeResponse() async throws {
        let rows = try await Self.rows(script: FakeUpstream.sequence([.reset, Self.ok])) { gateway in
            let reply = try await gateway.chat(chatBody())
            #expect(reply.status == 200)
            #expect(gateway.upstream.requests.count == 2)
            return [reply]
        }
        #expect(rows.first?.attempts == Self.chain("connection_reset", nil))
    }

    @Test("no response at all: first-byte timeout, 3 attempts, then 504")
    func noResponse() async throws {
        let rows = try await Self.rows(script: { _ in .stall }, configure: { config in
            // Long enough that each attempt surely reaches the fake on a loaded machine.
            config.backends[0].timeouts.firstByte = .seconds(2)
        }) { gateway in
            let reply = try await gateway.chat(chatBody())
            #expect(reply.status == 504)
            #expect(reply.errorObject["code"] as? String == "upstream_timeout")
            #expect(gateway.upstream.requests.count == 3)
            return [reply]
        }
        #expect(rows.first?.attempts == Self.chain("timeout", "timeout", "timeout"))
    }

    @Test("a stream's first token later than first_byte: retried before anything was sent, answered")
    func slowFirstToken() async throws {
        let rows = try await Self.rows(script: FakeUpstream.sequence([
            FakeResponse.openAIStream().delayingFirstByte(by: .seconds(30)), .openAIStream(),
        ]), configure: { config in
            config.backends[0].timeouts.firstByte = .seconds(2)
        }) { gateway in
            let reply = try await gateway.chat(chatBody(stream: true))
            #expect(reply.status == 200)
            #expect(reply.sseData.last == "[DONE]")
            #expect(gateway.upstream.requests.count == 2)
            return [reply]
        }
        #expect(rows.first?.attempts == Self.chain("timeout", nil))
        #expect(rows.first?.isStreamed == true)
    }

    @Test("a stream failing before its first chunk is retried like a plain request")
    func streamRetriedBeforeFirstChunk() async throws {
        let rows = try await Self.rows(script: FakeUpstream.sequence([.openAIError(status: 502, message: "bad gateway"), .openAIStream()])) { gateway in
            let reply = try await gateway.chat(chatBody(stream: true))
            #expect(reply.status == 200)
            #expect(reply.sseData.last == "[DONE]")
            #expect(gateway.upstream.requests.count == 2)
            return [reply]
        }
        #expect(rows.first?.attempts == Self.chain("status(502)", nil))
    }

    @Test("an upstream that flaps: every request answered on its second attempt")
    func flappingUpstream() async throws {
        let rows = try await Self.rows(script: FakeUpstream.flapping(
            failure: .openAIError(status: 503, message: "flap"), success: Self.ok
        )) { gateway in
            var replies: [Reply] = []
            for _ in 0..<4 {
                let reply = try await gateway.chat(chatBody())
                #expect(reply.status == 200)
                replies.append(reply)
            }
            #expect(gateway.upstream.requests.count == 8)
            return replies
        }
        #expect(rows.count == 4)
        for row in rows { #expect(row.attempts == Self.chain("status(503)", nil)) }
    }

    // MARK: - Never retried

    @Test("400 context length: the upstream's message as a 400, not retried")
    func contextLengthExceeded() async throws {
        let message = "This model's maximum context length is 128000 tokens. However, your messages resulted in 130512 tokens."
        let rows = try await Self.rows(script: { _ in .openAIError(status: 400, message: message, type: "invalid_request_error") }) { gateway in
            let reply = try await gateway.chat(chatBody())
            #expect(reply.status == 400)
            #expect(reply.errorObject["type"] as? String == "invalid_request_error")
            #expect(reply.errorObject["code"] as? String == "context_length_exceeded")
            #expect((reply.errorObject["message"] as? String)?.contains("maximum context length is 128000 tokens") == true)
            #expect(gateway.upstream.requests.count == 1)
            return [reply]
        }
        #expect(rows.first?.attempts == Self.chain("status(400)"))
        #expect(rows.first?.status == 400)
    }

    @Test("content filter (OpenAI finish_reason, Anthropic refusal): a normal answer with finish_reason content_filter")
    func contentFilter() async throws {
        let script: FakeUpstream.Script = { request in
            request.path.hasSuffix("/messages")
                ? .anthropicStream(deltas: ["I can't help with that."], stopReason: "refusal")
                : .openAIChat(content: "I can't help with that.", finishReason: "content_filter")
        }
        let rows = try await Self.rows(script: script) { gateway in
            let plain = try await gateway.chat(chatBody())
            #expect(plain.status == 200)
            let choice = (plain.json["choices"] as? [[String: Any]])?.first
            #expect(choice?["finish_reason"] as? String == "content_filter")
            let streamed = try await gateway.chat(chatBody(model: "claude-3-5-sonnet", stream: true))
            #expect(streamed.status == 200)
            #expect(streamed.sseData.last == "[DONE]")
            #expect(streamed.body.contains(#""finish_reason":"content_filter""#))
            #expect(gateway.upstream.requests.count == 2)
            return [plain, streamed]
        }
        #expect(rows.map(\.status) == [200, 200])
        #expect(rows.first?.attempts == Self.chain(nil))
    }

    // MARK: - Streams that already sent chunks: never restarted

    @Test("a stream cut after N chunks: the chunks, an SSE error event, no [DONE], one upstream call")
    func streamCutAfterChunks() async throws {
        // Paced, so that the chunks reach the gateway before the reset. Even so AsyncHTTPClient may drop body parts it
        // read but had not handed over when the connection resets (seen once in a CI run: 2 of 3 chunks; see
        // RemoteBackendTests.cutStreamIsBrokenStream), so 1–3 chunks before the error event.
        let script: FakeUpstream.Script = { _ in .openAIStreamCut(afterChunks: 3, ending: .reset, interval: .milliseconds(50)) }
        let rows = try await Self.rows(script: script) { gateway in
            let reply = try await gateway.chat(chatBody(stream: true))
            #expect(reply.status == 200)
            #expect(!reply.sseData.contains("[DONE]"))
            #expect((2...4).contains(reply.sseData.count))
            #expect(Self.errorEvent(reply) != nil)
            #expect(gateway.upstream.requests.count == 1)
            return [reply]
        }
        #expect(rows.first?.attempts == Self.chain("connection_reset"))
        #expect(rows.first?.status == 502)
    }

    @Test("a stream that stalls after its first chunks: the idle timeout ends it with an SSE error event")
    func streamStalls() async throws {
        let rows = try await Self.rows(script: { _ in .openAIStreamCut(afterChunks: 2, ending: .stall) }, configure: { config in
            config.backends[0].timeouts.idle = .seconds(1)
        }) { gateway in
            let reply = try await gateway.chat(chatBody(stream: true))
            #expect(reply.status == 200)
            #expect(!reply.sseData.contains("[DONE]"))
            let error = Self.errorEvent(reply)
            #expect(error?["code"] as? String == "upstream_timeout")
            #expect((error?["message"] as? String)?.contains("stream idle") == true)
            #expect(gateway.upstream.requests.count == 1)
            return [reply]
        }
        #expect(rows.first?.attempts == Self.chain("timeout"))
        #expect(rows.first?.status == 504)
    }

    @Test("a malformed chunk: an SSE error event, no [DONE], one upstream call")
    func malformedChunk() async throws {
        let rows = try await Self.rows(script: { _ in .openAIStreamMalformed() }) { gateway in
            let reply = try await gateway.chat(chatBody(stream: true))
            #expect(!reply.sseData.contains("[DONE]"))
            #expect(Self.errorEvent(reply) != nil)
            #expect(gateway.upstream.requests.count == 1)
            return [reply]
        }
        #expect(rows.first?.attempts == Self.chain("malformed_response"))
    }

    @Test("a stream without [DONE]: complete after its finish chunk, [DONE] sent; broken without it")
    func streamWithoutDone() async throws {
        let rows = try await Self.rows(script: FakeUpstream.sequence([
            .openAIStream(done: false), .openAIStreamCut(afterChunks: 4, ending: .complete),
        ])) { gateway in
            let finished = try await gateway.chat(chatBody(stream: true))
            #expect(finished.sseData.last == "[DONE]")
            let cut = try await gateway.chat(chatBody(stream: true))
            #expect(!cut.sseData.contains("[DONE]"))
            #expect(Self.errorEvent(cut) != nil)
            #expect(gateway.upstream.requests.count == 2)
            return [finished, cut]
        }
        #expect(rows.map(\.attempts) == [Self.chain(nil), Self.chain("broken_stream")])
    }

    // MARK: - Circuit breaker, retry budget, routing

    @Test("circuit breaker: opens after consecutive failures, then fails fast with 503 without calling the upstream")
    func circuitBreakerFailsFast() async throws {
        let rows = try await Self.rows(script: { _ in .openAIError(status: 500, message: "down") }, configure: { config in
            config.backends[0].retry = .off
            config.backends[0].circuitBreaker = CircuitBreakerConfig(consecutiveFailures: 2, cooldown: .seconds(600))
        }) { gateway in
            let first = try await gateway.chat(chatBody())
            let second = try await gateway.chat(chatBody())
            #expect(first.status == 502 && second.status == 502)
            let fast = try await gateway.chat(chatBody())
            #expect(fast.status == 503)
            #expect(fast.errorObject["code"] as? String == "upstream_circuit_open")
            #expect(Int(fast.header("retry-after") ?? "").map { (590...600).contains($0) } == true)
            #expect(gateway.upstream.requests.count == 2)
            let metrics = try await gateway.metricsText()
            #expect(metrics.contains(#"phigate_upstream_circuit_state{backend="openai"} 2"#))
            #expect(metrics.contains(#"phigate_upstream_circuit_state{backend="anthropic"} 0"#))
            return [first, second, fast]
        }
        #expect(rows.map(\.attempts) == [Self.chain("status(500)"), Self.chain("status(500)"), Self.chain("circuit_open")])
    }

    @Test("retry budget: a dead upstream gets the reserve's retries, then one call per request")
    func retryBudgetLimitsLoad() async throws {
        _ = try await Self.rows(script: { _ in .openAIError(status: 503, message: "dead") }, configure: { config in
            config.backends[0].retry.budgetReserve = 2
            config.backends[0].retry.budgetRatio = 0.1
            config.backends[0].circuitBreaker = .off
        }) { gateway in
            for _ in 0..<4 {
                let reply = try await gateway.chat(chatBody())
                #expect(reply.status == 502)
            }
            // 4 requests, 2 retries from the reserve (0.1 per request never adds up to a whole retry here).
            #expect(gateway.upstream.requests.count == 6)
            return []
        }
    }

    @Test("routed: the frontier is retried, then the policy falls back to the local tier; the chain shows all")
    func routedRetryThenFallback() async throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("phigate-faults-\(UUID().uuidString).sqlite").path
        defer {
            for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: path + suffix) }
        }
        let ids = RoutedOutcomeTests.IDBox()
        try await RoutingPolicyTests.withRouting(
            remote: { _ in .openAIError(status: 503, message: "overloaded") },
            configure: { config in
                config.database.path = path
                for i in config.backends.indices { config.backends[i].retry = Self.fastRetry }
            }
        ) { harness, local in
            let plain = try await harness.chat(chatBody(model: "smart"))
            #expect(plain.status == 200)
            #expect(plain.header("x-phigate-route") == "local/phi-local")
            #expect(harness.upstream.requests.count == 3)
            #expect(local.requests.count == 1)
            ids.set([plain.header("x-request-id") ?? ""])
        }
        let row = try #require(try OutcomeStore(path: path).requests().first { $0.id == ids.get().first })
        #expect(row.attempts == Self.chain("status(503)", "status(503)", "status(503)")
            + [OutcomeAttempt(backend: "local", model: "phi-local")])
        #expect(row.backend == "local")
    }
}
