public import AsyncHTTPClient
import Backends
public import Foundation
public import Hummingbird
public import Logging
import NIOCore
import NIOPosix
public import OutcomeStore
import Routing
public import PhigateConfig
import ServiceLifecycle

/// Builds the gateway application: router, middleware, backends and services. `phigate serve` and the tests
/// both call this.
///
/// - Parameters:
///   - config: the decoded configuration (`server.host`/`server.port` are where it listens; port 0 picks one).
///   - configFile: the file `config` was loaded from; when given, it is reloaded on SIGHUP and when it changes
///     (`server.reload_interval`), after `configOverrides` (what the command line changed) is applied to it.
///   - environment: where provider keys and `key_env` gateway keys are read.
///   - logger: the application logger (request logs are at debug level).
///   - httpClient: the shared upstream client; when nil one is created and shut down after the server.
///   - metrics: the metrics registry served at `/metrics`.
///   - onServerRunning: called with the listening channel once the server accepts connections.
///   - outcomeStore: the outcome log; when nil, `database.path` is opened (`:memory:` for an in-memory one).
///   - lifecycle: shared with `GatewayRunner`, so `/readyz` answers 503 once graceful shutdown begins.
///   - countTokens: counts a prompt's tokens for routing decisions (a real tokenizer); nil estimates from bytes.
/// - Throws: `ConfigError`, or `LocalModelLoadError` when a local model file is missing.
public func buildApplication(
    config: GatewayConfig,
    configFile: String? = nil,
    configOverrides: @escaping @Sendable (inout GatewayConfig) -> Void = { _ in },
    environment: [String: String] = ProcessInfo.processInfo.environment,
    logger: Logger,
    httpClient: HTTPClient? = nil,
    metrics: GatewayMetrics = GatewayMetrics(),
    outcomeStore: OutcomeStore? = nil,
    lifecycle: GatewayLifecycle = GatewayLifecycle(),
    countTokens: (@Sendable (String) -> Int)? = nil,
    onServerRunning: @escaping @Sendable (any Channel) async -> Void = { _ in }
) throws -> some ApplicationProtocol {
    let resolved = ConfigLoader.resolve(config, environment: environment)
    let localModels = try LocalModels(config: config)

    var services: [any Service] = []
    let client: HTTPClient
    if let httpClient {
        client = httpClient
    } else {
        client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: gatewayHTTPClientConfiguration(for: config))
        services.append(HTTPClientService(client: client))
    }
    // A client that is never run as a service must be shut down here (AHC traps on deinit otherwise).
    var built = false
    defer { if !built && httpClient == nil { try? client.syncShutdown() } }

    let outcomes = try makeOutcomes(config: config, store: outcomeStore, logger: logger)
    // Gateway keys of the database (`phigate keys`) count for the listen policy and authenticate requests.
    let keyStore = KeyStore(outcomes.recorder.store)
    let hasDatabaseKeys: @Sendable () -> Bool = { (try? keyStore.list().contains(where: \.isActive)) ?? false }
    if !hasDatabaseKeys() { try resolved.checkListenPolicy() }
    let databaseKeys = DatabaseKeys(store: keyStore, refreshInterval: config.database.keysRefresh)
    // Listed before the server: shut down after it, so requests still in flight are recorded, then flushed.
    services.append(outcomes.recorder)

    // Evaluates with the backends of the pipeline in force (set below and at every reload).
    let shadow = makeShadowEvaluator(
        config: config, registry: BackendRegistry(config: config, backends: []), outcomes: outcomes, metrics: metrics,
        logger: logger)
    let builder = GatewayPipelineBuilder(
        environment: environment, httpClient: client, localModels: localModels, outcomes: outcomes, metrics: metrics,
        lifecycle: lifecycle, shadow: shadow, limiter: RateLimiter(), latency: LatencyRecorder(), spend: SpendLedger(),
        countTokens: countTokens ?? { RequestFeatures.estimatedTokens($0) }, logger: logger)
    let pipelines = GatewayPipelineHolder(try builder.build(config: config, generation: 1))
    shadow?.use(registry: pipelines.current.chat.registry)
    let reloader = configFile.map {
        ConfigReloader(
            file: $0, environment: environment, overrides: configOverrides, builder: builder, holder: pipelines,
            hasDatabaseKeys: hasDatabaseKeys)
    }
    let reloads = GatewayReloads(holder: pipelines, reloader: reloader, logger: logger)
    if reloader != nil || config.routing != nil { services.append(GatewayReloadService(reloads: reloads)) }

    let localGauges = localModels.hosts.map { (host: $0, gauges: LocalEngineMetrics(backend: $0.backendName, registry: metrics.registry)) }
    if !localModels.hosts.isEmpty {
        let latency = builder.latency
        services.append(LocalModelService(models: localModels, logger: logger) {
            for (host, gauge) in localGauges {
                let statistics = host.statistics
                gauge.update(statistics)
                if let statistics {
                    await latency.setEngineStatistics(
                        backend: host.backendName, queueDepth: statistics.waiting,
                        ttftMilliseconds: statistics.recentTimeToFirstTokenMs, perTokenMilliseconds: statistics.recentTimePerTokenMs)
                }
            }
        })
    }
    // After the recorder and the local engines: drained at shutdown before they stop.
    if let shadow { services.append(shadow) }
    let router = buildRouter(
        pipelines: pipelines, reloads: reloads, metrics: metrics, outcomes: outcomes, databaseKeys: databaseKeys,
        refreshGauges: {
            for (host, gauge) in localGauges { gauge.update(host.statistics) }
            pipelines.current.upstreamGauges.update()
        })

    var app = Application(
        router: router,
        configuration: ApplicationConfiguration(
            address: .hostname(config.server.host, port: config.server.port),
            serverName: "phigate"
        ),
        services: services,
        onServerRunning: onServerRunning,
        logger: logger
    )
    app.beforeServerStarts {
        logger.info(
            "Gateway starting",
            metadata: ["server.host": .string(config.server.host), "server.port": .stringConvertible(config.server.port)]
        )
        for warning in resolved.warnings {
            logger.warning("Configuration warning", metadata: ["config.warning": .string(warning)])
        }
    }
    built = true
    return app
}

/// The router: public health endpoints, then the authenticated OpenAI-compatible API. Each API request is
/// served by the pipeline in force when it arrived (`AuthMiddleware` puts it in the context).
func buildRouter(
    pipelines: GatewayPipelineHolder,
    reloads: GatewayReloads,
    metrics: GatewayMetrics,
    outcomes: GatewayOutcomes,
    databaseKeys: DatabaseKeys? = nil,
    refreshGauges: @escaping @Sendable () -> Void = {}
) -> Router<GatewayRequestContext> {
    let router = Router(context: GatewayRequestContext.self)
    router.middlewares.add(GatewayBoundaryMiddleware())

    router.get("/healthz") { _, _ in
        Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(string: #"{"status":"ok"}"#)))
    }
    router.get("/readyz") { _, _ in
        let (status, body) = pipelines.current.readiness.answer()
        return Response(status: .init(code: status), headers: [.contentType: "application/json"], body: .init(byteBuffer: body))
    }
    router.get("/metrics") { _, _ in
        refreshGauges()  // the local engines' gauges, read at scrape time
        return Response(
            status: .ok,
            headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
            body: .init(byteBuffer: ByteBuffer(bytes: metrics.exposition()))
        )
    }

    let api = router.group("v1").add(middleware: AuthMiddleware(pipelines: pipelines, database: databaseKeys)).add(middleware: RoutingMiddleware())
    api.get("models") { _, context in
        Response(
            status: .ok, headers: [.contentType: "application/json"],
            body: .init(byteBuffer: context.pipeline(or: pipelines).chat.modelsListJSON))
    }
    api.post("chat/completions") { request, context in
        try await context.pipeline(or: pipelines).chat.handle(request, context: context)
    }
    api.post("feedback") { request, context in
        try await outcomes.feedback(request, context: context)
    }
    api.get("dashboard/:file") { request, context in
        let requiresAuthentication = context.pipeline(or: pipelines).resolved.requiresAuthentication
        return try await outcomes.dashboard(request, context: context, requiresAuthentication: requiresAuthentication || context.role != nil)
    }
    api.post("admin/reload") { _, context in
        let requiresAuthentication = context.pipeline(or: pipelines).resolved.requiresAuthentication || context.role != nil
        return try await reloads.answer(requiresAuthentication: requiresAuthentication, role: context.role)
    }
    return router
}

/// The outcome log from `database:`: the store (given, or opened at `database.path`), its recorder and prices.
func makeOutcomes(config: GatewayConfig, store: OutcomeStore?, logger: Logger) throws -> GatewayOutcomes {
    let database = config.database
    let options = OutcomeStore.Options(storesText: database.storesText)
    let opened = try store ?? (database.path == ":memory:"
        ? OutcomeStore.inMemory(options: options) : OutcomeStore(path: database.path, options: options))
    let retention = database.maxAge != nil || database.maxSize != nil
        ? OutcomeRetention(maxAge: database.maxAge, maxBytes: database.maxSize.map(Int64.init)) : nil
    let recorder = OutcomeRecorder(
        store: opened,
        configuration: .init(
            queueCapacity: database.queueSize, batchSize: database.batchSize,
            overflowPolicy: database.onFull == .drop ? .drop : .backpressure, retention: retention,
            pruneInterval: database.pruneInterval, flushDelay: database.flushDelay),
        logger: logger)
    var frontier: FrontierPricing?
    if let name = database.frontierModel {
        for backend in config.backends {
            for model in backend.models where model.name == name || model.upstreamName == name {
                frontier = FrontierPricing(
                    model: model.upstreamName,
                    price: TokenPrice(
                        inputMicrosPerMillion: model.price.inputMicrosPerMillion,
                        outputMicrosPerMillion: model.price.outputMicrosPerMillion))
            }
        }
    }
    return GatewayOutcomes(
        recorder: recorder, storesText: database.storesText, frontier: frontier, tiers: ServingTiers(config: config))
}

/// Shuts the shared HTTP client down once the services after it (the server) have stopped.
struct HTTPClientService: Service {
    let client: HTTPClient

    func run() async throws {
        try? await gracefulShutdown()
        try await client.shutdown()
    }
}

/// Runs a gateway application with graceful shutdown: on SIGINT/SIGTERM (or `shutdown()`) the server stops
/// accepting, in-flight requests (streams included) get up to the grace period to finish, then the rest is
/// cancelled; the shared HTTP client is shut down after the server.
public struct GatewayRunner: Sendable {
    private let group: ServiceGroup

    /// - Parameters:
    ///   - handlesSignals: listen for SIGINT/SIGTERM (off in tests, which call `shutdown()`).
    ///   - lifecycle: the one given to `buildApplication`; it learns of shutdown before the server does.
    public init(
        _ app: some ApplicationProtocol, gracePeriod: Duration, logger: Logger, handlesSignals: Bool = true,
        lifecycle: GatewayLifecycle? = nil, drainDelay: Duration = .zero
    ) {
        // Services shut down in reverse order: the drain signal first, so /readyz turns 503 while in-flight requests finish.
        var services: [ServiceGroupConfiguration.ServiceConfiguration] = [.init(service: app)]
        if let lifecycle { services.append(.init(service: DrainSignalService(lifecycle: lifecycle, delay: drainDelay))) }
        var configuration = ServiceGroupConfiguration(
            services: services,
            gracefulShutdownSignals: handlesSignals ? [.sigterm, .sigint] : [],
            cancellationSignals: [],
            logger: logger
        )
        configuration.maximumGracefulShutdownDuration = gracePeriod
        self.group = ServiceGroup(configuration: configuration)
    }

    /// Serves until shut down.
    public func run() async throws {
        try await group.run()
    }

    /// Begins graceful shutdown (what SIGTERM does).
    public func shutdown() async {
        await group.triggerGracefulShutdown()
    }
}

/// The upstream client configuration of `phigate serve` (and of the benchmark's reference proxy).
public func gatewayHTTPClientConfiguration(for config: GatewayConfig) -> HTTPClient.Configuration {
    var configuration = BackendRegistry.httpClientConfiguration(for: config)
    // One upstream connection per concurrent client request (AHC's default soft limit of 8 queues the rest).
    configuration.connectionPool.concurrentHTTP1ConnectionsPerHostSoftLimit = 1024
    return configuration
}

/// Runs Swift Concurrency's global executor on NIO's event-loop threads instead of a separate thread pool, so a
/// request does not hop between thread pools at every await (a large win on small machines). Call once, first
/// thing in the process (`phigate serve` does); returns false when it was too late or not supported.
public func installEventLoopsAsGlobalExecutor() -> Bool {
    NIOSingletons.unsafeTryInstallSingletonPosixEventLoopGroupAsConcurrencyGlobalExecutor()
}
