import Foundation
import GRDB
import Testing

@testable import OutcomeStore

@Suite("Outcome store crash safety")
struct CrashSafetyTests {
    /// The `phigate` executable built next to this test bundle (`swift test` builds every product).
    static var phigateExecutable: URL? {
        let candidates = [
            URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent(),
            Bundle.main.bundleURL.deletingLastPathComponent(),
            Bundle.main.bundleURL,
        ]
        return candidates.map { $0.appendingPathComponent("phigate") }
            .first { FileManager.default.isExecutableFile(atPath: $0.path) }
    }

    @Test("kill -9 under load leaves a valid database holding every committed batch")
    func killDuringWrites() async throws {
        let executable = try #require(Self.phigateExecutable, "build the phigate product first (swift build)")
        let path = OutcomeStoreTests.temporaryPath()
        defer { OutcomeStoreTests.remove(path) }

        let process = Process()
        process.executableURL = executable
        process.arguments = ["dev", "outcome-writer", "--db", path, "--batch-size", "50"]
        let output = Pipe()
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        try process.run()

        // Read "committed N" lines until enough batches are on disk, then kill without warning.
        var lastCommitted = 0
        var buffer = ""
        let reader = output.fileHandleForReading
        while lastCommitted < 3_000 {
            let data = reader.availableData
            if data.isEmpty { break }
            buffer += String(decoding: data, as: UTF8.self)
            let lines = buffer.split(separator: "\n", omittingEmptySubsequences: false)
            buffer = String(lines.last ?? "")
            for line in lines.dropLast() where line.hasPrefix("committed ") {
                lastCommitted = Int(line.dropFirst("committed ".count)) ?? lastCommitted
            }
        }
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
        #expect(process.terminationReason == .uncaughtSignal)
        #expect(lastCommitted >= 3_000)

        let store = try OutcomeStore(path: path)
        let integrity = try store.read { db in try String.fetchAll(db, sql: "PRAGMA integrity_check") }
        #expect(integrity == ["ok"])
        let count = try store.requestCount()
        #expect(count >= lastCommitted)
        // Batches commit in order and whole: the rows are exactly the first `count` entries written.
        let maxIndex = try store.read { db in
            try Int.fetchOne(db, sql: "SELECT MAX(CAST(substr(id, 3) AS INTEGER)) FROM request")
        }
        #expect(maxIndex == count - 1)
    }
}
