import ArgumentParser
import Foundation
import Logging
import OutcomeStore

extension DevCommand {
    /// `phigate dev outcome-writer --db FILE`: records synthetic outcomes as fast as it can until killed, printing
    /// `committed N` after each committed batch. The crash-safety test kills it with SIGKILL mid-load.
    struct OutcomeWriter: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "outcome-writer",
            abstract: "Write synthetic outcomes through the recorder until killed (crash-safety tests).",
            shouldDisplay: false
        )

        @Option(help: "The outcome database.")
        var db: String

        @Option(help: "Entries per transaction.")
        var batchSize = 100

        @Option(help: "Stop after this many entries (0: never).")
        var count = 0

        func run() async throws {
            let store = try OutcomeStore(path: db)
            let recorder = OutcomeRecorder(
                store: store, configuration: .init(queueCapacity: batchSize * 4, batchSize: batchSize),
                logger: Logger(label: "phigate.dev.outcome-writer")
            ) { written in
                FileHandle.standardOutput.write(Data("committed \(written)\n".utf8))
            }
            let running = Task { try await recorder.run() }
            let padding = String(repeating: "p", count: 200)
            var i = 0
            while count == 0 || i < count {
                await recorder.record(
                    RequestOutcome(
                        id: "w-\(i)", time: Date(), tenant: "t\(i % 3)", requestedModel: "auto", backend: "local",
                        model: "phi", tier: .local, rule: "auto", decisionJSON: padding, difficultyScore: 0.5,
                        promptTokens: i % 1000, completionTokens: 10, totalTimeMs: 1, status: 200))
                i += 1
            }
            await recorder.flush()
            running.cancel()
            try await running.value
        }
    }
}
