import Hummingbird
import Logging

/// The outermost middleware: assigns the request id, maps every error to the OpenAI envelope (the one
/// error boundary), and stamps `x-request-id` and `x-phigate-backend` on every response.
struct GatewayBoundaryMiddleware: RouterMiddleware {
    typealias Context = GatewayRequestContext

    func handle(
        _ request: Request,
        context: GatewayRequestContext,
        next: (Request, GatewayRequestContext) async throws -> Response
    ) async throws -> Response {
        var context = context
        context.startedAt = .now
        let requestID = Self.requestID(from: request.headers.firstValue(.requestID))
        context.requestID = requestID
        var response: Response
        do {
            response = try await next(request, context)
        } catch {
            response = ErrorMapping.response(for: error, requestID: requestID, logger: context.logger)
        }
        response.headers[.requestID] = requestID
        if !response.headers.contains(.phigateBackend) {
            response.headers[.phigateBackend] = "none"
        }
        return response
    }

    /// The client's id when it is 1–128 characters of `[A-Za-z0-9._:-]`, else a fresh one.
    static func requestID(from header: String?) -> String {
        if let header, !header.isEmpty, header.utf8.count <= 128,
            header.utf8.allSatisfy({ byte in
                (byte >= 0x30 && byte <= 0x39) || (byte >= 0x41 && byte <= 0x5A) || (byte >= 0x61 && byte <= 0x7A)
                    || byte == 0x2E || byte == 0x5F || byte == 0x3A || byte == 0x2D
            })
        {
            return header
        }
        return RequestID().description
    }
}
