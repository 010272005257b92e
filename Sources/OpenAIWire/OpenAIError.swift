public import Foundation

/// An error as the OpenAI API reports it: an HTTP status and the envelope
/// `{"error":{"message","type","param","code"}}`.
public struct OpenAIError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The HTTP status to answer with.
    public var status: Int
    public var message: String
    public var type: String
    public var param: String?
    public var code: String?

    public init(status: Int, message: String, type: String, param: String? = nil, code: String? = nil) {
        self.status = status
        self.message = message
        self.type = type
        self.param = param
        self.code = code
    }

    public var description: String { "\(status) \(type): \(message)" }

    /// The JSON envelope written to the client.
    public struct Envelope: Sendable, Hashable, Codable {
        public struct Body: Sendable, Hashable, Codable {
            public var message: String
            public var type: String
            public var param: String?
            public var code: String?

            public func encode(to encoder: any Encoder) throws {
                var c = encoder.container(keyedBy: CodingKeys.self)
                try c.encode(message, forKey: .message)
                try c.encode(type, forKey: .type)
                try c.encode(param, forKey: .param)
                try c.encode(code, forKey: .code)
            }
        }
        public var error: Body
    }

    public var envelope: Envelope {
        Envelope(error: .init(message: message, type: type, param: param, code: code))
    }

    /// The envelope as JSON bytes.
    public func jsonData() -> Data { Data(jsonBytes()) }

    /// The envelope as JSON bytes.
    public func jsonBytes() -> [UInt8] {
        var writer = JSONWriter(capacity: 160 + message.utf8.count)
        writer.beginObject()
        writer.key("error")
        writer.beginObject()
        writer.key("message")
        writer.string(message)
        writer.key("type")
        writer.string(type)
        writer.nullableMember("param", param)
        writer.nullableMember("code", code)
        writer.endObject()
        writer.endObject()
        return writer.bytes
    }
}

extension OpenAIError {
    /// 400: malformed JSON or a schema violation; `param` names the field.
    public static func invalidRequest(_ message: String, param: String? = nil, code: String? = nil) -> OpenAIError {
        OpenAIError(status: 400, message: message, type: "invalid_request_error", param: param, code: code)
    }

    /// 404: the model is not served by this gateway.
    public static func modelNotFound(_ model: String) -> OpenAIError {
        OpenAIError(
            status: 404, message: "The model '\(model)' does not exist or you do not have access to it.",
            type: "invalid_request_error", param: "model", code: "model_not_found")
    }

    /// 401: missing or unknown gateway key.
    public static func unauthorized(_ message: String = "Incorrect or missing API key.") -> OpenAIError {
        OpenAIError(status: 401, message: message, type: "authentication_error", code: "invalid_api_key")
    }

    /// 413: body over the configured limit.
    public static func payloadTooLarge(limit: Int) -> OpenAIError {
        OpenAIError(
            status: 413, message: "Request body is larger than the limit of \(limit) bytes.",
            type: "invalid_request_error", code: "request_too_large")
    }

    /// 500 with a generic message: the details go to the log, keyed by the request id.
    public static func internalError(requestID: String? = nil) -> OpenAIError {
        let suffix = requestID.map { " (request id \($0))" } ?? ""
        return OpenAIError(status: 500, message: "The server had an error processing your request\(suffix).", type: "server_error")
    }
}

extension ChatCompletionRequest {
    /// Decodes and validates a request body (hand-rolled parser, no `JSONDecoder`); every failure is a 400
    /// naming the field.
    public static func decode(from data: Data) throws(OpenAIError) -> ChatCompletionRequest {
        let result = data.withUnsafeBytes { raw in
            Result { () throws(OpenAIError) in try decode(bytes: raw) }
        }
        return try result.get()
    }
}

extension OpenAIError {
    /// A 400 from a `DecodingError`, with the coding path rendered like `messages[2].role`.
    public init(decodingError error: DecodingError) {
        func path(_ codingPath: [any CodingKey], appending key: (any CodingKey)? = nil) -> String {
            var result = ""
            for key in codingPath + (key.map { [$0] } ?? []) {
                if let index = key.intValue {
                    result += "[\(index)]"
                } else if key.stringValue.hasPrefix("Index ") {
                    result += "[\(key.stringValue.dropFirst(6))]"
                } else {
                    result += result.isEmpty ? key.stringValue : ".\(key.stringValue)"
                }
            }
            return result
        }
        switch error {
        case .keyNotFound(let key, let context):
            let field = path(context.codingPath, appending: key)
            self = .invalidRequest("\(field): missing required field", param: field)
        case .typeMismatch(let type, let context):
            let field = path(context.codingPath)
            self = .invalidRequest("\(field): expected \(Self.jsonTypeName(type))", param: field)
        case .valueNotFound(let type, let context):
            let field = path(context.codingPath)
            self = .invalidRequest("\(field): expected \(Self.jsonTypeName(type)), found null", param: field)
        case .dataCorrupted(let context):
            let field = path(context.codingPath)
            if field.isEmpty {
                self = .invalidRequest("We could not parse the JSON body of your request.")
            } else {
                self = .invalidRequest("\(field): \(context.debugDescription)", param: field)
            }
        @unknown default:
            self = .invalidRequest("We could not parse the JSON body of your request.")
        }
    }

    private static func jsonTypeName(_ type: Any.Type) -> String {
        switch type {
        case is String.Type: "a string"
        case is Bool.Type: "a boolean"
        case is Int.Type, is Int64.Type: "an integer"
        case is Double.Type, is Float.Type: "a number"
        case is [Any].Type: "an array"
        default:
            String(describing: type).hasPrefix("Array") ? "an array" : "an object"
        }
    }
}
