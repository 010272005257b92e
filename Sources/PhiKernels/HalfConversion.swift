// IEEE float16 and bfloat16 <-> float32 conversion of rows (round to nearest even when narrowing).
import CPhiKernels

/// float16 / bfloat16 bit patterns (`UInt16`) to and from float32, one value or a whole row.
public enum HalfConversion {
    public static func float(fromF16 bits: UInt16) -> Float { phi_f16_to_f32(bits) }
    public static func f16(from value: Float) -> UInt16 { phi_f32_to_f16(value) }
    public static func float(fromBF16 bits: UInt16) -> Float { phi_bf16_to_f32(bits) }
    public static func bf16(from value: Float) -> UInt16 { phi_f32_to_bf16(value) }

    /// Converts `min(source.count, destination.count)` values.
    public static func f16ToF32(_ source: UnsafeBufferPointer<UInt16>, into destination: UnsafeMutableBufferPointer<Float>) {
        let n = min(source.count, destination.count)
        guard n > 0, let s = source.baseAddress, let d = destination.baseAddress else { return }
        phi_f16_to_f32_row(s, d, Int64(n))
    }

    public static func f32ToF16(_ source: UnsafeBufferPointer<Float>, into destination: UnsafeMutableBufferPointer<UInt16>) {
        let n = min(source.count, destination.count)
        guard n > 0, let s = source.baseAddress, let d = destination.baseAddress else { return }
        phi_f32_to_f16_row(s, d, Int64(n))
    }

    public static func bf16ToF32(_ source: UnsafeBufferPointer<UInt16>, into destination: UnsafeMutableBufferPointer<Float>) {
        let n = min(source.count, destination.count)
        guard n > 0, let s = source.baseAddress, let d = destination.baseAddress else { return }
        phi_dequantize_row_bf16(s, d, Int64(n))
    }

    public static func f32ToBF16(_ source: UnsafeBufferPointer<Float>, into destination: UnsafeMutableBufferPointer<UInt16>) {
        let n = min(source.count, destination.count)
        guard n > 0, let s = source.baseAddress, let d = destination.baseAddress else { return }
        phi_f32_to_bf16_row(s, d, Int64(n))
    }

    public static func floats(fromF16 bits: [UInt16]) -> [Float] {
        [Float](unsafeUninitializedCapacity: bits.count) { buffer, initialized in
            bits.withUnsafeBufferPointer { f16ToF32($0, into: buffer) }
            initialized = bits.count
        }
    }

    public static func floats(fromBF16 bits: [UInt16]) -> [Float] {
        [Float](unsafeUninitializedCapacity: bits.count) { buffer, initialized in
            bits.withUnsafeBufferPointer { bf16ToF32($0, into: buffer) }
            initialized = bits.count
        }
    }
}
