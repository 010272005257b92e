/// What the fake upstream does with one request: answer (fixed body or a paced stream), reset the
/// connection, or stall. Built with the static helpers below or by hand.
public struct FakeResponse: Sendable {
    /// How a streamed body ends after its last scripted chunk.
    public enum StreamEnding: Sendable, Equatable {
        /// Terminating chunk written: a clean end of the HTTP body.
        case complete
        /// The connection is closed without the terminating chunk (a truncated chunked body).
        case close
        /// The connection is reset (SO_LINGER 0, then close): the peer sees ECONNRESET.
        case reset
        /// Nothing more is written; the connection stays open until the peer goes away.
        case stall
    }

    public enum Body: Sendable {
        /// A body sent in one piece with a `content-length`.
        case full([UInt8])
        /// A chunked body: each element written separately, `interval` apart.
        case stream(chunks: [[UInt8]], interval: Duration, ending: StreamEnding)
    }

    public enum Action: Sendable {
        case respond(status: Int, headers: [(String, String)], body: Body)
        /// Reset the connection without writing anything.
        case reset
        /// Read the request, then never answer.
        case stall
    }

    public var action: Action
    /// Wait this long before writing the response head (or before resetting).
    public var delayBeforeHeaders: Duration
    /// For streams: wait this long after the head before the first chunk.
    public var delayBeforeFirstByte: Duration

    public init(action: Action, delayBeforeHeaders: Duration = .zero, delayBeforeFirstByte: Duration = .zero) {
        self.action = action
        self.delayBeforeHeaders = delayBeforeHeaders
        self.delayBeforeFirstByte = delayBeforeFirstByte
    }

    // MARK: - Modifiers

    /// The same response, delayed before its head.
    public func delayed(by delay: Duration) -> FakeResponse {
        var copy = self
        copy.delayBeforeHeaders = delay
        return copy
    }

    /// The same response with one more header.
    public func adding(header name: String, value: String) -> FakeResponse {
        var copy = self
        if case .respond(let status, var headers, let body) = action {
            headers.append((name, value))
            copy.action = .respond(status: status, headers: headers, body: body)
        }
        return copy
    }

    // MARK: - Generic shapes

    public static let reset = FakeResponse(action: .reset)
    public static let stall = FakeResponse(action: .stall)

    public static func json(_ json: String, status: Int = 200, headers: [(String, String)] = []) -> FakeResponse {
        FakeResponse(
            action: .respond(
                status: status,
                headers: [("content-type", "application/json")] + headers,
                body: .full(Array(json.utf8))
            )
        )
    }

    /// A `text/event-stream` answer: each event is written as its own chunk.
    public static func sse(
        _ events: [String],
        interval: Duration = .zero,
        ending: StreamEnding = .complete,
        status: Int = 200
    ) -> FakeResponse {
        FakeResponse(
            action: .respond(
                status: status,
                headers: [("content-type", "text/event-stream"), ("cache-control", "no-cache")],
                body: .stream(chunks: events.map { Array($0.utf8) }, interval: interval, ending: ending)
            )
        )
    }

    /// An OpenAI-style error envelope with the given status.
    public static func openAIError(
        status: Int,
        message: String,
        type: String = "server_error",
        headers: [(String, String)] = []
    ) -> FakeResponse {
        .json(
            #"{"error":{"message":\#(JSONText.quoted(message)),"type":\#(JSONText.quoted(type)),"param":null,"code":null}}"#,
            status: status,
            headers: headers
        )
    }

    /// An Anthropic-style error body with the given status.
    public static func anthropicError(
        status: Int,
        message: String,
        type: String = "api_error",
        headers: [(String, String)] = []
    ) -> FakeResponse {
        .json(
            #"{"type":"error","error":{"type":\#(JSONText.quoted(type)),"message":\#(JSONText.quoted(message))}}"#,
            status: status,
            headers: headers
        )
    }
}

/// A tool call as the fake upstream returns it.
public struct FakeToolCall: Sendable {
    public var id: String
    public var name: String
    /// The arguments as a JSON object text, e.g. `{"city":"Paris"}`.
    public var argumentsJSON: String

    public init(id: String = "call_1", name: String, argumentsJSON: String) {
        self.id = id
        self.name = name
        self.argumentsJSON = argumentsJSON
    }
}

/// Minimal JSON text helpers (the fake builds its bodies as text so every byte is under test control).
enum JSONText {
    static func quoted(_ string: String) -> String {
        var out = "\""
        out.reserveCapacity(string.utf8.count + 2)
        for scalar in string.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where scalar.value < 0x20:
                let hex = String(scalar.value, radix: 16)
                out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            default: out.unicodeScalars.append(scalar)
            }
        }
        out += "\""
        return out
    }
}
