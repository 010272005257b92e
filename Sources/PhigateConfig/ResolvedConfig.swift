/// A secret value (a provider key): its `description`, `debugDescription` and mirror never show it.
public struct Secret: Sendable, Hashable, CustomStringConvertible, CustomDebugStringConvertible, CustomReflectable {
    /// The secret itself: only for building the upstream request header.
    public let value: String

    public init(_ value: String) {
        self.value = value
    }

    public var description: String { "<redacted>" }
    public var debugDescription: String { "<redacted>" }
    public var customMirror: Mirror { Mirror(self, children: [], displayStyle: .struct) }
}

/// A gateway key ready for comparison: id, tenant and the 32-byte SHA-256 of the key.
public struct ResolvedGatewayKey: Sendable, Hashable {
    public var id: String
    public var tenant: String
    public var sha256: [UInt8]
    public var role: GatewayKeyRole

    public init(id: String, tenant: String, sha256: [UInt8], role: GatewayKeyRole = .user) {
        self.id = id
        self.tenant = tenant
        self.sha256 = sha256
        self.role = role
    }
}

/// The configuration joined with the environment: which provider keys are present and the gateway key digests.
public struct ResolvedConfig: Sendable {
    public var config: GatewayConfig
    /// Provider key per backend name, for backends whose `api_key_env` variable is set and non-empty.
    public var providerKeys: [String: Secret]
    /// Backends whose `api_key_env` variable is absent or empty: their models answer with a clear error.
    public var backendsMissingKey: [String]
    /// Local backends with no model configured (empty `model`): their models answer 503 with this reason.
    public var disabledBackends: [String: String] = [:]
    /// Usable gateway keys (those with `key_env` present, and every `sha256` entry).
    public var gatewayKeys: [ResolvedGatewayKey]
    /// Human-readable start-up notes (missing provider keys, missing gateway key variables); never secrets.
    public var warnings: [String]

    /// Whether clients must present a gateway key. False when no key is configured or none resolved.
    public var requiresAuthentication: Bool { !gatewayKeys.isEmpty }

    /// With no usable gateway key the gateway only listens on loopback.
    public func checkListenPolicy() throws(ConfigError) {
        guard gatewayKeys.isEmpty, !config.server.isLoopback else { return }
        throw ConfigError(
            file: config.sourceFile, path: "server.host",
            message: "'\(config.server.host)' is not a loopback address and no gateway api_keys are usable; "
                + "add api_keys or listen on 127.0.0.1")
    }

    /// The gateway key whose digest matches `presentedKey`, if any.
    public func gatewayKey(matching presentedKey: String) -> ResolvedGatewayKey? {
        let digest = SHA256.digest(Array(presentedKey.utf8))
        var match: ResolvedGatewayKey?
        for key in gatewayKeys where SHA256.constantTimeEquals(key.sha256, digest) { match = key }
        return match
    }

    /// Lines describing the configuration for `phigate config check` and start-up logs (no secrets).
    public var summary: [String] {
        var lines = ["listen \(config.server.host):\(config.server.port), body limit \(config.server.maxBodySize) bytes"]
        for backend in config.backends {
            if let local = backend.local {
                let state = local.isEnabled ? "model \(local.modelPath)" : "DISABLED (no model)"
                lines.append(
                    "backend \(backend.name) (local) \(state): \(backend.models.count) models, \(local.maxSequences) sequences, "
                        + "queue \(local.queueLimit), threads \(local.threads == 0 ? "one per core" : String(local.threads))")
                continue
            }
            let key: String
            if let env = backend.apiKeyEnv {
                key = providerKeys[backend.name] != nil ? "key from \(env)" : "KEY MISSING (\(env) not set)"
            } else {
                key = "no key"
            }
            lines.append("backend \(backend.name) (\(backend.kind.rawValue)) \(backend.baseURL): \(backend.models.count) models, \(key)")
        }
        if !config.aliases.isEmpty { lines.append("aliases: \(config.aliases.count)") }
        lines.append("gateway keys: \(gatewayKeys.count)\(gatewayKeys.isEmpty ? " (no authentication, loopback only)" : "")")
        lines.append("database \(config.database.path), log level \(config.logLevel.rawValue)")
        return lines
    }
}

extension ConfigLoader {
    /// Joins `config` with `environment`: provider keys and gateway keys from `key_env` variables.
    public static func resolve(_ config: GatewayConfig, environment: [String: String]) -> ResolvedConfig {
        var providerKeys: [String: Secret] = [:]
        var missing: [String] = []
        var warnings: [String] = []
        for backend in config.backends {
            guard let env = backend.apiKeyEnv else { continue }
            if let key = environment[env], !key.isEmpty {
                providerKeys[backend.name] = Secret(key)
            } else {
                missing.append(backend.name)
                warnings.append("backend '\(backend.name)': environment variable \(env) is not set; its models answer 503 until it is")
            }
        }
        var disabled: [String: String] = [:]
        for backend in config.backends {
            guard let local = backend.local, !local.isEnabled else { continue }
            disabled[backend.name] = "backend '\(backend.name)' has no model configured (its `model` is empty; the shipped configuration reads PHIGATE_LOCAL_MODEL)"
            warnings.append("backend '\(backend.name)': no model configured; its models answer 503 (set PHIGATE_LOCAL_MODEL or `model`)")
        }
        var gatewayKeys: [ResolvedGatewayKey] = []
        for key in config.apiKeys {
            switch key.source {
            case .sha256(let hex):
                gatewayKeys.append(ResolvedGatewayKey(id: key.id, tenant: key.tenant, sha256: bytes(fromHex: hex), role: key.role))
            case .environment(let env):
                if let value = environment[env], !value.isEmpty {
                    gatewayKeys.append(ResolvedGatewayKey(id: key.id, tenant: key.tenant, sha256: SHA256.digest(Array(value.utf8)), role: key.role))
                } else {
                    warnings.append("gateway key '\(key.id)': environment variable \(env) is not set; the key is disabled")
                }
            }
        }
        var resolved = ResolvedConfig(
            config: config, providerKeys: providerKeys, backendsMissingKey: missing, gatewayKeys: gatewayKeys,
            warnings: warnings)
        resolved.disabledBackends = disabled
        return resolved
    }

    static func bytes(fromHex hex: String) -> [UInt8] {
        var bytes: [UInt8] = []
        var high: UInt8?
        for character in hex.utf8 {
            let nibble: UInt8 = switch character {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): character - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): character - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): character - UInt8(ascii: "A") + 10
            default: 0
            }
            if let value = high {
                bytes.append(value << 4 | nibble)
                high = nil
            } else {
                high = nibble
            }
        }
        return bytes
    }
}
