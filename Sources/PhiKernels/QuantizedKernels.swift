// Swift face of the quantized kernels (ggml-cpu `quantize_row_q8_*` + `ggml_vec_dot_*_q8_*` semantics).
import CPhiKernels
public import GGUF

/// Activation rounding and per-row dot products exactly as `matmul` uses them with `.llamaCpp`.
public enum QuantizedKernels {
    /// Whether `type` weights can be multiplied by the quantized kernels.
    public static func supports(_ type: GGMLType) -> Bool { phi_quant_supported(type.rawValue) != 0 }

    /// Bytes of one prepared activation row of `count` values for `type` weights (nil when unsupported).
    public static func activationRowBytes(_ type: GGMLType, count: Int) -> Int? {
        let n = phi_act_row_size(type.rawValue, Int64(count))
        return n == 0 ? nil : n
    }

    /// The activation row prepared for `type` weights: Q8_0 (Q4_0/Q5_0/Q8_0) or Q8_1 (Q4_1/Q5_1) blocks of 32 as
    /// `[quants: nb×32 int8][per-lane offset corrections: nb×8 int32][fp16-rounded scales d: nb float]
    /// [d·Σq: nb float (Q8_1)][−offset·Σq: nb int32]`;
    /// ggml's `block_q8_K` for K-quants; float32 for F16/BF16/F32.
    public static func prepareActivations(_ x: [Float], for type: GGMLType) -> [UInt8] {
        guard let size = activationRowBytes(type, count: x.count) else { return [] }
        var out = [UInt8](repeating: 0, count: size)
        x.withUnsafeBufferPointer { xb in
            out.withUnsafeMutableBytes { _ = phi_quantize_act_row(type.rawValue, xb.baseAddress, $0.baseAddress, Int64(x.count)) }
        }
        return out
    }

    /// Dot product of one weight row (`count` values of `type`) with prepared activations, on the current level.
    public static func dot(_ type: GGMLType, row: UnsafeRawBufferPointer, activations: [UInt8], count: Int) -> Float {
        precondition(activations.count >= (activationRowBytes(type, count: count) ?? .max), "activation row too short")
        return activations.withUnsafeBytes { phi_vec_dot(type.rawValue, row.baseAddress, $0.baseAddress, Int64(count)) }
    }

    /// `dot` on a given level (clamped to what the machine supports); does not touch process-wide settings.
    public static func dot(
        _ type: GGMLType, row: UnsafeRawBufferPointer, activations: [UInt8], count: Int, level: KernelLevel
    ) -> Float {
        precondition(activations.count >= (activationRowBytes(type, count: count) ?? .max), "activation row too short")
        return activations.withUnsafeBytes {
            phi_vec_dot_at_level(type.rawValue, row.baseAddress, $0.baseAddress, Int64(count), Int32(level.rawValue))
        }
    }

    /// `result[t · weight.rows + r] = dot(row r of weight, activations[t])` for every row and prepared activation
    /// row, through the row-order kernels of a batched decode step on `level` (clamped to what the machine
    /// supports), single-threaded. With two or more activation rows this is the multi-token path (each weight block
    /// read once for all rows); every product equals `dot(_:row:activations:count:level:)` bit for bit.
    public static func rowOrderProducts(weight: WeightMatrix, activations: [[UInt8]], level: KernelLevel) -> [Float] {
        let n = activations.count
        let m = weight.rows
        let k = weight.columns
        guard n > 0, m > 0, let arb = activationRowBytes(weight.type, count: k) else { return [] }
        precondition(activations.allSatisfy { $0.count == arb }, "activation rows must hold \(arb) bytes")
        let packed = activations.flatMap { $0 }
        return [Float](unsafeUninitializedCapacity: n * m) { y, initialized in
            packed.withUnsafeBytes { a in
                phi_qgemm_rows_at_level(
                    weight.type.rawValue, weight.bytes.baseAddress, weight.rowByteCount, a.baseAddress, arb, Int64(k),
                    Int64(n), y.baseAddress, Int64(m), 0, Int64(m), Int32(level.rawValue))
            }
            initialized = n * m
        }
    }

    /// `x[n × k] · Wᵀ` over the packed 8-row copy of a Q4_0 or Q4_K `weight` (made here whatever the CPU, so both
    /// paths can be compared) on `level` (clamped to what the machine supports), single-threaded; nil when the weight
    /// cannot be packed (another type, rows not a multiple of 8).
    public static func packed8Products(weight: WeightMatrix, x: [Float], rows n: Int, level: KernelLevel) -> [Float]? {
        guard let packed = weight.packedInGroupsOf8OnAnyCPU()?.packed8, x.count == n * weight.columns else { return nil }
        let m = weight.rows
        return [Float](unsafeUninitializedCapacity: n * m) { y, initialized in
            x.withUnsafeBufferPointer { xb in
                _ = phi_x8_matmul_at_level(
                    weight.type.rawValue, packed.pointer, Int64(m), Int64(weight.columns), xb.baseAddress, Int64(n), y.baseAddress,
                    Int32(level.rawValue))
            }
            initialized = n * m
        }
    }

    /// Runs `body` with the kernels capped at `level` (restored afterwards). Process-wide: tests that compare
    /// levels must not run concurrently with other users of the kernels' level.
    public static func withLevelCap<T>(_ level: KernelLevel, _ body: () throws -> T) rethrows -> T {
        let previous = phi_quant_set_level_cap(Int32(level.rawValue))
        defer { _ = phi_quant_set_level_cap(previous) }
        return try body()
    }
}
