import Foundation
import PhigateConfig
import Testing

/// `shadow:`: decoded strictly, models checked against the backends and tiers.
@Suite struct ShadowConfigTests {
    static let base = """
        backends:
          - name: openai
            kind: openai
            base_url: https://api.openai.com/v1
            models:
              - { name: gpt-4o, price_per_1m: { input: 2.50, output: 10.00 } }
              - gpt-4o-mini
          - name: vllm
            kind: openai
            base_url: http://127.0.0.1:8000/v1
            models: [phi-local]
        routing:
          policy: policies/default.yaml
          tiers: { local: [vllm], frontier: [gpt-4o] }

        """

    static func load(_ shadow: String) throws(ConfigError) -> GatewayConfig {
        try ConfigLoader.load(yaml: base + shadow, file: "test.yaml", environment: [:])
    }

    static func errorText(_ shadow: String) -> String {
        do {
            _ = try load(shadow)
            Issue.record("expected the configuration to be rejected")
            return ""
        } catch {
            return error.description
        }
    }

    @Test func aFullBlockDecodes() throws {
        let config = try Self.load("""
            shadow:
              local_share: 0.05
              remote_share: 0.01
              remote_model: gpt-4o
              local_model: phi-local
              judge_model: gpt-4o-mini
              budget_usd_per_day: 2.50
              max_concurrency: 2
              queue_size: 50
            """)
        let shadow = try #require(config.shadow)
        #expect(shadow == ShadowConfig(
            localShare: 0.05, remoteShare: 0.01, remoteModel: "gpt-4o", localModel: "phi-local", judgeModel: "gpt-4o-mini",
            budgetMicrosPerDay: 2_500_000, maxConcurrency: 2, queueSize: 50))
    }

    @Test func defaultsAndSwitchingOff() throws {
        let shadow = try #require(try Self.load("shadow: { enabled: false, judge_model: gpt-4o, budget_usd_per_day: 1 }").shadow)
        #expect(!shadow.isEnabled)
        #expect(shadow.localShare == 0 && shadow.remoteShare == 0)
        #expect(shadow.maxConcurrency == 1 && shadow.queueSize == 100)
        #expect(try Self.load("log_level: info\n").shadow == nil)
    }

    @Test(arguments: [
        ("shadow: { judge_model: gpt-4o, budget_usd_per_day: 1, local_shar: 0.1 }", "shadow.local_shar: unknown key"),
        ("shadow: { budget_usd_per_day: 1 }", "shadow.judge_model: missing required key"),
        ("shadow: { judge_model: gpt-4o }", "shadow.budget_usd_per_day: missing required key"),
        ("shadow: { judge_model: gpt-4o, budget_usd_per_day: 1, local_share: 1.5, remote_model: gpt-4o }",
         #"shadow.local_share: expected a share from 0 to 1 like 0.05, found "1.5""#),
        ("shadow: { judge_model: gpt-4o, budget_usd_per_day: 1, local_share: 0.1 }", "shadow.remote_model: missing required key (local_share is above 0)"),
        ("shadow: { judge_model: gpt-5, budget_usd_per_day: 1 }", "shadow.judge_model: expected a served model name, found 'gpt-5'"),
        ("shadow: { judge_model: gpt-4o, budget_usd_per_day: 1, local_share: 0.1, remote_model: phi-local }",
         "shadow.remote_model: expected a remote model (not in routing.tiers.local), found 'phi-local' on backend 'vllm'"),
        ("shadow: { judge_model: gpt-4o, budget_usd_per_day: 1, remote_share: 0.1, local_model: gpt-4o }",
         "shadow.local_model: expected a local model (a backend in routing.tiers.local), found 'gpt-4o' on backend 'openai'"),
        ("shadow: { judge_model: gpt-4o, budget_usd_per_day: lots }", "shadow.budget_usd_per_day: expected"),
        ("shadow: { judge_model: gpt-4o, budget_usd_per_day: 1, max_concurrency: 0 }", "shadow.max_concurrency: expected a number of evaluations from 1 to 64"),
    ])
    func problemsNameTheKey(shadow: String, message: String) {
        #expect(Self.errorText(shadow).contains(message))
    }

    @Test func tiersFollowKindAndTheLocalTier() throws {
        let config = try Self.load("")
        let tiers = ServingTiers(config: config)
        #expect(tiers.isLocal(backend: "vllm", model: "phi-local"))
        #expect(!tiers.isLocal(backend: "openai", model: "gpt-4o"))
        #expect(!tiers.isLocal(backend: "unknown", model: "x"))
        #expect(BackendKind.allCases.filter(\.isRemoteAPI) == [.openai, .anthropic])
    }
}
