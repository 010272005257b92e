// The forward-pass interface shared by Phi2Model and Phi3Model.

/// Which rows of logits a forward pass returns.
public enum LogitPositions: Sendable, Equatable {
    /// Only the last token's logits (`vocabularySize` floats).
    case last
    /// Every token's logits (`tokens.count × vocabularySize`, row-major).
    case all
}

/// A decoder-only transformer that extends `KVCache`s with new tokens and returns logits.
///
/// `forward` is synchronous and allocation-light: the engine calls it on its own compute thread.
public protocol CausalLanguageModel: Sendable {
    var config: PhiModelConfig { get }
    /// One step for several sequences at once: each input's tokens run at positions
    /// `cache.count ..< cache.count + tokens.count` of its own cache, which gets their keys and values; the rows
    /// of all inputs are stacked so every weight is read once. Returns each input's requested logits (in input
    /// order), exactly what a batch of that input alone returns. Throws before touching any cache when an input
    /// does not fit its cache (`contextOverflow`), holds an id outside the vocabulary (`invalidTokenID`), has no
    /// tokens, or when a cache appears twice.
    func forward(batch: [BatchedSequenceInput], logits: LogitPositions) throws(PhiInferenceError) -> [[Float]]
}

extension CausalLanguageModel {
    /// `forward(batch:logits:)` returning each input's last-position logits.
    public func forward(batch: [BatchedSequenceInput]) throws(PhiInferenceError) -> [[Float]] {
        try forward(batch: batch, logits: .last)
    }

    /// Runs `tokens` at positions `cache.count ..< cache.count + tokens.count`, appends their keys and values to
    /// `cache` and returns the requested logits (a batch of one). Throws `contextOverflow` when they do not fit
    /// (the cache is then unchanged) and `invalidTokenID` for an id outside the vocabulary.
    public func forward(_ tokens: [Int], cache: KVCache, logits: LogitPositions) throws(PhiInferenceError) -> [Float] {
        try forward(batch: [BatchedSequenceInput(tokens: tokens, cache: cache)], logits: logits)[0]
    }

    /// A cache sized for this model (`capacity` defaults to the context length).
    public func makeCache(capacity: Int? = nil, precision: KVCachePrecision = .f32) -> KVCache {
        KVCache(config: config, capacity: capacity, precision: precision)
    }

    func checkFits(_ tokens: [Int], cache: KVCache) throws(PhiInferenceError) {
        guard !tokens.isEmpty else {
            throw .invalidParameter(name: "tokens", reason: "at least one token is needed")
        }
        let needed = cache.count + tokens.count
        guard needed <= cache.capacity else {
            throw .contextOverflow(tokens: needed, contextLength: cache.capacity)
        }
        for token in tokens where token < 0 || token >= config.vocabularySize {
            throw .invalidTokenID(token, vocabularySize: config.vocabularySize)
        }
    }
}
