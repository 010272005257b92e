import GGUF
import PhiKernels
import Testing

/// The multi-token decode kernels (one weight read for the single tokens of several sequences) give every
/// (row, token) product exactly the single-row kernel's bits, on every instruction-set level this machine has.
@Suite("multi-token decode kernels: bit-identical to single-row dots")
struct MultiTokenDecodeKernelTests {
    static let types: [GGMLType] = [.q4_0, .q5_0, .q8_0, .q4_1, .q4_K, .q5_K, .q6_K]
    static let levels: [KernelLevel] = [.scalar, .avx2, .avx512].filter { $0 <= ComputeSettings.detectedLevel }

    @Test(arguments: types)
    func productsEqualSingleRowDots(type: GGMLType) throws {
        // Odd row counts (an unpaired last row), odd and single block counts (the one-block tails), and activation
        // row counts that cover every tile width and the groups beyond it.
        let blockCounts = type.blockSize == 256 ? [1, 3] : [1, 7, 80]
        for nb in blockCounts {
            let k = nb * type.blockSize
            let rows = 37
            let bytes = TestBlocks.random(type, count: rows * k, seed: UInt64(type.rawValue) * 31 + UInt64(nb))
            let w = try bytes.withUnsafeBytes { try WeightMatrix(type: type, rows: rows, columns: k, copying: $0) }
            var rng = SplitMix64(seed: UInt64(nb) + 77)
            let all = (0..<13).map { _ in
                QuantizedKernels.prepareActivations(
                    (0..<k).map { _ in Float(Int(rng.next() % 20001) - 10000) / 5000 }, for: type)
            }
            for level in Self.levels {
                for n in [2, 3, 4, 5, 6, 7, 8, 9, 13] {
                    let acts = Array(all.prefix(n))
                    let batched = QuantizedKernels.rowOrderProducts(weight: w, activations: acts, level: level)
                    var mismatches = 0
                    for t in 0..<n {
                        for r in 0..<rows {
                            let alone = QuantizedKernels.dot(type, row: w.rowBytes(r), activations: acts[t], count: k, level: level)
                            if batched[t * rows + r].bitPattern != alone.bitPattern { mismatches += 1 }
                        }
                    }
                    #expect(mismatches == 0, "\(type.name) \(level) nb=\(nb) n=\(n): \(mismatches) products differ")
                    // One token through the same entry point: the single-row decode path, with each Q4_0 tile the
                    // CPU has (GFNI, VBMI, neither).
                    if n == 2 {
                        for allowed in [ComputeSettings.Extensions.all, .vbmi, []] {
                            let single = ComputeSettings.withExtensions(allowed) {
                                QuantizedKernels.rowOrderProducts(weight: w, activations: [acts[1]], level: level)
                            }
                            #expect(
                                single.map(\.bitPattern) == batched[rows..<(2 * rows)].map(\.bitPattern),
                                "\(type.name) \(level) [\(allowed)] nb=\(nb) n=1")
                        }
                    }
                }
            }
        }
    }

    /// Through the threaded matmul: single-token segments of a batched call equal each token alone, with rows
    /// split over the worker pool (large enough for several chunks), on each level.
    @Test func threadedBatchedDecodeEqualsAlone() throws {
        for type in [GGMLType.q4_0, .q8_0] {
            let columns = 32 * 45
            let rows = 301
            let bytes = TestBlocks.random(type, count: rows * columns, seed: 4242 + UInt64(type.rawValue))
            let w = try bytes.withUnsafeBytes {
                try WeightMatrix(name: "w", type: type, rows: rows, columns: columns, copying: $0)
            }
            var rng = SplitMix64(seed: 9)
            for n in [2, 4, 8] {
                let x = (0..<(n * columns)).map { _ in Float(Int(rng.next() % 2000) - 1000) / 1000 }
                let batched = [Float](unsafeUninitializedCapacity: n * rows) { y, count in
                    x.withUnsafeBufferPointer {
                        matmul($0, segments: Array(repeating: 1, count: n), weight: w, into: y, quantization: .llamaCpp)
                    }
                    count = n * rows
                }
                for t in 0..<n {
                    let alone = matmul(Array(x[(t * columns)..<((t + 1) * columns)]), rows: 1, weight: w,
                                       quantization: .llamaCpp)
                    #expect(Array(batched[(t * rows)..<((t + 1) * rows)]) == alone, "\(type.name) n=\(n) t=\(t)")
                }
            }
        }
    }
}
