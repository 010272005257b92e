import AsyncHTTPClient
import Backends
import Routing
@preconcurrency import Dispatch
import Foundation
import Logging
import PhigateConfig
import ServiceLifecycle

/// Reloads the routing policy on SIGHUP and when its file changes (polled). An invalid file is logged and the
/// policy in force keeps serving.
struct PolicyReloadService: Service {
    let holder: PolicyHolder
    let logger: Logger
    var pollInterval: Duration = .seconds(2)

    func run() async throws {
        let hangups = AsyncStream<Void> { continuation in
            signal(SIGHUP, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: SIGHUP, queue: .global())
            source.setEventHandler { continuation.yield() }
            source.resume()
            continuation.onTermination = { _ in source.cancel() }
        }
        await withTaskGroup(of: Void.self) { group in
            group.addTask {
                for await _ in hangups { report(holder.reload()) }
            }
            group.addTask {
                while !Task.isCancelled {
                    try? await Task.sleep(for: pollInterval)
                    if Task.isCancelled { break }
                    report(holder.reload(onlyIfChanged: true))
                }
            }
            try? await gracefulShutdown()
            group.cancelAll()
        }
    }

    private func report(_ result: PolicyHolder.ReloadResult) {
        switch result {
        case .unchanged: break
        case .reloaded(let generation):
            logger.info("Routing policy reloaded", metadata: ["policy.file": .string(holder.file), "policy.generation": .stringConvertible(generation)])
        case .rejected(let error):
            logger.error("Routing policy rejected; the previous policy keeps serving", metadata: ["policy.file": .string(holder.file), "policy.error": .string(error.description)])
        }
    }
}

/// The chat handler's registry: the real backends, plus the policy router when `routing:` is configured (its
/// policy reloads through a `PolicyReloadService`). Prompt tokens are estimated (UTF-8 bytes / 4) on the server
/// for now; `phigate route` counts them with the Phi-3 tokenizer.
func routedRegistry(
    config: GatewayConfig, resolved: ResolvedConfig, httpClient: HTTPClient, localBackends: [any ChatBackend],
    countTokens: @escaping @Sendable (String) -> Int, services: inout [any Service], logger: Logger
) throws -> (BackendRegistry, GatewayRouting?) {
    let registry = BackendRegistry(config: resolved, httpClient: httpClient, localBackends: localBackends)
        .guarded(config: config, resolved: resolved, concurrency: BackendConcurrency(limits: config.limits?.backendConcurrency ?? [:]))
    guard let routingConfig = config.routing else { return (registry, nil) }
    let routing = try GatewayRouting(config: config, routing: routingConfig, registry: registry, countTokens: countTokens)
    services.append(PolicyReloadService(holder: routing.holder, logger: logger))
    return (routing.registryWithRouter(config: config, resolved: resolved), routing)
}
