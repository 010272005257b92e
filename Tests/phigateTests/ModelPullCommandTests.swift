import ArgumentParser
import ModelHub
import Testing

@testable import phigate

@Suite("phigate model pull")
struct ModelPullCommandTests {
    @Test("pull --help explains REPO/FILE, the options and the environment")
    func help() {
        let help = Phigate.helpMessage(for: ModelPullCommand.self)
        for text in ["owner/name/path/in/repo.gguf", "--revision", "--to", "--base-url", "--quiet", "HF_TOKEN", "HF_ENDPOINT", "resume"] {
            #expect(help.contains(text), "help lacks \(text)")
        }
    }

    @Test("model pull is reachable from the root and has defaults")
    func parses() throws {
        let command = try Phigate.parseAsRoot(["model", "pull", "TheBloke/phi-2-GGUF/phi-2.Q4_0.gguf"])
        let pull = try #require(command as? ModelPullCommand)
        #expect(pull.spec == "TheBloke/phi-2-GGUF/phi-2.Q4_0.gguf")
        #expect(pull.revision == "main")
        #expect(pull.directory == "models")
        #expect(!pull.quiet)
    }

    @Test("a spec without owner/name/file is refused before anything is fetched")
    func refusesBadSpec() {
        let error = #expect(throws: (any Error).self) { _ = try ModelPullCommand.parse(["phi-2.Q4_0.gguf"]) }
        let message = error.map { ModelPullCommand.message(for: $0) } ?? ""
        #expect(message.contains("owner/name/file.gguf"), "\(message)")
    }

    @Test("the reporter writes sentences and a plain meter when stderr is not a terminal, nothing when quiet")
    func reporter() {
        var lines: [String] = []
        var reporter = PullProgressReporter(name: "m.gguf", isTerminal: false, isQuiet: false) { lines.append($0) }
        let events: [DownloadEvent] = [
            .resolved(url: "http://h/o/n/resolve/main/m.gguf", info: RemoteFileInfo(size: 2 << 20, sha256: String(repeating: "a", count: 64))),
            .started(offset: 0, total: 2 << 20),
            .received(bytes: 1 << 20, total: 2 << 20),
            .received(bytes: 2 << 20, total: 2 << 20),
            .verifying,
        ]
        for event in events { reporter.handle(event) }
        reporter.finish(DownloadResult(path: "models/m.gguf", bytes: 2 << 20, sha256: nil, isChecksumVerified: true, outcome: .downloaded(resumedFrom: 0)))
        #expect(lines.first == "m.gguf: 2.0 MiB, SHA-256 published (http://h/o/n/resolve/main/m.gguf)\n")
        #expect(lines.contains { $0.hasPrefix(" 50%") })
        #expect(lines.last == "Saved models/m.gguf (2.0 MiB, SHA-256 verified)\n")
        #expect(!lines.contains { $0.contains("\r") })

        var quietLines: [String] = []
        var quiet = PullProgressReporter(name: "m.gguf", isTerminal: true, isQuiet: true) { quietLines.append($0) }
        for event in events { quiet.handle(event) }
        #expect(quietLines.isEmpty)
    }
}
