// Q4_0, Q8_0, Q4_K, Q5_K and Q6_K weights in groups of 8 rows (`phi_packed8.c`): made once at load so that every quantized product
// over them (decode, batched decode, prefill) runs the interleaved kernels, a fraction of the instructions per weight.
import CPhiKernels
public import GGUF
import Foundation

/// A copy of a matrix in the 8-row layout of its type, in 2 MB pages (`PackedArena`: decode streams it, like the
/// file's weights, which get the same advice), read-only once written where it covers whole pages.
/// `@unchecked Sendable`: written once in init, read-only afterwards; its chunk is unmapped with the last user.
final class PackedRows8: @unchecked Sendable {
    let pointer: UnsafeMutableRawPointer
    private let chunk: PackedArenaChunk
    /// The chunk it lives in (tests check that one load's copies share chunks).
    var chunkForTests: PackedArenaChunk { chunk }

    /// Packs into `arena` (a model load's), or into a chunk of its own when nil.
    init?(_ matrix: WeightMatrix, arena: PackedArena? = nil) {
        let type = matrix.type.rawValue
        let size = phi_x8_size(type, Int64(matrix.rows), Int64(matrix.columns))
        guard size > 0, let source = matrix.bytes.baseAddress else { return nil }
        if let arena {
            guard let (chunk, offset) = arena.allocate(size) else { return nil }
            self.chunk = chunk
            pointer = chunk.base + offset
        } else {
            guard let chunk = PackedArenaChunk(bytes: size) else { return nil }
            self.chunk = chunk
            pointer = chunk.base
        }
        let status = phi_x8_pack(type, source, matrix.rowByteCount, Int64(matrix.rows), Int64(matrix.columns), pointer)
        precondition(status == 0, "phi_x8_pack failed (\(status)) for '\(matrix.name)'")
        let offset = pointer - chunk.base
        chunk.protect(offset..<(offset + size))
    }
}

extension WeightMatrix {
    /// The types with an 8-row layout (`phi_packed8.c`).
    public static let packable8Types: Set<GGMLType> = [.q4_0, .q8_0, .q4_K, .q5_K, .q6_K]

    /// Whether `packedInGroupsOf8()` would pack this matrix: one of `packable8Types`, rows a multiple of 8, and a CPU with
    /// AVX2 or AVX-512 VNNI (each has tiles for the layout; the scalar path exists for tests). On AVX-512 the packed VNNI
    /// tiles measured 1.9–3.6× the file layout's prefill for Q4_K_M, and Q4_0 and decode no slower.
    public var isPackable8: Bool {
        phi_x8_size(type.rawValue, Int64(rows), Int64(columns)) > 0 && phi_quant_level() >= Int32(PHI_LEVEL_AVX2)
    }

    /// Whether quantized products use the packed 8-row layout.
    public var hasPacked8: Bool { packed8 != nil }

    /// This matrix with a packed copy of its weights for the quantized kernels, when `isPackable8` (else itself).
    /// The original bytes stay valid (dequantizing rows, the exact path); a loader may release their mapped pages.
    /// - Parameter arena: where the copy goes (a model load packs all its matrices into one; nil: a mapping of its own).
    public func packedInGroupsOf8(arena: PackedArena? = nil) -> WeightMatrix {
        guard isPackable8, let packed = PackedRows8(self, arena: arena) else { return self }
        return WeightMatrix(self, packed: packed)
    }

    /// `packedInGroupsOf8()` on any CPU, AVX2 or not (tests compare the packed kernels' scalar and AVX2 paths and run
    /// `matmul` over a packed weight where `isPackable8` is false; `bench kernels` measures both layouts); nil when
    /// the type or shape has no such layout.
    public func packedInGroupsOf8OnAnyCPU(arena: PackedArena? = nil) -> WeightMatrix? {
        guard let packed = PackedRows8(self, arena: arena) else { return nil }
        return WeightMatrix(self, packed: packed)
    }
}
