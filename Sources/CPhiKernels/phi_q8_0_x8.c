// phi_q8_0_x8.c: the 8-row layout of Q8_0 weights (driven by phi_packed8.c) and its kernels.
//
// Layout: group g (rows 8g..8g+7), block b at byte (g·nb + b)·272 (rows over 96 blocks: k-sliced, see
// `phi_x8_slice_offset`): 8 fp16 scales (row order), then 8 vectors of 32 bytes; byte 4r+i of vector j is quant 4j+i
// of row r. Same bytes as the file. The quants are signed, so each vector goes through `maddubs` as |w| against the
// broadcast activation bytes given w's signs (`vpsignb`), and each product widens at once (two int16 pairs of 8-bit
// values could overflow); one fma per (8 rows, block).
//
// Result of (row r, token t): Σ_b fma-accumulated in block order of float(Σ_i w_ri·y_ti) · (d_r · d_t), the integer
// sum exact. The AVX2 and scalar paths compute exactly that, so they agree bit for bit; the file layout's kernel
// differs only in float rounding.
#include "phi_quant.h"
#include "phi_kernels.h"
#include "phi_quant_internal.h"

#include <math.h>
#include <string.h>

#define QK 32
#define GROUP_BLOCK 272

static void pack_block(const uint8_t *const rows[8], int64_t b, uint8_t *p) {
    for (int r = 0; r < 8; r++) {
        const uint8_t *x = rows[r] + (size_t)b * 34;
        memcpy(p + 2 * r, x, 2);
        for (int j = 0; j < 8; j++) memcpy(p + 16 + 32 * j + 4 * r, x + 2 + 4 * j, 4);
    }
}

static void tile_scalar(const uint8_t *group, const uint8_t *act, int64_t nb, float out[8]) {
    const float *ds = phi_act32_scales(act, nb);
    float acc[8];
    memcpy(acc, out, sizeof acc);  // from the previous k-slice's sums, or zeros
    for (int64_t b = 0; b < nb; b++) {
        const uint8_t *p = group + (size_t)b * GROUP_BLOCK;
        const int8_t *y = (const int8_t *)(act + b * QK);
        for (int r = 0; r < 8; r++) {
            int32_t s = 0;
            for (int j = 0; j < 8; j++)
                for (int i = 0; i < 4; i++) s += (int8_t)p[16 + 32 * j + 4 * r + i] * y[4 * j + i];
            uint16_t h;
            memcpy(&h, p + 2 * r, 2);
            acc[r] = fmaf(phi_f16_to_f32(h) * ds[b], (float)s, acc[r]);
        }
    }
    memcpy(out, acc, sizeof acc);
}

// How far ahead the VNNI tiles prefetch (1 token: `PHI_DECODE_PREFETCH_LINES`): 16 blocks (4.3 KB).
// On the Zen 4 host whose DRAM reads 50 GB/s in its fast moments, a stream 1.2 KB ahead kept too few lines in flight (2
// threads reached 0.66 of the read probe; ~4.5 KB ahead: 0.81-0.88).
#ifndef VNNI_PREFETCH
#define VNNI_PREFETCH 16
#endif

#ifdef PHI_X8_AVX2

// 8 rows × T tokens; each token's integers and float steps are the same whatever T is (and as `tile_scalar`).
// |w| ≤ 128 and |y| ≤ 127: a `maddubs` pair is at most 32,512 (no saturation), widened by `madd` before adding.
#define Q8_TILE_AVX2(NAME, T)                                                                                      \
    PHI_TARGET_AVX2 static void NAME(const uint8_t *group, const uint8_t *const *act, int64_t nb, float *out) {       \
        const __m256i ones = _mm256_set1_epi16(1);                                                                   \
        const float *ds[T];                                                                                          \
        __m256 acc[T];                                                                                               \
        for (int t = 0; t < T; t++) {                                                                                \
            ds[t] = phi_act32_scales(act[t], nb);                                                                          \
            acc[t] = _mm256_loadu_ps(out + 8 * t); /* from the previous k-slice's sums, or zeros */                    \
        }                                                                                                            \
        for (int64_t b = 0; b < nb; b++) {                                                                           \
            const uint8_t *p = group + (size_t)b * GROUP_BLOCK;                                                      \
            for (int c = 0; c < 5; c++) _mm_prefetch((const char *)(p + 8 * GROUP_BLOCK + 64 * c), _MM_HINT_T0);     \
            __m256i s[T];                                                                                            \
            for (int j = 0; j < 8; j++) {                                                                            \
                const __m256i w = _mm256_loadu_si256((const __m256i *)(const void *)(p + 16 + 32 * j));              \
                const __m256i aw = _mm256_abs_epi8(w);                                                               \
                for (int t = 0; t < T; t++) {                                                                        \
                    int32_t y4;                                                                                      \
                    memcpy(&y4, act[t] + b * QK + 4 * j, 4);                                                         \
                    const __m256i prod = _mm256_maddubs_epi16(aw, _mm256_sign_epi8(_mm256_set1_epi32(y4), w));      \
                    const __m256i wide = _mm256_madd_epi16(prod, ones);                                              \
                    s[t] = j == 0 ? wide : _mm256_add_epi32(s[t], wide);                                             \
                }                                                                                                    \
            }                                                                                                        \
            const __m256 dw = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(const void *)p));                    \
            for (int t = 0; t < T; t++)                                                                              \
                acc[t] = _mm256_fmadd_ps(_mm256_mul_ps(dw, _mm256_broadcast_ss(ds[t] + b)), _mm256_cvtepi32_ps(s[t]), \
                                         acc[t]);                                                                    \
        }                                                                                                            \
        for (int t = 0; t < T; t++) _mm256_storeu_ps(out + 8 * t, acc[t]);                                           \
    }

Q8_TILE_AVX2(tile_avx2_1, 1)
Q8_TILE_AVX2(tile_avx2_4, 4)

// The same sums with `vpdpbusd` (`PHI_X8_BLOCK32_TILE_VNNI`), which takes unsigned weights: w + 128 (one xor per
// vector, for all tokens) against y, starting from the activation's stored block correction −128·Σy, is Σ w·y
// exactly. One instruction per vector and token instead of four.
#define Q8_0_VECTOR(p, j)                                                                                          \
    _mm256_xor_si256(_mm256_loadu_si256((const __m256i *)(const void *)((p) + 16 + 32 * (j))), _mm256_set1_epi8((char)0x80))
#define Q8_TILE_VNNI(NAME, T, LINES) PHI_X8_BLOCK32_TILE_VNNI(NAME, T, GROUP_BLOCK, VNNI_PREFETCH, LINES, Q8_0_VECTOR)

Q8_TILE_VNNI(tile_vnni_1, 1, PHI_DECODE_PREFETCH_LINES)
Q8_TILE_VNNI(tile_vnni_4, 4, 5)
#define Q8_PAIR_VNNI(NAME, T) PHI_X8_BLOCK32_TILE_VNNI_PAIR(NAME, T, GROUP_BLOCK, VNNI_PREFETCH, 5, Q8_0_VECTOR)
Q8_PAIR_VNNI(tile_pair_1, 1)
Q8_PAIR_VNNI(tile_pair_2, 2)
Q8_PAIR_VNNI(tile_pair_3, 3)
Q8_PAIR_VNNI(tile_pair_4, 4)
#endif

const phi_x8_format phi_x8_q8_0 = {
    .block_values = QK,
    .file_block = 34,
    .group_block = GROUP_BLOCK,
    .pack_block = pack_block,
    .tiles = PHI_X8_TILES_VNNI_PAIR(tile_avx2_4, tile_avx2_1, tile_scalar, tile_vnni_4, tile_vnni_1, tile_pair),
    .slice_blocks = PHI_X8_SLICE_BLOCKS,
};
