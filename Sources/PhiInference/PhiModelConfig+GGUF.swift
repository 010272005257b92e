// Phi hyper-parameters from GGUF metadata, with llama.cpp's key names (`phi2.*`, `phi3.*`) and LongRoPE tensors.

public import GGUF

extension PhiModelConfig {
    /// Reads `general.architecture` and the `<arch>.*` keys; LongRoPE comes from the `rope_factors_long.weight` /
    /// `rope_factors_short.weight` tensors, `phi3.rope.scaling.original_context_length` and
    /// `phi3.rope.scaling.attn_factor`. The vocabulary size is the row count of `token_embd.weight`.
    public init(gguf file: GGUFFile) throws(PhiInferenceError) {
        let source = file.name
        guard let architectureName = file.architecture else {
            throw .invalidConfig(source: source, key: "general.architecture", reason: "missing")
        }
        guard let architecture = PhiArchitecture(rawValue: architectureName) else {
            throw .unsupportedArchitecture(source: source, architecture: architectureName)
        }
        let prefix = architectureName + "."
        func int(_ key: String, default fallback: Int? = nil) throws(PhiInferenceError) -> Int {
            guard let value = file.value(prefix + key) else {
                if let fallback { return fallback }
                throw .invalidConfig(source: source, key: prefix + key, reason: "missing")
            }
            guard let number = value.intValue else {
                throw .invalidConfig(source: source, key: prefix + key, reason: "expected an integer, found \(value.type)")
            }
            return number
        }
        func float(_ key: String) throws(PhiInferenceError) -> Float? {
            guard let value = file.value(prefix + key) else { return nil }
            guard let number = value.doubleValue else {
                throw .invalidConfig(source: source, key: prefix + key, reason: "expected a number, found \(value.type)")
            }
            return Float(number)
        }
        let hidden = try int("embedding_length")
        let heads = try int("attention.head_count")
        let kvHeads = try int("attention.head_count_kv", default: heads)
        let epsilonKey = architecture == .phi2 ? "attention.layer_norm_epsilon" : "attention.layer_norm_rms_epsilon"
        guard let epsilon = try float(epsilonKey) else {
            throw .invalidConfig(source: source, key: prefix + epsilonKey, reason: "missing")
        }
        guard let embedding = file.tensor(named: "token_embd.weight"), embedding.shape.count == 2 else {
            throw .invalidTensor(file: source, tensor: "token_embd.weight", reason: "missing or not 2-D")
        }
        let contextLength = try int("context_length")
        let theta = try float("rope.freq_base")
        var longRoPE: LongRoPEScaling?
        let long = file.tensor(named: "rope_factors_long.weight")
        let short = file.tensor(named: "rope_factors_short.weight")
        if long != nil || short != nil {
            guard architecture == .phi3, let long, let short else {
                throw .invalidTensor(file: source, tensor: "rope_factors_short.weight",
                                     reason: "LongRoPE needs both rope_factors_long and rope_factors_short (phi3 only)")
            }
            func factors(_ tensor: GGUFTensorInfo) throws(PhiInferenceError) -> [Float] {
                guard tensor.type == .f32, tensor.shape.count == 1 else {
                    throw .invalidTensor(file: source, tensor: tensor.name,
                                         reason: "expected a 1-D f32 tensor, found \(tensor.shape) \(tensor.type)")
                }
                let bytes = file.bytes(of: tensor)
                return (0..<tensor.elementCount).map {
                    Float(bitPattern: bytes.loadUnaligned(fromByteOffset: 4 * $0, as: UInt32.self).littleEndian)
                }
            }
            let original = try int("rope.scaling.original_context_length", default: contextLength)
            let explicitFactor = try float("rope.scaling.attn_factor")
            let attentionFactor = explicitFactor
                ?? LongRoPEScaling.defaultAttentionFactor(contextLength: contextLength, originalContextLength: original)
            longRoPE = LongRoPEScaling(
                shortFactors: try factors(short), longFactors: try factors(long),
                originalContextLength: original, attentionFactor: attentionFactor
            )
        }
        self.init(
            architecture: architecture,
            vocabularySize: embedding.shape[1],
            hiddenSize: hidden,
            intermediateSize: try int("feed_forward_length"),
            layerCount: try int("block_count"),
            headCount: heads,
            kvHeadCount: kvHeads,
            ropeDimension: try int("rope.dimension_count", default: heads > 0 ? hidden / heads : 0),
            ropeTheta: theta ?? 10000,
            normEpsilon: epsilon,
            contextLength: contextLength,
            tieWordEmbeddings: file.tensor(named: "output.weight") == nil,
            longRoPE: longRoPE
        )
        try validate(source: source)
    }
}
