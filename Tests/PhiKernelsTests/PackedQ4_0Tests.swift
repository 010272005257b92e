import GGUF
import PhiKernels
import Testing

/// Q4_0 weights in the packed 8-row layout: the same products as the file layout's kernels (up to float rounding),
/// the scalar and AVX2 paths bit for bit equal, and every token's result independent of the others in its call.
@Suite("Q4_0 packed in groups of 8 rows")
struct PackedQ4_0Tests {
    static let rows = 72
    static let columns = 160

    static func weight(seed: UInt64 = 41) throws -> WeightMatrix {
        let bytes = TestBlocks.random(.q4_0, count: rows * columns, seed: seed)
        return try bytes.withUnsafeBytes { try WeightMatrix(name: "w", type: .q4_0, rows: rows, columns: columns, copying: $0) }
    }

    static func activations(_ count: Int, seed: UInt64) -> [Float] {
        var rng = SplitMix64(seed: seed)
        return (0..<count).map { _ in Float(Int(rng.next() % 2001) - 1000) / 1000 }
    }

    @Test("each product equals the file layout's kernel dot within float rounding")
    func productsMatchTheFileLayoutDots() throws {
        let w = try Self.weight()
        let packed = try #require(w.packedQ4_0ForTesting())
        #expect(packed.hasPackedQ4_0 && !w.hasPackedQ4_0)
        let k = Self.columns
        // 1: decode tile; 5: 4 + 1; 9 and 13: the prefill path (groups unpacked once per call).
        for n in [1, 5, 9, 13] {
            let x = Self.activations(n * k, seed: UInt64(n) + 3)
            let y = matmul(x, rows: n, weight: packed, quantization: .llamaCpp)
            for t in 0..<n {
                let act = QuantizedKernels.prepareActivations(Array(x[(t * k)..<(t * k + k)]), for: .q4_0)
                for r in 0..<Self.rows {
                    let ref = QuantizedKernels.dot(.q4_0, row: w.rowBytes(r), activations: act, count: k)
                    let wr = w.row(r)
                    let magnitude = (0..<k).reduce(0.0) { $0 + abs(Double(wr[$1]) * Double(x[t * k + $1])) }
                    #expect(abs(Double(y[t * Self.rows + r]) - Double(ref)) <= 1e-5 * magnitude + 1e-5, "n=\(n) t=\(t) r=\(r)")
                }
            }
        }
    }

    @Test("the scalar and AVX2 paths agree bit for bit")
    func scalarAndVectorPathsAgree() throws {
        let w = try Self.weight(seed: 7)
        for n in [1, 4, 9] {
            let x = Self.activations(n * Self.columns, seed: 100 + UInt64(n))
            let scalar = try #require(QuantizedKernels.packedQ4_0Products(weight: w, x: x, rows: n, level: .scalar))
            let vector = try #require(QuantizedKernels.packedQ4_0Products(weight: w, x: x, rows: n, level: .avx2))
            #expect(scalar.count == n * Self.rows)
            #expect(scalar == vector, "n=\(n)")
        }
    }

    @Test("a token's result does not depend on the other tokens of the call (decode, batched decode, prefill)")
    func everyTokenAsAlone() throws {
        let packed = try #require(try Self.weight(seed: 9).packedQ4_0ForTesting())
        let k = Self.columns
        let bias = Self.activations(Self.rows, seed: 5)
        let n = 11
        let x = Self.activations(n * k, seed: 77)
        let together = matmul(x, rows: n, weight: packed, bias: bias, quantization: .llamaCpp)
        for t in 0..<n {
            let alone = matmul(Array(x[(t * k)..<((t + 1) * k)]), rows: 1, weight: packed, bias: bias, quantization: .llamaCpp)
            #expect(Array(together[(t * Self.rows)..<((t + 1) * Self.rows)]) == alone, "token \(t)")
        }
        let segments = [1, 9, 1]
        let batched = [Float](unsafeUninitializedCapacity: n * Self.rows) { y, count in
            x.withUnsafeBufferPointer { xb in
                bias.withUnsafeBufferPointer { matmul(xb, segments: segments, weight: packed, bias: $0, into: y, quantization: .llamaCpp) }
            }
            count = n * Self.rows
        }
        #expect(batched == together)
    }

    @Test("weights that cannot be packed are left as they are")
    func unpackableWeights() throws {
        let odd = try TestBlocks.random(.q4_0, count: 12 * 64, seed: 1).withUnsafeBytes {
            try WeightMatrix(type: .q4_0, rows: 12, columns: 64, copying: $0)
        }
        #expect(odd.packedQ4_0ForTesting() == nil && !odd.isPackableQ4_0)
        #expect(!odd.packingQ4_0().hasPackedQ4_0)
        let q8 = try TestBlocks.random(.q8_0, count: 16 * 64, seed: 2).withUnsafeBytes {
            try WeightMatrix(type: .q8_0, rows: 16, columns: 64, copying: $0)
        }
        #expect(q8.packedQ4_0ForTesting() == nil && !q8.packingQ4_0().hasPackedQ4_0)
        #expect(QuantizedKernels.packedQ4_0Products(weight: q8, x: [Float](repeating: 0, count: 64), rows: 1, level: .avx2) == nil)
    }
}
