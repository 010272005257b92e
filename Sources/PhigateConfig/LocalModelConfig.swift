/// `backends[i]` with `kind: local` — a Phi model run in this process (GGUF file or Hugging Face folder).
public struct LocalModelConfig: Sendable, Hashable {
    /// The model file or folder (`model`). Empty disables the backend: its models answer 503 and `/readyz` says so
    /// (the shipped configuration reads it from `PHIGATE_LOCAL_MODEL`).
    public var modelPath: String
    /// Compute threads (`threads`); 0 means one per core.
    public var threads: Int
    /// Positions per sequence (`context_size`); nil uses the model's context length.
    public var contextSize: Int?
    /// Sequences decoded together in one batch (`max_concurrent_sequences`).
    public var maxSequences: Int
    /// Requests waiting beyond those (`queue_limit`); one more is answered 429.
    public var queueLimit: Int
    /// Bytes all sequences' key/value caches may hold together (`kv_cache_budget`); nil: no limit beyond
    /// `max_concurrent_sequences` full contexts.
    public var kvCacheBudget: Int?
    /// Key/value cache element type (`kv_cache_type`: `f32`, exact, or `f16`, half the memory).
    public var kvCacheType: LocalKVCacheType
    /// `llama_cpp` (default: quantized activations like ggml, fast) or `exact` float32 products (`numerics`).
    public var numerics: LocalNumerics
    /// A chat template name overriding the model's (`chat_template`: phi2, phi3, phi4-mini).
    public var chatTemplate: String?
    /// What a model that cannot be loaded does (`on_load_failure`): stop the gateway, or keep serving the other
    /// backends with this one marked down.
    public var onLoadFailure: LocalLoadFailurePolicy
    /// Sampling used when a request does not say (`sampling`).
    public var sampling: LocalSamplingDefaults

    public init(
        modelPath: String, threads: Int = 0, contextSize: Int? = nil, maxSequences: Int = 4, queueLimit: Int = 64,
        kvCacheBudget: Int? = nil, kvCacheType: LocalKVCacheType = .f32, numerics: LocalNumerics = .llamaCpp,
        chatTemplate: String? = nil, onLoadFailure: LocalLoadFailurePolicy = .fail,
        sampling: LocalSamplingDefaults = LocalSamplingDefaults()
    ) {
        self.modelPath = modelPath
        self.threads = threads
        self.contextSize = contextSize
        self.maxSequences = maxSequences
        self.queueLimit = queueLimit
        self.kvCacheBudget = kvCacheBudget
        self.kvCacheType = kvCacheType
        self.numerics = numerics
        self.chatTemplate = chatTemplate
        self.onLoadFailure = onLoadFailure
        self.sampling = sampling
    }

    /// Whether a model is configured (an empty `model` disables the backend).
    public var isEnabled: Bool { !modelPath.isEmpty }
}

/// `kv_cache_type`.
public enum LocalKVCacheType: String, Sendable, Hashable, CaseIterable {
    case f32, f16
}

/// `numerics`.
public enum LocalNumerics: String, Sendable, Hashable, CaseIterable {
    case llamaCpp = "llama_cpp"
    case exact
}

/// `on_load_failure`.
public enum LocalLoadFailurePolicy: String, Sendable, Hashable, CaseIterable {
    /// The gateway stops with the loading error (default).
    case fail
    /// The gateway keeps serving; this backend's models answer 503 and `/readyz` reports it down.
    case markDown = "mark_down"
}

/// `sampling:` — defaults for fields a request leaves out.
public struct LocalSamplingDefaults: Sendable, Hashable {
    public var temperature: Double
    public var topP: Double
    public var topK: Int
    public var minP: Double
    public var repetitionPenalty: Double
    /// Generated tokens when the request gives no `max_tokens` (nil: until the context is full).
    public var maxTokens: Int?

    public init(
        temperature: Double = 1, topP: Double = 1, topK: Int = 0, minP: Double = 0, repetitionPenalty: Double = 1,
        maxTokens: Int? = 1024
    ) {
        self.temperature = temperature
        self.topP = topP
        self.topK = topK
        self.minP = minP
        self.repetitionPenalty = repetitionPenalty
        self.maxTokens = maxTokens
    }
}
