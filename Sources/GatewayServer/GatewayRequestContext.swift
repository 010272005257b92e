public import Hummingbird
public import PhigateConfig

/// Per-request state shared by the gateway's middleware and routes.
public struct GatewayRequestContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    /// The request id echoed in `x-request-id` (the client's if sane, else generated).
    public var requestID: String = ""
    /// When the request arrived (for latency metrics).
    public var startedAt: ContinuousClock.Instant = .now
    /// The gateway key that authenticated the request, if keys are configured.
    public var keyID: String?
    public var tenant: String?
    /// The key's role (`admin` reads dashboards); nil without authentication.
    public var role: GatewayKeyRole?
    /// What a database key may do (models, backends, rate); nil for configuration keys.
    public var grant: KeyGrant?
    /// The configuration pipeline this request is served by, taken once when it arrives.
    var pipeline: GatewayPipeline?

    public init(source: ApplicationRequestContextSource) {
        self.coreContext = .init(source: source)
    }
}

extension GatewayRequestContext {
    /// The request's pipeline, or the one in force for a request that did not pass `AuthMiddleware`.
    func pipeline(or holder: GatewayPipelineHolder) -> GatewayPipeline {
        pipeline ?? holder.current
    }
}
