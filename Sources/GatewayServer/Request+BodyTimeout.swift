import Foundation
import Hummingbird
import NIOCore

extension Request {
    /// A JSON body: 415 when the client says it sends something else (no `content-type` is accepted), then
    /// `collectBody(upTo:timeout:)`.
    func collectJSONBody(upTo limit: Int, timeout: Duration) async throws -> ByteBuffer {
        if let type = headers[.contentType], !Self.isJSON(contentType: type) {
            throw GatewayError(
                status: .unsupportedMediaType,
                message: "Expected a JSON body with content-type application/json, found '\(type.prefix(80))'.",
                type: "invalid_request_error", code: "unsupported_media_type")
        }
        return try await collectBody(upTo: limit, timeout: timeout)
    }

    /// `application/json`, `text/json` or any `+json` type, parameters allowed.
    static func isJSON(contentType: String) -> Bool {
        let type = contentType.split(separator: ";", maxSplits: 1).first.map { $0.trimmingCharacters(in: .whitespaces).lowercased() } ?? ""
        return type == "application/json" || type == "text/json" || (type.hasPrefix("application/") && type.hasSuffix("+json"))
    }

    /// The body, at most `limit` bytes, received within `timeout` (else 408 `request_timeout`: a slow or stalled
    /// client, slowloris-style, does not hold a request open).
    func collectBody(upTo limit: Int, timeout: Duration) async throws -> ByteBuffer {
        let body = self.body
        return try await withThrowingTaskGroup(of: ByteBuffer.self) { group in
            group.addTask { try await body.collect(upTo: limit) }
            group.addTask {
                try await Task.sleep(for: timeout)
                throw GatewayError.bodyTimeout(timeout)
            }
            defer { group.cancelAll() }
            guard let first = try await group.next() else { throw GatewayError.bodyTimeout(timeout) }
            return first
        }
    }
}

extension GatewayError {
    static func bodyTimeout(_ timeout: Duration) -> GatewayError {
        GatewayError(
            status: .requestTimeout,
            message: "The request body was not received within limits.body_timeout (\(timeout)).",
            type: "invalid_request_error", code: "request_timeout", headers: [.connection: "close"])
    }
}
