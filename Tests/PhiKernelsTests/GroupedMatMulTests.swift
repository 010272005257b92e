import GGUF
import PhiKernels
import Testing

/// Several products in one pass over the pool (`matmul(_:segments:)` over `MatMulProduct`s): each result bit for bit
/// what its own call gives, written at its place in interleaved rows, with or without the packed kernels.
@Suite("grouped products")
struct GroupedMatMulTests {
    static let k = 512

    static func weight(_ type: GGMLType, rows: Int, columns: Int = k, seed: UInt64) throws -> WeightMatrix {
        let bytes = TestBlocks.random(type, count: rows * columns, seed: seed)
        return try bytes.withUnsafeBytes {
            try WeightMatrix(name: "w\(seed)", type: type, rows: rows, columns: columns, copying: $0)
        }
    }

    static func values(_ count: Int, seed: UInt64) -> [Float] {
        var rng = SplitMix64(seed: seed)
        return (0..<count).map { _ in Float(Int(rng.next() % 2001) - 1000) / 1000 }
    }

    /// Three products (two sharing an input, one with a bias, three types) into rows of `[a | b | c]`, against each
    /// product alone (then `ForwardOps.geluTanh` on each result row, with `activation`); big enough that a single
    /// token's call splits over the pool's threads.
    static func compare(
        _ weights: [WeightMatrix], rows n: Int, segments: [Int], activation: ProductActivation = .none
    ) {
        let x1 = values(n * k, seed: 11), x2 = values(n * k, seed: 12)
        let bias = values(weights[1].rows, seed: 13)
        let inputs = [x1, x1, x2]
        let stride = weights.reduce(0) { $0 + $1.rows }
        let offsets = [0, weights[0].rows, weights[0].rows + weights[1].rows]
        var together = [Float](repeating: .nan, count: n * stride)
        x1.withUnsafeBufferPointer { p1 in
            x2.withUnsafeBufferPointer { p2 in
                bias.withUnsafeBufferPointer { b in
                    together.withUnsafeMutableBufferPointer { y in
                        let xs = [p1.baseAddress!, p1.baseAddress!, p2.baseAddress!]
                        let products = (0..<3).map { i in
                            MatMulProduct(x: xs[i], weight: weights[i], bias: i == 1 ? b.baseAddress : nil,
                                          y: y.baseAddress! + offsets[i], yStride: stride, activation: activation)
                        }
                        matmul(products, segments: segments, quantization: .llamaCpp)
                    }
                }
            }
        }
        for i in 0..<3 {
            let m = weights[i].rows
            var alone = matmul(inputs[i], rows: n, weight: weights[i], bias: i == 1 ? bias : nil, quantization: .llamaCpp)
            if activation == .geluTanh {
                alone.withUnsafeMutableBufferPointer { y in
                    for t in 0..<n { ForwardOps.geluTanh(y.baseAddress! + t * m, count: m) }
                }
            }
            for t in 0..<n {
                let row = Array(together[(t * stride + offsets[i])..<(t * stride + offsets[i] + m)])
                #expect(row == Array(alone[(t * m)..<((t + 1) * m)]), "product \(i) (\(weights[i].type)) token \(t)")
            }
        }
    }

    @Test(
        "packed weights: one pass gives each product's own result (decode, batched, prefill), gelu in the stores the bits of gelu afterwards",
        arguments: [1, 5, 9], [ProductActivation.none, .geluTanh])
    func packedProducts(rows n: Int, activation: ProductActivation) throws {
        let weights = try [
            #require(try Self.weight(.q4_0, rows: 256, seed: 1).packedInGroupsOf8OnAnyCPU()),
            #require(try Self.weight(.q6_K, rows: 128, seed: 2).packedInGroupsOf8OnAnyCPU()),
            #require(try Self.weight(.q4_K, rows: 64, seed: 3).packedInGroupsOf8OnAnyCPU()),
        ]
        Self.compare(weights, rows: n, segments: n == 5 ? [1, 3, 1] : [n], activation: activation)
    }

    @Test(
        "other kernels run one product after the other, results (and gelu) at their strided places only",
        arguments: [ProductActivation.none, .geluTanh])
    func unpackedProducts(activation: ProductActivation) throws {
        let weights = try [
            Self.weight(.q8_0, rows: 96, seed: 4),
            try #require(try Self.weight(.q4_0, rows: 64, seed: 5).packedInGroupsOf8OnAnyCPU()),
            WeightMatrix(rows: 44, columns: Self.k, floats: Self.values(44 * Self.k, seed: 6)),
        ]
        for n in [1, 6] { Self.compare(weights, rows: n, segments: [n], activation: activation) }
    }
}
