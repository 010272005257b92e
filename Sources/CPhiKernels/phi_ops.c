// Element-wise activations (gelu_new, SiLU·up) and causal attention over the KV cache: float32, AVX2/FMA paths
// with a portable fallback (same formulas), split across the worker pool.
#include "phi_ops.h"
#include "phi_kernels.h"
#include "phi_quant.h"
#include "phi_quant_internal.h"

#include <math.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__) || defined(__i386__)
#define PHI_X86 1
#include <immintrin.h>
#define T_AVX2 __attribute__((target("avx2,fma,f16c")))
#endif

// MARK: - exp (Cephes-style range reduction + degree-6 polynomial), scalar and AVX2 evaluate the same formula.

static const float EXP_HI = 88.3762626647949f, EXP_LO = -88.3762626647949f;
static const float LOG2E = 1.44269504088896341f, LN2_HI = 0.693359375f, LN2_LO = -2.12194440e-4f;
static const float P0 = 1.9875691500e-4f, P1 = 1.3981999507e-3f, P2 = 8.3334519073e-3f, P3 = 4.1665795894e-2f,
                   P4 = 1.6666665459e-1f, P5 = 5.0000001201e-1f;

static inline float exp_scalar(float x) {
    x = x > EXP_HI ? EXP_HI : x < EXP_LO ? EXP_LO : x;
    const float fx = nearbyintf(x * LOG2E);
    float r = fmaf(-fx, LN2_HI, x);
    r = fmaf(-fx, LN2_LO, r);
    float p = fmaf(P0, r, P1);
    p = fmaf(p, r, P2);
    p = fmaf(p, r, P3);
    p = fmaf(p, r, P4);
    p = fmaf(p, r, P5);
    const float y = fmaf(p, r * r, r + 1.0f);
    return ldexpf(y, (int)fx);
}

#ifdef PHI_X86
T_AVX2 static inline __m256 exp_avx2(__m256 x) {
    x = _mm256_min_ps(_mm256_max_ps(x, _mm256_set1_ps(EXP_LO)), _mm256_set1_ps(EXP_HI));
    const __m256 fx = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(LOG2E)), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m256 r = _mm256_fmadd_ps(_mm256_sub_ps(_mm256_setzero_ps(), fx), _mm256_set1_ps(LN2_HI), x);
    r = _mm256_fmadd_ps(_mm256_sub_ps(_mm256_setzero_ps(), fx), _mm256_set1_ps(LN2_LO), r);
    __m256 p = _mm256_fmadd_ps(_mm256_set1_ps(P0), r, _mm256_set1_ps(P1));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(P2));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(P3));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(P4));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(P5));
    const __m256 y = _mm256_fmadd_ps(p, _mm256_mul_ps(r, r), _mm256_add_ps(r, _mm256_set1_ps(1.0f)));
    // 2^fx: fx in [-127, 128]; split in two factors so fx = -127 / 128 stay finite/normal where the result is.
    const __m256i e = _mm256_cvtps_epi32(fx);
    const __m256i e1 = _mm256_srai_epi32(e, 1), e2 = _mm256_sub_epi32(e, e1);
    const __m256 s1 = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(e1, _mm256_set1_epi32(127)), 23));
    const __m256 s2 = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(e2, _mm256_set1_epi32(127)), 23));
    return _mm256_mul_ps(_mm256_mul_ps(y, s1), s2);
}
#endif

static int use_avx2(void) { return phi_quant_level() >= PHI_LEVEL_AVX2; }

// MARK: - Activations

static const float GELU_C = 0.7978845608028654f, GELU_A = 0.044715f;

static inline float gelu_scalar(float x) {
    const float u = GELU_C * fmaf(GELU_A * x, x * x, x);
    const float t = 1.0f - 2.0f / (exp_scalar(2.0f * u) + 1.0f);  // tanh(u)
    return 0.5f * x * (1.0f + t);
}

#ifdef PHI_X86
T_AVX2 static void gelu_avx2(float *x, int64_t n) {
    const __m256 c = _mm256_set1_ps(GELU_C), a = _mm256_set1_ps(GELU_A), one = _mm256_set1_ps(1.0f),
                 two = _mm256_set1_ps(2.0f), half = _mm256_set1_ps(0.5f);
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        const __m256 v = _mm256_loadu_ps(x + i);
        const __m256 u = _mm256_mul_ps(c, _mm256_fmadd_ps(_mm256_mul_ps(a, v), _mm256_mul_ps(v, v), v));
        const __m256 t = _mm256_sub_ps(one, _mm256_div_ps(two, _mm256_add_ps(exp_avx2(_mm256_mul_ps(two, u)), one)));
        _mm256_storeu_ps(x + i, _mm256_mul_ps(_mm256_mul_ps(half, v), _mm256_add_ps(one, t)));
    }
    for (; i < n; i++) x[i] = gelu_scalar(x[i]);
}

T_AVX2 static void silu_mul_avx2(const float *g, const float *u, float *o, int64_t n) {
    const __m256 one = _mm256_set1_ps(1.0f);
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        const __m256 v = _mm256_loadu_ps(g + i);
        const __m256 s = _mm256_div_ps(v, _mm256_add_ps(one, exp_avx2(_mm256_sub_ps(_mm256_setzero_ps(), v))));
        _mm256_storeu_ps(o + i, _mm256_mul_ps(s, _mm256_loadu_ps(u + i)));
    }
    for (; i < n; i++) o[i] = g[i] / (1.0f + exp_scalar(-g[i])) * u[i];
}
#endif

typedef struct {
    float *x;
    const float *g, *u;
    float *o;
    int64_t n;
    int kind;
    atomic_llong next;
} ew_job;

#define EW_CHUNK 16384

static void ew_task(void *p, int ith, int nth) {
    (void)ith;
    (void)nth;
    ew_job *j = p;
    for (;;) {
        const int64_t b = atomic_fetch_add_explicit(&j->next, EW_CHUNK, memory_order_relaxed);
        if (b >= j->n) break;
        const int64_t e = b + EW_CHUNK < j->n ? b + EW_CHUNK : j->n;
#ifdef PHI_X86
        if (use_avx2()) {
            if (j->kind == 0) gelu_avx2(j->x + b, e - b);
            else silu_mul_avx2(j->g + b, j->u + b, j->o + b, e - b);
            continue;
        }
#endif
        for (int64_t i = b; i < e; i++) {
            if (j->kind == 0) j->x[i] = gelu_scalar(j->x[i]);
            else j->o[i] = j->g[i] / (1.0f + exp_scalar(-j->g[i])) * j->u[i];
        }
    }
}

void phi_internal_gelu_tanh(float *x, int64_t n) {
#ifdef PHI_X86
    if (use_avx2()) {
        gelu_avx2(x, n);
        return;
    }
#endif
    for (int64_t i = 0; i < n; i++) x[i] = gelu_scalar(x[i]);
}

void phi_gelu_tanh(float *x, int64_t n) {
    ew_job j = {.x = x, .n = n, .kind = 0};
    atomic_init(&j.next, 0);
    if (n >= 32768) phi_pool_run(ew_task, &j);
    else ew_task(&j, 0, 1);
}

void phi_silu_mul(const float *gate, const float *up, float *out, int64_t n) {
    ew_job j = {.g = gate, .u = up, .o = out, .n = n, .kind = 1};
    atomic_init(&j.next, 0);
    if (n >= 32768) phi_pool_run(ew_task, &j);
    else ew_task(&j, 0, 1);
}

// MARK: - Attention

typedef struct {
    const float *q;
    int64_t q_stride, n, start;
    const void *keys, *values;
    int64_t kv_width;        // elements from one position to the next
    int64_t kv_head_stride;  // elements from one kv head to the next
    int heads, kv_heads, d, f16;
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

// head_dim a multiple of 8 (at most 128). Same sums, in the same order, as attend_one_scalar's formula vectorized:
// scores, exp against the maximum, weights = exp · (1 / sum), then Σ weight · value per lane in position order.
T_AVX2 static void attend_one_avx2(const attn_job *j, int64_t i, int h, float *scores) {
    const int d = j->d;
    const int64_t pos = j->start + i;
    const float *q = j->q + i * j->q_stride + (int64_t)h * d;
    const int64_t kvoff = (int64_t)(h / (j->heads / j->kv_heads)) * j->kv_head_stride;
    const float maximum = j->f16 ? qk_scores(j, q, kvoff, pos + 1, scores, 1) : qk_scores(j, q, kvoff, pos + 1, scores, 0);
    __m256 vsum = _mm256_setzero_ps();
    const __m256 vmax = _mm256_set1_ps(maximum);
    int64_t p = 0;
    for (; p + 8 <= pos + 1; p += 8) {
        const __m256 e = exp_avx2(_mm256_sub_ps(_mm256_loadu_ps(scores + p), vmax));
        _mm256_storeu_ps(scores + p, e);
        vsum = _mm256_add_ps(vsum, e);
    }
    float sum = hsum8(vsum);
    for (; p <= pos; p++) {
        scores[p] = exp_scalar(scores[p] - maximum);
        sum += scores[p];
    }
    const float inv = 1.0f / sum;
    for (p = 0; p <= pos; p++) scores[p] *= inv;
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
#endif

// Query i, head h through the vector path where the head dimension allows it, else the scalar one.
static void attend_one(const attn_job *j, int64_t i, int h, float *scores) {
#ifdef PHI_X86
    if (use_avx2() && j->d % 8 == 0 && j->d <= 128) {
        attend_one_avx2(j, i, h, scores);
        return;
    }
#endif
    attend_one_scalar(j, i, h, scores);
}

void phi_internal_attention_item(const phi_attention_call *c, int64_t i, int h, float *scores) {
    const attn_job j = {.q = c->q, .q_stride = c->q_stride, .n = c->n, .start = c->start, .keys = c->keys,
                        .values = c->values, .kv_width = c->kv_width, .kv_head_stride = c->kv_head_stride,
                        .heads = c->heads, .kv_heads = c->kv_heads, .d = c->head_dim, .f16 = c->f16,
                        .scale = c->scale, .out = c->out};
    attend_one(&j, i, h, scores);
}

static void attn_task(void *ptr, int ith, int nth) {
    (void)ith;
    (void)nth;
    attn_job *j = ptr;
    const int64_t total = j->n * j->heads;
    float *scores = malloc(sizeof(float) * (size_t)(j->start + j->n + 8));
    if (!scores) return;
    for (;;) {
        const long long item = atomic_fetch_add_explicit(&j->next, 1, memory_order_relaxed);
        if (item >= total) break;
        // Head-major: a thread's next item is most often the same head's next query, whose keys and values (~400 KB
        // for 512 positions) are still in its L2. Query-major order went through every head (a layer's whole cache,
        // megabytes) between two queries of one head. (Results do not depend on the order.)
        const int h = (int)(item / j->n);
        attend_one(j, item % j->n, h, scores);
    }
    free(scores);
}

static void attention(const float *q, int64_t q_stride, int64_t n, int64_t start, const void *keys, const void *values,
                      int64_t kv_width, int64_t kv_head_stride, int heads, int kv_heads, int d, float scale, float *out,
                      int f16) {
    attn_job j;
    j.q = q;
    j.q_stride = q_stride;
    j.n = n;
    j.start = start;
    j.keys = keys;
    j.values = values;
    j.kv_width = kv_width;
    j.kv_head_stride = kv_head_stride;
    j.heads = heads;
    j.kv_heads = kv_heads;
    j.d = d;
    j.f16 = f16;
    j.scale = scale;
    j.out = out;
    atomic_init(&j.next, 0);
    // Work ≈ n · heads · (start + n) · d: below ~8k multiply-adds one thread is faster than a dispatch. (Decode reads
    // the cache from DRAM, not from cache as a warm loop does: with 64k, phi-2 Q4_0 spent 1.9 ms of a token outside
    // the pool's dispatches over its first 64 positions, and with 8k 1.5-1.7 ms.)
    if ((double)n * heads * (double)(start + n) * d >= 8192.0) phi_pool_run(attn_task, &j);
    else attn_task(&j, 0, 1);
}

void phi_attention(const float *q, int64_t q_stride, int64_t n, int64_t start, const float *keys, const float *values,
                   int64_t kv_width, int64_t kv_head_stride, int heads, int kv_heads, int head_dim, float scale,
                   float *out) {
    attention(q, q_stride, n, start, keys, values, kv_width, kv_head_stride, heads, kv_heads, head_dim, scale, out, 0);
}

void phi_attention_f16kv(const float *q, int64_t q_stride, int64_t n, int64_t start, const uint16_t *keys,
                         const uint16_t *values, int64_t kv_width, int64_t kv_head_stride, int heads, int kv_heads,
                         int head_dim, float scale, float *out) {
    attention(q, q_stride, n, start, keys, values, kv_width, kv_head_stride, heads, kv_heads, head_dim, scale, out, 1);
}
