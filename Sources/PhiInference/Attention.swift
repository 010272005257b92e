// Eager causal scaled-dot-product attention over the KV cache (transformers' `eager_attention_forward`):
// softmax(q·kᵀ · scale) · v in float32, grouped-query heads sharing K/V.

import Foundation

enum CausalAttention {
    /// For `n` new queries at positions `start..<start+n` (rows of `queries`, `queryStride` apart, heads
    /// contiguous), attends over cache positions `0...position` of `layer` and writes `n × heads·headDimension`
    /// floats to `output`.
    static func attend(
        queries: UnsafePointer<Float>, queryStride: Int, rows n: Int, start: Int,
        cache: KVCache, layer: Int, heads: Int, output: UnsafeMutablePointer<Float>
    ) {
        let d = cache.headDimension
        let kvHeads = cache.kvHeadCount
        let group = heads / kvHeads
        let width = cache.rowWidth
        let scale = Float(1 / Double(d).squareRoot())
        let total = start + n
        cache.keys[layer].withUnsafeBufferPointer { keyBuffer in
            cache.values[layer].withUnsafeBufferPointer { valueBuffer in
                let keys = keyBuffer.baseAddress!
                let values = valueBuffer.baseAddress!
                withUnsafeTemporaryAllocation(of: Float.self, capacity: total) { scores in
                    for i in 0..<n {
                        let position = start + i
                        for h in 0..<heads {
                            let q = queries + i * queryStride + h * d
                            let kvh = h / group
                            var maximum = -Float.infinity
                            for j in 0...position {
                                let k = keys + j * width + kvh * d
                                var dot: Float = 0
                                for t in 0..<d { dot += q[t] * k[t] }
                                let score = dot * scale
                                scores[j] = score
                                if score > maximum { maximum = score }
                            }
                            var sum: Float = 0
                            for j in 0...position {
                                let e = exp(scores[j] - maximum)
                                scores[j] = e
                                sum += e
                            }
                            let inverse = 1 / sum
                            let out = output + i * heads * d + h * d
                            for t in 0..<d { out[t] = 0 }
                            for j in 0...position {
                                let weight = scores[j] * inverse
                                let v = values + j * width + kvh * d
                                for t in 0..<d { out[t] += weight * v[t] }
                            }
                        }
                    }
                }
            }
        }
    }
}
