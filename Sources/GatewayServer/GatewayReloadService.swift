import Foundation
import Logging
import PhigateConfig
import ServiceLifecycle

/// Reloads on SIGHUP and when a file changes (polled): the configuration file (a new pipeline, swapped in
/// between requests) and the routing policy of the pipeline in force. An invalid file is logged and what is in
/// force keeps serving.
struct GatewayReloadService: Service {
    let holder: GatewayPipelineHolder
    /// Nil when the gateway was built from a configuration value, not a file (then only the policy reloads).
    let reloader: ConfigReloader?
    let logger: Logger

    /// The shortest non-zero of `server.reload_interval` and `routing.reload_interval` of the configuration in
    /// force; zero (SIGHUP only) when both are zero.
    private var pollInterval: Duration {
        let config = holder.current.config
        let intervals = [reloader == nil ? .zero : config.server.reloadInterval, config.routing?.reloadInterval ?? .zero]
        return intervals.filter { $0 > .zero }.min() ?? .zero
    }

    func run() async throws {
        let hangups = HangupSignal.stream()
        await withTaskGroup(of: Void.self) { group in
            group.addTask {
                for await _ in hangups { reload(onlyIfChanged: false) }
            }
            group.addTask {
                while !Task.isCancelled {
                    let interval = pollInterval
                    // SIGHUP only: look again later in case a reload turns polling on.
                    try? await Task.sleep(for: interval > .zero ? interval : .seconds(5))
                    if Task.isCancelled { break }
                    if interval > .zero { reload(onlyIfChanged: true) }
                }
            }
            try? await gracefulShutdown()
            group.cancelAll()
        }
    }

    /// The configuration first (a new pipeline brings its policy, read fresh); else the policy alone.
    func reload(onlyIfChanged: Bool) {
        if let reloader {
            switch reloader.reload(onlyIfChanged: onlyIfChanged) {
            case .unchanged: break
            case .reloaded(let generation, let warnings):
                logger.info("Configuration reloaded", metadata: [
                    "config.file": .string(reloader.file), "config.generation": .stringConvertible(generation),
                ])
                for warning in warnings {
                    logger.warning("Configuration change needs a restart", metadata: ["config.warning": .string(warning)])
                }
                return
            case .rejected(let message):
                logger.error("Configuration rejected; the previous configuration keeps serving", metadata: [
                    "config.file": .string(reloader.file), "config.error": .string(message),
                ])
            }
        }
        guard let policy = holder.current.routing?.holder else { return }
        switch policy.reload(onlyIfChanged: onlyIfChanged) {
        case .unchanged: break
        case .reloaded(let generation):
            logger.info("Routing policy reloaded", metadata: ["policy.file": .string(policy.file), "policy.generation": .stringConvertible(generation)])
        case .rejected(let error):
            logger.error("Routing policy rejected; the previous policy keeps serving", metadata: ["policy.file": .string(policy.file), "policy.error": .string(error.description)])
        }
    }
}
