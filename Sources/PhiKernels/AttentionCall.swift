// One sequence's causal attention as a value, so that it can run inside a products' dispatch of the worker pool
// (`matmul(_:segments:afterAttention:deferredFrom:)`) as well as on its own.
import CPhiKernels

/// The arguments of `ForwardOps.attention` for one sequence (a float32 or float16 cache).
public struct AttentionCall {
    var raw: phi_attention_call

    /// Over a float32 cache (element (position p, kv head g, t) at `p·kvWidth + g·kvHeadStride + t`).
    public init(
        queries: UnsafePointer<Float>, queryStride: Int, rows: Int, start: Int, keys: UnsafePointer<Float>,
        values: UnsafePointer<Float>, kvWidth: Int, kvHeadStride: Int, heads: Int, kvHeads: Int, headDimension: Int,
        scale: Float, output: UnsafeMutablePointer<Float>
    ) {
        self.init(
            queries, queryStride, rows, start, UnsafeRawPointer(keys), UnsafeRawPointer(values), f16: false, kvWidth,
            kvHeadStride, heads, kvHeads, headDimension, scale, output)
    }

    /// Over a float16 cache (IEEE half bit patterns), laid out as above.
    public init(
        queries: UnsafePointer<Float>, queryStride: Int, rows: Int, start: Int, keys: UnsafePointer<UInt16>,
        values: UnsafePointer<UInt16>, kvWidth: Int, kvHeadStride: Int, heads: Int, kvHeads: Int, headDimension: Int,
        scale: Float, output: UnsafeMutablePointer<Float>
    ) {
        self.init(
            queries, queryStride, rows, start, UnsafeRawPointer(keys), UnsafeRawPointer(values), f16: true, kvWidth,
            kvHeadStride, heads, kvHeads, headDimension, scale, output)
    }

    private init(
        _ q: UnsafePointer<Float>, _ qStride: Int, _ n: Int, _ start: Int, _ keys: UnsafeRawPointer,
        _ values: UnsafeRawPointer, f16: Bool, _ kvWidth: Int, _ kvHeadStride: Int, _ heads: Int, _ kvHeads: Int,
        _ d: Int, _ scale: Float, _ output: UnsafeMutablePointer<Float>
    ) {
        raw = phi_attention_call(
            q: q, q_stride: Int64(qStride), n: Int64(n), start: Int64(start), keys: keys, values: values,
            kv_width: Int64(kvWidth), kv_head_stride: Int64(kvHeadStride), heads: Int32(heads), kv_heads: Int32(kvHeads),
            head_dim: Int32(d), f16: f16 ? 1 : 0, scale: scale, out: output)
    }

    /// Runs it on its own (split over the pool where it pays), at `level` where given (capped at the level in use;
    /// every level gives the same bits).
    public func run(level: KernelLevel? = nil) {
        var call = raw
        phi_attention_run(&call, Int32(level?.rawValue ?? -1))
    }
}
