import FakeUpstream
import Foundation
@testable import GatewayServer
import OpenAIWire
import PhigateConfig
import Synchronization
import Testing

/// A clock the tests move by hand.
final class ManualClock: Sendable {
    private let start = ContinuousClock.now
    private let offset = Mutex<Duration>(.zero)

    var now: ContinuousClock.Instant { start + offset.withLock { $0 } }
    func advance(by duration: Duration) { offset.withLock { $0 += duration } }
}

@Suite("Token buckets and the rate limiter, driven by a manual clock")
struct RateLimiterTests {
    private let clock = ManualClock()
    private var limiter: RateLimiter { RateLimiter(now: { [clock] in clock.now }) }
    private static let keyRequests = RateLimiter.BucketID(subject: .key("k"), unit: .requests)
    private static let tenantTokens = RateLimiter.BucketID(subject: .tenant("t"), unit: .tokens)

    private func request(_ perMinute: Int = 60) -> RateLimiter.Charge {
        .init(bucket: Self.keyRequests, perMinute: perMinute, amount: 1, limitName: "limits.per_key.requests_per_minute")
    }

    @Test("a full bucket admits a minute's worth, then refuses with the time until the next token")
    func burstThenRefusal() throws {
        let limiter = self.limiter
        for _ in 0..<60 { try limiter.take([request()]) }
        do {
            try limiter.take([request()])
            Issue.record("the 61st request was admitted")
        } catch {
            #expect(error.limitName == "limits.per_key.requests_per_minute")
            #expect(error.retryAfter > .milliseconds(990) && error.retryAfter <= .seconds(1))
        }
        clock.advance(by: .seconds(1))
        try limiter.take([request()])
        #expect(throws: RateLimiter.Refusal.self) { try limiter.take([request()]) }
        clock.advance(by: .seconds(30))
        for _ in 0..<30 { try limiter.take([request()]) }
        #expect(throws: RateLimiter.Refusal.self) { try limiter.take([request()]) }
    }

    @Test("refill never exceeds one minute's worth")
    func refillIsCapped() throws {
        let limiter = self.limiter
        try limiter.take([request(10)])
        clock.advance(by: .seconds(3600))
        #expect(limiter.level(Self.keyRequests) == 10)
    }

    @Test("a request is admitted by all its buckets or none")
    func allOrNothing() throws {
        let limiter = self.limiter
        let tokens = RateLimiter.Charge(bucket: Self.tenantTokens, perMinute: 100, amount: 80, limitName: "limits.per_tenant.tokens_per_minute")
        try limiter.take([request(), tokens])
        do {
            try limiter.take([request(), tokens])
            Issue.record("admitted beyond the token bucket")
        } catch {
            #expect(error.limitName == "limits.per_tenant.tokens_per_minute")
            // 60 more tokens at 100/min: 36 s.
            #expect(error.retryAfter > .seconds(35.9) && error.retryAfter <= .seconds(36))
        }
        #expect(limiter.level(Self.keyRequests) == 59)  // the refused request took nothing
    }

    @Test("a request larger than the bucket waits for a full bucket and leaves it in debt")
    func oversizedRequest() throws {
        let limiter = self.limiter
        let huge = RateLimiter.Charge(bucket: Self.tenantTokens, perMinute: 100, amount: 250, limitName: "tokens")
        try limiter.take([huge])
        #expect(limiter.level(Self.tenantTokens) == -150)
        #expect(throws: RateLimiter.Refusal.self) { try limiter.take([huge]) }
        clock.advance(by: .seconds(150))  // back to a full bucket
        try limiter.take([huge])
    }

    @Test("reconciling gives back what was reserved and not used, or takes what was used beyond it")
    func reconcile() throws {
        let limits = RequestLimits(config: LimitsConfig(perTenant: RateLimit(tokensPerMinute: 1000)), now: { [clock] in clock.now })
        let request = try decodeRequest(#"{"model":"m","messages":[{"role":"user","content":"12345678"}],"max_tokens":500}"#)
        #expect(RequestLimits.reservedTokens(request) == 502)
        func admit() throws -> Admission? { try limits.admit(request, servedModel: "m", keyID: "k", tenant: "t", grant: nil) }
        let admission = try #require(try admit())
        #expect(limits.limiter.level(Self.tenantTokens) == 498)
        admission.settle(usage: Usage(promptTokens: 2, completionTokens: 8))
        #expect(limits.limiter.level(Self.tenantTokens) == 990)
        admission.settle(usage: Usage(promptTokens: 500, completionTokens: 500))  // settled once only
        #expect(limits.limiter.level(Self.tenantTokens) == 990)
        let second = try #require(try admit())
        second.settle(usage: Usage(promptTokens: 300, completionTokens: 700))
        #expect(limits.limiter.level(Self.tenantTokens) == -10)
        #expect(throws: GatewayError.self) { try admit() }
        let failed = try #require({ clock.advance(by: .seconds(31.2)); return try admit() }())
        failed.refund()
        #expect(limits.limiter.level(Self.tenantTokens) == 510)
    }

    @Test("a database key's allowed models are enforced with a 403 naming the model")
    func allowedModels() throws {
        let limits = RequestLimits(config: LimitsConfig())
        let request = try decodeRequest(#"{"model":"fast","messages":[{"role":"user","content":"x"}]}"#)
        let grant = KeyGrant(allowedModels: ["gpt-4o-mini"])
        #expect(try limits.admit(request, servedModel: "gpt-4o-mini", keyID: "k", tenant: "t", grant: grant) == nil)
        do {
            _ = try limits.admit(request, servedModel: "gpt-4o", keyID: "k", tenant: "t", grant: grant)
            Issue.record("a model outside the grant was admitted")
        } catch {
            #expect(error.status == .forbidden && error.code == "model_not_allowed")
            #expect(error.message.contains("'fast'") && error.message.contains("gpt-4o-mini"))
        }
    }
}

@Suite("Limits through the gateway: 429 with Retry-After, 413, 400, backend concurrency")
struct LimitsServerTests {
    @Test("a key over its requests per minute gets 429 naming the limit, with Retry-After")
    func perKeyRequests() async throws {
        try await GatewayHarness.run(configure: { $0.limits = LimitsConfig(perKey: RateLimit(requestsPerMinute: 2)) }) { gateway in
            #expect(try await gateway.chat(chatBody()).status == 200)
            #expect(try await gateway.chat(chatBody(stream: true)).status == 200)
            let refused = try await gateway.chat(chatBody())
            #expect(refused.status == 429)
            #expect(refused.errorObject["code"] as? String == "rate_limit_exceeded")
            #expect(refused.errorObject["type"] as? String == "rate_limit_error")
            let message = refused.errorObject["message"] as? String ?? ""
            #expect(message.contains("limits.per_key.requests_per_minute") && message.contains("'test-key'"), "\(message)")
            let retryAfter = try #require(refused.header("retry-after").flatMap(Int.init))
            #expect((1...30).contains(retryAfter))
            #expect(gateway.upstream.requests.count == 2)
        }
    }

    @Test("a tenant's tokens per minute count prompt and max_tokens, reconciled with the reported usage")
    func tenantTokens() async throws {
        try await GatewayHarness.run(configure: {
            $0.limits = LimitsConfig(tenants: ["tests": RateLimit(tokensPerMinute: 100)])
        }) { gateway in
            // "Say hello" ≈ 3 tokens + 90 reserved; the fake reports 18 used, so 75 come back.
            #expect(try await gateway.chat(chatBody(extra: #","max_tokens":90"#)).status == 200)
            let refused = try await gateway.chat(chatBody(extra: #","max_tokens":90"#))
            #expect(refused.status == 429)
            #expect((refused.errorObject["message"] as? String)?.contains("limits.tenants.tests.tokens_per_minute") == true)
            #expect(refused.header("retry-after") != nil)
            // Without reconciliation only 7 would be left.
            #expect(try await gateway.chat(chatBody(extra: #","max_tokens":50"#)).status == 200)
        }
    }

    @Test("too many messages is a 413 and max_tokens above the maximum a 400, both naming the limit")
    func sizeLimits() async throws {
        try await GatewayHarness.run(configure: { $0.limits = LimitsConfig(maxMessages: 2, maxTokens: 100) }) { gateway in
            let messages = Array(repeating: #"{"role":"user","content":"hi"}"#, count: 3).joined(separator: ",")
            let tooMany = try await gateway.chat(#"{"model":"gpt-4o-mini","messages":[\#(messages)]}"#)
            #expect(tooMany.status == 413)
            #expect((tooMany.errorObject["message"] as? String)?.contains("limits.max_messages") == true)
            #expect(tooMany.errorObject["param"] as? String == "messages")
            let tooLong = try await gateway.chat(chatBody(extra: #","max_completion_tokens":101"#))
            #expect(tooLong.status == 400)
            #expect((tooLong.errorObject["message"] as? String)?.contains("limits.max_tokens") == true)
            #expect(tooLong.errorObject["param"] as? String == "max_completion_tokens")
            #expect(try await gateway.chat(chatBody(extra: #","max_tokens":100"#)).status == 200)
            #expect(gateway.upstream.requests.count == 1)
        }
    }

    @Test("a backend at its concurrency limit answers 429 and frees the slot when the request ends")
    func backendConcurrency() async throws {
        let script: FakeUpstream.Script = { request in
            let response = FakeUpstream.standardScript(request)
            return request.bodyText.contains("slow-please") ? response.delayed(by: .milliseconds(1500)) : response
        }
        try await GatewayHarness.run(script: script, configure: { $0.limits = LimitsConfig(backendConcurrency: ["openai": 1]) }) { gateway in
            async let slow = gateway.chat(#"{"model":"gpt-4o-mini","messages":[{"role":"user","content":"slow-please"}]}"#)
            _ = await gateway.upstream.waitForRequests(1)
            let busy = try await gateway.chat(chatBody(stream: true))
            #expect(busy.status == 429)
            #expect(busy.errorObject["code"] as? String == "backend_concurrency_limit")
            #expect((busy.errorObject["message"] as? String)?.contains("limits.backend_concurrency.openai") == true)
            #expect(busy.header("x-phigate-backend") == "openai")
            // Another backend is not affected.
            #expect(try await gateway.chat(chatBody(model: "claude-3-5-sonnet")).status == 200)
            #expect(try await slow.status == 200)
            #expect(try await gateway.chat(chatBody(stream: true)).status == 200)
            #expect(try await gateway.chat(chatBody()).status == 200)
        }
    }
}

/// Decodes a request body (the decoder reads raw bytes).
func decodeRequest(_ json: String) throws -> ChatCompletionRequest {
    try Array(json.utf8).withUnsafeBytes { bytes in try ChatCompletionRequest.decode(bytes: bytes) }
}
