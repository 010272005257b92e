import Logging

/// `StreamLogHandler` output, with metadata kept as it is set and formatted only when a line is written.
/// `StreamLogHandler` formats all of its metadata every time one key is set, and the server sets a request id on
/// every request's logger: that formatting cost more than the request's JSON work, for lines that are rarely
/// written (request lines are at debug level).
struct DeferredMetadataLogHandler: LogHandler {
    private var stream: StreamLogHandler
    var metadata: Logger.Metadata = [:]

    init(_ stream: StreamLogHandler) {
        self.stream = stream
    }

    var logLevel: Logger.Level {
        get { stream.logLevel }
        set { stream.logLevel = newValue }
    }

    var metadataProvider: Logger.MetadataProvider? {
        get { stream.metadataProvider }
        set { stream.metadataProvider = newValue }
    }

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        // The line's own metadata wins over the logger's, as in StreamLogHandler.
        var event = event
        let merged = event.metadata.map { metadata.merging($0) { _, line in line } } ?? metadata
        event.metadata = merged.isEmpty ? nil : merged
        stream.log(event: event)
    }
}
