/// The whole gateway configuration, as decoded from `config/*.yaml` (environment references already substituted).
public struct GatewayConfig: Sendable, Hashable {
    public var server: ServerConfig
    public var backends: [BackendConfig]
    /// Alternative model names: alias → served model name.
    public var aliases: [String: String]
    /// Gateway API keys clients present as `Authorization: Bearer …`. Empty means no authentication.
    public var apiKeys: [GatewayKeyConfig]
    public var database: DatabaseConfig
    public var logLevel: LogLevel
    /// The file it was loaded from (for messages).
    public var sourceFile: String
    /// `routing:` — the policy and tiers for `model: "auto"` and policy-owned aliases (nil: no routing).
    public var routing: RoutingConfig?
    /// `shadow:` — shadow evaluation of the other tier, scored by a judge model (nil: off).
    public var shadow: ShadowConfig?
    /// `limits:` — rate, concurrency and size limits (nil: none beyond `server.max_body_size`).
    public var limits: LimitsConfig?

    public init(
        server: ServerConfig = ServerConfig(), backends: [BackendConfig] = [], aliases: [String: String] = [:],
        apiKeys: [GatewayKeyConfig] = [], database: DatabaseConfig = DatabaseConfig(), logLevel: LogLevel = .info,
        sourceFile: String = "<memory>"
    ) {
        self.server = server
        self.backends = backends
        self.aliases = aliases
        self.apiKeys = apiKeys
        self.database = database
        self.logLevel = logLevel
        self.sourceFile = sourceFile
    }
}

/// `server:` — the listening socket and request limits.
public struct ServerConfig: Sendable, Hashable {
    public var host: String
    public var port: Int
    /// Largest accepted request body, in bytes (`max_body_size`: `4MiB`, `512KiB`, `1000000`).
    public var maxBodySize: Int
    /// Longest a client request may take end to end.
    public var requestTimeout: Duration
    /// How long in-flight requests may run after SIGINT/SIGTERM.
    public var shutdownGracePeriod: Duration
    /// After SIGINT/SIGTERM, how long the gateway keeps accepting requests while `/readyz` answers 503, so a load
    /// balancer stops sending before the listener closes (`drain_delay`, default 0).
    public var drainDelay: Duration
    /// How often the configuration file is checked for changes and reloaded (`reload_interval`, default 2s);
    /// zero: only on SIGHUP.
    public var reloadInterval: Duration = .seconds(2)

    public init(
        host: String = "127.0.0.1", port: Int = 8080, maxBodySize: Int = 4 << 20,
        requestTimeout: Duration = .seconds(600), shutdownGracePeriod: Duration = .seconds(30), drainDelay: Duration = .zero
    ) {
        self.drainDelay = drainDelay
        self.host = host
        self.port = port
        self.maxBodySize = maxBodySize
        self.requestTimeout = requestTimeout
        self.shutdownGracePeriod = shutdownGracePeriod
    }

    /// Whether `host` only accepts connections from this machine.
    public var isLoopback: Bool { Self.isLoopback(host: host) }

    public static func isLoopback(host: String) -> Bool {
        let bare = host.hasPrefix("[") && host.hasSuffix("]") ? String(host.dropFirst().dropLast()) : host
        if bare == "localhost" || bare == "::1" { return true }
        let octets = bare.split(separator: ".", omittingEmptySubsequences: false)
        return octets.count == 4 && octets[0] == "127" && octets.allSatisfy { UInt8($0) != nil }
    }
}

/// The kind of upstream a backend talks to.
public enum BackendKind: String, Sendable, Hashable, CaseIterable {
    /// Any OpenAI-compatible chat completions API.
    case openai
    /// Anthropic's Messages API.
    case anthropic
    /// A Phi model run in this process (`LocalModelConfig`).
    case local

    /// Whether requests leave the machine (`openai`, `anthropic`).
    public var isRemote: Bool { self != .local }
}

/// `backends[i]` — one upstream and the models it serves.
public struct BackendConfig: Sendable, Hashable {
    public var name: String
    public var kind: BackendKind
    /// Base URL including the version path, e.g. `https://api.openai.com/v1`; no trailing slash (empty for `local`).
    public var baseURL: String
    /// The NAME of the environment variable holding the provider key (never the key itself). `nil`: no key sent.
    public var apiKeyEnv: String?
    public var timeouts: BackendTimeouts
    /// Extra request headers, e.g. `anthropic-version`.
    public var headers: [String: String]
    public var models: [ModelConfig]
    /// The model and engine settings of a `local` backend (nil for remote ones).
    public var local: LocalModelConfig?
    /// `retry`: retries of failed calls (remote backends).
    public var retry: RetryConfig
    /// `circuit_breaker`: failing fast while the upstream keeps failing (remote backends).
    public var circuitBreaker: CircuitBreakerConfig

    public init(
        name: String, kind: BackendKind, baseURL: String, apiKeyEnv: String? = nil,
        timeouts: BackendTimeouts = BackendTimeouts(), headers: [String: String] = [:], models: [ModelConfig] = [],
        local: LocalModelConfig? = nil, retry: RetryConfig = RetryConfig(),
        circuitBreaker: CircuitBreakerConfig = CircuitBreakerConfig()
    ) {
        self.local = local
        self.retry = retry
        self.circuitBreaker = circuitBreaker
        self.name = name
        self.kind = kind
        self.baseURL = baseURL
        self.apiKeyEnv = apiKeyEnv
        self.timeouts = timeouts
        self.headers = headers
        self.models = models
    }
}

/// `backends[i].timeouts`.
public struct BackendTimeouts: Sendable, Hashable {
    /// TCP (and TLS) connection establishment.
    public var connect: Duration
    /// From sending the request until the response head (streams: until the first body bytes).
    public var firstByte: Duration
    /// The whole exchange, including a streamed body.
    public var total: Duration
    /// Streams: the longest silence between body bytes after the first (`idle`); a stalled stream ends then.
    public var idle: Duration

    public init(
        connect: Duration = .seconds(10), firstByte: Duration = .seconds(120), total: Duration = .seconds(600),
        idle: Duration = .seconds(120)
    ) {
        self.connect = connect
        self.firstByte = firstByte
        self.total = total
        self.idle = idle
    }
}

/// `backends[i].models[j]` — one served model.
public struct ModelConfig: Sendable, Hashable {
    /// The name clients ask for.
    public var name: String
    /// The name sent upstream (defaults to `name`).
    public var upstreamName: String
    public var price: ModelPrice
    public var contextLength: Int?

    public init(name: String, upstreamName: String? = nil, price: ModelPrice = .free, contextLength: Int? = nil) {
        self.name = name
        self.upstreamName = upstreamName ?? name
        self.price = price
        self.contextLength = contextLength
    }
}

/// Prices in integer micro-dollars per one million tokens (`$2.50` per 1M → `2_500_000`): no float drift.
public struct ModelPrice: Sendable, Hashable {
    public var inputMicrosPerMillion: Int64
    public var outputMicrosPerMillion: Int64

    public init(inputMicrosPerMillion: Int64, outputMicrosPerMillion: Int64) {
        self.inputMicrosPerMillion = inputMicrosPerMillion
        self.outputMicrosPerMillion = outputMicrosPerMillion
    }

    public static let free = ModelPrice(inputMicrosPerMillion: 0, outputMicrosPerMillion: 0)

    /// Cost in micro-dollars, rounded half up once per request.
    public func costMicros(promptTokens: Int, completionTokens: Int) -> Int64 {
        let scaled = Int64(max(promptTokens, 0)) * inputMicrosPerMillion
            + Int64(max(completionTokens, 0)) * outputMicrosPerMillion
        return (scaled + 500_000) / 1_000_000
    }
}

/// `api_keys[i]` — a key clients may present; stored as a SHA-256 digest or read from the environment.
public struct GatewayKeyConfig: Sendable, Hashable {
    public var id: String
    public var tenant: String
    public var source: Source
    public var role: GatewayKeyRole

    public init(id: String, tenant: String, source: Source, role: GatewayKeyRole = .user) {
        self.id = id
        self.tenant = tenant
        self.source = source
        self.role = role
    }

    public enum Source: Sendable, Hashable {
        /// Lowercase hex SHA-256 of the key (`sha256:`).
        case sha256(String)
        /// Name of the environment variable that holds the key (`key_env:`).
        case environment(String)
    }
}

/// `database:` — the outcome log (one row per request, quality labels, CSV dashboards).
public struct DatabaseConfig: Sendable, Hashable {
    /// SQLite file (`:memory:` keeps it in memory, for tests).
    public var path: String
    /// Keep prompt and answer text (`store_text`); never for private requests.
    public var storesText: Bool
    /// Outcomes held in memory before writing (`queue_size`).
    public var queueSize: Int
    /// Outcomes per transaction (`batch_size`).
    public var batchSize: Int
    /// What a full queue does (`on_full`): make the request wait (`backpressure`, nothing lost) or `drop`.
    public var onFull: OutcomeOverflow
    /// Delete requests older than this (`max_age`, e.g. `720h`); nil keeps them.
    public var maxAge: Duration?
    /// Keep the file under this size (`max_size`, e.g. `1GiB`); nil for no limit.
    public var maxSize: Int?
    /// How often pruning runs (`prune_interval`).
    public var pruneInterval: Duration
    /// The served model `cost_daily.csv` compares every request with (`frontier_model`).
    public var frontierModel: String?
    /// How long the server trusts its cached copy of the database's gateway keys (`keys_refresh`): a revoked key
    /// stops working within it; a new key works at once.
    public var keysRefresh: Duration = .seconds(5)
    /// How long a batch of outcomes may wait for more before it is written (`flush_delay`, default 20ms; 0s
    /// writes as soon as the writer is free).
    public var flushDelay: Duration = .milliseconds(20)

    public init(
        path: String = "phigate.sqlite", storesText: Bool = false, queueSize: Int = 10_000, batchSize: Int = 500,
        onFull: OutcomeOverflow = .backpressure, maxAge: Duration? = nil, maxSize: Int? = nil,
        pruneInterval: Duration = .seconds(300), frontierModel: String? = nil
    ) {
        self.path = path
        self.storesText = storesText
        self.queueSize = queueSize
        self.batchSize = batchSize
        self.onFull = onFull
        self.maxAge = maxAge
        self.maxSize = maxSize
        self.pruneInterval = pruneInterval
        self.frontierModel = frontierModel
    }
}

/// `database.on_full`.
public enum OutcomeOverflow: String, Sendable, Hashable, CaseIterable {
    case backpressure
    case drop
}

/// `api_keys[i].role`.
public enum GatewayKeyRole: String, Sendable, Hashable, CaseIterable {
    /// Calls the API.
    case user
    /// Also reads the dashboards (`GET /v1/dashboard/{name}.csv`) and labels any tenant's requests.
    case admin
}

/// `log_level:` — the swift-log levels.
public enum LogLevel: String, Sendable, Hashable, CaseIterable {
    case trace, debug, info, notice, warning, error, critical
}
