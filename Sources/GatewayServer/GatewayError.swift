public import Hummingbird
import NIOCore

/// The one error type of the gateway's HTTP boundary: it renders itself as the OpenAI error envelope
/// `{"error":{"message","type","param","code"}}` with its status.
public struct GatewayError: Error, Sendable, HTTPResponseError, CustomStringConvertible {
    public var status: HTTPResponse.Status
    /// Safe to show to the client: never a key, never prompt text.
    public var message: String
    /// OpenAI's `type` (`invalid_request_error`, `authentication_error`, `api_error`, …).
    public var type: String
    /// The request field at fault, if any (`messages[0].role`).
    public var param: String?
    /// OpenAI's `code` (`model_not_found`, `invalid_api_key`, …).
    public var code: String?
    /// The backend the request was routed to, for `x-phigate-backend`.
    public var backend: String?
    /// Extra response headers (e.g. `retry-after` from an upstream).
    public var headers: HTTPFields

    public init(
        status: HTTPResponse.Status,
        message: String,
        type: String,
        param: String? = nil,
        code: String? = nil,
        backend: String? = nil,
        headers: HTTPFields = [:]
    ) {
        self.status = status
        self.message = message
        self.type = type
        self.param = param
        self.code = code
        self.backend = backend
        self.headers = headers
    }

    public var description: String { "GatewayError(\(status.code) \(type): \(message))" }

    // MARK: - The errors the gateway answers

    public static func invalidRequest(_ message: String, param: String? = nil, code: String? = nil) -> GatewayError {
        GatewayError(status: .badRequest, message: message, type: "invalid_request_error", param: param, code: code)
    }

    public static func unknownModel(_ model: String) -> GatewayError {
        GatewayError(
            status: .notFound,
            message: "The model '\(model.prefix(200))' does not exist or is not served by this gateway.",
            type: "invalid_request_error",
            param: "model",
            code: "model_not_found"
        )
    }

    public static let missingKey = GatewayError(
        status: .unauthorized,
        message: "Missing gateway API key: send it as 'Authorization: Bearer <key>'.",
        type: "invalid_request_error",
        code: "invalid_api_key"
    )

    public static let invalidKey = GatewayError(
        status: .unauthorized,
        message: "Incorrect gateway API key provided.",
        type: "invalid_request_error",
        code: "invalid_api_key"
    )

    public static func bodyTooLarge(limit: Int) -> GatewayError {
        GatewayError(
            status: .contentTooLarge,
            message: "Request body is larger than the gateway's limit of \(limit) bytes.",
            type: "invalid_request_error",
            code: "request_too_large"
        )
    }

    public static let notFound = GatewayError(
        status: .notFound,
        message: "Unknown path.",
        type: "invalid_request_error",
        code: "unknown_url"
    )

    public static let internalError = GatewayError(
        status: .internalServerError,
        message: "The gateway failed to process the request; see its logs with this request id.",
        type: "api_error",
        code: "internal_error"
    )

    // MARK: - Rendering

    /// `{"error":{"message":…,"type":…,"param":…,"code":…}}`
    public var envelopeJSON: String {
        #"{"error":{"message":\#(JSONEscaping.quoted(message)),"type":\#(JSONEscaping.quoted(type)),"param":\#(param.map(JSONEscaping.quoted) ?? "null"),"code":\#(code.map(JSONEscaping.quoted) ?? "null")}}"#
    }

    public func response(from request: Request, context: some RequestContext) throws -> Response {
        makeResponse()
    }

    func makeResponse() -> Response {
        var fields = headers
        fields[.contentType] = "application/json"
        if let backend { fields[.phigateBackend] = backend }
        return Response(status: status, headers: fields, body: ResponseBody(byteBuffer: ByteBuffer(string: envelopeJSON)))
    }
}

/// `HTTPField.Name` without importing HTTPTypes (Hummingbird re-exports `HTTPFields` only).
typealias HeaderName = HTTPFields.Element.Name

extension HTTPFields.Element.Name {
    static let requestID = HeaderName("x-request-id")!
    static let phigateBackend = HeaderName("x-phigate-backend")!
    static let retryAfter = HeaderName("retry-after")!
}

/// JSON string quoting for the few bodies the server writes by hand.
enum JSONEscaping {
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
