import FakeUpstream
import Foundation
import OutcomeStore
import PhigateConfig
import Synchronization
import Testing

/// The cascade action through the server: the embedded model (tiny phi-3 fixture) answers first; its answer is
/// kept or escalated to the frontier (the FakeUpstream) by the policy's thresholds.
@Suite("Cascade: local first, escalate when weak")
struct CascadeTests {
    /// `thresholds` is the rule's cascade mapping.
    static func withCascade(
        _ thresholds: String, database: String = ":memory:", _ body: @escaping @Sendable (GatewayHarness) async throws -> Void
    ) async throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("phigate-cascade-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let file = dir.appendingPathComponent("policy.yaml")
        try """
            owns: [cascade]
            defaults: { route: [tier:frontier] }
            auto: { threshold: 0.5 }
            rules:
              - { name: try-local-first, when: { model: [cascade] }, cascade: \(thresholds) }
            """.write(to: file, atomically: true, encoding: .utf8)
        try await GatewayHarness.run(configure: { config in
            config.backends.append(BackendConfig(
                name: "local", kind: .local, baseURL: "", models: [ModelConfig(name: "local")],
                local: LocalModelConfig(modelPath: LocalBackendServerTests.model, threads: 1)))
            config.routing = RoutingConfig(policyFile: file.path, tiers: ["local": ["local"], "frontier": ["gpt-4o-mini"]])
            config.database = DatabaseConfig(path: database)
        }) { harness in
            try await harness.waitUntilSettled()
            try await body(harness)
        }
    }

    static func body(stream: Bool = false, maxTokens: Int = 8, extra: String = "") -> String {
        #"{"model":"cascade","messages":[{"role":"user","content":"Say hello"}],"temperature":0,"max_tokens":\#(maxTokens)\#(stream ? #","stream":true"# : "")\#(extra)}"#
    }

    @Test("a confident enough local answer is kept and the frontier is never called")
    func acceptedLocally() async throws {
        try await Self.withCascade("{ min_mean_logprob: -1000, escalate_on_truncation: false }") { gateway in
            let reply = try await gateway.chat(Self.body())
            #expect(reply.status == 200)
            #expect(reply.header("x-phigate-backend") == "local")
            let choice = (reply.json["choices"] as? [[String: Any]])?.first
            #expect(choice?["logprobs"] is NSNull, "the probe's logprobs are not returned unless asked for")
            let streamed = try await gateway.chat(Self.body(stream: true))
            #expect(streamed.sseData.last == "[DONE]")
            #expect(streamed.streamedContent == (choice?["message"] as? [String: Any])?["content"] as? String)
            #expect(gateway.upstream.requests.isEmpty)
        }
    }

    @Test("a weak local answer (low mean log-probability) is escalated, plain and streamed")
    func escalatedOnLowConfidence() async throws {
        // A random tiny model is never this confident.
        try await Self.withCascade("{ min_mean_logprob: -0.01, escalate_on_truncation: false }") { gateway in
            let reply = try await gateway.chat(Self.body())
            #expect(reply.status == 200)
            #expect(reply.header("x-phigate-backend") == "openai")
            let content = ((reply.json["choices"] as? [[String: Any]])?.first?["message"] as? [String: Any])?["content"] as? String
            #expect(content == "Hello from gpt-4o-mini.")
            let streamed = try await gateway.chat(Self.body(stream: true))
            #expect(streamed.streamedContent == "Hello from gpt-4o-mini.")
            #expect(gateway.upstream.requests.count == 2)
        }
    }

    @Test("the outcome row names the local attempt, the cascade's reason and the frontier answer")
    func escalationIsLogged() async throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("cascade-\(UUID().uuidString).sqlite").path
        defer { for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: path + suffix) } }
        let id = RequestIDBox()
        try await Self.withCascade("{ min_mean_logprob: -0.01, escalate_on_truncation: false }", database: path) { gateway in
            let reply = try await gateway.chat(Self.body())
            id.set(try #require(reply.header("x-request-id")))
        }
        let row = try #require(try OutcomeStore(path: path).requests().first { $0.id == id.get() })
        #expect(row.attempts == [
            OutcomeAttempt(backend: "local", model: "local", fault: "cascade(low_mean_logprob)"),
            OutcomeAttempt(backend: "openai", model: "gpt-4o-mini"),
        ])
        #expect(row.rule == "try-local-first" && row.backend == "openai")
    }

    @Test("a truncated local answer is escalated")
    func escalatedOnTruncation() async throws {
        try await Self.withCascade("{ escalate_on_truncation: true }") { gateway in
            let reply = try await gateway.chat(Self.body(maxTokens: 2, extra: #","ignore_eos":true"#))
            #expect(reply.status == 200 && reply.header("x-phigate-backend") == "openai")
            #expect(gateway.upstream.requests.count == 1)
        }
    }

    @Test("a required JSON answer the local model did not produce is escalated")
    func escalatedOnMissingFormat() async throws {
        try await Self.withCascade("{ escalate_on_truncation: false, escalate_on_format_missing: true }") { gateway in
            let reply = try await gateway.chat(Self.body(extra: #","response_format":{"type":"json_object"}"#))
            #expect(reply.status == 200 && reply.header("x-phigate-backend") == "openai")
            #expect(gateway.upstream.requests.count == 1)
        }
    }
}

/// The request id a test body saw, read after the gateway stopped.
final class RequestIDBox: Sendable {
    private let value = Mutex("")
    func set(_ id: String) { value.withLock { $0 = id } }
    func get() -> String { value.withLock { $0 } }
}
