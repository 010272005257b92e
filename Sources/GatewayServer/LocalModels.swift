// The server's side of local backends: one host per `kind: local` backend, loaded by a service at start-up
// (the server listens meanwhile and `/readyz` says 503), engines stopped after the server has drained.

import Backends
import LocalBackend
import Logging
import PhigateConfig
import ServiceLifecycle

/// The hosts of the configured local backends, built before the server starts.
struct LocalModels: Sendable {
    let hosts: [LocalModelHost]

    /// One host per `kind: local` backend; a configured model path that does not exist is a start-up error.
    init(config: GatewayConfig) throws(LocalModelLoadError) {
        var hosts: [LocalModelHost] = []
        for backend in config.backends {
            guard let local = backend.local else { continue }
            let host = LocalModelHost(backendName: backend.name, modelName: backend.models.first?.name ?? backend.name, config: local)
            if local.onLoadFailure == .fail { try host.precheck() }
            hosts.append(host)
        }
        self.hosts = hosts
    }

    /// The chat backends serving the hosts (disabled ones included: they answer 503 with the reason).
    var backends: [any ChatBackend] { hosts.map { LocalChatBackend(host: $0) } }

    /// Whether every enabled model has finished loading (ready or marked down).
    var isSettled: Bool {
        hosts.allSatisfy { if case .loading = $0.status { false } else { true } }
    }
}

/// Loads the local models one after another, keeps their statistics flowing to metrics and the router, and stops
/// their engines on shutdown (after the server, which is shut down first, has let in-flight requests finish).
struct LocalModelService: Service {
    let models: LocalModels
    let logger: Logger
    /// Called about twice a second with fresh engine statistics.
    let onStatistics: @Sendable () async -> Void

    func run() async throws {
        for host in models.hosts where host.config.isEnabled {
            do {
                try await host.load(logger: logger)
            } catch {
                if host.config.onLoadFailure == .fail {
                    logger.critical("Local model failed to load; stopping", metadata: ["error": .string(error.description)])
                    throw error
                }
                logger.error(
                    "Local model failed to load; its backend is marked down (on_load_failure: mark_down)",
                    metadata: ["backend": .string(host.backendName), "error": .string(error.description)])
            }
        }
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                await onStatistics()
                try? await Task.sleep(for: .milliseconds(500))
            }
        }
        for host in models.hosts { host.shutdown() }
    }
}
