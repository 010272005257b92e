// One layer's keys or values for one sequence, laid out [kvHead][position][headDim]: each head's positions are one
// contiguous run, which decode attention streams. In llama.cpp's [position][kvHead][headDim] rows a head's 320
// bytes (phi-2) start a new 4 KB page at every position, where no hardware prefetcher follows: phi-2's 32 layers of
// attention at 1,024 positions read 21.9–23.5 GB/s that way against 29.3–31.1 head-major (C harness, 2 threads, ~33
// GB/s read probe).
//
// The memory is mapped, not malloc'd: glibc raises its mmap threshold to the size of each freed block, so caches of
// a few MB per layer came from the heap after the first sequence ended and `bench local --prompt-tokens 128,512`
// peaked 37 MB higher (1.093 × weights + KV) than with a fixed threshold (1.063 ×). Unmapping returns every page.
//
// A mapping is populated when it is made (MAP_POPULATE): left to fault in as positions were appended, each head's
// run took a page fault every ~13 positions (phi-2), 160 faults per decoded token, and appending one position's keys
// and values took ~19 µs per layer on a KVM guest (0.6 ms of a ~33 ms token); populated, 5-7 µs. What is reserved
// (at most twice the positions in use, or the cache's capacity) is resident.

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

#if os(Linux)
private let populateFlag = MAP_POPULATE
#else
private let populateFlag: Int32 = 0
#endif

/// Keys or values of one layer, `[kvHead][position][headDim]`, with room for `reservedPositions` positions per head.
final class KVLayerBuffer<Element: BitwiseCopyable> {
    let heads: Int
    let headDimension: Int
    /// Positions each head has room for.
    private(set) var reservedPositions = 0
    private var storage: UnsafeMutablePointer<Element>?
    private var mappedBytes = 0

    init(heads: Int, headDimension: Int) {
        self.heads = heads
        self.headDimension = headDimension
    }

    deinit {
        if let storage { munmap(storage, mappedBytes) }
    }

    /// Elements from one head's run to the next.
    var headStride: Int { reservedPositions * headDimension }

    /// The first element (head 0, position 0); nil until something was reserved.
    var base: UnsafeMutablePointer<Element>? { storage }

    /// Makes room for `positions` per head, keeping each head's first `kept` positions (the new pages resident).
    func reserve(positions: Int, keeping kept: Int) {
        guard positions > reservedPositions else { return }
        precondition(kept <= reservedPositions, "keeping more positions than were reserved")
        let count = heads * positions * headDimension
        let page = Int(sysconf(Int32(_SC_PAGESIZE)))
        let bytes = (count * MemoryLayout<Element>.stride + page - 1) / page * page
        guard let raw = mmap(nil, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | populateFlag, -1, 0), raw != MAP_FAILED
        else { fatalError("KV cache: mapping \(bytes) bytes failed (errno \(errno))") }
        let fresh = raw.bindMemory(to: Element.self, capacity: count)
        if let old = storage {
            for head in 0..<heads {
                (fresh + head * positions * headDimension).initialize(
                    from: old + head * reservedPositions * headDimension, count: kept * headDimension)
            }
            munmap(old, mappedBytes)
        }
        storage = fresh
        mappedBytes = bytes
        reservedPositions = positions
    }

    /// Head `head`'s `headDimension` elements at `position` (which must be reserved).
    func pointer(head: Int, position: Int) -> UnsafeMutablePointer<Element> {
        precondition(position < reservedPositions, "position beyond the reserved ones")
        return storage! + head * headStride + position * headDimension
    }
}
