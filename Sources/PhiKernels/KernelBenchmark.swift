// Per-core throughput of the quantized matmul on one shape, timed in thread CPU time (robust on a shared machine).
import CPhiKernels
import Foundation
public import GGUF

/// Kernel micro-benchmark: `y[n×rows] = x[n×k]·Wᵀ` for random `type` weights, on the calling thread only.
public enum KernelBenchmark {
    public struct Result: Sendable, Codable {
        public var type: String
        public var rows: Int
        public var columns: Int
        public var tokens: Int
        /// Whether the weights were packed in groups of 8 rows (`WeightMatrix.packedInGroupsOf8`).
        public var packed: Bool
        /// Multiply-adds per second of thread CPU time.
        public var macsPerSecond: Double
        /// Weight bytes per second of thread CPU time.
        public var weightBytesPerSecond: Double
    }

    public static func run(
        type: GGMLType, rows: Int, columns: Int, tokens: Int, repetitions: Int = 3,
        quantization: ActivationQuantization = .llamaCpp, packed: Bool = false
    ) throws -> Result {
        guard let rowBytes = type.byteCount(forElements: columns) else { throw KernelError("bad shape") }
        var state: UInt64 = 0x1234_5678
        var bytes = [UInt8](repeating: 0, count: rowBytes * rows)
        for i in bytes.indices {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            bytes[i] = UInt8(truncatingIfNeeded: state >> 33)
        }
        // Sane fp16 scales at every block start (types whose scale leads the block).
        let scaleOffsets: [Int] = switch type {
        case .q4_0, .q5_0, .q8_0: [0]
        case .q4_1, .q5_1, .q4_K, .q5_K: [0, 2]
        case .q6_K: [208]
        case .f16: Array(stride(from: 0, to: type.bytesPerBlock, by: 2))
        default: []
        }
        for b in stride(from: 0, to: bytes.count, by: type.bytesPerBlock) {
            for o in scaleOffsets { bytes[b + o] = 0x00; bytes[b + o + 1] = 0x20 }
        }
        let file = try bytes.withUnsafeBytes { try WeightMatrix(type: type, rows: rows, columns: columns, copying: $0) }
        guard !packed || file.packedInGroupsOf8OnAnyCPU() != nil else {
            throw KernelError("\(type.name) \(rows)×\(columns) has no 8-row layout")
        }
        let w = packed ? file.packedInGroupsOf8OnAnyCPU()! : file
        let x = (0..<(tokens * columns)).map { Float(($0 * 7919) % 2001 - 1000) / 1000 }
        var y = [Float](repeating: 0, count: tokens * rows)
        var best = Double.infinity
        let previous = phi_pool_set_threads(1)
        defer { _ = phi_pool_set_threads(previous) }
        for _ in 0..<max(1, repetitions) {
            let t0 = threadCPUTime()
            x.withUnsafeBufferPointer { xb in
                y.withUnsafeMutableBufferPointer { yb in
                    matmul(xb, rows: tokens, weight: w, into: yb, quantization: quantization)
                }
            }
            best = min(best, threadCPUTime() - t0)
        }
        let macs = Double(rows) * Double(columns) * Double(tokens)
        return Result(
            type: type.name, rows: rows, columns: columns, tokens: tokens, packed: packed, macsPerSecond: macs / best,
            weightBytesPerSecond: Double(rowBytes * rows) / best)
    }

    static func threadCPUTime() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) * 1e-9
    }
}
