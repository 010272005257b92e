import Foundation
import GGUF
import PhiKernels
import Testing

/// ggml's fp16 rounding of a float (round to nearest even), through PhiKernels' conversion.
private func f16Round(_ x: Float) -> Float { Float(Float16(x)) }

private let quantTypes: [GGMLType] = [.q4_0, .q4_1, .q5_0, .q5_1, .q8_0, .q4_K, .q5_K, .q6_K]
private let allTypes: [GGMLType] = quantTypes + [.f16, .bf16, .f32]

private func randomActivations(_ count: Int, seed: UInt64, scale: Float = 1) -> [Float] {
    var rng = SplitMix64(seed: seed)
    return (0..<count).map { _ in scale * Float(Int(rng.next() % 20001) - 10000) / 10000 }
}

private func int32(_ bytes: [UInt8], _ offset: Int) -> Int32 {
    bytes.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: offset, as: Int32.self) }
}

private func float(_ bytes: [UInt8], _ offset: Int) -> Float {
    bytes.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: offset, as: Float.self) }
}

/// Dequantized activations from a prepared row (q · d per block), independent of the kernels' arithmetic.
private func dequantizedActivations(_ act: [UInt8], type: GGMLType, count: Int) -> [Double] {
    if type.blockSize == 32 {
        let nb = count / 32
        return (0..<count).map { i in
            Double(Int8(bitPattern: act[i])) * Double(float(act, nb * 64 + 4 * (i / 32)))
        }
    }
    if type.blockSize == 256 {
        return (0..<count).map { i in
            let base = (i / 256) * 292
            return Double(Int8(bitPattern: act[base + 4 + i % 256])) * Double(float(act, base))
        }
    }
    return (0..<count).map { Double(float(act, 4 * $0)) }
}

@Suite("quantized kernels: ggml activation rounding, block dot products, SIMD paths, threaded matmul")
struct QuantizedKernelTests {
    @Test func q8_0ActivationsRoundLikeGGMLOnX86() {
        // amax 127 → id = 1: 2.5 and -3.5 are ties, nearbyint gives 2 and -4 (roundf would give 3 and -4).
        var x = [Float](repeating: 0.25, count: 64)
        x[0] = 127
        x[1] = 2.5
        x[2] = -3.5
        x[3] = 1.4999
        for i in 32..<64 { x[i] = Float(i - 48) * 0.37 }
        let act = QuantizedKernels.prepareActivations(x, for: .q4_0)
        #expect(act.count == 2 * 76)
        #expect(Array(act[0..<4]).map { Int8(bitPattern: $0) } == [127, 2, -4, 1])
        #expect(float(act, 128) == f16Round(127 / 127))
        // Second block: amax = 16 * 0.37, id = 127 / amax, q = nearbyint(x · id), d = fp16(amax / 127).
        let amax = Float(16) * 0.37
        let id = Float(127) / amax
        for i in 32..<64 {
            let expected = Int8((x[i] * id).rounded(.toNearestOrEven))
            #expect(Int8(bitPattern: act[i]) == expected)
        }
        #expect(float(act, 132) == f16Round(amax / 127))
        // Layout: quants of every block, then per-lane corrections (-8 · Σ of each group of 4 quants: the Q4_0
        // offset), then the scales.
        for g in 0..<16 {
            let sum = (0..<4).reduce(0) { $0 + Int(Int8(bitPattern: act[4 * g + $1])) }
            #expect(int32(act, 64 + 4 * g) == Int32(-8 * sum))
        }
        // After the scales and Q8_1 sums: -8 · Σq per block.
        for b in 0..<2 {
            let sum = (0..<32).reduce(0) { $0 + Int(Int8(bitPattern: act[32 * b + $1])) }
            #expect(int32(act, 144 + 4 * b) == Int32(-8 * sum))
        }
    }

    @Test func vectorActivationQuantizationEqualsTheScalarLoop() {
        // Ties at every block (x·id = n + 0.5 with amax 127), zeros, one all-zero block and random values; every
        // type with 32-value blocks (their corrections differ by the weight offset), then the K-quants' Q8_K rows.
        var x = randomActivations(32 * 24, seed: 11, scale: 4)
        for i in 0..<32 { x[i] = 0 }
        x[32] = 127
        for i in 33..<64 { x[i] = Float(i - 48) + 0.5 }
        for i in 64..<96 { x[i] = i == 64 ? -1e-30 : 1e-31 }
        for type in [GGMLType.q4_0, .q5_0, .q8_0, .q4_1, .q5_1] {
            let vector = QuantizedKernels.prepareActivations(x, for: type)
            let scalar = QuantizedKernels.withLevelCap(.scalar) { QuantizedKernels.prepareActivations(x, for: type) }
            #expect(vector == scalar, "\(type.name)")
        }
        // Q8_K (256 values): the same, plus an all-zero block, a block whose largest magnitude comes twice with both
        // signs (the first one sets the sign of the scale) and a block at ±127.
        x += [Float](repeating: 0, count: 256)
        x += (0..<256).map { j in j == 40 ? -3 : j == 200 ? 3 : Float(j % 7) * 0.25 - 0.75 }
        x += (0..<256).map { j in Float(j % 255) - 127 }
        for type in [GGMLType.q4_K, .q6_K] {
            let vector = QuantizedKernels.prepareActivations(x, for: type)
            let scalar = QuantizedKernels.withLevelCap(.scalar) { QuantizedKernels.prepareActivations(x, for: type) }
            #expect(vector == scalar, "\(type.name)")
        }
    }

    @Test func q8_KActivationsRoundLikeGGML() {
        let x = randomActivations(512, seed: 5, scale: 3)
        let act = QuantizedKernels.prepareActivations(x, for: .q4_K)
        #expect(act.count == 2 * 292)
        for b in 0..<2 {
            let block = Array(x[(256 * b)..<(256 * b + 256)])
            let maxValue = block.max { abs($0) < abs($1) }!
            let iscale = -127 / maxValue
            let base = 292 * b
            #expect(float(act, base) == 1 / iscale)
            for j in 0..<256 {
                let q = min(127, Int((iscale * block[j]).rounded(.toNearestOrEven)))
                #expect(Int(Int8(bitPattern: act[base + 4 + j])) == q)
            }
            for g in 0..<16 {
                let sum = (0..<16).reduce(0) { $0 + Int(Int8(bitPattern: act[base + 4 + 16 * g + $1])) }
                let stored = act.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: base + 260 + 2 * g, as: Int16.self) }
                #expect(Int(stored) == sum)
            }
        }
    }

    /// The scalar block dot product is the product of the dequantized weights with the dequantized activations
    /// (exact integer sums per block; Q8_1's `d·Σq` term is rounded to fp16, as in ggml).
    @Test(arguments: allTypes)
    func scalarDotIsTheDequantizedProduct(type: GGMLType) throws {
        let k = 512
        let rows = 6
        let bytes = TestBlocks.random(type, count: rows * k, seed: 31 + UInt64(type.rawValue))
        let w = try bytes.withUnsafeBytes { try WeightMatrix(type: type, rows: rows, columns: k, copying: $0) }
        let x = randomActivations(k, seed: 77)
        let act = QuantizedKernels.prepareActivations(x, for: type)
        let xa = dequantizedActivations(act, type: type, count: k)
        for r in 0..<rows {
            let wr = w.row(r)
            var ref = 0.0, mag = 0.0
            for i in 0..<k {
                ref += Double(wr[i]) * xa[i]
                mag += abs(Double(wr[i]) * xa[i])
            }
            let got = Double(QuantizedKernels.dot(type, row: w.rowBytes(r), activations: act, count: k, level: .scalar))
            let tolerance = (type == .q4_1 || type == .q5_1 ? 2e-3 : 2e-6) * mag + 1e-6
            #expect(abs(got - ref) <= tolerance, "\(type.name) row \(r): \(got) vs \(ref)")
        }
    }

    /// AVX2 and AVX-512 paths equal the scalar path up to float32 summation order (integer block sums are
    /// identical; only the order of the per-block float accumulation differs): |Δ| ≤ 1e-5 · Σ|terms|.
    @Test(arguments: allTypes)
    func simdPathsMatchScalar(type: GGMLType) throws {
        let k = type.blockSize == 256 ? 1024 : 992
        let rows = 9
        let bytes = TestBlocks.random(type, count: rows * k, seed: 1234 + UInt64(type.rawValue))
        let w = try bytes.withUnsafeBytes { try WeightMatrix(type: type, rows: rows, columns: k, copying: $0) }
        let x = randomActivations(k, seed: 4321, scale: 2)
        let act = QuantizedKernels.prepareActivations(x, for: type)
        let xa = dequantizedActivations(act, type: type, count: k)
        for level in [KernelLevel.avx2, .avx512] where level <= ComputeSettings.detectedLevel {
            for r in 0..<rows {
                let wr = w.row(r)
                let mag = (0..<k).reduce(0.0) { $0 + abs(Double(wr[$1]) * xa[$1]) }
                let scalar = QuantizedKernels.dot(type, row: w.rowBytes(r), activations: act, count: k, level: .scalar)
                let simd = QuantizedKernels.dot(type, row: w.rowBytes(r), activations: act, count: k, level: level)
                #expect(abs(Double(simd) - Double(scalar)) <= 1e-5 * mag + 1e-6, "\(type.name) \(level) row \(r)")
            }
        }
    }

    @Test func levelsAreDetectedFromTheOS() {
        #expect(ComputeSettings.level <= ComputeSettings.detectedLevel)
        #expect(ComputeSettings.physicalCores >= 1)
        #expect(ComputeSettings.threadCount >= 1)
    }

    /// The threaded matmul equals the per-row kernel dot products, and stays within activation rounding of the
    /// exact float32 product.
    @Test(arguments: allTypes)
    func quantizedMatmulMatchesKernelDots(type: GGMLType) throws {
        let k = type.blockSize == 256 ? 512 : 160
        let rows = 70
        let bytes = TestBlocks.random(type, count: rows * k, seed: 99 + UInt64(type.rawValue))
        let w = try bytes.withUnsafeBytes { try WeightMatrix(type: type, rows: rows, columns: k, copying: $0) }
        let bias = randomActivations(rows, seed: 3)
        for n in [1, 4, 7] {
            let x = randomActivations(n * k, seed: UInt64(n) + 10)
            let y = matmul(x, rows: n, weight: w, bias: bias, quantization: .llamaCpp)
            let exact = matmul(x, rows: n, weight: w, bias: bias, quantization: .off)
            for t in 0..<n {
                let act = QuantizedKernels.prepareActivations(Array(x[(t * k)..<(t * k + k)]), for: type)
                let xa = dequantizedActivations(act, type: type, count: k)
                for r in 0..<rows {
                    let wr = w.row(r)
                    let mag = (0..<k).reduce(0.0) { $0 + abs(Double(wr[$1]) * xa[$1]) }
                    let ref = QuantizedKernels.dot(type, row: w.rowBytes(r), activations: act, count: k, level: ComputeSettings.level)
                    let got = y[t * rows + r]
                    #expect(abs(Double(got) - Double(ref + bias[r])) <= 1e-5 * mag + 1e-5, "\(type.name) n=\(n) t=\(t) r=\(r)")
                    // Activation rounding: |Δx| ≤ amax/254 per value, so |Δy| ≤ Σ|w|·amax/254 (+ fp16 scales).
                    let wabs = (0..<k).reduce(0.0) { $0 + abs(Double(wr[$1])) }
                    let amax = x[(t * k)..<(t * k + k)].map { abs(Double($0)) }.max()!
                    #expect(abs(Double(got) - Double(exact[t * rows + r])) <= wabs * amax / 100 + 1e-4)
                }
            }
        }
    }
}
