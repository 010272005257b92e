import FakeUpstream
import Foundation
import PhigateConfig
import Testing

@testable import GatewayServer

#if canImport(Glibc)
import Glibc
#endif

extension FakeUpstream {
    /// The OpenAI-style base URL of this upstream.
    var v1: String { baseURL + "/v1" }
}

extension SIGHUPSuites {
    /// The configuration file reloads without a restart (file change and SIGHUP): backends, models, keys and limits
    /// change between requests, an invalid file leaves the old configuration serving, start-only parts are kept and
    /// reported, and reloads under load lose no request. Serialized: SIGHUP reaches every gateway in the process.
    @Suite("Configuration reload", .serialized)
    struct ConfigReloadTests {
        /// A configuration whose model `m` (and `extra`, when `withExtra`) is served by backend `name` at `baseURL`.
        static func yaml(
            backend name: String, baseURL: String, withExtra: Bool = false, port: Int = 0,
            reloadInterval: String = "100ms", limits: String = ""
        ) -> String {
            """
            server: { host: 127.0.0.1, port: \(port), reload_interval: \(reloadInterval) }
            database: { path: ":memory:" }
            api_keys:
              - { id: test-key, tenant: tests, key_env: PHIGATE_TEST_GATEWAY_KEY }
              - { id: ops, tenant: ops, key_env: PHIGATE_TEST_ADMIN_KEY, role: admin }
            backends:
              - name: \(name)
                kind: openai
                base_url: \(baseURL)
                api_key_env: OPENAI_API_KEY
                models:
                  - { name: m }
            \(withExtra ? "      - { name: extra }" : "")
            \(limits)
            """
        }

        /// Runs `body` with a gateway started from `initial` written to a file that the test may rewrite.
        static func withConfigFile(
            _ initial: @escaping (String) -> String,
            _ body: @escaping @Sendable (GatewayHarness, URL, FakeUpstream) async throws -> Void
        ) async throws {
            let second = try await FakeUpstream.start(script: FakeUpstream.standardScript)
            let dir = FileManager.default.temporaryDirectory.appendingPathComponent("phigate-reload-\(UUID().uuidString)")
            try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(at: dir) }
            let file = dir.appendingPathComponent("phigate.yaml")
            do {
                // The harness's own upstream is the first one; the file is written once it is known.
                try await GatewayHarness.run(environment: Self.environment, configure: { config in
                    let text = initial(config.backends[0].baseURL)
                    try? text.write(to: file, atomically: true, encoding: .utf8)
                    if let loaded = try? ConfigLoader.load(file: file.path, environment: Self.environment) {
                        config = loaded
                    }
                }, configFile: file.path) { harness in
                    try await body(harness, file, second)
                }
            } catch {
                await second.shutdown()
                throw error
            }
            await second.shutdown()
        }

        static let environment = GatewayHarness.environment.merging(["PHIGATE_TEST_ADMIN_KEY": OutcomeLogTests.adminKey]) { $1 }

    static func write(_ file: URL, _ text: String) throws {
            try text.write(to: file, atomically: true, encoding: .utf8)
        }

        /// Polls `condition` for up to 60 s (a starved test pool can delay the reload service).
        static func eventually(_ condition: () async throws -> Bool) async throws -> Bool {
            for _ in 0..<600 {
                if try await condition() { return true }
                try await Task.sleep(for: .milliseconds(100))
            }
            return false
        }

        @Test("a changed file swaps backends and models; an invalid one is rejected and the old keeps serving")
        func fileChangeReloads() async throws {
            try await Self.withConfigFile({ Self.yaml(backend: "first", baseURL: $0) }) { gateway, file, second in
                let before = try await gateway.chat(chatBody(model: "m"))
                #expect(before.status == 200 && before.header("x-phigate-backend") == "first", "\(before.status) \(before.body)")
                #expect(try await gateway.chat(chatBody(model: "extra")).status == 404)

                try Self.write(file, Self.yaml(backend: "second", baseURL: second.v1, withExtra: true))
                #expect(try await Self.eventually { try await gateway.chat(chatBody(model: "m")).header("x-phigate-backend") == "second" })
                #expect(try await gateway.chat(chatBody(model: "extra")).status == 200)
                #expect(try await gateway.request("GET", "/v1/models").body.contains(#""extra""#))
                #expect(gateway.logText.contains("Configuration reloaded"))

                try Self.write(file, "backends: [ { name: broken, kind: carrier-pigeon } ]")
                #expect(try await Self.eventually { gateway.logText.contains("Configuration rejected") })
                let after = try await gateway.chat(chatBody(model: "m"))
                #expect(after.status == 200 && after.header("x-phigate-backend") == "second")
                // The rejection names the file and the key, and never a secret.
                #expect(gateway.logText.contains("backends[0].kind"))
                #expect(!gateway.logText.contains(TestSecrets.openAIKey) && !gateway.logText.contains(TestSecrets.gatewayKey))
            }
        }

        @Test("SIGHUP reloads with the poll off; start-only parts keep their running values and are reported")
        func sighupAndStartOnlyParts() async throws {
            try await Self.withConfigFile({ Self.yaml(backend: "first", baseURL: $0, reloadInterval: "0s") }) { gateway, file, second in
                // A new port is start-only: the gateway keeps listening where it is and says so.
                try Self.write(file, Self.yaml(backend: "second", baseURL: second.v1, port: 1, reloadInterval: "0s"))
                try await Task.sleep(for: .seconds(1))
                #expect(try await gateway.chat(chatBody(model: "m")).header("x-phigate-backend") == "first", "poll is off")
                kill(getpid(), SIGHUP)
                #expect(try await Self.eventually { try await gateway.chat(chatBody(model: "m")).header("x-phigate-backend") == "second" })
                #expect(gateway.logText.contains("server.port changed; it takes effect at the next restart"))
            }
        }

        @Test("POST /v1/admin/reload reloads now and says what happened; only an admin key may; a bad file is a 400")
    func adminEndpoint() async throws {
        try await Self.withConfigFile({ Self.yaml(backend: "first", baseURL: $0, reloadInterval: "0s") }) { gateway, file, second in
            let user = try await gateway.request("POST", "/v1/admin/reload")
            #expect(user.status == 403 && user.body.contains("admin_required"), "\(user.status) \(user.body)")
            #expect(try await gateway.request("POST", "/v1/admin/reload", headers: []).status == 401)

            try Self.write(file, Self.yaml(backend: "second", baseURL: second.v1, port: 1, reloadInterval: "0s"))
            let reloaded = try await gateway.request("POST", "/v1/admin/reload", headers: OutcomeLogTests.admin)
            #expect(reloaded.status == 200, "\(reloaded.body)")
            #expect(reloaded.body.contains(#""result":"reloaded""#) && reloaded.body.contains(#""generation":2"#))
            #expect(reloaded.body.contains("server.port changed"))
            #expect(try await gateway.chat(chatBody(model: "m")).header("x-phigate-backend") == "second")

            try Self.write(file, "server: { port: many }")
            let rejected = try await gateway.request("POST", "/v1/admin/reload", headers: OutcomeLogTests.admin)
            #expect(rejected.status == 400 && rejected.body.contains("reload_rejected") && rejected.body.contains("server.port"), "\(rejected.body)")
            #expect(try await gateway.chat(chatBody(model: "m")).header("x-phigate-backend") == "second")
        }
    }

    @Test("a reload keeps what keys have spent of their rate limits")
        func rateLimitsSurviveReload() async throws {
            let limits = "limits: { per_key: { requests_per_minute: 2 } }"
            try await Self.withConfigFile({ Self.yaml(backend: "first", baseURL: $0, limits: limits) }) { gateway, file, second in
                #expect(try await gateway.chat(chatBody(model: "m")).status == 200)
                #expect(try await gateway.chat(chatBody(model: "m")).status == 200)
                try Self.write(file, Self.yaml(backend: "second", baseURL: second.v1, limits: limits))
                #expect(try await Self.eventually { gateway.logText.contains("Configuration reloaded") })
                let third = try await gateway.chat(chatBody(model: "m"))
                #expect(third.status == 429, "\(third.body)")
            }
        }

        @Test("60 reloads (valid, invalid, SIGHUP and file change) during 400 concurrent requests lose none")
        func noRequestLostUnderLoad() async throws {
            try await Self.withConfigFile({ Self.yaml(backend: "first", baseURL: $0) }) { gateway, file, second in
                let first = Self.yaml(backend: "first", baseURL: gateway.upstream.v1)
                let texts = [Self.yaml(backend: "second", baseURL: second.v1, withExtra: true), "server: [", first]
                let answered = try await gateway.completeAnswers(model: "m") {
                    for round in 0..<60 {
                        try Self.write(file, texts[round % texts.count])
                        if round % 2 == 0 { kill(getpid(), SIGHUP) }
                        try await Task.sleep(for: .milliseconds(40))
                    }
                }
                #expect(answered == 400)
                #expect(gateway.logText.contains("Configuration rejected") && gateway.logText.contains("Configuration reloaded"))
            }
        }

        @Test("start-only parts of a new configuration are replaced by the running ones, each reported")
        func reconcileKeepsStartOnlyParts() {
            var running = GatewayConfig(
                server: ServerConfig(host: "127.0.0.1", port: 8080),
                backends: [
                    BackendConfig(name: "phi", kind: .local, baseURL: "", models: [ModelConfig(name: "local")]),
                    BackendConfig(name: "openai", kind: .openai, baseURL: "http://a/v1", models: [ModelConfig(name: "gpt-4o")]),
                ],
                database: DatabaseConfig(path: "a.sqlite"))
            running.logLevel = .info
            var new = running
            new.server.port = 9090
            new.database.path = "b.sqlite"
            new.backends = [
                BackendConfig(name: "openai", kind: .openai, baseURL: "http://b/v1", models: [ModelConfig(name: "gpt-4o")]),
                BackendConfig(name: "phi", kind: .local, baseURL: "", models: [ModelConfig(name: "renamed")]),
            ]
            let (config, warnings) = ConfigReloader.reconcile(new, running: running)
            #expect(config.server.port == 8080 && config.database.path == "a.sqlite")
            #expect(config.backends.map(\.name) == ["openai", "phi"])
            #expect(config.backends[0].baseURL == "http://b/v1", "remote backends take the new values")
            #expect(config.backends[1].models.map(\.name) == ["local"], "local backends keep the running ones")
            #expect(warnings.count == 3)
            #expect(ConfigReloader.reconcile(running, running: running).1.isEmpty)
        }
    }
}
