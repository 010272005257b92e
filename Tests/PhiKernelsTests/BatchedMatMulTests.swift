import GGUF
import PhiKernels
import Testing

/// Rows of several sequences stacked into one `matmul(_:segments:…)` call come out bit for bit as each
/// sequence's own `matmul(_:rows:…)` call gives them, whatever the other segments are.
@Suite("batched matmul: every segment as alone")
struct BatchedMatMulTests {
    static let cases = TestBlocks.computeTypes.flatMap { type in
        [ActivationQuantization.llamaCpp, .off].map { (type, $0) }
    }

    @Test(arguments: cases)
    func segmentsEqualSeparateCalls(type: GGMLType, quantization: ActivationQuantization) throws {
        let columns = type.blockSize == 256 ? 512 : 96
        let rows = 150
        let bytes = TestBlocks.random(type, count: rows * columns, seed: UInt64(type.rawValue) + 11)
        let w = try bytes.withUnsafeBytes {
            try WeightMatrix(name: "w", type: type, rows: rows, columns: columns, copying: $0)
        }
        var rng = SplitMix64(seed: 5)
        let bias = (0..<rows).map { _ in Float(Int(rng.next() % 200) - 100) / 100 }
        // Decode rows (1), short chunks (2, 3: below the prefill kernels' thresholds), prefill chunks (5, 9, 12).
        for segments in [[1, 1, 1, 1], [1, 9, 1, 3, 1], [12, 1, 2, 5], [3, 1], [1, 1, 1, 1, 1, 1, 1, 1, 1]] {
            let n = segments.reduce(0, +)
            let x = (0..<(n * columns)).map { _ in Float(Int(rng.next() % 2000) - 1000) / 1000 }
            let batched = [Float](unsafeUninitializedCapacity: n * rows) { y, count in
                x.withUnsafeBufferPointer { xb in
                    bias.withUnsafeBufferPointer {
                        matmul(xb, segments: segments, weight: w, bias: $0, into: y, quantization: quantization)
                    }
                }
                count = n * rows
            }
            var row = 0
            for count in segments {
                let alone = matmul(Array(x[(row * columns)..<((row + count) * columns)]), rows: count, weight: w,
                                   bias: bias, quantization: quantization)
                #expect(Array(batched[(row * rows)..<((row + count) * rows)]) == alone,
                        "\(type) \(quantization) segments \(segments): rows \(row)..<\(row + count)")
                row += count
            }
        }
    }
}
