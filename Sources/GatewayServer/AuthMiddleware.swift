import Hummingbird
import PhigateConfig

/// Checks `Authorization: Bearer <key>` against the resolved gateway keys (SHA-256 digests compared in
/// constant time against every key). With no usable keys every request passes (loopback only, enforced at start).
struct AuthMiddleware: RouterMiddleware {
    typealias Context = GatewayRequestContext
    let resolved: ResolvedConfig

    func handle(
        _ request: Request,
        context: GatewayRequestContext,
        next: (Request, GatewayRequestContext) async throws -> Response
    ) async throws -> Response {
        guard resolved.requiresAuthentication else { return try await next(request, context) }
        guard let authorization = request.headers[.authorization] else { throw GatewayError.missingKey }
        guard authorization.utf8.count > 7, authorization.prefix(7).lowercased() == "bearer " else {
            throw GatewayError.missingKey
        }
        guard let key = resolved.gatewayKey(matching: String(authorization.dropFirst(7))) else {
            throw GatewayError.invalidKey
        }
        var context = context
        context.keyID = key.id
        context.tenant = key.tenant
        context.role = key.role
        return try await next(request, context)
    }
}
