import Testing

@testable import PhiInference

@Suite("KV cache: head-major storage keeps every appended row across growth, truncation and reset")
struct KVCacheTests {
    static let config = PhiModelConfig(
        architecture: .phi3, vocabularySize: 16, hiddenSize: 48, intermediateSize: 64, layerCount: 2, headCount: 6,
        kvHeadCount: 3, ropeDimension: 8, ropeTheta: 10_000, normEpsilon: 1e-5, contextLength: 600,
        tieWordEmbeddings: false)

    /// Key / value element of (layer, position, kv head, t) for one "generation" of writes, so that rows written
    /// after a truncation differ from the ones they replace; integers in −1000…1000, exact in float16 too.
    static func element(_ layer: Int, _ position: Int, _ head: Int, _ t: Int, isKey: Bool, generation: Int) -> Float {
        let n = (layer * 389 + position * 31 + head * 7 + t * 3 + generation * 500 + (isKey ? 0 : 1_000)) % 2_000
        return Float(n - 1_000)
    }

    /// Appends `rows` positions at once to every layer (rows `stride` floats apart, as q/k/v rows are), then commits.
    static func append(_ cache: KVCache, rows: Int, generation: Int) {
        let width = cache.rowWidth
        let stride = width + 5
        for layer in 0..<cache.layerCount {
            var keys = [Float](repeating: .nan, count: rows * stride)
            var values = keys
            for r in 0..<rows {
                for head in 0..<cache.kvHeadCount {
                    for t in 0..<cache.headDimension {
                        let p = cache.count + r
                        keys[r * stride + head * cache.headDimension + t] =
                            element(layer, p, head, t, isKey: true, generation: generation)
                        values[r * stride + head * cache.headDimension + t] =
                            element(layer, p, head, t, isKey: false, generation: generation)
                    }
                }
            }
            cache.append(layer: layer, keys: keys, values: values, rows: rows, stride: stride)
        }
        cache.commit(rows)
    }

    /// Every filled position reads back what was appended; `generations[p]` is the write that position holds.
    static func check(_ cache: KVCache, generations: [Int]) {
        #expect(cache.count == generations.count)
        var wrong: [String] = []
        for layer in 0..<cache.layerCount {
            for (p, generation) in generations.enumerated() {
                for head in 0..<cache.kvHeadCount {
                    for t in 0..<cache.headDimension {
                        let key: Float, value: Float
                        switch cache.precision {
                        case .f32:
                            key = cache.keys[layer].pointer(head: head, position: p)[t]
                            value = cache.values[layer].pointer(head: head, position: p)[t]
                        case .f16:
                            key = Float(Float16(bitPattern: cache.keys16[layer].pointer(head: head, position: p)[t]))
                            value = Float(Float16(bitPattern: cache.values16[layer].pointer(head: head, position: p)[t]))
                        }
                        let k = element(layer, p, head, t, isKey: true, generation: generation)
                        let v = element(layer, p, head, t, isKey: false, generation: generation)
                        if key != k || value != v { wrong.append("layer \(layer) position \(p) head \(head) t \(t)") }
                    }
                }
            }
        }
        let differing = wrong.count
        #expect(differing == 0, "first: \(wrong.prefix(3))")
    }

    /// A prompt's reservation made up front is the one appending it in one call makes, so its chunks append without
    /// growing (nothing remapped or copied; in chunks of 50 it grew twice, to 300), and the rows a reservation keeps
    /// are intact.
    @Test(arguments: KVCachePrecision.allCases)
    func reservingForAPromptIsWhatItsChunksGrowTo(precision: KVCachePrecision) {
        func reserved(_ cache: KVCache) -> [Int] {
            (0..<cache.layerCount).flatMap {
                [cache.keys[$0].reservedPositions, cache.values[$0].reservedPositions,
                 cache.keys16[$0].reservedPositions, cache.values16[$0].reservedPositions]
            }
        }
        let grown = KVCache(config: Self.config, capacity: 600, precision: precision)
        Self.append(grown, rows: 250, generation: 0)
        let upFront = KVCache(config: Self.config, capacity: 600, precision: precision)
        upFront.reserve(forPositions: 250)
        let before = reserved(upFront)
        #expect(before == reserved(grown) && before.max() == 500)
        for _ in 0..<5 { Self.append(upFront, rows: 50, generation: 0) }
        #expect(reserved(upFront) == before)
        Self.check(upFront, generations: Array(repeating: 0, count: 250))

        // Later: a longer prompt after the cached rows; capped at the capacity.
        upFront.reserve(forPositions: 5_000)
        #expect(reserved(upFront).max() == 600)
        Self.check(upFront, generations: Array(repeating: 0, count: 250))
    }

    @Test(arguments: KVCachePrecision.allCases)
    func rowsSurviveGrowthTruncationAndReset(precision: KVCachePrecision) {
        let cache = KVCache(config: Self.config, capacity: 600, precision: precision)
        // A 100-row prompt reserves twice that (200); one at a time then crosses it (→ 402), and a 250-row prompt
        // crosses the next (→ the capacity, 600), each growth copying every head's run to its new place.
        Self.append(cache, rows: 100, generation: 0)
        #expect(max(cache.keys[0].reservedPositions, cache.keys16[0].reservedPositions) == 200)
        for _ in 0..<101 { Self.append(cache, rows: 1, generation: 0) }
        #expect(max(cache.keys[0].reservedPositions, cache.keys16[0].reservedPositions) == 402)
        Self.append(cache, rows: 250, generation: 0)
        #expect(max(cache.keys[1].reservedPositions, cache.keys16[1].reservedPositions) == 600)
        Self.check(cache, generations: Array(repeating: 0, count: 451))

        // A truncated tail is overwritten by the next appends; the kept prefix is untouched.
        cache.truncate(to: 50)
        Self.append(cache, rows: 20, generation: 1)
        Self.check(cache, generations: Array(repeating: 0, count: 50) + Array(repeating: 1, count: 20))

        cache.reset()
        Self.append(cache, rows: 3, generation: 2)
        Self.check(cache, generations: [2, 2, 2])
    }

    @Test func byteCountIsWhatTheRowsHold() {
        // 2 layers × (K, V) × 3 kv heads × 8 floats × 4 bytes = 384 bytes per position (no padding: each head's run
        // is contiguous).
        #expect(KVCache.byteCount(config: Self.config, positions: 10, precision: .f32) == 3_840)
        #expect(KVCache.byteCount(config: Self.config, positions: 10, precision: .f16) == 1_920)
    }
}
