import OutcomeStore
import PhigateConfig
import Routing
import Synchronization

/// The gateway keys of the database (`phigate keys`), cached: a key found is trusted for `refreshInterval`
/// (so a revocation takes effect within it), a key not found reloads the table at most once per `missInterval`
/// (so a new key works within it, a second at most, and unknown keys cannot hammer the database).
final class DatabaseKeys: Sendable {
    struct Snapshot: Sendable {
        /// Active keys by lowercase hex SHA-256.
        var keys: [String: StoredGatewayKey] = [:]
        var loadedAt: ContinuousClock.Instant?
    }

    let store: KeyStore
    let refreshInterval: Duration
    let missInterval: Duration
    private let snapshot = Mutex(Snapshot())
    private let now: @Sendable () -> ContinuousClock.Instant

    init(
        store: KeyStore, refreshInterval: Duration, missInterval: Duration? = nil,
        now: @escaping @Sendable () -> ContinuousClock.Instant = { .now }
    ) {
        self.store = store
        self.refreshInterval = refreshInterval
        self.missInterval = missInterval ?? min(refreshInterval, .seconds(1))
        self.now = now
    }

    /// The active key whose SHA-256 is `digest`, if any.
    func key(matching digest: [UInt8]) async -> StoredGatewayKey? {
        let hex = SHA256Digest.hexString(digest)
        let instant = now()
        let (cached, age) = snapshot.withLock { ($0.keys[hex], $0.loadedAt.map { $0.duration(to: instant) }) }
        if let cached, let age, age < refreshInterval { return cached }
        if cached == nil, let age, age < missInterval { return nil }
        return await reload()?.keys[hex]
    }

    /// Whether any database key is active (then requests must authenticate even without configured keys).
    func hasActiveKeys() async -> Bool {
        let instant = now()
        let (isEmpty, age) = snapshot.withLock { ($0.keys.isEmpty, $0.loadedAt.map { $0.duration(to: instant) }) }
        if let age, age < refreshInterval { return !isEmpty }
        return !(await reload()?.keys.isEmpty ?? true)
    }

    /// Reads the table; on a database error the previous snapshot stays (and is retried on the next miss).
    @discardableResult
    func reload() async -> Snapshot? {
        let instant = now()
        guard let active = try? await store.activeKeys() else {
            snapshot.withLock { $0.loadedAt = instant }
            return nil
        }
        var fresh = Snapshot(loadedAt: instant)
        for key in active { fresh.keys[key.sha256] = key }
        snapshot.withLock { $0 = fresh }
        return fresh
    }
}

extension StoredGatewayKey {
    /// What the key may do, for the request context.
    var grant: KeyGrant {
        let rate = requestsPerMinute != nil || tokensPerMinute != nil
            ? RateLimit(requestsPerMinute: requestsPerMinute, tokensPerMinute: tokensPerMinute) : nil
        return KeyGrant(allowedModels: Set(allowedModels), allowedBackends: Set(allowedBackends), rate: rate)
    }
}
