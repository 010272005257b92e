import FakeUpstream
import Foundation
import PhigateConfig
import Testing

/// Routing through `buildApplication`: the harness upstream is the remote (frontier) backend and a spy; a second
/// FakeUpstream is the "local" tier (any OpenAI-compatible endpoint until the embedded backend is wired).
@Suite struct RoutingPolicyTests {
    static let policy = """
        owns: [auto, smart]
        privacy:
          private_tenants: [hospital]
          local_only_pii: [us_ssn, payment_card]
          redact_pii: [email]
        defaults: { route: [tier:frontier, tier:local] }
        auto: { threshold: 0.5 }
        rules:
          - { name: private-local, when: { private: true }, route: [tier:local] }
          - { name: blocked, when: { header: { x-team: blocked } }, reject: { status: 403, message: "team blocked" } }
          - { name: frontier-first, when: { model: [smart] }, route: [tier:frontier], redact: true, fallback: [tier:local] }
          - { name: auto, when: { model: [auto] }, route_auto: true, fallback: [tier:local, tier:frontier] }
        """

    static let standardRemote: FakeUpstream.Script = FakeUpstream.standardScript
    static let failingRemote: FakeUpstream.Script = { _ in FakeResponse.openAIError(status: 500, message: "boom") }

    static func withRouting(
        policy: String = policy,
        remote: @escaping FakeUpstream.Script = FakeUpstream.standardScript,
        local: @escaping FakeUpstream.Script = FakeUpstream.standardScript,
        configure: @escaping (inout GatewayConfig) -> Void = { _ in },
        _ body: @escaping @Sendable (GatewayHarness, FakeUpstream) async throws -> Void
    ) async throws {
        try await withPolicyFile(policy: policy, remote: remote, local: local, configure: configure) { harness, local, _ in
            try await body(harness, local)
        }
    }

    /// `withRouting`, also handing the body the policy file (to rewrite it and reload).
    static func withPolicyFile(
        policy: String = policy,
        remote: @escaping FakeUpstream.Script = FakeUpstream.standardScript,
        local: @escaping FakeUpstream.Script = FakeUpstream.standardScript,
        configure: @escaping (inout GatewayConfig) -> Void = { _ in },
        _ body: @escaping @Sendable (GatewayHarness, FakeUpstream, URL) async throws -> Void
    ) async throws {
        let localUpstream = try await FakeUpstream.start(script: local)
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("phigate-routing-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let file = dir.appendingPathComponent("policy.yaml")
        try policy.write(to: file, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(at: dir) }
        do {
            try await GatewayHarness.run(script: remote, configure: { config in
                config.backends.append(BackendConfig(
                    name: "local", kind: .openai, baseURL: localUpstream.baseURL + "/v1",
                    models: [ModelConfig(name: "phi-local")]))
                config.routing = RoutingConfig(policyFile: file.path, tiers: ["local": ["local"], "frontier": ["gpt-4o-mini"]])
                configure(&config)
            }) { harness in
                try await body(harness, localUpstream, file)
            }
        } catch {
            await localUpstream.shutdown()
            throw error
        }
        await localUpstream.shutdown()
    }

    /// Every backend called once per request, failing or not.
    static func withoutRetriesOrBreakers(_ config: inout GatewayConfig) {
        for i in config.backends.indices {
            config.backends[i].retry = .off
            config.backends[i].circuitBreaker = .off
        }
    }

    static let privateRequests: [(String, [(String, String)])] = [
        (chatBody(model: "auto"), GatewayHarness.authorized + [("x-phigate-privacy", "local-only")]),
        (chatBody(model: "smart"), GatewayHarness.authorized + [("x-phigate-privacy", "local-only")]),
        // A second field must not undo the first.
        (chatBody(model: "smart"), GatewayHarness.authorized + [("x-phigate-privacy", "local-only"), ("x-phigate-privacy", "remote-ok")]),
        (#"{"model":"auto","messages":[{"role":"user","content":"my ssn is 123-45-6789"}]}"#, GatewayHarness.authorized),
        (#"{"model":"smart","stream":true,"messages":[{"role":"user","content":"card 4111 1111 1111 1111"}]}"#, GatewayHarness.authorized),
    ]

    @Test func frontierRuleAnswersWithRouteHeaders() async throws {
        try await Self.withRouting { harness, local in
            let reply = try await harness.chat(chatBody(model: "smart"))
            #expect(reply.status == 200)
            #expect(reply.header("x-phigate-route") == "openai/gpt-4o-mini")
            #expect(reply.header("x-phigate-reason")?.contains("rule=frontier-first") == true)
            #expect(reply.header("x-phigate-backend") == "openai")
            #expect(local.requests.isEmpty)
        }
    }

    @Test func rejectRuleAnswersItsStatus() async throws {
        try await Self.withRouting { harness, _ in
            let reply = try await harness.chat(chatBody(model: "auto"), headers: GatewayHarness.authorized + [("x-team", "blocked")])
            #expect(reply.status == 403)
            #expect(reply.body.contains("team blocked"))
            #expect(reply.header("x-phigate-reason")?.contains("rule=blocked") == true)
            #expect(harness.upstream.requests.isEmpty)
        }
    }

    @Test func remoteFailureFallsBackToLocal() async throws {
        try await Self.withRouting(remote: { _ in FakeResponse.openAIError(status: 500, message: "boom") }) { harness, local in
            let reply = try await harness.chat(chatBody(model: "smart"))
            #expect(reply.status == 200)
            #expect(reply.header("x-phigate-route") == "local/phi-local")
            #expect(local.requests.count == 1)
            let streamed = try await harness.chat(chatBody(model: "smart", stream: true))
            #expect(streamed.status == 200)
            #expect(streamed.body.contains("[DONE]"))
            #expect(local.requests.count == 2)
        }
    }

    @Test func emailIsRedactedBeforeTheRemoteCall() async throws {
        try await Self.withRouting { harness, _ in
            let reply = try await harness.chat(#"{"model":"smart","messages":[{"role":"user","content":"write to jane@example.com"}]}"#)
            #expect(reply.status == 200)
            let sent = harness.upstream.requests.map(\.bodyText).joined()
            #expect(!sent.contains("jane@example.com"))
            #expect(sent.contains("<<PHI:EMAIL:1>>"))
        }
    }

    /// The spy: no private request reaches the remote backend, whichever rule fires and whether the local tier
    /// answers or fails (no remote fallback ever).
    @Test func privateRequestsNeverReachTheRemoteSpy() async throws {
        for localFails in [false, true] {
            let failing: FakeUpstream.Script = { _ in FakeResponse.openAIError(status: 503, message: "down") }
            let local: FakeUpstream.Script = localFails ? failing : FakeUpstream.standardScript
            // One call per request: retries and the circuit breaker would change the count the spy compares.
            try await Self.withRouting(local: local, configure: Self.withoutRetriesOrBreakers) { harness, localUpstream in
                for (body, headers) in Self.privateRequests {
                    let reply = try await harness.chat(body, headers: headers)
                    if localFails {
                        #expect(reply.status >= 500 || reply.body.contains("error"))
                    } else {
                        #expect(reply.status == 200)
                        #expect(reply.header("x-phigate-route") == "local/phi-local")
                    }
                }
                #expect(harness.upstream.requests.isEmpty, "a private request reached the remote backend")
                #expect(localUpstream.requests.count == Self.privateRequests.count)
            }
        }
    }
}
