import Foundation
internal import Yams

/// Reads, substitutes, decodes and validates a gateway configuration file.
public enum ConfigLoader {
    /// Loads `file`; `environment` supplies `${NAME}` references (inject it in tests).
    public static func load(
        file: String, environment: [String: String]
    ) throws(ConfigError) -> GatewayConfig {
        let text: String
        do {
            text = try String(contentsOfFile: file, encoding: .utf8)
        } catch {
            throw ConfigError(file: file, path: "", message: "cannot read the file (\(Self.reason(error)))")
        }
        return try load(yaml: text, file: file, environment: environment)
    }

    /// Decodes configuration text; `file` only names it in messages.
    public static func load(yaml: String, file: String, environment: [String: String]) throws(ConfigError) -> GatewayConfig {
        let root: Node?
        do {
            root = try Yams.compose(yaml: yaml)
        } catch {
            throw ConfigError(file: file, path: "", message: "not valid YAML: \(error)")
        }
        guard let root else {
            throw ConfigError(file: file, path: "", message: "the file is empty (expected a mapping with a 'backends' key)")
        }
        let reader = ConfigReader(environment: environment)
        let config = GatewayConfigDecoder(reader: reader, file: file).decode(ConfigReader.Value(node: root, path: ""))
        if let config, reader.issues.isEmpty {
            let semanticIssues = ConfigValidator.issues(in: config)
            if !semanticIssues.isEmpty { throw ConfigError(file: file, issues: semanticIssues) }
            return config
        }
        throw ConfigError(file: file, issues: reader.issues)
    }

    private static func reason(_ error: any Error) -> String {
        let nsError = error as NSError
        if nsError.domain == NSCocoaErrorDomain && nsError.code == NSFileReadNoSuchFileError { return "no such file" }
        return nsError.localizedDescription
    }
}

/// Maps the YAML tree onto `GatewayConfig`.
struct GatewayConfigDecoder {
    typealias Value = ConfigReader.Value
    let reader: ConfigReader
    let file: String

    static let topKeys = ["server", "backends", "aliases", "api_keys", "database", "log_level", "routing", "shadow", "limits"]

    func decode(_ root: Value) -> GatewayConfig? {
        guard let fields = reader.mapping(root, allowed: Self.topKeys) else { return nil }
        var config = GatewayConfig(sourceFile: file)
        if let value = fields.optional("server"), let server = server(value) { config.server = server }
        if let value = fields.required("backends", expected: "a list of backends"),
           let items = reader.sequence(value, expected: "backends") {
            config.backends = items.compactMap(backend)
        }
        if let value = fields.optional("aliases"), let mapping = reader.mapping(value, allowed: ["<alias>: <model>"]) {
            for (alias, target) in mapping.all {
                if let model = reader.nonEmptyString(target, expected: "a model name") { config.aliases[alias] = model }
            }
        }
        if let value = fields.optional("api_keys"), let items = reader.sequence(value, expected: "gateway keys") {
            config.apiKeys = items.compactMap(gatewayKey)
        }
        if let value = fields.optional("database"), let database = self.database(value) {
            config.database = database
        }
        if let value = fields.optional("log_level"), let level = reader.choice(value, of: LogLevel.self) {
            config.logLevel = level
        }
        if let value = fields.optional("routing") { config.routing = routing(value) }
        if let value = fields.optional("shadow") { config.shadow = shadow(value) }
        if let value = fields.optional("limits") { config.limits = limits(value) }
        fields.finish(allowed: Self.topKeys)
        return config
    }

    static let databaseKeys = [
        "path", "store_text", "queue_size", "batch_size", "on_full", "max_age", "max_size", "prune_interval",
        "frontier_model", "keys_refresh", "flush_delay",
    ]

    func database(_ value: Value) -> DatabaseConfig? {
        guard let fields = reader.mapping(value, allowed: Self.databaseKeys) else { return nil }
        var database = DatabaseConfig()
        if let path = fields.required("path", expected: "a file path").flatMap({ reader.nonEmptyString($0) }) {
            database.path = path
        }
        if let flag = fields.optional("store_text") {
            switch reader.string(flag, expected: "true or false")?.lowercased() {
            case "true"?: database.storesText = true
            case "false"?: database.storesText = false
            case let other?: reader.report(flag, "expected true or false, found \"\(other.prefix(60))\"")
            case nil: break
            }
        }
        if let size = fields.optional("queue_size").flatMap({ reader.int($0, in: 1...10_000_000, expected: "a number of entries from 1") }) {
            database.queueSize = size
        }
        if let size = fields.optional("batch_size").flatMap({ reader.int($0, in: 1...100_000, expected: "a number of entries from 1") }) {
            database.batchSize = size
        }
        if let policy = fields.optional("on_full").flatMap({ reader.choice($0, of: OutcomeOverflow.self) }) {
            database.onFull = policy
        }
        if let age = fields.optional("max_age").flatMap(reader.duration) { database.maxAge = age }
        if let size = fields.optional("max_size").flatMap(reader.byteSize) { database.maxSize = size }
        if let interval = fields.optional("prune_interval").flatMap(reader.duration) { database.pruneInterval = interval }
        if let delay = fields.optional("flush_delay").flatMap({ reader.duration($0, allowsZero: true) }) { database.flushDelay = delay }
        if let model = fields.optional("frontier_model").flatMap({ reader.nonEmptyString($0, expected: "a served model name") }) {
            database.frontierModel = model
        }
        if let refresh = fields.optional("keys_refresh").flatMap(reader.duration) { database.keysRefresh = refresh }
        fields.finish(allowed: Self.databaseKeys)
        return database
    }

    static let serverKeys = ["host", "port", "max_body_size", "request_timeout", "shutdown_grace_period", "drain_delay", "reload_interval"]

    func server(_ value: Value) -> ServerConfig? {
        guard let fields = reader.mapping(value, allowed: Self.serverKeys) else { return nil }
        var server = ServerConfig()
        if let host = fields.optional("host").flatMap({ reader.nonEmptyString($0, expected: "a host name or address") }) {
            server.host = host
        }
        if let port = fields.optional("port").flatMap({ reader.int($0, in: 0...65535, expected: "a port from 0 to 65535") }) {
            server.port = port
        }
        if let size = fields.optional("max_body_size").flatMap(reader.byteSize) { server.maxBodySize = size }
        if let timeout = fields.optional("request_timeout").flatMap(reader.duration) { server.requestTimeout = timeout }
        if let grace = fields.optional("shutdown_grace_period").flatMap(reader.duration) {
            server.shutdownGracePeriod = grace
        }
        if let delay = fields.optional("drain_delay").flatMap({ reader.duration($0, allowsZero: true) }) { server.drainDelay = delay }
        if let interval = fields.optional("reload_interval").flatMap({ reader.duration($0, allowsZero: true) }) {
            server.reloadInterval = interval
        }
        fields.finish(allowed: Self.serverKeys)
        return server
    }

    static let backendKeys = [
        "name", "kind", "base_url", "api_key_env", "timeouts", "headers", "models", "retry", "circuit_breaker",
    ]
    static let localBackendKeys = ["name", "kind", "models"] + LocalModelDecoder.keys
    static let timeoutKeys = ["connect", "first_byte", "total", "idle"]
    static let forbiddenHeaders: Set<String> = ["authorization", "x-api-key", "api-key", "proxy-authorization"]

    func backend(_ value: Value) -> BackendConfig? {
        // The kind decides which keys are allowed, so read it first.
        if value.node.mapping?["kind"]?.scalar?.string == BackendKind.local.rawValue {
            return localBackend(value)
        }
        guard let fields = reader.mapping(value, allowed: Self.backendKeys) else { return nil }
        let name = fields.required("name", expected: "a backend name").flatMap { reader.nonEmptyString($0) }
        let kind = fields.required("kind", expected: "one of openai, anthropic, local").flatMap { reader.choice($0, of: BackendKind.self) }
        let baseURL = fields.required("base_url", expected: ConfigReader.urlForm).flatMap(reader.baseURL)
        var apiKeyEnv: String?
        if let envValue = fields.optional("api_key_env"),
           let envName = reader.nonEmptyString(envValue, expected: "an environment variable name like OPENAI_API_KEY") {
            if EnvironmentSubstitution.isValidName(envName) {
                apiKeyEnv = envName
            } else {
                reader.report(envValue, "expected the NAME of an environment variable like OPENAI_API_KEY (never the key itself)")
            }
        }
        var timeouts = BackendTimeouts()
        if let timeoutsValue = fields.optional("timeouts"),
           let timeoutFields = reader.mapping(timeoutsValue, allowed: Self.timeoutKeys) {
            if let connect = timeoutFields.optional("connect").flatMap(reader.duration) { timeouts.connect = connect }
            if let firstByte = timeoutFields.optional("first_byte").flatMap(reader.duration) { timeouts.firstByte = firstByte }
            if let total = timeoutFields.optional("total").flatMap(reader.duration) { timeouts.total = total }
            if let idle = timeoutFields.optional("idle").flatMap(reader.duration) { timeouts.idle = idle }
            timeoutFields.finish(allowed: Self.timeoutKeys)
            if timeouts.firstByte > timeouts.total {
                reader.report(timeoutsValue.child("first_byte"), line: timeoutsValue.line, "must not exceed total (\(timeouts.total))")
            }
        }
        var headers: [String: String] = [:]
        if let headersValue = fields.optional("headers"),
           let headerFields = reader.mapping(headersValue, allowed: ["<header-name>: <value>"]) {
            for (header, headerValue) in headerFields.all {
                if Self.forbiddenHeaders.contains(header.lowercased()) {
                    reader.report(headerValue, "credentials must not be written in files; set api_key_env to the variable that holds the key")
                } else if let text = reader.string(headerValue) {
                    headers[header] = text
                }
            }
        }
        var models: [ModelConfig] = []
        if let modelsValue = fields.required("models", expected: "a list of models"),
           let items = reader.sequence(modelsValue, expected: "models") {
            models = items.compactMap(model)
        }
        let retry = fields.optional("retry").flatMap(self.retry) ?? RetryConfig()
        let breaker = fields.optional("circuit_breaker").flatMap(circuitBreaker) ?? CircuitBreakerConfig()
        fields.finish(allowed: Self.backendKeys)
        guard let name, let kind, let baseURL else { return nil }
        return BackendConfig(
            name: name, kind: kind, baseURL: baseURL, apiKeyEnv: apiKeyEnv, timeouts: timeouts, headers: headers,
            models: models, retry: retry, circuitBreaker: breaker)
    }

    /// `kind: local`: no URL, key or headers; the model and engine settings instead.
    func localBackend(_ value: Value) -> BackendConfig? {
        guard let fields = reader.mapping(value, allowed: Self.localBackendKeys) else { return nil }
        let name = fields.required("name", expected: "a backend name").flatMap { reader.nonEmptyString($0) }
        _ = fields.required("kind", expected: "local")
        let local = LocalModelDecoder(reader: reader).decode(fields, owner: value)
        var models: [ModelConfig] = []
        if let modelsValue = fields.required("models", expected: "a list of models"),
           let items = reader.sequence(modelsValue, expected: "models") {
            models = items.compactMap(model)
        }
        fields.finish(allowed: Self.localBackendKeys)
        guard let name, let local else { return nil }
        return BackendConfig(name: name, kind: .local, baseURL: "", models: models, local: local)
    }

    static let modelKeys = ["name", "upstream", "price_per_1m", "context_length"]
    static let priceKeys = ["input", "output"]

    func model(_ value: Value) -> ModelConfig? {
        if value.node.scalar != nil {
            return reader.nonEmptyString(value, expected: "a model name").map { ModelConfig(name: $0) }
        }
        guard let fields = reader.mapping(value, allowed: Self.modelKeys) else { return nil }
        let name = fields.required("name", expected: "a model name").flatMap { reader.nonEmptyString($0) }
        let upstream = fields.optional("upstream").flatMap { reader.nonEmptyString($0, expected: "the upstream model name") }
        var price = ModelPrice.free
        if let priceValue = fields.optional("price_per_1m"),
           let priceFields = reader.mapping(priceValue, allowed: Self.priceKeys) {
            if let input = priceFields.required("input", expected: ConfigReader.priceForm).flatMap(reader.priceMicros) {
                price.inputMicrosPerMillion = input
            }
            if let output = priceFields.required("output", expected: ConfigReader.priceForm).flatMap(reader.priceMicros) {
                price.outputMicrosPerMillion = output
            }
            priceFields.finish(allowed: Self.priceKeys)
        }
        let contextLength = fields.optional("context_length").flatMap {
            reader.int($0, in: 1...100_000_000, expected: "a positive number of tokens")
        }
        fields.finish(allowed: Self.modelKeys)
        guard let name else { return nil }
        return ModelConfig(name: name, upstreamName: upstream, price: price, contextLength: contextLength)
    }

    static let keyKeys = ["id", "tenant", "sha256", "key_env", "role"]

    func gatewayKey(_ value: Value) -> GatewayKeyConfig? {
        guard let fields = reader.mapping(value, allowed: Self.keyKeys) else { return nil }
        let id = fields.required("id", expected: "a key id").flatMap { reader.nonEmptyString($0) }
        let tenant = fields.required("tenant", expected: "a tenant name").flatMap { reader.nonEmptyString($0) }
        let sha = fields.optional("sha256")
        let env = fields.optional("key_env")
        var source: GatewayKeyConfig.Source?
        for plaintextKey in ["key", "api_key", "secret"] where fields.optional(plaintextKey) != nil {
            reader.report(value.child(plaintextKey), line: value.line,
                          "plaintext keys are not allowed in files; use sha256 (hex digest of the key) or key_env")
        }
        switch (sha, env) {
        case (let sha?, nil):
            if let hex = reader.string(sha, expected: "64 hex digits") {
                let lower = hex.lowercased()
                if lower.count == 64, lower.allSatisfy(\.isHexDigit) {
                    source = .sha256(lower)
                } else {
                    reader.report(sha, "expected the SHA-256 of the key as 64 hex digits (e.g. `printf %s KEY | sha256sum`)")
                }
            }
        case (nil, let env?):
            if let name = reader.nonEmptyString(env, expected: "an environment variable name") {
                if EnvironmentSubstitution.isValidName(name) {
                    source = .environment(name)
                } else {
                    reader.report(env, "expected the NAME of an environment variable like PHIGATE_KEY_TEAM_A")
                }
            }
        case (_?, _?):
            reader.report(value.path, line: value.line, "give either sha256 or key_env, not both")
        case (nil, nil):
            reader.report(value.path, line: value.line, "missing required key (expected sha256: <hex digest> or key_env: <NAME>)")
        }
        let role = fields.optional("role").flatMap { reader.choice($0, of: GatewayKeyRole.self) } ?? .user
        fields.finish(allowed: Self.keyKeys)
        guard let id, let tenant, let source else { return nil }
        return GatewayKeyConfig(id: id, tenant: tenant, source: source, role: role)
    }
}

/// Semantic checks over a decoded configuration.
enum ConfigValidator {
    static func issues(in config: GatewayConfig) -> [ConfigError.Issue] {
        var issues: [ConfigError.Issue] = []
        var backendIndex: [String: Int] = [:]
        var modelOwner: [String: String] = [:]
        for (index, backend) in config.backends.enumerated() {
            if let first = backendIndex[backend.name] {
                issues.append(.init(path: "backends[\(index)].name", message: "duplicate backend name '\(backend.name)' (first at backends[\(first)])"))
            } else {
                backendIndex[backend.name] = index
            }
            if backend.models.isEmpty {
                issues.append(.init(path: "backends[\(index)].models", message: "expected at least one model"))
            }
            for (modelIndex, model) in backend.models.enumerated() {
                if let owner = modelOwner[model.name] {
                    issues.append(.init(
                        path: "backends[\(index)].models[\(modelIndex)].name",
                        message: "duplicate model name '\(model.name)' (also served by backend '\(owner)')"))
                } else {
                    modelOwner[model.name] = backend.name
                }
            }
        }
        for alias in config.aliases.keys.sorted() {
            let target = config.aliases[alias] ?? ""
            if modelOwner[alias] != nil {
                issues.append(.init(path: "aliases.\(alias)", message: "alias '\(alias)' is also a served model name"))
            } else if modelOwner[target] == nil {
                let known = modelOwner.keys.sorted().prefix(12).joined(separator: ", ")
                issues.append(.init(path: "aliases.\(alias)", message: "refers to unknown model '\(target)' (served: \(known))"))
            }
        }
        var keyIDs: Set<String> = []
        for (index, key) in config.apiKeys.enumerated() where !keyIDs.insert(key.id).inserted {
            issues.append(.init(path: "api_keys[\(index)].id", message: "duplicate key id '\(key.id)'"))
        }
        issues += routingIssues(in: config)
        issues += shadowIssues(in: config)
        issues += limitsIssues(in: config)
        return issues
    }
}
