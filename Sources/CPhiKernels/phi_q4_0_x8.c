// phi_q4_0_x8.c: Q4_0 weights re-laid out once, at load, in groups of 8 rows, and the products over that layout.
//
// Why: in the file's layout a row's block is 2 bytes of scale + 16 bytes of nibbles, so an AVX2 kernel spends
// about 14 instructions per 32 multiply-adds (unpack, scale conversion and broadcast, float widening and fma per
// row and block). Interleaving 8 rows puts 4 quants of each row in one 32-bit lane: one `maddubs` against 4
// broadcast activation bytes does 32 multiply-adds for 8 rows at once, the 8 scales convert with one `vcvtph2ps`,
// and the float step is one fma per (8 rows, block). Same bytes (144 per 8 rows and block), about 3× fewer
// instructions: decode becomes bound by memory instead of by the core.
//
// Layout: group g (rows 8g..8g+7), block b at byte (g·nb + b)·144: 8 fp16 scales (row order), then 4 vectors of 32
// bytes; byte 4r+i of vector j is byte 4j+i of row r's nibbles, so its low nibble is quant 4j+i and its high
// nibble quant 16+4j+i.
//
// Result of (row r, token t): Σ_b fma-accumulated in block order of float(Σ_i u_ri·y_ti − 8·Σ_i y_ti) · (d_r · d_t),
// the integer sum exact. The AVX2 and scalar paths compute exactly that, so they agree bit for bit; it differs from
// the file-layout kernels (which widen 8 partial sums per block) only in float rounding.
#include "phi_quant.h"
#include "phi_kernels.h"
#include "phi_quant_internal.h"

#include <math.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#define QK 32
#define GROUP_BLOCK 144
#define ACT32_BLOCK 64

size_t phi_q4_0_x8_size(int64_t m, int64_t k) {
    if (m <= 0 || k <= 0 || m % 8 != 0 || k % QK != 0) return 0;
    return (size_t)(m / 8) * (size_t)(k / QK) * GROUP_BLOCK;
}

int phi_q4_0_pack_x8(const void *w, size_t wrb, int64_t m, int64_t k, void *dst) {
    if (phi_q4_0_x8_size(m, k) == 0 || wrb < (size_t)(k / QK) * 18) return PHI_ERR_BAD_COUNT;
    const int64_t nb = k / QK;
    const uint8_t *W = w;
    uint8_t *P = dst;
    for (int64_t g = 0; g < m / 8; g++) {
        for (int64_t b = 0; b < nb; b++) {
            uint8_t *p = P + (size_t)(g * nb + b) * GROUP_BLOCK;
            for (int r = 0; r < 8; r++) {
                const uint8_t *x = W + (size_t)(8 * g + r) * wrb + (size_t)b * 18;
                memcpy(p + 2 * r, x, 2);
                for (int j = 0; j < 4; j++) memcpy(p + 16 + 32 * j + 4 * r, x + 2 + 4 * j, 4);
            }
        }
    }
    return PHI_OK;
}

// The prepared activation row (phi_quantize_act_row for Q4_0): quants, then per-group corrections, then the fp16-
// rounded scales at nb·64, sums, and the block corrections −8·Σy at nb·64 + 8·nb.
static inline const float *act_scales(const uint8_t *act, int64_t nb) {
    return (const float *)(const void *)(act + nb * ACT32_BLOCK);
}
static inline const int32_t *act_corrections(const uint8_t *act, int64_t nb) {
    return (const int32_t *)(const void *)(act_scales(act, nb) + 2 * nb);
}

static void tile_scalar(const uint8_t *group, const uint8_t *act, int64_t nb, float out[8]) {
    const float *ds = act_scales(act, nb);
    const int32_t *cs = act_corrections(act, nb);
    float acc[8] = {0};
    for (int64_t b = 0; b < nb; b++) {
        const uint8_t *p = group + (size_t)b * GROUP_BLOCK;
        const int8_t *y = (const int8_t *)(act + b * QK);
        for (int r = 0; r < 8; r++) {
            int32_t s = cs[b];
            for (int j = 0; j < 4; j++)
                for (int i = 0; i < 4; i++) {
                    const uint8_t byte = p[16 + 32 * j + 4 * r + i];
                    s += (byte & 15) * y[4 * j + i] + (byte >> 4) * y[16 + 4 * j + i];
                }
            uint16_t h;
            memcpy(&h, p + 2 * r, 2);
            acc[r] = fmaf(phi_f16_to_f32(h) * ds[b], (float)s, acc[r]);
        }
    }
    memcpy(out, acc, sizeof acc);
}

#if defined(__x86_64__) || defined(__i386__)
#define X8_AVX2 1
#include <immintrin.h>
#define T_AVX2 __attribute__((target("avx2,fma,f16c")))

// 8 rows × T tokens; each token's integers and float steps are the same whatever T is (and as `tile_scalar`).
#define X8_TILE_AVX2(NAME, T)                                                                                      \
    T_AVX2 static void NAME(const uint8_t *group, const uint8_t *const *act, int64_t nb, float *out) {              \
        const __m256i low = _mm256_set1_epi8(15), ones = _mm256_set1_epi16(1);                                       \
        const float *ds[T];                                                                                          \
        const int32_t *cs[T];                                                                                        \
        __m256 acc[T];                                                                                               \
        for (int t = 0; t < T; t++) {                                                                                \
            ds[t] = act_scales(act[t], nb);                                                                          \
            cs[t] = act_corrections(act[t], nb);                                                                     \
            acc[t] = _mm256_setzero_ps();                                                                            \
        }                                                                                                            \
        for (int64_t b = 0; b < nb; b++) {                                                                           \
            const uint8_t *p = group + (size_t)b * GROUP_BLOCK;                                                      \
            /* the next 8 blocks' worth ahead: the hardware prefetcher alone left ~15% on the table */               \
            _mm_prefetch((const char *)(p + 8 * GROUP_BLOCK), _MM_HINT_T0);                                          \
            _mm_prefetch((const char *)(p + 8 * GROUP_BLOCK + 64), _MM_HINT_T0);                                     \
            _mm_prefetch((const char *)(p + 8 * GROUP_BLOCK + 128), _MM_HINT_T0);                                    \
            /* vector j's quants once for all T tokens; token t's int16 sums add j = 0..7 in order */               \
            __m256i s16[T];                                                                                          \
            for (int j = 0; j < 8; j++) {                                                                            \
                const __m256i v = _mm256_loadu_si256((const __m256i *)(const void *)(p + 16 + 32 * (j & 3)));        \
                const __m256i u = _mm256_and_si256(j < 4 ? v : _mm256_srli_epi16(v, 4), low);                       \
                for (int t = 0; t < T; t++) {                                                                        \
                    int32_t y4;                                                                                      \
                    memcpy(&y4, act[t] + b * QK + 4 * j, 4);                                                         \
                    const __m256i prod = _mm256_maddubs_epi16(u, _mm256_set1_epi32(y4));                             \
                    s16[t] = j == 0 ? prod : _mm256_add_epi16(s16[t], prod);                                         \
                }                                                                                                    \
            }                                                                                                        \
            const __m256 dw = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(const void *)p));                    \
            for (int t = 0; t < T; t++) {                                                                            \
                const __m256i s = _mm256_add_epi32(_mm256_madd_epi16(s16[t], ones), _mm256_set1_epi32(cs[t][b]));    \
                acc[t] = _mm256_fmadd_ps(_mm256_mul_ps(dw, _mm256_broadcast_ss(ds[t] + b)), _mm256_cvtepi32_ps(s),    \
                                         acc[t]);                                                                    \
            }                                                                                                        \
        }                                                                                                            \
        for (int t = 0; t < T; t++) _mm256_storeu_ps(out + 8 * t, acc[t]);                                           \
    }

// u ≤ 15 and |y| ≤ 127: a pair sum is at most 3,810 and the 8 added in int16 at most 30,480 (no saturation).
X8_TILE_AVX2(tile_avx2_1, 1)
X8_TILE_AVX2(tile_avx2_4, 4)

// Prefill: a group's nibbles unpacked to bytes once (`rep`, the layout of phi_quant.c's per-call repack, here without
// its transpose) and its scales widened, then 4 tokens at a time through phi_quant.c's repacked tile, which sums the
// same integers with the same float steps as the tiles above (measured: ~12% faster than unpacking per 4 tokens).
T_AVX2 static void unpack_group(const uint8_t *group, int64_t nb, __m256i *rep, float *dws) {
    const __m256i low = _mm256_set1_epi8(15);
    for (int64_t b = 0; b < nb; b++) {
        const uint8_t *p = group + (size_t)b * GROUP_BLOCK;
        for (int j = 0; j < 4; j++) {
            const __m256i v = _mm256_loadu_si256((const __m256i *)(const void *)(p + 16 + 32 * j));
            _mm256_store_si256(rep + 8 * b + j, _mm256_and_si256(v, low));
            _mm256_store_si256(rep + 8 * b + 4 + j, _mm256_and_si256(_mm256_srli_epi16(v, 4), low));
        }
        _mm256_storeu_ps(dws + 8 * b, _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(const void *)p)));
    }
}
#endif

enum { PREFILL_TOKENS = 8 };  // from this many tokens on, groups are unpacked once per call

// Rows of groups [g0, g1) × tokens [0, n) at `level`.
static void x8_range(int level, const uint8_t *P, int64_t nb, const uint8_t *A, size_t arb, int64_t n,
                     const float *bias, float *y, int64_t m, int64_t g0, int64_t g1) {
#ifdef X8_AVX2
    __m256i *rep = NULL;
    float *dws = NULL;
    if (level >= PHI_LEVEL_AVX2 && n >= PREFILL_TOKENS) {
        rep = aligned_alloc(64, (size_t)nb * 8 * sizeof(__m256i));
        dws = aligned_alloc(64, (size_t)nb * 8 * sizeof(float));
    }
#endif
    for (int64_t g = g0; g < g1; g++) {
        const uint8_t *group = P + (size_t)g * nb * GROUP_BLOCK;
        float out[32];
        int64_t t = 0;
#ifdef X8_AVX2
        if (rep && dws) {
            unpack_group(group, nb, rep, dws);
            for (; t < n;) {
                const int tokens = n - t >= 4 ? 4 : 1;
                const uint8_t *at[4] = {A + t * arb, NULL, NULL, NULL};
                for (int i = 1; i < tokens; i++) at[i] = A + (t + i) * arb;
                phi_internal_repacked_q4_0_avx2(rep, dws, at, nb, tokens, out);
                for (int i = 0; i < tokens; i++)
                    for (int r = 0; r < 8; r++) y[(t + i) * m + 8 * g + r] = out[8 * i + r] + (bias ? bias[8 * g + r] : 0.0f);
                t += tokens;
            }
        } else if (level >= PHI_LEVEL_AVX2) {
            for (; t + 4 <= n; t += 4) {
                const uint8_t *at[4] = {A + t * arb, A + (t + 1) * arb, A + (t + 2) * arb, A + (t + 3) * arb};
                tile_avx2_4(group, at, nb, out);
                for (int i = 0; i < 4; i++)
                    for (int r = 0; r < 8; r++) y[(t + i) * m + 8 * g + r] = out[8 * i + r] + (bias ? bias[8 * g + r] : 0.0f);
            }
            for (; t < n; t++) {
                const uint8_t *at[1] = {A + t * arb};
                tile_avx2_1(group, at, nb, out);
                for (int r = 0; r < 8; r++) y[t * m + 8 * g + r] = out[r] + (bias ? bias[8 * g + r] : 0.0f);
            }
        }
#else
        (void)level;
#endif
        for (; t < n; t++) {
            tile_scalar(group, A + t * arb, nb, out);
            for (int r = 0; r < 8; r++) y[t * m + 8 * g + r] = out[r] + (bias ? bias[8 * g + r] : 0.0f);
        }
    }
#ifdef X8_AVX2
    free(rep);
    free(dws);
#endif
}

typedef struct {
    int level;
    const uint8_t *packed;
    int64_t m, k, n, nb;
    const float *x;
    const float *bias;
    float *y;
    uint8_t *act;
    size_t arb;
    int64_t groups_per_chunk, chunks;
    atomic_llong next;
    atomic_llong next_token;
} x8_job;

static void x8_quantize_task(void *p, int ith, int nth) {
    (void)ith;
    (void)nth;
    x8_job *j = p;
    for (;;) {
        const int64_t t0 = atomic_fetch_add_explicit(&j->next_token, 8, memory_order_relaxed);
        if (t0 >= j->n) break;
        for (int64_t t = t0; t < t0 + 8 && t < j->n; t++)
            phi_quantize_act_row(PHI_TYPE_Q4_0, j->x + t * j->k, j->act + (size_t)t * j->arb, j->k);
    }
}

static void x8_matmul_task(void *p, int ith, int nth) {
    (void)ith;
    (void)nth;
    x8_job *j = p;
    const int64_t groups = j->m / 8;
    for (;;) {
        const long long c = atomic_fetch_add_explicit(&j->next, 1, memory_order_relaxed);
        if (c >= j->chunks) break;
        const int64_t g0 = c * j->groups_per_chunk;
        const int64_t g1 = g0 + j->groups_per_chunk < groups ? g0 + j->groups_per_chunk : groups;
        x8_range(j->level, j->packed, j->nb, j->act, j->arb, j->n, j->bias, j->y, j->m, g0, g1);
    }
}

static int x8_matmul(int level, int threaded, const void *packed, int64_t m, int64_t k, const float *x, int64_t n,
                     const float *bias, float *y) {
    if (phi_q4_0_x8_size(m, k) == 0 || n < 0) return PHI_ERR_BAD_COUNT;
    if (n == 0) return PHI_OK;
    x8_job j;
    j.level = level;
    j.packed = packed;
    j.m = m;
    j.k = k;
    j.n = n;
    j.nb = k / QK;
    j.x = x;
    j.bias = bias;
    j.y = y;
    j.arb = phi_act_row_size(PHI_TYPE_Q4_0, k);
    const size_t total = ((size_t)n * j.arb + 63) & ~(size_t)63;
    j.act = aligned_alloc(64, total);
    if (!j.act) return -3;
    atomic_init(&j.next_token, 0);
    if (threaded && n * k >= 65536) phi_pool_run(x8_quantize_task, &j);
    else x8_quantize_task(&j, 0, 1);
    const int64_t groups = m / 8;
    const int nth = threaded ? phi_pool_threads() : 1;
    // Decode: about 4 chunks per thread (claimed dynamically, so a late or busy thread costs little); prefill:
    // 2 groups per chunk, whose weights stay in cache while every token streams past them.
    int64_t gpc = n == 1 ? groups / (4 * (int64_t)nth) : 2;
    if (gpc < 1) gpc = 1;
    j.groups_per_chunk = gpc;
    j.chunks = (groups + gpc - 1) / gpc;
    atomic_init(&j.next, 0);
    if (threaded && j.chunks > 1 && m * k * n >= 32768) phi_pool_run(x8_matmul_task, &j);
    else x8_matmul_task(&j, 0, 1);
    free(j.act);
    return PHI_OK;
}

int phi_matmul_q4_0_x8(const void *packed, int64_t m, int64_t k, const float *x, int64_t n, const float *bias,
                       float *y) {
    return x8_matmul(phi_quant_level(), 1, packed, m, k, x, n, bias, y);
}

int phi_matmul_q4_0_x8_at_level(const void *packed, int64_t m, int64_t k, const float *x, int64_t n, float *y,
                                int level) {
    const int detected = phi_quant_detected_level();
    return x8_matmul(level < detected ? level : detected, 0, packed, m, k, x, n, NULL, y);
}
