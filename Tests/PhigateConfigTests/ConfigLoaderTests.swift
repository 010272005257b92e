import Foundation
import PhigateConfig
import Testing

private let minimal = """
    backends:
      - name: openai
        kind: openai
        base_url: https://api.openai.com/v1
        api_key_env: OPENAI_API_KEY
        models:
          - name: gpt-4o
            price_per_1m: { input: 2.50, output: 10.00 }
            context_length: 128000
    """

private func load(_ yaml: String, environment: [String: String] = [:]) throws(ConfigError) -> GatewayConfig {
    try ConfigLoader.load(yaml: yaml, file: "test.yaml", environment: environment)
}

/// The error a configuration produces, as one string (fails the test when it loads).
private func errorText(_ yaml: String, environment: [String: String] = [:]) -> String {
    do {
        _ = try load(yaml, environment: environment)
        Issue.record("expected the configuration to be rejected")
        return ""
    } catch {
        return error.description
    }
}

@Suite struct ConfigLoaderTests {
    static let configDirectory = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("config")

    static var configFiles: [String] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: configDirectory.path)) ?? []
        return names.filter { $0.hasSuffix(".yaml") || $0.hasSuffix(".yml") }.sorted()
    }

    @Test func configDirectoryHasFiles() {
        #expect(Self.configFiles.contains("phigate.yaml"))
        #expect(Self.configFiles.contains("phigate.example.yaml"))
    }

    @Test(arguments: configFiles)
    func everyShippedFileLoads(name: String) throws {
        let path = Self.configDirectory.appendingPathComponent(name).path
        let config = try ConfigLoader.load(file: path, environment: [:])
        #expect(!config.backends.isEmpty)
        let resolved = ConfigLoader.resolve(config, environment: [:])
        try resolved.checkListenPolicy()
    }

    @Test func defaultFileReadsEnvironment() throws {
        let path = Self.configDirectory.appendingPathComponent("phigate.yaml").path
        let environment = [
            "PHIGATE_HOST": "0.0.0.0", "PHIGATE_PORT": "9090", "PHIGATE_DB": "/data/p.sqlite",
            "OPENAI_BASE_URL": "http://127.0.0.1:1234/v1/", "OPENAI_API_KEY": "sk-test",
            "PHIGATE_API_KEY": "gateway-secret",
        ]
        let config = try ConfigLoader.load(file: path, environment: environment)
        #expect(config.server.host == "0.0.0.0")
        #expect(config.server.port == 9090)
        #expect(config.database.path == "/data/p.sqlite")
        let openai = try #require(config.backends.first { $0.name == "openai" })
        #expect(openai.baseURL == "http://127.0.0.1:1234/v1")
        let anthropic = try #require(config.backends.first { $0.name == "anthropic" })
        #expect(anthropic.baseURL == "https://api.anthropic.com/v1")
        #expect(anthropic.headers["anthropic-version"] == "2023-06-01")
        let names = Set(config.backends.flatMap(\.models).map(\.name))
        for model in ["gpt-4o", "gpt-4o-mini", "gpt-4.1", "gpt-4.1-mini", "o3-mini", "claude-sonnet-4", "claude-3-5-haiku"] {
            #expect(names.contains(model), "\(model) is served")
        }
        let resolved = ConfigLoader.resolve(config, environment: environment)
        #expect(resolved.backendsMissingKey == ["anthropic"])
        #expect(resolved.providerKeys["openai"]?.value == "sk-test")
        #expect(resolved.gatewayKey(matching: "gateway-secret")?.id == "default")
        #expect(resolved.gatewayKey(matching: "wrong") == nil)
        try resolved.checkListenPolicy()
        #expect(!resolved.summary.joined().contains("sk-test"))
    }

    @Test func defaultFileUsesDefaults() throws {
        let path = Self.configDirectory.appendingPathComponent("phigate.yaml").path
        let config = try ConfigLoader.load(file: path, environment: [:])
        #expect(config.server.host == "127.0.0.1")
        #expect(config.server.port == 8080)
        #expect(config.server.maxBodySize == 4 << 20)
        #expect(config.database.path == "phigate.sqlite")
        #expect(config.backends.first?.baseURL == "https://api.openai.com/v1")
        let gpt4o = try #require(config.backends.first?.models.first)
        #expect(gpt4o.price == ModelPrice(inputMicrosPerMillion: 2_500_000, outputMicrosPerMillion: 10_000_000))
    }

    @Test func minimalConfigDecodesEveryField() throws {
        let config = try load(minimal)
        let backend = try #require(config.backends.first)
        #expect(backend.kind == .openai)
        #expect(backend.apiKeyEnv == "OPENAI_API_KEY")
        #expect(backend.timeouts == BackendTimeouts())
        #expect(backend.models == [ModelConfig(
            name: "gpt-4o", price: ModelPrice(inputMicrosPerMillion: 2_500_000, outputMicrosPerMillion: 10_000_000),
            contextLength: 128000)])
        #expect(config.server == ServerConfig())
        #expect(config.logLevel == .info)
    }

    @Test func fullConfigDecodes() throws {
        let config = try load("""
            server:
              host: 0.0.0.0
              port: 9000
              max_body_size: 512KiB
              request_timeout: 1.5s
              shutdown_grace_period: 2m
            database: { path: /tmp/x.sqlite }
            log_level: debug
            api_keys:
              - { id: a, tenant: t1, sha256: 9F86D081884C7D659A2FEAA0C55AD015A3BF4F1B2B0B822CD15D6C15B0F00A08 }
              - { id: b, tenant: t2, key_env: KEY_B }
            backends:
              - name: claude
                kind: anthropic
                base_url: http://127.0.0.1:9/v1
                timeouts: { connect: 800ms, first_byte: 5s, total: 1h }
                headers: { anthropic-version: "2023-06-01" }
                models:
                  - { name: sonnet, upstream: claude-sonnet-4-20250514, price_per_1m: { input: 3, output: 15.000001 } }
                  - haiku
            aliases:
              s: sonnet
            """, environment: ["KEY_B": "b-secret"])
        #expect(config.server == ServerConfig(
            host: "0.0.0.0", port: 9000, maxBodySize: 512 * 1024, requestTimeout: .milliseconds(1500),
            shutdownGracePeriod: .seconds(120)))
        #expect(config.database.path == "/tmp/x.sqlite")
        #expect(config.logLevel == .debug)
        #expect(config.apiKeys[0].source == .sha256("9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"))
        #expect(config.apiKeys[1].source == .environment("KEY_B"))
        let backend = try #require(config.backends.first)
        #expect(backend.timeouts == BackendTimeouts(connect: .milliseconds(800), firstByte: .seconds(5), total: .seconds(3600)))
        #expect(backend.models[0].upstreamName == "claude-sonnet-4-20250514")
        #expect(backend.models[0].price.outputMicrosPerMillion == 15_000_001)
        #expect(backend.models[1] == ModelConfig(name: "haiku"))
        #expect(config.aliases == ["s": "sonnet"])
        let resolved = ConfigLoader.resolve(config, environment: ["KEY_B": "b-secret"])
        #expect(resolved.gatewayKey(matching: "test")?.id == "a")  // sha256("test") is the digest above
        #expect(resolved.gatewayKey(matching: "b-secret")?.tenant == "t2")
        try resolved.checkListenPolicy()
    }

    // MARK: Environment references

    @Test func environmentReferencesAreSubstituted() throws {
        let yaml = """
            server:
              host: "${HOST}"
              port: ${PORT:-7000}
            database:
              path: "${DIR:-/var/lib}/db-$${literal}.sqlite"
            backends:
              - name: ${NAME:-openai}
                kind: openai
                base_url: "http://${UPSTREAM_HOST:-localhost}:${UPSTREAM_PORT}/v1"
                models: [m]
            """
        let config = try load(yaml, environment: ["HOST": "::1", "UPSTREAM_PORT": "4000", "NAME": ""])
        #expect(config.server.host == "::1")
        #expect(config.server.port == 7000)
        #expect(config.database.path == "/var/lib/db-${literal}.sqlite")
        #expect(config.backends[0].name == "openai", "an empty variable takes the :- default")
        #expect(config.backends[0].baseURL == "http://localhost:4000/v1")
    }

    @Test func unsetVariableWithoutDefaultIsAnError() {
        let text = errorText(minimal.replacingOccurrences(of: "https://api.openai.com/v1", with: "${OPENAI_BASE_URL}"))
        #expect(text == "test.yaml:4: backends[0].base_url: environment variable OPENAI_BASE_URL is not set (write ${OPENAI_BASE_URL:-default} to give a default)")
    }

    @Test func malformedReferenceIsAnError() {
        let text = errorText(minimal.replacingOccurrences(of: "https://api.openai.com/v1", with: "\"${OPENAI-URL}\""))
        #expect(text.contains("backends[0].base_url: '${OPENAI-URL}' is not a reference like ${NAME}"))
        let unclosed = errorText(minimal.replacingOccurrences(of: "https://api.openai.com/v1", with: "\"${OPENAI\""))
        #expect(unclosed.contains("backends[0].base_url: unclosed '${'"))
    }

    // MARK: Structural errors

    @Test func unknownKeyNamesPathAndAllowedKeys() {
        let text = errorText(minimal + "\n    timeout: 5s")
        #expect(text == "test.yaml:10: backends[0].timeout: unknown key (expected one of name, kind, base_url, api_key_env, timeouts, headers, models, retry, circuit_breaker)")
        let top = errorText("servers: {}\n" + minimal)
        #expect(top.contains("test.yaml:1: servers: unknown key (expected one of server, backends, aliases, api_keys, database, log_level, routing, shadow, limits)"))
    }

    @Test func wrongTypeNamesExpectedForm() {
        #expect(errorText("server: { port: eighty }\n" + minimal)
            == #"test.yaml:1: server.port: expected a port from 0 to 65535, found "eighty""#)
        #expect(errorText("server: [1, 2]\n" + minimal).contains(
            "server: expected a mapping with keys host, port, max_body_size, request_timeout, shutdown_grace_period, drain_delay, reload_interval, found a list"))
        #expect(errorText("backends: openai").contains("backends: expected a list of backends, found \"openai\""))
        #expect(errorText("log_level: loud\n" + minimal).contains(
            #"log_level: expected one of trace, debug, info, notice, warning, error, critical, found "loud""#))
        #expect(errorText("server: { max_body_size: huge }\n" + minimal).contains(
            #"server.max_body_size: expected a size like "4MiB", "512KiB", "1MB" or a number of bytes, found "huge""#))
    }

    @Test func durationErrorNamesNestedPath() {
        let yaml = minimal + """

                timeouts: { connect: 5s }
              - name: b
                kind: anthropic
                base_url: https://api.anthropic.com/v1
                timeouts: { connect: fast, total: 30 }
                models: [claude]
            """
        let text = errorText(yaml)
        #expect(text.contains(#"test.yaml:14: backends[1].timeouts.connect: expected a duration like "30s", "800ms", "2m" or "1h", found "fast""#))
        #expect(text.contains(#"backends[1].timeouts.total: expected a duration like "30s", "800ms", "2m" or "1h", found "30""#))
    }

    @Test func missingRequiredKeysAreAllReported() {
        let text = errorText("""
            backends:
              - name: x
                models: [m]
            """)
        #expect(text.contains("backends[0].kind: missing required key (expected one of openai, anthropic, local)"))
        #expect(text.contains(#"backends[0].base_url: missing required key (expected an http(s) URL like "https://api.openai.com/v1")"#))
        #expect(errorText("log_level: info").contains("backends: missing required key (expected a list of backends)"))
        #expect(errorText("").contains("the file is empty"))
    }

    @Test func badKindAndPriceAreReported() {
        #expect(errorText(minimal.replacingOccurrences(of: "kind: openai", with: "kind: local-gguf")).contains(
            #"backends[0].kind: expected one of openai, anthropic, local, found "local-gguf""#))
        #expect(errorText(minimal.replacingOccurrences(of: "input: 2.50", with: "input: 0.0000001")).contains(
            "backends[0].models[0].price_per_1m.input: expected a price in dollars per 1M tokens like 2.50"))
        #expect(errorText(minimal.replacingOccurrences(of: "input: 2.50", with: "input: -1")).contains(
            "price_per_1m.input: expected a price"))
    }

    @Test func invalidYAMLIsReported() {
        #expect(errorText("backends: [unclosed").hasPrefix("test.yaml: not valid YAML"))
    }

    @Test func missingFileIsReported() {
        #expect(throws: ConfigError.self) { try ConfigLoader.load(file: "/nonexistent/phigate.yaml", environment: [:]) }
    }

    // MARK: Semantic errors

    @Test func badURLIsRejected() {
        for url in ["api.openai.com/v1", "ftp://x/v1", "https:///v1", "https://x/v1?q=1"] {
            #expect(errorText(minimal.replacingOccurrences(of: "https://api.openai.com/v1", with: "\"\(url)\"")).contains(
                "backends[0].base_url: expected an http(s) URL"), "\(url)")
        }
    }

    @Test func duplicateBackendAndModelNamesAreRejected() {
        let text = errorText(minimal + """

              - name: openai
                kind: openai
                base_url: https://example.com/v1
                models: [gpt-4o]
            """)
        #expect(text.contains("backends[1].name: duplicate backend name 'openai' (first at backends[0])"))
        #expect(text.contains("backends[1].models[0].name: duplicate model name 'gpt-4o' (also served by backend 'openai')"))
    }

    @Test func aliasToUnknownModelIsRejected() {
        #expect(errorText(minimal + "\naliases: { gpt4: gpt-9 }")
            == "test.yaml: aliases.gpt4: refers to unknown model 'gpt-9' (served: gpt-4o)")
        #expect(errorText(minimal + "\naliases: { gpt-4o: gpt-4o }").contains("alias 'gpt-4o' is also a served model name"))
    }

    @Test func portOutOfRangeIsRejected() {
        #expect(errorText("server: { port: 70000 }\n" + minimal).contains(
            #"server.port: expected a port from 0 to 65535, found "70000""#))
    }

    @Test func plaintextKeysAreRejected() {
        let text = errorText(minimal + "\napi_keys: [{ id: a, tenant: t, key: sk-plaintext }]")
        #expect(text.contains("api_keys[0].key: plaintext keys are not allowed in files"))
        #expect(!text.contains("sk-plaintext"))
        #expect(errorText(minimal + "\napi_keys: [{ id: a, tenant: t, sha256: abc }]").contains(
            "api_keys[0].sha256: expected the SHA-256 of the key as 64 hex digits"))
        #expect(errorText(minimal + "\napi_keys: [{ id: a, tenant: t }]").contains(
            "api_keys[0]: missing required key (expected sha256: <hex digest> or key_env: <NAME>)"))
        #expect(errorText(minimal.replacingOccurrences(of: "api_key_env: OPENAI_API_KEY", with: "api_key_env: sk-abc123")).contains(
            "backends[0].api_key_env: expected the NAME of an environment variable"))
        #expect(errorText(minimal + "\n    headers: { Authorization: Bearer x }").contains(
            "backends[0].headers.Authorization: credentials must not be written in files"))
    }

    @Test func firstByteLongerThanTotalIsRejected() {
        #expect(errorText(minimal + "\n    timeouts: { first_byte: 10m, total: 1m }").contains(
            "backends[0].timeouts.first_byte: must not exceed total"))
    }

    @Test func severalProblemsAreReportedTogether() {
        let text = errorText("server: { port: x, host: \"\" }\nlog_level: loud\n" + minimal)
        #expect(text.split(separator: "\n").count == 3)
    }

    // MARK: Resolution

    @Test func backendWithoutKeyIsReportedNotFatal() throws {
        let resolved = ConfigLoader.resolve(try load(minimal), environment: [:])
        #expect(resolved.backendsMissingKey == ["openai"])
        #expect(resolved.providerKeys.isEmpty)
        #expect(resolved.warnings == ["backend 'openai': environment variable OPENAI_API_KEY is not set; its models answer 503 until it is"])
        #expect(resolved.summary.contains { $0.contains("KEY MISSING (OPENAI_API_KEY not set)") })
    }

    @Test(arguments: ["127.0.0.1", "127.1.2.3", "localhost", "::1", "[::1]"])
    func loopbackHostsNeedNoKeys(host: String) throws {
        let resolved = ConfigLoader.resolve(try load("server: { host: \"\(host)\" }\n" + minimal), environment: [:])
        try resolved.checkListenPolicy()
    }

    @Test(arguments: ["0.0.0.0", "::", "192.168.1.10", "example.com", "128.0.0.1"])
    func nonLoopbackHostsNeedAKey(host: String) throws {
        let config = try load("server: { host: \"\(host)\" }\n" + minimal)
        #expect(throws: ConfigError.self) { try ConfigLoader.resolve(config, environment: [:]).checkListenPolicy() }
        let withKey = try load("server: { host: \"\(host)\" }\napi_keys: [{ id: k, tenant: t, key_env: K }]\n" + minimal)
        #expect(throws: ConfigError.self, "a key whose variable is unset does not count") {
            try ConfigLoader.resolve(withKey, environment: [:]).checkListenPolicy()
        }
        try ConfigLoader.resolve(withKey, environment: ["K": "secret"]).checkListenPolicy()
    }

    @Test func secretsNeverPrint() {
        let secret = Secret("sk-very-secret")
        #expect("\(secret)" == "<redacted>")
        #expect(String(reflecting: secret) == "<redacted>")
        var dumped = ""
        dump(secret, to: &dumped)
        #expect(!dumped.contains("very-secret"))
    }
}
