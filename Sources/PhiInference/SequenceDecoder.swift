// One request's generation as a state machine, shared by `Generator` (one sequence) and `InferenceEngine`
// (continuous batching): it says which tokens to run next (prompt chunks, then each sampled token), consumes the
// logits of that run, and emits the events: sampling, stop ids and strings, streaming detokenization, finish
// reasons and usage. It runs no model itself, so both drivers give a request the same tokens and text.

import Foundation
public import PhiTokenizer

/// Sampling, stopping and detokenizing for one sequence, driven from outside:
/// `nextInput(cache:)` → forward → `consume(logits:seconds:)` → events, until `isFinished`.
///
/// The prompt is fed in chunks of at most `prefillChunkTokens` (the same chunks whoever drives it, so a request's
/// numbers do not depend on its driver); the logits of every chunk but the last are ignored.
public struct SequenceDecoder {
    /// Default prompt chunk: long enough for the prefill kernels' efficiency, short enough that a long prompt
    /// holds a batch of decoders back for a bounded time per step.
    public static let defaultPrefillChunkTokens = 256

    public let promptTokens: [Int]
    public let parameters: GenerationParameters
    public let prefillChunkTokens: Int
    /// Cache positions filled before the prompt (a reused cache).
    public let initialPositions: Int
    /// Positions the sequence's cache can hold.
    public let capacity: Int
    private var sampler: TokenSampler
    private var stopMatcher: StopStringMatcher
    private var detokenizer: StreamingDetokenizer?
    private let stopTokenIDs: Set<Int>
    private var promptFed = 0
    private var nextTokens: [Int]
    private var generated: [Int] = []
    private var promptSeconds = 0.0
    private var generationSeconds = 0.0
    public private(set) var isFinished = false
    /// Reported in `usage` (set by a driver that queues requests).
    public var queueSeconds = 0.0

    /// - Parameters:
    ///   - tokenizer: decodes text pieces (`StreamingDetokenizer`) and gives the padding ids to mask and the
    ///     end-of-turn ids; without one, pieces are empty and nothing is masked.
    ///   - initialPositions: positions already in the cache (they come before the prompt).
    ///   - capacity: positions the cache can hold; a prompt that does not fit throws `contextOverflow`, and
    ///     generation finishes with `length` when the cache is full.
    public init(
        model: LoadedModel, tokenizer: (any Tokenizer)?, promptTokens: [Int], parameters: GenerationParameters,
        initialPositions: Int = 0, capacity: Int, prefillChunkTokens: Int = Self.defaultPrefillChunkTokens
    ) throws(PhiInferenceError) {
        try parameters.validate()
        guard !promptTokens.isEmpty else {
            throw .invalidParameter(name: "prompt", reason: "at least one prompt token is needed")
        }
        guard prefillChunkTokens > 0 else {
            throw .invalidParameter(name: "prefillChunkTokens", reason: "must be positive, found \(prefillChunkTokens)")
        }
        let needed = initialPositions + promptTokens.count
        guard needed <= capacity else { throw .contextOverflow(tokens: needed, contextLength: capacity) }
        self.promptTokens = promptTokens
        self.parameters = parameters
        self.prefillChunkTokens = prefillChunkTokens
        self.initialPositions = initialPositions
        self.capacity = capacity
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
        nextTokens = Array(promptTokens.prefix(prefillChunkTokens))
    }

    /// Generated ids so far.
    public var generatedTokens: [Int] { generated }

    /// Whether prompt chunks remain to be run.
    public var isPrefilling: Bool { promptFed < promptTokens.count }

    /// Token counts and the seconds reported to `consume` so far.
    public var usage: GenerationUsage {
        GenerationUsage(promptTokens: promptTokens.count, completionTokens: generated.count,
                        promptSeconds: promptSeconds, generationSeconds: generationSeconds, queueSeconds: queueSeconds)
    }

    /// What to run next on `cache` (the sequence's own), or nil once finished. Prompt chunks carry the prompt's
    /// end as `scalingLength`, so chunking never changes Phi-3's LongRoPE choice.
    public func nextInput(cache: KVCache) -> BatchedSequenceInput? {
        guard !isFinished else { return nil }
        let scaling = isPrefilling ? initialPositions + promptTokens.count : nil
        return BatchedSequenceInput(tokens: nextTokens, cache: cache, scalingLength: scaling)
    }

    /// Takes the last-position logits of running `nextInput`'s tokens (`seconds`: how long that took) and
    /// returns the events they lead to: none after a prompt chunk that is not the last; otherwise one sampled
    /// token, followed by `finished` (after held-back text) when generation ends.
    public mutating func consume(logits: [Float], seconds: Double) -> [GenerationEvent] {
        guard !isFinished else { return [] }
        if isPrefilling {
            promptFed += nextTokens.count
            promptSeconds += seconds
            if isPrefilling {
                nextTokens = Array(promptTokens[promptFed..<min(promptFed + prefillChunkTokens, promptTokens.count)])
                return []
            }
        } else {
            generationSeconds += seconds
        }
        if let maxTokens = parameters.maxTokens, generated.count >= maxTokens { return finish(.length) }
        let start = DispatchTime.now().uptimeNanoseconds
        defer { generationSeconds += Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9 }
        var logits = logits
        let choice = sampler.sample(&logits)
        if stopTokenIDs.contains(choice.id) { return finish(.stop) }
        sampler.accept(choice.id)
        generated.append(choice.id)
        let piece = detokenizer?.append(Int32(clamping: choice.id)) ?? ""
        let step = stopMatcher.append(piece)
        var token = GeneratedToken(id: choice.id, text: step.text, logprob: choice.logprob, topLogprobs: choice.topLogprobs)
        if step.isStopped {
            isFinished = true
            return [.token(token), .finished(.stop, usage)]
        }
        let reachedMax = parameters.maxTokens.map { generated.count >= $0 } ?? false
        // The cache holds the prompt and every generated token but this one.
        let isCacheFull = initialPositions + promptTokens.count + generated.count - 1 >= capacity
        if reachedMax || isCacheFull {
            // Last token: release everything held back with it.
            token.text += flushText()
            isFinished = true
            return [.token(token), .finished(.length, usage)]
        }
        nextTokens = [choice.id]
        return [.token(token)]
    }

    /// Ends generation as `cancelled` (held-back text first); nothing once finished.
    public mutating func cancel() -> [GenerationEvent] {
        guard !isFinished else { return [] }
        return finish(.cancelled)
    }

    /// Ends generation: held-back text (no stop string completed) comes out as `.text` before `.finished`.
    private mutating func finish(_ reason: FinishReason) -> [GenerationEvent] {
        isFinished = true
        let tail = flushText()
        return tail.isEmpty ? [.finished(reason, usage)] : [.text(tail), .finished(reason, usage)]
    }

    private mutating func flushText() -> String {
        let rest = detokenizer?.finish() ?? ""
        var text = rest.isEmpty ? "" : stopMatcher.append(rest).text
        text += stopMatcher.flush()
        return text
    }
}
