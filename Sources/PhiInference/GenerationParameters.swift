// Sampling and stopping parameters of one generation request (the OpenAI request fields, HTTP-free).

/// What to generate and how to pick each token.
public struct GenerationParameters: Sendable, Equatable {
    /// Upper bound on generated tokens; nil means until the context is full. Finish reason `length`.
    public var maxTokens: Int?
    /// 0 means greedy (argmax). Default 1.
    public var temperature: Float
    /// Keep the `topK` most likely tokens; 0 disables.
    public var topK: Int
    /// Nucleus sampling: keep the smallest set whose probability reaches `topP`; 1 disables.
    public var topP: Float
    /// Drop tokens whose probability is below `minP` × the top probability; 0 disables.
    public var minP: Float
    /// transformers' repetition penalty over prompt and generated tokens (>1 discourages); 1 disables.
    public var repetitionPenalty: Float
    /// OpenAI presence penalty over generated tokens: subtracted once from every token already generated.
    public var presencePenalty: Float
    /// OpenAI frequency penalty over generated tokens: subtracted once per previous occurrence.
    public var frequencyPenalty: Float
    /// Added to the logit of each token id (OpenAI `logit_bias`, usually −100…100).
    public var logitBias: [Int: Float]
    /// Makes sampling reproducible; nil draws a fresh seed.
    public var seed: UInt64?
    /// Report the log-probability of each chosen token and this many alternatives (OpenAI `top_logprobs`);
    /// nil reports none.
    public var topLogprobs: Int?
    /// Extra token ids that end generation (the model's end-of-sequence / end-of-turn ids are added by the
    /// engine unless `ignoreEOS`).
    public var stopTokenIDs: Set<Int>
    /// Strings that end generation; matched on decoded text across token boundaries and never emitted.
    public var stopStrings: [String]
    /// Do not stop at the model's end-of-sequence ids.
    public var ignoreEOS: Bool

    public init(
        maxTokens: Int? = nil, temperature: Float = 1, topK: Int = 0, topP: Float = 1, minP: Float = 0,
        repetitionPenalty: Float = 1, presencePenalty: Float = 0, frequencyPenalty: Float = 0,
        logitBias: [Int: Float] = [:], seed: UInt64? = nil, topLogprobs: Int? = nil,
        stopTokenIDs: Set<Int> = [], stopStrings: [String] = [], ignoreEOS: Bool = false
    ) {
        self.maxTokens = maxTokens
        self.temperature = temperature
        self.topK = topK
        self.topP = topP
        self.minP = minP
        self.repetitionPenalty = repetitionPenalty
        self.presencePenalty = presencePenalty
        self.frequencyPenalty = frequencyPenalty
        self.logitBias = logitBias
        self.seed = seed
        self.topLogprobs = topLogprobs
        self.stopTokenIDs = stopTokenIDs
        self.stopStrings = stopStrings
        self.ignoreEOS = ignoreEOS
    }

    /// Greedy decoding: argmax at every step.
    public static let greedy = GenerationParameters(temperature: 0)

    /// Throws `invalidParameter` for values outside their range.
    public func validate() throws(PhiInferenceError) {
        if let maxTokens, maxTokens < 0 { throw .invalidParameter(name: "max_tokens", reason: "must be ≥ 0, found \(maxTokens)") }
        guard temperature >= 0, temperature.isFinite else {
            throw .invalidParameter(name: "temperature", reason: "must be a finite number ≥ 0, found \(temperature)")
        }
        guard topK >= 0 else { throw .invalidParameter(name: "top_k", reason: "must be ≥ 0, found \(topK)") }
        guard topP > 0, topP <= 1 else { throw .invalidParameter(name: "top_p", reason: "must be in (0, 1], found \(topP)") }
        guard minP >= 0, minP <= 1 else { throw .invalidParameter(name: "min_p", reason: "must be in [0, 1], found \(minP)") }
        guard repetitionPenalty > 0, repetitionPenalty.isFinite else {
            throw .invalidParameter(name: "repetition_penalty", reason: "must be > 0, found \(repetitionPenalty)")
        }
        guard presencePenalty.isFinite, frequencyPenalty.isFinite else {
            throw .invalidParameter(name: "presence_penalty/frequency_penalty", reason: "must be finite")
        }
        if let topLogprobs, topLogprobs < 0 || topLogprobs > 20 {
            throw .invalidParameter(name: "top_logprobs", reason: "must be in 0…20, found \(topLogprobs)")
        }
        for (id, bias) in logitBias where !bias.isFinite || id < 0 {
            throw .invalidParameter(name: "logit_bias", reason: "invalid entry \(id): \(bias)")
        }
        if stopStrings.contains(where: \.isEmpty) { throw .invalidParameter(name: "stop", reason: "empty stop string") }
    }
}
