import Hummingbird
import PhigateConfig
import Routing

/// Checks `Authorization: Bearer <key>` against the resolved gateway keys (SHA-256 digests compared in
/// constant time against every key), then against the database keys (`phigate keys`). With no usable keys
/// anywhere every request passes (loopback only, enforced at start and at each reload). It takes the pipeline in
/// force for the request, so a reload never changes the keys or backends a request is checked and served with.
struct AuthMiddleware: RouterMiddleware {
    typealias Context = GatewayRequestContext
    let pipelines: GatewayPipelineHolder
    /// Keys from the database; nil when the server has none to read.
    var database: DatabaseKeys?

    func handle(
        _ request: Request,
        context: GatewayRequestContext,
        next: (Request, GatewayRequestContext) async throws -> Response
    ) async throws -> Response {
        var context = context
        let pipeline = pipelines.current
        context.pipeline = pipeline
        let resolved = pipeline.resolved
        if !resolved.requiresAuthentication {
            guard let database, await database.hasActiveKeys() else { return try await next(request, context) }
        }
        guard let authorization = request.headers.firstValue(.authorization) else { throw GatewayError.missingKey }
        guard authorization.utf8.count > 7, authorization.prefix(7).lowercased() == "bearer " else {
            throw GatewayError.missingKey
        }
        let presented = String(authorization.dropFirst(7))
        if let key = resolved.gatewayKey(matching: presented) {
            context.keyID = key.id
            context.tenant = key.tenant
            context.role = key.role
            return try await next(request, context)
        }
        guard let database, let stored = await database.key(matching: SHA256Digest.digest(Array(presented.utf8))) else {
            throw GatewayError.invalidKey
        }
        context.keyID = stored.id
        context.tenant = stored.tenant
        context.role = GatewayKeyRole(rawValue: stored.role) ?? .user
        let grant = stored.grant
        context.grant = grant
        return try await KeyGrant.$current.withValue(grant) { try await next(request, context) }
    }
}
