/// `limits:` — load limits. Each answers with an OpenAI error that names the limit: rate limits 429 with
/// `Retry-After`, a full backend 429, too many messages 413, `max_tokens` above the maximum 400 (rejected, never
/// silently capped), a body not received in time 408.
public struct LimitsConfig: Sendable, Hashable {
    /// `max_messages`: most messages in one request (nil: no limit).
    public var maxMessages: Int?
    /// `max_tokens`: largest `max_tokens` / `max_completion_tokens` a request may ask for (nil: no limit).
    public var maxTokens: Int?
    /// `body_timeout`: how long the client may take to send the request body (default 30s).
    public var bodyTimeout: Duration
    /// `per_key`: the rate every gateway key gets unless `keys` (or the key's database row) says otherwise.
    public var perKey: RateLimit?
    /// `per_tenant`: the rate every tenant gets (all its keys together) unless `tenants` says otherwise.
    public var perTenant: RateLimit?
    /// `keys`: key id → its rate.
    public var keys: [String: RateLimit]
    /// `tenants`: tenant → its rate.
    public var tenants: [String: RateLimit]
    /// `backend_concurrency`: backend name → most requests in flight to it at once.
    public var backendConcurrency: [String: Int]

    public init(
        maxMessages: Int? = nil, maxTokens: Int? = nil, bodyTimeout: Duration = .seconds(30), perKey: RateLimit? = nil,
        perTenant: RateLimit? = nil, keys: [String: RateLimit] = [:], tenants: [String: RateLimit] = [:],
        backendConcurrency: [String: Int] = [:]
    ) {
        self.maxMessages = maxMessages
        self.maxTokens = maxTokens
        self.bodyTimeout = bodyTimeout
        self.perKey = perKey
        self.perTenant = perTenant
        self.keys = keys
        self.tenants = tenants
        self.backendConcurrency = backendConcurrency
    }

    /// The rate for `keyID` (its own entry, else `per_key`).
    public func rate(forKey keyID: String) -> RateLimit? { keys[keyID] ?? perKey }

    /// The rate for `tenant` (its own entry, else `per_tenant`).
    public func rate(forTenant tenant: String) -> RateLimit? { tenants[tenant] ?? perTenant }
}

/// Requests and tokens per minute, each a token bucket that holds one minute's worth (nil: unlimited).
public struct RateLimit: Sendable, Hashable {
    /// `requests_per_minute`.
    public var requestsPerMinute: Int?
    /// `tokens_per_minute`: prompt estimate plus `max_tokens`, reconciled with the usage the backend reports.
    public var tokensPerMinute: Int?

    public init(requestsPerMinute: Int? = nil, tokensPerMinute: Int? = nil) {
        self.requestsPerMinute = requestsPerMinute
        self.tokensPerMinute = tokensPerMinute
    }
}

extension GatewayConfigDecoder {
    static let limitsKeys = [
        "max_messages", "max_tokens", "body_timeout", "per_key", "per_tenant", "keys", "tenants", "backend_concurrency",
    ]
    static let rateKeys = ["requests_per_minute", "tokens_per_minute"]

    /// `limits: {max_messages: 500, per_key: {requests_per_minute: 600}, backend_concurrency: {openai: 64}}`
    func limits(_ value: Value) -> LimitsConfig? {
        guard let fields = reader.mapping(value, allowed: Self.limitsKeys) else { return nil }
        var limits = LimitsConfig()
        limits.maxMessages = fields.optional("max_messages").flatMap {
            reader.int($0, in: 1...1_000_000, expected: "a number of messages from 1")
        }
        limits.maxTokens = fields.optional("max_tokens").flatMap {
            reader.int($0, in: 1...100_000_000, expected: "a number of tokens from 1")
        }
        if let timeout = fields.optional("body_timeout").flatMap(reader.duration) { limits.bodyTimeout = timeout }
        limits.perKey = fields.optional("per_key").flatMap(rate)
        limits.perTenant = fields.optional("per_tenant").flatMap(rate)
        for (key, target) in [("keys", \LimitsConfig.keys), ("tenants", \LimitsConfig.tenants)] {
            guard let value = fields.optional(key), let entries = reader.mapping(value, allowed: ["<name>: {requests_per_minute, tokens_per_minute}"])
            else { continue }
            for (name, entry) in entries.all {
                if let rate = rate(entry) { limits[keyPath: target][name] = rate }
            }
        }
        if let value = fields.optional("backend_concurrency"),
           let entries = reader.mapping(value, allowed: ["<backend>: <requests in flight>"]) {
            for (name, entry) in entries.all {
                if let count = reader.int(entry, in: 1...1_000_000, expected: "a number of requests in flight from 1") {
                    limits.backendConcurrency[name] = count
                }
            }
        }
        fields.finish(allowed: Self.limitsKeys)
        return limits
    }

    func rate(_ value: Value) -> RateLimit? {
        guard let fields = reader.mapping(value, allowed: Self.rateKeys) else { return nil }
        var rate = RateLimit()
        rate.requestsPerMinute = fields.optional("requests_per_minute").flatMap {
            reader.int($0, in: 1...100_000_000, expected: "requests per minute from 1")
        }
        rate.tokensPerMinute = fields.optional("tokens_per_minute").flatMap {
            reader.int($0, in: 1...1_000_000_000_000, expected: "tokens per minute from 1")
        }
        fields.finish(allowed: Self.rateKeys)
        return rate
    }
}

extension ConfigValidator {
    /// `backend_concurrency` names configured backends; `keys` names configured keys.
    static func limitsIssues(in config: GatewayConfig) -> [ConfigError.Issue] {
        guard let limits = config.limits else { return [] }
        var issues: [ConfigError.Issue] = []
        let backends = Set(config.backends.map(\.name))
        for name in limits.backendConcurrency.keys.sorted() where !backends.contains(name) {
            issues.append(.init(
                path: "limits.backend_concurrency.\(name)",
                message: "unknown backend '\(name)' (configured: \(backends.sorted().joined(separator: ", ")))"))
        }
        return issues
    }
}
