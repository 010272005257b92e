/// The models a decision can pick from, with what the policy needs to know about each (from the gateway
/// config's backends and `routing.tiers`).
public struct RoutingCatalog: Sendable, Hashable {
    /// One served model on one backend.
    public struct Entry: Sendable, Hashable {
        public var model: String
        public var backend: String
        /// Runs on this machine (a local tier backend): the only kind a private request may use.
        public var isLocal: Bool
        public var inputMicrosPerMillion: Int64
        public var outputMicrosPerMillion: Int64
        public var contextLength: Int?

        public init(
            model: String, backend: String, isLocal: Bool, inputMicrosPerMillion: Int64 = 0,
            outputMicrosPerMillion: Int64 = 0, contextLength: Int? = nil
        ) {
            self.model = model
            self.backend = backend
            self.isLocal = isLocal
            self.inputMicrosPerMillion = inputMicrosPerMillion
            self.outputMicrosPerMillion = outputMicrosPerMillion
            self.contextLength = contextLength
        }

        /// Predicted cost in micro-dollars (rounded half up once).
        public func costMicros(promptTokens: Int, completionTokens: Int) -> Int64 {
            let scaled = Int64(max(promptTokens, 0)) * inputMicrosPerMillion
                + Int64(max(completionTokens, 0)) * outputMicrosPerMillion
            return (scaled + 500_000) / 1_000_000
        }
    }

    /// Served models in configuration order.
    public var entries: [Entry]
    /// Tier name → members in preference order: a served model name, or a backend name (its first model).
    public var tiers: [String: [String]]

    public init(entries: [Entry], tiers: [String: [String]]) {
        self.entries = entries
        self.tiers = tiers
    }

    /// The entries a target names, in order (duplicates removed by the caller).
    public func entries(for target: RouteTarget) -> [Entry] {
        switch target {
        case .model(let name): entries.filter { $0.model == name }
        case .backend(let name): entries.filter { $0.backend == name }.prefix(1).map { $0 }
        case .tier(let tier):
            (tiers[tier] ?? []).flatMap { member in
                let models = entries.filter { $0.model == member }
                return models.isEmpty ? Array(entries.filter { $0.backend == member }.prefix(1)) : models
            }
        }
    }

    /// Problems with targets a policy names (unknown tiers, backends or models), for `policy check`.
    public func problems(with target: RouteTarget) -> String? {
        switch target {
        case .model(let name): entries.contains { $0.model == name } ? nil : "no backend serves model '\(name)'"
        case .backend(let name): entries.contains { $0.backend == name } ? nil : "no backend named '\(name)'"
        case .tier(let tier): tiers[tier] == nil ? "no tier named '\(tier)' in routing.tiers" : nil
        }
    }
}
