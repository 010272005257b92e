import ArgumentParser
import GatewayServer
import LocalBackend
import Logging
import Foundation
import PhigateConfig

/// `phigate serve`: run the gateway until SIGINT/SIGTERM.
struct ServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Run the OpenAI-compatible gateway.",
        discussion: """
            Serves POST /v1/chat/completions, GET /v1/models, /healthz, /readyz and /metrics. Provider keys are read \
            from the environment variables the configuration names; a backend whose key is missing is reported at \
            start-up and its models answer 503. Without gateway api_keys the server only listens on loopback. \
            SIGINT or SIGTERM stops accepting connections and lets in-flight requests finish for \
            server.shutdown_grace_period.
            """
    )

    @Option(name: .shortAndLong, help: "The YAML configuration file.")
    var config = "config/phigate.yaml"

    @Option(help: "Listen on this address instead of the configuration's server.host.")
    var host: String?

    @Option(help: "Listen on this port instead of the configuration's server.port (0 picks a free port).")
    var port: Int?

    @Option(help: "Vocabulary (.gguf or tokenizer folder) counting prompt tokens for routing; bytes/4 if absent.")
    var routingTokenizer = "policies/tokenizer/phi-3-vocab.gguf"

    func validate() throws {
        if let port, !(0...65535).contains(port) {
            throw ValidationError("--port: expected 0 to 65535, found \(port)")
        }
    }

    func run() async throws {
        let isOnEventLoops = installEventLoopsAsGlobalExecutor()
        var gatewayConfig: GatewayConfig
        do {
            gatewayConfig = try ConfigLoader.load(file: config, environment: ProcessInfo.processInfo.environment)
        } catch {
            printToStandardError(error.description)
            throw ExitCode(1)
        }
        let (host, port) = (host, port)
        // Applied to the file's contents at start and at every reload.
        let overrides: @Sendable (inout GatewayConfig) -> Void = { config in
            if let host { config.server.host = host }
            if let port { config.server.port = port }
        }
        overrides(&gatewayConfig)

        let level = Logger.Level(rawValue: gatewayConfig.logLevel.rawValue) ?? .info
        LoggingSystem.bootstrap { label in
            var handler = DeferredMetadataLogHandler(StreamLogHandler.standardError(label: label))
            handler.logLevel = level
            return handler
        }
        let logger = Logger(label: "phigate")
        if !isOnEventLoops {
            logger.debug("Swift Concurrency stays on its own thread pool (event-loop takeover unavailable)")
        }

        do {
            let lifecycle = GatewayLifecycle()
            var countTokens: (@Sendable (String) -> Int)?
            if gatewayConfig.routing != nil {
                let counter = PromptTokenCounter(path: routingTokenizer)
                logger.info("Routing counts prompt tokens with \(counter.name)")
                countTokens = { counter.count($0) }
            }
            let app = try buildApplication(
                config: gatewayConfig, configFile: config, configOverrides: overrides, logger: logger, lifecycle: lifecycle,
                countTokens: countTokens)
            try await GatewayRunner(
                app, gracePeriod: gatewayConfig.server.shutdownGracePeriod, logger: logger, lifecycle: lifecycle,
                drainDelay: gatewayConfig.server.drainDelay
            ).run()
        } catch let error as ConfigError {
            printToStandardError(error.description)
            throw ExitCode(1)
        } catch let error as LocalModelLoadError {
            printToStandardError("phigate: \(error.description)")
            throw ExitCode(1)
        }
    }
}
