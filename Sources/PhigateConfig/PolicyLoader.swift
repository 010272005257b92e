import Foundation
public import Routing
internal import Yams

/// A policy file read and checked, with the classifier and curve it refers to.
public struct LoadedPolicy: Sendable {
    public var policy: RoutingPolicy
    public var classifier: DifficultyClassifier?
    /// The curve the `auto` threshold was taken from, when the policy names one.
    public var curve: RoutingCurve?
    /// Built-in scanners plus the policy's custom patterns (compiled).
    public var scanner: PIIScanner
    public var file: String
}

/// Reads `policies/*.yaml`. Every problem names the file, the line, the key path and the expected form, e.g.
/// `policies/default.yaml:14: rules[2].when.deadline: expected a range like {max: 800}, found "soon"`.
public enum PolicyLoader {
    /// Loads `file`; `catalog` (from the gateway config) lets targets be checked against real tiers, backends
    /// and models. Classifier and curve paths are relative to the policy file's folder.
    public static func load(file: String, catalog: RoutingCatalog? = nil) throws(ConfigError) -> LoadedPolicy {
        let text: String
        do {
            text = try String(contentsOfFile: file, encoding: .utf8)
        } catch {
            throw ConfigError(file: file, path: "", message: "cannot read the file (\((error as NSError).localizedDescription))")
        }
        return try load(yaml: text, file: file, catalog: catalog)
    }

    public static func load(yaml: String, file: String, catalog: RoutingCatalog? = nil) throws(ConfigError) -> LoadedPolicy {
        let root: Node?
        do {
            root = try Yams.compose(yaml: yaml)
        } catch {
            throw ConfigError(file: file, path: "", message: "not valid YAML: \(error)")
        }
        guard let root else {
            throw ConfigError(file: file, path: "", message: "the file is empty (expected a mapping with a 'rules' key)")
        }
        let reader = ConfigReader(environment: ProcessInfo.processInfo.environment)
        let directory = (file as NSString).deletingLastPathComponent
        let decoder = PolicyDecoder(reader: reader, file: file, directory: directory, catalog: catalog)
        let decoded = decoder.decode(ConfigReader.Value(node: root, path: ""))
        guard let decoded, reader.issues.isEmpty else { throw ConfigError(file: file, issues: reader.issues) }
        return decoded
    }
}

struct PolicyDecoder {
    typealias Value = ConfigReader.Value
    let reader: ConfigReader
    let file: String
    let directory: String
    let catalog: RoutingCatalog?

    static let topKeys = ["name", "description", "owns", "privacy", "defaults", "auto", "budgets", "rules"]

    func decode(_ root: Value) -> LoadedPolicy? {
        guard let fields = reader.mapping(root, allowed: Self.topKeys) else { return nil }
        let fallbackName = ((file as NSString).lastPathComponent as NSString).deletingPathExtension
        let name = fields.optional("name").flatMap { reader.nonEmptyString($0) } ?? fallbackName
        _ = fields.optional("description").flatMap { reader.string($0) }
        var owned: Set<String> = ["auto"]
        if let value = fields.optional("owns") { owned.formUnion(strings(value, expected: "model names")) }
        let privacy = fields.optional("privacy").flatMap(privacyPolicy) ?? PrivacyPolicy()
        let defaults = fields.optional("defaults").flatMap(policyDefaults) ?? PolicyDefaults()
        var classifier: DifficultyClassifier?
        var curve: RoutingCurve?
        var auto = AutoRouting()
        if let value = fields.optional("auto"), let result = autoRouting(value) {
            (auto, classifier, curve) = result
        }
        var budgets: [BudgetRule] = []
        if let value = fields.optional("budgets"), let items = reader.sequence(value, expected: "budgets") {
            budgets = items.compactMap(budget)
            var seen: Set<String> = []
            for (item, rule) in zip(items, budgets) where !seen.insert(rule.name).inserted {
                reader.report(item, "duplicate budget name '\(rule.name)'")
            }
        }
        var rules: [PolicyRule] = []
        if let value = fields.required("rules", expected: "a list of rules"), let items = reader.sequence(value, expected: "rules") {
            rules = items.compactMap { rule($0, budgets: budgets) }
        }
        fields.finish(allowed: Self.topKeys)
        let scanner: PIIScanner
        do {
            scanner = try PIIScanner(customPatterns: privacy.customPatterns)
        } catch {
            reader.report("privacy.custom_patterns", line: nil, error.description)
            return nil
        }
        let policy = RoutingPolicy(
            name: name, ownedModels: owned, privacy: privacy, budgets: budgets, defaults: defaults, auto: auto, rules: rules)
        return LoadedPolicy(policy: policy, classifier: classifier, curve: curve, scanner: scanner, file: file)
    }

    // MARK: Sections

    static let privacyKeys = ["private_tenants", "private_keys", "local_only_pii", "redact_pii", "custom_patterns"]

    func privacyPolicy(_ value: Value) -> PrivacyPolicy? {
        guard let fields = reader.mapping(value, allowed: Self.privacyKeys) else { return nil }
        var p = PrivacyPolicy()
        var customNames: [String] = []
        if let v = fields.optional("custom_patterns"), let items = reader.sequence(v, expected: "patterns like {name: employee_id, regex: \"EMP-[0-9]{6}\"}") {
            for item in items {
                guard let f = reader.mapping(item, allowed: ["name", "regex"]) else { continue }
                let name = f.required("name", expected: "a pattern name").flatMap { reader.nonEmptyString($0) }
                let regexValue = f.required("regex", expected: "a regular expression")
                let regex = regexValue.flatMap { reader.nonEmptyString($0) }
                f.finish(allowed: ["name", "regex"])
                if let name, let regex, let regexValue {
                    if (try? NSRegularExpression(pattern: regex)) == nil {
                        reader.report(regexValue, "expected a valid regular expression, found \"\(regex.prefix(60))\"")
                    }
                    p.customPatterns.append(CustomPIIPattern(name: name, pattern: regex))
                    customNames.append(name)
                }
            }
        }
        if let v = fields.optional("private_tenants") { p.privateTenants = Set(strings(v, expected: "tenant names")) }
        if let v = fields.optional("private_keys") { p.privateKeys = Set(strings(v, expected: "key ids")) }
        if let v = fields.optional("local_only_pii") { p.localOnlyPII = Set(piiTypes(v, custom: customNames)) }
        if let v = fields.optional("redact_pii") { p.redactPII = Set(piiTypes(v, custom: customNames)) }
        fields.finish(allowed: Self.privacyKeys)
        return p
    }

    static let defaultsKeys = ["expected_output_tokens", "deadline", "route"]

    func policyDefaults(_ value: Value) -> PolicyDefaults? {
        guard let fields = reader.mapping(value, allowed: Self.defaultsKeys) else { return nil }
        var d = PolicyDefaults()
        if let v = fields.optional("expected_output_tokens"),
           let n = reader.int(v, in: 1...1_000_000, expected: "a token count from 1 to 1000000") {
            d.expectedOutputTokens = n
        }
        if let v = fields.optional("deadline"), let duration = reader.duration(v) {
            d.deadlineMilliseconds = Int(duration.components.seconds * 1000 + duration.components.attoseconds / 1_000_000_000_000_000)
        }
        if let v = fields.optional("route") { d.fallbackTargets = targets(v) }
        fields.finish(allowed: Self.defaultsKeys)
        return d
    }

    static let autoKeys = ["local", "frontier", "threshold", "quality", "max_cost_per_1k_requests", "lambda", "classifier", "curve"]

    func autoRouting(_ value: Value) -> (AutoRouting, DifficultyClassifier?, RoutingCurve?)? {
        guard let fields = reader.mapping(value, allowed: Self.autoKeys) else { return nil }
        var auto = AutoRouting()
        if let v = fields.optional("local").flatMap({ reader.nonEmptyString($0, expected: "a tier name") }) { auto.localTier = v }
        if let v = fields.optional("frontier").flatMap({ reader.nonEmptyString($0, expected: "a tier name") }) { auto.frontierTier = v }
        var targets: [(Value, OperatingTarget)] = []
        if let v = fields.optional("quality"), let x = number(v, in: 0...1, expected: "a share of frontier quality like 0.95") {
            targets.append((v, .quality(x)))
        }
        if let v = fields.optional("max_cost_per_1k_requests"), let x = number(v, in: 0...1e9, expected: "US dollars per 1,000 requests like 2.5") {
            targets.append((v, .maxCostPer1kRequests(x)))
        }
        if let v = fields.optional("lambda"), let x = number(v, in: 0...1e9, expected: "a cost weight like 0.1") {
            targets.append((v, .lambda(x)))
        }
        if targets.count > 1 {
            reader.report(targets[1].0, "expected only one of quality, max_cost_per_1k_requests, lambda")
        }
        auto.target = targets.first?.1
        let thresholdValue = fields.optional("threshold")
        if let v = thresholdValue, let x = number(v, in: 0...1, expected: "a score threshold from 0 to 1") { auto.threshold = x }
        var classifier: DifficultyClassifier?
        if let v = fields.optional("classifier"), let path = reader.nonEmptyString(v, expected: "a classifier model file") {
            let full = resolve(path)
            if let data = FileManager.default.contents(atPath: full) {
                do {
                    classifier = try DifficultyClassifier(jsonData: data)
                } catch {
                    reader.report(v, "cannot use the classifier model \(full): \(error)")
                }
            } else {
                reader.report(v, "expected a readable classifier model file, found no file at \(full)")
            }
        }
        var curve: RoutingCurve?
        let curveValue = fields.optional("curve")
        if let v = curveValue, let path = reader.nonEmptyString(v, expected: "a routing curve JSON file") {
            let full = resolve(path)
            if let data = FileManager.default.contents(atPath: full) {
                curve = Self.decodeCurve(data)
                if curve == nil {
                    reader.report(v, "expected a routing curve JSON file ({requests, points, pareto_front} or a classifier evaluation with evaluation.curve), found something else at \(full)")
                }
            } else {
                reader.report(v, "expected a readable routing curve file, found no file at \(full)")
            }
        }
        if let target = auto.target {
            if let curve, !curve.points.isEmpty {
                let point = curve.operatingPoint(for: target)
                auto.operatingPoint = point
                auto.threshold = point.point.threshold
                if let t = thresholdValue {
                    reader.report(t, "expected either threshold or an operating target with a curve, not both")
                }
            } else if thresholdValue == nil {
                reader.report(value.child("curve"), line: value.line,
                              "an operating target (\(target)) needs a curve file to take its threshold from (or give threshold)")
            }
        }
        fields.finish(allowed: Self.autoKeys)
        return (auto, classifier, curve)
    }

    static func decodeCurve(_ data: Data) -> RoutingCurve? {
        if let curve = try? JSONDecoder().decode(RoutingCurve.self, from: data) { return curve }
        struct Evaluation: Decodable { var evaluation: Inner; struct Inner: Decodable { var curve: RoutingCurve } }
        return (try? JSONDecoder().decode(Evaluation.self, from: data))?.evaluation.curve
    }

    static let budgetKeys = ["name", "scope", "period", "limit", "on_exhausted"]

    func budget(_ value: Value) -> BudgetRule? {
        guard let f = reader.mapping(value, allowed: Self.budgetKeys) else { return nil }
        let name = f.required("name", expected: "a budget name").flatMap { reader.nonEmptyString($0) }
        let scope = f.required("scope", expected: "key, tenant or global").flatMap { reader.choice($0, of: BudgetRule.Scope.self) }
        let period = f.required("period", expected: "day or month").flatMap { reader.choice($0, of: BudgetRule.Period.self) }
        let limit = f.required("limit", expected: "US dollars like 25.00").flatMap { v -> Int64? in
            guard let text = reader.string(v, expected: "US dollars like 25.00"),
                  let micros = ConfigReader.parseDecimal(text.trimmingCharacters(in: .whitespaces), scale: 1_000_000) else {
                reader.report(v, "expected US dollars like 25.00 (at most 6 decimals)")
                return nil
            }
            return micros
        }
        let onExhausted = f.optional("on_exhausted").flatMap { reader.choice($0, of: BudgetRule.Exhaustion.self) } ?? .reject
        f.finish(allowed: Self.budgetKeys)
        guard let name, let scope, let period, let limit else { return nil }
        return BudgetRule(name: name, scope: scope, period: period, limitMicros: limit, onExhausted: onExhausted)
    }

    // MARK: Rules

    static let ruleKeys = ["name", "when", "route", "route_auto", "cascade", "reject", "redact", "fallback"]
    static let actionKeys = ["route", "route_auto", "cascade", "reject"]
    static let whenKeys = [
        "model", "key", "tenant", "header", "private", "pii", "prompt_tokens", "max_tokens", "tools", "response_format",
        "difficulty", "deadline", "budget_exhausted",
    ]

    func rule(_ value: Value, budgets: [BudgetRule]) -> PolicyRule? {
        guard let f = reader.mapping(value, allowed: Self.ruleKeys) else { return nil }
        let index = value.path
        let name = f.optional("name").flatMap { reader.nonEmptyString($0) } ?? index
        var conditions: [RuleCondition] = []
        if let when = f.optional("when") { conditions = self.conditions(when, budgets: budgets) }
        let redact = f.optional("redact").flatMap { bool($0) } ?? false
        let present = Self.actionKeys.filter { f.keys.contains($0) }
        var action: RuleAction?
        if present.count != 1 {
            reader.report(value, present.isEmpty
                ? "expected one action: route, route_auto, cascade or reject"
                : "expected exactly one action, found \(present.joined(separator: " and "))")
        }
        if let v = f.optional("route") { action = .route(targets(v), redact: redact) }
        if let v = f.optional("route_auto") {
            if bool(v) == false { reader.report(v, "expected true (route with the difficulty classifier)") }
            action = .auto(redact: redact)
        }
        if let v = f.optional("cascade"), let c = cascade(v) { action = .cascade(c, redact: redact) }
        if let v = f.optional("reject"), let g = reader.mapping(v, allowed: ["status", "message"]) {
            let status = g.optional("status").flatMap { reader.int($0, in: 400...599, expected: "an HTTP status from 400 to 599") } ?? 403
            let message = g.required("message", expected: "the message the client sees").flatMap { reader.nonEmptyString($0) } ?? ""
            g.finish(allowed: ["status", "message"])
            action = .reject(status: status, message: message)
        }
        var fallback: [RouteTarget] = []
        if let v = f.optional("fallback") { fallback = targets(v) }
        f.finish(allowed: Self.ruleKeys)
        guard let action, present.count == 1 else { return nil }
        return PolicyRule(name: name, conditions: conditions, action: action, fallback: fallback)
    }

    func conditions(_ value: Value, budgets: [BudgetRule]) -> [RuleCondition] {
        guard let f = reader.mapping(value, allowed: Self.whenKeys) else { return [] }
        var out: [RuleCondition] = []
        if let v = f.optional("model") { out.append(.model(strings(v, expected: "model names"))) }
        if let v = f.optional("key") { out.append(.keyID(strings(v, expected: "key ids"))) }
        if let v = f.optional("tenant") { out.append(.tenant(strings(v, expected: "tenant names"))) }
        if let v = f.optional("header"), let headers = reader.mapping(v, allowed: ["<header-name>: <value> or \"*\""]) {
            for (name, valueNode) in headers.all {
                guard let text = reader.string(valueNode, expected: "a header value or \"*\" for any") else { continue }
                out.append(.header(name: name.lowercased(), value: text == "*" ? nil : text))
            }
        }
        if let v = f.optional("private"), let b = bool(v) { out.append(.isPrivate(b)) }
        if let v = f.optional("pii") {
            if v.node.scalar.map({ $0.string == "any" }) == true {
                out.append(.piiFound([]))
            } else {
                out.append(.piiFound(piiTypes(v, custom: nil)))
            }
        }
        if let v = f.optional("prompt_tokens"), let r = range(v, unit: "tokens") { out.append(.promptTokens(r)) }
        if let v = f.optional("max_tokens"), let r = range(v, unit: "tokens") { out.append(.maxTokens(r)) }
        if let v = f.optional("tools"), let b = bool(v) { out.append(.hasTools(b)) }
        if let v = f.optional("response_format"), let b = bool(v) { out.append(.hasResponseFormat(b)) }
        if let v = f.optional("difficulty"), let r = range(v, unit: "score") {
            if (r.min.map { $0 < 0 || $0 > 1 } ?? false) || (r.max.map { $0 < 0 || $0 > 1 } ?? false) {
                reader.report(v, "expected a score range within 0…1 like {max: 0.3}")
            }
            out.append(.difficulty(r))
        }
        if let v = f.optional("deadline"), let r = range(v, unit: "ms") { out.append(.deadline(r)) }
        if let v = f.optional("budget_exhausted") {
            if let b = v.node.scalar.flatMap({ Bool($0.string) }) {
                if b { out.append(.budgetExhausted(nil)) }
            } else if let name = reader.nonEmptyString(v, expected: "true or a budget name") {
                if !budgets.contains(where: { $0.name == name }) {
                    reader.report(v, "expected true or one of the budget names (\(budgets.map(\.name).joined(separator: ", "))), found \"\(name)\"")
                }
                out.append(.budgetExhausted(name))
            }
        }
        f.finish(allowed: Self.whenKeys)
        return out
    }

    static let cascadeKeys = ["min_mean_logprob", "min_token_logprob", "max_mean_entropy", "escalate_on_format_missing", "escalate_on_truncation"]

    func cascade(_ value: Value) -> CascadePolicy? {
        guard let f = reader.mapping(value, allowed: Self.cascadeKeys) else { return nil }
        let meanLogprob = f.optional("min_mean_logprob").flatMap { number($0, in: -1000...0, expected: "a log-probability ≤ 0 like -1.2") }
        let minLogprob = f.optional("min_token_logprob").flatMap { number($0, in: -1000...0, expected: "a log-probability ≤ 0 like -6") }
        let entropy = f.optional("max_mean_entropy").flatMap { number($0, in: 0...1000, expected: "an entropy ≥ 0 like 2.5") }
        let format = f.optional("escalate_on_format_missing").flatMap { bool($0) } ?? true
        let truncation = f.optional("escalate_on_truncation").flatMap { bool($0) } ?? true
        f.finish(allowed: Self.cascadeKeys)
        return CascadePolicy(
            minMeanLogprob: meanLogprob, minTokenLogprob: minLogprob, maxMeanEntropy: entropy,
            escalateOnFormatMissing: format, escalateOnTruncation: truncation)
    }

    // MARK: Values

    static let targetForm = #"targets like "tier:local", "model:gpt-4o" or "backend:openai""#

    func targets(_ value: Value) -> [RouteTarget] {
        let items: [Value]
        if value.node.scalar != nil {
            items = [value]
        } else if let list = reader.sequence(value, expected: Self.targetForm) {
            items = list
        } else {
            return []
        }
        var out: [RouteTarget] = []
        for item in items {
            guard let text = reader.nonEmptyString(item, expected: Self.targetForm) else { continue }
            let parts = text.split(separator: ":", maxSplits: 1).map(String.init)
            let target: RouteTarget?
            switch (parts.first, parts.count) {
            case ("tier", 2): target = .tier(parts[1])
            case ("model", 2): target = .model(parts[1])
            case ("backend", 2): target = .backend(parts[1])
            default: target = nil
            }
            guard let target else {
                reader.report(item, "expected \(Self.targetForm), found \"\(text.prefix(60))\"")
                continue
            }
            if let catalog, let problem = catalog.problems(with: target) { reader.report(item, problem) }
            out.append(target)
        }
        if out.isEmpty && !items.isEmpty { return out }
        if items.isEmpty { reader.report(value, "expected at least one of \(Self.targetForm)") }
        return out
    }

    func strings(_ value: Value, expected: String) -> [String] {
        if value.node.scalar != nil { return reader.nonEmptyString(value, expected: "a list of \(expected)").map { [$0] } ?? [] }
        return reader.sequence(value, expected: expected)?.compactMap { reader.nonEmptyString($0) } ?? []
    }

    func piiTypes(_ value: Value, custom: [String]?) -> [PIIType] {
        let names = (PIIType.builtIn.map(\.rawValue) + ["custom:<name>"]).joined(separator: ", ")
        let items: [Value] = value.node.scalar != nil ? [value] : (reader.sequence(value, expected: "PII types (\(names))") ?? [])
        var out: [PIIType] = []
        for item in items {
            guard let text = reader.nonEmptyString(item, expected: "a PII type (\(names))") else { continue }
            guard let type = PIIType(policyName: text) else {
                reader.report(item, "expected a PII type (\(names)), found \"\(text.prefix(60))\"")
                continue
            }
            if let custom, type.rawValue.hasPrefix("custom:"), !custom.contains(String(type.rawValue.dropFirst(7))) {
                reader.report(item, "expected a custom pattern named in privacy.custom_patterns, found \"\(text)\"")
            }
            out.append(type)
        }
        return out
    }

    func bool(_ value: Value) -> Bool? {
        guard let text = reader.string(value, expected: "true or false") else { return nil }
        switch text.lowercased() {
        case "true", "yes", "on": return true
        case "false", "no", "off": return false
        default:
            reader.report(value, "expected true or false, found \"\(text.prefix(60))\"")
            return nil
        }
    }

    func number(_ value: Value, in range: ClosedRange<Double>, expected: String) -> Double? {
        guard let text = reader.string(value, expected: expected) else { return nil }
        guard let x = Double(text.trimmingCharacters(in: .whitespaces)), x.isFinite, range.contains(x) else {
            reader.report(value, "expected \(expected), found \"\(text.prefix(60))\"")
            return nil
        }
        return x
    }

    func range(_ value: Value, unit: String) -> NumericRange? {
        let form = "a range like {min: 1, max: 2000} (\(unit))"
        guard let f = reader.mapping(value, allowed: ["min", "max"]) else { return nil }
        let lower = f.optional("min").flatMap { number($0, in: -1e12...1e12, expected: form) }
        let upper = f.optional("max").flatMap { number($0, in: -1e12...1e12, expected: form) }
        f.finish(allowed: ["min", "max"])
        if lower == nil && upper == nil { reader.report(value, "expected \(form), found neither min nor max") }
        if let lower, let upper, lower > upper { reader.report(value, "expected min ≤ max, found \(lower) > \(upper)") }
        return NumericRange(min: lower, max: upper)
    }

    func resolve(_ path: String) -> String {
        path.hasPrefix("/") || directory.isEmpty ? path : (directory as NSString).appendingPathComponent(path)
    }
}
