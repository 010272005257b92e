// phi_ops.h: element-wise work and attention of the forward pass, vectorized (AVX2/FMA with a portable
// fallback) and split across the worker pool where it pays. Every exported symbol starts with `phi_`.
#ifndef PHI_OPS_H
#define PHI_OPS_H

#include <stddef.h>
#include <stdint.h>

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
/// (query, head) pairs on the worker pool.
void phi_attention(const float *q, int64_t q_stride, int64_t n, int64_t start, const float *keys,
                   const float *values, int64_t kv_width, int64_t kv_head_stride, int heads, int kv_heads,
                   int head_dim, float scale, float *out);
/// Same, with an F16 KV cache (`uint16_t` IEEE half bit patterns).
void phi_attention_f16kv(const float *q, int64_t q_stride, int64_t n, int64_t start, const uint16_t *keys,
                         const uint16_t *values, int64_t kv_width, int64_t kv_head_stride, int heads, int kv_heads,
                         int head_dim, float scale, float *out);

#ifdef __cplusplus
}
#endif

#endif
