// How an InferenceEngine schedules (continuous batching limits) and computes (numerics, KV cache type).

public import PhiKernels

/// How an engine computes: matmul numerics and KV cache element type.
public struct EngineComputeOptions: Sendable, Equatable {
    /// `.llamaCpp` (default): quantized weights multiply activations rounded per block like ggml (fast; logits
    /// within llama.cpp's own distance to the exact reference); `.off`: exact float32 products.
    public var activationQuantization: ActivationQuantization
    /// `.f32` (default, exact) or `.f16` (half the memory; measured ≤ 7.6e-3 max |Δlogit| on the fixtures).
    public var kvCache: KVCachePrecision

    public init(activationQuantization: ActivationQuantization = .llamaCpp, kvCache: KVCachePrecision = .f32) {
        self.activationQuantization = activationQuantization
        self.kvCache = kvCache
    }
}

/// Continuous-batching limits of an engine.
public struct EngineBatchingOptions: Sendable, Equatable {
    /// Sequences decoding (or prefilling) together; each step advances all of them in one batched forward.
    public var maxSequences: Int
    /// Requests waiting beyond the active ones; when full, `generate` throws `queueFull` (the server's 429).
    public var queueCapacity: Int
    /// Bytes of KV cache the active sequences may reserve together; nil: unlimited. A request reserves its worst
    /// case (prompt + max tokens, capped at the context) when admitted and waits until that fits.
    public var kvCacheBudgetBytes: Int?
    /// Positions a sequence's cache may hold (prompt + generated); nil: the model's context length (also the cap).
    public var contextLength: Int?
    /// Prompt tokens prefilled per step: a long prompt runs in chunks of this size so decoding sequences are held
    /// back for one chunk at a time. (Generator chunks prompts the same way by default, so greedy output is the same.)
    public var prefillChunkTokens: Int

    public init(
        maxSequences: Int = 4, queueCapacity: Int = 16, kvCacheBudgetBytes: Int? = nil, contextLength: Int? = nil,
        prefillChunkTokens: Int = SequenceDecoder.defaultPrefillChunkTokens
    ) {
        self.maxSequences = maxSequences
        self.queueCapacity = queueCapacity
        self.kvCacheBudgetBytes = kvCacheBudgetBytes
        self.contextLength = contextLength
        self.prefillChunkTokens = prefillChunkTokens
    }
}
