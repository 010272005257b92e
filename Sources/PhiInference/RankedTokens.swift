// One logit row in sampling order (highest logit first, ties by id), sorted only as far as the sampler looks.
//
// Sorting a whole vocabulary for every sampled token cost more than a tenth of a decode step (phi-2: 51k entries,
// ~6 ms; phi-4-mini: 200k, ~27 ms). Top-k, top-p, min-p and the draw itself only ever look at a prefix of that
// order, and that prefix is nearly always made of the few tokens within a few nats of the best. So the row is
// ranked in stages: the tokens whose weight exp(logit/T − max) is at least e^−8 first (a prefix of the full order,
// since the weight grows with the logit), then e^−24, e^−64, then every finite logit, each stage only when a
// caller asks for a rank beyond what is sorted. Top-k selects its k tokens directly; plain temperature sampling
// (no top-k, no top-p) needs no order at all and walks the ids as they come.

struct RankedTokens {
    /// exp(logit/T − max) per id; −1 for ids that cannot be drawn (−∞ or NaN logits).
    private var weights: [Double] = []
    /// Sort keys of the ranked prefix: inverted order bits of the logit, then the id (see `key`).
    private var keys: [UInt64] = []
    /// The radix sort's second buffer.
    private var scratch: [UInt64] = []
    /// The last stage ranked (index into `stageFloors`): `keys` holds every id whose weight reaches its floor, or,
    /// after `rankTop`, exactly the best k.
    private var stage = 0
    private static let stageFloors: [Double] = [exp(-8), exp(-24), exp(-64), 0]
    /// Ids with a finite logit.
    private(set) var finiteCount = 0
    /// Σ of all weights, in id order.
    private(set) var totalWeight = 0.0

    /// Prepares `logits` scaled by `temperature`; false when no id can be drawn.
    mutating func reset(_ logits: [Float], temperature: Float) -> Bool {
        var best = -Float.infinity
        for value in logits where value > best { best = value }
        guard best > -.infinity else { return false }
        let maxScaled = Double(best / temperature)
        if weights.count != logits.count { weights = [Double](repeating: -1, count: logits.count) }
        var total = 0.0
        var finite = 0
        weights.withUnsafeMutableBufferPointer { weights in
            for (id, value) in logits.enumerated() {
                if value > -.infinity {
                    let weight = exp(Double(value / temperature) - maxScaled)
                    weights[id] = weight
                    total += weight
                    finite += 1
                } else {
                    weights[id] = -1
                }
            }
        }
        finiteCount = finite
        totalWeight = total
        keys.removeAll(keepingCapacity: true)
        stage = -1
        rankNextStage(logits)
        return true
    }

    /// The id at `rank` (0 = best); `rank` < `finiteCount`.
    mutating func id(at rank: Int, _ logits: [Float]) -> Int {
        ensureRanked(rank + 1, logits)
        return Int(truncatingIfNeeded: keys[rank] & 0xffff_ffff)
    }

    /// The weight of the id at `rank`.
    mutating func weight(at rank: Int, _ logits: [Float]) -> Double {
        weights[id(at: rank, logits)]
    }

    /// Σ of the weights of the first `count` ranks, in rank order.
    mutating func prefixWeight(_ count: Int, _ logits: [Float]) -> Double {
        ensureRanked(count, logits)
        var sum = 0.0
        for rank in 0..<count { sum += weights[Int(truncatingIfNeeded: keys[rank] & 0xffff_ffff)] }
        return sum
    }

    /// Ranks exactly the best `count` tokens (top-k), by selection rather than by stages: the stages may rank far
    /// more than k when many tokens sit close together.
    mutating func rankTop(_ count: Int, _ logits: [Float]) {
        guard keys.count < count else { return }
        keys.removeAll(keepingCapacity: true)
        for (id, weight) in weights.enumerated() where weight >= 0 {
            keys.append(Self.key(logit: logits[id], id: id))
        }
        Self.moveSmallestToFront(&keys, count)
        keys.removeSubrange(count...)
        keys.sort()
    }

    /// Σ of the weights at or above `floor`, in id order.
    func totalWeight(atLeast floor: Double) -> Double {
        var sum = 0.0
        for weight in weights where weight >= floor && weight >= 0 { sum += weight }
        return sum
    }

    /// Walks ids in id order, summing the weights at or above `floor`, and returns the id at which the sum first
    /// exceeds `target` (the last such id when rounding leaves it short).
    func idOrderDraw(target: Double, floor: Double) -> Int {
        var cumulative = 0.0
        var last = 0
        for (id, weight) in weights.enumerated() where weight >= floor && weight >= 0 {
            cumulative += weight
            if target < cumulative { return id }
            last = id
        }
        return last
    }

    /// The ids whose weight is at or above `floor`, best first, with their weights.
    mutating func ranked(atLeast floor: Double, _ logits: [Float]) -> [(id: Int, weight: Double)] {
        var result: [(id: Int, weight: Double)] = []
        var rank = 0
        while rank < finiteCount {
            let weight = weight(at: rank, logits)
            if weight < floor { break }
            result.append((id(at: rank, logits), weight))
            rank += 1
        }
        return result
    }

    private mutating func ensureRanked(_ count: Int, _ logits: [Float]) {
        while keys.count < count && stage < Self.stageFloors.count - 1 { rankNextStage(logits) }
        precondition(keys.count >= count, "rank \(count - 1) beyond \(keys.count) drawable tokens")
    }

    /// Ranks every id whose weight reaches the next stage's floor.
    private mutating func rankNextStage(_ logits: [Float]) {
        stage += 1
        let floor = Self.stageFloors[stage]
        keys.removeAll(keepingCapacity: true)
        for (id, weight) in weights.enumerated() where weight >= floor {
            keys.append(Self.key(logit: logits[id], id: id))
        }
        if keys.count < 512 {
            keys.sort()
        } else {
            Self.radixSortByLogit(&keys, scratch: &scratch)
        }
    }

    /// Sorts keys that arrive in id order by their logit half only, with a stable LSD radix sort (four 8-bit
    /// passes), so equal logits stay in id order: the same order as sorting the whole keys, several times faster
    /// for large rows.
    static func radixSortByLogit(_ keys: inout [UInt64], scratch: inout [UInt64]) {
        let count = keys.count
        if scratch.count < count { scratch = [UInt64](repeating: 0, count: count) }
        keys.withUnsafeMutableBufferPointer { keys in
            scratch.withUnsafeMutableBufferPointer { scratch in
                var source = keys, target = scratch
                var counts = [Int](repeating: 0, count: 256)
                for pass in 0..<4 {
                    let shift = UInt64(32 + 8 * pass)
                    for i in 0..<256 { counts[i] = 0 }
                    for i in 0..<count { counts[Int(truncatingIfNeeded: (source[i] >> shift) & 0xff)] += 1 }
                    var offset = 0
                    for i in 0..<256 {
                        let c = counts[i]
                        counts[i] = offset
                        offset += c
                    }
                    for i in 0..<count {
                        let key = source[i]
                        let bucket = Int(truncatingIfNeeded: (key >> shift) & 0xff)
                        target[counts[bucket]] = key
                        counts[bucket] += 1
                    }
                    swap(&source, &target)
                }
                // Four passes: the sorted keys are back in `keys`.
            }
        }
    }

    /// Quickselect (Hoare partition, median-of-three pivot): afterwards the first `count` keys are the `count`
    /// smallest, in no order. Keys are distinct (they hold the id).
    static func moveSmallestToFront(_ keys: inout [UInt64], _ count: Int) {
        keys.withUnsafeMutableBufferPointer { keys in
            var low = 0, high = keys.count - 1
            let target = count - 1
            while low < high {
                let a = keys[low], b = keys[low + (high - low) / 2], c = keys[high]
                let pivot = max(min(a, b), min(max(a, b), c))
                var i = low, j = high
                while i <= j {
                    while keys[i] < pivot { i += 1 }
                    while keys[j] > pivot { j -= 1 }
                    if i <= j {
                        keys.swapAt(i, j)
                        i += 1
                        j -= 1
                    }
                }
                if target <= j {
                    high = j
                } else if target >= i {
                    low = i
                } else {
                    return
                }
            }
        }
    }

    /// Ascending keys give descending logits, then ascending ids: the upper half inverts the logit's order-preserving
    /// bit pattern (−0 counts as +0, as `==` does).
    static func key(logit: Float, id: Int) -> UInt64 {
        let bits = (logit + 0).bitPattern
        let ascending = bits & 0x8000_0000 == 0 ? bits | 0x8000_0000 : ~bits
        return UInt64(~ascending) << 32 | UInt64(truncatingIfNeeded: id)
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
