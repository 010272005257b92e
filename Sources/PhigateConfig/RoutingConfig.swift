public import Routing

/// `routing:` in the gateway configuration: which policy decides `auto` (and the aliases it owns), and which
/// backends form each tier. Backends in the tier named `local` run on this machine: the only ones a private
/// request may ever reach.
public struct RoutingConfig: Sendable, Hashable {
    /// The policy file (relative paths are taken from the working directory, like `database.path`).
    public var policyFile: String
    /// Tier name → members, each a served model name or a backend name (its first model).
    public var tiers: [String: [String]]
    /// How often the policy file's modification date is checked (`reload_interval`); zero: only on SIGHUP.
    public var reloadInterval: Duration

    public init(policyFile: String, tiers: [String: [String]] = [:], reloadInterval: Duration = .seconds(2)) {
        self.policyFile = policyFile
        self.tiers = tiers
        self.reloadInterval = reloadInterval
    }

    /// The tier that marks local backends.
    public static let localTier = "local"
}

extension RoutingConfig {
    /// The models a policy can route to: every served model, with prices and context, marked local when its
    /// backend is a `kind: local` backend or a member of the `local` tier (or the model itself is).
    public func catalog(for config: GatewayConfig) -> RoutingCatalog {
        let localMembers = Set(tiers[Self.localTier] ?? [])
        var entries: [RoutingCatalog.Entry] = []
        for backend in config.backends {
            for model in backend.models {
                entries.append(.init(
                    model: model.name, backend: backend.name,
                    isLocal: backend.kind == .local || localMembers.contains(backend.name) || localMembers.contains(model.name),
                    inputMicrosPerMillion: model.price.inputMicrosPerMillion,
                    outputMicrosPerMillion: model.price.outputMicrosPerMillion, contextLength: model.contextLength))
            }
        }
        return RoutingCatalog(entries: entries, tiers: tiers)
    }
}

extension GatewayConfigDecoder {
    static let routingKeys = ["policy", "tiers", "reload_interval"]

    /// `routing: {policy: policies/default.yaml, tiers: {local: [phi-local], frontier: [gpt-4o, claude-sonnet-4]}}`
    func routing(_ value: Value) -> RoutingConfig? {
        guard let fields = reader.mapping(value, allowed: Self.routingKeys) else { return nil }
        let policy = fields.required("policy", expected: "a policy file like policies/default.yaml")
            .flatMap { reader.nonEmptyString($0, expected: "a policy file like policies/default.yaml") }
        var tiers: [String: [String]] = [:]
        if let v = fields.optional("tiers"), let mapping = reader.mapping(v, allowed: ["<tier>: [backend or model names]"]) {
            for (tier, members) in mapping.all {
                if ConfigReader.isNull(members.node) {
                    tiers[tier] = []
                } else if let items = reader.sequence(members, expected: "backend or model names") {
                    tiers[tier] = items.compactMap { reader.nonEmptyString($0, expected: "a backend or model name") }
                }
            }
        }
        let interval = fields.optional("reload_interval").flatMap { reader.duration($0, allowsZero: true) } ?? .seconds(2)
        fields.finish(allowed: Self.routingKeys)
        return policy.map { RoutingConfig(policyFile: $0, tiers: tiers, reloadInterval: interval) }
    }
}

extension ConfigValidator {
    /// Tier members must name a configured backend or served model.
    static func routingIssues(in config: GatewayConfig) -> [ConfigError.Issue] {
        guard let routing = config.routing else { return [] }
        let backends = Set(config.backends.map(\.name))
        let models = Set(config.backends.flatMap { $0.models.map(\.name) })
        var issues: [ConfigError.Issue] = []
        // An HTTP backend in the local tier must be on this machine (e.g. a llama.cpp server on 127.0.0.1), or
        // private requests would leave it.
        for (i, member) in (routing.tiers[RoutingConfig.localTier] ?? []).enumerated() {
            let backend = config.backends.first { $0.name == member || $0.models.contains { $0.name == member } }
            if let backend, backend.kind.isRemote, !isLoopbackURL(backend.baseURL) {
                issues.append(.init(
                    path: "routing.tiers.\(RoutingConfig.localTier)[\(i)]",
                    message: "'\(member)' is served by backend '\(backend.name)' at \(backend.baseURL), which is not on this machine; "
                        + "the local tier may only hold kind: local backends or HTTP backends on a loopback address"))
            }
        }
        for tier in routing.tiers.keys.sorted() {
            for (i, member) in (routing.tiers[tier] ?? []).enumerated() where !backends.contains(member) && !models.contains(member) {
                issues.append(.init(path: "routing.tiers.\(tier)[\(i)]", message: "expected a backend or served model name, found '\(member)'"))
            }
        }
        return issues
    }
}

extension ConfigValidator {
    /// Whether an `http(s)://host[:port]/…` URL names this machine.
    static func isLoopbackURL(_ url: String) -> Bool {
        guard let schemeEnd = url.range(of: "://") else { return false }
        let rest = url[schemeEnd.upperBound...]
        let authority = rest.prefix { $0 != "/" }
        let host: Substring
        if authority.hasPrefix("[") {
            host = authority.prefix { $0 != "]" }.dropFirst()
        } else {
            host = authority.prefix { $0 != ":" }
        }
        return ServerConfig.isLoopback(host: String(host))
    }
}
