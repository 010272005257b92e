/// A routing policy (`policies/*.yaml`): privacy rules, budgets, defaults and ordered rules.
///
/// Pure data: `PolicyEngine` turns it, with request features, live statistics and budget state, into a
/// `RouteDecision`. Loaded and validated by `PhigateConfig.PolicyLoader`.
public struct RoutingPolicy: Sendable, Hashable {
    /// The policy's name (its file name without extension unless stated).
    public var name: String
    /// Model names the policy owns: requests for them go through the decision (`auto` always does).
    public var ownedModels: Set<String>
    public var privacy: PrivacyPolicy
    public var budgets: [BudgetRule]
    public var defaults: PolicyDefaults
    /// How `route_auto` picks between the local and frontier tiers.
    public var auto: AutoRouting
    /// Tried in order; the first whose conditions all hold fires.
    public var rules: [PolicyRule]

    public init(
        name: String, ownedModels: Set<String> = ["auto"], privacy: PrivacyPolicy = PrivacyPolicy(),
        budgets: [BudgetRule] = [], defaults: PolicyDefaults = PolicyDefaults(), auto: AutoRouting = AutoRouting(),
        rules: [PolicyRule]
    ) {
        self.name = name
        self.ownedModels = ownedModels.union(["auto"])
        self.privacy = privacy
        self.budgets = budgets
        self.defaults = defaults
        self.auto = auto
        self.rules = rules
    }

    /// Whether a request for `model` goes through the policy.
    public func owns(model: String) -> Bool { ownedModels.contains(model) }
}

/// `privacy:` — what makes a request private (never sent to a remote backend).
public struct PrivacyPolicy: Sendable, Hashable {
    /// Tenants whose requests are always private.
    public var privateTenants: Set<String>
    /// Gateway key ids whose requests are always private.
    public var privateKeys: Set<String>
    /// PII types that make a request private when found in its messages.
    public var localOnlyPII: Set<PIIType>
    /// PII types replaced by placeholders before a remote call when a rule says `redact: true`.
    public var redactPII: Set<PIIType>
    /// Extra patterns (regular expressions), reported as `custom:<name>`.
    public var customPatterns: [CustomPIIPattern]

    public init(
        privateTenants: Set<String> = [], privateKeys: Set<String> = [], localOnlyPII: Set<PIIType> = [],
        redactPII: Set<PIIType> = Set(PIIType.builtIn), customPatterns: [CustomPIIPattern] = []
    ) {
        self.privateTenants = privateTenants
        self.privateKeys = privateKeys
        self.localOnlyPII = localOnlyPII
        self.redactPII = redactPII
        self.customPatterns = customPatterns
    }

    /// The header a client sets to `local-only` to keep a request on the machine.
    public static let header = "x-phigate-privacy"
    public static let localOnlyValue = "local-only"

    /// Whether a privacy header value (repeated fields combined with ", ") asks for local-only: any element does,
    /// case-insensitively. A second field must not undo the first (`local-only, remote` stays private).
    public static func isLocalOnly(_ headerValue: String?) -> Bool {
        guard let headerValue else { return false }
        return HeaderList.contains(headerValue, localOnlyValue)
    }
}

/// A header value as a comma-separated list (RFC 9110 §5.3: repeated fields are combined with ", ").
public enum HeaderList {
    /// The elements, without the spaces and tabs around them (empty ones kept).
    public static func elements(_ list: String) -> [Substring] {
        list.split(separator: ",", omittingEmptySubsequences: false).map { element in
            var trimmed = element
            while let first = trimmed.first, first == " " || first == "\t" { trimmed.removeFirst() }
            while let last = trimmed.last, last == " " || last == "\t" { trimmed.removeLast() }
            return trimmed
        }
    }

    /// Whether any element equals `value` ignoring case.
    public static func contains(_ list: String, _ value: String) -> Bool {
        let wanted = value.lowercased()
        return elements(list).contains { $0.lowercased() == wanted }
    }
}

/// A named regular expression from the policy.
public struct CustomPIIPattern: Sendable, Hashable {
    public var name: String
    public var pattern: String
    public init(name: String, pattern: String) {
        self.name = name
        self.pattern = pattern
    }
}

/// `defaults:`.
public struct PolicyDefaults: Sendable, Hashable {
    /// Expected completion tokens when predicting cost and time: min(max_tokens, this).
    public var expectedOutputTokens: Int
    /// Deadline when the request has no `x-phigate-deadline-ms` header.
    public var deadlineMilliseconds: Int?
    /// Rule used when no rule fires: route to these targets.
    public var fallbackTargets: [RouteTarget]

    public init(expectedOutputTokens: Int = 256, deadlineMilliseconds: Int? = nil, fallbackTargets: [RouteTarget] = []) {
        self.expectedOutputTokens = expectedOutputTokens
        self.deadlineMilliseconds = deadlineMilliseconds
        self.fallbackTargets = fallbackTargets
    }

    public static let deadlineHeader = "x-phigate-deadline-ms"
}

/// `auto:` — the classifier's operating point and the two tiers it chooses between.
public struct AutoRouting: Sendable, Hashable {
    public var localTier: String
    public var frontierTier: String
    /// The operator's target as written in the policy (for the explanation).
    public var target: OperatingTarget?
    /// Send to the frontier when the difficulty score (probability that local is as good) is below this.
    public var threshold: Double
    /// The point of the curve the threshold came from, when a curve was given.
    public var operatingPoint: OperatingPoint?

    public init(
        localTier: String = "local", frontierTier: String = "frontier", target: OperatingTarget? = nil,
        threshold: Double = 0.5, operatingPoint: OperatingPoint? = nil
    ) {
        self.localTier = localTier
        self.frontierTier = frontierTier
        self.target = target
        self.threshold = threshold
        self.operatingPoint = operatingPoint
    }
}

/// A budget (`budgets[i]`): a spend limit per key, tenant or the whole gateway, per day or month.
public struct BudgetRule: Sendable, Hashable {
    public enum Scope: String, Sendable, Hashable, CaseIterable { case key, tenant, global }
    public enum Period: String, Sendable, Hashable, CaseIterable { case day, month }
    public enum Exhaustion: String, Sendable, Hashable, CaseIterable {
        /// Drop remote candidates; 429 when nothing local is left.
        case downgrade = "downgrade_local"
        /// 429 naming the budget whenever a remote backend would be used.
        case reject
    }

    public var name: String
    public var scope: Scope
    public var period: Period
    public var limitMicros: Int64
    public var onExhausted: Exhaustion

    public init(name: String, scope: Scope, period: Period, limitMicros: Int64, onExhausted: Exhaustion) {
        self.name = name
        self.scope = scope
        self.period = period
        self.limitMicros = limitMicros
        self.onExhausted = onExhausted
    }
}

/// `rules[i]`.
public struct PolicyRule: Sendable, Hashable {
    public var name: String
    /// All must hold (an empty list always holds).
    public var conditions: [RuleCondition]
    public var action: RuleAction
    /// Tried in order when the action's targets fail or cannot meet the deadline.
    public var fallback: [RouteTarget]

    public init(name: String, conditions: [RuleCondition] = [], action: RuleAction, fallback: [RouteTarget] = []) {
        self.name = name
        self.conditions = conditions
        self.action = action
        self.fallback = fallback
    }
}

/// An inclusive range with optional ends.
public struct NumericRange: Sendable, Hashable, CustomStringConvertible {
    public var min: Double?
    public var max: Double?
    public init(min: Double? = nil, max: Double? = nil) {
        self.min = min
        self.max = max
    }
    public func contains(_ value: Double) -> Bool {
        (min.map { value >= $0 } ?? true) && (max.map { value <= $0 } ?? true)
    }
    public var description: String {
        "[\(min.map { "\($0)" } ?? "-∞"), \(max.map { "\($0)" } ?? "∞")]"
    }
}

/// One condition of a rule.
public enum RuleCondition: Sendable, Hashable {
    /// The requested model is one of these (`auto` included).
    case model([String])
    case keyID([String])
    case tenant([String])
    /// Header present (nil value) or equal to value (case-insensitive); names lowercase.
    case header(name: String, value: String?)
    case isPrivate(Bool)
    /// Any PII of these types found (an empty list: any PII at all).
    case piiFound([PIIType])
    case promptTokens(NumericRange)
    case maxTokens(NumericRange)
    case hasTools(Bool)
    case hasResponseFormat(Bool)
    /// Difficulty score (probability that the local answer is as good) within the range.
    case difficulty(NumericRange)
    /// The request has a deadline within the range (milliseconds); no deadline never matches.
    case deadline(NumericRange)
    /// Any budget (or the named one) is spent.
    case budgetExhausted(String?)
}

/// Where to send: a named served model, a backend (all its models' first), or a tier.
public enum RouteTarget: Sendable, Hashable, CustomStringConvertible {
    case model(String)
    case backend(String)
    case tier(String)

    public var description: String {
        switch self {
        case .model(let m): "model:\(m)"
        case .backend(let b): "backend:\(b)"
        case .tier(let t): "tier:\(t)"
        }
    }
}

/// What a rule does.
public enum RuleAction: Sendable, Hashable {
    /// Send to the first target that can serve; `redact` replaces PII with placeholders before a remote call.
    case route([RouteTarget], redact: Bool)
    /// Classifier on the Pareto front: local tier when score ≥ threshold, else the frontier tier.
    case auto(redact: Bool)
    /// Answer locally; escalate to the frontier when the local answer looks weak (`CascadePolicy`).
    case cascade(CascadePolicy, redact: Bool)
    case reject(status: Int, message: String)

    public var name: String {
        switch self {
        case .route: "route"
        case .auto: "route_auto"
        case .cascade: "cascade"
        case .reject: "reject"
        }
    }
}
