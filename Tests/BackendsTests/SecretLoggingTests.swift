import Backends
import FakeUpstream
import Foundation
import Logging
import OpenAIWire
import PhigateConfig
import Synchronization
import Testing

/// Collects every log record (message and metadata, rendered) in memory.
final class RecordingLogHandler: LogHandler, Sendable {
    static let records = Mutex<[String]>([])

    var metadata: Logger.Metadata {
        get { [:] }
        set {}
    }

    var logLevel: Logger.Level {
        get { .trace }
        set {}
    }

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { nil }
        set {}
    }

    func log(event: LogEvent) {
        let line = "\(event.level) \(event.message) \(event.metadata ?? [:]) \(event.source) \(event.file)"
        Self.records.withLock { $0.append(line) }
    }
}

@Suite struct SecretLoggingTests {
    @Test func providerKeyNeverReachesLogsOrErrors() async throws {
        let logger = Logger(label: "secret-test") { _ in RecordingLogHandler() }
        let scripts: [FakeUpstream.Script] = [
            { _ in .openAIChat() },
            { _ in .openAIStream(includeUsage: true) },
            { _ in .openAIError(status: 401, message: "Incorrect API key provided: \(RemoteBackendTests.providerKey)") },
            { _ in .reset },
        ]
        var errors: [String] = []
        for kind in [BackendKind.openai, .anthropic] {
            for script in scripts {
                try await RemoteBackendTests.withBackend(kind, script: script) { backend, _ in
                    do {
                        _ = try await backend.complete(try RemoteBackendTests.chatRequest(), upstreamModel: "m", logger: logger)
                    } catch {
                        errors.append(String(describing: error))
                        if let fault = error as? UpstreamFault { errors.append(fault.openAIError(backend: backend.name).message) }
                    }
                    let (_, error) = await RemoteBackendTests.collect(
                        backend.stream(try RemoteBackendTests.chatRequest(stream: true), upstreamModel: "m", logger: logger))
                    if let error { errors.append(String(describing: error)) }
                    errors.append(String(describing: backend))
                    errors.append(String(reflecting: backend))
                }
            }
        }
        let logs = RecordingLogHandler.records.withLock { $0 }
        #expect(!logs.isEmpty, "the HTTP client logged through the injected logger")
        for line in logs + errors {
            #expect(!line.contains("PROVIDERKEY"), "\(line)")
        }
    }
}
