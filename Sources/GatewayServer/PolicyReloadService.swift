import AsyncHTTPClient
import Backends
import Routing
@preconcurrency import Dispatch
import Foundation
import Logging
import PhigateConfig
import ServiceLifecycle
import Synchronization

/// Reloads the routing policy on SIGHUP and when its file changes (polled). An invalid file is logged and the
/// policy in force keeps serving.
struct PolicyReloadService: Service {
    let holder: PolicyHolder
    let logger: Logger
    var pollInterval: Duration = .seconds(2)

    func run() async throws {
        let hangups = HangupSignal.stream()
        await withTaskGroup(of: Void.self) { group in
            group.addTask {
                for await _ in hangups { report(holder.reload()) }
            }
            group.addTask {
                guard pollInterval > .zero else { return }  // SIGHUP only
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

/// SIGHUP for every listener in the process: one signal source fans out to all of them (several sources for one
/// signal do not each get it).
enum HangupSignal {
    private struct State {
        var source: (any DispatchSourceSignal)?
        var listeners: [UInt64: AsyncStream<Void>.Continuation] = [:]
        var nextID: UInt64 = 0
    }

    private static let state = Mutex(State())

    /// Yields once per SIGHUP until the consumer goes away.
    static func stream() -> AsyncStream<Void> {
        let (stream, continuation) = AsyncStream<Void>.makeStream(bufferingPolicy: .bufferingNewest(1))
        let id = state.withLock { state -> UInt64 in
            if state.source == nil {
                signal(SIGHUP, SIG_IGN)
                let source = DispatchSource.makeSignalSource(signal: SIGHUP, queue: .global())
                source.setEventHandler { broadcast() }
                source.resume()
                state.source = source
            }
            state.nextID += 1
            state.listeners[state.nextID] = continuation
            return state.nextID
        }
        continuation.onTermination = { _ in _ = state.withLock { $0.listeners.removeValue(forKey: id) } }
        return stream
    }

    private static func broadcast() {
        let listeners = state.withLock { Array($0.listeners.values) }
        for listener in listeners { listener.yield() }
    }
}

/// The chat handler's registry: the real backends, plus the policy router when `routing:` is configured (its
/// policy reloads through a `PolicyReloadService`). `countTokens` counts prompt tokens for the decision
/// (`phigate serve` passes the Phi-3 tokenizer, like `phigate route`).
func routedRegistry(
    config: GatewayConfig, resolved: ResolvedConfig, httpClient: HTTPClient, localBackends: [any ChatBackend],
    countTokens: @escaping @Sendable (String) -> Int, services: inout [any Service], logger: Logger
) throws -> (BackendRegistry, GatewayRouting?) {
    let registry = BackendRegistry(config: resolved, httpClient: httpClient, localBackends: localBackends)
        .guarded(config: config, resolved: resolved, concurrency: BackendConcurrency(limits: config.limits?.backendConcurrency ?? [:]))
    guard let routingConfig = config.routing else { return (registry, nil) }
    let routing = try GatewayRouting(config: config, routing: routingConfig, registry: registry, countTokens: countTokens)
    services.append(PolicyReloadService(holder: routing.holder, logger: logger, pollInterval: routingConfig.reloadInterval))
    return (routing.registryWithRouter(config: config, resolved: resolved), routing)
}
