// The forward-pass interface shared by Phi2Model and Phi3Model.

/// Which rows of logits a forward pass returns.
public enum LogitPositions: Sendable, Equatable {
    /// Only the last token's logits (`vocabularySize` floats).
    case last
    /// Every token's logits (`tokens.count × vocabularySize`, row-major).
    case all
}

/// A decoder-only transformer that extends a `KVCache` with new tokens and returns logits.
///
/// `forward` is synchronous and allocation-light: the engine calls it on its own compute thread.
public protocol CausalLanguageModel: Sendable {
    var config: PhiModelConfig { get }
    /// Runs `tokens` at positions `cache.count ..< cache.count + tokens.count`, appends their keys and values to
    /// `cache` and returns the requested logits. Throws `contextOverflow` when they do not fit (the cache is
    /// then unchanged) and `invalidTokenID` for an id outside the vocabulary.
    func forward(_ tokens: [Int], cache: KVCache, logits: LogitPositions) throws(PhiInferenceError) -> [Float]
}

extension CausalLanguageModel {
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
