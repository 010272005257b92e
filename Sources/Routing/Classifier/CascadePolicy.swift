/// What the local model's finished (or held-back) answer tells for free, for a cascade decision.
public struct CascadeSignals: Sendable, Hashable, Codable {
    /// Mean log-probability of the sampled tokens.
    public var meanLogprob: Double?
    /// Lowest log-probability of a sampled token.
    public var minLogprob: Double?
    /// Mean entropy (nats) of the next-token distributions.
    public var meanEntropy: Double?
    /// A required format (JSON, a final answer line) was asked for and not produced.
    public var isRequiredFormatMissing: Bool
    /// Generation stopped at the token limit.
    public var isTruncated: Bool

    public init(
        meanLogprob: Double? = nil, minLogprob: Double? = nil, meanEntropy: Double? = nil,
        isRequiredFormatMissing: Bool = false, isTruncated: Bool = false
    ) {
        self.meanLogprob = meanLogprob
        self.minLogprob = minLogprob
        self.meanEntropy = meanEntropy
        self.isRequiredFormatMissing = isRequiredFormatMissing
        self.isTruncated = isTruncated
    }
}

/// Why a local answer is escalated.
public enum CascadeReason: String, Sendable, Hashable, Codable, CaseIterable {
    case lowMeanLogprob = "low_mean_logprob"
    case lowMinLogprob = "low_min_logprob"
    case highEntropy = "high_entropy"
    case formatMissing = "format_missing"
    case truncated
}

/// Accept the local answer or escalate it to the frontier.
public enum CascadeDecision: Sendable, Hashable, Codable {
    case accept
    case escalate([CascadeReason])

    public var isEscalation: Bool {
        if case .escalate = self { return true }
        return false
    }
}

/// Thresholds of a cascade: escalate when any enabled check fails. A missing signal never escalates by itself
/// (the backend may not report it).
public struct CascadePolicy: Sendable, Hashable, Codable {
    public var minMeanLogprob: Double?
    public var minTokenLogprob: Double?
    public var maxMeanEntropy: Double?
    public var escalateOnFormatMissing: Bool
    public var escalateOnTruncation: Bool

    enum CodingKeys: String, CodingKey {
        case minMeanLogprob = "min_mean_logprob"
        case minTokenLogprob = "min_token_logprob"
        case maxMeanEntropy = "max_mean_entropy"
        case escalateOnFormatMissing = "escalate_on_format_missing"
        case escalateOnTruncation = "escalate_on_truncation"
    }

    public init(
        minMeanLogprob: Double? = nil, minTokenLogprob: Double? = nil, maxMeanEntropy: Double? = nil,
        escalateOnFormatMissing: Bool = true, escalateOnTruncation: Bool = true
    ) {
        self.minMeanLogprob = minMeanLogprob
        self.minTokenLogprob = minTokenLogprob
        self.maxMeanEntropy = maxMeanEntropy
        self.escalateOnFormatMissing = escalateOnFormatMissing
        self.escalateOnTruncation = escalateOnTruncation
    }

    /// The format-failure cascade replayed on the shared data (`answer_parsed`).
    public static let formatOnly = CascadePolicy(escalateOnFormatMissing: true, escalateOnTruncation: false)

    public func decision(for signals: CascadeSignals) -> CascadeDecision {
        var reasons: [CascadeReason] = []
        if let limit = minMeanLogprob, let v = signals.meanLogprob, v < limit { reasons.append(.lowMeanLogprob) }
        if let limit = minTokenLogprob, let v = signals.minLogprob, v < limit { reasons.append(.lowMinLogprob) }
        if let limit = maxMeanEntropy, let v = signals.meanEntropy, v > limit { reasons.append(.highEntropy) }
        if escalateOnFormatMissing && signals.isRequiredFormatMissing { reasons.append(.formatMissing) }
        if escalateOnTruncation && signals.isTruncated { reasons.append(.truncated) }
        return reasons.isEmpty ? .accept : .escalate(reasons)
    }
}
