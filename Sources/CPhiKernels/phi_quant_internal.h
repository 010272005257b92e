// phi_quant_internal.h: kernels shared between the C files of this target (not part of the module's interface).
#ifndef PHI_QUANT_INTERNAL_H
#define PHI_QUANT_INTERNAL_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include "phi_ops.h"

#if defined(__x86_64__) || defined(__i386__)
#define PHI_X8_AVX2 1
#include <immintrin.h>
#define PHI_TARGET_AVX2 __attribute__((target("avx2,fma,f16c")))
/// The AVX-512 level's x8 tiles: 256-bit `vpdpbusd` (AVX512-VNNI + VL), which sums 4 byte products into an int32
/// lane in one instruction where AVX2 needs `maddubs` + `madd` or int16 adds.
#define PHI_TARGET_VNNI __attribute__((target("avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni")))
/// A format's `phi_x8_tiles`: its AVX2 (and VNNI) tiles where they are built, the scalar one everywhere.
#define PHI_X8_TILES(vector4, vector1, scalar) {vector4, vector1, scalar, NULL, NULL, {NULL}}
#define PHI_X8_TILES_VNNI(vector4, vector1, scalar, vnni4, vnni1) {vector4, vector1, scalar, vnni4, vnni1, {NULL}}
/// … with `pair` the name stem of its paired tiles for 1–4 tokens (`pair##_1` … `pair##_4`).
#define PHI_X8_TILES_VNNI_PAIR(vector4, vector1, scalar, vnni4, vnni1, pair)                                          \
    {vector4, vector1, scalar, vnni4, vnni1, {pair##_1, pair##_2, pair##_3, pair##_4}}
#else
#define PHI_X8_TILES(vector4, vector1, scalar) {NULL, NULL, scalar, NULL, NULL, {NULL}}
#define PHI_X8_TILES_VNNI(vector4, vector1, scalar, vnni4, vnni1) {NULL, NULL, scalar, NULL, NULL, {NULL}}
#define PHI_X8_TILES_VNNI_PAIR(vector4, vector1, scalar, vnni4, vnni1, pair) {NULL, NULL, scalar, NULL, NULL, {NULL}}
#endif

/// Prepares `n` activation rows of `x[n × k]` for `type` weights into `act` (rows `arb` bytes apart), over the
/// worker pool when `threaded` and the work is large enough.
void phi_internal_quantize_rows(uint32_t type, const float *x, int64_t n, int64_t k, uint8_t *act, size_t arb,
                                int threaded);

/// A prepared activation row for 32-value blocks (phi_quantize_act_row for Q4_0, Q8_0, …): quants (32 bytes per
/// block), per-group corrections, then the fp16-rounded scales at nb·64, the sums' scales, and the block corrections
/// (−offset·Σy) at nb·64 + 8·nb.
/// Bytes per block of that row (`phi_act_row_size` gives k / 32 of them).
#define PHI_ACT32_BLOCK_BYTES 76
static inline const float *phi_act32_scales(const uint8_t *act, int64_t nb) {
    return (const float *)(const void *)(act + nb * 64);
}
static inline const int32_t *phi_act32_corrections(const uint8_t *act, int64_t nb) {
    return (const int32_t *)(const void *)(phi_act32_scales(act, nb) + 2 * nb);
}

/// Blocks [b0, b0 + w) of a prepared 32-value activation row of `nb` blocks as a row of their own (`dst`, w ×
/// `PHI_ACT32_BLOCK_BYTES` bytes): every part of the layout is per block, so this is the row `phi_quantize_act_row`
/// gives for those values alone.
static inline void phi_act32_slice(const uint8_t *act, int64_t nb, int64_t b0, int64_t w, uint8_t *dst) {
    memcpy(dst, act + b0 * 32, (size_t)w * 32);                      // quants
    memcpy(dst + w * 32, act + nb * 32 + b0 * 32, (size_t)w * 32);   // per-group corrections
    for (int part = 0; part < 3; part++)                             // scales, sums' scales, block corrections
        memcpy(dst + w * 64 + part * w * 4, act + nb * 64 + part * nb * 4 + b0 * 4, (size_t)w * 4);
}

/// Q8_K activation block: ggml's block_q8_K.
typedef struct {
    float d;
    int8_t qs[256];
    int16_t bsums[16];
} phi_q8k;

/// Scale and min of sub-block j (0..7) from a Q4_K/Q5_K block's 12 packed bytes `q` (ggml's `get_scale_min_k4`).
static inline void phi_k4_scale_min(int j, const uint8_t *q, int *sc, int *m) {
    if (j < 4) {
        *sc = q[j] & 63;
        *m = q[j + 4] & 63;
    } else {
        *sc = (q[j + 4] & 0x0f) | ((q[j - 4] >> 6) << 4);
        *m = (q[j + 4] >> 4) | ((q[j] >> 6) << 4);
    }
}

/// Q4_K / Q5_K 8-row layouts (phi_q4_K_x8.c, phi_q5_K_x8.c) share their first 128 bytes per super-block, the file's
/// 8 × 16: d and dmin of the 8 rows (fp16) at 0 and 16, then the 64 six-bit scales and 64 six-bit mins. Unpacked, scale
/// index 8s + r is sub-block s of row r, and min index 16p + 2r + h is sub-block 2p + h of row r (so that widening 16
/// mins gives each row's int16 pair). Packed: the low 4 bits of scale i in byte 32 + (i mod 32) (low nibble for i < 32,
/// high nibble above), of min i likewise in byte 64 + (i mod 32); the top 2 bits of scale i and min i in byte
/// 96 + (i mod 32), at bits 0-1 / 2-3 (scale i < 32 / above) and 4-5 / 6-7 (min). Keeping ggml's size matters because
/// decode streams every byte: unpacked one byte per value (160 bytes) cost 2.8 % more traffic for Q4_K; unpacking
/// 8 rows at once takes 17 vector instructions per super-block, against ~300 for its products.
#define PHI_K4_X8_HEADER 128

/// Writes row r's d, dmin, scales and mins (from the file block `x`: d, dmin, then the 12 packed scale bytes).
/// Rows are written in order 0…7 (row 0 clears the shared bytes).
static inline void phi_k4_x8_pack_header(const uint8_t *x, int r, uint8_t *p) {
    if (r == 0) memset(p + 32, 0, PHI_K4_X8_HEADER - 32);
    for (int i = 0; i < 2; i++) {
        p[2 * r + i] = x[i];
        p[16 + 2 * r + i] = x[2 + i];
    }
    for (int s = 0; s < 8; s++) {
        int sc, m;
        phi_k4_scale_min(s, x + 4, &sc, &m);
        const int is = 8 * s + r, im = 16 * (s / 2) + 2 * r + (s & 1);
        p[32 + (is & 31)] |= (uint8_t)((sc & 15) << (4 * (is >> 5)));
        p[64 + (im & 31)] |= (uint8_t)((m & 15) << (4 * (im >> 5)));
        p[96 + (is & 31)] |= (uint8_t)((sc >> 4) << (2 * (is >> 5)));
        p[96 + (im & 31)] |= (uint8_t)((m >> 4) << (4 + 2 * (im >> 5)));
    }
}

/// The 64 scales (u[0, 64), index 8s + r) and 64 mins (u[64, 128), index 16p + 2r + h) of a super-block's header.
static inline void phi_k4_x8_unpack_header(const uint8_t *p, uint8_t u[128]) {
    for (int i = 0; i < 64; i++) {
        const int b = i & 31, half = i >> 5;
        u[i] = (uint8_t)(((p[32 + b] >> (4 * half)) & 15) | (((p[96 + b] >> (2 * half)) & 3) << 4));
        u[64 + i] = (uint8_t)(((p[64 + b] >> (4 * half)) & 15) | (((p[96 + b] >> (4 + 2 * half)) & 3) << 4));
    }
}

#ifdef PHI_X8_AVX2
/// Row r's scale of the sub-block at `p` in both int16 halves of lane r (for `madd` against the lane's int16 pair).
PHI_TARGET_AVX2 static inline __m256i phi_k4_x8_scale_pairs(const uint8_t *p) {
    const __m256i s = _mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)(const void *)p));
    return _mm256_or_si256(s, _mm256_slli_epi32(s, 16));
}

/// `phi_k4_x8_unpack_header`, 8 rows at once.
PHI_TARGET_AVX2 static inline void phi_k4_x8_unpack_header_avx2(const uint8_t *p, uint8_t u[128]) {
    const __m256i lo = _mm256_loadu_si256((const __m256i *)(const void *)(p + 32));
    const __m256i lom = _mm256_loadu_si256((const __m256i *)(const void *)(p + 64));
    const __m256i hi = _mm256_loadu_si256((const __m256i *)(const void *)(p + 96));
    const __m256i m4 = _mm256_set1_epi8(15), top = _mm256_set1_epi8(0x30);
    // 16-bit shifts: bits 4-5 of each byte come from the same byte's bits 0-1 / 2-3 / 6-7.
    _mm256_storeu_si256((__m256i *)(void *)u, _mm256_or_si256(_mm256_and_si256(lo, m4),
                                                              _mm256_and_si256(_mm256_slli_epi16(hi, 4), top)));
    _mm256_storeu_si256((__m256i *)(void *)(u + 32), _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(lo, 4), m4),
                                                                     _mm256_and_si256(_mm256_slli_epi16(hi, 2), top)));
    _mm256_storeu_si256((__m256i *)(void *)(u + 64), _mm256_or_si256(_mm256_and_si256(lom, m4), _mm256_and_si256(hi, top)));
    _mm256_storeu_si256((__m256i *)(void *)(u + 96), _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(lom, 4), m4),
                                                                     _mm256_and_si256(_mm256_srli_epi16(hi, 2), top)));
}

/// Cache lines per block that decode's 1-token VNNI tiles of Q4_0, Q8_0, Q4_K and Q6_K prefetch ahead: none, the
/// stream is left to the hardware prefetchers (their tiles of 2 tokens or more keep the prefetch). On the Zen 4 host, C
/// harness (two threads over 0.5-0.9 GB of packed weights, each tile with and without its prefetch in the same
/// rounds), fraction of the read probe in the ~60 GB/s stretches and at ~34 GB/s: Q4_0 0.927 → 0.951 (128 rounds) and
/// 1.008 → 1.017 (213); Q4_K 0.814 → 0.871 (6) and 0.962 → 0.973 (42); Q8_0 0.951 → 0.964 (9) and 0.967 → 0.994 (23);
/// Q6_K 0.851 → 0.953 (11) and 0.998 → 1.030 (15). Q5_K's tile read 0.890 → 0.695 at ~34 GB/s without its prefetch
/// and keeps it. `bench local`: README, "Measured".
#define PHI_DECODE_PREFETCH_LINES 0

/// The VNNI tile of the 32-value formats (Q4_0, Q8_0): 8 rows × T tokens (`out[8t + row]`) of a group whose blocks
/// are `GROUP_BLOCK` bytes (the 8 rows' fp16 scales, then the quants); `VECTOR(p, j)` is block `p`'s unsigned vector j
/// (0..7: lane r = 4 quants of row r) against the token's bytes 4j..4j+3. The block's Σ u·y accumulates in int32 from
/// the activation's stored correction cs (−offset·Σy), so it is the AVX2 tiles' integer and the float steps are
/// theirs: the same bits. Each token keeps two chains (even and odd vectors) so that the 8 dependent `vpdpbusd` of a
/// block do not wait on each other's latency. Prefetch: `PREFETCH_LINES` cache lines `AHEAD` blocks ahead.
#define PHI_X8_BLOCK32_TILE_VNNI(NAME, T, GROUP_BLOCK, AHEAD, PREFETCH_LINES, VECTOR)                              \
    PHI_TARGET_VNNI static void NAME(const uint8_t *group, const uint8_t *const *act, int64_t nb, float *out) {      \
        const float *ds[T];                                                                                          \
        const int32_t *cs[T];                                                                                        \
        __m256 acc[T];                                                                                               \
        for (int t = 0; t < T; t++) {                                                                                \
            ds[t] = phi_act32_scales(act[t], nb);                                                                    \
            cs[t] = phi_act32_corrections(act[t], nb);                                                               \
            acc[t] = _mm256_loadu_ps(out + 8 * t); /* from the previous k-slice's sums, or zeros */                    \
        }                                                                                                            \
        for (int64_t b = 0; b < nb; b++) {                                                                           \
            const uint8_t *p = group + (size_t)b * (GROUP_BLOCK);                                                    \
            for (int c = 0; c < (PREFETCH_LINES); c++)                                                               \
                _mm_prefetch((const char *)(p + (AHEAD) * (GROUP_BLOCK) + 64 * c), _MM_HINT_T0);                     \
            __m256i s[T], s2[T];                                                                                     \
            for (int t = 0; t < T; t++) {                                                                            \
                s[t] = _mm256_set1_epi32(cs[t][b]);                                                                  \
                s2[t] = _mm256_setzero_si256();                                                                      \
            }                                                                                                        \
            for (int j = 0; j < 8; j++) {                                                                            \
                const __m256i u = VECTOR(p, j);                                                                      \
                for (int t = 0; t < T; t++) {                                                                        \
                    int32_t y4;                                                                                      \
                    memcpy(&y4, act[t] + b * 32 + 4 * j, 4);                                                         \
                    if (j & 1) s2[t] = _mm256_dpbusd_epi32(s2[t], u, _mm256_set1_epi32(y4));                         \
                    else s[t] = _mm256_dpbusd_epi32(s[t], u, _mm256_set1_epi32(y4));                                 \
                }                                                                                                    \
            }                                                                                                        \
            for (int t = 0; t < T; t++) s[t] = _mm256_add_epi32(s[t], s2[t]);                                        \
            const __m256 dw = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(const void *)p));                    \
            for (int t = 0; t < T; t++)                                                                              \
                acc[t] = _mm256_fmadd_ps(_mm256_mul_ps(dw, _mm256_broadcast_ss(ds[t] + b)), _mm256_cvtepi32_ps(s[t]), \
                                         acc[t]);                                                                    \
        }                                                                                                            \
        for (int t = 0; t < T; t++) _mm256_storeu_ps(out + 8 * t, acc[t]);                                           \
    }

/// Two groups' 8 floats (a[0..7], b[0..7]) in one 512-bit register, and back.
PHI_TARGET_VNNI static inline __m512 phi_x8_join(const float *a, const float *b) {
    return _mm512_castpd_ps(_mm512_insertf64x4(_mm512_castpd256_pd512(_mm256_castps_pd(_mm256_loadu_ps(a))),
                                               _mm256_castps_pd(_mm256_loadu_ps(b)), 1));
}
PHI_TARGET_VNNI static inline void phi_x8_split(__m512 v, float *a, float *b) {
    _mm256_storeu_ps(a, _mm512_castps512_ps256(v));
    _mm256_storeu_ps(b, _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(v), 1)));
}

/// `PHI_X8_BLOCK32_TILE_VNNI` for T tokens (1–4) over two groups at once (`ga`, `gb`, each in the 1-group layout;
/// sums from and into `outa` / `outb`, `[8t + row]` each): vector j of both groups side by side in one 512-bit
/// register, so each `vpdpbusd` and each broadcast of a token's 4 bytes serves 16 rows. Every (row, token) gets the
/// 1-group tile's integers and float steps, so the same bits. Why: the 1-group 4-token tile runs at ~19 GB/s of
/// weights on the Zen 4 host (~28 cycles a block for its 32 `vpdpbusd`, which can issue in 16), this one at ~25 GB/s
/// (C harness, weights in L2); prefill and batched decode are bound by it.
#define PHI_X8_BLOCK32_TILE_VNNI_PAIR(NAME, T, GROUP_BLOCK, AHEAD, PREFETCH_LINES, VECTOR)                             \
    PHI_TARGET_VNNI static void NAME(const uint8_t *ga, const uint8_t *gb, const uint8_t *const *act, int64_t nb,     \
                                     float *outa, float *outb) {                                                     \
        const float *ds[T];                                                                                          \
        const int32_t *cs[T];                                                                                        \
        __m512 acc[T];                                                                                               \
        for (int t = 0; t < T; t++) {                                                                                \
            ds[t] = phi_act32_scales(act[t], nb);                                                                    \
            cs[t] = phi_act32_corrections(act[t], nb);                                                               \
            acc[t] = phi_x8_join(outa + 8 * t, outb + 8 * t);                                                        \
        }                                                                                                            \
        for (int64_t b = 0; b < nb; b++) {                                                                           \
            const uint8_t *pa = ga + (size_t)b * (GROUP_BLOCK), *pb = gb + (size_t)b * (GROUP_BLOCK);                \
            for (int c = 0; c < (PREFETCH_LINES); c++) {                                                             \
                _mm_prefetch((const char *)(pa + (AHEAD) * (GROUP_BLOCK) + 64 * c), _MM_HINT_T0);                    \
                _mm_prefetch((const char *)(pb + (AHEAD) * (GROUP_BLOCK) + 64 * c), _MM_HINT_T0);                    \
            }                                                                                                        \
            __m512i s[T], s2[T];                                                                                     \
            for (int t = 0; t < T; t++) {                                                                            \
                s[t] = _mm512_set1_epi32(cs[t][b]);                                                                  \
                s2[t] = _mm512_setzero_si512();                                                                      \
            }                                                                                                        \
            _Pragma("clang loop unroll(full)") for (int j = 0; j < 8; j++) {                                         \
                const __m512i u = _mm512_inserti64x4(_mm512_castsi256_si512(VECTOR(pa, j)), VECTOR(pb, j), 1);       \
                _Pragma("clang loop unroll(full)") for (int t = 0; t < T; t++) {                                     \
                    int32_t y4;                                                                                      \
                    memcpy(&y4, act[t] + b * 32 + 4 * j, 4);                                                         \
                    if (j & 1) s2[t] = _mm512_dpbusd_epi32(s2[t], u, _mm512_set1_epi32(y4));                         \
                    else s[t] = _mm512_dpbusd_epi32(s[t], u, _mm512_set1_epi32(y4));                                 \
                }                                                                                                    \
            }                                                                                                        \
            const __m512 dw = _mm512_cvtph_ps(_mm256_inserti128_si256(                                               \
                _mm256_castsi128_si256(_mm_loadu_si128((const __m128i *)(const void *)pa)),                          \
                _mm_loadu_si128((const __m128i *)(const void *)pb), 1));                                             \
            for (int t = 0; t < T; t++)                                                                              \
                acc[t] = _mm512_fmadd_ps(_mm512_mul_ps(dw, _mm512_set1_ps(ds[t][b])),                                \
                                         _mm512_cvtepi32_ps(_mm512_add_epi32(s[t], s2[t])), acc[t]);                 \
        }                                                                                                            \
        for (int t = 0; t < T; t++) phi_x8_split(acc[t], outa + 8 * t, outb + 8 * t);                               \
    }

/// VNNI tiles of Q4_K / Q5_K: vector v of chunk j (`lo`: sub-block 2j, `hi`: 2j+1, one row per int32 lane) against
/// token `a`'s 4 matching bytes of each sub-block, added into the rows' int32 sums `even` and `odd`.
PHI_TARGET_VNNI static inline void phi_k4_x8_dot_vnni(const phi_q8k *a, int j, int v, __m256i lo, __m256i hi,
                                                      __m256i *even, __m256i *odd) {
    int32_t y0, y1;
    memcpy(&y0, a->qs + 64 * j + 4 * v, 4);
    memcpy(&y1, a->qs + 64 * j + 32 + 4 * v, 4);
    *even = _mm256_dpbusd_epi32(*even, lo, _mm256_set1_epi32(y0));
    *odd = _mm256_dpbusd_epi32(*odd, hi, _mm256_set1_epi32(y1));
}

/// Chunk j's two sub-block sums of 8 rows times the rows' unpacked scales (`u[8s + r]`): one `vpmulld` each.
PHI_TARGET_VNNI static inline __m256i phi_k4_x8_scaled_vnni(const uint8_t *u, int j, __m256i even, __m256i odd) {
    const __m256i se = _mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)(const void *)(u + 16 * j)));
    const __m256i so = _mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)(const void *)(u + 16 * j + 8)));
    return _mm256_add_epi32(_mm256_mullo_epi32(even, se), _mm256_mullo_epi32(odd, so));
}

/// The K-quant VNNI tiles (Q4_K, Q5_K) for T tokens (1–4) over two groups at once (`ga`, `gb`: results into `outa`,
/// `outb`, `[8t + row]`), as `PHI_X8_BLOCK32_TILE_VNNI_PAIR` does for the 32-value formats: `LOHI(p, u, j, v, lo,
/// hi)` gives one group's vectors as its 1-group tile builds them, and both groups' sit side by side in a 512-bit
/// register, so each `vpdpbusd` and broadcast serves 16 rows; scales, mins and float steps stay per group. The same
/// integers and float steps, so the same bits. `PREFETCH(p)` prefetches one group's next super-block chunk.
#define PHI_K4_X8_TILE_VNNI_PAIR(NAME, T, GROUP_BLOCK, PREFETCH, LOHI)                                              \
    PHI_TARGET_VNNI static void NAME(const uint8_t *ga, const uint8_t *gb, const uint8_t *const *bytes, int64_t nb,  \
                                     float *outa, float *outb) {                                                     \
        const phi_q8k *act[T];                                                                                       \
        for (int t = 0; t < T; t++) act[t] = (const phi_q8k *)(const void *)bytes[t];                                \
        __m256 acca[T], accma[T], accb[T], accmb[T];                                                                 \
        for (int t = 0; t < T; t++) acca[t] = accma[t] = accb[t] = accmb[t] = _mm256_setzero_ps();                   \
        for (int64_t b = 0; b < nb; b++) {                                                                           \
            const uint8_t *pa = ga + (size_t)b * (GROUP_BLOCK), *pb = gb + (size_t)b * (GROUP_BLOCK);                \
            uint8_t ua[128] __attribute__((aligned(32))), ub[128] __attribute__((aligned(32)));                      \
            phi_k4_x8_unpack_header_avx2(pa, ua);                                                                    \
            phi_k4_x8_unpack_header_avx2(pb, ub);                                                                    \
            __m512i isum[T];                                                                                         \
            for (int j = 0; j < 4; j++) {                                                                            \
                PREFETCH(pa, j);                                                                                     \
                PREFETCH(pb, j);                                                                                     \
                __m512i even[T], odd[T];                                                                             \
                for (int t = 0; t < T; t++) even[t] = odd[t] = _mm512_setzero_si512();                               \
                _Pragma("clang loop unroll(full)") for (int v = 0; v < 8; v++) {                                     \
                    __m256i loa, hia, lob, hib;                                                                      \
                    LOHI(pa, j, v, loa, hia);                                                                        \
                    LOHI(pb, j, v, lob, hib);                                                                        \
                    const __m512i lo = _mm512_inserti64x4(_mm512_castsi256_si512(loa), lob, 1);                      \
                    const __m512i hi = _mm512_inserti64x4(_mm512_castsi256_si512(hia), hib, 1);                      \
                    _Pragma("clang loop unroll(full)") for (int t = 0; t < T; t++) {                                 \
                        int32_t y0, y1;                                                                              \
                        memcpy(&y0, act[t][b].qs + 64 * j + 4 * v, 4);                                               \
                        memcpy(&y1, act[t][b].qs + 64 * j + 32 + 4 * v, 4);                                          \
                        even[t] = _mm512_dpbusd_epi32(even[t], lo, _mm512_set1_epi32(y0));                           \
                        odd[t] = _mm512_dpbusd_epi32(odd[t], hi, _mm512_set1_epi32(y1));                             \
                    }                                                                                                \
                }                                                                                                    \
                const __m512i se = phi_k4_x8_join_scales(ua + 16 * j, ub + 16 * j);                                  \
                const __m512i so = phi_k4_x8_join_scales(ua + 16 * j + 8, ub + 16 * j + 8);                          \
                for (int t = 0; t < T; t++) {                                                                        \
                    const __m512i s = _mm512_add_epi32(_mm512_mullo_epi32(even[t], se), _mm512_mullo_epi32(odd[t], so)); \
                    isum[t] = j == 0 ? s : _mm512_add_epi32(isum[t], s);                                             \
                }                                                                                                    \
            }                                                                                                        \
            for (int t = 0; t < T; t++) {                                                                            \
                phi_k4_x8_finish(pa, ua + 64, &act[t][b], _mm512_castsi512_si256(isum[t]), &acca[t], &accma[t]);     \
                phi_k4_x8_finish(pb, ub + 64, &act[t][b], _mm512_extracti64x4_epi64(isum[t], 1), &accb[t], &accmb[t]); \
            }                                                                                                        \
        }                                                                                                            \
        for (int t = 0; t < T; t++) {                                                                                \
            _mm256_storeu_ps(outa + 8 * t, _mm256_sub_ps(acca[t], accma[t]));                                        \
            _mm256_storeu_ps(outb + 8 * t, _mm256_sub_ps(accb[t], accmb[t]));                                        \
        }                                                                                                            \
    }

/// Two groups' 8 unpacked scales of one sub-block (`ua`, `ub`), widened to int32 side by side.
PHI_TARGET_VNNI static inline __m512i phi_k4_x8_join_scales(const uint8_t *ua, const uint8_t *ub) {
    return _mm512_inserti64x4(
        _mm512_castsi256_si512(_mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)(const void *)ua))),
        _mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)(const void *)ub)), 1);
}

/// A super-block's float steps for 8 rows and one token: msum = Σ_s min_rs · (bsums[2s] + bsums[2s+1]) with the
/// unpacked `mins`, then acc = fma(d_r · d_t, isum, acc) and accm = fma(dmin_r · d_t, msum, accm).
PHI_TARGET_AVX2 static inline void phi_k4_x8_finish(const uint8_t *p, const uint8_t *mins, const phi_q8k *a,
                                                    __m256i isum, __m256 *acc, __m256 *accm) {
    const __m256 d = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(const void *)p));
    const __m256 dmin = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(const void *)(p + 16)));
    // S_s = bsums[2s] + bsums[2s+1]; pair q = (S_2q, S_2q+1) broadcast to every row's lane.
    const __m128i S = _mm_hadd_epi16(_mm_loadu_si128((const __m128i *)(const void *)a->bsums),
                                     _mm_loadu_si128((const __m128i *)(const void *)(a->bsums + 8)));
    __m256i msum = _mm256_setzero_si256();
    for (int q = 0; q < 4; q++) {
        const __m256i m = _mm256_cvtepu8_epi16(_mm_loadu_si128((const __m128i *)(const void *)(mins + 16 * q)));
        const __m128i pair = q == 0 ? S : q == 1 ? _mm_shuffle_epi32(S, 0x55) : q == 2 ? _mm_shuffle_epi32(S, 0xAA)
                                                                                      : _mm_shuffle_epi32(S, 0xFF);
        msum = _mm256_add_epi32(msum, _mm256_madd_epi16(m, _mm256_broadcastd_epi32(pair)));
    }
    const __m256 ad = _mm256_set1_ps(a->d);
    *acc = _mm256_fmadd_ps(_mm256_mul_ps(d, ad), _mm256_cvtepi32_ps(isum), *acc);
    *accm = _mm256_fmadd_ps(_mm256_mul_ps(dmin, ad), _mm256_cvtepi32_ps(msum), *accm);
}
#endif

/// What a format's kernels compute: groups [g0, g1) of 8 rows × tokens [0, n), `y[t·ldy + row] = Σ + bias[row]`.
typedef struct {
    int level;
    const uint8_t *packed;
    int64_t nb;  // blocks per row
    const uint8_t *act;
    size_t arb;
    int64_t n;
    const float *bias;
    float *y;
    int64_t ldy;
    int64_t groups;            // of the whole matrix (for the slices' offsets)
    int64_t slices;            // k-slices of the layout (`phi_x8_slice_count`); 1: plain
    const uint8_t *slice_act;  // slices > 1: slice s of token t's activation at slice_act + (s·n + t)·slice_arb, or
                               // NULL: copied per tile call (a prefill call whose `range` fell back to the tiles)
    size_t slice_arb;
    int activation;  // PHI_ACTIVATION_*, applied by `phi_x8_activate`
} phi_x8_range;

/// A format's kernels for one group of 8 rows: `vector4` / `vector1` (AVX2; NULL where not built) for 4 tokens / 1
/// token (`out[8t + row]`), `scalar` for one token, and `vnni4` / `vnni1` (the AVX-512 level's; NULL: the AVX2
/// tiles run there too). Every path computes the same integers and float steps, so all agree bit for bit. The
/// tiles of a format with `slice_blocks` start their sums from `out` (zeros, or the previous k-slice's sums), so a
/// row cut into slices is summed in the same order as a whole one; the others overwrite `out`.
typedef struct {
    void (*vector4)(const uint8_t *group, const uint8_t *const *act, int64_t nb, float *out);
    void (*vector1)(const uint8_t *group, const uint8_t *const *act, int64_t nb, float *out);
    void (*scalar)(const uint8_t *group, const uint8_t *act, int64_t nb, float *out);
    void (*vnni4)(const uint8_t *group, const uint8_t *const *act, int64_t nb, float *out);
    void (*vnni1)(const uint8_t *group, const uint8_t *const *act, int64_t nb, float *out);
    /// The VNNI tiles over two groups at once for 1–4 tokens (`vnni_pair[tokens - 1]`; `outa`, `outb`: each group's
    /// `out`), the same bits as the 1-group tiles; NULL: one group at a time.
    void (*vnni_pair[4])(const uint8_t *ga, const uint8_t *gb, const uint8_t *const *act, int64_t nb, float *outa,
                         float *outb);
} phi_x8_tiles;

/// A weight type's 8-row layout (phi_packed8.c drives it).
typedef struct {
    int64_t block_values;  // values per block (32, 256)
    size_t file_block;     // bytes per block in the file
    size_t group_block;    // bytes per block of 8 rows packed
    /// Packs block `b` of the 8 rows (`rows[r]` = row r's first byte) into `dst`.
    void (*pack_block)(const uint8_t *const rows[8], int64_t b, uint8_t *dst);
    /// Rearranges `n` prepared activation rows for the kernels (NULL: used as prepared).
    void (*prepare_activations)(uint8_t *act, int64_t n, size_t arb, int64_t nb);
    /// The group kernels, run by `phi_x8_run_tiles`, or
    phi_x8_tiles tiles;
    /// a range function of the format's own (NULL: `phi_x8_run_tiles` with `tiles`).
    void (*range)(const phi_x8_range *r, int64_t g0, int64_t g1);
    /// Rows of more blocks than this are packed in k-slices (0: never; only 32-value formats, whose tiles carry).
    int64_t slice_blocks;
    /// From this many tokens on, at the AVX2 level, `range` sums whole rows against the whole activation and needs no
    /// per-slice copies of it (0: never).
    int64_t whole_rows_tokens;
} phi_x8_format;

/// The 32-value formats' longest slice: 96 blocks (3,072 values: phi-3-mini's k = 3,072 rows stay whole, its ffn_down
/// is 3 slices of 85–86 blocks, phi-2's fc2 4 of 80).
#define PHI_X8_SLICE_BLOCKS 96
/// Bytes of one token's activation for the longest slice (`phi_act32_slice`).
#define PHI_X8_SLICE_ACT_MAX (PHI_X8_SLICE_BLOCKS * PHI_ACT32_BLOCK_BYTES)

/// How many k-slices a row of `nb` blocks is packed in: rows longer than `slice_blocks` are cut into equal slices of
/// at most that many blocks. Why: a decode tile reads its whole activation row once per 8 weight rows, and for a
/// long row (phi-2's fc2: 10,240 values, 12.8 KB of activation, 46 KB of weights per 8 rows) the weights streaming
/// through the 32 KB L1 between two reads of an activation line evict it every time.
static inline int64_t phi_x8_slice_count(const phi_x8_format *f, int64_t nb) {
    return f->slice_blocks > 0 && nb > f->slice_blocks ? (nb + f->slice_blocks - 1) / f->slice_blocks : 1;
}
/// First block of slice s (slice s holds blocks [start(s), start(s + 1))).
static inline int64_t phi_x8_slice_start(int64_t nb, int64_t slices, int64_t s) { return nb * s / slices; }
/// Byte offset of group g's part of slice s in a matrix of `groups` groups: slice-major, so that one slice of
/// consecutive groups is one contiguous stream (with one slice this is g·nb·group_block, the plain layout).
static inline size_t phi_x8_slice_offset(int64_t groups, int64_t nb, int64_t slices, int64_t s, int64_t g,
                                         size_t group_block) {
    const int64_t start = phi_x8_slice_start(nb, slices, s);
    const int64_t width = phi_x8_slice_start(nb, slices, s + 1) - start;
    return (size_t)(groups * start + g * width) * group_block;
}

extern const phi_x8_format phi_x8_q4_0;
extern const phi_x8_format phi_x8_q8_0;
extern const phi_x8_format phi_x8_q4_K;
extern const phi_x8_format phi_x8_q5_K;
extern const phi_x8_format phi_x8_q6_K;

/// Groups [g0, g1) × every token through `tiles`: 4 tokens at a time, then one (the AVX2 tiles when the level has
/// them), slice by slice for a k-sliced layout (sums carried in `y`), each result plus bias into `y`.
void phi_x8_run_tiles(const phi_x8_range *r, int64_t g0, int64_t g1, size_t group_block, const phi_x8_tiles *tiles);

/// Writes `out[8i + row]` (+ bias) for tokens t..t+tokens of group g.
void phi_x8_store(const phi_x8_range *r, int64_t g, int64_t t, int tokens, const float *out);
/// Applies the range's activation to rows [8·g0, 8·g1) of every token, once they are all stored.
void phi_x8_activate(const phi_x8_range *r, int64_t g0, int64_t g1);
/// `phi_gelu_tanh`'s function on `n` floats, on the calling thread: the same bits as `phi_gelu_tanh` gives them where
/// `n` is a multiple of 8 (its vector path) or on a scalar-only machine.
void phi_internal_gelu_tanh(float *x, int64_t n);
/// Counts one decode claim split in flight (`phi_pool_counters.steals`; phi_pool.c).
void phi_internal_count_steal(void);
/// An attention call's work items (phi_attention.c): (head, block of up to 4 queries), as `phi_attention` claims them.
int64_t phi_internal_attention_items(const phi_attention_call *c);
/// Floats of the `scores` buffer `phi_internal_attention_item` needs for `c`.
int64_t phi_internal_attention_scores(const phi_attention_call *c);
/// Item `item` of one attention call on the calling thread, exactly as `phi_attention` computes it.
void phi_internal_attention_item(const phi_attention_call *c, int64_t item, float *scores);

#if defined(__x86_64__) || defined(__i386__)
/// 8 weight rows already unpacked to bytes (`rep`: per block 8 vectors, byte 4r+i of vector j = quant 4j+i of row
/// r; `dws`: per block the 8 rows' scales) against `tokens` (1 or 4) prepared Q4_0 activation rows: `out[8t + r]`.
/// Needs AVX2.
void phi_internal_repacked_q4_0_avx2(const void *rep, const float *dws, const uint8_t *const *act, int64_t nb,
                                     int tokens, float *out);
#endif

#endif
