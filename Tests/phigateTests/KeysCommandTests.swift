import ArgumentParser
import Foundation
import OutcomeStore
import Testing

@testable import phigate

@Suite("phigate keys")
struct KeysCommandTests {
    @Test("create, list and revoke through the commands; list never shows a secret or its hash")
    func lifecycle() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("phigate-keys-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        let db = directory.appendingPathComponent("phigate.sqlite").path
        try await KeysCommand.Create.parse([
            "--db", db, "--tenant", "acme", "--id", "team-a", "--models", "gpt-4o-mini, fast", "--requests-per-minute", "5",
        ]).run()
        try await KeysCommand.Create.parse(["--db", db, "--tenant", "ops", "--role", "admin", "--id", "ops"]).run()
        let keys = try KeyStore(OutcomeStore(path: db)).list()
        #expect(keys.map(\.id) == ["team-a", "ops"] || keys.map(\.id) == ["ops", "team-a"])
        let teamA = try #require(keys.first { $0.id == "team-a" })
        #expect(teamA.allowedModels == ["gpt-4o-mini", "fast"] && teamA.requestsPerMinute == 5 && teamA.role == "user")
        let table = KeysCommand.List.table(keys)
        #expect(table.contains("team-a") && table.contains("gpt-4o-mini,fast") && table.contains("active"))
        for key in keys { #expect(!table.contains(key.sha256) && !table.contains(key.sha256.prefix(12))) }
        #expect(!table.contains("pg-"))
        try await KeysCommand.Revoke.parse(["--db", db, "team-a"]).run()
        let after = try KeyStore(OutcomeStore(path: db)).list()
        #expect(KeysCommand.List.table(after).contains("revoked"))
        await #expect(throws: (any Error).self) { try await KeysCommand.Revoke.parse(["--db", db, "team-a"]).run() }
    }

    @Test("create validates its options", arguments: [
        ["--db", "x.sqlite", "--tenant", "t", "--role", "root"],
        ["--db", "x.sqlite", "--tenant", ""],
        ["--db", "x.sqlite", "--tenant", "t", "--requests-per-minute", "0"],
        ["--db", "x.sqlite", "--tenant", "t", "--models", " , "],
        ["--db", "x.sqlite"],
    ])
    func validation(arguments: [String]) {
        #expect(throws: (any Error).self) { try KeysCommand.Create.parse(arguments) }
    }

    @Test("the help lists keys")
    func help() {
        #expect(Phigate.helpMessage().contains("keys"))
        #expect(Phigate.helpMessage(for: KeysCommand.Create.self).contains("--tenant"))
    }
}
