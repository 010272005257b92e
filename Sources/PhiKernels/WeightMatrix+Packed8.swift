// Q4_0 and Q4_K weights in groups of 8 rows (`phi_packed8.c`): made once at load so that every quantized product
// over them (decode, batched decode, prefill) runs the interleaved kernels, a fraction of the instructions per weight.
import CPhiKernels

/// A heap copy of a matrix in the 8-row layout of its type (64-byte aligned).
/// `@unchecked Sendable`: written once in init, read-only afterwards, freed in deinit.
final class PackedRows8: @unchecked Sendable {
    let pointer: UnsafeMutableRawPointer
    let count: Int

    init?(_ matrix: WeightMatrix) {
        let type = matrix.type.rawValue
        let size = phi_x8_size(type, Int64(matrix.rows), Int64(matrix.columns))
        guard size > 0, let source = matrix.bytes.baseAddress else { return nil }
        count = size
        pointer = UnsafeMutableRawPointer.allocate(byteCount: size, alignment: 64)
        let status = phi_x8_pack(type, source, matrix.rowByteCount, Int64(matrix.rows), Int64(matrix.columns), pointer)
        precondition(status == 0, "phi_x8_pack failed (\(status)) for '\(matrix.name)'")
    }

    deinit { pointer.deallocate() }
}

extension WeightMatrix {
    /// Whether `packedInGroupsOf8()` would pack this matrix: Q4_0 or Q4_K, rows a multiple of 8, and a CPU whose best
    /// kernels are AVX2 (the AVX-512 VNNI tiles read the file's layout; the scalar path exists for tests).
    public var isPackable8: Bool {
        phi_x8_size(type.rawValue, Int64(rows), Int64(columns)) > 0 && phi_quant_level() == Int32(PHI_LEVEL_AVX2)
    }

    /// Whether quantized products use the packed 8-row layout.
    public var hasPacked8: Bool { packed8 != nil }

    /// This matrix with a packed copy of its weights for the quantized kernels, when `isPackable8` (else itself).
    /// The original bytes stay valid (dequantizing rows, the exact path); a loader may release their mapped pages.
    public func packedInGroupsOf8() -> WeightMatrix {
        guard isPackable8, let packed = PackedRows8(self) else { return self }
        return WeightMatrix(self, packed: packed)
    }

    /// `packedInGroupsOf8()` on any CPU, AVX2 or not (tests compare the packed kernels' scalar and AVX2 paths, and
    /// run `matmul` over a packed weight where `isPackable8` is false); nil when the type or shape has no layout.
    public func packedInGroupsOf8ForTesting() -> WeightMatrix? {
        guard let packed = PackedRows8(self) else { return nil }
        return WeightMatrix(self, packed: packed)
    }
}
