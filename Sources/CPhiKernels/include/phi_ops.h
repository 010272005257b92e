// phi_ops.h: element-wise work and attention of the forward pass, vectorized (AVX2/FMA with a portable
// fallback) and split across the worker pool where it pays. Every exported symbol starts with `phi_`.
#ifndef PHI_OPS_H
#define PHI_OPS_H

#include <stddef.h>
#include <stdint.h>

#include "phi_quant.h"

#ifdef __cplusplus
extern "C" {
#endif

/// In place `0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³)))` (gelu_new), float32 with a polynomial exp
/// (|error| ≲ 2e-7 · |x| against the double-precision formula).
void phi_gelu_tanh(float *x, int64_t n);
/// `out[i] = silu(gate[i]) * up[i]` (Phi-3 MLP), float32 polynomial exp.
void phi_silu_mul(const float *gate, const float *up, float *out, int64_t n);

/// Causal attention over a float32 KV cache whose element (position p, kv head g, t) is at
/// `p·kv_width + g·kv_head_stride + t` (`[position][kvHead][headDim]`: kv_width = kvHeads·headDim, kv_head_stride =
/// headDim; `[kvHead][position][headDim]`: kv_width = headDim, kv_head_stride = positions·headDim): for queries
/// `i` in [0, n) at positions `start + i` (rows `q_stride` apart, heads contiguous),
/// `out[i][h] = softmax(q·kᵀ·scale over 0...start+i) · v`, grouped-query heads sharing K/V. Work split over
/// (head, block of 4 queries) items on the worker pool.
void phi_attention(const float *q, int64_t q_stride, int64_t n, int64_t start, const float *keys,
                   const float *values, int64_t kv_width, int64_t kv_head_stride, int heads, int kv_heads,
                   int head_dim, float scale, float *out);
/// Same, with an F16 KV cache (`uint16_t` IEEE half bit patterns).
void phi_attention_f16kv(const float *q, int64_t q_stride, int64_t n, int64_t start, const uint16_t *keys,
                         const uint16_t *values, int64_t kv_width, int64_t kv_head_stride, int heads, int kv_heads,
                         int head_dim, float scale, float *out);

/// One sequence's `phi_attention` (or, with `f16`, `phi_attention_f16kv`) as a value: for
/// `phi_x8_matmul_many_after_attention`.
typedef struct {
    const float *q;
    int64_t q_stride, n, start;
    const void *keys, *values;  // float, or IEEE half bit patterns with `f16`
    int64_t kv_width, kv_head_stride;
    int32_t heads, kv_heads, head_dim, f16;
    float scale;
    float *out;
} phi_attention_call;

/// Runs one call at `level` (a `PHI_LEVEL_*`; higher than the current level, or negative: the current level). Every
/// level gives the same bits on a float32 or float16 cache.
void phi_attention_run(const phi_attention_call *c, int level);

/// The attention calls, then `phi_x8_matmul_many(products, count, n)`, in one dispatch of the pool: the workers start
/// on products [0, deferred) while the caller computes the attention (any thread that runs out of those products
/// helps); the products from `deferred` on read what the attention writes, so their inputs are quantized once it is
/// all done. Every result is bit for bit what the calls one after the other give. Phi-2's attention and MLP read
/// the same normed input: its attention overlaps fc2's stream, and its output projection comes last.
int phi_x8_matmul_many_after_attention(const phi_x8_product *products, int count, int64_t n, int deferred,
                                       const phi_attention_call *calls, int call_count);

#ifdef __cplusplus
}
#endif

#endif
