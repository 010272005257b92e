// Vectorized, threaded element-wise work and causal attention of the forward pass (CPhiKernels' phi_ops).
import CPhiKernels

/// The forward pass's non-matmul hot loops: gelu_new, SiLU·up, causal attention over a float32 or float16 KV cache.
public enum ForwardOps {
    /// In place gelu_new (tanh form), float32 (≲ 2e-7·|x| from the double-precision formula).
    public static func geluTanh(_ x: UnsafeMutablePointer<Float>, count: Int) {
        phi_gelu_tanh(x, Int64(count))
    }

    /// `output[i] = silu(gate[i]) · up[i]`.
    public static func siluMul(
        gate: UnsafePointer<Float>, up: UnsafePointer<Float>, output: UnsafeMutablePointer<Float>, count: Int
    ) {
        phi_silu_mul(gate, up, output, Int64(count))
    }

    /// Causal attention for `rows` queries at positions `start..<start+rows` over cache positions `0...position`,
    /// `scale` = 1/√headDimension; writes `rows × heads·headDimension` floats. The cache element (position p, kv
    /// head g, t) is at `p·kvWidth + g·kvHeadStride + t`: `[position][kvHead][headDim]` when `kvHeadStride` is nil
    /// (= headDimension), `[kvHead][position][headDim]` with `kvWidth` = headDimension and `kvHeadStride` = the
    /// positions one head holds · headDimension.
    public static func attention(
        queries: UnsafePointer<Float>, queryStride: Int, rows: Int, start: Int, keys: UnsafePointer<Float>,
        values: UnsafePointer<Float>, kvWidth: Int, kvHeadStride: Int? = nil, heads: Int, kvHeads: Int,
        headDimension: Int, scale: Float, output: UnsafeMutablePointer<Float>
    ) {
        AttentionCall(
            queries: queries, queryStride: queryStride, rows: rows, start: start, keys: keys, values: values,
            kvWidth: kvWidth, kvHeadStride: kvHeadStride ?? headDimension, heads: heads, kvHeads: kvHeads,
            headDimension: headDimension, scale: scale, output: output
        ).run()
    }

    /// `attention` over a float16 cache (IEEE half bit patterns).
    public static func attention(
        queries: UnsafePointer<Float>, queryStride: Int, rows: Int, start: Int, keys: UnsafePointer<UInt16>,
        values: UnsafePointer<UInt16>, kvWidth: Int, kvHeadStride: Int? = nil, heads: Int, kvHeads: Int,
        headDimension: Int, scale: Float, output: UnsafeMutablePointer<Float>
    ) {
        AttentionCall(
            queries: queries, queryStride: queryStride, rows: rows, start: start, keys: keys, values: values,
            kvWidth: kvWidth, kvHeadStride: kvHeadStride ?? headDimension, heads: heads, kvHeads: kvHeads,
            headDimension: headDimension, scale: scale, output: output
        ).run()
    }
}
