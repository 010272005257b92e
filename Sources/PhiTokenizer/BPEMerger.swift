// Byte-pair merging as in Hugging Face tokenizers' `Word::merge_all` and llama.cpp's SPM/BPE sessions:
// repeatedly merge the best-priority adjacent pair, ties to the leftmost.

/// A merge table keyed by the ids of the two symbols.
struct BPEMerger: Sendable {
    struct Merge: Sendable {
        /// Lower merges first: the merge rank, or minus the SentencePiece score of the result.
        var priority: Float
        var result: Int32
    }

    private var table: [UInt64: Merge] = [:]

    init() {}

    var count: Int { table.count }

    static func key(_ left: Int32, _ right: Int32) -> UInt64 {
        UInt64(UInt32(bitPattern: left)) << 32 | UInt64(UInt32(bitPattern: right))
    }

    /// Adds a merge; an existing pair keeps its better priority.
    mutating func add(left: Int32, right: Int32, result: Int32, priority: Float) {
        let k = Self.key(left, right)
        if let existing = table[k], existing.priority <= priority { return }
        table[k] = Merge(priority: priority, result: result)
    }

    func merge(_ left: Int32, _ right: Int32) -> Merge? {
        table[Self.key(left, right)]
    }

    /// The symbols after all merges. Negative ids never merge.
    func apply(_ symbols: [Int32]) -> [Int32] {
        let n = symbols.count
        if n < 2 { return symbols }
        var ids = symbols
        var next = Array(1...n)
        var prev = Array(-1..<(n - 1))
        next[n - 1] = -1
        var heap = MergeHeap()
        for i in 0..<(n - 1) {
            if let m = merge(ids[i], ids[i + 1]) {
                heap.push(.init(priority: m.priority, position: i, left: ids[i], right: ids[i + 1], result: m.result))
            }
        }
        while let top = heap.pop() {
            let i = top.position
            // Stale entries: a merge replaces the left id by a strictly longer token, so a changed
            // id never comes back and comparing ids is enough.
            guard ids[i] == top.left, next[i] >= 0, ids[next[i]] == top.right else { continue }
            let j = next[i]
            ids[i] = top.result
            ids[j] = -1
            next[i] = next[j]
            if next[j] >= 0 { prev[next[j]] = i }
            if prev[i] >= 0, let m = merge(ids[prev[i]], ids[i]) {
                heap.push(.init(priority: m.priority, position: prev[i], left: ids[prev[i]], right: ids[i], result: m.result))
            }
            if next[i] >= 0, let m = merge(ids[i], ids[next[i]]) {
                heap.push(.init(priority: m.priority, position: i, left: ids[i], right: ids[next[i]], result: m.result))
            }
        }
        var out: [Int32] = []
        out.reserveCapacity(n)
        var i = 0
        while i >= 0 {
            out.append(ids[i])
            i = next[i]
        }
        return out
    }
}

/// A binary min-heap on (priority, position).
struct MergeHeap {
    struct Entry {
        var priority: Float
        var position: Int
        var left: Int32
        var right: Int32
        var result: Int32

        func precedes(_ other: Entry) -> Bool {
            priority < other.priority || (priority == other.priority && position < other.position)
        }
    }

    private var items: [Entry] = []

    mutating func push(_ entry: Entry) {
        items.append(entry)
        var c = items.count - 1
        while c > 0 {
            let p = (c - 1) / 2
            guard items[c].precedes(items[p]) else { break }
            items.swapAt(c, p)
            c = p
        }
    }

    mutating func pop() -> Entry? {
        guard !items.isEmpty else { return nil }
        let top = items[0]
        let last = items.removeLast()
        if !items.isEmpty {
            items[0] = last
            var p = 0
            while true {
                let l = 2 * p + 1
                let r = l + 1
                var best = p
                if l < items.count, items[l].precedes(items[best]) { best = l }
                if r < items.count, items[r].precedes(items[best]) { best = r }
                if best == p { break }
                items.swapAt(p, best)
                p = best
            }
        }
        return top
    }
}
