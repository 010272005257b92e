// Anonymous memory for the packed 8-row copies of a model's matrices, in 2 MB pages.
//
// Why one arena per model load instead of one mapping per matrix: a mapping of its own starts wherever mmap puts
// it and ends at the matrix's size, so only the 2 MB-aligned middle of each got huge pages (phi-2's 2560×2560 Q4_0
// matrices are 3.7 MB), and the read-only mprotect of all but the last partial page split that one too: 0.6 of
// phi-2 Q4_0's 1.7 GB stayed in 4 KB pages. Decode streams every byte once per token; phi-2's Q4_0 shapes streamed
// 1.026–1.041× faster from one aligned arena than from per-matrix mappings (alternated in one process, order
// swapped every other pass). Matrices packed one after the other into 2 MB-aligned chunks share their huge pages.
import Foundation

/// A 2 MB-aligned anonymous mapping asked for in 2 MB pages; unmapped when the last matrix in it goes.
/// `@unchecked Sendable`: its bytes are written by the one packing call that owns each range, then only read.
final class PackedArenaChunk: @unchecked Sendable {
    static let hugePage = 2 << 20

    let base: UnsafeMutableRawPointer
    let length: Int

    /// At least `bytes`, rounded up to whole 2 MB pages; nil when the mapping fails.
    init?(bytes: Int) {
        let length = Self.roundUp(bytes)
        // Over-map by one huge page and trim, so the chunk starts on a 2 MB boundary whatever mmap chose.
        guard let raw = mmap(nil, length + Self.hugePage, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0),
            raw != MAP_FAILED
        else { return nil }
        let head = Self.roundUp(Int(bitPattern: raw)) - Int(bitPattern: raw)
        if head > 0 { munmap(raw, head) }
        if Self.hugePage - head > 0 { munmap(raw + head + length, Self.hugePage - head) }
        base = raw + head
        self.length = length
        #if os(Linux)
        _ = madvise(base, length, MADV_HUGEPAGE)
        #endif
    }

    deinit { munmap(base, length) }

    /// Makes the whole 2 MB pages inside `range` (offsets in the chunk) read-only. Only whole pages: changing the
    /// protection of part of a huge page would split it into 4 KB pages.
    func protect(_ range: Range<Int>) {
        let start = Self.roundUp(range.lowerBound)
        let end = range.upperBound / Self.hugePage * Self.hugePage
        if end > start { _ = mprotect(base + start, end - start, PROT_READ) }
    }

    static func roundUp(_ n: Int) -> Int { (n + hugePage - 1) / hugePage * hugePage }
}

/// Hands out 64-byte-aligned ranges of 256 MB chunks, one after the other, to the matrices of one model load
/// (`ModelTensorSource.packedArena`). A chunk lives as long as a matrix packed into it.
public final class PackedArena: @unchecked Sendable {
    static let chunkBytes = 256 << 20

    private let lock = NSLock()
    private var current: PackedArenaChunk?
    private var used = 0

    public init() {}

    /// A range of `bytes` bytes in a chunk; nil when no chunk could be mapped.
    func allocate(_ bytes: Int) -> (chunk: PackedArenaChunk, offset: Int)? {
        lock.withLock {
            let start = (used + 63) & ~63
            if let current, start + bytes <= current.length {
                used = start + bytes
                return (current, start)
            }
            // A matrix larger than a chunk gets one of its own, and the current chunk stays open for the next.
            if bytes > Self.chunkBytes {
                guard let chunk = PackedArenaChunk(bytes: bytes) else { return nil }
                return (chunk, 0)
            }
            // A new chunk; what is left of the old one was never touched and costs no memory.
            guard let chunk = PackedArenaChunk(bytes: Self.chunkBytes) else { return nil }
            current = chunk
            used = bytes
            return (chunk, 0)
        }
    }
}
