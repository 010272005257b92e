/// `shadow:` — shadow evaluation. For a share of routed requests answered locally (and optionally of those
/// answered remotely) the other tier is asked too, and a judge model scores both answers; the scores are logged
/// as feedback with source `shadow`, which `phigate tune` turns into the quality-vs-cost curve. Private requests
/// and requests with PII findings are never shadowed. Shadow calls spend their own daily budget.
public struct ShadowConfig: Sendable, Hashable {
    /// `enabled` (default true): off keeps the block without shadowing anything.
    public var isEnabled: Bool
    /// `local_share`: share (0–1) of requests answered locally that `remote_model` answers too.
    public var localShare: Double
    /// `remote_share`: share (0–1) of requests answered remotely that `local_model` answers too (default 0).
    public var remoteShare: Double
    /// `remote_model`: the remote served model asked for the other answer when the local tier answered.
    public var remoteModel: String?
    /// `local_model`: the local served model asked when the remote tier answered.
    public var localModel: String?
    /// `judge_model`: the served model that scores both answers.
    public var judgeModel: String
    /// `budget_usd_per_day`: what other-tier and judge calls may cost per UTC day, in micro-dollars.
    public var budgetMicrosPerDay: Int64
    /// `max_concurrency`: evaluations running at once (default 1).
    public var maxConcurrency: Int
    /// `queue_size`: requests waiting for evaluation; beyond it offers are dropped and counted (default 100).
    public var queueSize: Int

    public init(
        isEnabled: Bool = true, localShare: Double = 0, remoteShare: Double = 0, remoteModel: String? = nil,
        localModel: String? = nil, judgeModel: String, budgetMicrosPerDay: Int64, maxConcurrency: Int = 1,
        queueSize: Int = 100
    ) {
        self.isEnabled = isEnabled
        self.localShare = localShare
        self.remoteShare = remoteShare
        self.remoteModel = remoteModel
        self.localModel = localModel
        self.judgeModel = judgeModel
        self.budgetMicrosPerDay = budgetMicrosPerDay
        self.maxConcurrency = maxConcurrency
        self.queueSize = queueSize
    }
}

extension GatewayConfigDecoder {
    static let shadowKeys = [
        "enabled", "local_share", "remote_share", "remote_model", "local_model", "judge_model", "budget_usd_per_day",
        "max_concurrency", "queue_size",
    ]

    /// `shadow: {local_share: 0.05, remote_model: gpt-4o, judge_model: gpt-4o, budget_usd_per_day: 2.00}`
    func shadow(_ value: Value) -> ShadowConfig? {
        guard let fields = reader.mapping(value, allowed: Self.shadowKeys) else { return nil }
        var isEnabled = true
        if let flag = fields.optional("enabled") {
            switch reader.string(flag, expected: "true or false")?.lowercased() {
            case "true"?: isEnabled = true
            case "false"?: isEnabled = false
            case let other?: reader.report(flag, "expected true or false, found \"\(other.prefix(60))\"")
            case nil: break
            }
        }
        let localShare = fields.optional("local_share").flatMap(share) ?? 0
        let remoteShare = fields.optional("remote_share").flatMap(share) ?? 0
        let remoteModel = fields.optional("remote_model").flatMap { reader.nonEmptyString($0, expected: "a served model name") }
        let localModel = fields.optional("local_model").flatMap { reader.nonEmptyString($0, expected: "a served model name") }
        let judge = fields.required("judge_model", expected: "a served model name")
            .flatMap { reader.nonEmptyString($0, expected: "a served model name") }
        let budget = fields.required("budget_usd_per_day", expected: "US dollars per day like 2.50")
            .flatMap(reader.priceMicros)
        let concurrency = fields.optional("max_concurrency").flatMap {
            reader.int($0, in: 1...64, expected: "a number of evaluations from 1 to 64")
        } ?? 1
        let queueSize = fields.optional("queue_size").flatMap {
            reader.int($0, in: 1...100_000, expected: "a number of requests from 1")
        } ?? 100
        fields.finish(allowed: Self.shadowKeys)
        guard let judge, let budget else { return nil }
        return ShadowConfig(
            isEnabled: isEnabled, localShare: localShare, remoteShare: remoteShare, remoteModel: remoteModel,
            localModel: localModel, judgeModel: judge, budgetMicrosPerDay: budget, maxConcurrency: concurrency,
            queueSize: queueSize)
    }

    /// A share from 0 to 1 (`0.05`).
    private func share(_ value: Value) -> Double? {
        guard let text = reader.string(value, expected: "a share from 0 to 1 like 0.05") else { return nil }
        guard let x = Double(text.trimmingCharacters(in: .whitespaces)), x.isFinite, (0...1).contains(x) else {
            reader.report(value, "expected a share from 0 to 1 like 0.05, found \"\(text.prefix(60))\"")
            return nil
        }
        return x
    }
}

extension ConfigValidator {
    /// Shadow models must be served models; the one asked for the other answer must sit in the other tier.
    static func shadowIssues(in config: GatewayConfig) -> [ConfigError.Issue] {
        guard let shadow = config.shadow else { return [] }
        var backendOf: [String: String] = [:]
        for backend in config.backends {
            for model in backend.models where backendOf[model.name] == nil { backendOf[model.name] = backend.name }
        }
        let tiers = ServingTiers(config: config)
        var issues: [ConfigError.Issue] = []
        func check(_ model: String?, key: String, requiredBy share: Double, shareKey: String, isLocal: Bool?) {
            guard let model else {
                if share > 0 {
                    issues.append(.init(path: "shadow.\(key)", message: "missing required key (\(shareKey) is above 0)"))
                }
                return
            }
            guard let backend = backendOf[model] else {
                let served = backendOf.keys.sorted().prefix(12).joined(separator: ", ")
                issues.append(.init(path: "shadow.\(key)", message: "expected a served model name, found '\(model)' (served: \(served))"))
                return
            }
            if let isLocal, tiers.isLocal(backend: backend, model: model) != isLocal {
                let expected = isLocal ? "a local model (a backend in routing.tiers.local)" : "a remote model (not in routing.tiers.local)"
                issues.append(.init(path: "shadow.\(key)", message: "expected \(expected), found '\(model)' on backend '\(backend)'"))
            }
        }
        check(shadow.remoteModel, key: "remote_model", requiredBy: shadow.localShare, shareKey: "local_share", isLocal: false)
        check(shadow.localModel, key: "local_model", requiredBy: shadow.remoteShare, shareKey: "remote_share", isLocal: true)
        check(shadow.judgeModel, key: "judge_model", requiredBy: 1, shareKey: "", isLocal: nil)
        return issues
    }
}
