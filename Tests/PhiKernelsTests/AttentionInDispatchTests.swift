import GGUF
import PhiKernels
import Testing

/// Attention inside a products' dispatch (`matmul(_:segments:afterAttention:deferredFrom:)`): the attention output
/// and every product bit for bit what the attention calls, then the products, give one after the other; the deferred
/// products read the attention's output, never what was there before.
@Suite("attention inside the products' dispatch")
struct AttentionInDispatchTests {
    static let heads = 8, kvHeads = 4, d = 32, k = 512
    static var width: Int { heads * d }

    static func values(_ count: Int, seed: UInt64) -> [Float] {
        var rng = SplitMix64(seed: seed)
        return (0..<count).map { _ in Float(Int(rng.next() % 2001) - 1000) / 1000 }
    }

    static func weight(_ type: GGMLType, rows: Int, columns: Int, seed: UInt64, packed: Bool) throws -> WeightMatrix {
        let bytes = TestBlocks.random(type, count: rows * columns, seed: seed)
        let w = try bytes.withUnsafeBytes {
            try WeightMatrix(name: "w\(seed)", type: type, rows: rows, columns: columns, copying: $0)
        }
        return packed ? try #require(w.packedInGroupsOf8OnAnyCPU()) : w
    }

    /// Sequences of `segments[s]` new queries after `starts[s]` cached positions, head-major caches of `capacity`
    /// positions; a product on another input first, then two deferred ones sharing the attention's output (with
    /// `deferredFrom` 0 the first is deferred too).
    static func compare(segments: [Int], starts: [Int], f16: Bool, packed: Bool, deferredFrom: Int = 1) throws {
        let n = segments.reduce(0, +), capacity = 24, qStride = width + 8
        let queries = values(n * qStride, seed: 1)
        let caches = segments.indices.map { s in
            (keys: values(kvHeads * capacity * d, seed: 10 + UInt64(s)), values: values(kvHeads * capacity * d, seed: 20 + UInt64(s)))
        }
        let halves = caches.map { c in (keys: c.keys.map { Float16($0).bitPattern }, values: c.values.map { Float16($0).bitPattern }) }
        let x = values(n * k, seed: 3)
        let weights = try [
            weight(.q4_0, rows: 256, columns: k, seed: 4, packed: packed),
            weight(.q4_K, rows: 64, columns: width, seed: 5, packed: packed),
            weight(.q8_0, rows: 96, columns: width, seed: 6, packed: packed),
        ]
        let bias = values(64, seed: 7)

        func run(fused: Bool) -> (attended: [Float], results: [[Float]]) {
            var attended = [Float](repeating: .nan, count: n * width)
            var results = weights.map { [Float](repeating: .nan, count: n * $0.rows) }
            queries.withUnsafeBufferPointer { q in
                attended.withUnsafeMutableBufferPointer { out in
                    var calls: [AttentionCall] = []
                    var row = 0
                    for s in segments.indices {
                        let common = (
                            q: q.baseAddress! + row * qStride, out: out.baseAddress! + row * width, stride: capacity * d)
                        if f16 {
                            calls.append(halves[s].keys.withUnsafeBufferPointer { kp in
                                halves[s].values.withUnsafeBufferPointer { vp in
                                    AttentionCall(
                                        queries: common.q, queryStride: qStride, rows: segments[s], start: starts[s],
                                        keys: kp.baseAddress!, values: vp.baseAddress!, kvWidth: d,
                                        kvHeadStride: common.stride, heads: heads, kvHeads: kvHeads, headDimension: d,
                                        scale: 0.2, output: common.out)
                                }
                            })
                        } else {
                            calls.append(caches[s].keys.withUnsafeBufferPointer { kp in
                                caches[s].values.withUnsafeBufferPointer { vp in
                                    AttentionCall(
                                        queries: common.q, queryStride: qStride, rows: segments[s], start: starts[s],
                                        keys: kp.baseAddress!, values: vp.baseAddress!, kvWidth: d,
                                        kvHeadStride: common.stride, heads: heads, kvHeads: kvHeads, headDimension: d,
                                        scale: 0.2, output: common.out)
                                }
                            })
                        }
                        row += segments[s]
                    }
                    // (The caches are arrays that outlive this closure; their storage does not move.)
                    x.withUnsafeBufferPointer { xp in
                        bias.withUnsafeBufferPointer { b in
                            let y0 = results[0].withUnsafeMutableBufferPointer { $0.baseAddress! }
                            let y1 = results[1].withUnsafeMutableBufferPointer { $0.baseAddress! }
                            let y2 = results[2].withUnsafeMutableBufferPointer { $0.baseAddress! }
                            let a = UnsafePointer(out.baseAddress!)
                            let products = [
                                MatMulProduct(x: xp.baseAddress!, weight: weights[0], y: y0),
                                MatMulProduct(x: a, weight: weights[1], bias: b.baseAddress, y: y1),
                                MatMulProduct(x: a, weight: weights[2], y: y2, activation: .geluTanh),
                            ]
                            if fused {
                                matmul(
                                    products, segments: segments, afterAttention: calls, deferredFrom: deferredFrom,
                                    quantization: .llamaCpp)
                            } else {
                                for call in calls { call.run() }
                                matmul(products, segments: segments, quantization: .llamaCpp)
                            }
                        }
                    }
                }
            }
            return (attended, results)
        }
        let together = run(fused: true), apart = run(fused: false)
        #expect(together.attended.map(\.bitPattern) == apart.attended.map(\.bitPattern), "attention output")
        #expect(!together.attended.contains { $0.isNaN }, "every query and head written")
        for i in weights.indices {
            #expect(together.results[i].map(\.bitPattern) == apart.results[i].map(\.bitPattern), "product \(i)")
        }
    }

    @Test(
        "packed products: decode, two sequences, prefill, every product deferred; float32 and float16 caches",
        arguments: [false, true])
    func packed(f16: Bool) throws {
        try Self.compare(segments: [1], starts: [13], f16: f16, packed: true)
        try Self.compare(segments: [1, 2], starts: [5, 9], f16: f16, packed: true)
        try Self.compare(segments: [9], starts: [3], f16: f16, packed: true)
        // Every product deferred: the threads share the attention, then the products.
        try Self.compare(segments: [1], starts: [13], f16: f16, packed: true, deferredFrom: 0)
        try Self.compare(segments: [9], starts: [3], f16: f16, packed: true, deferredFrom: 0)
    }

    @Test("other kernels: the attention, then the products one after the other")
    func unpacked() throws {
        try Self.compare(segments: [1, 2], starts: [5, 9], f16: false, packed: false)
    }
}
