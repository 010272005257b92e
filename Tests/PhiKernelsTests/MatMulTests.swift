import Foundation
import GGUF
import PhiKernels
import Testing

/// Naive float64 reference of y = x·Wᵀ + b over the dequantized weights.
private func naive(_ x: [Float], n: Int, w: [Float], rows: Int, columns: Int, bias: [Float]?) -> [Double] {
    var y = [Double](repeating: 0, count: n * rows)
    for i in 0..<n {
        for r in 0..<rows {
            var s = Double(bias?[r] ?? 0)
            for c in 0..<columns { s += Double(x[i * columns + c]) * Double(w[r * columns + c]) }
            y[i * rows + r] = s
        }
    }
    return y
}

@Suite("matmul equals a naive float64 product of the dequantized weights")
struct MatMulTests {
    @Test(arguments: TestBlocks.computeTypes)
    func matmulMatchesNaiveReference(type: GGMLType) throws {
        let columns = type.blockSize == 256 ? 512 : 96
        let rows = 150  // more than one tile, not a multiple of it
        let bytes = TestBlocks.random(type, count: rows * columns, seed: UInt64(type.rawValue) + 7)
        let w = try bytes.withUnsafeBytes {
            try WeightMatrix(name: "w", type: type, rows: rows, columns: columns, copying: $0)
        }
        #expect(w.rowByteCount == type.byteCount(forElements: columns))
        let dense = w.dequantized()
        var rng = SplitMix64(seed: 99)
        let bias = (0..<rows).map { _ in Float(Int(rng.next() % 200) - 100) / 100 }
        for n in [1, 3, 17] {
            let x = (0..<(n * columns)).map { _ in Float(Int(rng.next() % 2000) - 1000) / 1000 }
            for b in [nil, bias] {
                let y = matmul(x, rows: n, weight: w, bias: b)
                let ref = naive(x, n: n, w: dense, rows: rows, columns: columns, bias: b)
                #expect(y.count == n * rows)
                var worst = 0.0
                for i in 0..<y.count {
                    let scale = max(1, (0..<columns).reduce(0.0) { acc, c in
                        acc + abs(Double(x[(i / rows) * columns + c]) * Double(dense[(i % rows) * columns + c]))
                    })
                    worst = max(worst, abs(Double(y[i]) - ref[i]) / scale)
                }
                #expect(worst < 1e-6, "\(type) n=\(n) bias=\(b != nil): relative error \(worst)")
            }
        }
    }

    @Test func rowLookupEqualsTheDequantizedMatrix() throws {
        let file = try GGUFFile(url: Fixtures.url("phi/phi3-tiny-gqa/phi3-tiny-gqa-Q4_0.gguf"))
        let embd = try WeightMatrix(named: "token_embd.weight", in: file, rows: 32064, columns: 64)
        #expect(embd.type == .q8_0 && embd.name == "token_embd.weight")
        let dense = embd.dequantized()
        for token in [0, 1, 31999, 32063] {
            #expect(embd.row(token) == Array(dense[(token * 64)..<(token * 64 + 64)]))
        }
        let f16 = try GGUFFile(url: Fixtures.url("phi/phi3-tiny-gqa/phi3-tiny-gqa-F16.gguf"))
        let e16 = try WeightMatrix(named: "token_embd.weight", in: f16)
        // Q8_0 and F16 embeddings of the same model agree within the Q8_0 step.
        let a = e16.row(1234), b = embd.row(1234)
        let absMax = a.map(abs).max() ?? 0
        for i in 0..<64 { #expect(abs(a[i] - b[i]) <= absMax / 127 * 1.01) }
    }

    @Test func f32AndHalfOwnedMatricesMultiply() throws {
        let rows = 3, columns = 4
        let values: [Float] = [1, 2, 3, 4, -1, 0.5, 0, 2, 0.25, -0.25, 8, -8]
        let f32 = try WeightMatrix(rows: rows, columns: columns, floats: values)
        let f16 = try WeightMatrix(rows: rows, columns: columns, halfBits: values.map(HalfConversion.f16(from:)), type: .f16)
        let bf16 = try WeightMatrix(rows: rows, columns: columns, halfBits: values.map(HalfConversion.bf16(from:)), type: .bf16)
        let x: [Float] = [1, 1, 1, 1, 0, 1, 0, -1]
        let expected: [Float] = [10, 1.5, 0, -2, -1.5, 7.75]
        for w in [f32, f16, bf16] {
            #expect(matmul(x, rows: 2, weight: w) == expected, "\(w.type)")
            #expect(matmul(Array(x[0..<4]), rows: 1, weight: w, bias: [1, 2, 3]) == [11, 3.5, 3])
        }
        #expect(f16.dequantized() == values && bf16.row(2) == [0.25, -0.25, 8, -8])
    }

    @Test func weightMatrixRejectsBadShapesAndUnsupportedTypes() throws {
        #expect(throws: KernelError.self) { try WeightMatrix(rows: 2, columns: 3, floats: [1, 2, 3]) }
        #expect(throws: KernelError.self) { try WeightMatrix(rows: 1, columns: 2, halfBits: [0, 0], type: .q8_0) }
        let small = [UInt8](repeating: 0, count: 10)
        #expect(throws: KernelError.self) {
            try small.withUnsafeBytes { try WeightMatrix(type: .q4_0, rows: 1, columns: 32, copying: $0) }
        }
        #expect(throws: KernelError.self) {
            try small.withUnsafeBytes { try WeightMatrix(type: .q4_0, rows: 1, columns: 16, copying: $0) }
        }
        var w = GGUFWriter()
        w.addTensor(name: "blk.0.ffn_up.weight", type: .q2_K, shape: [256, 2], data: [UInt8](repeating: 0, count: 168))
        w.addTensor(name: "blk.0.ffn_down.weight", shape: [4, 2], floats: [Float](repeating: 1, count: 8))
        let url = Fixtures.temporaryURL("mix.gguf")
        try w.write(to: url)
        let file = try GGUFFile(url: url)
        let unsupported = #expect(throws: GGUFError.self) { try WeightMatrix(named: "blk.0.ffn_up.weight", in: file) }
        #expect(unsupported?.kind == .unsupportedTensorType)
        #expect(
            unsupported?.description.hasPrefix(
                "mix.gguf: tensor 'blk.0.ffn_up.weight': type q2_K is not supported: expected one of f32, f16") == true)
        let shape = #expect(throws: GGUFError.self) {
            try WeightMatrix(named: "blk.0.ffn_down.weight", in: file, rows: 4, columns: 2)
        }
        #expect(shape?.description == "mix.gguf: tensor 'blk.0.ffn_down.weight': expected 2×4 (ne0×ne1), found 4×2")
        let ok = try WeightMatrix(named: "blk.0.ffn_down.weight", in: file, rows: 2, columns: 4)
        #expect(matmul([1, 2, 3, 4], rows: 1, weight: ok) == [10, 10])
    }

    @Test func blasThreadCountIsSingleByDefaultAndSettable() throws {
        _ = matmul([1], rows: 1, weight: try WeightMatrix(rows: 1, columns: 1, floats: [2]))
        #expect(BLAS.threadCount == 1)
        BLAS.threadCount = 2
        #expect(BLAS.threadCount >= 1)
        BLAS.threadCount = 1
        #expect(BLAS.threadCount == 1)
    }
}

@Suite("float16 / bfloat16 conversions")
struct HalfConversionTests {
    @Test func everyF16RoundTripsThroughF32() {
        for bits in 0...UInt16.max {
            let f = HalfConversion.float(fromF16: bits)
            if f.isNaN {
                #expect(HalfConversion.f16(from: f) & 0x7C00 == 0x7C00 && HalfConversion.f16(from: f) & 0x3FF != 0)
            } else {
                #expect(HalfConversion.f16(from: f) == bits, "\(bits)")
                #expect(f == Float(Float16(bitPattern: bits)), "\(bits)")
            }
        }
    }

    @Test func f32ToF16RoundsLikeSwiftFloat16() {
        var rng = SplitMix64(seed: 5)
        for _ in 0..<200_000 {
            let f = Float(bitPattern: UInt32(truncatingIfNeeded: rng.next()))
            let ours = HalfConversion.f16(from: f)
            let swift = Float16(f).bitPattern
            if f.isNaN {
                #expect(Float16(bitPattern: ours).isNaN)
            } else {
                #expect(ours == swift, "\(f)")
            }
        }
        #expect(HalfConversion.f16(from: 65520) == 0x7C00 && HalfConversion.f16(from: 65519.99) == 0x7BFF)
        #expect(HalfConversion.f16(from: 0x1p-25) == 0 && HalfConversion.f16(from: 0x1.000002p-25) == 1)
    }

    @Test func bf16RoundsToNearestEven() {
        #expect(HalfConversion.bf16(from: 1) == 0x3F80)
        #expect(HalfConversion.bf16(from: Float(bitPattern: 0x3F80_8000)) == 0x3F80)  // tie to even
        #expect(HalfConversion.bf16(from: Float(bitPattern: 0x3F81_8000)) == 0x3F82)
        #expect(HalfConversion.bf16(from: Float(bitPattern: 0x3F80_8001)) == 0x3F81)
        #expect(HalfConversion.float(fromBF16: HalfConversion.bf16(from: .nan)).isNaN)
        let values: [Float] = [1, -2.5, 1e-3, 3e38]
        var bits = [UInt16](repeating: 0, count: 4)
        var back = [Float](repeating: 0, count: 4)
        values.withUnsafeBufferPointer { src in bits.withUnsafeMutableBufferPointer { HalfConversion.f32ToBF16(src, into: $0) } }
        bits.withUnsafeBufferPointer { src in back.withUnsafeMutableBufferPointer { HalfConversion.bf16ToF32(src, into: $0) } }
        for i in 0..<4 { #expect(abs(back[i] - values[i]) <= abs(values[i]) / 128) }
        #expect(HalfConversion.floats(fromF16: [0x3C00, 0x4000]) == [1, 2])
    }
}

@Suite("Vector helpers")
struct VectorMathTests {
    @Test(arguments: [0, 1, 7, 8, 9, 33])
    func dotAndAxpyMatchNaiveLoops(n: Int) {
        let a = (0..<n).map { Float($0) * 0.5 - 3 }
        let b = (0..<n).map { Float(n - $0) * 0.25 }
        let expected = zip(a, b).reduce(0.0) { $0 + Double($1.0) * Double($1.1) }
        let dot = a.withUnsafeBufferPointer { pa in b.withUnsafeBufferPointer { VectorMath.dot(pa, $0) } }
        #expect(abs(Double(dot) - expected) <= 1e-5 * max(1, abs(expected)))
        var y = b
        a.withUnsafeBufferPointer { pa in y.withUnsafeMutableBufferPointer { VectorMath.axpy(2, pa, $0) } }
        #expect(y == zip(a, b).map { 2 * $0 + $1 })
    }
}
