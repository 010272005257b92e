// Eager causal scaled-dot-product attention over the KV cache (transformers' `eager_attention_forward`):
// softmax(q·kᵀ · scale) · v in float32, grouped-query heads sharing K/V. Computed by PhiKernels' `ForwardOps`
// (vectorized, split over (query, head) pairs on the worker pool); an F16 cache is widened on the fly.

import Foundation
import PhiKernels

enum CausalAttention {
    /// For `n` new queries at positions `start..<start+n` (rows of `queries`, `queryStride` apart, heads
    /// contiguous), attends over cache positions `0...position` of `layer` and writes `n × heads·headDimension`
    /// floats to `output`.
    static func attend(
        queries: UnsafePointer<Float>, queryStride: Int, rows n: Int, start: Int,
        cache: KVCache, layer: Int, heads: Int, output: UnsafeMutablePointer<Float>
    ) {
        call(queries: queries, queryStride: queryStride, rows: n, start: start, cache: cache, layer: layer, heads: heads,
             output: output).run()
    }

    /// The same as a value (its pointers valid until the cache's next append to `layer`).
    static func call(
        queries: UnsafePointer<Float>, queryStride: Int, rows n: Int, start: Int,
        cache: KVCache, layer: Int, heads: Int, output: UnsafeMutablePointer<Float>
    ) -> AttentionCall {
        let d = cache.headDimension
        let scale = Float(1 / Double(d).squareRoot())
        // One head stride serves keys and values: `KVCache.append` reserves both buffers of a layer together.
        switch cache.precision {
        case .f32:
            let keys = cache.keys[layer], values = cache.values[layer]
            assert(keys.headStride == values.headStride)
            return AttentionCall(
                queries: queries, queryStride: queryStride, rows: n, start: start, keys: keys.base!,
                values: values.base!, kvWidth: d, kvHeadStride: keys.headStride, heads: heads,
                kvHeads: cache.kvHeadCount, headDimension: d, scale: scale, output: output)
        case .f16:
            let keys = cache.keys16[layer], values = cache.values16[layer]
            assert(keys.headStride == values.headStride)
            return AttentionCall(
                queries: queries, queryStride: queryStride, rows: n, start: start, keys: keys.base!,
                values: values.base!, kvWidth: d, kvHeadStride: keys.headStride, heads: heads,
                kvHeads: cache.kvHeadCount, headDimension: d, scale: scale, output: output)
        }
    }
}
