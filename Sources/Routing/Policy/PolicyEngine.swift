/// Turns a policy, request features, live statistics and budget state into a decision. Pure: no I/O, no
/// clock; the difficulty classifier (pure too) scores the request only when a rule needs the score.
public struct PolicyEngine: Sendable {
    public var policy: RoutingPolicy
    public var catalog: RoutingCatalog
    public var classifier: DifficultyClassifier?

    public init(policy: RoutingPolicy, catalog: RoutingCatalog, classifier: DifficultyClassifier? = nil) {
        self.policy = policy
        self.catalog = catalog
        self.classifier = classifier
    }

    /// Why a request is private (empty: it is not).
    public func privacyReasons(for features: RequestFeatures) -> [String] {
        var reasons: [String] = []
        if PrivacyPolicy.isLocalOnly(features.headers[PrivacyPolicy.header]) { reasons.append("header") }
        if let tenant = features.tenant, policy.privacy.privateTenants.contains(tenant) { reasons.append("tenant") }
        if let key = features.keyID, policy.privacy.privateKeys.contains(key) { reasons.append("key") }
        for type in features.piiFindings.keys.sorted() where policy.privacy.localOnlyPII.contains(type) {
            reasons.append("pii:\(type.rawValue)")
        }
        return reasons
    }

    public func decision(
        for features: RequestFeatures, statistics: BackendStatistics = BackendStatistics(),
        budgets: BudgetState = BudgetState()
    ) -> RouteDecision {
        let privacy = privacyReasons(for: features)
        let isPrivate = !privacy.isEmpty
        let exhausted = budgets.exhausted(in: policy.budgets)
        let deadline = features.headerDeadlineMilliseconds ?? policy.defaults.deadlineMilliseconds
        var score: Double?
        func difficulty() -> Double? {
            if score == nil, let classifier { score = classifier.score(features.classifierInput) }
            return score
        }

        var explanation = RouteExplanation(
            policy: policy.name, rule: "default", action: "route", isPrivate: isPrivate, privacyReasons: privacy,
            piiFindings: Dictionary(uniqueKeysWithValues: features.piiFindings.map { ($0.key.rawValue, $0.value) }),
            difficultyScore: nil, threshold: nil, operatingTarget: nil, deadlineMilliseconds: deadline,
            exhaustedBudgets: exhausted.map(\.name), redacted: false, candidates: [])

        // The first rule whose conditions all hold.
        var fired: PolicyRule?
        for rule in policy.rules where rule.conditions.allSatisfy({
            holds($0, features: features, isPrivate: isPrivate, exhausted: exhausted, deadline: deadline, difficulty: difficulty)
        }) {
            fired = rule
            break
        }
        let rule = fired ?? PolicyRule(name: "default", action: .route(policy.defaults.fallbackTargets, redact: false))
        explanation.rule = rule.name
        explanation.action = rule.action.name

        var targets: [RouteTarget]
        var redact = false
        var cascade: CascadePolicy?
        switch rule.action {
        case .reject(let status, let message):
            explanation.difficultyScore = score
            return RouteDecision(outcome: .reject(status: status, code: "policy_rejected", message: message), explanation: explanation)
        case .route(let t, let r):
            targets = t
            redact = r
        case .auto(let r):
            redact = r
            explanation.threshold = policy.auto.threshold
            explanation.operatingTarget = policy.auto.target?.description
            if let s = difficulty() {
                targets = s >= policy.auto.threshold
                    ? [.tier(policy.auto.localTier), .tier(policy.auto.frontierTier)]
                    : [.tier(policy.auto.frontierTier), .tier(policy.auto.localTier)]
            } else {
                targets = [.tier(policy.auto.frontierTier), .tier(policy.auto.localTier)]
            }
        case .cascade(let c, let r):
            redact = r
            cascade = c
            targets = [.tier(policy.auto.localTier), .tier(policy.auto.frontierTier)]
        }
        explanation.difficultyScore = score
        targets += rule.fallback
        // "Downgrade to local" means the local tier answers even when the rule only named remote targets.
        if exhausted.contains(where: { $0.onExhausted == .downgrade }) {
            targets.append(.tier(policy.auto.localTier))
        }

        // Expand targets into candidates, then filter: privacy, budgets, context, deadline.
        let expected = min(features.maxTokens ?? policy.defaults.expectedOutputTokens, policy.defaults.expectedOutputTokens)
        var seen: Set<String> = []
        var candidates: [RouteCandidate] = []
        for target in targets {
            for entry in catalog.entries(for: target) where seen.insert("\(entry.backend)/\(entry.model)").inserted {
                let prediction = statistics.prediction(backend: entry.backend, completionTokens: expected)
                var candidate = RouteCandidate(
                    model: entry.model, backend: entry.backend, isLocal: entry.isLocal,
                    predictedCostMicros: entry.costMicros(promptTokens: features.promptTokens, completionTokens: expected),
                    predictedTTFTMilliseconds: prediction?.ttft, predictedTotalMilliseconds: prediction?.total, skipped: nil)
                if isPrivate && !entry.isLocal {
                    candidate.skipped = "private"
                } else if !entry.isLocal, let budget = exhausted.first(where: { $0.onExhausted == .downgrade }) {
                    candidate.skipped = "budget:\(budget.name)"
                } else if let context = entry.contextLength, features.promptTokens + expected > context {
                    candidate.skipped = "context_length"
                } else if let deadline, let total = prediction?.total, total > Double(deadline) {
                    candidate.skipped = "deadline"
                }
                candidates.append(candidate)
            }
        }
        explanation.candidates = candidates
        var plan = candidates.filter { $0.skipped == nil }
        // A spent budget whose policy is to reject: 429 when a remote backend would answer first; remote
        // fallbacks behind a local primary are dropped.
        if let budget = exhausted.first(where: { $0.onExhausted == .reject }), !plan.isEmpty {
            if let primary = plan.first, !primary.isLocal {
                return RouteDecision(
                    outcome: .reject(status: 429, code: "budget_exhausted", message: Self.budgetMessage(budget)),
                    explanation: explanation)
            }
            for i in explanation.candidates.indices where explanation.candidates[i].skipped == nil && !explanation.candidates[i].isLocal {
                explanation.candidates[i].skipped = "budget:\(budget.name)"
            }
            plan.removeAll { !$0.isLocal }
        }
        let hasRemote = plan.contains { !$0.isLocal }
        explanation.redacted = redact && hasRemote && !features.piiFindings.isEmpty

        guard !plan.isEmpty else {
            if isPrivate {
                return RouteDecision(
                    outcome: .reject(
                        status: 503, code: "private_request_no_local_backend",
                        message: "This request is private (\(privacy.joined(separator: ", "))) and must stay on this machine, but no local backend can serve it (rule '\(rule.name)')."),
                    explanation: explanation)
            }
            if let budget = exhausted.first, candidates.contains(where: { $0.skipped?.hasPrefix("budget:") == true }) {
                return RouteDecision(
                    outcome: .reject(status: 429, code: "budget_exhausted", message: Self.budgetMessage(budget)),
                    explanation: explanation)
            }
            if candidates.contains(where: { $0.skipped == "deadline" }) {
                return RouteDecision(
                    outcome: .reject(
                        status: 503, code: "deadline_unmeetable",
                        message: "No backend is predicted to answer within the deadline of \(deadline ?? 0) ms (rule '\(rule.name)')."),
                    explanation: explanation)
            }
            return RouteDecision(
                outcome: .reject(status: 503, code: "no_backend", message: "No backend can serve this request (rule '\(rule.name)')."),
                explanation: explanation)
        }
        return RouteDecision(outcome: .route(plan: plan, redact: explanation.redacted, cascade: cascade), explanation: explanation)
    }

    static func budgetMessage(_ budget: BudgetRule) -> String {
        let dollars = Double(budget.limitMicros) / 1_000_000
        return "Budget '\(budget.name)' (\(budget.scope.rawValue), per \(budget.period.rawValue), $\(dollars)) is spent."
    }

    func holds(
        _ condition: RuleCondition, features: RequestFeatures, isPrivate: Bool, exhausted: [BudgetRule], deadline: Int?,
        difficulty: () -> Double?
    ) -> Bool {
        switch condition {
        case .model(let names): return names.contains(features.model)
        case .keyID(let ids): return features.keyID.map(ids.contains) ?? false
        case .tenant(let names): return features.tenant.map(names.contains) ?? false
        case .header(let name, let value):
            guard let present = features.headers[name] else { return false }
            return value.map { HeaderList.contains(present, $0) } ?? true
        case .isPrivate(let expected): return isPrivate == expected
        case .piiFound(let types):
            return types.isEmpty ? !features.piiFindings.isEmpty : types.contains { features.piiFindings[$0, default: 0] > 0 }
        case .promptTokens(let range): return range.contains(Double(features.promptTokens))
        case .maxTokens(let range): return features.maxTokens.map { range.contains(Double($0)) } ?? false
        case .hasTools(let expected): return features.hasTools == expected
        case .hasResponseFormat(let expected): return features.hasResponseFormat == expected
        case .difficulty(let range): return difficulty().map(range.contains) ?? false
        case .deadline(let range): return deadline.map { range.contains(Double($0)) } ?? false
        case .budgetExhausted(let name):
            return name.map { n in exhausted.contains { $0.name == n } } ?? !exhausted.isEmpty
        }
    }
}
