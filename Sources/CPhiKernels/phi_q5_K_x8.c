// phi_q5_K_x8.c: the 8-row layout of Q5_K weights (driven by phi_packed8.c) and its kernels: Q4_K's layout
// (phi_q4_K_x8.c) plus the fifth bits in planes of their own. (Phi-3's Q4_K_M files keep attn_qkv in Q5_K: a quarter of
// the bytes read per token.)
//
// Layout of group g (rows 8g..8g+7), super-block b, at byte (g·nb + b)·1408 (the file's 8 × 176):
//   [0, 128)     the 8 rows' d, dmin, scales and mins (PHI_K4_X8_HEADER in phi_quant_internal.h)
//   [128, 1152)  quants: chunk j (values 64j..64j+63), vector v: 32 bytes at 128 + (8j + v)·32 whose byte 4r+i is
//                byte 32j + 4v + i of row r's low nibbles (low nibble: sub-block 2j, value 4v+i; high: sub-block 2j+1)
//   [1152, 1408) fifth bits: plane (j, h) at 1152 + (2j + h)·32, bit v of byte 4r+i = the fifth bit of value 4v+i of
//                sub-block 2j+h of row r (so a shift by a constant moves vector v's bits to bit 4 of every byte)
//
// Result of (row r, token t): with isum = Σ_s sc_rs · Σ_i q_ri·y_ti and msum = Σ_s m_rs · Σ_{i in s} y_ti (exact
// integers, q the 5-bit values), acc = fma(d_r·d_t, isum, acc) and accm = fma(dmin_r·d_t, msum, accm) over super-blocks
// in order, then acc − accm. The AVX2 and scalar paths compute exactly that; the file layout's kernel differs only in rounding.
#include "phi_quant.h"
#include "phi_kernels.h"
#include "phi_quant_internal.h"

#include <math.h>
#include <string.h>

#define QKK 256
#define GROUP_BLOCK 1408
#define QUANTS PHI_K4_X8_HEADER
#define HIGH 1152

static void pack_block(const uint8_t *const rows[8], int64_t b, uint8_t *p) {
    memset(p + HIGH, 0, GROUP_BLOCK - HIGH);
    for (int r = 0; r < 8; r++) {
        const uint8_t *x = rows[r] + (size_t)b * 176;
        const uint8_t *qh = x + 16;
        phi_k4_x8_pack_header(x, r, p);
        for (int j = 0; j < 4; j++)
            for (int v = 0; v < 8; v++) {
                memcpy(p + QUANTS + (8 * j + v) * 32 + 4 * r, x + 48 + 32 * j + 4 * v, 4);
                for (int h = 0; h < 2; h++)
                    for (int i = 0; i < 4; i++)
                        p[HIGH + (2 * j + h) * 32 + 4 * r + i] |= (uint8_t)(((qh[4 * v + i] >> (2 * j + h)) & 1) << v);
            }
    }
}

static void tile_scalar(const uint8_t *group, const uint8_t *act, int64_t nb, float *out) {
    const phi_q8k *y = (const phi_q8k *)(const void *)act;
    float acc[8] = {0}, accm[8] = {0};
    for (int64_t b = 0; b < nb; b++) {
        const uint8_t *p = group + (size_t)b * GROUP_BLOCK;
        const phi_q8k *a = y + b;
        uint8_t u[128];
        phi_k4_x8_unpack_header(p, u);
        for (int r = 0; r < 8; r++) {
            int32_t isum = 0, msum = 0;
            for (int s = 0; s < 8; s++) {
                const int j = s / 2, high = s & 1;
                int32_t sum = 0;
                for (int v = 0; v < 8; v++)
                    for (int i = 0; i < 4; i++) {
                        const uint8_t byte = p[QUANTS + (8 * j + v) * 32 + 4 * r + i];
                        const int fifth = (p[HIGH + (2 * j + high) * 32 + 4 * r + i] >> v) & 1;
                        sum += ((high ? byte >> 4 : byte & 15) | fifth << 4) * a->qs[64 * j + 32 * high + 4 * v + i];
                    }
                isum += u[8 * s + r] * sum;
                msum += u[64 + 16 * j + 2 * r + high] * (a->bsums[2 * s] + a->bsums[2 * s + 1]);
            }
            uint16_t d, dmin;
            memcpy(&d, p + 2 * r, 2);
            memcpy(&dmin, p + 16 + 2 * r, 2);
            acc[r] = fmaf(phi_f16_to_f32(d) * a->d, (float)isum, acc[r]);
            accm[r] = fmaf(phi_f16_to_f32(dmin) * a->d, (float)msum, accm[r]);
        }
    }
    for (int r = 0; r < 8; r++) out[r] = acc[r] - accm[r];
}

// How far ahead the VNNI tiles prefetch: 3 super-blocks (4.2 KB). On the Zen 4 host whose DRAM reads 50 GB/s in its fast moments, a
// stream 1.2 KB ahead kept too few lines in flight (2 threads reached 0.66 of the read probe; ~4.5 KB ahead: 0.81-0.88).
#ifndef VNNI_PREFETCH
#define VNNI_PREFETCH 3
#endif

#ifdef PHI_X8_AVX2

// Vector v's fifth bits at bit 4 of every byte (bits of the neighbouring byte that a 16-bit shift brings in land
// elsewhere and are masked off).
PHI_TARGET_AVX2 static inline __m256i fifth_bits(__m256i h, int v) {
    return v < 4 ? _mm256_slli_epi16(h, 4 - v) : v == 4 ? h : _mm256_srli_epi16(h, v - 4);
}

// 8 rows × T tokens; each token's integers and float steps are the same whatever T is (and as `tile_scalar`).
// Values reach 31, so a sub-block's int16 sums take 4 `maddubs` (≤ 4 · 2 · 31 · 127 = 31,496) before `madd` widens.
#define K5_TILE_AVX2(NAME, T)                                                                                      \
    PHI_TARGET_AVX2 static void NAME(const uint8_t *group, const uint8_t *const *bytes, int64_t nb, float *out) {     \
        const phi_q8k *act[T];                                                                                       \
        for (int t = 0; t < T; t++) act[t] = (const phi_q8k *)(const void *)bytes[t];                                \
        const __m256i low = _mm256_set1_epi8(15), bit4 = _mm256_set1_epi8(16);                                       \
        __m256 acc[T], accm[T];                                                                                      \
        for (int t = 0; t < T; t++) acc[t] = accm[t] = _mm256_setzero_ps();                                          \
        for (int64_t b = 0; b < nb; b++) {                                                                           \
            const uint8_t *p = group + (size_t)b * GROUP_BLOCK;                                                      \
            uint8_t u[128] __attribute__((aligned(32)));                                                             \
            phi_k4_x8_unpack_header_avx2(p, u);                                                                      \
            __m256i isum[T];                                                                                         \
            for (int j = 0; j < 4; j++) {                                                                            \
                for (int c = 0; c < 6; c++) _mm_prefetch((const char *)(p + GROUP_BLOCK + 384 * j + 64 * c), _MM_HINT_T0); \
                const __m256i h0 = _mm256_loadu_si256((const __m256i *)(const void *)(p + HIGH + (2 * j) * 32));         \
                const __m256i h1 = _mm256_loadu_si256((const __m256i *)(const void *)(p + HIGH + (2 * j + 1) * 32));     \
                const __m256i se = phi_k4_x8_scale_pairs(u + 8 * (2 * j)), so = phi_k4_x8_scale_pairs(u + 8 * (2 * j + 1)); \
                for (int half = 0; half < 2; half++) {                                                               \
                    __m256i even[T], odd[T];                                                                         \
                    for (int v = 4 * half; v < 4 * half + 4; v++) {                                                  \
                        const __m256i q = _mm256_loadu_si256((const __m256i *)(const void *)(p + QUANTS + (8 * j + v) * 32)); \
                        const __m256i lo = _mm256_or_si256(_mm256_and_si256(q, low), _mm256_and_si256(fifth_bits(h0, v), bit4)); \
                        const __m256i hi = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(q, 4), low),          \
                                                           _mm256_and_si256(fifth_bits(h1, v), bit4));               \
                        for (int t = 0; t < T; t++) {                                                                \
                            int32_t y0, y1;                                                                          \
                            memcpy(&y0, act[t][b].qs + 64 * j + 4 * v, 4);                                           \
                            memcpy(&y1, act[t][b].qs + 64 * j + 32 + 4 * v, 4);                                      \
                            const __m256i pe = _mm256_maddubs_epi16(lo, _mm256_set1_epi32(y0));                      \
                            const __m256i po = _mm256_maddubs_epi16(hi, _mm256_set1_epi32(y1));                      \
                            even[t] = v == 4 * half ? pe : _mm256_add_epi16(even[t], pe);                            \
                            odd[t] = v == 4 * half ? po : _mm256_add_epi16(odd[t], po);                              \
                        }                                                                                            \
                    }                                                                                                \
                    for (int t = 0; t < T; t++) {                                                                    \
                        const __m256i s = _mm256_add_epi32(_mm256_madd_epi16(even[t], se), _mm256_madd_epi16(odd[t], so)); \
                        isum[t] = j == 0 && half == 0 ? s : _mm256_add_epi32(isum[t], s);                            \
                    }                                                                                                \
                }                                                                                                    \
            }                                                                                                        \
            for (int t = 0; t < T; t++) phi_k4_x8_finish(p, u + 64, &act[t][b], isum[t], &acc[t], &accm[t]);         \
        }                                                                                                            \
        for (int t = 0; t < T; t++) _mm256_storeu_ps(out + 8 * t, _mm256_sub_ps(acc[t], accm[t]));                    \
    }

K5_TILE_AVX2(tile_avx2_1, 1)
K5_TILE_AVX2(tile_avx2_4, 4)

// The same integers with `vpdpbusd` (int32 sums, so no split into halves) and one `vpmulld` by the row's scale per
// sub-block instead of the pairwise `madd`.
#define K5_TILE_VNNI(NAME, T)                                                                                      \
    PHI_TARGET_VNNI static void NAME(const uint8_t *group, const uint8_t *const *bytes, int64_t nb, float *out) {    \
        const phi_q8k *act[T];                                                                                       \
        for (int t = 0; t < T; t++) act[t] = (const phi_q8k *)(const void *)bytes[t];                                \
        const __m256i low = _mm256_set1_epi8(15), bit4 = _mm256_set1_epi8(16);                                       \
        __m256 acc[T], accm[T];                                                                                      \
        for (int t = 0; t < T; t++) acc[t] = accm[t] = _mm256_setzero_ps();                                          \
        for (int64_t b = 0; b < nb; b++) {                                                                           \
            const uint8_t *p = group + (size_t)b * GROUP_BLOCK;                                                      \
            uint8_t u[128] __attribute__((aligned(32)));                                                             \
            phi_k4_x8_unpack_header_avx2(p, u);                                                                      \
            __m256i isum[T];                                                                                         \
            for (int j = 0; j < 4; j++) {                                                                            \
                for (int c = 0; c < 6; c++) _mm_prefetch((const char *)(p + VNNI_PREFETCH * GROUP_BLOCK + 384 * j + 64 * c), _MM_HINT_T0); \
                const __m256i h0 = _mm256_loadu_si256((const __m256i *)(const void *)(p + HIGH + (2 * j) * 32));         \
                const __m256i h1 = _mm256_loadu_si256((const __m256i *)(const void *)(p + HIGH + (2 * j + 1) * 32));     \
                __m256i even[T], odd[T];                                                                             \
                for (int t = 0; t < T; t++) even[t] = odd[t] = _mm256_setzero_si256();                               \
                for (int v = 0; v < 8; v++) {                                                                        \
                    const __m256i q = _mm256_loadu_si256((const __m256i *)(const void *)(p + QUANTS + (8 * j + v) * 32)); \
                    const __m256i lo = _mm256_or_si256(_mm256_and_si256(q, low), _mm256_and_si256(fifth_bits(h0, v), bit4)); \
                    const __m256i hi = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(q, 4), low),              \
                                                       _mm256_and_si256(fifth_bits(h1, v), bit4));                   \
                    for (int t = 0; t < T; t++) phi_k4_x8_dot_vnni(&act[t][b], j, v, lo, hi, &even[t], &odd[t]);     \
                }                                                                                                    \
                for (int t = 0; t < T; t++) {                                                                        \
                    const __m256i s = phi_k4_x8_scaled_vnni(u, j, even[t], odd[t]);                                  \
                    isum[t] = j == 0 ? s : _mm256_add_epi32(isum[t], s);                                             \
                }                                                                                                    \
            }                                                                                                        \
            for (int t = 0; t < T; t++) phi_k4_x8_finish(p, u + 64, &act[t][b], isum[t], &acc[t], &accm[t]);         \
        }                                                                                                            \
        for (int t = 0; t < T; t++) _mm256_storeu_ps(out + 8 * t, _mm256_sub_ps(acc[t], accm[t]));                    \
    }

K5_TILE_VNNI(tile_vnni_1, 1)
K5_TILE_VNNI(tile_vnni_4, 4)

#define K5_PREFETCH(p, j)                                                                                          \
    for (int c = 0; c < 6; c++) _mm_prefetch((const char *)((p) + VNNI_PREFETCH * GROUP_BLOCK + 384 * (j) + 64 * c), _MM_HINT_T0)
#define K5_LOHI(p, j, v, lo, hi)                                                                                   \
    do {                                                                                                             \
        const __m256i low = _mm256_set1_epi8(15), bit4 = _mm256_set1_epi8(16);                                      \
        const __m256i h0 = _mm256_loadu_si256((const __m256i *)(const void *)((p) + HIGH + (2 * (j)) * 32));         \
        const __m256i h1 = _mm256_loadu_si256((const __m256i *)(const void *)((p) + HIGH + (2 * (j) + 1) * 32));     \
        const __m256i q = _mm256_loadu_si256((const __m256i *)(const void *)((p) + QUANTS + (8 * (j) + (v)) * 32));  \
        (lo) = _mm256_or_si256(_mm256_and_si256(q, low), _mm256_and_si256(fifth_bits(h0, v), bit4));                 \
        (hi) = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(q, 4), low), _mm256_and_si256(fifth_bits(h1, v), bit4)); \
    } while (0)
#define K5_PAIR_VNNI(NAME, T) PHI_K4_X8_TILE_VNNI_PAIR(NAME, T, GROUP_BLOCK, K5_PREFETCH, K5_LOHI)
K5_PAIR_VNNI(tile_pair_1, 1)
K5_PAIR_VNNI(tile_pair_2, 2)
K5_PAIR_VNNI(tile_pair_3, 3)
K5_PAIR_VNNI(tile_pair_4, 4)
#endif

const phi_x8_format phi_x8_q5_K = {
    .block_values = QKK,
    .file_block = 176,
    .group_block = GROUP_BLOCK,
    .pack_block = pack_block,
    .tiles = PHI_X8_TILES_VNNI_PAIR(tile_avx2_4, tile_avx2_1, tile_scalar, tile_vnni_4, tile_vnni_1, tile_pair),
};
