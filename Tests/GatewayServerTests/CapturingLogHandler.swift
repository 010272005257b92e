import Logging
import Synchronization

/// A log handler that keeps every record (all levels) in memory, for asserting what never gets logged.
struct CapturingLogHandler: LogHandler {
    final class Store: Sendable {
        private let lines = Mutex<[String]>([])

        func append(_ line: String) { lines.withLock { $0.append(line) } }
        var all: [String] { lines.withLock { $0 } }
        var text: String { all.joined(separator: "\n") }
    }

    let store: Store
    var metadata: Logger.Metadata = [:]
    var logLevel: Logger.Level = .trace

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        var merged = metadata
        if let extra = event.metadata { merged.merge(extra) { $1 } }
        store.append("\(event.level) \(event.message) \(merged) \(event.source) \(event.error.map { String(describing: $0) } ?? "")")
    }

    /// A logger at trace level writing into a fresh store.
    static func makeLogger() -> (Logger, Store) {
        let store = Store()
        let logger = Logger(label: "phigate.test") { _ in CapturingLogHandler(store: store) }
        return (logger, store)
    }
}
