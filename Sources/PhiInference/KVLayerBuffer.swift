// One layer's keys or values for one sequence, laid out [kvHead][position][headDim]: each head's positions are one
// contiguous run, which decode attention streams. In llama.cpp's [position][kvHead][headDim] rows a head's 320
// bytes (phi-2) start a new 4 KB page at every position, where no hardware prefetcher follows: phi-2's 32 layers of
// attention at 1,024 positions read 22–23 GB/s that way against 29–31 GB/s head-major (C harness, 2 threads, ~33
// GB/s read probe).

/// Keys or values of one layer, `[kvHead][position][headDim]`, with room for `reservedPositions` positions per head.
final class KVLayerBuffer<Element: BitwiseCopyable> {
    let heads: Int
    let headDimension: Int
    /// Positions each head has room for.
    private(set) var reservedPositions = 0
    private var storage: UnsafeMutablePointer<Element>?

    init(heads: Int, headDimension: Int) {
        self.heads = heads
        self.headDimension = headDimension
    }

    deinit { storage.map { UnsafeMutableRawPointer($0).deallocate() } }

    /// Elements from one head's run to the next.
    var headStride: Int { reservedPositions * headDimension }

    /// The first element (head 0, position 0); nil until something was reserved.
    var base: UnsafeMutablePointer<Element>? { storage }

    /// Makes room for `positions` per head, keeping each head's first `kept` positions. The new memory is not
    /// written here, so pages beyond what is appended stay unmapped (a context-length reservation costs nothing
    /// until used).
    func reserve(positions: Int, keeping kept: Int) {
        guard positions > reservedPositions else { return }
        precondition(kept <= reservedPositions, "keeping more positions than were reserved")
        let count = heads * positions * headDimension
        let raw = UnsafeMutableRawPointer.allocate(byteCount: count * MemoryLayout<Element>.stride, alignment: 64)
        let fresh = raw.bindMemory(to: Element.self, capacity: count)
        if let old = storage {
            for head in 0..<heads {
                (fresh + head * positions * headDimension).initialize(
                    from: old + head * reservedPositions * headDimension, count: kept * headDimension)
            }
            UnsafeMutableRawPointer(old).deallocate()
        }
        storage = fresh
        reservedPositions = positions
    }

    /// Head `head`'s `headDimension` elements at `position` (which must be reserved).
    func pointer(head: Int, position: Int) -> UnsafeMutablePointer<Element> {
        precondition(position < reservedPositions, "position beyond the reserved ones")
        return storage! + head * headStride + position * headDimension
    }
}
