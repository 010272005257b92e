public import Foundation
import GRDB
import Routing

/// A gateway key kept in the database (`phigate keys create`): only its SHA-256 is stored.
public struct StoredGatewayKey: Sendable, Hashable {
    public var id: String
    public var tenant: String
    /// `user` or `admin`.
    public var role: String
    /// Lowercase hex SHA-256 of the key.
    public var sha256: String
    /// Served model names or aliases it may use; empty: any.
    public var allowedModels: [String]
    /// Backends its requests may reach; empty: any.
    public var allowedBackends: [String]
    public var requestsPerMinute: Int?
    public var tokensPerMinute: Int?
    public var createdAt: Date
    /// When `keys revoke` disabled it; nil while active.
    public var revokedAt: Date?

    public init(
        id: String, tenant: String, role: String = "user", sha256: String, allowedModels: [String] = [],
        allowedBackends: [String] = [], requestsPerMinute: Int? = nil, tokensPerMinute: Int? = nil,
        createdAt: Date = Date(), revokedAt: Date? = nil
    ) {
        self.id = id
        self.tenant = tenant
        self.role = role
        self.sha256 = sha256
        self.allowedModels = allowedModels
        self.allowedBackends = allowedBackends
        self.requestsPerMinute = requestsPerMinute
        self.tokensPerMinute = tokensPerMinute
        self.createdAt = createdAt
        self.revokedAt = revokedAt
    }

    public var isActive: Bool { revokedAt == nil }
}

/// Gateway keys in the outcome database (table `gateway_key`, migration `v3-gateway-keys`).
public struct KeyStore: Sendable {
    let writer: any DatabaseWriter

    public init(_ store: OutcomeStore) {
        self.writer = store.writer
    }

    /// Why a key operation failed.
    public enum KeyError: Error, Sendable, Hashable, CustomStringConvertible {
        case duplicateID(String)
        case invalid(String)
        case database(String)

        public var description: String {
            switch self {
            case .duplicateID(let id): "a key with id '\(id)' already exists"
            case .invalid(let message): message
            case .database(let message): "key store: \(message)"
            }
        }
    }

    /// A fresh key: `pg-` and 43 base62 characters (256 bits).
    public static func generateSecret() -> String {
        let alphabet = Array("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz")
        var rng = SystemRandomNumberGenerator()
        return "pg-" + String((0..<43).map { _ in alphabet[Int.random(in: 0..<alphabet.count, using: &rng)] })
    }

    /// Creates a key and returns it with its secret, which is not stored and cannot be shown again.
    public func create(
        id: String?, tenant: String, role: String = "user", allowedModels: [String] = [], allowedBackends: [String] = [],
        requestsPerMinute: Int? = nil, tokensPerMinute: Int? = nil, now: Date = Date()
    ) throws(KeyError) -> (key: StoredGatewayKey, secret: String) {
        guard ["user", "admin"].contains(role) else { throw .invalid("role must be user or admin, found '\(role)'") }
        guard !tenant.isEmpty else { throw .invalid("tenant must not be empty") }
        let secret = Self.generateSecret()
        let key = StoredGatewayKey(
            id: id ?? "key-" + SHA256Digest.hex(of: secret).prefix(10), tenant: tenant, role: role,
            sha256: SHA256Digest.hex(of: secret), allowedModels: allowedModels, allowedBackends: allowedBackends,
            requestsPerMinute: requestsPerMinute, tokensPerMinute: tokensPerMinute,
            createdAt: Date(timeIntervalSince1970: now.timeIntervalSince1970.rounded(.down)))
        guard !key.id.isEmpty else { throw .invalid("id must not be empty") }
        do {
            try writer.write { db in
                if try Bool.fetchOne(db, sql: "SELECT 1 FROM gateway_key WHERE id = ?", arguments: [key.id]) == true {
                    throw KeyError.duplicateID(key.id)
                }
                try db.execute(
                    sql: """
                        INSERT INTO gateway_key (id, tenant, role, sha256, allowed_models, allowed_backends,
                          requests_per_minute, tokens_per_minute, created_at)
                        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
                        """,
                    arguments: [
                        key.id, key.tenant, key.role, key.sha256, key.allowedModels.joined(separator: ","),
                        key.allowedBackends.joined(separator: ","), key.requestsPerMinute, key.tokensPerMinute, key.createdAt,
                    ])
            }
        } catch let error as KeyError {
            throw error
        } catch {
            throw .database(String(describing: error))
        }
        return (key, secret)
    }

    /// Every key, active and revoked, oldest first.
    public func list() throws(KeyError) -> [StoredGatewayKey] {
        do {
            return try writer.read { db in try Row.fetchAll(db, sql: "SELECT * FROM gateway_key ORDER BY created_at, id").map(Self.key) }
        } catch {
            throw .database(String(describing: error))
        }
    }

    /// The active keys (what the server accepts), read without blocking the caller's thread.
    public func activeKeys() async throws(KeyError) -> [StoredGatewayKey] {
        do {
            return try await writer.read { db in
                try Row.fetchAll(db, sql: "SELECT * FROM gateway_key WHERE revoked_at IS NULL").map(Self.key)
            }
        } catch {
            throw .database(String(describing: error))
        }
    }

    /// Disables a key; false when no active key has that id.
    @discardableResult
    public func revoke(id: String, now: Date = Date()) throws(KeyError) -> Bool {
        do {
            return try writer.write { db in
                try db.execute(
                    sql: "UPDATE gateway_key SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL",
                    arguments: [Date(timeIntervalSince1970: now.timeIntervalSince1970.rounded(.down)), id])
                return db.changesCount > 0
            }
        } catch {
            throw .database(String(describing: error))
        }
    }

    static func key(from row: Row) -> StoredGatewayKey {
        func list(_ text: String?) -> [String] { (text ?? "").split(separator: ",").map(String.init) }
        return StoredGatewayKey(
            id: row["id"], tenant: row["tenant"], role: row["role"], sha256: row["sha256"],
            allowedModels: list(row["allowed_models"]), allowedBackends: list(row["allowed_backends"]),
            requestsPerMinute: row["requests_per_minute"], tokensPerMinute: row["tokens_per_minute"],
            createdAt: row["created_at"], revokedAt: row["revoked_at"])
    }

    /// The table, registered in `OutcomeStore.migrator`.
    static func migrate(_ db: Database) throws {
        try db.create(table: "gateway_key") { t in
            t.primaryKey("id", .text)
            t.column("tenant", .text).notNull()
            t.column("role", .text).notNull().defaults(to: "user")
            t.column("sha256", .text).notNull().unique()
            t.column("allowed_models", .text).notNull().defaults(to: "")
            t.column("allowed_backends", .text).notNull().defaults(to: "")
            t.column("requests_per_minute", .integer)
            t.column("tokens_per_minute", .integer)
            t.column("created_at", .datetime).notNull()
            t.column("revoked_at", .datetime)
        }
    }
}
