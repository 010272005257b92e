// Owns one local backend's model: loads it off the event loops with progress, then holds the engine that every
// request of that backend shares. Knows nothing of HTTP beyond the OpenAI error a request gets while it is not
// ready.

import Foundation
public import Logging
public import OpenAIWire
public import PhiInference
import PhiKernels
public import PhiTokenizer
public import PhigateConfig
import Synchronization

/// A local backend's model and engine, from loading to shutdown.
public final class LocalModelHost: Sendable {
    /// Where the model is in its life.
    public enum Status: Sendable, Equatable {
        /// Loading; `fraction` in 0…1.
        case loading(fraction: Double)
        case ready
        /// Loading failed; the backend's models answer 503 with this reason.
        case failed(String)
        /// No model configured.
        case disabled
        /// The engine was shut down.
        case stopped

        /// The word `/readyz` shows.
        public var label: String {
            switch self {
            case .loading: "loading"
            case .ready: "ok"
            case .failed: "down"
            case .disabled: "disabled"
            case .stopped: "stopped"
            }
        }
    }

    /// What a ready host serves with.
    public struct Runtime: Sendable {
        public let engine: InferenceEngine
        public let translator: LocalRequestTranslator
        public let tokenizer: BPETokenizer
        public let model: LoadedModel
    }

    public let backendName: String
    public let config: LocalModelConfig
    /// The first served model name (for messages).
    public let modelName: String
    private let state: Mutex<(status: Status, runtime: Runtime?)>

    public init(backendName: String, modelName: String, config: LocalModelConfig) {
        self.backendName = backendName
        self.modelName = modelName
        self.config = config
        self.state = Mutex((config.isEnabled ? .loading(fraction: 0) : .disabled, nil))
    }

    public var status: Status { state.withLock { $0.status } }

    /// The engine and translator, or the 503 a request gets while there are none.
    public func runtime() throws(OpenAIError) -> Runtime {
        let (status, runtime) = state.withLock { ($0.status, $0.runtime) }
        if let runtime, status == .ready { return runtime }
        let reason: String
        switch status {
        case .loading(let fraction): reason = "the model is still loading (\(Int(fraction * 100))%); retry shortly"
        case .failed(let message): reason = "the model failed to load: \(message)"
        case .disabled: reason = "no model is configured (set PHIGATE_LOCAL_MODEL or the backend's `model`)"
        case .stopped, .ready: reason = "the model is shutting down"
        }
        throw OpenAIError(
            status: 503, message: "Backend '\(backendName)': \(reason).", type: "api_error", param: "model",
            code: "backend_unavailable")
    }

    /// Checks what can be checked at once (the path exists); `load` does the rest.
    public func precheck() throws(LocalModelLoadError) {
        guard config.isEnabled else { return }
        if !FileManager.default.fileExists(atPath: config.modelPath) {
            throw LocalModelLoadError(backend: backendName, path: config.modelPath, reason: "no such file or folder")
        }
    }

    /// Loads model, tokenizer and chat template on a dedicated thread, logging progress every 10%, and starts the
    /// engine. On failure the host is `failed` and the error is thrown.
    public func load(logger: Logger) async throws(LocalModelLoadError) {
        guard config.isEnabled else { return }
        let started = ContinuousClock.now
        logger.info("Loading local model", metadata: ["backend": .string(backendName), "model.path": .string(config.modelPath)])
        let result: Result<Runtime, LocalModelLoadError> = await withCheckedContinuation { continuation in
            let thread = Thread { [self] in
                continuation.resume(returning: self.loadSynchronously(logger: logger))
            }
            thread.name = "phigate.load.\(backendName)"
            thread.start()
        }
        switch result {
        case .success(let runtime):
            state.withLock { $0 = (.ready, runtime) }
            let elapsed = started.duration(to: .now).components
            let seconds = Double(elapsed.seconds) + Double(elapsed.attoseconds) / 1e18
            logger.info(
                "Local model ready",
                metadata: [
                    "backend": .string(backendName), "model.architecture": .string(runtime.model.config.architecture.rawValue),
                    "model.context": .stringConvertible(runtime.translator.contextSize),
                    "chat.template": .string(runtime.translator.template.rawValue),
                    "load.seconds": .string(String(format: "%.2f", seconds)),
                ])
        case .failure(let error):
            state.withLock { $0 = (.failed(error.reason), nil) }
            throw error
        }
    }

    /// Stops the engine: waiting requests fail, the running batch ends after its step.
    public func shutdown() {
        let runtime = state.withLock { state -> Runtime? in
            defer { if state.status == .ready { state = (.stopped, nil) } }
            return state.runtime
        }
        runtime?.engine.shutdown()
    }

    private func loadSynchronously(logger: Logger) -> Result<Runtime, LocalModelLoadError> {
        let fail = { (reason: String) in LocalModelLoadError(backend: self.backendName, path: self.config.modelPath, reason: reason) }
        if config.threads > 0 { ComputeSettings.threadCount = config.threads }
        let reporter = LoadProgressReporter(backend: backendName, logger: logger)
        let model: LoadedModel
        do {
            model = try LoadedModel.load(path: config.modelPath, packWeights: config.numerics != .exact) { [self] progress in
                state.withLock { if case .loading = $0.status { $0.status = .loading(fraction: progress.fraction) } }
                reporter.report(progress)
            }
        } catch {
            return .failure(fail(error.description))
        }
        let tokenizer: BPETokenizer
        let template: ChatTemplate
        do {
            tokenizer = try model.loadTokenizer()
            template = try tokenizer.chatTemplate(name: config.chatTemplate, architecture: model.config.architecture.rawValue)
        } catch {
            return .failure(fail("\(error)"))
        }
        let contextSize = min(config.contextSize ?? model.config.contextLength, model.config.contextLength)
        let engine = InferenceEngine(
            model: model, tokenizer: tokenizer,
            batching: EngineBatchingOptions(
                maxSequences: config.maxSequences, queueCapacity: config.queueLimit, kvCacheBudgetBytes: config.kvCacheBudget,
                contextLength: contextSize),
            threadName: "phigate.local.\(backendName)",
            compute: EngineComputeOptions(
                activationQuantization: config.numerics == .exact ? .off : .llamaCpp,
                kvCache: config.kvCacheType == .f16 ? .f16 : .f32))
        let translator = LocalRequestTranslator(
            modelName: modelName, template: template, tokenizer: tokenizer, contextSize: contextSize, defaults: config.sampling)
        return .success(Runtime(engine: engine, translator: translator, tokenizer: tokenizer, model: model))
    }
}

/// A local model that cannot be loaded: which backend, which path and why.
public struct LocalModelLoadError: Error, Sendable, Equatable, CustomStringConvertible {
    public var backend: String
    public var path: String
    public var reason: String

    public var description: String { "backend '\(backend)': cannot load the model at \(path): \(reason)" }
}

/// Logs loading progress once per 10% step (the loader reports once per layer).
private final class LoadProgressReporter: Sendable {
    private let backend: String
    private let logger: Logger
    private let lastStep = Mutex(-1)

    init(backend: String, logger: Logger) {
        self.backend = backend
        self.logger = logger
    }

    func report(_ progress: LoadProgress) {
        let step = Int(progress.fraction * 10)
        let isNewStep = lastStep.withLock { last in
            defer { last = max(last, step) }
            return step > last
        }
        if isNewStep {
            logger.info("Loading local model: \(step * 10)% (\(progress.stage))", metadata: ["backend": .string(backend)])
        }
    }
}

/// A local backend's live load, for `/metrics` and the router's latency estimates.
public struct LocalBackendStatistics: Sendable, Equatable {
    /// Requests waiting for a sequence slot.
    public var waiting: Int
    /// Sequences being decoded.
    public var active: Int
    public var maxSequences: Int
    /// Key/value cache bytes held by active sequences.
    public var kvCacheBytes: Int
    /// Recent time to first token, milliseconds (nil before any request).
    public var recentTimeToFirstTokenMs: Double?
    /// Recent time per generated token after the first, milliseconds.
    public var recentTimePerTokenMs: Double?
    /// Tokens generated since start.
    public var generatedTokens: Int

    public init(
        waiting: Int = 0, active: Int = 0, maxSequences: Int = 0, kvCacheBytes: Int = 0,
        recentTimeToFirstTokenMs: Double? = nil, recentTimePerTokenMs: Double? = nil, generatedTokens: Int = 0
    ) {
        self.waiting = waiting
        self.active = active
        self.maxSequences = maxSequences
        self.kvCacheBytes = kvCacheBytes
        self.recentTimeToFirstTokenMs = recentTimeToFirstTokenMs
        self.recentTimePerTokenMs = recentTimePerTokenMs
        self.generatedTokens = generatedTokens
    }
}

extension LocalModelHost {
    /// The engine's statistics now (nil unless ready).
    public var statistics: LocalBackendStatistics? {
        guard let runtime = try? runtime() else { return nil }
        let engine = runtime.engine.statistics
        return LocalBackendStatistics(
            waiting: engine.waiting, active: engine.active, maxSequences: engine.maxSequences, kvCacheBytes: engine.kvBytesInUse,
            recentTimeToFirstTokenMs: engine.recentTimeToFirstTokenMilliseconds,
            recentTimePerTokenMs: engine.recentPerTokenLatencyMilliseconds, generatedTokens: engine.tokensGenerated)
    }
}
