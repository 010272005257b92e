// Token-by-token generation: prompt prefill, sampling, streaming text with stop strings, finish reasons.
// Synchronous by design: it runs on the engine's dedicated compute thread, never on the cooperative pool.

import Foundation
public import PhiTokenizer
import Synchronization

/// Why generation ended (OpenAI `finish_reason`, plus `cancelled` for a client that went away).
public enum FinishReason: String, Sendable, Equatable {
    /// An end-of-sequence / stop token id or a stop string.
    case stop
    /// `maxTokens` reached, or the context is full.
    case length
    /// `cancel()` was called.
    case cancelled
}

/// Token counts of one request.
public struct GenerationUsage: Sendable, Equatable {
    public var promptTokens: Int
    public var completionTokens: Int
    public var totalTokens: Int { promptTokens + completionTokens }
    /// Wall-clock seconds of the prompt pass and of the generation steps.
    public var promptSeconds: Double
    public var generationSeconds: Double

    public init(promptTokens: Int, completionTokens: Int, promptSeconds: Double = 0, generationSeconds: Double = 0) {
        self.promptTokens = promptTokens
        self.completionTokens = completionTokens
        self.promptSeconds = promptSeconds
        self.generationSeconds = generationSeconds
    }
}

/// One generated token.
public struct GeneratedToken: Sendable, Equatable {
    public var id: Int
    /// Text this token completes (may be empty: half a UTF-8 character, or text held back because it could
    /// begin a stop string; it comes out with a later token).
    public var text: String
    public var logprob: Float?
    public var topLogprobs: [TokenLogprob]
}

/// What a generator reports.
public enum GenerationEvent: Sendable, Equatable {
    case token(GeneratedToken)
    /// Text released at the end without a new token: text held back because it could have begun a stop string,
    /// or a trailing incomplete UTF-8 sequence (as U+FFFD). Comes right before `finished`.
    case text(String)
    /// Always the last event.
    case finished(FinishReason, GenerationUsage)
}

/// A thread-safe cancellation flag shared between a generator and whoever may cancel it.
public final class CancellationFlag: Sendable {
    private let state = Mutex(false)
    public init() {}
    public func cancel() { state.withLock { $0 = true } }
    public var isCancelled: Bool { state.withLock { $0 } }
}

/// Generates tokens for one prompt. Call `next()` until it returns `.finished` (then nil), or `run(_:)`.
///
/// Not thread-safe: one thread drives it; `cancellation` may be set from any thread and is checked between tokens.
public final class Generator {
    public let model: LoadedModel
    public let parameters: GenerationParameters
    public let promptTokens: [Int]
    public let cancellation: CancellationFlag
    private let tokenizer: (any Tokenizer)?
    private let cache: KVCache
    private var sampler: TokenSampler
    private var stopMatcher: StopStringMatcher
    private var detokenizer: StreamingDetokenizer?
    private let stopTokenIDs: Set<Int>
    private var pendingLogits: [Float]?
    private var generated: [Int] = []
    private var isFinished = false
    private var promptSeconds = 0.0
    private var generationSeconds = 0.0
    private var heldEvent: GenerationEvent?

    /// Prepares generation; the prompt pass runs on the first `next()`.
    /// - Parameters:
    ///   - tokenizer: decodes text pieces (`StreamingDetokenizer`) and gives the padding ids to mask and the
    ///     end-of-turn ids; without one, pieces are empty and nothing is masked.
    ///   - cache: reuse a cache (its positions come before the prompt); a fresh one by default.
    public init(
        model: LoadedModel, tokenizer: (any Tokenizer)?, promptTokens: [Int], parameters: GenerationParameters,
        cache: KVCache? = nil, cancellation: CancellationFlag = CancellationFlag()
    ) throws(PhiInferenceError) {
        try parameters.validate()
        guard !promptTokens.isEmpty else {
            throw .invalidParameter(name: "prompt", reason: "at least one prompt token is needed")
        }
        self.model = model
        self.tokenizer = tokenizer
        self.parameters = parameters
        self.promptTokens = promptTokens
        self.cancellation = cancellation
        self.cache = cache ?? model.model.makeCache()
        let needed = self.cache.count + promptTokens.count
        guard needed <= self.cache.capacity else {
            throw .contextOverflow(tokens: needed, contextLength: self.cache.capacity)
        }
        let vocabulary = model.config.vocabularySize
        var masked = Set<Int>()
        var validCount = vocabulary
        if let tokenizer {
            validCount = min(vocabulary, tokenizer.vocabularySize)
            masked = Set(tokenizer.unusedTokenIds.map(Int.init))
        }
        sampler = TokenSampler(parameters: parameters, validTokenCount: validCount, maskedTokenIDs: masked,
                               promptTokens: promptTokens)
        stopMatcher = StopStringMatcher(stopStrings: parameters.stopStrings)
        var stops = parameters.stopTokenIDs
        if !parameters.ignoreEOS {
            stops.formUnion(model.specialTokens.eos)
            if let tokenizer { stops.formUnion(tokenizer.eosTokenIds.map(Int.init)) }
        }
        stopTokenIDs = stops
        detokenizer = tokenizer.map { StreamingDetokenizer(tokenizer: $0) }
    }

    /// Generated ids so far.
    public var generatedTokens: [Int] { generated }

    /// The next event, or nil once finished.
    public func next() throws(PhiInferenceError) -> GenerationEvent? {
        if let held = heldEvent {
            heldEvent = nil
            return held
        }
        guard !isFinished else { return nil }
        if cancellation.isCancelled { return finish(.cancelled) }
        if pendingLogits == nil {
            let start = DispatchTime.now().uptimeNanoseconds
            pendingLogits = try model.model.forward(promptTokens, cache: cache, logits: .last)
            promptSeconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        }
        if let maxTokens = parameters.maxTokens, generated.count >= maxTokens { return finish(.length) }
        if cancellation.isCancelled { return finish(.cancelled) }
        let start = DispatchTime.now().uptimeNanoseconds
        defer { generationSeconds += Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9 }
        var logits = pendingLogits ?? []
        let choice = sampler.sample(&logits)
        if stopTokenIDs.contains(choice.id) {
            return finish(.stop)
        }
        sampler.accept(choice.id)
        generated.append(choice.id)
        let piece = detokenizer?.append(Int32(clamping: choice.id)) ?? ""
        let step = stopMatcher.append(piece)
        var token = GeneratedToken(id: choice.id, text: step.text, logprob: choice.logprob, topLogprobs: choice.topLogprobs)
        if step.isStopped {
            isFinished = true
            heldEvent = .finished(.stop, usage)
            return .token(token)
        }
        let reachedMax = parameters.maxTokens.map { generated.count >= $0 } ?? false
        if reachedMax || cache.count >= cache.capacity {
            // Last token: release everything held back with it.
            token.text += flushText()
            isFinished = true
            heldEvent = .finished(.length, usage)
            return .token(token)
        }
        pendingLogits = try model.model.forward([choice.id], cache: cache, logits: .last)
        return .token(token)
    }

    /// Runs to the end, calling `onEvent` for every event; returns the finish reason.
    @discardableResult
    public func run(_ onEvent: (GenerationEvent) -> Void) throws(PhiInferenceError) -> FinishReason {
        while let event = try next() {
            onEvent(event)
            if case .finished(let reason, _) = event { return reason }
        }
        return .stop
    }

    private var usage: GenerationUsage {
        GenerationUsage(promptTokens: promptTokens.count, completionTokens: generated.count,
                        promptSeconds: promptSeconds, generationSeconds: generationSeconds)
    }

    /// Ends generation: held-back text (no stop string completed) comes out as `.text` before `.finished`.
    private func finish(_ reason: FinishReason) -> GenerationEvent {
        isFinished = true
        let tail = flushText()
        if !tail.isEmpty {
            heldEvent = .finished(reason, usage)
            return .text(tail)
        }
        return .finished(reason, usage)
    }

    private func flushText() -> String {
        let rest = detokenizer?.finish() ?? ""
        var text = rest.isEmpty ? "" : stopMatcher.append(rest).text
        text += stopMatcher.flush()
        return text
    }
}
