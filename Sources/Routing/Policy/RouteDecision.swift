/// One candidate of a decision with its predictions.
public struct RouteCandidate: Sendable, Hashable, Codable {
    public var model: String
    public var backend: String
    public var isLocal: Bool
    public var predictedCostMicros: Int64
    /// Predicted time to first token / total, milliseconds (nil: no statistics yet).
    public var predictedTTFTMilliseconds: Double?
    public var predictedTotalMilliseconds: Double?
    /// Why it was left out (`private`, `deadline`, `budget`, `context_length`); nil when kept.
    public var skipped: String?

    enum CodingKeys: String, CodingKey {
        case model, backend, skipped
        case isLocal = "local"
        case predictedCostMicros = "predicted_cost_micros"
        case predictedTTFTMilliseconds = "predicted_ttft_ms"
        case predictedTotalMilliseconds = "predicted_total_ms"
    }
}

/// Why a decision came out as it did: kept for headers and the outcome log. Privacy findings are types and
/// counts only, never values.
public struct RouteExplanation: Sendable, Hashable, Codable {
    public var policy: String
    /// The rule that fired (`default` when none did).
    public var rule: String
    public var action: String
    public var isPrivate: Bool
    /// Why it is private: `header`, `tenant`, `key`, `pii:<type>`.
    public var privacyReasons: [String]
    public var piiFindings: [String: Int]
    public var difficultyScore: Double?
    public var threshold: Double?
    public var operatingTarget: String?
    public var deadlineMilliseconds: Int?
    public var exhaustedBudgets: [String]
    public var redacted: Bool
    /// In the order considered: the chosen one first among those not skipped.
    public var candidates: [RouteCandidate]

    enum CodingKeys: String, CodingKey {
        case policy, rule, action, candidates, redacted, threshold
        case isPrivate = "private"
        case privacyReasons = "privacy_reasons"
        case piiFindings = "pii_findings"
        case difficultyScore = "difficulty_score"
        case operatingTarget = "operating_target"
        case deadlineMilliseconds = "deadline_ms"
        case exhaustedBudgets = "exhausted_budgets"
    }

    /// The `x-phigate-reason` header: `rule=…; action=…; private=…; pii=email:1; score=0.62<0.55; …`.
    public var headerValue: String {
        var parts = ["policy=\(policy)", "rule=\(rule)", "action=\(action)"]
        if isPrivate { parts.append("private=\(privacyReasons.joined(separator: ","))") }
        if !piiFindings.isEmpty {
            parts.append("pii=" + piiFindings.sorted { $0.key < $1.key }.map { "\($0.key):\($0.value)" }.joined(separator: ","))
        }
        if let score = difficultyScore {
            parts.append("score=\(Self.format(score))" + (threshold.map { " threshold=\(Self.format($0))" } ?? ""))
        }
        if let deadline = deadlineMilliseconds { parts.append("deadline_ms=\(deadline)") }
        if !exhaustedBudgets.isEmpty { parts.append("budget_exhausted=\(exhaustedBudgets.joined(separator: ","))") }
        if redacted { parts.append("redacted") }
        let skipped = candidates.filter { $0.skipped != nil }.map { "\($0.backend)/\($0.model):\($0.skipped ?? "")" }
        if !skipped.isEmpty { parts.append("skipped=\(skipped.joined(separator: ","))") }
        return parts.joined(separator: "; ")
    }

    public static func format(_ x: Double) -> String {
        let scaled = (x * 1000).rounded() / 1000
        return "\(scaled)"
    }
}

/// The outcome of a decision.
public struct RouteDecision: Sendable, Hashable {
    public enum Outcome: Sendable, Hashable {
        /// Try `plan` in order (first = primary, the rest = fallbacks; privacy-filtered already).
        case route(plan: [RouteCandidate], redact: Bool, cascade: CascadePolicy?)
        /// Answer with this status (400/403/429/503) and message.
        case reject(status: Int, code: String, message: String)
    }

    public var outcome: Outcome
    public var explanation: RouteExplanation

    /// The `x-phigate-route` header: `backend/model` of the primary, or `reject`.
    public var routeHeader: String {
        switch outcome {
        case .route(let plan, _, _): plan.first.map { "\($0.backend)/\($0.model)" } ?? "none"
        case .reject(let status, _, _): "reject/\(status)"
        }
    }

    public var plan: [RouteCandidate] {
        if case .route(let plan, _, _) = outcome { return plan }
        return []
    }
}
