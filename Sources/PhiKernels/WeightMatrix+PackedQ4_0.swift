// Q4_0 weights in groups of 8 rows (`phi_q4_0_x8.c`): made once at load so that every quantized product over them
// (decode, batched decode, prefill) runs the interleaved kernels, about 3× fewer instructions per weight.
import CPhiKernels
import Foundation

/// A heap copy of a Q4_0 matrix in the 8-row layout (64-byte aligned).
/// `@unchecked Sendable`: written once in init, read-only afterwards, freed in deinit.
final class PackedQ4_0: @unchecked Sendable {
    let pointer: UnsafeMutableRawPointer
    let count: Int

    init?(_ matrix: WeightMatrix) {
        let size = phi_q4_0_x8_size(Int64(matrix.rows), Int64(matrix.columns))
        guard matrix.type == .q4_0, size > 0, let source = matrix.bytes.baseAddress else { return nil }
        count = size
        pointer = UnsafeMutableRawPointer.allocate(byteCount: size, alignment: 64)
        let status = phi_q4_0_pack_x8(source, matrix.rowByteCount, Int64(matrix.rows), Int64(matrix.columns), pointer)
        precondition(status == 0, "phi_q4_0_pack_x8 failed (\(status)) for '\(matrix.name)'")
    }

    deinit { pointer.deallocate() }
}

extension WeightMatrix {
    /// Whether `packingQ4_0()` would pack this matrix: Q4_0, rows a multiple of 8, and a CPU with the AVX2 kernels
    /// (the scalar fallback exists for tests, but on such a CPU the file layout's own kernels are as fast).
    public var isPackableQ4_0: Bool {
        type == .q4_0 && phi_q4_0_x8_size(Int64(rows), Int64(columns)) > 0 && phi_quant_level() == Int32(PHI_LEVEL_AVX2)
    }

    /// Whether quantized products use the packed 8-row layout.
    public var hasPackedQ4_0: Bool { packedQ4_0 != nil }

    /// This matrix with a packed copy of its weights for the quantized kernels, when `isPackableQ4_0` (else itself).
    /// With `releasingMappedPages`, the pages of the original bytes are then dropped from this process's resident set
    /// (`MADV_DONTNEED` on the file mapping: they stay in the page cache and come back if read), so resident memory
    /// holds the weights once.
    public func packingQ4_0(releasingMappedPages: Bool = false) -> WeightMatrix {
        guard isPackableQ4_0, let packed = PackedQ4_0(self) else { return self }
        if releasingMappedPages { Self.releasePages(of: bytes) }
        return WeightMatrix(self, packed: packed)
    }

    /// `packingQ4_0()` on any CPU, AVX2 or not (tests compare the packed kernels' scalar and AVX2 paths, and run
    /// `matmul` over a packed weight where `isPackableQ4_0` is false); nil when not Q4_0 or rows not a multiple of 8.
    public func packedQ4_0ForTesting() -> WeightMatrix? {
        guard type == .q4_0, let packed = PackedQ4_0(self) else { return nil }
        return WeightMatrix(self, packed: packed)
    }

    /// Whole pages inside `bytes` only: the neighbours' bytes at either end may still be in use.
    private static func releasePages(of bytes: UnsafeRawBufferPointer) {
        guard let base = bytes.baseAddress else { return }
        let page = Int(sysconf(Int32(_SC_PAGESIZE)))
        let start = (Int(bitPattern: base) + page - 1) / page * page
        let end = (Int(bitPattern: base) + bytes.count) / page * page
        guard end > start, let pointer = UnsafeMutableRawPointer(bitPattern: start) else { return }
        _ = madvise(pointer, end - start, MADV_DONTNEED)
    }
}
