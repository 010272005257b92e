// phi_q6_K_x8.c: the 8-row layout of Q6_K weights (driven by phi_packed8.c) and its kernels.
//
// Q6_K values are 6 bits (a nibble in `ql` and 2 bits in `qh`, minus 32) with one int8 scale per 16 values. Here a
// super-block of 8 rows is laid out so that one 32-bit lane of an unpacked vector holds, for one row, 2 values of
// group 2p and 2 of group 2p+1 (groups of 16 values, p = 0..7): one `maddubs` then gives per row an int16 pair
// (group 2p, group 2p+1), and one `madd` against the row's scale pair (sc_2p, sc_2p+1) applies both scales. The
// activations are reordered to match (4 bytes per unpacked vector contiguous), once per call.
//
// Layout of group g (rows 8g..8g+7), super-block b, at byte (g·nb + b)·1680 (the file's 8 × 210):
//   [0, 16)       d of the 8 rows (fp16)
//   [16, 144)     scales: pair p, row r at 16 + 16p + 2r: (sc_2p, sc_2p+1) as int8
//   [144, 1680)   values: triple (p, h), h = 0..1, three vectors at 144 + (6p + 3h + c)·32, c = 0..2: bits 0-5 of byte
//                 4r+i of vector c = U(p, 4h + c); bits 6-7 of vectors 0, 1, 2 = bits 0-1, 2-3, 4-5 of U(p, 4h + 3)
// where byte 4r+i of the unpacked vector U(p, k) is value 32p + 2k + i (i < 2) or 32p + 16 + 2k + i − 2 (i ≥ 2) of
// row r, unsigned (0..63), and the reordered activation holds the same values' quants at 32p + 4k + i. Three of
// every four vectors come out with one `and`, the fourth with eight instructions: 22 per 8 vectors, where the
// file's split into a nibble and 2 high bits takes 34 (on the AVX2 host, decode streamed Q6_K at the speed of its
// unpacking).
//
// Result of (row r, token t): with isum = Σ_s sc_rs · Σ_{v in s} u_rv · y_tv and msum = Σ_s sc_rs · bsum_ts (exact
// integers), acc = fma(d_r · d_t, float(isum − 32 · msum), acc) over super-blocks in order. The AVX2, VNNI and scalar
// paths compute exactly that; the file layout's kernel differs only in rounding.
#include "phi_quant.h"
#include "phi_kernels.h"
#include "phi_quant_internal.h"

#include <math.h>
#include <string.h>

#define QKK 256
#define GROUP_BLOCK 1680
#define SCALES 16
#define VALUES 144

// Value index (0..255) of byte i of unpacked vector k of pair p.
static inline int value_index(int p, int k, int i) { return 32 * p + (i < 2 ? 2 * k + i : 16 + 2 * k + i - 2); }

static void pack_block(const uint8_t *const rows[8], int64_t b, uint8_t *dst) {
    memset(dst, 0, GROUP_BLOCK);
    for (int r = 0; r < 8; r++) {
        const uint8_t *x = rows[r] + (size_t)b * 210;
        const uint8_t *ql = x, *qh = x + 128;
        uint8_t u[QKK];
        for (int n = 0; n < 2; n++)
            for (int l = 0; l < 32; l++) {
                const uint8_t *qln = ql + 64 * n, *qhn = qh + 32 * n;
                u[128 * n + l] = (uint8_t)((qln[l] & 15) | (((qhn[l] >> 0) & 3) << 4));
                u[128 * n + l + 32] = (uint8_t)((qln[l + 32] & 15) | (((qhn[l] >> 2) & 3) << 4));
                u[128 * n + l + 64] = (uint8_t)((qln[l] >> 4) | (((qhn[l] >> 4) & 3) << 4));
                u[128 * n + l + 96] = (uint8_t)((qln[l + 32] >> 4) | (((qhn[l] >> 6) & 3) << 4));
            }
        memcpy(dst + 2 * r, x + 208, 2);
        for (int p = 0; p < 8; p++) {
            dst[SCALES + 16 * p + 2 * r] = x[192 + 2 * p];
            dst[SCALES + 16 * p + 2 * r + 1] = x[192 + 2 * p + 1];
            for (int i = 0; i < 4; i++)
                for (int h = 0; h < 2; h++) {
                    const uint8_t last = u[value_index(p, 4 * h + 3, i)];
                    for (int c = 0; c < 3; c++)
                        dst[VALUES + (6 * p + 3 * h + c) * 32 + 4 * r + i] =
                            (uint8_t)(u[value_index(p, 4 * h + c, i)] | (((last >> (2 * c)) & 3) << 6));
                }
        }
    }
}

// Activation quants in the order of the unpacked vectors (bsums and d unchanged).
static void reorder_activations(uint8_t *act, int64_t n, size_t arb, int64_t nb) {
    for (int64_t t = 0; t < n; t++) {
        phi_q8k *blocks = (phi_q8k *)(void *)(act + (size_t)t * arb);
        for (int64_t b = 0; b < nb; b++) {
            int8_t q[QKK];
            for (int p = 0; p < 8; p++)
                for (int k = 0; k < 8; k++)
                    for (int i = 0; i < 4; i++) q[32 * p + 4 * k + i] = blocks[b].qs[value_index(p, k, i)];
            memcpy(blocks[b].qs, q, QKK);
        }
    }
}

static inline uint8_t unpacked(const uint8_t *p, int pair, int k, int lane_byte) {
    const uint8_t *v = p + VALUES + (6 * pair + 3 * (k / 4)) * 32 + lane_byte;
    if (k % 4 < 3) return v[32 * (k % 4)] & 63;
    return (uint8_t)((v[0] >> 6) | ((v[32] >> 6) << 2) | ((v[64] >> 6) << 4));
}

static void tile_scalar(const uint8_t *group, const uint8_t *act, int64_t nb, float *out) {
    const phi_q8k *y = (const phi_q8k *)(const void *)act;
    float acc[8] = {0};
    for (int64_t b = 0; b < nb; b++) {
        const uint8_t *p = group + (size_t)b * GROUP_BLOCK;
        const phi_q8k *a = y + b;
        for (int r = 0; r < 8; r++) {
            int32_t isum = 0, msum = 0;
            for (int pair = 0; pair < 8; pair++) {
                int32_t s0 = 0, s1 = 0;  // groups 2p and 2p+1
                for (int k = 0; k < 8; k++)
                    for (int i = 0; i < 4; i++) {
                        const int32_t v = unpacked(p, pair, k, 4 * r + i) * a->qs[32 * pair + 4 * k + i];
                        if (i < 2) s0 += v;
                        else s1 += v;
                    }
                const int8_t sc0 = (int8_t)p[SCALES + 16 * pair + 2 * r], sc1 = (int8_t)p[SCALES + 16 * pair + 2 * r + 1];
                isum += sc0 * s0 + sc1 * s1;
                msum += sc0 * a->bsums[2 * pair] + sc1 * a->bsums[2 * pair + 1];
            }
            uint16_t d;
            memcpy(&d, p + 2 * r, 2);
            acc[r] = fmaf(phi_f16_to_f32(d) * a->d, (float)(isum - 32 * msum), acc[r]);
        }
    }
    memcpy(out, acc, sizeof acc);
}

#ifdef PHI_X8_AVX2

// 8 rows × T tokens; each token's integers and float steps are the same whatever T is (and as `tile_scalar`).
// u ≤ 63 and |y| ≤ 127: a `maddubs` pair is at most 16,002, two added 32,004 (no saturation); then `madd` by the
// scale pair widens to int32. With VNNI, isum is kept in CHAINS = 4 int32 chains (k / 2, summed at the end: the same
// integers), so that `vpdpwssd`'s latency does not serialize a super-block's 32 updates (AVX2's latency-1 add needs
// no split, and its 16 registers have no room for one).
#define K6_TILE(NAME, T, TARGET, MADD_ADD, CHAINS, LINES)                                                          \
    TARGET static void NAME(const uint8_t *group, const uint8_t *const *bytes, int64_t nb, float *out) {           \
        const phi_q8k *act[T];                                                                                       \
        for (int t = 0; t < T; t++) act[t] = (const phi_q8k *)(const void *)bytes[t];                                \
        const __m256i six = _mm256_set1_epi8(63), top = _mm256_set1_epi8((char)0xC0);                                \
        __m256 acc[T];                                                                                               \
        for (int t = 0; t < T; t++) acc[t] = _mm256_setzero_ps();                                                    \
        for (int64_t b = 0; b < nb; b++) {                                                                           \
            const uint8_t *p = group + (size_t)b * GROUP_BLOCK;                                                      \
            __m256i isum[T][CHAINS], msum[T];                                                                        \
            for (int pair = 0; pair < 8; pair++) {                                                                   \
                for (int c = 0; c < (LINES); c++)                                                                    \
                    _mm_prefetch((const char *)(p + GROUP_BLOCK + 210 * pair + 64 * c), _MM_HINT_T0);                \
                const __m256i sc = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)(const void *)(p + SCALES + 16 * pair))); \
                __m256i uv[8];                                                                                       \
                for (int h = 0; h < 2; h++) {                                                                        \
                    const uint8_t *q = p + VALUES + (6 * pair + 3 * h) * 32;                                         \
                    __m256i v[3];                                                                                    \
                    for (int c = 0; c < 3; c++) {                                                                    \
                        v[c] = _mm256_loadu_si256((const __m256i *)(const void *)(q + 32 * c));                      \
                        uv[4 * h + c] = _mm256_and_si256(v[c], six);                                                 \
                    }                                                                                                \
                    /* 16-bit shifts of bytes masked to bits 6-7: nothing crosses into the neighbouring byte */      \
                    uv[4 * h + 3] = _mm256_or_si256(                                                                 \
                        _mm256_or_si256(_mm256_srli_epi16(_mm256_and_si256(v[0], top), 6),                           \
                                        _mm256_srli_epi16(_mm256_and_si256(v[1], top), 4)),                          \
                        _mm256_srli_epi16(_mm256_and_si256(v[2], top), 2));                                          \
                }                                                                                                    \
                for (int k = 0; k < 8; k += 2) {                                                                     \
                    const __m256i u[2] = {uv[k], uv[k + 1]};                                                         \
                    for (int t = 0; t < T; t++) {                                                                    \
                        int32_t y0, y1;                                                                              \
                        memcpy(&y0, act[t][b].qs + 32 * pair + 4 * k, 4);                                            \
                        memcpy(&y1, act[t][b].qs + 32 * pair + 4 * k + 4, 4);                                        \
                        const __m256i s16 = _mm256_add_epi16(_mm256_maddubs_epi16(u[0], _mm256_set1_epi32(y0)),      \
                                                             _mm256_maddubs_epi16(u[1], _mm256_set1_epi32(y1)));     \
                        __m256i *is = &isum[t][(k / 2) % (CHAINS)];                                                  \
                        *is = pair == 0 && k / 2 < (CHAINS) ? _mm256_madd_epi16(s16, sc) : MADD_ADD(*is, s16, sc);   \
                    }                                                                                                \
                }                                                                                                    \
                for (int t = 0; t < T; t++) {                                                                        \
                    int32_t bs;                                                                                      \
                    memcpy(&bs, act[t][b].bsums + 2 * pair, 4);                                                      \
                    const __m256i bsv = _mm256_set1_epi32(bs);                                                       \
                    msum[t] = pair == 0 ? _mm256_madd_epi16(sc, bsv) : MADD_ADD(msum[t], sc, bsv);                   \
                }                                                                                                    \
            }                                                                                                        \
            const __m256 d = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(const void *)p));                     \
            for (int t = 0; t < T; t++) {                                                                            \
                __m256i is = isum[t][0];                                                                             \
                for (int c = 1; c < (CHAINS); c++) is = _mm256_add_epi32(is, isum[t][c]);                            \
                const __m256i total = _mm256_sub_epi32(is, _mm256_slli_epi32(msum[t], 5));                          \
                acc[t] = _mm256_fmadd_ps(_mm256_mul_ps(d, _mm256_set1_ps(act[t][b].d)), _mm256_cvtepi32_ps(total),   \
                                         acc[t]);                                                                    \
            }                                                                                                        \
        }                                                                                                            \
        for (int t = 0; t < T; t++) _mm256_storeu_ps(out + 8 * t, acc[t]);                                           \
    }

// acc + Σ pairs of a·b (int16 → int32): `madd` then an add on AVX2, one `vpdpwssd` with VNNI (the same integers).
#define K6_MADD_ADD_AVX2(acc, a, b) _mm256_add_epi32((acc), _mm256_madd_epi16((a), (b)))
#define K6_MADD_ADD_VNNI(acc, a, b) _mm256_dpwssd_epi32((acc), (a), (b))
// Prefetch: LINES cache lines per 32-value pair, one super-block ahead; none in decode's 1-token VNNI tile
// (`PHI_DECODE_PREFETCH_LINES`).
K6_TILE(tile_avx2_1, 1, PHI_TARGET_AVX2, K6_MADD_ADD_AVX2, 1, 3)
K6_TILE(tile_avx2_4, 4, PHI_TARGET_AVX2, K6_MADD_ADD_AVX2, 1, 3)
K6_TILE(tile_vnni_1, 1, PHI_TARGET_VNNI, K6_MADD_ADD_VNNI, 4, PHI_DECODE_PREFETCH_LINES)
K6_TILE(tile_vnni_4, 4, PHI_TARGET_VNNI, K6_MADD_ADD_VNNI, 4, 3)
#endif

const phi_x8_format phi_x8_q6_K = {
    .block_values = QKK,
    .file_block = 210,
    .group_block = GROUP_BLOCK,
    .pack_block = pack_block,
    .prepare_activations = reorder_activations,
    .tiles = PHI_X8_TILES_VNNI(tile_avx2_4, tile_avx2_1, tile_scalar, tile_vnni_4, tile_vnni_1),
};
