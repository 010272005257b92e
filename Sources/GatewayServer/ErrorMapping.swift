import Hummingbird
import Logging
import NIOCore
import OpenAIWire

/// The one mapping from any error to the gateway's error response.
enum ErrorMapping {
    /// The `GatewayError` for `error`. Unexpected errors become a generic 500 and are logged with the request id.
    static func gatewayError(for error: any Error, requestID: String, logger: Logger) -> GatewayError {
        switch error {
        case let error as GatewayError:
            return error
        case let error as OpenAIError:
            return GatewayError(error)
        case is NIOTooManyBytesError:
            return .bodyTooLarge(limit: 0)
        case let error as DecodingError:
            return GatewayError(OpenAIError(decodingError: error))
        case let error as HTTPError:
            switch error.status {
            case .notFound: return .notFound
            case .contentTooLarge:
                return GatewayError(status: .contentTooLarge, message: "Request body is too large.", type: "invalid_request_error", code: "request_too_large")
            case .methodNotAllowed:
                return GatewayError(status: .methodNotAllowed, message: "Method not allowed on this path.", type: "invalid_request_error")
            default:
                if error.status.code < 500 {
                    return GatewayError(
                        status: error.status,
                        message: error.body ?? error.status.reasonPhrase,
                        type: "invalid_request_error"
                    )
                }
                return unexpected(error, requestID: requestID, logger: logger)
            }
        default:
            if let mapped = UpstreamErrorMapping.gatewayError(for: error) { return mapped }
            return unexpected(error, requestID: requestID, logger: logger)
        }
    }

    static func response(for error: any Error, requestID: String, logger: Logger) -> Response {
        gatewayError(for: error, requestID: requestID, logger: logger).makeResponse()
    }

    private static func unexpected(_ error: any Error, requestID: String, logger: Logger) -> GatewayError {
        logger.error(
            "Unexpected error while serving a request",
            metadata: ["request.id": .string(requestID), "error.type": .string(String(reflecting: type(of: error)))]
        )
        return .internalError
    }
}

extension GatewayError {
    init(_ error: OpenAIError, backend: String? = nil) {
        self.init(
            status: HTTPResponse.Status(code: error.status),
            message: error.message,
            type: error.type,
            param: error.param,
            code: error.code,
            backend: backend
        )
    }
}
