import FakeUpstream
import Foundation
import PhigateConfig
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// SIGHUP reloads the routing policy (here with the file poll off, `reload_interval: 0s`), and an invalid policy on
/// SIGHUP leaves the old one serving.
@Suite("Policy reload on SIGHUP")
struct PolicySignalReloadTests {
    static func policy(routeSmartTo tier: String) -> String {
        """
        owns: [smart]
        defaults: { route: [tier:frontier] }
        auto: { threshold: 0.5 }
        rules:
          - { name: smart-rule, when: { model: [smart] }, route: [tier:\(tier)] }
        """
    }

    static func rewrite(_ file: URL, _ text: String) throws {
        try text.write(to: file, atomically: true, encoding: .utf8)
    }

    @Test("SIGHUP applies a new policy; an invalid one is rejected and the old keeps serving")
    func sighupReloads() async throws {
        let local = try await FakeUpstream.start(script: FakeUpstream.standardScript)
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("phigate-sighup-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let file = dir.appendingPathComponent("policy.yaml")
        try Self.policy(routeSmartTo: "frontier").write(to: file, atomically: true, encoding: .utf8)
        do {
            try await GatewayHarness.run(configure: { config in
                config.backends.append(BackendConfig(
                    name: "local", kind: .openai, baseURL: local.baseURL + "/v1", models: [ModelConfig(name: "phi-local")]))
                config.routing = RoutingConfig(
                    policyFile: file.path, tiers: ["local": ["local"], "frontier": ["gpt-4o-mini"]], reloadInterval: .zero)
            }) { gateway in
                func backend() async throws -> String? { try await gateway.chat(chatBody(model: "smart")).header("x-phigate-backend") }
                let first = try await gateway.chat(chatBody(model: "smart"))
                #expect(first.header("x-phigate-backend") == "openai", "\(first.status) \(first.body)")

                try Self.rewrite(file, Self.policy(routeSmartTo: "local"))
                try await Task.sleep(for: .seconds(3))  // longer than the default poll interval
                #expect(try await backend() == "openai", "with the poll off only SIGHUP reloads")

                kill(getpid(), SIGHUP)
                var now = try await backend()
                // Generous: when the whole suite runs, compute-heavy tests can hold the cooperative pool for seconds.
                for _ in 0..<600 where now != "local" {
                    try await Task.sleep(for: .milliseconds(100))
                    now = try await backend()
                }
                #expect(now == "local", "SIGHUP did not reload the policy")

                try Self.rewrite(file, "rules: [ { name: broken, when: { nonsense: 1 } } ]")
                kill(getpid(), SIGHUP)
                for _ in 0..<600 where !gateway.logText.contains("Routing policy rejected") {
                    try await Task.sleep(for: .milliseconds(100))
                }
                #expect(try await backend() == "local", "an invalid policy must not replace the one in force")
                #expect(gateway.logText.contains("Routing policy rejected"))
            }
        } catch {
            await local.shutdown()
            throw error
        }
        await local.shutdown()
    }
}
