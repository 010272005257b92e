import Foundation
import PhigateConfig
import Synchronization

/// Reads the configuration file again and, when it is valid, swaps a pipeline built from it into `holder`.
/// Parts that only take effect at start (the listener, the database, local models, shadow evaluation, log level,
/// shutdown timings) keep their running values and are reported as needing a restart.
final class ConfigReloader: Sendable {
    enum Result: Sendable, Equatable {
        case unchanged
        case reloaded(generation: Int, warnings: [String])
        case rejected(String)
    }

    let file: String
    private let environment: [String: String]
    /// What `phigate serve` changes after loading (`--host`, `--port`), applied to every reload too.
    private let overrides: @Sendable (inout GatewayConfig) -> Void
    private let builder: GatewayPipelineBuilder
    private let holder: GatewayPipelineHolder
    /// Whether the database holds active gateway keys (they count for the loopback-only rule).
    private let hasDatabaseKeys: @Sendable () -> Bool
    /// The file's bytes at the last attempt: a poll skips a file that did not change, valid or not.
    private let lastBytes: Mutex<Data?>
    /// One reload at a time (SIGHUP and the poll may coincide).
    private let reloading = Mutex(())

    init(
        file: String, environment: [String: String], overrides: @escaping @Sendable (inout GatewayConfig) -> Void,
        builder: GatewayPipelineBuilder, holder: GatewayPipelineHolder, hasDatabaseKeys: @escaping @Sendable () -> Bool
    ) {
        self.file = file
        self.environment = environment
        self.overrides = overrides
        self.builder = builder
        self.holder = holder
        self.hasDatabaseKeys = hasDatabaseKeys
        self.lastBytes = Mutex(FileManager.default.contents(atPath: file))
    }

    func reload(onlyIfChanged: Bool) -> Result {
        reloading.withLock { _ in
            let bytes = FileManager.default.contents(atPath: file)
            let changed = lastBytes.withLock { last in
                defer { last = bytes }
                return last != bytes
            }
            if onlyIfChanged && !changed { return .unchanged }
            let running = holder.current
            do {
                var loaded = try ConfigLoader.load(file: file, environment: environment)
                overrides(&loaded)
                let (config, warnings) = Self.reconcile(loaded, running: running.config)
                if !hasDatabaseKeys() { try ConfigLoader.resolve(config, environment: environment).checkListenPolicy() }
                let pipeline = try builder.build(config: config, generation: running.generation + 1)
                holder.replace(with: pipeline)
                builder.shadow?.use(registry: pipeline.chat.registry)
                return .reloaded(generation: pipeline.generation, warnings: warnings)
            } catch {
                return .rejected((error as? ConfigError)?.description ?? String(describing: error))
            }
        }
    }

    /// `new` with the start-only parts taken from `running`, and a message for each of those that changed.
    static func reconcile(_ new: GatewayConfig, running: GatewayConfig) -> (GatewayConfig, [String]) {
        var config = new
        var warnings: [String] = []
        func keep<T: Equatable>(_ path: WritableKeyPath<GatewayConfig, T>, _ name: String) {
            guard config[keyPath: path] != running[keyPath: path] else { return }
            warnings.append("\(name) changed; it takes effect at the next restart")
            config[keyPath: path] = running[keyPath: path]
        }
        keep(\.server.host, "server.host")
        keep(\.server.port, "server.port")
        keep(\.server.shutdownGracePeriod, "server.shutdown_grace_period")
        keep(\.server.drainDelay, "server.drain_delay")
        keep(\.database, "database")
        keep(\.shadow, "shadow")
        keep(\.logLevel, "log_level")
        let runningLocal = running.backends.filter { $0.kind == .local }
        if new.backends.filter({ $0.kind == .local }) != runningLocal {
            warnings.append("local backends changed; models load at start, so they take effect at the next restart")
            config.backends = new.backends.filter { $0.kind != .local } + runningLocal
        }
        return (config, warnings)
    }
}
