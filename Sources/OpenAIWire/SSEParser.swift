/// One server-sent event: its `event:` name (if any) and its `data:` lines joined by `\n`.
public struct SSEEvent: Sendable, Hashable {
    public var event: String?
    public var data: [UInt8]

    public init(event: String? = nil, data: [UInt8]) {
        self.event = event
        self.data = data
    }

    /// The OpenAI end-of-stream marker `data: [DONE]`.
    public var isDone: Bool { data == SSEEvent.doneMarker }

    public var dataString: String { String(decoding: data, as: UTF8.self) }

    static let doneMarker = Array("[DONE]".utf8)
}

/// An incremental parser of a `text/event-stream` body (WHATWG rules): feed it bytes in whatever pieces the
/// network delivers; it reports each complete event once. Handles `\n`, `\r\n` and `\r` line ends (also when a
/// `\r\n` pair is split between two pieces), multi-line `data`, `:` comments, and ignores `id`/`retry`.
public struct SSEParser: Sendable {
    private var line: [UInt8] = []
    private var data: [UInt8] = []
    private var hasData = false
    private var eventName: String?
    private var lastWasCR = false

    public init() {}

    /// Bytes held for the event in progress (a partial line plus its earlier `data` lines): callers cap it so an
    /// upstream that never ends a line cannot grow memory without bound.
    public var bufferedByteCount: Int { line.count + data.count }

    /// Feeds the next piece of the body and calls `onEvent` for each event it completes.
    public mutating func feed(_ bytes: UnsafeRawBufferPointer, _ onEvent: (SSEEvent) throws -> Void) rethrows {
        var start = 0
        var index = 0
        let count = bytes.count
        while index < count {
            let byte = bytes[index]
            if byte == UInt8(ascii: "\n") || byte == UInt8(ascii: "\r") {
                if byte == UInt8(ascii: "\n") && lastWasCR && index == start && line.isEmpty {
                    // Second half of a `\r\n` pair.
                    lastWasCR = false
                    index += 1
                    start = index
                    continue
                }
                line.append(contentsOf: UnsafeRawBufferPointer(rebasing: bytes[start..<index]))
                lastWasCR = byte == UInt8(ascii: "\r")
                try processLine(onEvent)
                index += 1
                start = index
            } else {
                lastWasCR = false
                index += 1
            }
        }
        if start < count {
            line.append(contentsOf: UnsafeRawBufferPointer(rebasing: bytes[start..<count]))
        }
    }

    /// Feeds bytes from any collection (convenience for tests and small inputs).
    public mutating func feed(_ bytes: some Collection<UInt8>, _ onEvent: (SSEEvent) throws -> Void) rethrows {
        let array = Array(bytes)
        try array.withUnsafeBytes { try feed($0, onEvent) }
    }

    /// Ends the body: an event without its terminating blank line is dropped (as the spec says), but reported
    /// through the return value so callers can tell a cut stream.
    public mutating func finish() -> Bool {
        let hadPartial = !line.isEmpty || hasData
        line.removeAll()
        data.removeAll()
        hasData = false
        eventName = nil
        return hadPartial
    }

    private mutating func processLine(_ onEvent: (SSEEvent) throws -> Void) rethrows {
        defer { line.removeAll(keepingCapacity: true) }
        if line.isEmpty {
            guard hasData else {
                eventName = nil
                return
            }
            let event = SSEEvent(event: eventName, data: data)
            data.removeAll(keepingCapacity: true)
            hasData = false
            eventName = nil
            try onEvent(event)
            return
        }
        if line[0] == UInt8(ascii: ":") { return }
        let colon = line.firstIndex(of: UInt8(ascii: ":")) ?? line.endIndex
        let field = line[..<colon]
        var valueStart = colon == line.endIndex ? colon : colon + 1
        if valueStart < line.endIndex && line[valueStart] == UInt8(ascii: " ") { valueStart += 1 }
        let value = line[valueStart...]
        if field.elementsEqual("data".utf8) {
            if hasData { data.append(UInt8(ascii: "\n")) }
            data.append(contentsOf: value)
            hasData = true
        } else if field.elementsEqual("event".utf8) {
            eventName = String(decoding: value, as: UTF8.self)
        }
    }
}

/// Frames server-sent events for the client stream.
public enum SSEEncoder {
    /// `data: [DONE]\n\n`, the OpenAI end-of-stream marker.
    public static let done: [UInt8] = Array("data: [DONE]\n\n".utf8)

    /// `data: <payload>\n\n`; `payload` must not contain newlines (compact JSON does not).
    public static func frame(data payload: some Collection<UInt8>) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(payload.count + 8)
        out.append(contentsOf: "data: ".utf8)
        out.append(contentsOf: payload)
        out.append(contentsOf: "\n\n".utf8)
        return out
    }

    /// `event: <name>\ndata: <payload>\n\n`.
    public static func frame(event name: String, data payload: some Collection<UInt8>) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(payload.count + name.utf8.count + 16)
        out.append(contentsOf: "event: ".utf8)
        out.append(contentsOf: name.utf8)
        out.append(contentsOf: "\ndata: ".utf8)
        out.append(contentsOf: payload)
        out.append(contentsOf: "\n\n".utf8)
        return out
    }
}
