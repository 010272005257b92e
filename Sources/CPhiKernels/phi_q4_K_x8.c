// phi_q4_K_x8.c: the 8-row layout of Q4_K weights (driven by phi_packed8.c) and its kernels.
//
// Layout of group g (rows 8g..8g+7), super-block b, at byte (g·nb + b)·1152 (the file's 8 × 144):
//   [0, 128)     the 8 rows' d, dmin, scales and mins (PHI_K4_X8_HEADER in phi_quant_internal.h)
//   [128, 1152)  quants: chunk j (values 64j..64j+63), vector v: 32 bytes at 128 + (8j + v)·32 whose byte 4r+i is
//                byte 32j + 4v + i of row r's nibbles (low nibble: sub-block 2j, value 4v+i; high: sub-block 2j+1)
// The kernel unpacks the 8 rows' scales and mins once per super-block (one byte each) and widens them with one
// instruction per sub-block instead of unpacking ggml's 6-bit packing per row.
//
// Result of (row r, token t): with isum = Σ_s sc_rs · Σ_i q_ri·y_ti and msum = Σ_s m_rs · Σ_{i in s} y_ti (exact
// integers), acc = fma(d_r·d_t, isum, acc) and accm = fma(dmin_r·d_t, msum, accm) over super-blocks in order, then
// acc − accm. The AVX2 and scalar paths compute exactly that; the file layout's kernel differs only in rounding.
#include "phi_quant.h"
#include "phi_kernels.h"
#include "phi_quant_internal.h"

#include <math.h>
#include <string.h>

#define QKK 256
#define GROUP_BLOCK 1152
#define QUANTS PHI_K4_X8_HEADER

static void pack_block(const uint8_t *const rows[8], int64_t b, uint8_t *p) {
    for (int r = 0; r < 8; r++) {
        const uint8_t *x = rows[r] + (size_t)b * 144;
        phi_k4_x8_pack_header(x, r, p);
        for (int j = 0; j < 4; j++)
            for (int v = 0; v < 8; v++) memcpy(p + QUANTS + (8 * j + v) * 32 + 4 * r, x + 16 + 32 * j + 4 * v, 4);
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
                        sum += (high ? byte >> 4 : byte & 15) * a->qs[64 * j + 32 * high + 4 * v + i];
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

// How far ahead the VNNI tiles prefetch (1 token: `PHI_DECODE_PREFETCH_LINES`): 4 super-blocks (4.6 KB).
// On the Zen 4 host whose DRAM reads 50 GB/s in its fast moments, a stream 1.2 KB ahead kept too few lines in flight (2
// threads reached 0.66 of the read probe; ~4.5 KB ahead: 0.81-0.88).
#ifndef VNNI_PREFETCH
#define VNNI_PREFETCH 4
#endif

#ifdef PHI_X8_AVX2

// 8 rows × T tokens; each token's integers and float steps are the same whatever T is (and as `tile_scalar`).
// Per sub-block the int16 sums of 8 `maddubs` stay ≤ 8 · 2 · 15 · 127 = 30,480; isum ≤ 8 · 2 · 30,480 · 63.
#define K4_TILE_AVX2(NAME, T)                                                                                      \
    PHI_TARGET_AVX2 static void NAME(const uint8_t *group, const uint8_t *const *bytes, int64_t nb, float *out) {     \
        const phi_q8k *act[T];                                                                                       \
        for (int t = 0; t < T; t++) act[t] = (const phi_q8k *)(const void *)bytes[t];                                \
        const __m256i low = _mm256_set1_epi8(15);                                                                    \
        __m256 acc[T], accm[T];                                                                                      \
        for (int t = 0; t < T; t++) acc[t] = accm[t] = _mm256_setzero_ps();                                          \
        for (int64_t b = 0; b < nb; b++) {                                                                           \
            const uint8_t *p = group + (size_t)b * GROUP_BLOCK;                                                      \
            uint8_t u[128] __attribute__((aligned(32)));                                                             \
            phi_k4_x8_unpack_header_avx2(p, u);                                                                      \
            __m256i isum[T];                                                                                         \
            for (int j = 0; j < 4; j++) {                                                                            \
                for (int c = 0; c < 4; c++) _mm_prefetch((const char *)(p + GROUP_BLOCK + 256 * j + 64 * c), _MM_HINT_T0); \
                __m256i even[T], odd[T];                                                                             \
                for (int v = 0; v < 8; v++) {                                                                        \
                    const __m256i q = _mm256_loadu_si256((const __m256i *)(const void *)(p + QUANTS + (8 * j + v) * 32)); \
                    const __m256i lo = _mm256_and_si256(q, low), hi = _mm256_and_si256(_mm256_srli_epi16(q, 4), low); \
                    for (int t = 0; t < T; t++) {                                                                    \
                        int32_t y0, y1;                                                                              \
                        memcpy(&y0, act[t][b].qs + 64 * j + 4 * v, 4);                                               \
                        memcpy(&y1, act[t][b].qs + 64 * j + 32 + 4 * v, 4);                                          \
                        const __m256i pe = _mm256_maddubs_epi16(lo, _mm256_set1_epi32(y0));                          \
                        const __m256i po = _mm256_maddubs_epi16(hi, _mm256_set1_epi32(y1));                          \
                        even[t] = v == 0 ? pe : _mm256_add_epi16(even[t], pe);                                       \
                        odd[t] = v == 0 ? po : _mm256_add_epi16(odd[t], po);                                         \
                    }                                                                                                \
                }                                                                                                    \
                const __m256i se = phi_k4_x8_scale_pairs(u + 8 * (2 * j)), so = phi_k4_x8_scale_pairs(u + 8 * (2 * j + 1)); \
                for (int t = 0; t < T; t++) {                                                                        \
                    const __m256i s = _mm256_add_epi32(_mm256_madd_epi16(even[t], se), _mm256_madd_epi16(odd[t], so)); \
                    isum[t] = j == 0 ? s : _mm256_add_epi32(isum[t], s);                                             \
                }                                                                                                    \
            }                                                                                                        \
            for (int t = 0; t < T; t++) phi_k4_x8_finish(p, u + 64, &act[t][b], isum[t], &acc[t], &accm[t]);         \
        }                                                                                                            \
        for (int t = 0; t < T; t++) _mm256_storeu_ps(out + 8 * t, _mm256_sub_ps(acc[t], accm[t]));                    \
    }

K4_TILE_AVX2(tile_avx2_1, 1)
K4_TILE_AVX2(tile_avx2_4, 4)

// The same integers with `vpdpbusd`: a sub-block's Σ q·y accumulates in int32 lanes (one instruction per vector and
// token instead of `maddubs` + an int16 add), then one `vpmulld` by the row's scale replaces the pairwise `madd`.
#define K4_TILE_VNNI(NAME, T, LINES)                                                                               \
    PHI_TARGET_VNNI static void NAME(const uint8_t *group, const uint8_t *const *bytes, int64_t nb, float *out) {    \
        const phi_q8k *act[T];                                                                                       \
        for (int t = 0; t < T; t++) act[t] = (const phi_q8k *)(const void *)bytes[t];                                \
        const __m256i low = _mm256_set1_epi8(15);                                                                    \
        __m256 acc[T], accm[T];                                                                                      \
        for (int t = 0; t < T; t++) acc[t] = accm[t] = _mm256_setzero_ps();                                          \
        for (int64_t b = 0; b < nb; b++) {                                                                           \
            const uint8_t *p = group + (size_t)b * GROUP_BLOCK;                                                      \
            uint8_t u[128] __attribute__((aligned(32)));                                                             \
            phi_k4_x8_unpack_header_avx2(p, u);                                                                      \
            __m256i isum[T];                                                                                         \
            for (int j = 0; j < 4; j++) {                                                                            \
                for (int c = 0; c < (LINES); c++) _mm_prefetch((const char *)(p + VNNI_PREFETCH * GROUP_BLOCK + 256 * j + 64 * c), _MM_HINT_T0); \
                __m256i even[T], odd[T];                                                                             \
                for (int t = 0; t < T; t++) even[t] = odd[t] = _mm256_setzero_si256();                               \
                for (int v = 0; v < 8; v++) {                                                                        \
                    const __m256i q = _mm256_loadu_si256((const __m256i *)(const void *)(p + QUANTS + (8 * j + v) * 32)); \
                    const __m256i lo = _mm256_and_si256(q, low), hi = _mm256_and_si256(_mm256_srli_epi16(q, 4), low); \
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

K4_TILE_VNNI(tile_vnni_1, 1, PHI_DECODE_PREFETCH_LINES)
K4_TILE_VNNI(tile_vnni_4, 4, 4)

#define K4_PREFETCH(p, j)                                                                                          \
    for (int c = 0; c < 4; c++) _mm_prefetch((const char *)((p) + VNNI_PREFETCH * GROUP_BLOCK + 256 * (j) + 64 * c), _MM_HINT_T0)
#define K4_LOHI(p, j, v, lo, hi)                                                                                   \
    do {                                                                                                             \
        const __m256i q = _mm256_loadu_si256((const __m256i *)(const void *)((p) + QUANTS + (8 * (j) + (v)) * 32));  \
        (lo) = _mm256_and_si256(q, _mm256_set1_epi8(15));                                                            \
        (hi) = _mm256_and_si256(_mm256_srli_epi16(q, 4), _mm256_set1_epi8(15));                                      \
    } while (0)
#define K4_PAIR_VNNI(NAME, T) PHI_K4_X8_TILE_VNNI_PAIR(NAME, T, GROUP_BLOCK, K4_PREFETCH, K4_LOHI)
K4_PAIR_VNNI(tile_pair_1, 1)
K4_PAIR_VNNI(tile_pair_2, 2)
K4_PAIR_VNNI(tile_pair_3, 3)
K4_PAIR_VNNI(tile_pair_4, 4)
#endif

const phi_x8_format phi_x8_q4_K = {
    .block_values = QKK,
    .file_block = 144,
    .group_block = GROUP_BLOCK,
    .pack_block = pack_block,
    .tiles = PHI_X8_TILES_VNNI_PAIR(tile_avx2_4, tile_avx2_1, tile_scalar, tile_vnni_4, tile_vnni_1, tile_pair),
};
