import ArgumentParser
import Foundation
import PhiKernels
import Testing

@testable import phigate

@Suite("phigate command line")
struct CommandLineTests {
    /// `config/` at the repository root.
    static let configDirectory = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("config")

    static var configFiles: [String] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: configDirectory.path)) ?? []
        return names.filter { $0.hasSuffix(".yaml") || $0.hasSuffix(".yml") }.sorted()
            .map { configDirectory.appendingPathComponent($0).path }
    }

    @Test("the top-level help lists the commands")
    func topLevelHelp() {
        let help = Phigate.helpMessage()
        #expect(help.contains("OpenAI-compatible gateway"))
        #expect(help.contains("serve"))
        #expect(help.contains("config"))
        #expect(!help.contains("fake-upstream"))
        #expect(Phigate.configuration.version == Phigate.version)
    }

    @Test("serve --help explains its options")
    func serveHelp() {
        let help = Phigate.helpMessage(for: ServeCommand.self)
        #expect(help.contains("--config"))
        #expect(help.contains("config/phigate.yaml"))
        #expect(help.contains("--host"))
        #expect(help.contains("--port"))
        #expect(help.contains("SIGTERM"))
    }

    @Test("config check --help names its argument")
    func configCheckHelp() {
        let help = Phigate.helpMessage(for: ConfigCommand.Check.self)
        #expect(help.contains("<file>"))
        #expect(help.contains("status 1"))
        #expect(Phigate.helpMessage(for: ConfigCommand.self).contains("check"))
    }

    @Test("serve rejects an out-of-range port")
    func servePortValidation() {
        #expect(throws: (any Error).self) { _ = try ServeCommand.parse(["--port", "70000"]) }
        #expect(throws: Never.self) { _ = try ServeCommand.parse(["--port", "0", "--host", "127.0.0.1"]) }
    }

    @Test("bench local --kernel-level takes scalar, avx2 or avx512 and names a bad value")
    func benchKernelLevel() throws {
        let command = try BenchCommand.Local.parse(["--model", "m.gguf", "--kernel-level", "avx2"])
        #expect(command.kernelLevel == "avx2" && command.levelCap("avx2") == .avx2)
        #expect(command.levelCap("avx512") == .avx512 && command.levelCap("scalar") == .scalar)
        #expect(throws: Never.self) { _ = try BenchCommand.Local.parse(["--model", "m.gguf"]) }
        do {
            _ = try BenchCommand.Local.parse(["--model", "m.gguf", "--kernel-level", "sse"])
            Issue.record("--kernel-level sse was accepted")
        } catch {
            #expect(BenchCommand.Local.message(for: error).contains("'sse'"))
        }
    }

    @Test("bench local --context takes a position count and rejects a negative one")
    func benchContext() throws {
        #expect(try BenchCommand.Local.parse(["--model", "m.gguf"]).context == 0)
        #expect(try BenchCommand.Local.parse(["--model", "m.gguf", "--context", "1024"]).context == 1024)
        do {
            _ = try BenchCommand.Local.parse(["--model", "m.gguf", "--context", "-3"])
            Issue.record("--context -3 was accepted")
        } catch {
            #expect(BenchCommand.Local.message(for: error).contains("--context"))
        }
    }

    @Test("there are configuration files to check")
    func configFilesExist() {
        #expect(!Self.configFiles.isEmpty)
    }

    @Test("config check accepts every file in config/", arguments: configFiles)
    func configCheckAccepts(file: String) async throws {
        let command = try ConfigCommand.Check.parse([file])
        try await command.run()
    }

    @Test("config check fails with exit code 1 on a bad file")
    func configCheckRejects() async throws {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("phigate-bad-\(UUID().uuidString).yaml")
        try "server:\n  port: eighty\nbackends: []\nsurprise: 1\n".write(to: file, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(at: file) }
        let command = try ConfigCommand.Check.parse([file.path])
        await #expect(throws: ExitCode(1)) { try await command.run() }
    }
}
