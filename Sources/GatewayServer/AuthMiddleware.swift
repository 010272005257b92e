import Hummingbird

/// A gateway API key as the server checks it: the SHA-256 digest of the key, never the key.
public struct GatewayKey: Sendable {
    public var id: String
    public var tenant: String
    /// SHA-256 of the key's UTF-8 bytes (32 bytes).
    public var digest: [UInt8]

    public init(id: String, tenant: String, digest: [UInt8]) {
        self.id = id
        self.tenant = tenant
        self.digest = digest
    }

    /// A key from its lowercase or uppercase hex SHA-256 digest; nil when `hex` is not 64 hex digits.
    public init?(id: String, tenant: String, sha256Hex hex: String) {
        guard let digest = Self.bytes(fromHex: hex), digest.count == 32 else { return nil }
        self.init(id: id, tenant: tenant, digest: digest)
    }

    /// A key from its plaintext (e.g. read from an environment variable); only the digest is kept.
    public init(id: String, tenant: String, plaintext: String) {
        self.init(id: id, tenant: tenant, digest: SHA256.digest(plaintext.utf8))
    }

    static func bytes(fromHex hex: String) -> [UInt8]? {
        let utf8 = Array(hex.utf8)
        guard utf8.count.isMultiple(of: 2) else { return nil }
        var out: [UInt8] = []
        out.reserveCapacity(utf8.count / 2)
        func nibble(_ c: UInt8) -> UInt8? {
            switch c {
            case 0x30...0x39: c - 0x30
            case 0x41...0x46: c - 0x41 + 10
            case 0x61...0x66: c - 0x61 + 10
            default: nil
            }
        }
        var i = 0
        while i < utf8.count {
            guard let high = nibble(utf8[i]), let low = nibble(utf8[i + 1]) else { return nil }
            out.append(high << 4 | low)
            i += 2
        }
        return out
    }
}

/// Checks `Authorization: Bearer <key>` against the configured gateway keys (SHA-256, constant-time
/// comparison against every key). With no keys configured every request passes.
struct AuthMiddleware: RouterMiddleware {
    typealias Context = GatewayRequestContext
    let keys: [GatewayKey]

    func handle(
        _ request: Request,
        context: GatewayRequestContext,
        next: (Request, GatewayRequestContext) async throws -> Response
    ) async throws -> Response {
        if keys.isEmpty { return try await next(request, context) }
        guard let authorization = request.headers[.authorization] else { throw GatewayError.missingKey }
        let utf8 = authorization.utf8
        guard utf8.count > 7, authorization.prefix(7).lowercased() == "bearer " else { throw GatewayError.missingKey }
        let presented = SHA256.digest(utf8.dropFirst(7))
        var match: GatewayKey?
        for key in keys where SHA256.constantTimeEqual(key.digest, presented) {
            match = key
        }
        guard let match else { throw GatewayError.invalidKey }
        var context = context
        context.keyID = match.id
        context.tenant = match.tenant
        return try await next(request, context)
    }
}
