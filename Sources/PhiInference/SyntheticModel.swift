// Synthetic GGUF models: random weights with the exact tensor names, shapes, types and metadata of the real
// phi-2 / phi-3-mini / phi-4-mini files (as convert_hf_to_gguf.py + llama-quantize write them), for measuring speed
// on real shapes without downloading weights.

public import Foundation
public import GGUF

/// Sizes of the published models.
public enum SyntheticPreset: String, Sendable, CaseIterable {
    case phi2 = "phi-2"
    case phi3Mini = "phi-3-mini"
    case phi4Mini = "phi-4-mini"

    /// The GGUF architecture of the preset.
    public var architecture: String { self == .phi2 ? "phi2" : "phi3" }
}

/// Weight types of the synthetic file (llama-quantize file types).
public enum SyntheticWeightType: String, Sendable, CaseIterable {
    case q4_0 = "Q4_0"
    case q8_0 = "Q8_0"
    case q4_K_M = "Q4_K_M"
    case f16 = "F16"

    /// `general.file_type` (llama_ftype).
    var fileType: UInt32 {
        switch self {
        case .q4_0: 2
        case .q8_0: 7
        case .q4_K_M: 15
        case .f16: 1
        }
    }
}

/// The tensors and metadata of one synthetic model.
public struct SyntheticModelSpec: Sendable {
    public let preset: SyntheticPreset
    public let type: SyntheticWeightType
    public let vocabularySize: Int
    let hidden: Int
    let intermediate: Int
    let layers: Int
    let heads: Int
    let kvHeads: Int
    let ropeDimension: Int
    let contextLength: Int
    let originalContextLength: Int
    let isTied: Bool

    /// Throws when `architecture` does not match the preset's.
    public init(architecture: String, preset: SyntheticPreset, type: SyntheticWeightType) throws(PhiInferenceError) {
        guard architecture == preset.architecture else {
            throw .invalidConfig(
                source: "synth", key: "--arch",
                reason: "preset \(preset.rawValue) is architecture \(preset.architecture), found \(architecture)")
        }
        self.preset = preset
        self.type = type
        switch preset {
        case .phi2:
            (vocabularySize, hidden, intermediate, layers, heads, kvHeads) = (51200, 2560, 10240, 32, 32, 32)
            (ropeDimension, contextLength, originalContextLength, isTied) = (32, 2048, 2048, false)
        case .phi3Mini:
            (vocabularySize, hidden, intermediate, layers, heads, kvHeads) = (32064, 3072, 8192, 32, 32, 32)
            (ropeDimension, contextLength, originalContextLength, isTied) = (96, 4096, 4096, false)
        case .phi4Mini:
            (vocabularySize, hidden, intermediate, layers, heads, kvHeads) = (200_064, 3072, 8192, 32, 24, 8)
            (ropeDimension, contextLength, originalContextLength, isTied) = (96, 131_072, 4096, true)
        }
    }

    var headDimension: Int { hidden / heads }

    /// llama-quantize's `use_more_bits`: the first and last eighth of the layers and every third in between.
    static func usesMoreBits(_ layer: Int, of count: Int) -> Bool {
        layer < count / 8 || layer >= 7 * count / 8 || (layer - count / 8) % 3 == 2
    }

    /// The type llama-quantize gives a 2-D tensor (`role`: the name without `blk.N.` and `.weight`).
    func matrixType(role: String, layer: Int?) -> GGMLType {
        let isOutput = role == "output" || (isTied && role == "token_embd")
        switch type {
        case .f16: return .f16
        case .q8_0: return .q8_0
        case .q4_0: return isOutput ? .q6_K : .q4_0
        case .q4_K_M:
            if isOutput { return .q6_K }
            if role == "attn_qkv" { return .q5_K }
            if role == "attn_v" || role == "ffn_down", let layer, Self.usesMoreBits(layer, of: layers) { return .q6_K }
            return .q4_K
        }
    }

    /// Tensors in the order convert_hf_to_gguf.py writes them.
    public var tensors: [GGUFWriter.StreamedTensor] {
        var out: [GGUFWriter.StreamedTensor] = []
        func matrix(_ name: String, role: String, layer: Int?, input: Int, output: Int) {
            out.append(.init(name: name, type: matrixType(role: role, layer: layer), shape: [input, output]))
        }
        func vector(_ name: String, _ count: Int) { out.append(.init(name: name, type: .f32, shape: [count])) }
        matrix("token_embd.weight", role: "token_embd", layer: nil, input: hidden, output: vocabularySize)
        if preset == .phi4Mini {
            vector("rope_factors_long.weight", ropeDimension / 2)
            vector("rope_factors_short.weight", ropeDimension / 2)
        }
        let d = headDimension
        for i in 0..<layers {
            let p = "blk.\(i)."
            if preset == .phi2 {
                vector(p + "attn_norm.weight", hidden)
                vector(p + "attn_norm.bias", hidden)
                for (role, rows) in [("attn_q", heads * d), ("attn_k", kvHeads * d), ("attn_v", kvHeads * d)] {
                    matrix(p + role + ".weight", role: role, layer: i, input: hidden, output: rows)
                    vector(p + role + ".bias", rows)
                }
                matrix(p + "attn_output.weight", role: "attn_output", layer: i, input: heads * d, output: hidden)
                vector(p + "attn_output.bias", hidden)
                matrix(p + "ffn_up.weight", role: "ffn_up", layer: i, input: hidden, output: intermediate)
                vector(p + "ffn_up.bias", intermediate)
                matrix(p + "ffn_down.weight", role: "ffn_down", layer: i, input: intermediate, output: hidden)
                vector(p + "ffn_down.bias", hidden)
            } else {
                vector(p + "attn_norm.weight", hidden)
                matrix(p + "attn_qkv.weight", role: "attn_qkv", layer: i, input: hidden, output: (heads + 2 * kvHeads) * d)
                matrix(p + "attn_output.weight", role: "attn_output", layer: i, input: heads * d, output: hidden)
                vector(p + "ffn_norm.weight", hidden)
                matrix(p + "ffn_up.weight", role: "ffn_up", layer: i, input: hidden, output: 2 * intermediate)
                matrix(p + "ffn_down.weight", role: "ffn_down", layer: i, input: intermediate, output: hidden)
            }
        }
        vector("output_norm.weight", hidden)
        if preset == .phi2 { vector("output_norm.bias", hidden) }
        if !isTied { matrix("output.weight", role: "output", layer: nil, input: hidden, output: vocabularySize) }
        if preset == .phi2 { vector("output.bias", vocabularySize) }
        return out
    }

    /// Architecture metadata (without the tokenizer).
    public var metadata: [(String, GGUFValue)] {
        let a = preset.architecture
        var m: [(String, GGUFValue)] = [
            ("general.architecture", .string(a)),
            ("general.type", .string("model")),
            ("general.name", .string("Synthetic \(preset.rawValue) \(type.rawValue)")),
            ("\(a).context_length", .uint32(UInt32(contextLength))),
        ]
        if a == "phi3" { m.append(("\(a).rope.scaling.original_context_length", .uint32(UInt32(originalContextLength)))) }
        m += [
            ("\(a).embedding_length", .uint32(UInt32(hidden))),
            ("\(a).feed_forward_length", .uint32(UInt32(intermediate))),
            ("\(a).block_count", .uint32(UInt32(layers))),
            ("\(a).attention.head_count", .uint32(UInt32(heads))),
            ("\(a).attention.head_count_kv", .uint32(UInt32(kvHeads))),
        ]
        if a == "phi2" {
            m.append(("\(a).attention.layer_norm_epsilon", .float32(1e-5)))
            m.append(("\(a).rope.dimension_count", .uint32(UInt32(ropeDimension))))
        } else {
            m.append(("\(a).attention.layer_norm_rms_epsilon", .float32(1e-5)))
            m.append(("\(a).rope.dimension_count", .uint32(UInt32(ropeDimension))))
            m.append(("\(a).rope.freq_base", .float32(10000)))
            m.append(("\(a).attention.sliding_window", .uint32(preset == .phi3Mini ? 2047 : 0)))
        }
        return m
    }

    /// Bytes of all tensor data.
    public var weightBytes: Int { tensors.reduce(0) { $0 + ($1.byteCount ?? 0) } }
}

/// Writes synthetic GGUF files.
public enum SyntheticModelWriter {
    /// Tokenizer GGUFs shipped with the repository, relative to the package root (first found is used).
    public static func defaultVocabularyCandidates(for preset: SyntheticPreset) -> [String] {
        switch preset {
        case .phi2:
            ["Tests/Fixtures/phi/phi2-tiny/phi2-tiny-Q4_0.gguf", "../shared/fixtures/phi/phi2-tiny/phi2-tiny-Q4_0.gguf"]
        case .phi3Mini:
            ["Tests/Fixtures/tokenizer/ggml-vocab-phi-3.gguf", "../shared/fixtures/tokenizer/ggml-vocab-phi-3.gguf"]
        case .phi4Mini:
            []
        }
    }

    /// Writes `spec` to `url` with random weights (reproducible from `seed`) and the `tokenizer.*` metadata of
    /// `vocabulary`, streaming tensor data in chunks. `progress(bytesWritten, totalBytes)` after each chunk.
    public static func write(
        _ spec: SyntheticModelSpec, to url: URL, vocabulary: GGUFFile, seed: UInt64,
        progress: ((Int, Int) -> Void)? = nil
    ) throws {
        let tokens = vocabulary.stringArray("tokenizer.ggml.tokens")?.count ?? 0
        guard tokens == spec.vocabularySize else {
            throw PhiInferenceError.invalidConfig(
                source: vocabulary.name, key: "tokenizer.ggml.tokens",
                reason: "\(spec.preset.rawValue) needs a vocabulary of \(spec.vocabularySize) tokens, found \(tokens)")
        }
        var writer = GGUFWriter()
        for (key, value) in spec.metadata { writer.set(key, value) }
        for key in vocabulary.metadataKeys where key.hasPrefix("tokenizer.") {
            if let value = vocabulary.value(key) { writer.set(key, value) }
        }
        writer.set("general.quantization_version", .uint32(2))
        writer.set("general.file_type", .uint32(spec.type.fileType))
        let tensors = spec.tensors
        var generators: [Xoshiro256] = (0..<tensors.count).map { Xoshiro256(seed: seed &+ UInt64($0) &* 0x9E37_79B9) }
        try writer.writeStreaming(
            to: url, tensors: tensors,
            fill: { index, _, chunk in
                fillRandom(chunk, tensor: tensors[index], rng: &generators[index])
            }, progress: progress)
    }

    /// Random blocks with finite, realistic fp16 scales; float tensors near 1 (norm weights) or 0 (biases).
    static func fillRandom(_ chunk: UnsafeMutableRawBufferPointer, tensor: GGUFWriter.StreamedTensor, rng: inout Xoshiro256) {
        let words = chunk.count / 8
        let base = chunk.baseAddress!
        for i in 0..<words { base.storeBytes(of: rng.next(), toByteOffset: 8 * i, as: UInt64.self) }
        for i in (8 * words)..<chunk.count { base.storeBytes(of: UInt8(truncatingIfNeeded: rng.next()), toByteOffset: i, as: UInt8.self) }
        func half(_ r: UInt64, low: UInt16, span: UInt64) -> UInt16 { UInt16(r & 0x8000) | (low + UInt16(r % span)) }
        switch tensor.type {
        case .f32:
            let isNormWeight = tensor.name.hasSuffix("norm.weight")
            let isRopeFactor = tensor.name.hasPrefix("rope_factors")
            for i in 0..<(chunk.count / 4) {
                let u = Float(rng.next() >> 40) * 0x1p-24 - 0.5  // [-0.5, 0.5)
                let v: Float = isRopeFactor ? 1 + abs(u) * 8 : isNormWeight ? 1 + 0.2 * u : 0.05 * u
                base.storeBytes(of: v, toByteOffset: 4 * i, as: Float.self)
            }
        case .f16:
            for i in 0..<(chunk.count / 2) {
                base.storeBytes(of: half(rng.next(), low: 0x2000, span: 0x0C00), toByteOffset: 2 * i, as: UInt16.self)
            }
        default:
            let blockBytes = tensor.type.bytesPerBlock
            let fields: [Int] = switch tensor.type {
            case .q4_0, .q5_0, .q8_0: [0]
            case .q4_1, .q5_1, .q4_K, .q5_K: [0, 2]
            case .q6_K: [208]
            default: []
            }
            var block = 0
            while block + blockBytes <= chunk.count {
                let r = rng.next()
                for (j, offset) in fields.enumerated() {
                    let h = half(r >> (16 * UInt64(j)), low: 0x1800, span: 0x0C00) & 0x7FFF  // positive, 2^-9...2^-7
                    base.storeBytes(of: h, toByteOffset: block + offset, as: UInt16.self)
                }
                block += blockBytes
            }
        }
    }
}
