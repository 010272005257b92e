import Foundation
import PhigateConfig
import Routing
import Testing

@Suite struct PolicyLoaderTests {
    static let root = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static let policyDirectory = root.appendingPathComponent("policies")

    static var policyFiles: [String] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: policyDirectory.path)) ?? []
        return names.filter { $0.hasSuffix(".yaml") }.sorted()
    }

    static func shippedCatalog() throws -> RoutingCatalog {
        var config = try ConfigLoader.load(file: root.appendingPathComponent("config/phigate.example.yaml").path, environment: [:])
        config.routing = config.routing ?? RoutingConfig(policyFile: "policies/default.yaml")
        return config.routing!.catalog(for: config)
    }

    func problems(_ yaml: String, catalog: RoutingCatalog? = nil) -> String {
        do {
            _ = try PolicyLoader.load(yaml: yaml, file: "policies/test.yaml", catalog: catalog)
            Issue.record("expected the policy to be rejected")
            return ""
        } catch {
            return error.description
        }
    }

    @Test func theFourPoliciesShip() {
        for name in ["default.yaml", "privacy-first.yaml", "cost-saver.yaml", "latency-first.yaml"] {
            #expect(Self.policyFiles.contains(name))
        }
    }

    @Test(arguments: policyFiles)
    func everyShippedPolicyLoadsAgainstTheExampleConfig(name: String) throws {
        let loaded = try PolicyLoader.load(file: Self.policyDirectory.appendingPathComponent(name).path, catalog: try Self.shippedCatalog())
        #expect(!loaded.policy.rules.isEmpty)
        #expect(loaded.policy.owns(model: "auto"))
        // Every policy keeps private requests local.
        let engine = PolicyEngine(policy: loaded.policy, catalog: try Self.shippedCatalog(), classifier: loaded.classifier)
        let d = engine.decision(for: RequestFeatures(model: "auto", headers: ["x-phigate-privacy": "local-only"]))
        #expect(d.plan.allSatisfy { $0.isLocal })
        #expect(d.explanation.isPrivate)
    }

    @Test func defaultPolicyTakesItsThresholdFromTheCurve() throws {
        let loaded = try PolicyLoader.load(file: Self.policyDirectory.appendingPathComponent("default.yaml").path)
        #expect(loaded.classifier != nil)
        let point = try #require(loaded.policy.auto.operatingPoint)
        #expect(loaded.policy.auto.target == .quality(0.95))
        #expect(loaded.policy.auto.threshold == point.point.threshold)
        #expect(point.qualityShareOfFrontier >= 0.95 || !point.isTargetMet)
    }

    @Test func gatewayConfigRoutingSection() throws {
        let config = try ConfigLoader.load(file: Self.root.appendingPathComponent("config/phigate.yaml").path, environment: [:])
        let routing = try #require(config.routing)
        #expect(routing.policyFile == "policies/default.yaml")
        #expect(routing.tiers["frontier"] == ["gpt-4o", "claude-sonnet-4"])
        let catalog = routing.catalog(for: config)
        #expect(catalog.entries(for: .tier("frontier")).map(\.model) == ["gpt-4o", "claude-sonnet-4"])
        // The embedded model is the only local entry (disabled unless PHIGATE_LOCAL_MODEL is set).
        #expect(catalog.entries.filter(\.isLocal).map(\.model) == ["local"])
        #expect(routing.tiers["local"] == ["local"])
    }

    @Test func unknownTierMemberInConfigIsNamed() {
        let yaml = """
            backends:
              - { name: openai, kind: openai, base_url: "http://127.0.0.1:1/v1", models: [{name: gpt-4o}] }
            routing:
              policy: policies/default.yaml
              tiers: { local: [nope] }
            """
        #expect(throws: ConfigError.self) { try ConfigLoader.load(yaml: yaml, file: "c.yaml", environment: [:]) }
        do {
            _ = try ConfigLoader.load(yaml: yaml, file: "c.yaml", environment: [:])
        } catch {
            #expect(error.description.contains("c.yaml: routing.tiers.local[0]: expected a backend or served model name, found 'nope'"))
        }
    }

    @Test func errorsNameFileLineKeyPathAndForm() throws {
        let message = problems("""
            name: broken
            frobnicate: 1
            privacy:
              local_only_pii: [ssn]
            defaults:
              deadline: soon
            auto:
              quality: 1.5
            budgets:
              - { name: b, scope: planet, period: day, limit: "5$" }
            rules:
              - name: two-actions
                route: [tier:local]
                reject: { message: no }
              - name: bad-when
                when: { difficulty: { max: 2 }, tools: maybe, deadline: soon, budget_exhausted: nope }
                route: [local]
              - name: no-action
                when: { model: [auto] }
            """, catalog: RoutingCatalog(entries: [], tiers: ["local": []]))
        let expected = [
            "policies/test.yaml:2: frobnicate: unknown key",
            "policies/test.yaml:4: privacy.local_only_pii[0]: expected a PII type",
            "policies/test.yaml:6: defaults.deadline: expected a duration like",
            "policies/test.yaml:8: auto.quality: expected a share of frontier quality like 0.95, found \"1.5\"",
            "policies/test.yaml:10: budgets[0].scope: expected one of key, tenant, global, found \"planet\"",
            "budgets[0].limit: expected US dollars like 25.00",
            "rules[0]: expected exactly one action, found route and reject",
            "rules[1].when.difficulty: expected a score range within 0…1",
            "rules[1].when.tools: expected true or false, found \"maybe\"",
            "rules[1].when.deadline: expected a mapping with keys min, max",
            "rules[1].when.budget_exhausted: expected true or one of the budget names",
            "rules[1].route[0]: expected targets like \"tier:local\"",
            "rules[2]: expected one action: route, route_auto, cascade or reject",
        ]
        for line in expected {
            #expect(message.contains(line), "missing: \(line)\nin:\n\(message)")
        }
    }

    @Test func targetsAreCheckedAgainstTheCatalog() {
        let message = problems("""
            rules:
              - { name: a, route: [tier:gpu, model:gpt-9, backend:nowhere] }
            """, catalog: RoutingCatalog(entries: [.init(model: "gpt-4o", backend: "openai", isLocal: false)], tiers: [:]))
        #expect(message.contains("rules[0].route[0]: no tier named 'gpu' in routing.tiers"))
        #expect(message.contains("rules[0].route[1]: no backend serves model 'gpt-9'"))
        #expect(message.contains("rules[0].route[2]: no backend named 'nowhere'"))
    }

    @Test func operatingTargetWithoutCurveOrThresholdIsAnError() {
        #expect(problems("auto: { lambda: 0.1 }\nrules: [{route_auto: true}]").contains("auto.curve: an operating target"))
    }

    @Test func invalidCustomRegexIsNamed() {
        #expect(problems("""
            privacy:
              custom_patterns: [{ name: x, regex: "([" }]
            rules: [{ route: [tier:local] }]
            """).contains("privacy.custom_patterns[0].regex: expected a valid regular expression"))
    }

    @Test func fullRuleVocabularyDecodes() throws {
        let loaded = try PolicyLoader.load(yaml: """
            owns: [smart]
            privacy:
              private_tenants: [t1]
              private_keys: [k1]
              local_only_pii: [us_ssn, "custom:badge"]
              custom_patterns: [{ name: badge, regex: "B-[0-9]{4}" }]
            auto: { threshold: 0.4 }
            budgets: [{ name: d, scope: key, period: day, limit: 1.5, on_exhausted: downgrade_local }]
            rules:
              - name: all
                when:
                  model: [smart]
                  key: [k2]
                  tenant: t2
                  header: { x-team: research, x-any: "*" }
                  private: false
                  pii: [email]
                  prompt_tokens: { min: 1, max: 10 }
                  max_tokens: { max: 5 }
                  tools: false
                  response_format: true
                  difficulty: { min: 0.1 }
                  deadline: { max: 100 }
                  budget_exhausted: d
                route: [tier:frontier, model:gpt-4o, backend:openai]
                redact: true
                fallback: tier:local
              - { name: c, cascade: { min_mean_logprob: -1.5, escalate_on_truncation: false } }
              - { name: r, reject: { status: 429, message: slow down } }
              - { name: a, route_auto: true }
            """, file: "p.yaml")
        let p = loaded.policy
        #expect(p.ownedModels == ["auto", "smart"])
        #expect(p.privacy.localOnlyPII == [.usSSN, .custom("badge")])
        #expect(p.budgets == [BudgetRule(name: "d", scope: .key, period: .day, limitMicros: 1_500_000, onExhausted: .downgrade)])
        #expect(p.rules[0].conditions.count == 14)
        #expect(p.rules[0].action == .route([.tier("frontier"), .model("gpt-4o"), .backend("openai")], redact: true))
        #expect(p.rules[0].fallback == [.tier("local")])
        #expect(p.rules[2].action == .reject(status: 429, message: "slow down"))
        #expect(loaded.scanner.counts(in: "badge B-1234") == [.custom("badge"): 1])
    }
}
