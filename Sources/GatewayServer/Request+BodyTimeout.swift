import Hummingbird
import NIOCore

extension Request {
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
