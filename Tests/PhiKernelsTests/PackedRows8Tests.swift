import GGUF
import PhiKernels
import Testing

/// Q4_0, Q8_0, Q4_K, Q5_K and Q6_K weights packed in groups of 8 rows: the same products as the file layout's kernels (up to float
/// rounding), the scalar and AVX2 paths bit for bit equal, and every token's result independent of the others in
/// its call.
@Suite("weights packed in groups of 8 rows")
struct PackedRows8Tests {
    static let rows = 72
    static let types: [GGMLType] = [.q4_0, .q8_0, .q4_K, .q5_K, .q6_K]

    static func columns(_ type: GGMLType) -> Int { type.blockSize == 256 ? 512 : 160 }

    static func weight(_ type: GGMLType, seed: UInt64 = 41) throws -> WeightMatrix {
        let columns = columns(type)
        let bytes = TestBlocks.random(type, count: rows * columns, seed: seed)
        return try bytes.withUnsafeBytes { try WeightMatrix(name: "w", type: type, rows: rows, columns: columns, copying: $0) }
    }

    static func activations(_ count: Int, seed: UInt64) -> [Float] {
        var rng = SplitMix64(seed: seed)
        return (0..<count).map { _ in Float(Int(rng.next() % 2001) - 1000) / 1000 }
    }

    @Test("each product equals the file layout's kernel dot within float rounding", arguments: types)
    func productsMatchTheFileLayoutDots(type: GGMLType) throws {
        let w = try Self.weight(type)
        let packed = try #require(w.packedInGroupsOf8OnAnyCPU())
        #expect(packed.hasPacked8 && !w.hasPacked8)
        let k = Self.columns(type)
        // 1: decode tile; 5: 4 + 1; 9 and 13: the prefill path (Q4_0: groups unpacked once per call).
        for n in [1, 5, 9, 13] {
            let x = Self.activations(n * k, seed: UInt64(n) + 3)
            Self.expectFileLayoutDots(matmul(x, rows: n, weight: packed, quantization: .llamaCpp), weight: w, x: x, tokens: n)
        }
    }

    /// `y` (tokens × rows) against the file layout's kernel dot of each row and token, within float rounding.
    static func expectFileLayoutDots(_ y: [Float], weight w: WeightMatrix, x: [Float], tokens n: Int) {
        let k = w.columns
        for t in 0..<n {
            let act = QuantizedKernels.prepareActivations(Array(x[(t * k)..<(t * k + k)]), for: w.type)
            for r in 0..<w.rows {
                let ref = QuantizedKernels.dot(w.type, row: w.rowBytes(r), activations: act, count: k)
                let wr = w.row(r)
                let magnitude = (0..<k).reduce(0.0) { $0 + abs(Double(wr[$1]) * Double(x[t * k + $1])) }
                #expect(abs(Double(y[t * w.rows + r]) - Double(ref)) <= 1e-5 * magnitude + 1e-5,
                        "\(w.type) k=\(k) n=\(n) t=\(t) r=\(r)")
            }
        }
    }

    /// The AVX-512 level runs the VNNI tiles where the CPU has them (elsewhere the AVX2 ones again).
    @Test("the scalar, AVX2 and AVX-512 VNNI paths agree bit for bit", arguments: types)
    func scalarAndVectorPathsAgree(type: GGMLType) throws {
        let w = try Self.weight(type, seed: 7)
        // From 2 tokens on the VNNI level runs two groups per tile (9 groups: 4 pairs and a lone one), up to 4 tokens
        // at a time: 2, 4, 4 + 1, 4 + 2, 4 + 3, 4 + 4 + 1.
        for n in [1, 2, 4, 5, 6, 7, 9] {
            let x = Self.activations(n * Self.columns(type), seed: 100 + UInt64(n))
            let scalar = try #require(QuantizedKernels.packed8Products(weight: w, x: x, rows: n, level: .scalar))
            let vector = try #require(QuantizedKernels.packed8Products(weight: w, x: x, rows: n, level: .avx2))
            let vnni = try #require(QuantizedKernels.packed8Products(weight: w, x: x, rows: n, level: .avx512))
            #expect(scalar.count == n * Self.rows)
            #expect(scalar == vector, "\(type) n=\(n) AVX2")
            #expect(scalar == vnni, "\(type) n=\(n) AVX-512")
        }
    }

    @Test("a token's result does not depend on the other tokens of the call (decode, batched decode, prefill)",
          arguments: types)
    func everyTokenAsAlone(type: GGMLType) throws {
        let packed = try #require(try Self.weight(type, seed: 9).packedInGroupsOf8OnAnyCPU())
        let k = Self.columns(type)
        let bias = Self.activations(Self.rows, seed: 5)
        let n = 11
        let x = Self.activations(n * k, seed: 77)
        let together = matmul(x, rows: n, weight: packed, bias: bias, quantization: .llamaCpp)
        for t in 0..<n {
            let alone = matmul(Array(x[(t * k)..<((t + 1) * k)]), rows: 1, weight: packed, bias: bias, quantization: .llamaCpp)
            #expect(Array(together[(t * Self.rows)..<((t + 1) * Self.rows)]) == alone, "\(type) token \(t)")
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
        #expect(odd.packedInGroupsOf8OnAnyCPU() == nil && !odd.isPackable8)
        #expect(!odd.packedInGroupsOf8().hasPacked8)
        let q5 = try TestBlocks.random(.q5_0, count: 16 * 64, seed: 2).withUnsafeBytes {
            try WeightMatrix(type: .q5_0, rows: 16, columns: 64, copying: $0)
        }
        #expect(q5.packedInGroupsOf8OnAnyCPU() == nil && !q5.packedInGroupsOf8().hasPacked8)
        #expect(QuantizedKernels.packed8Products(weight: q5, x: [Float](repeating: 0, count: 64), rows: 1, level: .avx2) == nil)
    }
}
