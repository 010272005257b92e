public import Foundation
import OpenAIWire

/// One request's outcome as the gateway saw it: who asked, where it went and why, what it cost, how long it took.
/// The `request` table holds one row per value, keyed by the `x-request-id` the gateway returned.
public struct RequestOutcome: Sendable, Hashable {
    /// The `x-request-id` returned to the caller.
    public var id: String
    public var time: Date
    public var tenant: String?
    public var keyID: String?
    /// The model the caller asked for (`auto`, an alias or a served model name).
    public var requestedModel: String
    /// The backend that answered (or the last one tried); nil when the request never reached a backend.
    public var backend: String?
    public var model: String?
    /// Where the answer came from: the embedded model (`local`) or a remote API (`remote`).
    public var tier: OutcomeTier?
    /// The routing rule that fired.
    public var rule: String?
    /// The routing decision's explanation, as JSON (types of privacy findings only, never values).
    public var decisionJSON: String?
    public var difficultyScore: Double?
    public var difficultyThreshold: Double?
    /// Whether the request was private (header, tenant, key or PII): its text is never stored.
    public var isPrivate: Bool
    /// Types of privacy findings (`email`, `iban`, …), never the values.
    public var privacyFindings: [String]
    public var promptTokens: Int
    public var completionTokens: Int
    /// Cost in integer micro-dollars (1 USD = 1,000,000).
    public var costMicros: Int64
    /// Time to first token in milliseconds (first chunk for streams, whole answer otherwise).
    public var timeToFirstTokenMs: Double?
    public var totalTimeMs: Double
    public var tokensPerSecond: Double?
    /// The HTTP status returned to the caller.
    public var status: Int
    /// The OpenAI error code returned, if any.
    public var errorCode: String?
    /// Every backend tried in order, with the fault that ended each failed attempt (the fallback chain).
    public var attempts: [OutcomeAttempt]
    public var isStreamed: Bool
    /// Prompt text; kept only when the store is configured to keep text and the request is not private.
    public var promptText: String?
    /// Answer text; same rule as `promptText`.
    public var completionText: String?

    public init(
        id: String, time: Date, tenant: String? = nil, keyID: String? = nil, requestedModel: String,
        backend: String? = nil, model: String? = nil, tier: OutcomeTier? = nil, rule: String? = nil,
        decisionJSON: String? = nil, difficultyScore: Double? = nil, difficultyThreshold: Double? = nil,
        isPrivate: Bool = false, privacyFindings: [String] = [], promptTokens: Int = 0, completionTokens: Int = 0,
        costMicros: Int64 = 0, timeToFirstTokenMs: Double? = nil, totalTimeMs: Double = 0,
        tokensPerSecond: Double? = nil, status: Int = 200, errorCode: String? = nil,
        attempts: [OutcomeAttempt] = [], isStreamed: Bool = false, promptText: String? = nil,
        completionText: String? = nil
    ) {
        self.id = id
        self.time = time
        self.tenant = tenant
        self.keyID = keyID
        self.requestedModel = requestedModel
        self.backend = backend
        self.model = model
        self.tier = tier
        self.rule = rule
        self.decisionJSON = decisionJSON
        self.difficultyScore = difficultyScore
        self.difficultyThreshold = difficultyThreshold
        self.isPrivate = isPrivate
        self.privacyFindings = privacyFindings
        self.promptTokens = promptTokens
        self.completionTokens = completionTokens
        self.costMicros = costMicros
        self.timeToFirstTokenMs = timeToFirstTokenMs
        self.totalTimeMs = totalTimeMs
        self.tokensPerSecond = tokensPerSecond
        self.status = status
        self.errorCode = errorCode
        self.attempts = attempts
        self.isStreamed = isStreamed
        self.promptText = promptText
        self.completionText = completionText
    }

    /// More than one backend was tried.
    public var didFallBack: Bool { attempts.count > 1 }
}

/// Where an answer came from.
public enum OutcomeTier: String, Sendable, Hashable, Codable, CaseIterable {
    case local
    case remote
}

/// One backend call of a request's fallback chain.
public struct OutcomeAttempt: Sendable, Hashable, Codable {
    public var backend: String
    public var model: String
    /// Why this attempt failed (`timeout`, `status(503)`, …); nil for the attempt that answered.
    public var fault: String?

    public init(backend: String, model: String, fault: String? = nil) {
        self.backend = backend
        self.model = model
        self.fault = fault
    }

    /// The `attempts` column: a JSON array of `{"backend","fault"?,"model"}` objects (keys sorted, as `Codable`
    /// reads them back), written by hand because `JSONEncoder` cost more than the rest of a row's insert.
    static func json(_ attempts: [OutcomeAttempt]) -> String {
        var writer = JSONWriter(capacity: 64 * max(1, attempts.count))
        writer.beginArray()
        for attempt in attempts {
            writer.beginObject()
            writer.member("backend", attempt.backend)
            writer.member("fault", attempt.fault)
            writer.member("model", attempt.model)
            writer.endObject()
        }
        writer.endArray()
        return String(decoding: writer.bytes, as: UTF8.self)
    }
}

/// A quality label for one request's answer.
public struct OutcomeFeedback: Sendable, Hashable {
    public var requestID: String
    /// Quality in [0, 1].
    public var score: Double
    public var source: FeedbackSource
    /// The tier whose answer was scored; nil for the answer the caller got. Shadow evaluation scores both tiers.
    public var tier: OutcomeTier?
    public var comment: String?
    public var time: Date

    public init(
        requestID: String, score: Double, source: FeedbackSource, tier: OutcomeTier? = nil, comment: String? = nil,
        time: Date
    ) {
        self.requestID = requestID
        self.score = score
        self.source = source
        self.tier = tier
        self.comment = comment
        self.time = time
    }
}

/// Who produced a quality label.
public enum FeedbackSource: String, Sendable, Hashable, Codable, CaseIterable {
    case user
    case judge
    case shadow
}
