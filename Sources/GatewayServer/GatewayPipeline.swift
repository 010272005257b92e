import AsyncHTTPClient
import Backends
import Foundation
import Logging
import PhigateConfig
import Routing
import Synchronization

/// Everything a request is served with that comes from the configuration file: resolved keys and models, the
/// backends (with their guards), routing, limits. A configuration reload builds a new one and swaps it in; each
/// request takes the one in force when it arrives and keeps it to the end, so a reload never changes a request
/// half-way and in-flight requests finish on the backends they started with.
final class GatewayPipeline: Sendable {
    let config: GatewayConfig
    let resolved: ResolvedConfig
    let chat: ChatCompletionsHandler
    let routing: GatewayRouting?
    let readiness: GatewayReadiness
    let upstreamGauges: UpstreamGuardMetrics
    /// 1 for the configuration the gateway started with, +1 per reload.
    let generation: Int

    init(
        config: GatewayConfig, resolved: ResolvedConfig, chat: ChatCompletionsHandler, routing: GatewayRouting?,
        readiness: GatewayReadiness, upstreamGauges: UpstreamGuardMetrics, generation: Int
    ) {
        self.config = config
        self.resolved = resolved
        self.chat = chat
        self.routing = routing
        self.readiness = readiness
        self.upstreamGauges = upstreamGauges
        self.generation = generation
    }
}

/// The pipeline in force.
final class GatewayPipelineHolder: Sendable {
    private let pipeline: Mutex<GatewayPipeline>

    init(_ pipeline: GatewayPipeline) {
        self.pipeline = Mutex(pipeline)
    }

    var current: GatewayPipeline { pipeline.withLock { $0 } }

    func replace(with new: GatewayPipeline) {
        pipeline.withLock { $0 = new }
    }
}

/// Builds pipelines from configurations. What it holds lives for the whole process and is shared by every
/// pipeline: the HTTP client, the loaded local models, the outcome log, metrics, rate-limit buckets, spend and
/// latency statistics (so a reload neither forgets budgets and rates nor reloads model weights).
struct GatewayPipelineBuilder: Sendable {
    let environment: [String: String]
    let httpClient: HTTPClient
    let localModels: LocalModels
    let outcomes: GatewayOutcomes
    let metrics: GatewayMetrics
    let lifecycle: GatewayLifecycle
    let shadow: ShadowEvaluator?
    let limiter: RateLimiter
    let latency: LatencyRecorder
    let spend: SpendLedger
    let countTokens: @Sendable (String) -> Int
    let logger: Logger

    func build(config: GatewayConfig, generation: Int) throws -> GatewayPipeline {
        let resolved = ConfigLoader.resolve(config, environment: environment)
        let registry = BackendRegistry(config: resolved, httpClient: httpClient, localBackends: localModels.backends)
            .guarded(
                config: config, resolved: resolved,
                concurrency: BackendConcurrency(limits: config.limits?.backendConcurrency ?? [:]))
        var routing: GatewayRouting?
        var served = registry
        if let routingConfig = config.routing {
            let built = try GatewayRouting(
                config: config, routing: routingConfig, registry: registry, countTokens: countTokens,
                latency: latency, spend: spend)
            served = built.registryWithRouter(config: config, resolved: resolved)
            routing = built
        }
        let chat = ChatCompletionsHandler(
            resolved: resolved, registry: served, metrics: metrics, logger: logger, outcomes: outcomes, shadow: shadow,
            limits: RequestLimits(config: config.limits ?? LimitsConfig(), limiter: limiter))
        return GatewayPipeline(
            config: config, resolved: resolved, chat: chat, routing: routing,
            readiness: GatewayReadiness(resolved: resolved, localHosts: localModels.hosts, lifecycle: lifecycle),
            upstreamGauges: UpstreamGuardMetrics(guards: served.upstreamGuards, registry: metrics.registry),
            generation: generation)
    }
}
