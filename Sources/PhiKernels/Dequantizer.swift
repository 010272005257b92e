// Dequantization of ggml block types to float32 (ggml-quants.c `dequantize_row_*`), over CPhiKernels.
import CPhiKernels
public import GGUF

/// Whole-row dequantization of any compute-supported `GGMLType` to float32, bit-exact with ggml's reference.
public enum Dequantizer {
    /// Dequantizes `count` elements (a multiple of `type.blockSize`) from `source` into `destination`.
    /// Throws when the type is not supported for compute, `count` is not a whole number of blocks, or a buffer is
    /// too small.
    public static func dequantize(
        type: GGMLType, from source: UnsafeRawBufferPointer, count: Int,
        into destination: UnsafeMutableBufferPointer<Float>
    ) throws {
        guard type.isSupportedForCompute else {
            throw KernelError("cannot dequantize \(type.name): supported types are \(supportedTypeNames)")
        }
        guard let bytes = type.byteCount(forElements: count) else {
            throw KernelError("\(count) elements is not a whole number of \(type.name) blocks of \(type.blockSize)")
        }
        guard source.count >= bytes else {
            throw KernelError("\(count) \(type.name) elements need \(bytes) bytes, source has \(source.count)")
        }
        guard destination.count >= count else {
            throw KernelError("destination holds \(destination.count) floats, \(count) needed")
        }
        guard count > 0, let src = source.baseAddress, let dst = destination.baseAddress else { return }
        let status = phi_dequantize_row(type.rawValue, src, dst, Int64(count))
        guard status == 0 else { throw KernelError("phi_dequantize_row(\(type.name), \(count)) failed: \(status)") }
    }

    /// Dequantizes `count` elements into a new array.
    public static func floats(type: GGMLType, from source: UnsafeRawBufferPointer, count: Int) throws -> [Float] {
        try [Float](unsafeUninitializedCapacity: count) { buffer, initialized in
            try dequantize(type: type, from: source, count: count, into: buffer)
            initialized = count
        }
    }

    /// Types `dequantize` accepts, by ggml name.
    public static var supportedTypeNames: String {
        GGMLType.allCases.filter(\.isSupportedForCompute).map(\.name).joined(separator: ", ")
    }

    /// Whether the AVX2/F16C kernels may be used (default true; they run only where the CPU and OS support them).
    /// Both paths produce identical bits; switching is process-wide and meant for tests and benchmarks.
    public static var isSIMDEnabled: Bool {
        get { phi_simd_enabled() != 0 }
        set { _ = phi_set_simd_enabled(newValue ? 1 : 0) }
    }

    /// Whether the AVX2/F16C kernels are in use now.
    public static var isSIMDActive: Bool { phi_simd_active() != 0 }

    /// Unchecked fast path for callers that validated type and sizes (WeightMatrix).
    static func dequantizeUnchecked(type: GGMLType, from src: UnsafeRawPointer, count: Int, into dst: UnsafeMutablePointer<Float>) {
        let status = phi_dequantize_row(type.rawValue, src, dst, Int64(count))
        precondition(status == 0, "phi_dequantize_row(\(type.name), \(count)) failed: \(status)")
    }
}

/// Free-function form of `Dequantizer.dequantize(type:from:count:into:)`.
public func dequantize(
    type: GGMLType, from source: UnsafeRawBufferPointer, count: Int, into destination: UnsafeMutableBufferPointer<Float>
) throws {
    try Dequantizer.dequantize(type: type, from: source, count: count, into: destination)
}
