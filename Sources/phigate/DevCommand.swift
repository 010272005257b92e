import ArgumentParser
import FakeUpstream
import Foundation

/// `phigate dev …`: development helpers (hidden from the main help).
struct DevCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dev",
        abstract: "Development helpers: a fake upstream, the benchmark's reference proxy, an outcome writer, a soak run.",
        shouldDisplay: false,
        subcommands: [FakeUpstreamCommand.self, ReferenceProxyCommand.self, OutcomeWriter.self, SoakCommand.self]
    )

    /// `phigate dev fake-upstream --port N`
    struct FakeUpstreamCommand: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "fake-upstream",
            abstract: "Serve OpenAI- and Anthropic-shaped answers on loopback until interrupted.",
            discussion: """
                Answers POST /v1/chat/completions (OpenAI) and POST /v1/messages (Anthropic), plain or streamed as \
                the request asks, with a tool call when the request has tools. Model "fail-500" answers 500, model \
                "fail-429" answers 429 with retry-after, model "slow" waits 2 s. Prints "listening on PORT" once bound.
                """
        )

        @Option(help: "Address to bind.")
        var host = "127.0.0.1"

        @Option(help: "Port to bind; 0 lets the system choose (the chosen port is printed).")
        var port = 0

        func run() async throws {
            let upstream = try await FakeUpstream.start(host: host, port: port, recordsRequests: false, script: FakeUpstream.standardScript)
            FileHandle.standardOutput.write(Data("listening on \(upstream.port)\n".utf8))
            await waitForInterruptOrTerminate()
            await upstream.shutdown()
        }
    }
}

/// Returns at the first SIGINT or SIGTERM (the dev servers' way to stop).
func waitForInterruptOrTerminate() async {
    let queue = DispatchQueue(label: "phigate.dev.signals")
    let signals = [SIGINT, SIGTERM].map { signalNumber in
        signal(signalNumber, SIG_IGN)
        return DispatchSource.makeSignalSource(signal: signalNumber, queue: queue)
    }
    await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
        let once = OnceFlag()
        for source in signals {
            source.setEventHandler { if once.claim() { continuation.resume() } }
            source.resume()
        }
    }
    for source in signals { source.cancel() }
}

/// True once, then false: lets several signal handlers resume one continuation.
private final class OnceFlag: @unchecked Sendable {
    // Only touched from the signal sources' serial dispatch queue, so no lock is needed.
    private var claimed = false

    func claim() -> Bool {
        if claimed { return false }
        claimed = true
        return true
    }
}
