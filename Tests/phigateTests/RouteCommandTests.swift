import ArgumentParser
import Foundation
import Routing
import Testing

@testable import phigate

@Suite("phigate route / policy check")
struct RouteCommandTests {
    static let root = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static func path(_ relative: String) -> String { root.appendingPathComponent(relative).path }

    func route(_ extra: [String]) throws -> (RouteDecision, RequestFeatures) {
        let command = try RouteCommand.parse([
            "--config", Self.path("config/phigate.example.yaml"), "--policy", Self.path("policies/default.yaml"),
            "--tokenizer", Self.path("policies/tokenizer/phi-3-vocab.gguf"),
        ] + extra)
        let (decision, features, _, counter) = try command.evaluate()
        #expect(counter.contains("phi-3-vocab.gguf"))
        return (decision, features)
    }

    @Test("route explains an auto decision with score, threshold and candidates")
    func autoDecision() throws {
        let (d, features) = try route(["--prompt", "What is the capital of France?"])
        #expect(features.promptTokens > 3 && features.promptTokens < 20)
        #expect(d.explanation.rule == "auto")
        #expect(d.explanation.difficultyScore != nil)
        #expect(d.explanation.threshold != nil)
        #expect(!d.explanation.candidates.isEmpty)
        let text = RouteCommand.text(d, features: features, policyFile: "policies/default.yaml", owned: true, tokenizer: "t")
        #expect(text.contains("difficulty score:"))
        #expect(text.contains("x-phigate-route: "))
    }

    @Test("route keeps a private request local and shows PII types, never values")
    func privateDecision() throws {
        let (d, features) = try route(["--prompt", "my SSN is 123-45-6789, write to jane@example.com", "--json"])
        #expect(d.plan.allSatisfy { $0.isLocal })
        #expect(d.routeHeader == "local/local")
        let json = try RouteCommand.json(d, features: features, tokenizer: "t")
        #expect(json.contains("\"us_ssn\" : 1"))
        #expect(!json.contains("123-45-6789"))
        #expect(!json.contains("jane@example.com"))
    }

    @Test("route reads a request file and headers")
    func requestFile() throws {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("route-\(UUID().uuidString).json")
        try #"{"model":"auto","messages":[{"role":"user","content":"hi"}],"tools":[{"type":"function","function":{"name":"f"}}]}"#
            .write(to: file, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(at: file) }
        let (d, _) = try route(["--request", file.path])
        #expect(d.explanation.rule == "tools-and-structured-output-to-frontier")
        let (p, _) = try route(["--request", file.path, "--header", "x-phigate-privacy: local-only"])
        #expect(p.explanation.rule == "private-stays-local")
    }

    @Test("route needs exactly one of --prompt and --request")
    func validation() {
        #expect(throws: (any Error).self) { _ = try RouteCommand.parse([]) }
        #expect(throws: (any Error).self) { _ = try RouteCommand.parse(["--prompt", "a", "--request", "b"]) }
    }

    @Test("policy check accepts every shipped policy against the example config")
    func policyCheckAccepts() async throws {
        for name in ["default", "privacy-first", "cost-saver", "latency-first"] {
            let command = try PolicyCommand.Check.parse([Self.path("policies/\(name).yaml"), "--config", Self.path("config/phigate.example.yaml")])
            try await command.run()
        }
    }

    @Test("policy check exits 1 on a bad policy")
    func policyCheckRejects() async throws {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("bad-\(UUID().uuidString).yaml")
        try "rules: [{ route: [tier:gpu] }]".write(to: file, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(at: file) }
        let command = try PolicyCommand.Check.parse([file.path, "--config", Self.path("config/phigate.example.yaml")])
        await #expect(throws: ExitCode(1)) { try await command.run() }
        #expect(Phigate.helpMessage(for: PolicyCommand.Check.self).contains("--config"))
    }
}
