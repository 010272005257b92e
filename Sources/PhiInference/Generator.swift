// Token-by-token generation of one prompt: a `SequenceDecoder` driven with batches of one.
// Synchronous by design: it runs on a caller's thread (the CLI, tests), never on the cooperative pool.

import Foundation
public import PhiTokenizer

/// Generates tokens for one prompt. Call `next()` until it returns `.finished` (then nil), or `run(_:)`.
///
/// Not thread-safe: one thread drives it; `cancellation` may be set from any thread and is checked between tokens.
public final class Generator {
    public let model: LoadedModel
    public let parameters: GenerationParameters
    public let promptTokens: [Int]
    public let cancellation: CancellationFlag
    private let cache: KVCache
    private var decoder: SequenceDecoder
    private var pending: [GenerationEvent] = []

    /// Prepares generation; the prompt pass runs on the first `next()`.
    /// - Parameters:
    ///   - tokenizer: decodes text pieces (`StreamingDetokenizer`) and gives the padding ids to mask and the
    ///     end-of-turn ids; without one, pieces are empty and nothing is masked.
    ///   - cache: reuse a cache (its positions come before the prompt); a fresh one by default.
    ///   - prefillChunkTokens: the prompt runs in chunks of this many tokens (as `InferenceEngine` runs it).
    public init(
        model: LoadedModel, tokenizer: (any Tokenizer)?, promptTokens: [Int], parameters: GenerationParameters,
        cache: KVCache? = nil, cancellation: CancellationFlag = CancellationFlag(),
        prefillChunkTokens: Int = SequenceDecoder.defaultPrefillChunkTokens
    ) throws(PhiInferenceError) {
        let cache = cache ?? model.model.makeCache()
        cache.reserve(forPositions: cache.count + promptTokens.count)
        decoder = try SequenceDecoder(
            model: model, tokenizer: tokenizer, promptTokens: promptTokens, parameters: parameters,
            initialPositions: cache.count, capacity: cache.capacity, prefillChunkTokens: prefillChunkTokens)
        self.model = model
        self.parameters = parameters
        self.promptTokens = promptTokens
        self.cancellation = cancellation
        self.cache = cache
    }

    /// Generated ids so far.
    public var generatedTokens: [Int] { decoder.generatedTokens }

    /// The next event, or nil once finished.
    public func next() throws(PhiInferenceError) -> GenerationEvent? {
        while pending.isEmpty {
            if cancellation.isCancelled {
                pending = decoder.cancel()
                break
            }
            guard let input = decoder.nextInput(cache: cache) else { break }
            let start = DispatchTime.now().uptimeNanoseconds
            let logits = try model.model.forward(batch: [input])[0]
            pending = decoder.consume(logits: logits, seconds: Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
        }
        return pending.isEmpty ? nil : pending.removeFirst()
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
}
