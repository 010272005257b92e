// Causal attention over the KV cache (float32 or float16), float32 arithmetic: an AVX2/FMA path with a portable
// fallback (same formula), split over (query block, head) items on the worker pool.
#include "phi_ops.h"
#include "phi_exp.h"
#include "phi_kernels.h"
#include "phi_quant.h"
#include "phi_quant_internal.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>


// MARK: - Attention

typedef struct {
    const float *q;
    int64_t q_stride, n, start;
    const void *keys, *values;
    int64_t kv_width;        // elements from one position to the next
    int64_t kv_head_stride;  // elements from one kv head to the next
    int heads, kv_heads, d, f16;
    int level;  // kernel level the call runs at (PHI_LEVEL_*)
    float scale;
    float *out;
    atomic_llong next;
} attn_job;

static inline float load_kv(const attn_job *j, const void *base, int64_t idx) {
    return j->f16 ? phi_f16_to_f32(((const uint16_t *)base)[idx]) : ((const float *)base)[idx];
}

static void attend_one_scalar(const attn_job *j, int64_t i, int h, float *scores) {
    const int d = j->d;
    const int64_t pos = j->start + i;
    const float *q = j->q + i * j->q_stride + (int64_t)h * d;
    const int64_t kvoff = (int64_t)(h / (j->heads / j->kv_heads)) * j->kv_head_stride;
    float maximum = -INFINITY;
    for (int64_t p = 0; p <= pos; p++) {
        float dot = 0;
        for (int t = 0; t < d; t++) dot += q[t] * load_kv(j, j->keys, p * j->kv_width + kvoff + t);
        scores[p] = dot * j->scale;
        if (scores[p] > maximum) maximum = scores[p];
    }
    float sum = 0;
    for (int64_t p = 0; p <= pos; p++) {
        scores[p] = exp_scalar(scores[p] - maximum);
        sum += scores[p];
    }
    const float inv = 1.0f / sum;
    float *o = j->out + i * (int64_t)j->heads * d + (int64_t)h * d;
    for (int t = 0; t < d; t++) o[t] = 0;
    for (int64_t p = 0; p <= pos; p++) {
        const float w = scores[p] * inv;
        for (int t = 0; t < d; t++) o[t] += w * load_kv(j, j->values, p * j->kv_width + kvoff + t);
    }
}

#ifdef PHI_X86
T_AVX2 static inline __attribute__((always_inline)) __m256 load8_kv_as(const void *base, int64_t idx, const int f16) {
    if (f16) return _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(const void *)((const uint16_t *)base + idx)));
    return _mm256_loadu_ps((const float *)base + idx);
}

T_AVX2 static inline float hsum8(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

// Scores of `count` positions against q (head_dim d, a multiple of 8), 4 positions at a time so that 4 independent
// FMA chains hide the latency and 4 strided key rows are in flight; the running maximum is returned. Each score
// is summed in the same order as one position alone (8 lanes over d, then hsum8).
T_AVX2 static inline __attribute__((always_inline)) float qk_scores(const attn_job *j, const float *q, int64_t kvoff,
                                                                     int64_t count, float *scores, const int f16) {
    const int d = j->d;
    const int64_t stride = j->kv_width;
    float maximum = -INFINITY;
    int64_t p = 0;
    for (; p + 4 <= count; p += 4) {
        const int64_t b0 = p * stride + kvoff;
        if (p + 8 < count)
            for (int r = 8; r < 12 && p + r < count; r++)
                for (int t = 0; t < d; t += f16 ? 32 : 16)
                    _mm_prefetch((const char *)j->keys + ((p + r) * stride + kvoff + t) * (f16 ? 2 : 4), _MM_HINT_T0);
        __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
        for (int t = 0; t < d; t += 8) {
            const __m256 qv = _mm256_loadu_ps(q + t);
            a0 = _mm256_fmadd_ps(qv, load8_kv_as(j->keys, b0 + t, f16), a0);
            a1 = _mm256_fmadd_ps(qv, load8_kv_as(j->keys, b0 + stride + t, f16), a1);
            a2 = _mm256_fmadd_ps(qv, load8_kv_as(j->keys, b0 + 2 * stride + t, f16), a2);
            a3 = _mm256_fmadd_ps(qv, load8_kv_as(j->keys, b0 + 3 * stride + t, f16), a3);
        }
        const float s0 = hsum8(a0) * j->scale, s1 = hsum8(a1) * j->scale, s2 = hsum8(a2) * j->scale,
                    s3 = hsum8(a3) * j->scale;
        scores[p] = s0;
        scores[p + 1] = s1;
        scores[p + 2] = s2;
        scores[p + 3] = s3;
        maximum = fmaxf(maximum, fmaxf(fmaxf(s0, s1), fmaxf(s2, s3)));
    }
    for (; p < count; p++) {
        const int64_t base = p * stride + kvoff;
        __m256 acc = _mm256_setzero_ps();
        for (int t = 0; t < d; t += 8) acc = _mm256_fmadd_ps(_mm256_loadu_ps(q + t), load8_kv_as(j->keys, base + t, f16), acc);
        const float s = hsum8(acc) * j->scale;
        scores[p] = s;
        if (s > maximum) maximum = s;
    }
    return maximum;
}

// o[0 ..< 8·nv] = Σ_p w[p] · values[p·stride + 0 ..< 8·nv], nv a compile-time constant once inlined, so the
// accumulators stay in registers (a runtime-sized array of them lives on the stack: a load and a store per FMA).
T_AVX2 static inline __attribute__((always_inline)) void weighted_values(const void *values, int64_t stride,
                                                                          const float *w, int64_t count, float *o,
                                                                          const int nv, const int f16) {
    __m256 acc[8];
    for (int v = 0; v < nv; v++) acc[v] = _mm256_setzero_ps();
    for (int64_t p = 0; p < count; p++) {
        if (p + 8 < count)
            for (int v = 0; v < nv; v += f16 ? 4 : 2)
                _mm_prefetch((const char *)values + ((p + 8) * stride + 8 * v) * (f16 ? 2 : 4), _MM_HINT_T0);
        const __m256 wp = _mm256_set1_ps(w[p]);
        const int64_t base = p * stride;
        for (int v = 0; v < nv; v++) acc[v] = _mm256_fmadd_ps(wp, load8_kv_as(values, base + 8 * v, f16), acc[v]);
    }
    for (int v = 0; v < nv; v++) _mm256_storeu_ps(o + 8 * v, acc[v]);
}

#define WEIGHTED_VALUES(NV)                                                                                           \
    T_AVX2 static void weighted_values_##NV(const void *values, int64_t stride, const float *w, int64_t count,       \
                                            float *o, int f16) {                                                      \
        if (f16) weighted_values(values, stride, w, count, o, NV, 1);                                                 \
        else weighted_values(values, stride, w, count, o, NV, 0);                                                     \
    }
WEIGHTED_VALUES(8)
WEIGHTED_VALUES(4)
WEIGHTED_VALUES(2)
WEIGHTED_VALUES(1)

// exp(score − maximum) over a query's scores, then each times 1 / their sum: its softmax weights, in place.
T_AVX2 static inline __attribute__((always_inline)) void softmax_in_place(float *scores, int64_t count, float maximum) {
    __m256 vsum = _mm256_setzero_ps();
    const __m256 vmax = _mm256_set1_ps(maximum);
    int64_t p = 0;
    for (; p + 8 <= count; p += 8) {
        const __m256 e = exp_avx2(_mm256_sub_ps(_mm256_loadu_ps(scores + p), vmax));
        _mm256_storeu_ps(scores + p, e);
        vsum = _mm256_add_ps(vsum, e);
    }
    float sum = hsum8(vsum);
    for (; p < count; p++) {
        scores[p] = exp_scalar(scores[p] - maximum);
        sum += scores[p];
    }
    const float inv = 1.0f / sum;
    for (p = 0; p < count; p++) scores[p] *= inv;
}

// head_dim a multiple of 8 (at most 128). Same sums, in the same order, as attend_one_scalar's formula vectorized:
// scores, exp against the maximum, weights = exp · (1 / sum), then Σ weight · value per lane in position order.
T_AVX2 static void attend_one_avx2(const attn_job *j, int64_t i, int h, float *scores) {
    const int d = j->d;
    const int64_t pos = j->start + i;
    const float *q = j->q + i * j->q_stride + (int64_t)h * d;
    const int64_t kvoff = (int64_t)(h / (j->heads / j->kv_heads)) * j->kv_head_stride;
    const float maximum = j->f16 ? qk_scores(j, q, kvoff, pos + 1, scores, 1) : qk_scores(j, q, kvoff, pos + 1, scores, 0);
    softmax_in_place(scores, pos + 1, maximum);
    float *o = j->out + i * (int64_t)j->heads * d + (int64_t)h * d;
    const size_t unit = j->f16 ? 2 : 4;
    const uint8_t *values = (const uint8_t *)j->values + (size_t)kvoff * unit;
    int v = 0;
    for (; v + 8 <= d / 8; v += 8) weighted_values_8(values + (size_t)v * 8 * unit, j->kv_width, scores, pos + 1, o + 8 * v, j->f16);
    if (v + 4 <= d / 8) {
        weighted_values_4(values + (size_t)v * 8 * unit, j->kv_width, scores, pos + 1, o + 8 * v, j->f16);
        v += 4;
    }
    if (v + 2 <= d / 8) {
        weighted_values_2(values + (size_t)v * 8 * unit, j->kv_width, scores, pos + 1, o + 8 * v, j->f16);
        v += 2;
    }
    if (v < d / 8) weighted_values_1(values + (size_t)v * 8 * unit, j->kv_width, scores, pos + 1, o + 8 * v, j->f16);
}

// MARK: Four queries at a time (prefill)

// Four consecutive queries of one head attend over the same positions up to the first one's, and over 1, 2 and 3
// more: each key and value row loaded serves all four. One query alone streams its head's whole cache once per query,
// from L3 once that no longer fits in L2 (phi-2's keys and values are 1.3 MB a head at 2,048 positions). Every score
// and every output lane is the same chain of operations, in the same order, as attend_one_avx2's: the same bits.
enum { BLOCK_QUERIES = 4 };

// hsum8 of a0 … a7 at once, in order: the same tree (lane i + lane i + 4, then pairs, then the last two), so the same
// bits, in 22 instructions instead of 40.
T_AVX2 static inline __attribute__((always_inline)) __m256 hsum8x8(__m256 a0, __m256 a1, __m256 a2, __m256 a3,
                                                                   __m256 a4, __m256 a5, __m256 a6, __m256 a7) {
    // [lo(ar) + hi(ar) | lo(as) + hi(as)]
    const __m256 t01 = _mm256_add_ps(_mm256_permute2f128_ps(a0, a1, 0x20), _mm256_permute2f128_ps(a0, a1, 0x31));
    const __m256 t23 = _mm256_add_ps(_mm256_permute2f128_ps(a2, a3, 0x20), _mm256_permute2f128_ps(a2, a3, 0x31));
    const __m256 t45 = _mm256_add_ps(_mm256_permute2f128_ps(a4, a5, 0x20), _mm256_permute2f128_ps(a4, a5, 0x31));
    const __m256 t67 = _mm256_add_ps(_mm256_permute2f128_ps(a6, a7, 0x20), _mm256_permute2f128_ps(a6, a7, 0x31));
    // lanes 0 + 2 and 1 + 3 of each: [y0, y2 | y1, y3] pairs
    const __m256 u0 = _mm256_add_ps(_mm256_shuffle_ps(t01, t23, 0x44), _mm256_shuffle_ps(t01, t23, 0xEE));
    const __m256 u1 = _mm256_add_ps(_mm256_shuffle_ps(t45, t67, 0x44), _mm256_shuffle_ps(t45, t67, 0xEE));
    // the two halves of each pair: [z0, z2, z4, z6 | z1, z3, z5, z7]
    const __m256 z = _mm256_add_ps(_mm256_shuffle_ps(u0, u1, 0x88), _mm256_shuffle_ps(u0, u1, 0xDD));
    return _mm256_permutevar8x32_ps(z, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
}

// Scores of the four queries (q + k·q_stride) against positions [p0, p1), np positions at a time; maxima updated.
T_AVX2 static inline __attribute__((always_inline)) int64_t qk_block_run(const attn_job *j, const float *q,
                                                                         int64_t kvoff, int64_t p0, int64_t p1,
                                                                         float *const *scores, float *maxima,
                                                                         const int np, const int f16) {
    const int d = j->d;
    const int64_t stride = j->kv_width, qs = j->q_stride;
    __m256 pair_max[BLOCK_QUERIES / 2];  // np = 4: queries k and k + 1's running maxima, 4 lanes each
    for (int k = 0; k < BLOCK_QUERIES / 2; k++) pair_max[k] = _mm256_set1_ps(-INFINITY);
    int64_t p = p0;
    for (; p + np <= p1; p += np) {
        const int64_t b0 = p * stride + kvoff;
        if (p + 2 * np < p1)
            for (int r = 0; r < np; r++)
                for (int t = 0; t < d; t += f16 ? 32 : 16)
                    _mm_prefetch((const char *)j->keys + ((p + 2 * np + r) * stride + kvoff + t) * (f16 ? 2 : 4), _MM_HINT_T0);
        __m256 a[BLOCK_QUERIES][4];
        for (int k = 0; k < BLOCK_QUERIES; k++)
            for (int r = 0; r < np; r++) a[k][r] = _mm256_setzero_ps();
        for (int t = 0; t < d; t += 8) {
            __m256 kv[4];
            for (int r = 0; r < np; r++) kv[r] = load8_kv_as(j->keys, b0 + r * stride + t, f16);
            for (int k = 0; k < BLOCK_QUERIES; k++) {
                const __m256 qv = _mm256_loadu_ps(q + k * qs + t);
                for (int r = 0; r < np; r++) a[k][r] = _mm256_fmadd_ps(qv, kv[r], a[k][r]);
            }
        }
        if (np == 4) {
            // Queries k and k + 1's 4 scores each from one transposed reduction (hsum8's tree for 8 sums at once).
            const __m256 scale = _mm256_set1_ps(j->scale);
            for (int k = 0; k < BLOCK_QUERIES; k += 2) {
                const __m256 s = _mm256_mul_ps(hsum8x8(a[k][0], a[k][1], a[k][2], a[k][3], a[k + 1][0], a[k + 1][1],
                                                       a[k + 1][2], a[k + 1][3]),
                                               scale);
                _mm_storeu_ps(scores[k] + p, _mm256_castps256_ps128(s));
                _mm_storeu_ps(scores[k + 1] + p, _mm256_extractf128_ps(s, 1));
                pair_max[k / 2] = _mm256_max_ps(pair_max[k / 2], s);
            }
            continue;
        }
        for (int k = 0; k < BLOCK_QUERIES; k++)
            for (int r = 0; r < np; r++) {
                const float s = hsum8(a[k][r]) * j->scale;
                scores[k][p + r] = s;
                maxima[k] = fmaxf(maxima[k], s);
            }
    }
    if (np == 4)
        for (int k = 0; k < BLOCK_QUERIES; k++) {
            float lanes[8];
            _mm256_storeu_ps(lanes, pair_max[k / 2]);
            const float *m = lanes + 4 * (k % 2);
            maxima[k] = fmaxf(maxima[k], fmaxf(fmaxf(m[0], m[1]), fmaxf(m[2], m[3])));
        }
    return p;
}

// Query k's scores over positions [p0, p1) alone (its positions past the block's common ones).
T_AVX2 static inline __attribute__((always_inline)) void qk_one_run(const attn_job *j, const float *q, int64_t kvoff,
                                                                    int64_t p0, int64_t p1, float *scores,
                                                                    float *maximum, const int f16) {
    for (int64_t p = p0; p < p1; p++) {
        const int64_t base = p * j->kv_width + kvoff;
        __m256 acc = _mm256_setzero_ps();
        for (int t = 0; t < j->d; t += 8) acc = _mm256_fmadd_ps(_mm256_loadu_ps(q + t), load8_kv_as(j->keys, base + t, f16), acc);
        const float s = hsum8(acc) * j->scale;
        scores[p] = s;
        *maximum = fmaxf(*maximum, s);
    }
}

// o[k][0 ..< 8·nv] = Σ_p w[k][p] · values[p·stride + 0 ..< 8·nv] for query k over positions [0, common + k).
T_AVX2 static inline __attribute__((always_inline)) void weighted_values_block(const void *values, int64_t stride,
                                                                               float *const *w, int64_t common,
                                                                               float *const *o, const int nv,
                                                                               const int f16) {
    __m256 acc[BLOCK_QUERIES][4];
    for (int k = 0; k < BLOCK_QUERIES; k++)
        for (int v = 0; v < nv; v++) acc[k][v] = _mm256_setzero_ps();
    for (int64_t p = 0; p < common; p++) {
        if (p + 8 < common)
            for (int v = 0; v < nv; v += f16 ? 4 : 2)
                _mm_prefetch((const char *)values + ((p + 8) * stride + 8 * v) * (f16 ? 2 : 4), _MM_HINT_T0);
        __m256 vv[4];
        for (int v = 0; v < nv; v++) vv[v] = load8_kv_as(values, p * stride + 8 * v, f16);
        for (int k = 0; k < BLOCK_QUERIES; k++) {
            const __m256 wp = _mm256_set1_ps(w[k][p]);
            for (int v = 0; v < nv; v++) acc[k][v] = _mm256_fmadd_ps(wp, vv[v], acc[k][v]);
        }
    }
    for (int k = 1; k < BLOCK_QUERIES; k++)
        for (int64_t p = common; p < common + k; p++) {
            const __m256 wp = _mm256_set1_ps(w[k][p]);
            for (int v = 0; v < nv; v++) acc[k][v] = _mm256_fmadd_ps(wp, load8_kv_as(values, p * stride + 8 * v, f16), acc[k][v]);
        }
    for (int k = 0; k < BLOCK_QUERIES; k++)
        for (int v = 0; v < nv; v++) _mm256_storeu_ps(o[k] + 8 * v, acc[k][v]);
}

// Queries i0 ..< i0 + 4 of head h; `scores`: four buffers of start + n floats. `np` key rows per score tile and `nv`
// value vectors per pass are what 16 registers (AVX2) or 32 (the same instructions with AVX-512VL's encodings) hold.
T_AVX2 static inline __attribute__((always_inline)) void attend_block(const attn_job *j, int64_t i0, int h,
                                                                      float *const *scores, const int np, const int nv,
                                                                      const int f16) {
    const int d = j->d;
    const int64_t common = j->start + i0 + 1;  // positions every query of the block attends over
    const float *q = j->q + i0 * j->q_stride + (int64_t)h * d;
    const int64_t kvoff = (int64_t)(h / (j->heads / j->kv_heads)) * j->kv_head_stride;
    float maxima[BLOCK_QUERIES] = {-INFINITY, -INFINITY, -INFINITY, -INFINITY};
    const int64_t tiled = qk_block_run(j, q, kvoff, 0, common, scores, maxima, np, f16);
    qk_block_run(j, q, kvoff, tiled, common, scores, maxima, 1, f16);
    float *o[BLOCK_QUERIES];
    for (int k = 0; k < BLOCK_QUERIES; k++) {
        qk_one_run(j, q + k * j->q_stride, kvoff, common, common + k, scores[k], &maxima[k], f16);
        softmax_in_place(scores[k], common + k, maxima[k]);
        o[k] = j->out + (i0 + k) * (int64_t)j->heads * d + (int64_t)h * d;
    }
    const size_t unit = f16 ? 2 : 4;
    const uint8_t *values = (const uint8_t *)j->values + (size_t)kvoff * unit;
    for (int v = 0; v < d / 8;) {
        const int take = d / 8 - v < nv ? d / 8 - v : nv;
        float *ov[BLOCK_QUERIES] = {o[0] + 8 * v, o[1] + 8 * v, o[2] + 8 * v, o[3] + 8 * v};
        const uint8_t *vb = values + (size_t)v * 8 * unit;
        switch (take) {
        case 4: weighted_values_block(vb, j->kv_width, scores, common, ov, 4, f16); break;
        case 3: weighted_values_block(vb, j->kv_width, scores, common, ov, 3, f16); break;
        case 2: weighted_values_block(vb, j->kv_width, scores, common, ov, 2, f16); break;
        default: weighted_values_block(vb, j->kv_width, scores, common, ov, 1, f16); break;
        }
        v += take;
    }
}

T_AVX2 static void attend_block_avx2(const attn_job *j, int64_t i0, int h, float *const *scores) {
    if (j->f16) attend_block(j, i0, h, scores, 2, 2, 1);
    else attend_block(j, i0, h, scores, 2, 2, 0);
}

__attribute__((target("avx2,fma,f16c,avx512f,avx512vl"))) static void attend_block_avx512(const attn_job *j, int64_t i0,
                                                                                         int h, float *const *scores) {
    if (j->f16) attend_block(j, i0, h, scores, 4, 4, 1);
    else attend_block(j, i0, h, scores, 4, 4, 0);
}
#endif

// Query i, head h through the vector path where the head dimension allows it, else the scalar one.
static void attend_one(const attn_job *j, int64_t i, int h, float *scores) {
#ifdef PHI_X86
    if (j->level >= PHI_LEVEL_AVX2 && j->d % 8 == 0 && j->d <= 128) {
        attend_one_avx2(j, i, h, scores);
        return;
    }
#endif
    attend_one_scalar(j, i, h, scores);
}

static inline void job_of_call(attn_job *j, const phi_attention_call *c, int level) {
    j->q = c->q;
    j->q_stride = c->q_stride;
    j->n = c->n;
    j->start = c->start;
    j->keys = c->keys;
    j->values = c->values;
    j->kv_width = c->kv_width;
    j->kv_head_stride = c->kv_head_stride;
    j->heads = c->heads;
    j->kv_heads = c->kv_heads;
    j->d = c->head_dim;
    j->f16 = c->f16;
    j->scale = c->scale;
    j->out = c->out;
    j->level = level;
    atomic_init(&j->next, 0);
}

static inline int64_t blocks_of(const attn_job *j) { return (j->n + BLOCK_QUERIES - 1) / BLOCK_QUERIES; }

// Item = (head, block of 4 queries), head-major: a thread's next item is most often the same head's next block,
// whose keys and values are still in its L2. Query-major order went through every head (a layer's whole cache,
// megabytes) between two queries of one head. (Results do not depend on the order.) A block short of 4 queries
// (the last one, or decode's single query) runs its queries one at a time.
static void attend_item(const attn_job *j, int64_t item, float *scores) {
    const int64_t blocks = blocks_of(j);
    const int h = (int)(item / blocks);
    const int64_t i0 = item % blocks * BLOCK_QUERIES, count = j->n - i0 < BLOCK_QUERIES ? j->n - i0 : BLOCK_QUERIES;
#ifdef PHI_X86
    if (count == BLOCK_QUERIES && j->level >= PHI_LEVEL_AVX2 && j->d % 8 == 0 && j->d <= 128) {
        const int64_t stride = j->start + j->n + 8;
        float *const buffers[BLOCK_QUERIES] = {scores, scores + stride, scores + 2 * stride, scores + 3 * stride};
        if (j->level >= PHI_LEVEL_AVX512) attend_block_avx512(j, i0, h, buffers);
        else attend_block_avx2(j, i0, h, buffers);
        return;
    }
#endif
    for (int64_t i = i0; i < i0 + count; i++) attend_one(j, i, h, scores);
}

int64_t phi_internal_attention_items(const phi_attention_call *c) {
    return (c->n + BLOCK_QUERIES - 1) / BLOCK_QUERIES * c->heads;
}

int64_t phi_internal_attention_scores(const phi_attention_call *c) {
    return BLOCK_QUERIES * (c->start + c->n + 8);
}

void phi_internal_attention_item(const phi_attention_call *c, int64_t item, float *scores) {
    attn_job j;
    job_of_call(&j, c, phi_quant_level());
    attend_item(&j, item, scores);
}

static void attn_task(void *ptr, int ith, int nth) {
    (void)ith;
    (void)nth;
    attn_job *j = ptr;
    const int64_t total = blocks_of(j) * j->heads;
    float *scores = malloc(sizeof(float) * (size_t)(BLOCK_QUERIES * (j->start + j->n + 8)));
    if (!scores) {
        fprintf(stderr, "phi: out of memory for attention scores\n");
        abort();
    }
    for (;;) {
        const long long item = atomic_fetch_add_explicit(&j->next, 1, memory_order_relaxed);
        if (item >= total) break;
        attend_item(j, item, scores);
    }
    free(scores);
}

void phi_attention_run(const phi_attention_call *c, int level) {
    const int current = phi_quant_level();
    attn_job j;
    job_of_call(&j, c, level < 0 || level > current ? current : level);
    // Work ≈ n · heads · (start + n) · d: below ~8k multiply-adds one thread is faster than a dispatch. (Decode reads
    // the cache from DRAM, not from cache as a warm loop does: with 64k, phi-2 Q4_0 spent 1.9 ms of a token outside
    // the pool's dispatches over its first 64 positions, and with 8k 1.5-1.7 ms.)
    if ((double)c->n * c->heads * (double)(c->start + c->n) * c->head_dim >= 8192.0) phi_pool_run(attn_task, &j);
    else attn_task(&j, 0, 1);
}

void phi_attention(const float *q, int64_t q_stride, int64_t n, int64_t start, const float *keys, const float *values,
                   int64_t kv_width, int64_t kv_head_stride, int heads, int kv_heads, int head_dim, float scale,
                   float *out) {
    const phi_attention_call c = {.q = q, .q_stride = q_stride, .n = n, .start = start, .keys = keys, .values = values,
                                  .kv_width = kv_width, .kv_head_stride = kv_head_stride, .heads = heads,
                                  .kv_heads = kv_heads, .head_dim = head_dim, .f16 = 0, .scale = scale, .out = out};
    phi_attention_run(&c, -1);
}

void phi_attention_f16kv(const float *q, int64_t q_stride, int64_t n, int64_t start, const uint16_t *keys,
                         const uint16_t *values, int64_t kv_width, int64_t kv_head_stride, int heads, int kv_heads,
                         int head_dim, float scale, float *out) {
    const phi_attention_call c = {.q = q, .q_stride = q_stride, .n = n, .start = start, .keys = keys, .values = values,
                                  .kv_width = kv_width, .kv_head_stride = kv_head_stride, .heads = heads,
                                  .kv_heads = kv_heads, .head_dim = head_dim, .f16 = 1, .scale = scale, .out = out};
    phi_attention_run(&c, -1);
}
