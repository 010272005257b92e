// `phigate model pull`: fetch a GGUF from Hugging Face (or a mirror), resumable and SHA-256 checked.

import ArgumentParser
import Foundation
import Logging
import ModelHub

#if canImport(Glibc)
import Glibc
#endif

/// `phigate model pull REPO/FILE [--revision R] [--to DIR] [--base-url URL] [--retries N] [--quiet]`
struct ModelPullCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pull",
        abstract: "Download a model file (GGUF) from Hugging Face or a mirror: resumable, SHA-256 checked.",
        discussion: """
            REPO/FILE is owner/name/path/in/repo.gguf: the first two components name the repository. The file \
            comes from {base}/{repo}/resolve/{revision}/{file}, streams into DIR/NAME.part (hashed on the way), \
            is checked against the size and SHA-256 the server publishes, and is then renamed to DIR/NAME. The \
            final path is printed on stdout; progress goes to stderr. An interrupted download resumes where it \
            stopped when the same command runs again; a file already complete is not fetched again.

            Environment:
              HF_ENDPOINT  base URL when --base-url is not given (default https://huggingface.co)
              HF_TOKEN     bearer token for gated or private repositories; sent to the base URL's host only

            Examples:
              phigate model pull microsoft/Phi-3-mini-4k-instruct-gguf/Phi-3-mini-4k-instruct-q4.gguf
              phigate model pull TheBloke/phi-2-GGUF/phi-2.Q4_0.gguf --to ~/models
            """)

    @Argument(help: ArgumentHelp("The file to fetch: owner/name/path/in/repo.gguf.", valueName: "repo/file"))
    var spec: String

    @Option(help: "Branch, tag or commit.")
    var revision = "main"

    @Option(name: .customLong("to"), help: ArgumentHelp("Folder to put the file in (created if missing).", valueName: "dir"))
    var directory = "models"

    @Option(help: ArgumentHelp("Server base URL (default: $HF_ENDPOINT, else https://huggingface.co).", valueName: "url"))
    var baseURL: String?

    @Option(help: "How many times a broken-off transfer is resumed automatically.")
    var retries = 3

    @Flag(name: .shortAndLong, help: "No progress output: only the final path on stdout, errors on stderr.")
    var quiet = false

    @Flag(help: "Log each request on stderr (never the token).")
    var verbose = false

    func validate() throws {
        do {
            let reference = try ModelReference(parsing: spec, revision: revision)
            _ = try reference.url(base: HubEndpoint.baseURL(option: baseURL, environment: ProcessInfo.processInfo.environment))
        } catch {
            throw ValidationError(error.description)
        }
        if retries < 0 { throw ValidationError("--retries: expected 0 or more, found \(retries)") }
    }

    func run() async throws {
        let environment = ProcessInfo.processInfo.environment
        let reference = try ModelReference(parsing: spec, revision: revision)
        var logger = Logger(label: "phigate.model.pull") { StreamLogHandler.standardError(label: $0) }
        logger.logLevel = verbose ? .debug : .warning
        let downloader = ModelDownloader(
            options: ModelDownloadOptions(
                baseURL: HubEndpoint.baseURL(option: baseURL, environment: environment),
                directory: directory,
                token: HubEndpoint.token(environment: environment),
                retries: retries,
                userAgent: "phigate/\(Phigate.version)"),
            logger: logger)
        var reporter = PullProgressReporter(
            name: reference.fileName, isTerminal: isatty(STDERR_FILENO) != 0, isQuiet: quiet, write: Standard.error)
        do {
            let result = try await downloader.download(reference) { reporter.handle($0) }
            reporter.finish(result)
            Standard.output(result.path + "\n")
        } catch let error as ModelHubError {
            reporter.abandonLine()
            Standard.error("error: \(error.description)\n")
            throw ExitCode(1)
        }
    }
}

/// Turns download events into what a person reads on stderr: a few sentences and a progress meter.
struct PullProgressReporter {
    let name: String
    let isTerminal: Bool
    let isQuiet: Bool
    let write: (String) -> Void
    private var meter: ProgressMeter?
    private var started = ContinuousClock.now
    private var isLineOpen = false

    init(name: String, isTerminal: Bool, isQuiet: Bool, write: @escaping (String) -> Void) {
        self.name = name
        self.isTerminal = isTerminal
        self.isQuiet = isQuiet
        self.write = write
    }

    mutating func handle(_ event: DownloadEvent) {
        guard !isQuiet else { return }
        switch event {
        case .resolved(let url, let info):
            let size = info.size.map { ByteCount.mib($0) } ?? "size unknown"
            let check = info.sha256 == nil ? "no SHA-256 published" : "SHA-256 published"
            say("\(name): \(size), \(check) (\(url))")
        case .checkingExisting(let path):
            say("Checking \(path), which is already there")
        case .replacingExisting(let path, let reason):
            say("\(path) differs from the remote file (\(reason)): downloading it again")
        case .hashingPartial(let path, let bytes):
            say("Resuming after the \(ByteCount.mib(bytes)) in \(path)")
        case .restarting(let reason):
            closeLine()
            say("Starting over: \(reason)")
        case .started(let offset, let total):
            meter = ProgressMeter(style: isTerminal ? .terminal() : .lines(), total: total, offset: offset)
            started = .now
            show(bytes: offset)
        case .received(let bytes, _):
            show(bytes: bytes)
        case .retrying(let attempt, let count, let reason, let offset):
            closeLine()
            say("Transfer broke off (\(reason)); resuming at \(ByteCount.mib(offset)), attempt \(attempt) of \(count)")
        case .verifying:
            if let meter, let bytes = lastBytes {
                write(meter.finish(bytes: bytes, elapsed: .now - started))
                isLineOpen = false
            }
            meter = nil
        }
    }

    private var lastBytes: Int64?

    private mutating func show(bytes: Int64) {
        lastBytes = bytes
        guard var current = meter, let text = current.update(bytes: bytes, elapsed: .now - started) else { return }
        meter = current
        write(text)
        isLineOpen = isTerminal
    }

    mutating func finish(_ result: DownloadResult) {
        guard !isQuiet else { return }
        closeLine()
        let check = result.isChecksumVerified ? "SHA-256 verified" : "size checked; no SHA-256 published"
        switch result.outcome {
        case .alreadyPresent:
            say("\(result.path) is already complete (\(check))")
        case .downloaded:
            say("Saved \(result.path) (\(ByteCount.mib(result.bytes)), \(check))")
        }
    }

    /// Ends a half-drawn bar line before an error message.
    mutating func abandonLine() { closeLine() }

    private mutating func closeLine() {
        if isLineOpen { write("\n") }
        isLineOpen = false
    }

    private func say(_ text: String) { write(text + "\n") }
}
