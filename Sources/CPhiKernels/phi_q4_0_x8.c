// phi_q4_0_x8.c: the 8-row layout of Q4_0 weights (driven by phi_packed8.c) and its kernels.
//
// Layout: group g (rows 8g..8g+7), block b at byte (g·nb + b)·144 (rows over 96 blocks: k-sliced, see
// `phi_x8_slice_offset`): 8 fp16 scales (row order), then 4 vectors of 32 bytes; byte 4r+i of vector j is byte 4j+i
// of row r's nibbles, so its low nibble is quant 4j+i and its high nibble quant 16+4j+i. Same bytes as the file. One
// `maddubs` = 32 multiply-adds for 8 rows; the 8 scales convert with one `vcvtph2ps`; one fma per (8 rows, block):
// about 3× fewer instructions than the file layout's tile.
//
// Result of (row r, token t): Σ_b fma-accumulated in block order of float(Σ_i u_ri·y_ti − 8·Σ_i y_ti) · (d_r · d_t),
// the integer sum exact. The AVX2 and scalar paths compute exactly that, so they agree bit for bit; it differs from
// the file-layout kernels (which widen 8 partial sums per block) only in float rounding.
#include "phi_quant.h"
#include "phi_kernels.h"
#include "phi_quant_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define QK 32
#define GROUP_BLOCK 144

static void pack_block(const uint8_t *const rows[8], int64_t b, uint8_t *p) {
    for (int r = 0; r < 8; r++) {
        const uint8_t *x = rows[r] + (size_t)b * 18;
        memcpy(p + 2 * r, x, 2);
        for (int j = 0; j < 4; j++) memcpy(p + 16 + 32 * j + 4 * r, x + 2 + 4 * j, 4);
    }
}

static void tile_scalar(const uint8_t *group, const uint8_t *act, int64_t nb, float out[8]) {
    const float *ds = phi_act32_scales(act, nb);
    const int32_t *cs = phi_act32_corrections(act, nb);
    float acc[8];
    memcpy(acc, out, sizeof acc);  // from the previous k-slice's sums, or zeros
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

// How far ahead the VNNI tiles prefetch (1 token: `PHI_DECODE_PREFETCH_LINES`): 32 blocks (4.6 KB).
// On the Zen 4 host whose DRAM reads 50 GB/s in its fast moments, a stream 1.2 KB ahead kept too few lines in flight (2
// threads reached 0.66 of the read probe; ~4.5 KB ahead: 0.81-0.88).
#ifndef VNNI_PREFETCH
#define VNNI_PREFETCH 32
#endif

#ifdef PHI_X8_AVX2

// 8 rows × T tokens; each token's integers and float steps are the same whatever T is (and as `tile_scalar`).
#define X8_TILE_AVX2(NAME, T)                                                                                      \
    PHI_TARGET_AVX2 static void NAME(const uint8_t *group, const uint8_t *const *act, int64_t nb, float *out) {       \
        const __m256i low = _mm256_set1_epi8(15), ones = _mm256_set1_epi16(1);                                       \
        const float *ds[T];                                                                                          \
        const int32_t *cs[T];                                                                                        \
        __m256 acc[T];                                                                                               \
        for (int t = 0; t < T; t++) {                                                                                \
            ds[t] = phi_act32_scales(act[t], nb);                                                                          \
            cs[t] = phi_act32_corrections(act[t], nb);                                                                     \
            acc[t] = _mm256_loadu_ps(out + 8 * t); /* from the previous k-slice's sums, or zeros */                    \
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

// The same sums with `vpdpbusd` (`PHI_X8_BLOCK32_TILE_VNNI`): the int16 stage and its widening `madd` go away, so
// each token costs one instruction per vector instead of two. Vector j < 4 is the low nibbles, j ≥ 4 the high ones.
#define Q4_0_VECTOR(p, j)                                                                                          \
    _mm256_and_si256(_mm256_srli_epi16(_mm256_loadu_si256((const __m256i *)(const void *)((p) + 16 + 32 * ((j) & 3))), \
                                       (j) < 4 ? 0 : 4),                                                             \
                     _mm256_set1_epi8(15))
#define X8_TILE_VNNI(NAME, T, LINES) PHI_X8_BLOCK32_TILE_VNNI(NAME, T, GROUP_BLOCK, VNNI_PREFETCH, LINES, Q4_0_VECTOR)

X8_TILE_VNNI(tile_vnni_1, 1, PHI_DECODE_PREFETCH_LINES)
X8_TILE_VNNI(tile_vnni_4, 4, 3)
#define X8_PAIR_VNNI(NAME, T) PHI_X8_BLOCK32_TILE_VNNI_PAIR(NAME, T, GROUP_BLOCK, VNNI_PREFETCH, 3, Q4_0_VECTOR)
X8_PAIR_VNNI(tile_pair_1, 1)
X8_PAIR_VNNI(tile_pair_2, 2)
X8_PAIR_VNNI(tile_pair_3, 3)
X8_PAIR_VNNI(tile_pair_4, 4)

// Prefill at the AVX2 level: a group's nibbles unpacked to bytes once (`rep`, the layout of phi_quant.c's per-call
// repack, here without its transpose) and its scales widened, then 4 tokens at a time through phi_quant.c's repacked
// tile, which sums the same integers with the same float steps as the tiles above (measured: ~12% faster than
// unpacking per 4 tokens; phi-2 Q4_0, 2 threads, AVX2 level: 128 tokens 73 against 65 tok/s through the tiles).
// At the AVX-512 level the paired 4-token tiles are faster at every token count, so every call runs them: 16 tokens
// 98 against 57 tok/s, 128: 99 against 84, 512: 94 against 78 (the same runs, alternated).
PHI_TARGET_AVX2 static void unpack_group(const phi_x8_range *R, int64_t g, __m256i *rep, float *dws) {
    const __m256i low = _mm256_set1_epi8(15);
    const int64_t nb = R->nb, slices = R->slices > 1 ? R->slices : 1;
    for (int64_t b = 0, s = 0; b < nb; b++) {
        if (b == phi_x8_slice_start(nb, slices, s + 1)) s++;
        const uint8_t *p = R->packed + phi_x8_slice_offset(R->groups, nb, slices, s, g, GROUP_BLOCK) +
                           (size_t)(b - phi_x8_slice_start(nb, slices, s)) * GROUP_BLOCK;
        for (int j = 0; j < 4; j++) {
            const __m256i v = _mm256_loadu_si256((const __m256i *)(const void *)(p + 16 + 32 * j));
            _mm256_store_si256(rep + 8 * b + j, _mm256_and_si256(v, low));
            _mm256_store_si256(rep + 8 * b + 4 + j, _mm256_and_si256(_mm256_srli_epi16(v, 4), low));
        }
        _mm256_storeu_ps(dws + 8 * b, _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(const void *)p)));
    }
}
#endif

enum { PREFILL_TOKENS = 8 };  // from this many tokens on (AVX2 level), groups are unpacked once per call

static const phi_x8_tiles tiles =
    PHI_X8_TILES_VNNI_PAIR(tile_avx2_4, tile_avx2_1, tile_scalar, tile_vnni_4, tile_vnni_1, tile_pair);

static void range(const phi_x8_range *R, int64_t g0, int64_t g1) {
#ifdef PHI_X8_AVX2
    if (R->level == PHI_LEVEL_AVX2 && R->n >= PREFILL_TOKENS) {
        const int64_t nb = R->nb, n = R->n;
        __m256i *rep = aligned_alloc(64, (size_t)nb * 8 * sizeof(__m256i));
        float *dws = aligned_alloc(64, ((size_t)nb * 8 * sizeof(float) + 63) & ~(size_t)63);  // a multiple of 64
        if (rep && dws) {
            for (int64_t g = g0; g < g1; g++) {
                unpack_group(R, g, rep, dws);  // whole rows, across k-slices: the full activation applies
                float out[32];
                for (int64_t t = 0; t < n;) {
                    const int tokens = n - t >= 4 ? 4 : 1;
                    const uint8_t *at[4] = {R->act + t * R->arb, NULL, NULL, NULL};
                    for (int i = 1; i < tokens; i++) at[i] = R->act + (t + i) * R->arb;
                    phi_internal_repacked_q4_0_avx2(rep, dws, at, nb, tokens, out);
                    phi_x8_store(R, g, t, tokens, out);
                    t += tokens;
                }
            }
            phi_x8_activate(R, g0, g1);
            free(rep);
            free(dws);
            return;
        }
        free(rep);
        free(dws);
    }
#endif
    phi_x8_run_tiles(R, g0, g1, GROUP_BLOCK, &tiles);
}

// (`range` adds the prefill path to the tiles.)
const phi_x8_format phi_x8_q4_0 = {
    .block_values = QK,
    .file_block = 18,
    .group_block = GROUP_BLOCK,
    .pack_block = pack_block,
    .tiles = PHI_X8_TILES_VNNI_PAIR(tile_avx2_4, tile_avx2_1, tile_scalar, tile_vnni_4, tile_vnni_1, tile_pair),
    .range = range,
    .slice_blocks = PHI_X8_SLICE_BLOCKS,
    .whole_rows_tokens = PREFILL_TOKENS,
};
