import FakeUpstream
import Foundation
import PhigateConfig
import Testing

/// Budget and deadline rules through the server: spend recorded from real answers exhausts a budget (downgrade to
/// local, or 429 naming it), and a deadline skips a candidate whose live latency cannot meet it.
@Suite("Routing rules: budgets and deadlines")
struct RoutingRuleTests {
    /// The routing harness of `RoutingPolicyTests` (FakeUpstreams for the frontier and for `local`) with `policy`.
    static func withPolicy(
        _ policy: String, local: @escaping FakeUpstream.Script = FakeUpstream.standardScript,
        _ body: @escaping @Sendable (GatewayHarness, FakeUpstream) async throws -> Void
    ) async throws {
        try await RoutingPolicyTests.withRouting(policy: policy, local: local, body)
    }

    /// gpt-4o-mini costs 0.15 / 0.60 USD per 1M tokens in the harness; the standard answer is 11 + 7 tokens, so one
    /// request spends 6 micro-dollars (0.000006 USD).
    static func budgetPolicy(onExhausted: String) -> String {
        """
        owns: [auto]
        defaults: { route: [tier:frontier, tier:local] }
        auto: { threshold: 0.5 }
        budgets:
          - { name: tenant-tiny, scope: tenant, period: day, limit: 0.000005, on_exhausted: \(onExhausted) }
        rules:
          - { name: everything-frontier, when: { model: [auto] }, route: [tier:frontier] }
        """
    }

    @Test("a spent tenant budget downgrades the next request to the local tier")
    func budgetDowngrades() async throws {
        try await Self.withPolicy(Self.budgetPolicy(onExhausted: "downgrade_local")) { gateway, local in
            let first = try await gateway.chat(chatBody(model: "auto"))
            #expect(first.status == 200 && first.header("x-phigate-backend") == "openai")
            let second = try await gateway.chat(chatBody(model: "auto"))
            #expect(second.status == 200)
            #expect(second.header("x-phigate-backend") == "local")
            #expect(second.header("x-phigate-reason")?.contains("tenant-tiny") == true)
            #expect(local.requests.count == 1 && gateway.upstream.requests.count == 1)
        }
    }

    @Test("a spent budget with on_exhausted reject answers 429 naming the budget")
    func budgetRejects() async throws {
        try await Self.withPolicy(Self.budgetPolicy(onExhausted: "reject")) { gateway, _ in
            #expect(try await gateway.chat(chatBody(model: "auto")).status == 200)
            let second = try await gateway.chat(chatBody(model: "auto"))
            #expect(second.status == 429)
            #expect((second.errorObject["message"] as? String)?.contains("tenant-tiny") == true)
            #expect(gateway.upstream.requests.count == 1)
        }
    }

    @Test("a deadline skips the candidate whose measured latency cannot meet it")
    func deadlineSkipsSlowCandidate() async throws {
        let slowLocal: FakeUpstream.Script = { _ in
            FakeResponse.openAIChat(content: "slow", model: "phi-local").delayed(by: .milliseconds(400))
        }
        let policy = """
            owns: [auto]
            defaults: { route: [tier:local, tier:frontier] }
            auto: { threshold: 0.5 }
            rules:
              - { name: local-first, when: { model: [auto] }, route: [tier:local, tier:frontier] }
            """
        try await Self.withPolicy(policy, local: slowLocal) { gateway, local in
            // Without a deadline the local tier answers, and its (slow) latency is measured.
            let warm = try await gateway.chat(chatBody(model: "auto"))
            #expect(warm.header("x-phigate-backend") == "local")
            // With 100 ms to spare, the local candidate is skipped for the frontier.
            let fast = try await gateway.chat(chatBody(model: "auto"), headers: GatewayHarness.authorized + [("x-phigate-deadline-ms", "100")])
            #expect(fast.status == 200)
            #expect(fast.header("x-phigate-backend") == "openai")
            #expect(fast.header("x-phigate-reason")?.contains("deadline") == true)
            #expect(local.requests.count == 1)
        }
    }
}
