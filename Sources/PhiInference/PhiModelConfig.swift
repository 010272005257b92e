// Model hyper-parameters of phi2 (PhiForCausalLM) and phi3 (Phi3ForCausalLM), as transformers and llama.cpp read them.

public import Foundation

/// The two transformer layouts this core implements.
public enum PhiArchitecture: String, Sendable, Codable {
    /// phi-1, phi-1.5, phi-2: parallel attention + MLP, LayerNorm, gelu_new, biases.
    case phi2
    /// phi-3, phi-3.5, phi-4-mini: RMSNorm, fused qkv and gate_up, SiLU, LongRoPE, GQA.
    case phi3
}

/// LongRoPE (Phi-3 "su"/"longrope" scaling): per-frequency divisors for short and long sequences plus a
/// factor applied to cos and sin.
public struct LongRoPEScaling: Sendable, Equatable {
    /// Divisors used while the sequence fits `originalContextLength` (`rope_dim / 2` values).
    public var shortFactors: [Float]
    /// Divisors used beyond it.
    public var longFactors: [Float]
    /// `original_max_position_embeddings`: the pre-training context length.
    public var originalContextLength: Int
    /// Multiplies cos and sin: `sqrt(1 + ln(ctx / original) / ln(original))` unless given explicitly.
    public var attentionFactor: Float

    public init(shortFactors: [Float], longFactors: [Float], originalContextLength: Int, attentionFactor: Float) {
        self.shortFactors = shortFactors
        self.longFactors = longFactors
        self.originalContextLength = originalContextLength
        self.attentionFactor = attentionFactor
    }

    /// transformers' default attention factor for a context of `contextLength` positions.
    public static func defaultAttentionFactor(contextLength: Int, originalContextLength: Int) -> Float {
        let scale = Double(contextLength) / Double(originalContextLength)
        guard scale > 1 else { return 1 }
        return Float((1 + log(scale) / log(Double(originalContextLength))).squareRoot())
    }
}

/// Hyper-parameters of a Phi model.
public struct PhiModelConfig: Sendable, Equatable {
    public var architecture: PhiArchitecture
    public var vocabularySize: Int
    public var hiddenSize: Int
    public var intermediateSize: Int
    public var layerCount: Int
    public var headCount: Int
    public var kvHeadCount: Int
    /// Rotated dimensions per head (`n_rot`, `head_dim · partial_rotary_factor`).
    public var ropeDimension: Int
    public var ropeTheta: Float
    /// LayerNorm epsilon (phi2) or RMSNorm epsilon (phi3).
    public var normEpsilon: Float
    /// Maximum sequence length (`max_position_embeddings`, GGUF `context_length`).
    public var contextLength: Int
    public var tieWordEmbeddings: Bool
    public var longRoPE: LongRoPEScaling?

    public var headDimension: Int { hiddenSize / max(headCount, 1) }

    public init(
        architecture: PhiArchitecture, vocabularySize: Int, hiddenSize: Int, intermediateSize: Int, layerCount: Int,
        headCount: Int, kvHeadCount: Int, ropeDimension: Int, ropeTheta: Float, normEpsilon: Float,
        contextLength: Int, tieWordEmbeddings: Bool, longRoPE: LongRoPEScaling? = nil
    ) {
        self.architecture = architecture
        self.vocabularySize = vocabularySize
        self.hiddenSize = hiddenSize
        self.intermediateSize = intermediateSize
        self.layerCount = layerCount
        self.headCount = headCount
        self.kvHeadCount = kvHeadCount
        self.ropeDimension = ropeDimension
        self.ropeTheta = ropeTheta
        self.normEpsilon = normEpsilon
        self.contextLength = contextLength
        self.tieWordEmbeddings = tieWordEmbeddings
        self.longRoPE = longRoPE
    }

    /// Checks internal consistency (`source` names the file for messages).
    func validate(source: String) throws(PhiInferenceError) {
        func check(_ condition: Bool, _ key: String, _ reason: String) throws(PhiInferenceError) {
            if !condition { throw .invalidConfig(source: source, key: key, reason: reason) }
        }
        try check(vocabularySize > 0, "vocab_size", "expected a positive integer, found \(vocabularySize)")
        try check(hiddenSize > 0, "hidden_size", "expected a positive integer, found \(hiddenSize)")
        try check(intermediateSize > 0, "intermediate_size", "expected a positive integer, found \(intermediateSize)")
        try check(layerCount > 0 && layerCount <= 1024, "num_hidden_layers", "expected 1…1024, found \(layerCount)")
        try check(headCount > 0 && hiddenSize % headCount == 0, "num_attention_heads",
                  "expected a divisor of hidden_size \(hiddenSize), found \(headCount)")
        try check(kvHeadCount > 0 && headCount % kvHeadCount == 0, "num_key_value_heads",
                  "expected a divisor of num_attention_heads \(headCount), found \(kvHeadCount)")
        try check(ropeDimension > 0 && ropeDimension <= headDimension && ropeDimension % 2 == 0, "rope dimension",
                  "expected an even number in 2…\(headDimension) (head_dim), found \(ropeDimension)")
        try check(ropeTheta > 0 && ropeTheta.isFinite, "rope_theta", "expected a positive number, found \(ropeTheta)")
        try check(normEpsilon > 0 && normEpsilon < 1, "norm epsilon", "expected a small positive number, found \(normEpsilon)")
        try check(contextLength > 0, "max_position_embeddings", "expected a positive integer, found \(contextLength)")
        if let rope = longRoPE {
            try check(rope.shortFactors.count == ropeDimension / 2, "rope_scaling.short_factor",
                      "expected \(ropeDimension / 2) values (rope dimension / 2), found \(rope.shortFactors.count)")
            try check(rope.longFactors.count == ropeDimension / 2, "rope_scaling.long_factor",
                      "expected \(ropeDimension / 2) values (rope dimension / 2), found \(rope.longFactors.count)")
            try check(rope.originalContextLength > 0, "original_max_position_embeddings",
                      "expected a positive integer, found \(rope.originalContextLength)")
            try check((rope.shortFactors + rope.longFactors).allSatisfy { $0 > 0 && $0.isFinite }, "rope_scaling",
                      "factors must be positive numbers")
        }
    }
}

// MARK: - config.json

extension PhiModelConfig {
    /// Reads a transformers `config.json` (`model_type` `phi` or `phi3`; transformers 4 `rope_scaling` /
    /// top-level `rope_theta` and transformers 5 `rope_parameters` spellings).
    public init(huggingFaceConfig data: Data, source: String) throws(PhiInferenceError) {
        guard let json = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] else {
            throw .invalidFile(file: source, reason: "not a JSON object")
        }
        func value(_ key: String, in object: [String: Any]? = nil) -> Any? {
            let item = (object ?? json)[key]
            return item is NSNull ? nil : item
        }
        func int(_ key: String, default fallback: Int? = nil) throws(PhiInferenceError) -> Int {
            guard let item = value(key) else {
                if let fallback { return fallback }
                throw .invalidConfig(source: source, key: key, reason: "missing")
            }
            guard let number = item as? NSNumber, number.doubleValue == number.doubleValue.rounded(),
                abs(number.doubleValue) < 1e12
            else { throw .invalidConfig(source: source, key: key, reason: "expected an integer, found \(item)") }
            return number.intValue
        }
        func double(_ key: String, in object: [String: Any]? = nil) throws(PhiInferenceError) -> Double? {
            guard let item = value(key, in: object) else { return nil }
            guard let number = item as? NSNumber else {
                throw .invalidConfig(source: source, key: key, reason: "expected a number, found \(item)")
            }
            return number.doubleValue
        }
        let modelType = value("model_type") as? String ?? ""
        let architecture: PhiArchitecture
        switch modelType {
        case "phi": architecture = .phi2
        case "phi3": architecture = .phi3
        default: throw .unsupportedArchitecture(source: source, architecture: modelType.isEmpty ? "(no model_type)" : modelType)
        }
        if architecture == .phi2, (value("qk_layernorm") as? Bool) == true {
            throw .invalidConfig(source: source, key: "qk_layernorm", reason: "true is not supported")
        }
        let hidden = try int("hidden_size")
        let heads = try int("num_attention_heads")
        let kvHeads = try int("num_key_value_heads", default: heads)
        let ropeParameters = value("rope_parameters") as? [String: Any]
        let ropeScaling = value("rope_scaling") as? [String: Any]
        let nestedPartialRotary = try double("partial_rotary_factor", in: ropeParameters)
        let topPartialRotary = try double("partial_rotary_factor")
        let partialRotary = nestedPartialRotary ?? topPartialRotary ?? 1.0
        let nestedTheta = try double("rope_theta", in: ropeParameters)
        let topTheta = try double("rope_theta")
        let theta = nestedTheta ?? topTheta ?? 10000
        let headDimension = heads > 0 ? hidden / heads : 0
        let contextLength = try int("max_position_embeddings")
        let epsilonKey = architecture == .phi2 ? "layer_norm_eps" : "rms_norm_eps"
        guard let epsilon = try double(epsilonKey) else {
            throw .invalidConfig(source: source, key: epsilonKey, reason: "missing")
        }
        let ropeDimension = Int(Double(headDimension) * partialRotary)
        var longRoPE: LongRoPEScaling?
        let scaling = ropeScaling ?? ropeParameters
        let scalingType = (scaling?["rope_type"] as? String) ?? (scaling?["type"] as? String) ?? "default"
        switch scalingType {
        case "default":
            break
        case "longrope", "su":
            guard architecture == .phi3, let scaling else {
                throw .invalidConfig(source: source, key: "rope_scaling", reason: "longrope is only defined for phi3")
            }
            func factors(_ key: String) throws(PhiInferenceError) -> [Float] {
                guard let list = scaling[key] as? [NSNumber] else {
                    throw .invalidConfig(source: source, key: "rope_scaling.\(key)", reason: "expected a list of numbers")
                }
                return list.map { $0.floatValue }
            }
            let original = try int("original_max_position_embeddings", default: (scaling["original_max_position_embeddings"] as? NSNumber)?.intValue ?? contextLength)
            let explicitFactor = try double("attention_factor", in: scaling)
            let attentionFactor = explicitFactor.map { Float($0) }
                ?? LongRoPEScaling.defaultAttentionFactor(contextLength: contextLength, originalContextLength: original)
            longRoPE = LongRoPEScaling(
                shortFactors: try factors("short_factor"), longFactors: try factors("long_factor"),
                originalContextLength: original, attentionFactor: attentionFactor
            )
        default:
            throw .invalidConfig(source: source, key: "rope_scaling.type",
                                 reason: "unsupported rope scaling '\(scalingType)' (expected longrope or none)")
        }
        self.init(
            architecture: architecture,
            vocabularySize: try int("vocab_size"),
            hiddenSize: hidden,
            intermediateSize: try int("intermediate_size"),
            layerCount: try int("num_hidden_layers"),
            headCount: heads,
            kvHeadCount: kvHeads,
            ropeDimension: ropeDimension,
            ropeTheta: Float(theta),
            normEpsilon: Float(epsilon),
            contextLength: contextLength,
            tieWordEmbeddings: (value("tie_word_embeddings") as? Bool) ?? false,
            longRoPE: longRoPE
        )
        try validate(source: source)
    }
}
