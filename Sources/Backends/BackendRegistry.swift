public import AsyncHTTPClient
public import OpenAIWire
public import PhigateConfig

/// A served model resolved for one request: which backend answers it, under which upstream name, at what price.
public struct ResolvedModel: Sendable {
    /// The name the client asked for (possibly an alias).
    public var requestedName: String
    /// The served model name the alias points to (equal to `requestedName` for non-aliases).
    public var name: String
    public var upstreamName: String
    public var backendName: String
    public var backend: any ChatBackend
    public var price: ModelPrice
    public var contextLength: Int?

    public init(
        requestedName: String, name: String, upstreamName: String, backendName: String, backend: any ChatBackend,
        price: ModelPrice, contextLength: Int?
    ) {
        self.requestedName = requestedName
        self.name = name
        self.upstreamName = upstreamName
        self.backendName = backendName
        self.backend = backend
        self.price = price
        self.contextLength = contextLength
    }

    /// The cost of `usage` at this model's prices.
    public func cost(of usage: Usage) -> Cost {
        Cost(micros: price.costMicros(promptTokens: usage.promptTokens, completionTokens: usage.completionTokens))
    }
}

/// An amount of money in integer micro-dollars.
public struct Cost: Sendable, Hashable, Comparable {
    public var micros: Int64

    public init(micros: Int64) {
        self.micros = micros
    }

    /// US dollars (for metrics; sums stay exact in `micros`).
    public var dollars: Double { Double(micros) / 1_000_000 }

    public static func < (lhs: Cost, rhs: Cost) -> Bool { lhs.micros < rhs.micros }
    public static func + (lhs: Cost, rhs: Cost) -> Cost { Cost(micros: lhs.micros + rhs.micros) }
}

/// Why a model name cannot be served.
public enum ModelLookupError: Error, Sendable, Hashable, CustomStringConvertible {
    /// Neither a served model nor an alias: 404.
    case unknownModel(String)
    /// Served by a backend whose key variable is not set: 503.
    case missingAPIKey(model: String, backend: String, variable: String)
    /// Served by a backend that is switched off or down (a local backend with no model, or whose model failed to
    /// load): 503.
    case backendUnavailable(model: String, backend: String, reason: String)

    public var description: String {
        switch self {
        case .unknownModel(let model): "unknown model '\(model)'"
        case .missingAPIKey(let model, let backend, let variable):
            "model '\(model)' is served by backend '\(backend)' whose API key variable \(variable) is not set"
        case .backendUnavailable(let model, _, let reason):
            "model '\(model)' is unavailable: \(reason)"
        }
    }

    public var openAIError: OpenAIError {
        switch self {
        case .unknownModel(let model): .modelNotFound(model)
        case .missingAPIKey, .backendUnavailable:
            OpenAIError(status: 503, message: "\(description).", type: "api_error", param: "model", code: "backend_unavailable")
        }
    }
}

/// Model name (or alias) → backend, upstream name and prices. Built once from the configuration; immutable.
public struct BackendRegistry: Sendable {
    private struct Entry: Sendable {
        var name: String
        var model: ModelConfig
        var backend: any ChatBackend
        var missingKeyVariable: String?
        var unavailableReason: String?
    }

    private let entries: [String: Entry]
    private let aliases: [String: String]
    /// Served names then aliases, in configuration order.
    private let listing: [(id: String, backend: String)]
    /// Every backend, by name.
    public let backends: [String: any ChatBackend]

    /// Builds the remote backends of `config` over the shared `httpClient`, each behind its retry policy and
    /// circuit breaker (`ResilientBackend`, timed by `clock`); `localBackends` (built by the server, which owns
    /// the models) serve the `kind: local` entries.
    public init(
        config: ResolvedConfig, httpClient: HTTPClient, localBackends: [any ChatBackend] = [],
        clock: any UpstreamClock = SystemUpstreamClock()
    ) {
        var built: [any ChatBackend] = localBackends
        for backend in config.config.backends {
            let key = config.providerKeys[backend.name]
            let remote: any ChatBackend
            switch backend.kind {
            case .openai: remote = OpenAIBackend(config: backend, apiKey: key, httpClient: httpClient)
            case .anthropic: remote = AnthropicBackend(config: backend, apiKey: key, httpClient: httpClient)
            case .local: continue
            }
            built.append(ResilientBackend(remote, config: backend, clock: clock))
        }
        self.init(
            config: config.config, backends: built, backendsMissingKey: Set(config.backendsMissingKey),
            unavailableBackends: config.disabledBackends)
    }

    /// Uses the given backend instances (matched to `config.backends` by name); for tests and local backends.
    /// `unavailableBackends` maps a backend name to why its models answer 503.
    public init(
        config: GatewayConfig, backends: [any ChatBackend], backendsMissingKey: Set<String> = [],
        unavailableBackends: [String: String] = [:]
    ) {
        var byName: [String: any ChatBackend] = [:]
        for backend in backends { byName[backend.name] = backend }
        var entries: [String: Entry] = [:]
        var listing: [(String, String)] = []
        for backendConfig in config.backends {
            guard let backend = byName[backendConfig.name] else { continue }
            let missing = backendsMissingKey.contains(backendConfig.name) ? backendConfig.apiKeyEnv : nil
            for model in backendConfig.models where entries[model.name] == nil {
                entries[model.name] = Entry(
                    name: model.name, model: model, backend: backend, missingKeyVariable: missing,
                    unavailableReason: unavailableBackends[backendConfig.name])
                listing.append((model.name, backendConfig.name))
            }
        }
        for alias in config.aliases.keys.sorted() {
            if let target = config.aliases[alias], let entry = entries[target] {
                listing.append((alias, entry.backend.name))
            }
        }
        self.entries = entries
        self.aliases = config.aliases
        self.listing = listing
        self.backends = byName
    }

    /// The backend and upstream name for `model` (a served name or an alias).
    public func resolve(model: String) throws(ModelLookupError) -> ResolvedModel {
        let name = entries[model] != nil ? model : (aliases[model] ?? model)
        guard let entry = entries[name] else { throw .unknownModel(model) }
        if let variable = entry.missingKeyVariable {
            throw .missingAPIKey(model: model, backend: entry.backend.name, variable: variable)
        }
        if let reason = entry.unavailableReason {
            throw .backendUnavailable(model: model, backend: entry.backend.name, reason: reason)
        }
        return ResolvedModel(
            requestedName: model, name: name, upstreamName: entry.model.upstreamName, backendName: entry.backend.name,
            backend: entry.backend, price: entry.model.price, contextLength: entry.model.contextLength)
    }

    /// The retry budgets and circuit breakers of the remote backends, by backend name.
    public var upstreamGuards: [UpstreamGuard] {
        backends.values.compactMap { ($0.innermost as? ResilientBackend)?.guardian }.sorted { $0.backend < $1.backend }
    }

    /// Served model names and aliases with their owning backend, for `GET /v1/models`.
    public var listedModels: [(id: String, backend: String)] { listing }

    /// The `GET /v1/models` body; `created` is the Unix time to report for every model.
    public func modelList(created: Int) -> ModelList {
        ModelList(data: listing.map { ModelList.Model(id: $0.id, created: created, ownedBy: $0.backend) })
    }

    /// Connections kept per upstream host. AsyncHTTPClient's default (8) would queue the 9th concurrent stream
    /// to one provider behind the first eight.
    public static let connectionsPerHost = 512

    /// An `HTTPClient` configuration suited to the backends of `config`: connect timeout (the largest configured),
    /// a large per-host pool (long-lived streams), no connection-establishment retries (a refused upstream fails
    /// fast), no redirects, no decompression.
    public static func httpClientConfiguration(for config: GatewayConfig) -> HTTPClient.Configuration {
        var configuration = HTTPClient.Configuration()
        let connect = config.backends.map(\.timeouts.connect).max() ?? .seconds(10)
        configuration.timeout.connect = .milliseconds(connect.milliseconds)
        configuration.connectionPool.retryConnectionEstablishment = false
        configuration.connectionPool.idleTimeout = .seconds(60)
        configuration.connectionPool.concurrentHTTP1ConnectionsPerHostSoftLimit = connectionsPerHost
        configuration.redirectConfiguration = .disallow
        configuration.decompression = .disabled
        // phigate bootstraps no tracer: skip the per-request span (and the attribute strings it formats).
        configuration.tracing.tracer = nil
        return configuration
    }
}

extension Duration {
    var milliseconds: Int64 {
        let (seconds, attoseconds) = components
        return seconds * 1000 + attoseconds / 1_000_000_000_000_000
    }
}
