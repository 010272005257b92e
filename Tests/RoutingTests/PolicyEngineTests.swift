import Testing
import Foundation
@testable import Routing

/// Decisions as values: features, statistics and budgets in; route or reject plus explanation out.
@Suite struct PolicyEngineTests {
    static let catalog = RoutingCatalog(
        entries: [
            .init(model: "phi-3.5-mini", backend: "local", isLocal: true, contextLength: 4096),
            .init(model: "gpt-4o", backend: "openai", isLocal: false, inputMicrosPerMillion: 2_500_000, outputMicrosPerMillion: 10_000_000),
            .init(model: "claude-sonnet", backend: "anthropic", isLocal: false, inputMicrosPerMillion: 3_000_000, outputMicrosPerMillion: 15_000_000),
        ],
        tiers: ["local": ["local"], "frontier": ["openai", "anthropic"]])

    /// A classifier whose score is a constant (all weights zero).
    static func constantClassifier(_ p: Double) -> DifficultyClassifier {
        let spec = DifficultyFeatureSpec(hashBits: 4)
        let logit = log(p / (1 - p))
        return DifficultyClassifier(spec: spec, form: .direct, heads: [.init(bias: logit, weights: [Float](repeating: 0, count: spec.dimension))])
    }

    static func engine(_ rules: [PolicyRule], privacy: PrivacyPolicy = PrivacyPolicy(localOnlyPII: [.usSSN]),
                       budgets: [BudgetRule] = [], defaults: PolicyDefaults = PolicyDefaults(fallbackTargets: [.tier("frontier")]),
                       score: Double? = nil) -> PolicyEngine {
        PolicyEngine(
            policy: RoutingPolicy(name: "test", privacy: privacy, budgets: budgets, defaults: defaults,
                                  auto: AutoRouting(threshold: 0.6), rules: rules),
            catalog: catalog, classifier: score.map(constantClassifier))
    }

    func backends(_ d: RouteDecision) -> [String] { d.plan.map(\.backend) }

    @Test func noRuleFiresUsesDefaults() {
        let d = Self.engine([]).decision(for: RequestFeatures(model: "auto"))
        #expect(backends(d) == ["openai", "anthropic"])
        #expect(d.explanation.rule == "default")
        #expect(d.routeHeader == "openai/gpt-4o")
    }

    @Test(arguments: [(0.9, ["local", "openai", "anthropic"]), (0.3, ["openai", "anthropic", "local"])])
    func autoFollowsTheThreshold(score: Double, expected: [String]) {
        let d = Self.engine([PolicyRule(name: "auto", conditions: [.model(["auto"])], action: .auto(redact: false))], score: score)
            .decision(for: RequestFeatures(model: "auto"))
        #expect(backends(d) == expected)
        #expect(d.explanation.threshold == 0.6)
        #expect(abs((d.explanation.difficultyScore ?? 0) - score) < 1e-6)
        #expect(d.explanation.headerValue.contains("score="))
    }

    @Test func conditionsSelectTheRule() {
        let rules = [
            PolicyRule(name: "tools", conditions: [.hasTools(true)], action: .route([.model("gpt-4o")], redact: false)),
            PolicyRule(name: "json", conditions: [.hasResponseFormat(true)], action: .route([.backend("anthropic")], redact: false)),
            PolicyRule(name: "vip", conditions: [.tenant(["acme"]), .header(name: "x-team", value: "Research")],
                       action: .route([.tier("frontier")], redact: false)),
            PolicyRule(name: "long", conditions: [.promptTokens(NumericRange(min: 1000))], action: .route([.tier("frontier")], redact: false)),
            PolicyRule(name: "short-answers", conditions: [.maxTokens(NumericRange(max: 64))], action: .route([.tier("local")], redact: false)),
            PolicyRule(name: "hard", conditions: [.difficulty(NumericRange(max: 0.2))], action: .route([.model("claude-sonnet")], redact: false)),
            PolicyRule(name: "key", conditions: [.keyID(["k-batch"])], action: .reject(status: 403, message: "batch keys are off")),
        ]
        let e = Self.engine(rules, score: 0.1)
        #expect(e.decision(for: RequestFeatures(model: "auto", hasTools: true)).explanation.rule == "tools")
        #expect(e.decision(for: RequestFeatures(model: "auto", hasResponseFormat: true)).routeHeader == "anthropic/claude-sonnet")
        #expect(e.decision(for: RequestFeatures(model: "auto", tenant: "acme", headers: ["X-Team": "research"])).explanation.rule == "vip")
        #expect(e.decision(for: RequestFeatures(model: "auto", tenant: "acme")).explanation.rule != "vip")
        #expect(e.decision(for: RequestFeatures(model: "auto", promptTokens: 5000)).explanation.rule == "long")
        #expect(e.decision(for: RequestFeatures(model: "auto", maxTokens: 32)).routeHeader == "local/phi-3.5-mini")
        #expect(e.decision(for: RequestFeatures(model: "auto")).explanation.rule == "hard")
        let rejected = e.decision(for: RequestFeatures(model: "auto", keyID: "k-batch", maxTokens: 1000))
        #expect(rejected.explanation.rule == "hard")  // order matters: "hard" comes first
        let onlyKey = Self.engine([rules[6]]).decision(for: RequestFeatures(model: "auto", keyID: "k-batch"))
        #expect(onlyKey.outcome == .reject(status: 403, code: "policy_rejected", message: "batch keys are off"))
    }

    @Test func privateRequestsNeverPlanARemoteBackend() {
        let rules = [
            PolicyRule(name: "frontier", action: .route([.tier("frontier"), .model("gpt-4o")], redact: true),
                       fallback: [.backend("anthropic"), .tier("local")]),
        ]
        let e = Self.engine(rules, privacy: PrivacyPolicy(privateTenants: ["hospital"], privateKeys: ["k-legal"], localOnlyPII: [.usSSN]))
        let cases: [RequestFeatures] = [
            RequestFeatures(model: "auto", headers: ["x-phigate-privacy": "local-only"]),
            RequestFeatures(model: "auto", tenant: "hospital"),
            RequestFeatures(model: "auto", keyID: "k-legal"),
            RequestFeatures(model: "auto", piiFindings: [.usSSN: 1]),
        ]
        for features in cases {
            let d = e.decision(for: features)
            #expect(backends(d) == ["local"])
            #expect(d.explanation.isPrivate)
            #expect(d.explanation.candidates.filter { !$0.isLocal }.allSatisfy { $0.skipped == "private" })
        }
        // PII of a type not listed is not private.
        #expect(!e.decision(for: RequestFeatures(model: "auto", piiFindings: [.email: 1])).explanation.isPrivate)
        // Repeated privacy fields arrive combined with ", ": any local-only element keeps the request local.
        for value in ["Local-Only", "remote, local-only", "local-only , remote", " local-only"] {
            let d = e.decision(for: RequestFeatures(model: "auto", headers: ["x-phigate-privacy": value]))
            #expect(backends(d) == ["local"], "\(value)")
        }
        for value in ["remote", "not-local-only", "local-only-ish", ""] {
            #expect(!e.decision(for: RequestFeatures(model: "auto", headers: ["x-phigate-privacy": value])).explanation.isPrivate)
        }
    }

    @Test func repeatedDeadlinesTakeTheTightest() {
        #expect(RequestFeatures(model: "auto", headers: ["x-phigate-deadline-ms": "1500, 900"]).headerDeadlineMilliseconds == 900)
        #expect(RequestFeatures(model: "auto", headers: ["x-phigate-deadline-ms": "soon, 700"]).headerDeadlineMilliseconds == 700)
        #expect(RequestFeatures(model: "auto", headers: ["x-phigate-deadline-ms": "0, -5"]).headerDeadlineMilliseconds == nil)
    }

    @Test func headerListMatchesAnyElement() {
        #expect(HeaderList.contains("gold", "GOLD"))
        #expect(HeaderList.contains("silver,  gold ", "gold"))
        #expect(!HeaderList.contains("golden", "gold"))
        #expect(!HeaderList.contains("", "gold"))
        #expect(HeaderList.contains("a,,b", ""))
    }

    @Test func privateRequestWithoutLocalCandidateFailsClearly() {
        let e = Self.engine([PolicyRule(name: "frontier-only", action: .route([.tier("frontier")], redact: false))])
        let d = e.decision(for: RequestFeatures(model: "auto", headers: ["x-phigate-privacy": "local-only"]))
        guard case .reject(let status, let code, let message) = d.outcome else {
            Issue.record("expected a rejection")
            return
        }
        #expect(status == 503)
        #expect(code == "private_request_no_local_backend")
        #expect(message.contains("private (header)"))
    }

    @Test func redactionOnlyWhenARemoteCandidateAndPIIExist() {
        let e = Self.engine([PolicyRule(name: "r", action: .route([.tier("frontier")], redact: true))])
        #expect(e.decision(for: RequestFeatures(model: "auto", piiFindings: [.email: 2])).outcome
            == e.decision(for: RequestFeatures(model: "auto", piiFindings: [.email: 2])).outcome)
        guard case .route(_, let redact, _) = e.decision(for: RequestFeatures(model: "auto", piiFindings: [.email: 2])).outcome else {
            Issue.record("expected route")
            return
        }
        #expect(redact)
        guard case .route(_, let none, _) = e.decision(for: RequestFeatures(model: "auto")).outcome else { return }
        #expect(!none)
    }

    @Test func spentBudgetDowngradesOrRejects() {
        let downgrade = BudgetRule(name: "team-daily", scope: .tenant, period: .day, limitMicros: 1_000_000, onExhausted: .downgrade)
        let reject = BudgetRule(name: "key-monthly", scope: .key, period: .month, limitMicros: 5_000_000, onExhausted: .reject)
        let rules = [PolicyRule(name: "frontier", action: .route([.tier("frontier")], redact: false), fallback: [.tier("local")])]

        let d1 = Self.engine(rules, budgets: [downgrade]).decision(
            for: RequestFeatures(model: "auto"), budgets: BudgetState(spentMicros: ["team-daily": 1_000_000]))
        #expect(backends(d1) == ["local"])
        #expect(d1.explanation.exhaustedBudgets == ["team-daily"])

        let d2 = Self.engine(rules, budgets: [reject]).decision(
            for: RequestFeatures(model: "auto"), budgets: BudgetState(spentMicros: ["key-monthly": 7_000_000]))
        guard case .reject(429, "budget_exhausted", let message) = d2.outcome else {
            Issue.record("expected 429, got \(d2.outcome)")
            return
        }
        #expect(message.contains("key-monthly"))

        let noLocal = [PolicyRule(name: "f", action: .route([.tier("frontier")], redact: false))]
        let d3 = Self.engine(noLocal, budgets: [downgrade]).decision(
            for: RequestFeatures(model: "auto"), budgets: BudgetState(spentMicros: ["team-daily": 2_000_000]))
        // Downgrade means the local tier answers even when the rule named only remote targets.
        #expect(backends(d3) == ["local"])

        let ruleOnBudget = [PolicyRule(name: "saver", conditions: [.budgetExhausted("team-daily")], action: .route([.tier("local")], redact: false))]
        #expect(Self.engine(ruleOnBudget, budgets: [downgrade]).decision(
            for: RequestFeatures(model: "auto"), budgets: BudgetState(spentMicros: ["team-daily": 1_000_000])).explanation.rule == "saver")
    }

    @Test func predictedCostUsesPricesAndExpectedOutput() {
        let e = Self.engine([], defaults: PolicyDefaults(expectedOutputTokens: 100, fallbackTargets: [.tier("frontier")]))
        let d = e.decision(for: RequestFeatures(model: "auto", promptTokens: 1000, maxTokens: 50))
        // gpt-4o: 1000 × $2.50/M + 50 × $10/M = $0.0025 + $0.0005 = 3000 µ$
        #expect(d.plan.first?.predictedCostMicros == 3000)
    }

    @Test func candidatesThatMissTheDeadlineAreSkipped() {
        let stats = BackendStatistics(upstreams: [
            "openai": .init(ttftMilliseconds: 900, tokensPerSecond: 50),
            "local": .init(ttftMilliseconds: 50, tokensPerSecond: 100, queueDepth: 0),
        ])
        let e = Self.engine([PolicyRule(name: "f", action: .route([.tier("frontier")], redact: false), fallback: [.tier("local")])],
                            defaults: PolicyDefaults(expectedOutputTokens: 50))
        let d = e.decision(for: RequestFeatures(model: "auto", headers: ["x-phigate-deadline-ms": "1500"]), statistics: stats)
        // openai: 900 + 50/50 s = 1900 ms > 1500 → skipped; anthropic has no statistics → kept; local 550 ms.
        #expect(backends(d) == ["anthropic", "local"])
        #expect(d.explanation.candidates.first { $0.backend == "openai" }?.skipped == "deadline")
        #expect(d.explanation.deadlineMilliseconds == 1500)

        let tight = e.decision(for: RequestFeatures(model: "auto", headers: ["x-phigate-deadline-ms": "100"]),
                               statistics: BackendStatistics(upstreams: stats.upstreams.merging(
                                   ["anthropic": .init(ttftMilliseconds: 800, tokensPerSecond: 80)]) { a, _ in a }))
        #expect(tight.routeHeader == "reject/503")
    }

    @Test func queueDepthDelaysTheLocalBackend() {
        let stats = BackendStatistics(upstreams: ["local": .init(ttftMilliseconds: 100, tokensPerSecond: 10, queueDepth: 2)])
        let p = stats.prediction(backend: "local", completionTokens: 10)
        // each queued request: 100 ms + 1 s of generation
        #expect(p?.ttft == 2300.0)
        #expect(p?.total == 3300.0)
    }

    @Test func explanationNeverCarriesValues() {
        let e = Self.engine([])
        let d = e.decision(for: RequestFeatures(model: "auto", piiFindings: [.usSSN: 1, .email: 2]))
        #expect(d.explanation.headerValue.contains("pii=email:2,us_ssn:1"))
        #expect(d.explanation.headerValue.contains("private=pii:us_ssn"))
    }
}

@Suite struct LiveStateTests {
    @Test func latencyRecorderReportsMedians() async {
        let r = LatencyRecorder(capacity: 3)
        for ttft in [100.0, 900, 200, 300] {
            await r.record(backend: "openai", ttftMilliseconds: ttft, totalMilliseconds: ttft + 1000, completionTokens: 51)
        }
        let s = await r.snapshot().upstreams["openai"]
        #expect(s?.ttftMilliseconds == 300)  // window keeps 900, 200, 300
        #expect(s?.tokensPerSecond == 51)
        #expect(s?.samples == 3)
    }

    @Test func localEngineStatisticsDriveThePrediction() async {
        let r = LatencyRecorder()
        await r.setEngineStatistics(backend: "local", queueDepth: 2, ttftMilliseconds: 40, perTokenMilliseconds: 25)
        let s = await r.snapshot()
        #expect(s.upstreams["local"]?.ttftMilliseconds == 40)
        #expect(s.upstreams["local"]?.tokensPerSecond == 40)
        // 100 tokens at 40/s = 2.5 s each; two requests ahead wait for theirs.
        let p = s.prediction(backend: "local", completionTokens: 100)
        let expectedTTFT: Double = 40 + 2 * (40 + 2500)
        #expect(p?.ttft == expectedTTFT)
        #expect(p?.total == expectedTTFT + 2500)
    }

    @Test func spendLedgerSeparatesScopesAndPeriods() async {
        let ledger = SpendLedger()
        let budgets = [
            BudgetRule(name: "k", scope: .key, period: .day, limitMicros: 10, onExhausted: .reject),
            BudgetRule(name: "t", scope: .tenant, period: .month, limitMicros: 10, onExhausted: .reject),
            BudgetRule(name: "g", scope: .global, period: .day, limitMicros: 10, onExhausted: .reject),
        ]
        let today = SpendPeriod(day: "2026-11-21", month: "2026-11")
        let tomorrow = SpendPeriod(day: "2026-11-22", month: "2026-11")
        await ledger.record(costMicros: 7, keyID: "a", tenant: "acme", period: today)
        await ledger.record(costMicros: 5, keyID: "b", tenant: "acme", period: tomorrow)
        let a = await ledger.state(for: budgets, keyID: "a", tenant: "acme", period: tomorrow)
        #expect(a.spentMicros == ["k": 0, "t": 12, "g": 5])
        #expect(a.exhausted(in: budgets).map(\.name) == ["t"])
    }
}
