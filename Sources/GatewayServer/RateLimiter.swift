import Synchronization

/// A token bucket that holds one minute's worth (`perMinute`) and refills continuously. A value: the limiter
/// keeps them in a dictionary behind one `Mutex`, and the tests drive them with explicit instants.
struct TokenBucket: Sendable, Hashable {
    private(set) var perMinute: Int
    /// Tokens available; negative after a reservation was reconciled upwards (debt, repaid by refill).
    private(set) var level: Double
    private(set) var updatedAt: ContinuousClock.Instant

    init(perMinute: Int, now: ContinuousClock.Instant) {
        self.perMinute = perMinute
        self.level = Double(perMinute)
        self.updatedAt = now
    }

    private var perSecond: Double { Double(perMinute) / 60 }

    /// Refills up to capacity; a changed rate (a key's limit edited) keeps the level, clamped.
    mutating func refill(at now: ContinuousClock.Instant, perMinute rate: Int) {
        if rate != perMinute {
            perMinute = rate
            level = min(level, Double(rate))
        }
        let elapsed = updatedAt.duration(to: now)
        if elapsed > .zero {
            level = min(Double(perMinute), level + perSecond * elapsed.inSeconds)
            updatedAt = now
        }
    }

    /// How long until `amount` may be taken; zero when it may be now. A request larger than the bucket needs a
    /// full bucket (and then leaves it in debt), so it is slowed down, never refused forever.
    func wait(for amount: Int) -> Duration {
        let needed = min(Double(amount), Double(perMinute))
        guard level < needed else { return .zero }
        return .seconds((needed - level) / perSecond)
    }

    mutating func take(_ amount: Int) { level -= Double(amount) }

    /// Adds back (negative: takes more), never above capacity.
    mutating func adjust(by amount: Int) { level = min(Double(perMinute), level + Double(amount)) }
}

/// Per-key and per-tenant rate limits: token buckets keyed by (subject, unit), all behind one `Mutex`: a request
/// checks and takes from all its buckets in one critical section, so it is admitted by all or none.
final class RateLimiter: Sendable {
    /// Whose bucket.
    enum Subject: Hashable, Sendable {
        case key(String)
        case tenant(String)
    }

    enum Unit: String, Hashable, Sendable {
        case requests = "requests_per_minute"
        case tokens = "tokens_per_minute"
    }

    struct BucketID: Hashable, Sendable {
        var subject: Subject
        var unit: Unit
    }

    /// One amount to take from one bucket of the given rate.
    struct Charge: Sendable {
        var bucket: BucketID
        var perMinute: Int
        var amount: Int
        /// The limit's name for the refusal (`limits.per_key.requests_per_minute`).
        var limitName: String
    }

    /// Why a request was refused and when to come back.
    struct Refusal: Error, Sendable, Hashable {
        var bucket: BucketID
        var limitName: String
        var perMinute: Int
        var retryAfter: Duration
    }

    private let buckets = Mutex<[BucketID: TokenBucket]>([:])
    private let now: @Sendable () -> ContinuousClock.Instant

    /// - Parameter now: the clock (tests drive it).
    init(now: @escaping @Sendable () -> ContinuousClock.Instant = { .now }) {
        self.now = now
    }

    /// Takes every charge, or none and says which limit refused (the one with the longest wait).
    func take(_ charges: [Charge]) throws(Refusal) {
        guard !charges.isEmpty else { return }
        let instant = now()
        let refusal: Refusal? = buckets.withLock { buckets in
            var worst: Refusal?
            for charge in charges {
                var bucket = buckets[charge.bucket] ?? TokenBucket(perMinute: charge.perMinute, now: instant)
                bucket.refill(at: instant, perMinute: charge.perMinute)
                buckets[charge.bucket] = bucket
                let wait = bucket.wait(for: charge.amount)
                if wait > .zero, wait > (worst?.retryAfter ?? .zero) {
                    worst = Refusal(bucket: charge.bucket, limitName: charge.limitName, perMinute: charge.perMinute, retryAfter: wait)
                }
            }
            guard worst == nil else { return worst }
            for charge in charges { buckets[charge.bucket]?.take(charge.amount) }
            return nil
        }
        if let refusal { throw refusal }
    }

    /// Gives back (negative: takes more) after the real usage is known.
    func adjust(_ bucket: BucketID, by amount: Int) {
        guard amount != 0 else { return }
        let instant = now()
        buckets.withLock { buckets in
            guard var current = buckets[bucket] else { return }
            current.refill(at: instant, perMinute: current.perMinute)
            current.adjust(by: amount)
            buckets[bucket] = current
        }
    }

    /// The bucket's level now (tests).
    func level(_ bucket: BucketID) -> Double? {
        let instant = now()
        return buckets.withLock { buckets in
            guard var current = buckets[bucket] else { return nil }
            current.refill(at: instant, perMinute: current.perMinute)
            return current.level
        }
    }
}

extension Duration {
    /// Seconds as a floating-point number.
    var inSeconds: Double {
        let (seconds, attoseconds) = components
        return Double(seconds) + Double(attoseconds) / 1e18
    }
}
