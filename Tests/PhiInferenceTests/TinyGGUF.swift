import Foundation
import GGUF
import TestScratch

/// Small synthetic phi2 / phi3 GGUF files (F32, deterministic pseudo-random weights) written with `GGUFWriter`.
struct TinyGGUF {
    var architecture = "phi3"
    var vocabulary = 16
    var hidden = 8
    var heads = 2
    var kvHeads = 1
    var intermediate = 8
    var ropeDimension = 4
    var contextLength = 32
    var longRoPE: (short: [Float], long: [Float], original: Int, attentionFactor: Float?)?
    var fusedQKV = false
    var tied = false
    var skipKeys: Set<String> = []
    var shapeOverrides: [String: [Int]] = [:]

    private var state: UInt64 = 0x1234_5678

    init() {}

    mutating func random(_ count: Int, scale: Float = 0.3, offset: Float = 0) -> [Float] {
        (0..<count).map { _ in
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return offset + scale * (Float(state >> 40) / Float(1 << 24) - 0.5) * 2
        }
    }

    func write(to url: URL) throws {
        var copy = self
        try copy.build().write(to: url)
    }

    /// Tensors by name (ggml shape, values), in writing order.
    mutating func tensors() -> [(String, [Int], [Float])] {
        let d = hidden / heads
        var list: [(String, [Int], [Float])] = []
        func add(_ name: String, _ shape: [Int], scale: Float = 0.3, offset: Float = 0) {
            let values = random(shape.reduce(1, *), scale: scale, offset: offset)
            list.append((name, shape, values))
        }
        add("token_embd.weight", [hidden, vocabulary])
        let isPhi2 = architecture == "phi2"
        let qkvRows = (heads + 2 * kvHeads) * d
        for i in 0..<1 {
            let p = "blk.\(i)."
            add(p + "attn_norm.weight", [hidden], scale: 0.1, offset: 1)
            if isPhi2 {
                add(p + "attn_norm.bias", [hidden], scale: 0.1)
                add(p + "attn_q.weight", [hidden, heads * d])
                add(p + "attn_q.bias", [heads * d], scale: 0.1)
                add(p + "attn_k.weight", [hidden, kvHeads * d])
                add(p + "attn_k.bias", [kvHeads * d], scale: 0.1)
                add(p + "attn_v.weight", [hidden, kvHeads * d])
                add(p + "attn_v.bias", [kvHeads * d], scale: 0.1)
                add(p + "attn_output.weight", [heads * d, hidden])
                add(p + "attn_output.bias", [hidden], scale: 0.1)
                add(p + "ffn_up.weight", [hidden, intermediate])
                add(p + "ffn_up.bias", [intermediate], scale: 0.1)
                add(p + "ffn_down.weight", [intermediate, hidden])
                add(p + "ffn_down.bias", [hidden], scale: 0.1)
            } else {
                add(p + "attn_qkv.weight", [hidden, qkvRows])
                add(p + "attn_output.weight", [heads * d, hidden])
                add(p + "ffn_norm.weight", [hidden], scale: 0.1, offset: 1)
                add(p + "ffn_up.weight", [hidden, 2 * intermediate])
                add(p + "ffn_down.weight", [intermediate, hidden])
            }
        }
        add("output_norm.weight", [hidden], scale: 0.1, offset: 1)
        if isPhi2 { add("output_norm.bias", [hidden], scale: 0.1) }
        if !tied {
            add("output.weight", [hidden, vocabulary])
            if isPhi2 { add("output.bias", [vocabulary], scale: 0.1) }
        }
        if fusedQKV, isPhi2 {
            // Concatenate q, k, v rows (and biases) into attn_qkv, as older phi-2 conversions store them.
            func take(_ name: String) -> [Float] { list.first { $0.0 == name }!.2 }
            let weight = take("blk.0.attn_q.weight") + take("blk.0.attn_k.weight") + take("blk.0.attn_v.weight")
            let bias = take("blk.0.attn_q.bias") + take("blk.0.attn_k.bias") + take("blk.0.attn_v.bias")
            list.removeAll { ["blk.0.attn_q.", "blk.0.attn_k.", "blk.0.attn_v."].contains(where: $0.0.hasPrefix) }
            list.append(("blk.0.attn_qkv.weight", [hidden, qkvRows], weight))
            list.append(("blk.0.attn_qkv.bias", [qkvRows], bias))
        }
        if let longRoPE {
            list.append(("rope_factors_long.weight", [longRoPE.long.count], longRoPE.long))
            list.append(("rope_factors_short.weight", [longRoPE.short.count], longRoPE.short))
        }
        return list
    }

    mutating func build() -> GGUFWriter {
        var writer = GGUFWriter()
        let a = architecture
        var keys: [(String, GGUFValue)] = [
            ("general.architecture", .string(a)),
            ("\(a).context_length", .uint32(UInt32(contextLength))),
            ("\(a).embedding_length", .uint32(UInt32(hidden))),
            ("\(a).feed_forward_length", .uint32(UInt32(intermediate))),
            ("\(a).block_count", .uint32(1)),
            ("\(a).attention.head_count", .uint32(UInt32(heads))),
            ("\(a).attention.head_count_kv", .uint32(UInt32(kvHeads))),
            ("\(a).rope.dimension_count", .uint32(UInt32(ropeDimension))),
            ("\(a).rope.freq_base", .float32(10000)),
            (a == "phi2" ? "\(a).attention.layer_norm_epsilon" : "\(a).attention.layer_norm_rms_epsilon", .float32(1e-5)),
        ]
        if let longRoPE {
            keys.append(("\(a).rope.scaling.original_context_length", .uint32(UInt32(longRoPE.original))))
            if let factor = longRoPE.attentionFactor { keys.append(("\(a).rope.scaling.attn_factor", .float32(factor))) }
        }
        for (key, value) in keys where !skipKeys.contains(key) { writer.set(key, value) }
        for (name, shape, values) in tensors() {
            if let override = shapeOverrides[name] {
                writer.addTensor(name: name, shape: override, floats: Array(repeating: 0.1, count: override.reduce(1, *)))
            } else {
                writer.addTensor(name: name, shape: shape, floats: values)
            }
        }
        return writer
    }

    static func temporaryURL() -> URL {
        TestScratch.url("tiny.gguf")
    }

    /// Writes the file and returns its path.
    func written() throws -> String {
        let url = Self.temporaryURL()
        try write(to: url)
        return url.path
    }
}
