@testable import PhiKernels
import Testing

/// A model load's packed copies share 2 MB-aligned chunks: each copy at its own 64-byte-aligned range, none
/// overlapping, a new chunk when one is full, and the products the same bit for bit as a copy in a mapping of
/// its own.
@Suite("packed copies in a shared arena")
struct PackedArenaTests {
    @Test func rangesAreAlignedAndDisjointAndChunksStartOn2MB() throws {
        let arena = PackedArena()
        var ranges: [(chunk: ObjectIdentifier, start: Int, end: Int)] = []
        var chunks: [PackedArenaChunk] = []
        // 100 MB + 1 MB + 100 MB fit the first 256 MB chunk; the next 100 MB opens a second; 300 MB gets a chunk of its
        // own, and the last 77 bytes still go into the second.
        for bytes in [100 << 20, 1_000_003, 100 << 20, 100 << 20, 300 << 20, 77] {
            let (chunk, offset) = try #require(arena.allocate(bytes))
            #expect(offset % 64 == 0)
            #expect(offset + bytes <= chunk.length)
            #expect(Int(bitPattern: chunk.base) % PackedArenaChunk.hugePage == 0)
            #expect(chunk.length % PackedArenaChunk.hugePage == 0)
            ranges.append((ObjectIdentifier(chunk), offset, offset + bytes))
            if !chunks.contains(where: { $0 === chunk }) { chunks.append(chunk) }
        }
        #expect(chunks.count == 3)
        #expect(chunks.map(\.length) == [256 << 20, 256 << 20, 300 << 20])
        for (i, a) in ranges.enumerated() {
            for b in ranges[(i + 1)...] where a.chunk == b.chunk {
                #expect(a.end <= b.start || b.end <= a.start)
            }
        }
    }

    @Test func productsEqualACopyOfItsOwn() throws {
        let arena = PackedArena()
        let weights = try PackedRows8Tests.types.enumerated().map { i, type in
            try PackedRows8Tests.weight(type, seed: UInt64(i) + 11)
        }
        // Packed one after the other into the arena, so several copies share a chunk (and its 2 MB pages).
        let shared = try weights.map { try #require($0.packedInGroupsOf8OnAnyCPU(arena: arena)) }
        for (w, inArena) in zip(weights, shared) {
            let alone = try #require(w.packedInGroupsOf8OnAnyCPU())
            let k = PackedRows8Tests.columns(w.type)
            for n in [1, 9] {
                let x = PackedRows8Tests.activations(n * k, seed: UInt64(n) + 5)
                #expect(matmul(x, rows: n, weight: inArena, quantization: .llamaCpp)
                    == matmul(x, rows: n, weight: alone, quantization: .llamaCpp), "\(w.type) n=\(n)")
            }
        }
        #expect(Set(shared.compactMap { $0.packed8.map { ObjectIdentifier($0.chunkForTests) } }).count == 1)
    }
}
