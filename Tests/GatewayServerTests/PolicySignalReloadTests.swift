import FakeUpstream
import Foundation
import PhigateConfig
import Testing

#if canImport(Glibc)
import Glibc
#endif

extension SIGHUPSuites {
    /// SIGHUP reloads the routing policy (here with the file poll off, `reload_interval: 0s`), an invalid policy on
    /// SIGHUP leaves the old one serving, and reloads under load lose no request. Serialized: SIGHUP reaches every
    /// gateway in the process.
    @Suite("Policy reload on SIGHUP and under load", .serialized)
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
            try await RoutingPolicyTests.withPolicyFile(
                policy: Self.policy(routeSmartTo: "frontier"),
                configure: { $0.routing?.reloadInterval = .zero }
            ) { gateway, _, file in
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
        }

        @Test("40 reloads (valid and invalid) during 400 concurrent requests lose none")
        func noRequestLost() async throws {
            let policies = [
                RoutingPolicyTests.policy,
                RoutingPolicyTests.policy.replacingOccurrences(of: "route: [tier:frontier], redact: true", with: "route: [tier:local]"),
                "rules: [ { name: broken, when: { nonsense: 1 } } ]",
            ]
            try await RoutingPolicyTests.withPolicyFile { gateway, _, file in
                let answered = try await gateway.completeAnswers(model: "smart") {
                    for round in 0..<40 {
                        try policies[round % policies.count].write(to: file, atomically: true, encoding: .utf8)
                        if round % 2 == 0 { kill(getpid(), SIGHUP) }
                        try await Task.sleep(for: .milliseconds(25))
                    }
                }
                #expect(answered == 400)
            }
        }
    }
}
