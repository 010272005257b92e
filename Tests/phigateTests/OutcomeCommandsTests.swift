import ArgumentParser
import Foundation
import Testing

@testable import phigate

@Suite("phigate export / tune")
struct OutcomeCommandsTests {
    static func temporaryDirectory() -> URL {
        FileManager.default.temporaryDirectory.appendingPathComponent("phigate-cli-\(UUID().uuidString)")
    }

    @Test("the help lists export and tune, not the hidden writer")
    func help() {
        let help = Phigate.helpMessage()
        #expect(help.contains("export"))
        #expect(help.contains("tune"))
        #expect(!help.contains("outcome-writer"))
        #expect(Phigate.helpMessage(for: ExportCommand.self).contains("--tenant"))
        #expect(Phigate.helpMessage(for: TuneCommand.self).contains("--target-quality"))
    }

    @Test("export writes the six dashboards from a database")
    func export() async throws {
        let directory = Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let db = directory.appendingPathComponent("outcomes.sqlite").path
        let writer = try DevCommand.OutcomeWriter.parse(["--db", db, "--count", "120", "--batch-size", "25"])
        try await writer.run()
        let out = directory.appendingPathComponent("csv")
        let export = try ExportCommand.parse([
            "--db", db, "--out", out.path, "--frontier-model", "gpt-4o", "--frontier-price", "2.50,10",
        ])
        try await export.run()
        let files = try FileManager.default.contentsOfDirectory(atPath: out.path).sorted()
        #expect(files == ["cost_daily.csv", "latency.csv", "pareto.csv", "quality.csv", "requests.csv", "routes.csv"])
        let requests = try String(contentsOf: out.appendingPathComponent("requests.csv"), encoding: .utf8)
        #expect(requests.components(separatedBy: "\r\n").filter { !$0.isEmpty }.count == 121)
        let tenant = try ExportCommand.parse(["--db", db, "--out", out.path, "--tenant", "t1"])
        try await tenant.run()
        let routes = try String(contentsOf: out.appendingPathComponent("routes.csv"), encoding: .utf8)
        #expect(routes.contains("auto,40,1.000000,0.000000,0\r\n"))
        let tune = try TuneCommand.parse(["--db", db, "--target-quality", "0.9"])
        try await tune.run()
    }

    @Test("bad options are rejected with the option's name")
    func validation() throws {
        let directory = Self.temporaryDirectory()
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let db = directory.appendingPathComponent("x.sqlite").path
        _ = FileManager.default.createFile(atPath: db, contents: nil)
        #expect(throws: (any Error).self) { _ = try ExportCommand.parse(["--db", db, "--out", "x", "--from", "2026-13-01"]) }
        #expect(throws: (any Error).self) {
            _ = try ExportCommand.parse(["--db", db, "--out", "x", "--from", "2026-11-02", "--to", "2026-11-01"])
        }
        #expect(throws: (any Error).self) { _ = try ExportCommand.parse(["--db", db + ".missing", "--out", "x"]) }
        #expect(throws: (any Error).self) { _ = try ExportCommand.parse(["--db", db, "--out", "x", "--frontier-price", "1,2"]) }
        #expect(throws: (any Error).self) { _ = try TuneCommand.parse(["--db", db, "--write"]) }
        #expect(throws: (any Error).self) { _ = try TuneCommand.parse(["--db", db, "--target-quality", "0.9", "--max-cost", "1"]) }
        #expect(throws: Never.self) { _ = try TuneCommand.parse(["--db", db, "--max-cost", "1.25"]) }
    }

    @Test("prices parse exactly", arguments: [
        ("2.50,10", 2_500_000, 10_000_000), ("0.15,0.6", 150_000, 600_000), ("0,0.000001", 0, 1),
    ] as [(String, Int64, Int64)])
    func prices(text: String, input: Int64, output: Int64) {
        let price = OutcomeQueryOptions.price(text)
        #expect(price?.inputMicrosPerMillion == input)
        #expect(price?.outputMicrosPerMillion == output)
    }

    @Test("malformed prices are refused", arguments: ["2.5", "a,b", "1.0000001,1", "-1,2", "1.,2"])
    func badPrices(text: String) {
        #expect(OutcomeQueryOptions.price(text) == nil)
    }
}
