import Foundation
import Hummingbird
import NIOCore
import Logging
import NIOPosix
import PhigateConfig
import ServiceLifecycle

/// What one reload did: the configuration file's result (nil when the gateway has no file to reload) and the
/// policy's (nil without routing, or when a new configuration brought its policy along).
struct ReloadReport: Sendable, Equatable {
    var config: ConfigReloader.Result?
    var policy: PolicyResult?

    enum PolicyResult: Sendable, Equatable {
        case unchanged
        case reloaded(generation: Int)
        case rejected(String)
    }

    var rejection: String? {
        if case .rejected(let message) = config { return "configuration: \(message)" }
        if case .rejected(let message) = policy { return "policy: \(message)" }
        return nil
    }
}

/// Reloads the configuration file (a new pipeline, swapped in between requests) and the routing policy of the
/// pipeline in force, logging what happened. Shared by the reload service (SIGHUP, file changes) and the admin
/// endpoint. Runs on NIO's blocking thread pool: reading and parsing files stays off the event loops.
struct GatewayReloads: Sendable {
    let holder: GatewayPipelineHolder
    /// Nil when the gateway was built from a configuration value, not a file (then only the policy reloads).
    let reloader: ConfigReloader?
    let logger: Logger

    func reload(onlyIfChanged: Bool) async -> ReloadReport {
        (try? await NIOThreadPool.singleton.runIfActive { reloadNow(onlyIfChanged: onlyIfChanged) })
            ?? ReloadReport(config: .rejected("the gateway is shutting down"))
    }

    /// The configuration first (a new pipeline brings its policy, read fresh); else the policy alone.
    func reloadNow(onlyIfChanged: Bool) -> ReloadReport {
        var report = ReloadReport()
        if let reloader {
            let result = reloader.reload(onlyIfChanged: onlyIfChanged)
            report.config = result
            switch result {
            case .unchanged: break
            case .reloaded(let generation, let warnings):
                logger.info("Configuration reloaded", metadata: [
                    "config.file": .string(reloader.file), "config.generation": .stringConvertible(generation),
                ])
                for warning in warnings {
                    logger.warning("Configuration change needs a restart", metadata: ["config.warning": .string(warning)])
                }
                return report
            case .rejected(let message):
                logger.error("Configuration rejected; the previous configuration keeps serving", metadata: [
                    "config.file": .string(reloader.file), "config.error": .string(message),
                ])
            }
        }
        guard let policy = holder.current.routing?.holder else { return report }
        switch policy.reload(onlyIfChanged: onlyIfChanged) {
        case .unchanged:
            report.policy = .unchanged
        case .reloaded(let generation):
            report.policy = .reloaded(generation: generation)
            logger.info("Routing policy reloaded", metadata: ["policy.file": .string(policy.file), "policy.generation": .stringConvertible(generation)])
        case .rejected(let error):
            report.policy = .rejected(error.description)
            logger.error("Routing policy rejected; the previous policy keeps serving", metadata: ["policy.file": .string(policy.file), "policy.error": .string(error.description)])
        }
        return report
    }
}

/// Reloads on SIGHUP and when a file changes (polled). An invalid file is logged and what is in force keeps serving.
struct GatewayReloadService: Service {
    let reloads: GatewayReloads

    /// The shortest non-zero of `server.reload_interval` and `routing.reload_interval` of the configuration in
    /// force; zero (SIGHUP only) when both are zero.
    private var pollInterval: Duration {
        let config = reloads.holder.current.config
        let intervals = [reloads.reloader == nil ? .zero : config.server.reloadInterval, config.routing?.reloadInterval ?? .zero]
        return intervals.filter { $0 > .zero }.min() ?? .zero
    }

    func run() async throws {
        let hangups = HangupSignal.stream()
        await withTaskGroup(of: Void.self) { group in
            group.addTask {
                for await _ in hangups { _ = await reloads.reload(onlyIfChanged: false) }
            }
            group.addTask {
                while !Task.isCancelled {
                    let interval = pollInterval
                    // SIGHUP only: look again later in case a reload turns polling on.
                    try? await Task.sleep(for: interval > .zero ? interval : .seconds(5))
                    if Task.isCancelled { break }
                    if interval > .zero { _ = await reloads.reload(onlyIfChanged: true) }
                }
            }
            try? await gracefulShutdown()
            group.cancelAll()
        }
    }
}

extension GatewayReloads {
    /// `POST /v1/admin/reload`: reloads the configuration file and the policy now (whether or not they changed) and
    /// answers what happened; 400 `reload_rejected` naming the file's error when one was rejected (the previous
    /// configuration keeps serving). Needs an admin key wherever keys are in use, like the dashboards.
    func answer(requiresAuthentication: Bool, role: GatewayKeyRole?) async throws -> Response {
        guard !requiresAuthentication || role == .admin else {
            throw GatewayError(
                status: .forbidden, message: "Reloading needs a gateway key with role admin.",
                type: "invalid_request_error", code: "admin_required")
        }
        let report = await reload(onlyIfChanged: false)
        if let rejection = report.rejection {
            throw GatewayError(
                status: .badRequest, message: "Reload rejected; the previous configuration keeps serving. \(rejection)",
                type: "invalid_request_error", code: "reload_rejected")
        }
        struct Part: Encodable {
            var result: String
            var generation: Int?
            var warnings: [String]?
        }
        var answer: [String: Part] = [:]
        switch report.config {
        case .reloaded(let generation, let warnings): answer["config"] = Part(result: "reloaded", generation: generation, warnings: warnings)
        case .unchanged: answer["config"] = Part(result: "unchanged")
        case .rejected, nil: break
        }
        switch report.policy {
        case .reloaded(let generation): answer["policy"] = Part(result: "reloaded", generation: generation)
        case .unchanged: answer["policy"] = Part(result: "unchanged")
        case .rejected, nil: break
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        return Response(
            status: .ok, headers: [.contentType: "application/json"],
            body: .init(byteBuffer: ByteBuffer(bytes: try encoder.encode(answer))))
    }
}
