import OpenAIWire
public import PhigateConfig
import Synchronization

/// What a gateway key from the database may do beyond its tenant and role: models, backends, its own rate.
public struct KeyGrant: Sendable, Hashable {
    /// Served model names or aliases the key may ask for; empty: any.
    public var allowedModels: Set<String>
    /// Backends the key's requests may reach (routed requests included); empty: any.
    public var allowedBackends: Set<String>
    /// The key's own rate (replaces `limits.keys` / `limits.per_key`).
    public var rate: RateLimit?

    public init(allowedModels: Set<String> = [], allowedBackends: Set<String> = [], rate: RateLimit? = nil) {
        self.allowedModels = allowedModels
        self.allowedBackends = allowedBackends
        self.rate = rate
    }

    /// The grant of the request being served (bound by `AuthMiddleware`), read by `GuardedBackend` so routed
    /// requests are held to `allowedBackends` too.
    @TaskLocal static var current: KeyGrant?
}

/// The per-request limits of `limits:`: allowed models, message count, `max_tokens`, key and tenant rates.
/// The handler calls `admit` once the body is parsed; the reservation is settled with the real usage.
final class RequestLimits: Sendable {
    let config: LimitsConfig
    let limiter: RateLimiter

    convenience init(config: LimitsConfig, now: @escaping @Sendable () -> ContinuousClock.Instant = { .now }) {
        self.init(config: config, limiter: RateLimiter(now: now))
    }

    /// With the buckets of `limiter`: a configuration reload keeps what each key and tenant has spent.
    init(config: LimitsConfig, limiter: RateLimiter) {
        self.config = config
        self.limiter = limiter
    }

    /// Tokens a request reserves: its prompt estimate plus the completion it asks for (0 when it names none;
    /// the real usage is charged when it is known).
    static func reservedTokens(_ request: ChatCompletionRequest) -> Int {
        var bytes = 0
        for message in request.messages { bytes += message.textForLimits.utf8.count }
        return (bytes + 3) / 4 + max(request.effectiveMaxTokens ?? 0, 0)
    }

    /// Checks `request` against every limit and reserves its share of the rate limits.
    /// `servedModel` is the served name the request's model (or alias) resolved to.
    func admit(
        _ request: ChatCompletionRequest, servedModel: String, keyID: String?, tenant: String?, grant: KeyGrant?
    ) throws(GatewayError) -> Admission? {
        if let grant, !grant.allowedModels.isEmpty,
           !grant.allowedModels.contains(request.model), !grant.allowedModels.contains(servedModel) {
            throw .modelNotAllowed(request.model, keyID: keyID, allowed: grant.allowedModels)
        }
        if let most = config.maxMessages, request.messages.count > most {
            throw GatewayError(
                status: .contentTooLarge,
                message: "The request has \(request.messages.count) messages; limits.max_messages allows at most \(most).",
                type: "invalid_request_error", param: "messages", code: "too_many_messages")
        }
        if let most = config.maxTokens, let asked = request.effectiveMaxTokens, asked > most {
            let param = request.maxCompletionTokens != nil ? "max_completion_tokens" : "max_tokens"
            throw GatewayError.invalidRequest(
                "\(param) is \(asked); limits.max_tokens allows at most \(most).", param: param, code: "max_tokens_too_large")
        }
        let tokens = Self.reservedTokens(request)
        var charges: [RateLimiter.Charge] = []
        var tokenBuckets: [RateLimiter.BucketID] = []
        func add(_ subject: RateLimiter.Subject, _ rate: RateLimit?, name: String) {
            guard let rate else { return }
            if let perMinute = rate.requestsPerMinute {
                charges.append(.init(
                    bucket: .init(subject: subject, unit: .requests), perMinute: perMinute, amount: 1,
                    limitName: "\(name).requests_per_minute"))
            }
            if let perMinute = rate.tokensPerMinute {
                let bucket = RateLimiter.BucketID(subject: subject, unit: .tokens)
                charges.append(.init(bucket: bucket, perMinute: perMinute, amount: tokens, limitName: "\(name).tokens_per_minute"))
                tokenBuckets.append(bucket)
            }
        }
        let keyID = keyID ?? "anonymous"
        if let rate = grant?.rate {
            add(.key(keyID), rate, name: "the key's own limit")
        } else {
            add(.key(keyID), config.rate(forKey: keyID), name: config.keys[keyID] != nil ? "limits.keys.\(keyID)" : "limits.per_key")
        }
        let tenant = tenant ?? "anonymous"
        add(.tenant(tenant), config.rate(forTenant: tenant), name: config.tenants[tenant] != nil ? "limits.tenants.\(tenant)" : "limits.per_tenant")
        do {
            try limiter.take(charges)
        } catch {
            throw .rateLimited(error)
        }
        return tokenBuckets.isEmpty ? nil : Admission(limiter: limiter, tokenBuckets: tokenBuckets, reserved: tokens)
    }
}

/// A request's token reservation; settled once with the usage the backend reported.
final class Admission: Sendable {
    private let limiter: RateLimiter
    private let tokenBuckets: [RateLimiter.BucketID]
    private let reserved: Int
    private let isSettled = Mutex(false)

    init(limiter: RateLimiter, tokenBuckets: [RateLimiter.BucketID], reserved: Int) {
        self.limiter = limiter
        self.tokenBuckets = tokenBuckets
        self.reserved = reserved
    }

    /// Replaces the reservation by what was used (`usage` nil: the estimate stands); nothing used on failure.
    func settle(usage: Usage?) {
        guard let usage else { return }
        settle(tokens: usage.promptTokens + usage.completionTokens)
    }

    /// Gives the whole reservation back (the request failed before any tokens were spent).
    func refund() { settle(tokens: 0) }

    private func settle(tokens: Int) {
        guard !isSettled.withLock({ settled in defer { settled = true }; return settled }) else { return }
        for bucket in tokenBuckets { limiter.adjust(bucket, by: reserved - tokens) }
    }
}

extension ChatMessage {
    /// The text a message contributes to the prompt estimate.
    var textForLimits: String {
        content?.text ?? ""
    }
}

extension GatewayError {
    static func rateLimited(_ refusal: RateLimiter.Refusal) -> GatewayError {
        let seconds = max(1, Int(refusal.retryAfter.inSeconds.rounded(.up)))
        let whose: String = switch refusal.bucket.subject {
        case .key(let id): "key '\(id)'"
        case .tenant(let tenant): "tenant '\(tenant)'"
        }
        return GatewayError(
            status: .tooManyRequests,
            message: "Rate limit reached for \(whose): \(refusal.limitName) is \(refusal.perMinute); retry after \(seconds) s.",
            type: "rate_limit_error", code: "rate_limit_exceeded", headers: [.retryAfter: String(seconds)])
    }

    static func modelNotAllowed(_ model: String, keyID: String?, allowed: Set<String>) -> GatewayError {
        GatewayError(
            status: .forbidden,
            message: "The gateway key '\(keyID ?? "?")' may not use the model '\(model.prefix(200))' (allowed: \(allowed.sorted().joined(separator: ", "))).",
            type: "invalid_request_error", param: "model", code: "model_not_allowed")
    }

    static func backendNotAllowed(_ backend: String) -> GatewayError {
        GatewayError(
            status: .forbidden,
            message: "This gateway key may not use the backend '\(backend)'.",
            type: "invalid_request_error", param: "model", code: "backend_not_allowed", backend: backend)
    }

    static func backendBusy(_ backend: String, limit: Int) -> GatewayError {
        GatewayError(
            status: .tooManyRequests,
            message: "Backend '\(backend)' is at its concurrency limit (limits.backend_concurrency.\(backend) = \(limit) requests in flight); retry shortly.",
            type: "rate_limit_error", code: "backend_concurrency_limit", backend: backend, headers: [.retryAfter: "1"])
    }
}
