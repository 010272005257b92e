// Quantized matrix products reproducing ggml-cpu's `quantize_row_q8_0/q8_1/q8_K` and `ggml_vec_dot_*_q8_*`
// semantics (integer dot products per block, fp16 block scales), F16/BF16/F32 weights converted on the fly.
// Portable scalar reference, AVX2/FMA/F16C and AVX-512 VNNI paths chosen at run time.
#include "phi_quant.h"
#include "phi_kernels.h"
#include "phi_quant_internal.h"

#include <math.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#define QK 32
#define QKK 256
#define ACT32_BLOCK 64  // per block: qs[32] (quant region) + corr[8] int32 (correction region)
_Static_assert(ACT32_BLOCK + 12 == PHI_ACT32_BLOCK_BYTES, "prepared 32-value row: 64 + three 4-byte parts per block");

// (phi_q8k, ggml's block_q8_K, is in phi_quant_internal.h.)

static inline uint16_t rd16(const uint8_t *p) {
    uint16_t v;
    memcpy(&v, p, 2);
    return v;
}
static inline float f16f(const uint8_t *p) { return phi_f16_to_f32(rd16(p)); }
static inline float round_f16(float x) { return phi_f16_to_f32(phi_f32_to_f16(x)); }

// MARK: - Type geometry

static int is_block32(uint32_t t) {
    return t == PHI_TYPE_Q4_0 || t == PHI_TYPE_Q4_1 || t == PHI_TYPE_Q5_0 || t == PHI_TYPE_Q5_1 || t == PHI_TYPE_Q8_0;
}
static int is_kquant(uint32_t t) { return t == PHI_TYPE_Q4_K || t == PHI_TYPE_Q5_K || t == PHI_TYPE_Q6_K; }
static int is_float(uint32_t t) { return t == PHI_TYPE_F32 || t == PHI_TYPE_F16 || t == PHI_TYPE_BF16; }

int phi_quant_supported(uint32_t type) { return is_block32(type) || is_kquant(type) || is_float(type); }

// Offset that makes a weight quant unsigned (VNNI path): stored u8 = q + offset.
static int weight_offset(uint32_t t) {
    switch (t) {
    case PHI_TYPE_Q4_0: return 8;
    case PHI_TYPE_Q5_0: return 16;
    case PHI_TYPE_Q8_0: return 128;
    default: return 0;
    }
}

size_t phi_act_row_size(uint32_t type, int64_t k) {
    if (k < 0) return 0;
    if (is_block32(type)) return k % QK ? 0 : (size_t)(k / QK) * (ACT32_BLOCK + 12);
    if (is_kquant(type)) return k % QKK ? 0 : (size_t)(k / QKK) * sizeof(phi_q8k);
    if (is_float(type)) return (size_t)k * sizeof(float);
    return 0;
}

// MARK: - CPU levels

#if defined(__x86_64__) || defined(__i386__)
#define PHI_X86 1
#include <cpuid.h>
#include <immintrin.h>
#define T_AVX2 __attribute__((target("avx2,fma,f16c")))
#define T_AVX512 __attribute__((target("avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni")))

static int detect_level(void) {
    unsigned a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d)) return 0;
    const int avx = (c >> 28) & 1, fma = (c >> 12) & 1, f16c = (c >> 29) & 1, osxsave = (c >> 27) & 1;
    if (!osxsave || !avx || !fma || !f16c) return 0;
    unsigned lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    (void)hi;
    if ((lo & 0x6) != 0x6) return 0;  // XMM + YMM state
    if (!__get_cpuid_count(7, 0, &a, &b, &c, &d)) return 0;
    if (!((b >> 5) & 1)) return 0;  // AVX2
    const int f = (b >> 16) & 1, bw = (b >> 30) & 1, vl = (b >> 31) & 1, vnni = (c >> 11) & 1;
    if (f && bw && vl && vnni && (lo & 0xe0) == 0xe0) return PHI_LEVEL_AVX512;  // opmask, ZMM_Hi256, Hi16_ZMM
    return PHI_LEVEL_AVX2;
}

// Extensions used beside the AVX-512 level when the CPU has them (the OS state is the level's): VBMI (vpermb) and
// GFNI (gf2p8affineqb), as PHI_EXTENSION_* bits.
static int detect_extensions(void) {
    unsigned a, b, c, d;
    if (!__get_cpuid_count(7, 0, &a, &b, &c, &d)) return 0;
    return (((c >> 1) & 1) ? PHI_EXTENSION_VBMI : 0) | (((c >> 8) & 1) ? PHI_EXTENSION_GFNI : 0);
}
#else
static int detect_level(void) { return 0; }
static int detect_extensions(void) { return 0; }
#endif

static int extension_mask = PHI_EXTENSION_VBMI | PHI_EXTENSION_GFNI;

static int detected_extensions(void) {
    static int cached = -1;
    int v = __atomic_load_n(&cached, __ATOMIC_RELAXED);
    if (v < 0) {
        v = detect_extensions();
        __atomic_store_n(&cached, v, __ATOMIC_RELAXED);
    }
    return v;
}

int phi_quant_extensions(void) { return detected_extensions() & __atomic_load_n(&extension_mask, __ATOMIC_RELAXED); }

int phi_quant_set_extension_mask(int mask) { return __atomic_exchange_n(&extension_mask, mask, __ATOMIC_RELAXED); }

static int has_vbmi(void) { return (phi_quant_extensions() & PHI_EXTENSION_VBMI) != 0; }
static int has_gfni(void) { return (phi_quant_extensions() & PHI_EXTENSION_GFNI) != 0; }

static int detected_level = -1;
static int level_cap = 2;

int phi_quant_detected_level(void) {
    int l = __atomic_load_n(&detected_level, __ATOMIC_RELAXED);
    if (l < 0) {
        l = detect_level();
        const char *env = getenv("PHI_FORCE_SCALAR");
        if (env && env[0] == '1') __atomic_store_n(&level_cap, 0, __ATOMIC_RELAXED);
        __atomic_store_n(&detected_level, l, __ATOMIC_RELAXED);
    }
    return l;
}

int phi_quant_level(void) {
    int l = phi_quant_detected_level();
    if (!phi_simd_enabled()) return 0;
    int cap = __atomic_load_n(&level_cap, __ATOMIC_RELAXED);
    return l < cap ? l : cap;
}

int phi_quant_set_level_cap(int cap) {
    (void)phi_quant_detected_level();
    return __atomic_exchange_n(&level_cap, cap, __ATOMIC_RELAXED);
}

// MARK: - Activation quantization (scalar; exact same bits on every path)

#ifdef PHI_X86
// The same rounding as the scalar loop below, 8 lanes at a time: the same products `x·id`, rounded to nearest even
// (what `nearbyintf` does in the default mode), the same integer sums. Decode quantizes every matmul's input on
// the calling thread while the pool waits, and the scalar loop called libm's `nearbyintf` once per value.
T_AVX2 static void quantize_act32_avx2(int off, const float *x, uint8_t *dst, int64_t nb) {
    float *ds = (float *)(void *)(dst + nb * ACT32_BLOCK);
    float *sds = ds + nb;
    int32_t *corrsum = (int32_t *)(void *)(sds + nb);
    const __m256 sign = _mm256_set1_ps(-0.0f);
    for (int64_t b = 0; b < nb; b++, x += QK) {
        __m256 v[4], m = _mm256_setzero_ps();
        for (int i = 0; i < 4; i++) {
            v[i] = _mm256_loadu_ps(x + 8 * i);
            m = _mm256_max_ps(_mm256_andnot_ps(sign, v[i]), m);  // a NaN value is skipped, as in the scalar loop
        }
        __m128 h = _mm_max_ps(_mm256_castps256_ps128(m), _mm256_extractf128_ps(m, 1));
        h = _mm_max_ps(h, _mm_movehl_ps(h, h));
        h = _mm_max_ss(h, _mm_movehdup_ps(h));
        const float amax = _mm_cvtss_f32(h);
        const float d = amax / 127.f;
        const float id = amax != 0.0f ? 127.f / amax : 0.0f;
        const __m256 vid = _mm256_set1_ps(id);
        __m256i q[4];
        for (int i = 0; i < 4; i++)
            q[i] = _mm256_cvtps_epi32(_mm256_round_ps(_mm256_mul_ps(v[i], vid), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
        // int32 → int8 in order (packs interleave 128-bit lanes; the permute restores element order).
        const __m256i p16a = _mm256_packs_epi32(q[0], q[1]), p16b = _mm256_packs_epi32(q[2], q[3]);
        const __m256i p8 = _mm256_permutevar8x32_epi32(_mm256_packs_epi16(p16a, p16b), _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
        _mm256_storeu_si256((__m256i *)(void *)(dst + b * QK), p8);
        // Sums of each group of 4 (one int32 per group, in order), then the block's sum.
        const __m256i g01 = _mm256_hadd_epi32(q[0], q[1]), g23 = _mm256_hadd_epi32(q[2], q[3]);
        const __m256i g = _mm256_permutevar8x32_epi32(_mm256_hadd_epi32(g01, g23), _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
        _mm256_storeu_si256((__m256i *)(void *)(dst + nb * QK + b * QK), _mm256_mullo_epi32(g, _mm256_set1_epi32(-off)));
        __m128i s4 = _mm_add_epi32(_mm256_castsi256_si128(g), _mm256_extracti128_si256(g, 1));
        s4 = _mm_add_epi32(s4, _mm_shuffle_epi32(s4, 0x4E));
        s4 = _mm_add_epi32(s4, _mm_shuffle_epi32(s4, 0xB1));
        const int sum = _mm_cvtsi128_si32(s4);
        ds[b] = d;
        sds[b] = d * (float)sum;
        corrsum[b] = -off * sum;
    }
    // Both scales rounded to half precision afterwards, 8 at a time with F16C (round to nearest even, as
    // `phi_f32_to_f16`): a call per value to the portable conversions was ~a quarter of decode's quantizing.
    int64_t b = 0;
    for (; b + 8 <= nb; b += 8) {
        _mm256_storeu_ps(ds + b, _mm256_cvtph_ps(_mm256_cvtps_ph(_mm256_loadu_ps(ds + b), _MM_FROUND_TO_NEAREST_INT)));
        _mm256_storeu_ps(sds + b, _mm256_cvtph_ps(_mm256_cvtps_ph(_mm256_loadu_ps(sds + b), _MM_FROUND_TO_NEAREST_INT)));
    }
    for (; b < nb; b++) {
        ds[b] = round_f16(ds[b]);
        sds[b] = round_f16(sds[b]);
    }
}
#endif

static void quantize_act32(uint32_t type, const float *x, uint8_t *dst, int64_t k) {
    const int64_t nb = k / QK;
#ifdef PHI_X86
    if (phi_quant_level() >= PHI_LEVEL_AVX2) {
        quantize_act32_avx2(weight_offset(type), x, dst, nb);
        return;
    }
#endif
    float *ds = (float *)(void *)(dst + nb * ACT32_BLOCK);
    float *sds = ds + nb;
    int32_t *corrsum = (int32_t *)(void *)(sds + nb);
    const int off = weight_offset(type);
    for (int64_t b = 0; b < nb; b++, x += QK) {
        float amax = 0;
        for (int j = 0; j < QK; j++) {
            const float a = fabsf(x[j]);
            amax = a > amax ? a : amax;
        }
        const float d = amax / 127.f;
        const float id = amax != 0.0f ? 127.f / amax : 0.0f;
        int8_t *qs = (int8_t *)(dst + b * QK);
        int32_t corr[8];
        int sum = 0;
        for (int g = 0; g < 8; g++) {
            int gs = 0;
            for (int j = 4 * g; j < 4 * g + 4; j++) {
                const int q = (int)nearbyintf(x[j] * id);
                qs[j] = (int8_t)q;
                gs += q;
            }
            corr[g] = -off * gs;
            sum += gs;
        }
        memcpy(dst + nb * QK + b * QK, corr, sizeof corr);
        ds[b] = round_f16(d);
        sds[b] = round_f16(d * (float)sum);
        corrsum[b] = -off * sum;
    }
}

#ifdef PHI_X86
// The scalar loop below, 8 lanes at a time, to the same bits: the first value of the largest magnitude (NaNs
// skipped), the same products rounded to nearest even, the same clamp and integer sums. K-quant decode quantizes
// every input on the calling thread while the pool waits, and the scalar loop called libm's `nearbyintf` per value.
T_AVX2 static void quantize_act_k_avx2(const float *x, phi_q8k *y, int64_t k) {
    const __m256 sign = _mm256_set1_ps(-0.0f);
    for (int64_t i = 0; i < k / QKK; i++, x += QKK) {
        __m256 m = _mm256_setzero_ps();
        for (int j = 0; j < QKK; j += 8) m = _mm256_max_ps(_mm256_andnot_ps(sign, _mm256_loadu_ps(x + j)), m);
        __m128 h = _mm_max_ps(_mm256_castps256_ps128(m), _mm256_extractf128_ps(m, 1));
        h = _mm_max_ps(h, _mm_movehl_ps(h, h));
        h = _mm_max_ss(h, _mm_movehdup_ps(h));
        const float amax = _mm_cvtss_f32(h);
        if (amax == 0) {
            memset(&y[i], 0, sizeof y[i]);
            continue;
        }
        float max = 0;
        for (int j = 0; j < QKK; j++)
            if (fabsf(x[j]) == amax) {
                max = x[j];
                break;
            }
        const float iscale = -127.f / max;
        const __m256 vs = _mm256_set1_ps(iscale);
        const __m256i top = _mm256_set1_epi32(127);
        for (int j = 0; j < QKK; j += 32) {
            __m256i q[4];
            for (int v = 0; v < 4; v++)
                q[v] = _mm256_min_epi32(_mm256_cvtps_epi32(_mm256_round_ps(_mm256_mul_ps(vs, _mm256_loadu_ps(x + j + 8 * v)),
                                                                           _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC)),
                                        top);
            const __m256i p16a = _mm256_packs_epi32(q[0], q[1]), p16b = _mm256_packs_epi32(q[2], q[3]);
            const __m256i p8 = _mm256_permutevar8x32_epi32(_mm256_packs_epi16(p16a, p16b), _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
            _mm256_storeu_si256((__m256i *)(void *)(y[i].qs + j), p8);
            for (int g = 0; g < 2; g++) {
                const __m256i s8 = _mm256_add_epi32(q[2 * g], q[2 * g + 1]);
                __m128i s4 = _mm_add_epi32(_mm256_castsi256_si128(s8), _mm256_extracti128_si256(s8, 1));
                s4 = _mm_add_epi32(s4, _mm_shuffle_epi32(s4, 0x4E));
                s4 = _mm_add_epi32(s4, _mm_shuffle_epi32(s4, 0xB1));
                y[i].bsums[j / 16 + g] = (int16_t)_mm_cvtsi128_si32(s4);
            }
        }
        y[i].d = 1 / iscale;
    }
}
#endif

static void quantize_act_k(const float *x, phi_q8k *y, int64_t k) {
#ifdef PHI_X86
    if (phi_quant_level() >= PHI_LEVEL_AVX2) {
        quantize_act_k_avx2(x, y, k);
        return;
    }
#endif
    for (int64_t i = 0; i < k / QKK; i++, x += QKK) {
        float max = 0, amax = 0;
        for (int j = 0; j < QKK; j++) {
            const float ax = fabsf(x[j]);
            if (ax > amax) {
                amax = ax;
                max = x[j];
            }
        }
        if (amax == 0) {
            memset(&y[i], 0, sizeof y[i]);
            continue;
        }
        const float iscale = -127.f / max;
        for (int j = 0; j < QKK; j++) {
            const int v = (int)nearbyintf(iscale * x[j]);
            y[i].qs[j] = (int8_t)(v < 127 ? v : 127);
        }
        for (int j = 0; j < QKK / 16; j++) {
            int s = 0;
            for (int l = 0; l < 16; l++) s += y[i].qs[16 * j + l];
            y[i].bsums[j] = (int16_t)s;
        }
        y[i].d = 1 / iscale;
    }
}

int phi_quantize_act_row(uint32_t type, const float *x, void *dst, int64_t k) {
    if (phi_act_row_size(type, k) == 0 && k != 0) return PHI_ERR_BAD_COUNT;
    if (is_block32(type)) quantize_act32(type, x, dst, k);
    else if (is_kquant(type)) quantize_act_k(x, dst, k);
    else if (is_float(type)) memcpy(dst, x, (size_t)k * sizeof(float));
    else return PHI_ERR_UNSUPPORTED_TYPE;
    return PHI_OK;
}

// MARK: - Scalar dot products (ggml_vec_dot_*_q8_* generic semantics: exact integer sums per block)

static inline int q5_hbit(uint32_t qh, int j) { return (int)((qh >> j) & 1) << 4; }

static float dot32_scalar(uint32_t type, const uint8_t *w, const uint8_t *act, int64_t k) {
    const int64_t nb = k / QK;
    const float *ds = (const float *)(const void *)(act + nb * ACT32_BLOCK);
    const float *sds = ds + nb;
    float sum = 0;
    for (int64_t b = 0; b < nb; b++) {
        const int8_t *y = (const int8_t *)(act + b * QK);
        int sumi = 0;
        float term;
        switch (type) {
        case PHI_TYPE_Q4_0: {
            const uint8_t *x = w + b * 18;
            for (int j = 0; j < 16; j++) sumi += ((x[2 + j] & 15) - 8) * y[j] + ((x[2 + j] >> 4) - 8) * y[j + 16];
            term = (float)sumi * (f16f(x) * ds[b]);
            break;
        }
        case PHI_TYPE_Q8_0: {
            const uint8_t *x = w + b * 34;
            const int8_t *q = (const int8_t *)(x + 2);
            for (int j = 0; j < 32; j++) sumi += q[j] * y[j];
            term = (float)sumi * (f16f(x) * ds[b]);
            break;
        }
        case PHI_TYPE_Q5_0: {
            const uint8_t *x = w + b * 22;
            uint32_t qh;
            memcpy(&qh, x + 2, 4);
            for (int j = 0; j < 16; j++) {
                sumi += (((x[6 + j] & 15) | q5_hbit(qh, j)) - 16) * y[j];
                sumi += (((x[6 + j] >> 4) | q5_hbit(qh, j + 16)) - 16) * y[j + 16];
            }
            term = (float)sumi * (f16f(x) * ds[b]);
            break;
        }
        case PHI_TYPE_Q4_1: {
            const uint8_t *x = w + b * 20;
            for (int j = 0; j < 16; j++) sumi += (x[4 + j] & 15) * y[j] + (x[4 + j] >> 4) * y[j + 16];
            term = (float)sumi * (f16f(x) * ds[b]) + f16f(x + 2) * sds[b];
            break;
        }
        default: {  // Q5_1
            const uint8_t *x = w + b * 24;
            uint32_t qh;
            memcpy(&qh, x + 4, 4);
            for (int j = 0; j < 16; j++) {
                sumi += ((x[8 + j] & 15) | q5_hbit(qh, j)) * y[j];
                sumi += ((x[8 + j] >> 4) | q5_hbit(qh, j + 16)) * y[j + 16];
            }
            term = (float)sumi * (f16f(x) * ds[b]) + f16f(x + 2) * sds[b];
            break;
        }
        }
        sum += term;
    }
    return sum;
}

static float dot_q4_K_scalar(const uint8_t *w, const phi_q8k *y, int64_t nb) {
    float sum = 0;
    for (int64_t i = 0; i < nb; i++, w += 144) {
        const float d = f16f(w) * y[i].d, dmin = f16f(w + 2) * y[i].d;
        int isum = 0, msum = 0;
        for (int j = 0; j < 4; j++) {
            const uint8_t *q = w + 16 + 32 * j;
            const int8_t *a = y[i].qs + 64 * j;
            int s1 = 0, s2 = 0;
            for (int l = 0; l < 32; l++) {
                s1 += (q[l] & 15) * a[l];
                s2 += (q[l] >> 4) * a[l + 32];
            }
            int sc, m;
            phi_k4_scale_min(2 * j, w + 4, &sc, &m);
            isum += sc * s1;
            msum += m * (y[i].bsums[4 * j] + y[i].bsums[4 * j + 1]);
            phi_k4_scale_min(2 * j + 1, w + 4, &sc, &m);
            isum += sc * s2;
            msum += m * (y[i].bsums[4 * j + 2] + y[i].bsums[4 * j + 3]);
        }
        sum += d * (float)isum - dmin * (float)msum;
    }
    return sum;
}

static float dot_q5_K_scalar(const uint8_t *w, const phi_q8k *y, int64_t nb) {
    float sum = 0;
    for (int64_t i = 0; i < nb; i++, w += 176) {
        const float d = f16f(w) * y[i].d, dmin = f16f(w + 2) * y[i].d;
        const uint8_t *qh = w + 16;
        int isum = 0, msum = 0;
        for (int j = 0; j < 4; j++) {
            const uint8_t *q = w + 48 + 32 * j;
            const int8_t *a = y[i].qs + 64 * j;
            int s1 = 0, s2 = 0;
            for (int l = 0; l < 32; l++) {
                s1 += ((q[l] & 15) + (((qh[l] >> (2 * j)) & 1) << 4)) * a[l];
                s2 += ((q[l] >> 4) + (((qh[l] >> (2 * j + 1)) & 1) << 4)) * a[l + 32];
            }
            int sc, m;
            phi_k4_scale_min(2 * j, w + 4, &sc, &m);
            isum += sc * s1;
            msum += m * (y[i].bsums[4 * j] + y[i].bsums[4 * j + 1]);
            phi_k4_scale_min(2 * j + 1, w + 4, &sc, &m);
            isum += sc * s2;
            msum += m * (y[i].bsums[4 * j + 2] + y[i].bsums[4 * j + 3]);
        }
        sum += d * (float)isum - dmin * (float)msum;
    }
    return sum;
}

static float dot_q6_K_scalar(const uint8_t *w, const phi_q8k *y, int64_t nb) {
    float sum = 0;
    for (int64_t i = 0; i < nb; i++, w += 210) {
        const uint8_t *ql = w, *qh = w + 128;
        const int8_t *sc = (const int8_t *)(w + 192);
        const int8_t *a = y[i].qs;
        int isum = 0;
        for (int half = 0; half < 2; half++, ql += 64, qh += 32, sc += 8, a += 128) {
            int s[8] = {0};
            for (int l = 0; l < 32; l++) {
                const int is = l / 16;
                s[is + 0] += ((int)((ql[l] & 15) | (((qh[l] >> 0) & 3) << 4)) - 32) * a[l];
                s[is + 2] += ((int)((ql[l + 32] & 15) | (((qh[l] >> 2) & 3) << 4)) - 32) * a[l + 32];
                s[is + 4] += ((int)((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32) * a[l + 64];
                s[is + 6] += ((int)((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32) * a[l + 96];
            }
            for (int j = 0; j < 8; j++) isum += sc[j] * s[j];
        }
        sum += (f16f(w + 208) * y[i].d) * (float)isum;
    }
    return sum;
}

static float dot_float_scalar(uint32_t type, const uint8_t *w, const float *x, int64_t k) {
    float acc[8] = {0};
    int64_t i = 0;
    for (; i + 8 <= k; i += 8)
        for (int l = 0; l < 8; l++) {
            const int64_t e = i + l;
            const float v = type == PHI_TYPE_F32   ? ((const float *)(const void *)w)[e]
                            : type == PHI_TYPE_F16 ? f16f(w + 2 * e)
                                                   : phi_bf16_to_f32(rd16(w + 2 * e));
            acc[l] += v * x[e];
        }
    float sum = ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7]));
    for (; i < k; i++) {
        const float v = type == PHI_TYPE_F32   ? ((const float *)(const void *)w)[i]
                        : type == PHI_TYPE_F16 ? f16f(w + 2 * i)
                                               : phi_bf16_to_f32(rd16(w + 2 * i));
        sum += v * x[i];
    }
    return sum;
}

static float vec_dot_scalar(uint32_t type, const void *w, const void *act, int64_t k) {
    if (is_block32(type)) return dot32_scalar(type, w, act, k);
    switch (type) {
    case PHI_TYPE_Q4_K: return dot_q4_K_scalar(w, act, k / QKK);
    case PHI_TYPE_Q5_K: return dot_q5_K_scalar(w, act, k / QKK);
    case PHI_TYPE_Q6_K: return dot_q6_K_scalar(w, act, k / QKK);
    default: return dot_float_scalar(type, w, act, k);
    }
}

// MARK: - AVX2 / FMA / F16C

#ifdef PHI_X86
T_AVX2 static inline float hsum8(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

T_AVX2 static inline float h2f(const uint8_t *p) { return _cvtsh_ss(rd16(p)); }

// 32 nibbles of 16 bytes: low nibbles -> bytes 0..15, high nibbles -> bytes 16..31.
T_AVX2 static inline __m256i nibbles32(const uint8_t *p) {
    const __m128i raw = _mm_loadu_si128((const __m128i *)(const void *)p);
    const __m256i v = _mm256_inserti128_si256(_mm256_castsi128_si256(raw), _mm_srli_epi16(raw, 4), 1);
    return _mm256_and_si256(v, _mm256_set1_epi8(0x0f));
}

// Bit j of the 32-bit word at p -> byte j = 0x10 (else 0).
T_AVX2 static inline __m256i bits32_x16(const uint8_t *p) {
    uint32_t x;
    memcpy(&x, p, 4);
    const __m256i shuf = _mm256_set_epi64x(0x0303030303030303, 0x0202020202020202, 0x0101010101010101, 0);
    __m256i bytes = _mm256_shuffle_epi8(_mm256_set1_epi32((int)x), shuf);
    const __m256i mask = _mm256_set1_epi64x((long long)0x8040201008040201ULL);
    bytes = _mm256_cmpeq_epi8(_mm256_and_si256(bytes, mask), mask);
    return _mm256_and_si256(bytes, _mm256_set1_epi8(0x10));
}

// Unsigned weight quants (q + offset) of block b.
T_AVX2 __attribute__((always_inline)) static inline __m256i unpack_u8(uint32_t type, const uint8_t *x) {
    switch (type) {
    case PHI_TYPE_Q4_0: return nibbles32(x + 2);
    case PHI_TYPE_Q5_0: return _mm256_or_si256(nibbles32(x + 6), bits32_x16(x + 2));
    case PHI_TYPE_Q4_1: return nibbles32(x + 4);
    case PHI_TYPE_Q5_1: return _mm256_or_si256(nibbles32(x + 8), bits32_x16(x + 4));
    default: return _mm256_xor_si256(_mm256_loadu_si256((const __m256i *)(const void *)(x + 2)), _mm256_set1_epi8((char)0x80));
    }
}

static int block32_bytes(uint32_t t) {
    switch (t) {
    case PHI_TYPE_Q4_0: return 18;
    case PHI_TYPE_Q4_1: return 20;
    case PHI_TYPE_Q5_0: return 22;
    case PHI_TYPE_Q5_1: return 24;
    default: return 34;
    }
}

// Σ (u - off) * y over 32 values, 8 int32 lanes (AVX2 sign trick: |w| * sign(y, w)).
T_AVX2 static inline __m256i dot32_i32_avx2(__m256i u, int off, __m256i y) {
    const __m256i w = _mm256_sub_epi8(u, _mm256_set1_epi8((char)off));
    const __m256i p16 = _mm256_maddubs_epi16(_mm256_sign_epi8(w, w), _mm256_sign_epi8(y, w));
    return _mm256_madd_epi16(p16, _mm256_set1_epi16(1));
}

T_AVX2 static float dot32_avx2(uint32_t type, const uint8_t *w, const uint8_t *act, int64_t k) {
    const int64_t nb = k / QK;
    const int bs = block32_bytes(type), off = weight_offset(type);
    const int hasmin = type == PHI_TYPE_Q4_1 || type == PHI_TYPE_Q5_1;
    const float *ds = (const float *)(const void *)(act + nb * ACT32_BLOCK);
    const float *sds = ds + nb;
    __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
    float summ = 0;
    int64_t b = 0;
    for (; b + 2 <= nb; b += 2) {
        const uint8_t *x0 = w + b * bs, *x1 = x0 + bs;
        const __m256i y0 = _mm256_loadu_si256((const __m256i *)(const void *)(act + b * QK));
        const __m256i y1 = _mm256_loadu_si256((const __m256i *)(const void *)(act + (b + 1) * QK));
        __m256i s0, s1;
        if (hasmin) {
            s0 = _mm256_madd_epi16(_mm256_maddubs_epi16(unpack_u8(type, x0), y0), _mm256_set1_epi16(1));
            s1 = _mm256_madd_epi16(_mm256_maddubs_epi16(unpack_u8(type, x1), y1), _mm256_set1_epi16(1));
            summ += h2f(x0 + 2) * sds[b] + h2f(x1 + 2) * sds[b + 1];
        } else {
            s0 = dot32_i32_avx2(unpack_u8(type, x0), off, y0);
            s1 = dot32_i32_avx2(unpack_u8(type, x1), off, y1);
        }
        acc0 = _mm256_fmadd_ps(_mm256_set1_ps(h2f(x0) * ds[b]), _mm256_cvtepi32_ps(s0), acc0);
        acc1 = _mm256_fmadd_ps(_mm256_set1_ps(h2f(x1) * ds[b + 1]), _mm256_cvtepi32_ps(s1), acc1);
    }
    for (; b < nb; b++) {
        const uint8_t *x0 = w + b * bs;
        const __m256i y0 = _mm256_loadu_si256((const __m256i *)(const void *)(act + b * QK));
        __m256i s0;
        if (hasmin) {
            s0 = _mm256_madd_epi16(_mm256_maddubs_epi16(unpack_u8(type, x0), y0), _mm256_set1_epi16(1));
            summ += h2f(x0 + 2) * sds[b];
        } else {
            s0 = dot32_i32_avx2(unpack_u8(type, x0), off, y0);
        }
        acc0 = _mm256_fmadd_ps(_mm256_set1_ps(h2f(x0) * ds[b]), _mm256_cvtepi32_ps(s0), acc0);
    }
    return hsum8(_mm256_add_ps(acc0, acc1)) + summ;
}

// `dot32_avx2` for one weight row and T activation rows (Q4_0 / Q5_0 / Q8_0): each block is unpacked once for all
// T tokens, and each token's sum is accumulated exactly as `dot32_avx2` accumulates it (the same int32 lanes, the
// same `fma(d_w · d_x, float(lanes), acc)` with even blocks in acc0 and odd ones in acc1, a last odd block in acc0,
// and `hsum8(acc0 + acc1) + 0`).
#define DOT32_AVX2_MT(NAME, T)                                                                                     \
    T_AVX2 __attribute__((always_inline)) static inline void NAME##_impl(uint32_t type, const uint8_t *w,           \
                                                                        const uint8_t *const *act, int64_t nb,      \
                                                                        float *out) {                               \
        const int bs = block32_bytes(type), off = weight_offset(type);                                              \
        const float *ds[T];                                                                                         \
        __m256 acc0[T], acc1[T];                                                                                    \
        for (int t = 0; t < T; t++) {                                                                               \
            ds[t] = (const float *)(const void *)(act[t] + nb * ACT32_BLOCK);                                       \
            acc0[t] = _mm256_setzero_ps();                                                                          \
            acc1[t] = _mm256_setzero_ps();                                                                          \
        }                                                                                                           \
        int64_t b = 0;                                                                                              \
        for (; b + 2 <= nb; b += 2) {                                                                               \
            const uint8_t *x0 = w + b * bs, *x1 = x0 + bs;                                                          \
            const __m256i w0 = _mm256_sub_epi8(unpack_u8(type, x0), _mm256_set1_epi8((char)off));                   \
            const __m256i w1 = _mm256_sub_epi8(unpack_u8(type, x1), _mm256_set1_epi8((char)off));                   \
            const __m256i a0 = _mm256_sign_epi8(w0, w0), a1 = _mm256_sign_epi8(w1, w1);                             \
            const __m256 d0 = _mm256_set1_ps(h2f(x0)), d1 = _mm256_set1_ps(h2f(x1));                                \
            for (int t = 0; t < T; t++) {                                                                           \
                const __m256i y0 = LOADI(act[t] + b * QK), y1 = LOADI(act[t] + (b + 1) * QK);                       \
                const __m256i s0 = _mm256_madd_epi16(_mm256_maddubs_epi16(a0, _mm256_sign_epi8(y0, w0)),            \
                                                     _mm256_set1_epi16(1));                                         \
                const __m256i s1 = _mm256_madd_epi16(_mm256_maddubs_epi16(a1, _mm256_sign_epi8(y1, w1)),            \
                                                     _mm256_set1_epi16(1));                                         \
                acc0[t] = _mm256_fmadd_ps(_mm256_mul_ps(d0, _mm256_broadcast_ss(ds[t] + b)), _mm256_cvtepi32_ps(s0), \
                                          acc0[t]);                                                                 \
                acc1[t] = _mm256_fmadd_ps(_mm256_mul_ps(d1, _mm256_broadcast_ss(ds[t] + b + 1)),                    \
                                          _mm256_cvtepi32_ps(s1), acc1[t]);                                         \
            }                                                                                                       \
        }                                                                                                           \
        if (b < nb) {                                                                                               \
            const uint8_t *x0 = w + b * bs;                                                                         \
            const __m256i w0 = _mm256_sub_epi8(unpack_u8(type, x0), _mm256_set1_epi8((char)off));                   \
            const __m256i a0 = _mm256_sign_epi8(w0, w0);                                                            \
            const __m256 d0 = _mm256_set1_ps(h2f(x0));                                                              \
            for (int t = 0; t < T; t++) {                                                                           \
                const __m256i s0 = _mm256_madd_epi16(_mm256_maddubs_epi16(a0, _mm256_sign_epi8(LOADI(act[t] + b * QK), w0)), \
                                                     _mm256_set1_epi16(1));                                         \
                acc0[t] = _mm256_fmadd_ps(_mm256_mul_ps(d0, _mm256_broadcast_ss(ds[t] + b)), _mm256_cvtepi32_ps(s0), \
                                          acc0[t]);                                                                 \
            }                                                                                                       \
        }                                                                                                           \
        const float summ = 0;                                                                                       \
        for (int t = 0; t < T; t++) out[t] = hsum8(_mm256_add_ps(acc0[t], acc1[t])) + summ;                          \
    }                                                                                                               \
    T_AVX2 static void NAME(uint32_t type, const uint8_t *w, const uint8_t *const *act, int64_t nb, float *out) {   \
        switch (type) {                                                                                             \
        case PHI_TYPE_Q4_0: NAME##_impl(PHI_TYPE_Q4_0, w, act, nb, out); break;                                     \
        case PHI_TYPE_Q5_0: NAME##_impl(PHI_TYPE_Q5_0, w, act, nb, out); break;                                     \
        default: NAME##_impl(PHI_TYPE_Q8_0, w, act, nb, out); break;                                                \
        }                                                                                                           \
    }

#define LOADI(p) _mm256_loadu_si256((const __m256i *)(const void *)(p))

// The lanes `dot32_i32_avx2` gives (Σ (u − off)·y per group of 4 values), for 4- and 5-bit weights without the sign
// trick: u·y straight from `maddubs` (u ≤ 31, so no pair saturates), plus the activation's stored per-group
// correction −off·Σy (`quantize_act32`). The same integers, two instructions fewer per block. Q8_0 (u up to 255)
// keeps the sign trick.
T_AVX2 __attribute__((always_inline)) static inline __m256i lanes32_avx2(uint32_t type, __m256i u, __m256i y,
                                                                        const uint8_t *corr) {
    if (type == PHI_TYPE_Q8_0) return dot32_i32_avx2(u, 128, y);
    return _mm256_add_epi32(_mm256_madd_epi16(_mm256_maddubs_epi16(u, y), _mm256_set1_epi16(1)), LOADI(corr));
}

// Decode on AVX2 (Q4_0 / Q8_0): four weight rows share each activation block, and each row accumulates
// exactly as `dot32_avx2` does (the same int32 lanes, `fma(d_w · d_x, float(lanes), acc)` with even blocks in acc0
// and odd ones in acc1, a last odd block in acc0, `hsum8(acc0 + acc1) + 0`), so every output is bit-identical to
// the single-row dot. Rows two tiles ahead are prefetched into L2, as in the AVX-512 tiles.
T_AVX2 __attribute__((always_inline)) static inline void avx2_tile_4x1_impl(uint32_t type, const uint8_t *const *w,
                                                                           const uint8_t *act, int64_t nb, float *out) {
    const int bs = block32_bytes(type);
    const float *ds = (const float *)(const void *)(act + nb * ACT32_BLOCK);
    const uint8_t *cs = act + nb * QK;
    __m256 acc0[4], acc1[4];
    for (int r = 0; r < 4; r++) {
        acc0[r] = _mm256_setzero_ps();
        acc1[r] = _mm256_setzero_ps();
    }
    int64_t b = 0;
    for (; b + 2 <= nb; b += 2) {
        const __m256i y0 = LOADI(act + b * QK), y1 = LOADI(act + (b + 1) * QK);
        for (int r = 0; r < 4; r++) {
            const uint8_t *x0 = w[r] + b * bs, *x1 = x0 + bs;
            _mm_prefetch((const char *)(x0 + 8 * nb * bs), _MM_HINT_T1);
            if (bs > 32) _mm_prefetch((const char *)(x0 + 8 * nb * bs + 64), _MM_HINT_T1);
            const __m256i s0 = lanes32_avx2(type, unpack_u8(type, x0), y0, cs + b * QK);
            const __m256i s1 = lanes32_avx2(type, unpack_u8(type, x1), y1, cs + (b + 1) * QK);
            acc0[r] = _mm256_fmadd_ps(_mm256_set1_ps(h2f(x0) * ds[b]), _mm256_cvtepi32_ps(s0), acc0[r]);
            acc1[r] = _mm256_fmadd_ps(_mm256_set1_ps(h2f(x1) * ds[b + 1]), _mm256_cvtepi32_ps(s1), acc1[r]);
        }
    }
    if (b < nb) {
        const __m256i y0 = LOADI(act + b * QK);
        for (int r = 0; r < 4; r++) {
            const uint8_t *x0 = w[r] + b * bs;
            const __m256i s0 = lanes32_avx2(type, unpack_u8(type, x0), y0, cs + b * QK);
            acc0[r] = _mm256_fmadd_ps(_mm256_set1_ps(h2f(x0) * ds[b]), _mm256_cvtepi32_ps(s0), acc0[r]);
        }
    }
    const float summ = 0;
    for (int r = 0; r < 4; r++) out[r] = hsum8(_mm256_add_ps(acc0[r], acc1[r])) + summ;
}

T_AVX2 static void avx2_tile_4x1(uint32_t type, const uint8_t *const *w, const uint8_t *act, int64_t nb, float *out) {
    if (type == PHI_TYPE_Q4_0) avx2_tile_4x1_impl(PHI_TYPE_Q4_0, w, act, nb, out);
    else avx2_tile_4x1_impl(PHI_TYPE_Q8_0, w, act, nb, out);
}

DOT32_AVX2_MT(dot32_avx2_mt1, 1)
DOT32_AVX2_MT(dot32_avx2_mt2, 2)
DOT32_AVX2_MT(dot32_avx2_mt3, 3)
DOT32_AVX2_MT(dot32_avx2_mt4, 4)

typedef void (*dot_mt_fn)(uint32_t, const uint8_t *, const uint8_t *const *, int64_t, float *);
static const dot_mt_fn dot32_avx2_mt[5] = {NULL, dot32_avx2_mt1, dot32_avx2_mt2, dot32_avx2_mt3, dot32_avx2_mt4};

// The 8 six-bit scales and mins of a Q4_K/Q5_K block (ggml's packing), without branches: scales in bytes 0..7 of
// `out`, mins in bytes 8..15.
static inline void k4_unpack_scales(const uint8_t *s, uint8_t out[16]) {
    uint32_t u[4];
    memcpy(u, s, 12);
    const uint32_t m1 = 0x3f3f3f3f, m2 = 0x0f0f0f0f, m3 = 0x03030303;
    u[3] = ((u[2] >> 4) & m2) | (((u[1] >> 6) & m3) << 4);
    const uint32_t mins_lo = u[1] & m1;
    u[1] = (u[2] & m2) | (((u[0] >> 6) & m3) << 4);
    u[2] = mins_lo;
    u[0] &= m1;
    memcpy(out, u, 16);
}

// Σ_j mins[j] · (bsums[2j] + bsums[2j+1]).
T_AVX2 static inline int k4_min_dot(const uint8_t mins[8], const int16_t bsums[16]) {
    const __m128i b = _mm_hadd_epi16(_mm_loadu_si128((const __m128i *)(const void *)bsums),
                                     _mm_loadu_si128((const __m128i *)(const void *)(bsums + 8)));
    const __m128i m = _mm_cvtepu8_epi16(_mm_loadl_epi64((const __m128i *)(const void *)mins));
    __m128i p = _mm_madd_epi16(b, m);
    p = _mm_add_epi32(p, _mm_shuffle_epi32(p, _MM_SHUFFLE(1, 0, 3, 2)));
    p = _mm_add_epi32(p, _mm_shuffle_epi32(p, _MM_SHUFFLE(2, 3, 0, 1)));
    return _mm_cvtsi128_si32(p);
}

T_AVX2 static float dot_q4_K_avx2(const uint8_t *w, const phi_q8k *y, int64_t nb) {
    const __m256i m4 = _mm256_set1_epi8(0x0f);
    __m256 acc = _mm256_setzero_ps();
    float accm = 0;
    for (int64_t i = 0; i < nb; i++, w += 144) {
        uint8_t scm[16];
        k4_unpack_scales(w + 4, scm);
        const uint8_t *sc = scm;
        accm += h2f(w + 2) * y[i].d * (float)k4_min_dot(scm + 8, y[i].bsums);
        __m256i isum = _mm256_setzero_si256();
        for (int j = 0; j < 4; j++) {
            const __m256i q = _mm256_loadu_si256((const __m256i *)(const void *)(w + 16 + 32 * j));
            const __m256i lo = _mm256_and_si256(q, m4), hi = _mm256_and_si256(_mm256_srli_epi16(q, 4), m4);
            const __m256i a0 = _mm256_loadu_si256((const __m256i *)(const void *)(y[i].qs + 64 * j));
            const __m256i a1 = _mm256_loadu_si256((const __m256i *)(const void *)(y[i].qs + 64 * j + 32));
            const __m256i p0 = _mm256_madd_epi16(_mm256_maddubs_epi16(lo, a0), _mm256_set1_epi16((short)sc[2 * j]));
            const __m256i p1 = _mm256_madd_epi16(_mm256_maddubs_epi16(hi, a1), _mm256_set1_epi16((short)sc[2 * j + 1]));
            isum = _mm256_add_epi32(isum, _mm256_add_epi32(p0, p1));
        }
        acc = _mm256_fmadd_ps(_mm256_set1_ps(h2f(w) * y[i].d), _mm256_cvtepi32_ps(isum), acc);
    }
    return hsum8(acc) - accm;
}

T_AVX2 static float dot_q5_K_avx2(const uint8_t *w, const phi_q8k *y, int64_t nb) {
    const __m256i m4 = _mm256_set1_epi8(0x0f), one = _mm256_set1_epi8(1);
    __m256 acc = _mm256_setzero_ps();
    float accm = 0;
    for (int64_t i = 0; i < nb; i++, w += 176) {
        uint8_t scm[16];
        k4_unpack_scales(w + 4, scm);
        const uint8_t *sc = scm;
        accm += h2f(w + 2) * y[i].d * (float)k4_min_dot(scm + 8, y[i].bsums);
        const __m256i hb = _mm256_loadu_si256((const __m256i *)(const void *)(w + 16));
        __m256i isum = _mm256_setzero_si256();
        for (int j = 0; j < 4; j++) {
            const __m256i q = _mm256_loadu_si256((const __m256i *)(const void *)(w + 48 + 32 * j));
            const __m256i h0 = _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(hb, 2 * j), one), 4);
            const __m256i h1 = _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(hb, 2 * j + 1), one), 4);
            const __m256i lo = _mm256_or_si256(_mm256_and_si256(q, m4), h0);
            const __m256i hi = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(q, 4), m4), h1);
            const __m256i a0 = _mm256_loadu_si256((const __m256i *)(const void *)(y[i].qs + 64 * j));
            const __m256i a1 = _mm256_loadu_si256((const __m256i *)(const void *)(y[i].qs + 64 * j + 32));
            const __m256i p0 = _mm256_madd_epi16(_mm256_maddubs_epi16(lo, a0), _mm256_set1_epi16((short)sc[2 * j]));
            const __m256i p1 = _mm256_madd_epi16(_mm256_maddubs_epi16(hi, a1), _mm256_set1_epi16((short)sc[2 * j + 1]));
            isum = _mm256_add_epi32(isum, _mm256_add_epi32(p0, p1));
        }
        acc = _mm256_fmadd_ps(_mm256_set1_ps(h2f(w) * y[i].d), _mm256_cvtepi32_ps(isum), acc);
    }
    return hsum8(acc) - accm;
}

// The 16-bit scales of one half of a Q6_K block for `madd`, per 32-value group u: sc[2u] in the low lane, sc[2u+1]
// in the high lane. One sign extension and a byte shuffle per group, where broadcasting each pair from scalars took
// about six instructions per group (a third of the kernel).
T_AVX2 __attribute__((always_inline)) static inline void q6k_scale_pairs(const int8_t *sc8, __m256i pairs[4]) {
    const __m256i s = _mm256_broadcastsi128_si256(_mm_cvtepi8_epi16(_mm_loadl_epi64((const __m128i *)(const void *)sc8)));
    const __m256i base = _mm256_setr_epi8(0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 2, 3, 2, 3, 2, 3, 2, 3, 2, 3, 2,
                                          3, 2, 3, 2, 3);
    for (int u = 0; u < 4; u++) pairs[u] = _mm256_shuffle_epi8(s, _mm256_add_epi8(base, _mm256_set1_epi8((char)(4 * u))));
}

T_AVX2 static float dot_q6_K_avx2(const uint8_t *w, const phi_q8k *y, int64_t nb) {
    const __m256i m4 = _mm256_set1_epi8(0x0f), m2 = _mm256_set1_epi8(3);
    __m256 acc = _mm256_setzero_ps();
    for (int64_t i = 0; i < nb; i++, w += 210) {
        const uint8_t *ql = w, *qh = w + 128;
        const int8_t *sc = (const int8_t *)(w + 192);
        __m256i cp = _mm256_madd_epi16(_mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)(const void *)sc)),
                                       _mm256_loadu_si256((const __m256i *)(const void *)y[i].bsums));
        __m128i c4 = _mm_add_epi32(_mm256_castsi256_si128(cp), _mm256_extracti128_si256(cp, 1));
        c4 = _mm_add_epi32(c4, _mm_shuffle_epi32(c4, _MM_SHUFFLE(1, 0, 3, 2)));
        c4 = _mm_add_epi32(c4, _mm_shuffle_epi32(c4, _MM_SHUFFLE(2, 3, 0, 1)));
        const int corr = _mm_cvtsi128_si32(c4);
        __m256i isum = _mm256_setzero_si256();
        for (int half = 0; half < 2; half++, ql += 64, qh += 32) {
            const __m256i l0 = _mm256_loadu_si256((const __m256i *)(const void *)ql);
            const __m256i l1 = _mm256_loadu_si256((const __m256i *)(const void *)(ql + 32));
            const __m256i h = _mm256_loadu_si256((const __m256i *)(const void *)qh);
            __m256i q[4];
            q[0] = _mm256_or_si256(_mm256_and_si256(l0, m4), _mm256_slli_epi16(_mm256_and_si256(h, m2), 4));
            q[1] = _mm256_or_si256(_mm256_and_si256(l1, m4),
                                   _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(h, 2), m2), 4));
            q[2] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(l0, 4), m4),
                                   _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(h, 4), m2), 4));
            q[3] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(l1, 4), m4),
                                   _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(h, 6), m2), 4));
            __m256i s16[4];
            q6k_scale_pairs(sc + 8 * half, s16);
            for (int t = 0; t < 4; t++) {
                const __m256i a = _mm256_loadu_si256((const __m256i *)(const void *)(y[i].qs + 128 * half + 32 * t));
                isum = _mm256_add_epi32(isum, _mm256_madd_epi16(_mm256_maddubs_epi16(q[t], a), s16[t]));
            }
        }
        // Σ sc * (q - 32) * y = Σ sc * q * y - 32 Σ sc * bsum.
        isum = _mm256_sub_epi32(isum, _mm256_setr_epi32(32 * corr, 0, 0, 0, 0, 0, 0, 0));
        acc = _mm256_fmadd_ps(_mm256_set1_ps(h2f(w + 208) * y[i].d), _mm256_cvtepi32_ps(isum), acc);
    }
    return hsum8(acc);
}

// `dot_q4_K_avx2` / `dot_q6_K_avx2` for one weight row and T activation rows: the block's scales, quants and nibble
// split are done once for all T tokens; each token's sums (integer block sums, `accm` and the fma into `acc`) are
// the single-row kernel's, in its order.
#define DOT_Q4K_AVX2_MT(NAME, T)                                                                                   \
    T_AVX2 static void NAME(const uint8_t *w, const phi_q8k *const *y, int64_t nb, float *out) {                   \
        const __m256i m4 = _mm256_set1_epi8(0x0f);                                                                  \
        __m256 acc[T];                                                                                              \
        float accm[T];                                                                                              \
        for (int t = 0; t < T; t++) {                                                                               \
            acc[t] = _mm256_setzero_ps();                                                                           \
            accm[t] = 0;                                                                                            \
        }                                                                                                           \
        for (int64_t i = 0; i < nb; i++, w += 144) {                                                                \
            uint8_t scm[16];                                                                                        \
            k4_unpack_scales(w + 4, scm);                                                                           \
            const uint8_t *sc = scm;                                                                                \
            for (int t = 0; t < T; t++)                                                                             \
                accm[t] += h2f(w + 2) * y[t][i].d * (float)k4_min_dot(scm + 8, y[t][i].bsums);                      \
            __m256i isum[T];                                                                                        \
            for (int t = 0; t < T; t++) isum[t] = _mm256_setzero_si256();                                           \
            for (int j = 0; j < 4; j++) {                                                                           \
                const __m256i q = _mm256_loadu_si256((const __m256i *)(const void *)(w + 16 + 32 * j));             \
                const __m256i lo = _mm256_and_si256(q, m4), hi = _mm256_and_si256(_mm256_srli_epi16(q, 4), m4);     \
                const __m256i s0 = _mm256_set1_epi16((short)sc[2 * j]), s1 = _mm256_set1_epi16((short)sc[2 * j + 1]); \
                for (int t = 0; t < T; t++) {                                                                       \
                    const __m256i a0 = _mm256_loadu_si256((const __m256i *)(const void *)(y[t][i].qs + 64 * j));    \
                    const __m256i a1 = _mm256_loadu_si256((const __m256i *)(const void *)(y[t][i].qs + 64 * j + 32)); \
                    const __m256i p0 = _mm256_madd_epi16(_mm256_maddubs_epi16(lo, a0), s0);                         \
                    const __m256i p1 = _mm256_madd_epi16(_mm256_maddubs_epi16(hi, a1), s1);                         \
                    isum[t] = _mm256_add_epi32(isum[t], _mm256_add_epi32(p0, p1));                                  \
                }                                                                                                   \
            }                                                                                                       \
            for (int t = 0; t < T; t++)                                                                             \
                acc[t] = _mm256_fmadd_ps(_mm256_set1_ps(h2f(w) * y[t][i].d), _mm256_cvtepi32_ps(isum[t]), acc[t]);  \
        }                                                                                                           \
        for (int t = 0; t < T; t++) out[t] = hsum8(acc[t]) - accm[t];                                               \
    }

#define DOT_Q6K_AVX2_MT(NAME, T)                                                                                   \
    T_AVX2 static void NAME(const uint8_t *w, const phi_q8k *const *y, int64_t nb, float *out) {                   \
        const __m256i m4 = _mm256_set1_epi8(0x0f), m2 = _mm256_set1_epi8(3);                                        \
        __m256 acc[T];                                                                                              \
        for (int t = 0; t < T; t++) acc[t] = _mm256_setzero_ps();                                                   \
        for (int64_t i = 0; i < nb; i++, w += 210) {                                                                \
            const uint8_t *ql = w, *qh = w + 128;                                                                   \
            const int8_t *sc = (const int8_t *)(w + 192);                                                           \
            const __m256i sc16 = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)(const void *)sc));         \
            __m256i isum[T];                                                                                        \
            int corr[T];                                                                                            \
            for (int t = 0; t < T; t++) {                                                                           \
                __m256i cp = _mm256_madd_epi16(sc16, _mm256_loadu_si256((const __m256i *)(const void *)y[t][i].bsums)); \
                __m128i c4 = _mm_add_epi32(_mm256_castsi256_si128(cp), _mm256_extracti128_si256(cp, 1));            \
                c4 = _mm_add_epi32(c4, _mm_shuffle_epi32(c4, _MM_SHUFFLE(1, 0, 3, 2)));                             \
                c4 = _mm_add_epi32(c4, _mm_shuffle_epi32(c4, _MM_SHUFFLE(2, 3, 0, 1)));                             \
                corr[t] = _mm_cvtsi128_si32(c4);                                                                    \
                isum[t] = _mm256_setzero_si256();                                                                   \
            }                                                                                                       \
            for (int half = 0; half < 2; half++, ql += 64, qh += 32) {                                              \
                const __m256i l0 = _mm256_loadu_si256((const __m256i *)(const void *)ql);                           \
                const __m256i l1 = _mm256_loadu_si256((const __m256i *)(const void *)(ql + 32));                    \
                const __m256i h = _mm256_loadu_si256((const __m256i *)(const void *)qh);                            \
                __m256i q[4];                                                                                       \
                q[0] = _mm256_or_si256(_mm256_and_si256(l0, m4), _mm256_slli_epi16(_mm256_and_si256(h, m2), 4));    \
                q[1] = _mm256_or_si256(_mm256_and_si256(l1, m4),                                                    \
                                       _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(h, 2), m2), 4));        \
                q[2] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(l0, 4), m4),                              \
                                       _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(h, 4), m2), 4));        \
                q[3] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(l1, 4), m4),                              \
                                       _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(h, 6), m2), 4));        \
                __m256i s16[4];                                                                                     \
                q6k_scale_pairs(sc + 8 * half, s16);                                                                \
                for (int u = 0; u < 4; u++) {                                                                       \
                    for (int t = 0; t < T; t++) {                                                                   \
                        const __m256i a = _mm256_loadu_si256((const __m256i *)(const void *)(y[t][i].qs + 128 * half + 32 * u)); \
                        isum[t] = _mm256_add_epi32(isum[t], _mm256_madd_epi16(_mm256_maddubs_epi16(q[u], a), s16[u])); \
                    }                                                                                               \
                }                                                                                                   \
            }                                                                                                       \
            for (int t = 0; t < T; t++) {                                                                           \
                isum[t] = _mm256_sub_epi32(isum[t], _mm256_setr_epi32(32 * corr[t], 0, 0, 0, 0, 0, 0, 0));          \
                acc[t] = _mm256_fmadd_ps(_mm256_set1_ps(h2f(w + 208) * y[t][i].d), _mm256_cvtepi32_ps(isum[t]), acc[t]); \
            }                                                                                                       \
        }                                                                                                           \
        for (int t = 0; t < T; t++) out[t] = hsum8(acc[t]);                                                         \
    }

DOT_Q4K_AVX2_MT(dot_q4_K_avx2_mt1, 1)
DOT_Q4K_AVX2_MT(dot_q4_K_avx2_mt2, 2)
DOT_Q4K_AVX2_MT(dot_q4_K_avx2_mt3, 3)
DOT_Q4K_AVX2_MT(dot_q4_K_avx2_mt4, 4)
DOT_Q6K_AVX2_MT(dot_q6_K_avx2_mt1, 1)
DOT_Q6K_AVX2_MT(dot_q6_K_avx2_mt2, 2)
DOT_Q6K_AVX2_MT(dot_q6_K_avx2_mt3, 3)
DOT_Q6K_AVX2_MT(dot_q6_K_avx2_mt4, 4)

typedef void (*dot_k_mt_fn)(const uint8_t *, const phi_q8k *const *, int64_t, float *);
static const dot_k_mt_fn dot_q4_K_avx2_mt[5] = {NULL, dot_q4_K_avx2_mt1, dot_q4_K_avx2_mt2, dot_q4_K_avx2_mt3, dot_q4_K_avx2_mt4};
static const dot_k_mt_fn dot_q6_K_avx2_mt[5] = {NULL, dot_q6_K_avx2_mt1, dot_q6_K_avx2_mt2, dot_q6_K_avx2_mt3, dot_q6_K_avx2_mt4};

T_AVX2 static inline __m256 load8_weights(uint32_t type, const uint8_t *w, int64_t e) {
    if (type == PHI_TYPE_F32) return _mm256_loadu_ps((const float *)(const void *)w + e);
    const __m128i h = _mm_loadu_si128((const __m128i *)(const void *)(w + 2 * e));
    if (type == PHI_TYPE_F16) return _mm256_cvtph_ps(h);
    return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16));
}

T_AVX2 static float dot_float_avx2(uint32_t type, const uint8_t *w, const float *x, int64_t k) {
    __m256 a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps(), a2 = _mm256_setzero_ps(), a3 = _mm256_setzero_ps();
    int64_t i = 0;
    for (; i + 32 <= k; i += 32) {
        a0 = _mm256_fmadd_ps(load8_weights(type, w, i), _mm256_loadu_ps(x + i), a0);
        a1 = _mm256_fmadd_ps(load8_weights(type, w, i + 8), _mm256_loadu_ps(x + i + 8), a1);
        a2 = _mm256_fmadd_ps(load8_weights(type, w, i + 16), _mm256_loadu_ps(x + i + 16), a2);
        a3 = _mm256_fmadd_ps(load8_weights(type, w, i + 24), _mm256_loadu_ps(x + i + 24), a3);
    }
    for (; i + 8 <= k; i += 8) a0 = _mm256_fmadd_ps(load8_weights(type, w, i), _mm256_loadu_ps(x + i), a0);
    float sum = hsum8(_mm256_add_ps(_mm256_add_ps(a0, a1), _mm256_add_ps(a2, a3)));
    for (; i < k; i++) {
        const float v = type == PHI_TYPE_F32   ? ((const float *)(const void *)w)[i]
                        : type == PHI_TYPE_F16 ? f16f(w + 2 * i)
                                               : phi_bf16_to_f32(rd16(w + 2 * i));
        sum += v * x[i];
    }
    return sum;
}

static float vec_dot_avx2(uint32_t type, const void *w, const void *act, int64_t k) {
    if (is_block32(type)) return dot32_avx2(type, w, act, k);
    switch (type) {
    case PHI_TYPE_Q4_K: return dot_q4_K_avx2(w, act, k / QKK);
    case PHI_TYPE_Q5_K: return dot_q5_K_avx2(w, act, k / QKK);
    case PHI_TYPE_Q6_K: return dot_q6_K_avx2(w, act, k / QKK);
    default: return dot_float_avx2(type, w, act, k);
    }
}

// MARK: - AVX-512 VNNI (256-bit vpdpbusd): Q4_0 / Q5_0 / Q8_0 with the offset folded into the activation's
// per-lane correction (acc starts at -off·Σy, so one vpdpbusd yields Σ (u - off)·y exactly).

static int vnni_type(uint32_t t) { return t == PHI_TYPE_Q4_0 || t == PHI_TYPE_Q5_0 || t == PHI_TYPE_Q8_0; }


// Two consecutive blocks' unsigned quants as one zmm in element order [blk b | blk b+1].
T_AVX512 __attribute__((always_inline)) static inline __m512i unpack2_u8(uint32_t type, const uint8_t *x, int bs) {
    if (type == PHI_TYPE_Q8_0) {
        const __m512i raw = _mm512_inserti64x4(_mm512_castsi256_si512(LOADI(x + 2)), LOADI(x + bs + 2), 1);
        return _mm512_xor_si512(raw, _mm512_set1_epi8((char)0x80));
    }
    if (type == PHI_TYPE_Q4_0) {
        const __m128i a = _mm_loadu_si128((const __m128i *)(const void *)(x + 2));
        const __m128i b = _mm_loadu_si128((const __m128i *)(const void *)(x + bs + 2));
        const __m256i raw = _mm256_inserti128_si256(_mm256_castsi128_si256(a), b, 1);
        const __m256i m4 = _mm256_set1_epi8(0x0f);
        const __m256i lo = _mm256_and_si256(raw, m4), hi = _mm256_and_si256(_mm256_srli_epi16(raw, 4), m4);
        const __m512i z = _mm512_inserti64x4(_mm512_castsi256_si512(lo), hi, 1);  // [lo b, lo b+1, hi b, hi b+1]
        return _mm512_shuffle_i64x2(z, z, _MM_SHUFFLE(3, 1, 2, 0));
    }
    return _mm512_inserti64x4(_mm512_castsi256_si512(unpack_u8(type, x)), unpack_u8(type, x + bs), 1);
}

// [a ×8 | b ×8]
T_AVX512 static inline __m512 pair_ps(float a, float b) {
    const __m512d lo = _mm512_castps_pd(_mm512_castps256_ps512(_mm256_set1_ps(a)));
    return _mm512_castpd_ps(_mm512_insertf64x4(lo, _mm256_castps_pd(_mm256_set1_ps(b)), 1));
}

T_AVX512 static inline float hsum16(__m512 v) {
    return hsum8(_mm256_add_ps(_mm512_castps512_ps256(v), _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(v), 1))));
}

// R weight rows × T tokens, two blocks per zmm; a final odd block with ymm. out[r * T + t].
#define VNNI_TILE(NAME, R, T)                                                                                      \
    T_AVX512 __attribute__((always_inline)) static inline void NAME##_impl(uint32_t type, const uint8_t *const *w, const uint8_t *const *act,      \
                                            int64_t nb, float *out) {                                               \
        const int bs = block32_bytes(type);                                                                         \
        const float *ds[T];                                                                                         \
        const uint8_t *cs[T];                                                                                       \
        for (int t = 0; t < T; t++) {                                                                               \
            ds[t] = (const float *)(const void *)(act[t] + nb * ACT32_BLOCK);                                       \
            cs[t] = act[t] + nb * QK;                                                                               \
        }                                                                                                           \
        __m512 acc[R][T];                                                                                           \
        for (int r = 0; r < R; r++)                                                                                 \
            for (int t = 0; t < T; t++) acc[r][t] = _mm512_setzero_ps();                                            \
        int64_t b = 0;                                                                                              \
        for (; b + 2 <= nb; b += 2) {                                                                               \
            __m512i u[R];                                                                                           \
            __m512 dw[R];                                                                                           \
            for (int r = 0; r < R; r++) {                                                                           \
                const uint8_t *x = w[r] + b * bs;                                                                   \
                if (T == 1) {  /* two tiles ahead into L2, as in vnni_tile_4x1_q4_0_vbmi */                      \
                    _mm_prefetch((const char *)(x + 8 * nb * bs), _MM_HINT_T1);                                     \
                    if (bs > 32) _mm_prefetch((const char *)(x + 8 * nb * bs + 64), _MM_HINT_T1);                  \
                }                                                                                                   \
                u[r] = unpack2_u8(type, x, bs);                                                                     \
                dw[r] = pair_ps(h2f(x), h2f(x + bs));                                                               \
            }                                                                                                       \
            for (int t = 0; t < T; t++) {                                                                           \
                const __m512i q = _mm512_loadu_si512((const void *)(act[t] + b * QK));                              \
                const __m512i c = _mm512_loadu_si512((const void *)(cs[t] + b * QK));                               \
                const __m512 dx = pair_ps(ds[t][b], ds[t][b + 1]);                                                  \
                for (int r = 0; r < R; r++) {                                                                       \
                    const __m512i s = _mm512_dpbusd_epi32(c, u[r], q);                                              \
                    acc[r][t] = _mm512_fmadd_ps(_mm512_mul_ps(dw[r], dx), _mm512_cvtepi32_ps(s), acc[r][t]);        \
                }                                                                                                   \
            }                                                                                                       \
        }                                                                                                           \
        float tail[R][T];                                                                                           \
        for (int r = 0; r < R; r++)                                                                                 \
            for (int t = 0; t < T; t++) tail[r][t] = 0;                                                             \
        if (b < nb) {                                                                                               \
            for (int r = 0; r < R; r++) {                                                                           \
                const uint8_t *x = w[r] + b * bs;                                                                   \
                const __m256i ur = unpack_u8(type, x);                                                              \
                for (int t = 0; t < T; t++) {                                                                       \
                    const __m256i s = _mm256_dpbusd_epi32(LOADI(cs[t] + b * QK), ur, LOADI(act[t] + b * QK));       \
                    tail[r][t] = hsum8(_mm256_cvtepi32_ps(s)) * (h2f(x) * ds[t][b]);                                \
                }                                                                                                   \
            }                                                                                                       \
        }                                                                                                           \
        for (int r = 0; r < R; r++)                                                                                 \
            for (int t = 0; t < T; t++) out[r * T + t] = hsum16(acc[r][t]) + tail[r][t];                           \
    }                                                                                                               \
    T_AVX512 static void NAME(uint32_t type, const uint8_t *const *w, const uint8_t *const *act, int64_t nb,       \
                              float *out) {                                                                         \
        switch (type) {                                                                                             \
        case PHI_TYPE_Q4_0: NAME##_impl(PHI_TYPE_Q4_0, w, act, nb, out); break;                                     \
        case PHI_TYPE_Q5_0: NAME##_impl(PHI_TYPE_Q5_0, w, act, nb, out); break;                                     \
        default: NAME##_impl(PHI_TYPE_Q8_0, w, act, nb, out); break;                                                \
        }                                                                                                           \
    }

VNNI_TILE(vnni_tile_1x1, 1, 1)
VNNI_TILE(vnni_tile_4x1, 4, 1)

// MARK: Q4_0 decode with AVX-512 VBMI
//
// The same 4 rows × 1 token tile as `vnni_tile_4x1` for Q4_0, with the same vectors built in fewer shuffles: one
// masked 36-byte load and one vpermb put both blocks' nibble bytes in element order (then one masked shift and one
// and), and the two fp16 scales are converted together and spread with one permute. Every vector equals the one
// `vnni_tile_4x1` builds, so the sums are bit-identical; decode is shuffle-bound, so this is worth ~1/3 more.

#define T_AVX512_VBMI __attribute__((target("avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni,avx512vbmi")))

// Output byte i takes input byte: i < 16 → 2 + i (low nibbles of block b), i < 32 → 2 + i − 16 (high nibbles),
// i < 48 → 20 + i − 32 (block b+1, low), else 20 + i − 48 (high).
static const uint8_t q4_0_pair_index[64] __attribute__((aligned(64))) = {
    2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17,
    2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17,
    20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32, 33, 34, 35,
    20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32, 33, 34, 35,
};

// Both Q4_0 decode tiles share everything but how a block pair's 64 nibble bytes are built (`UNPACK`: statements
// setting `u` from the pair's first byte `x`, with constants declared by `SETUP`): scales, prefetch, tail and sums.
#define Q4_0_TILE_4X1(NAME, TARGET, SETUP, UNPACK)                                                                    \
    TARGET static void NAME(const uint8_t *const *w, const uint8_t *act, int64_t nb, float *out) {                  \
        const int bs = 18;                                                                                          \
        const float *ds = (const float *)(const void *)(act + nb * ACT32_BLOCK);                                    \
        const uint8_t *cs = act + nb * QK;                                                                          \
        const __m512i spread = _mm512_setr_epi32(0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1);                 \
        SETUP                                                                                                       \
        __m512 acc[4] = {_mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps()};     \
        int64_t b = 0;                                                                                              \
        for (; b + 2 <= nb; b += 2) {                                                                               \
            const __m512i q = _mm512_loadu_si512((const void *)(act + b * QK));                                     \
            const __m512i c = _mm512_loadu_si512((const void *)(cs + b * QK));                                      \
            const __m512 dx = _mm512_permutexvar_ps(                                                                \
                spread, _mm512_castps128_ps512(_mm_castpd_ps(_mm_load_sd((const double *)(const void *)(ds + b))))); \
            for (int r = 0; r < 4; r++) {                                                                           \
                const uint8_t *x = w[r] + b * bs;                                                                   \
                /* Two tiles ahead, into L2: the hardware prefetcher loses the short row streams at every new tile, \
                   and prefetching into L1 (T0) held the core's fill buffers (~30 % slower decode than T1). */      \
                _mm_prefetch((const char *)(x + 8 * nb * bs), _MM_HINT_T1);                                        \
                __m512i u;                                                                                          \
                UNPACK                                                                                              \
                const uint32_t scales = (uint32_t)rd16(x) | (uint32_t)rd16(x + bs) << 16;                          \
                const __m512 dw = _mm512_permutexvar_ps(                                                            \
                    spread, _mm512_castps128_ps512(_mm_cvtph_ps(_mm_cvtsi32_si128((int)scales))));                 \
                const __m512i sum = _mm512_dpbusd_epi32(c, u, q);                                                   \
                acc[r] = _mm512_fmadd_ps(_mm512_mul_ps(dw, dx), _mm512_cvtepi32_ps(sum), acc[r]);                   \
            }                                                                                                       \
        }                                                                                                           \
        float tail[4] = {0, 0, 0, 0};                                                                               \
        if (b < nb) {                                                                                               \
            for (int r = 0; r < 4; r++) {                                                                           \
                const uint8_t *x = w[r] + b * bs;                                                                   \
                const __m256i ur = unpack_u8(PHI_TYPE_Q4_0, x);                                                     \
                const __m256i sum = _mm256_dpbusd_epi32(LOADI(cs + b * QK), ur, LOADI(act + b * QK));               \
                tail[r] = hsum8(_mm256_cvtepi32_ps(sum)) * (h2f(x) * ds[b]);                                        \
            }                                                                                                       \
        }                                                                                                           \
        for (int r = 0; r < 4; r++) out[r] = hsum16(acc[r]) + tail[r];                                              \
    }

// VBMI: one masked 36-byte load, `vpermb` into element order, the high halves shifted under a mask, then AND.
Q4_0_TILE_4X1(vnni_tile_4x1_q4_0_vbmi, T_AVX512_VBMI,
              const __m512i index = _mm512_load_si512((const void *)q4_0_pair_index);
              const __m512i m4 = _mm512_set1_epi8(0x0f);,
              u = _mm512_permutexvar_epi8(index, _mm512_maskz_loadu_epi8(0xFFFFFFFFFull, x));
              u = _mm512_and_si512(_mm512_mask_srli_epi16(u, 0xFF00FF00u, u, 4), m4);)

// The same products with no byte permute at all (decode is shuffle-bound, and a 512-bit `vpermb` is costly on some
// cores): each block's 16 packed bytes are broadcast to two 128-bit lanes (the second block's merged into lanes 2-3
// under a mask), and one GF(2) affine transform per byte takes the low nibble in lanes 0/2 and the high nibble in
// lanes 1/3 (a bit matrix per 64-bit lane; row i of a matrix is byte 7 − i). The vectors equal the VBMI tile's, so
// the sums are bit-identical; measured 41 → 48 GMAC/s per core on L2-resident rows.
#define T_AVX512_GFNI __attribute__((target("avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni,gfni")))

Q4_0_TILE_4X1(vnni_tile_4x1_q4_0_gfni, T_AVX512_GFNI,
              const long long low = 0x0102040800000000LL;
              const long long high = 0x1020408000000000LL;
              const __m512i nibbles = _mm512_setr_epi64(low, low, high, high, low, low, high, high);,
              u = _mm512_broadcast_i32x4(_mm_loadu_si128((const void *)(x + 2)));
              u = _mm512_mask_broadcast_i32x4(u, 0xFF00, _mm_loadu_si128((const void *)(x + bs + 2)));
              u = _mm512_gf2p8affine_epi64_epi8(u, nibbles, 0);)

// MARK: Multi-token decode tiles (batched decode: one token of each of T sequences)
//
// Two weight rows × T activation rows: each weight block pair is unpacked once and used for all T tokens, and
// every (row, token) sum is accumulated exactly as `vnni_tile_1x1` accumulates it: the same 16 int32 lanes from
// one vpdpbusd per block pair, the same `fma(d_w · d_x, float(lanes), acc)`, the same odd-block tail and the same
// `hsum16(acc) + tail`. Only the way the scales are broadcast differs (the same fp16→fp32 conversions and the
// same single float product), so the results are bit-identical.

// [f(p[0]) ×8 | f(p[1]) ×8] for two fp16 scales `bs` bytes apart.
T_AVX512 static inline __m512 pair_h16(const uint8_t *x, int bs, __m512i idx) {
    const uint32_t v = (uint32_t)rd16(x) | (uint32_t)rd16(x + bs) << 16;
    return _mm512_permutexvar_ps(idx, _mm512_castps128_ps512(_mm_cvtph_ps(_mm_cvtsi32_si128((int)v))));
}

// [p[0] ×8 | p[1] ×8]
T_AVX512 static inline __m512 pair_f32(const float *p, __m512i idx) {
    return _mm512_permutexvar_ps(idx, _mm512_castps128_ps512(_mm_castpd_ps(_mm_load_sd((const double *)(const void *)p))));
}

#define VNNI_MT(NAME, R, T)                                                                                           \
    T_AVX512 __attribute__((always_inline)) static inline void NAME##_impl(uint32_t type, const uint8_t *const *w,   \
                                                                          const uint8_t *const *act, int64_t nb,   \
                                                                          float *out) {                            \
        const int bs = block32_bytes(type);                                                                         \
        const __m512i idx = _mm512_setr_epi32(0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1);                   \
        const float *ds[T];                                                                                         \
        const uint8_t *cs[T];                                                                                       \
        for (int t = 0; t < T; t++) {                                                                               \
            ds[t] = (const float *)(const void *)(act[t] + nb * ACT32_BLOCK);                                       \
            cs[t] = act[t] + nb * QK;                                                                               \
        }                                                                                                           \
        __m512 acc[R][T];                                                                                           \
        for (int r = 0; r < R; r++)                                                                                 \
            for (int t = 0; t < T; t++) acc[r][t] = _mm512_setzero_ps();                                            \
        int64_t b = 0;                                                                                              \
        for (; b + 2 <= nb; b += 2) {                                                                               \
            __m512i u[R];                                                                                           \
            __m512 dw[R];                                                                                           \
            for (int r = 0; r < R; r++) {                                                                           \
                const uint8_t *x = w[r] + b * bs;                                                                   \
                u[r] = unpack2_u8(type, x, bs);                                                                     \
                dw[r] = pair_h16(x, bs, idx);                                                                       \
            }                                                                                                       \
            for (int t = 0; t < T; t++) {                                                                           \
                const __m512i q = _mm512_loadu_si512((const void *)(act[t] + b * QK));                              \
                const __m512i c = _mm512_loadu_si512((const void *)(cs[t] + b * QK));                               \
                const __m512 dx = pair_f32(ds[t] + b, idx);                                                         \
                for (int r = 0; r < R; r++)                                                                         \
                    acc[r][t] = _mm512_fmadd_ps(_mm512_mul_ps(dw[r], dx),                                           \
                                                _mm512_cvtepi32_ps(_mm512_dpbusd_epi32(c, u[r], q)), acc[r][t]);    \
            }                                                                                                       \
        }                                                                                                           \
        float tail[R][T];                                                                                           \
        for (int r = 0; r < R; r++)                                                                                 \
            for (int t = 0; t < T; t++) tail[r][t] = 0;                                                             \
        if (b < nb) {                                                                                               \
            for (int r = 0; r < R; r++) {                                                                           \
                const uint8_t *x = w[r] + b * bs;                                                                   \
                const __m256i ur = unpack_u8(type, x);                                                              \
                for (int t = 0; t < T; t++) {                                                                       \
                    const __m256i s = _mm256_dpbusd_epi32(LOADI(cs[t] + b * QK), ur, LOADI(act[t] + b * QK));       \
                    tail[r][t] = hsum8(_mm256_cvtepi32_ps(s)) * (h2f(x) * ds[t][b]);                                \
                }                                                                                                   \
            }                                                                                                       \
        }                                                                                                           \
        for (int r = 0; r < R; r++)                                                                                 \
            for (int t = 0; t < T; t++) out[r * T + t] = hsum16(acc[r][t]) + tail[r][t];                           \
    }                                                                                                               \
    T_AVX512 static void NAME(uint32_t type, const uint8_t *const *w, const uint8_t *const *act, int64_t nb,       \
                              float *out) {                                                                         \
        switch (type) {                                                                                             \
        case PHI_TYPE_Q4_0: NAME##_impl(PHI_TYPE_Q4_0, w, act, nb, out); break;                                     \
        case PHI_TYPE_Q5_0: NAME##_impl(PHI_TYPE_Q5_0, w, act, nb, out); break;                                     \
        default: NAME##_impl(PHI_TYPE_Q8_0, w, act, nb, out); break;                                                \
        }                                                                                                           \
    }

VNNI_MT(vnni_mt_4x1, 4, 1)
VNNI_MT(vnni_mt_4x2, 4, 2)
VNNI_MT(vnni_mt_4x3, 4, 3)
VNNI_MT(vnni_mt_4x4, 4, 4)
VNNI_MT(vnni_mt_2x1, 2, 1)
VNNI_MT(vnni_mt_2x5, 2, 5)
VNNI_MT(vnni_mt_2x6, 2, 6)
VNNI_MT(vnni_mt_2x7, 2, 7)
VNNI_MT(vnni_mt_2x8, 2, 8)

typedef void (*vnni_mt_fn)(uint32_t, const uint8_t *const *, const uint8_t *const *, int64_t, float *);
// Four weight rows for up to 4 tokens (16 accumulators), two for 5..8; [0] for an unpaired last row.
static const vnni_mt_fn vnni_mt4[5] = {NULL, vnni_mt_4x1, vnni_mt_4x2, vnni_mt_4x3, vnni_mt_4x4};
static const vnni_mt_fn vnni_mt2[9] = {NULL,        vnni_mt_2x1, NULL,        NULL,       NULL,
                                       vnni_mt_2x5, vnni_mt_2x6, vnni_mt_2x7, vnni_mt_2x8};


// Prefill: 8 weight rows repacked (transiently, per call) so that one int32 lane holds one row: vector j of block b
// holds quants 4j..4j+3 of the 8 rows; each vpdpbusd against 4 broadcast activation bytes adds 32 multiply-adds
// to 8 row sums, and one float fma per (8 rows, token, block) applies the scales. The weights stay in their
// mapping; the tile lives in cache.
T_AVX2 __attribute__((always_inline)) static inline void transpose8_epi32(__m256i v[8]) {
    const __m256i a0 = _mm256_unpacklo_epi32(v[0], v[1]), a1 = _mm256_unpackhi_epi32(v[0], v[1]);
    const __m256i a2 = _mm256_unpacklo_epi32(v[2], v[3]), a3 = _mm256_unpackhi_epi32(v[2], v[3]);
    const __m256i a4 = _mm256_unpacklo_epi32(v[4], v[5]), a5 = _mm256_unpackhi_epi32(v[4], v[5]);
    const __m256i a6 = _mm256_unpacklo_epi32(v[6], v[7]), a7 = _mm256_unpackhi_epi32(v[6], v[7]);
    const __m256i b0 = _mm256_unpacklo_epi64(a0, a2), b1 = _mm256_unpackhi_epi64(a0, a2);
    const __m256i b2 = _mm256_unpacklo_epi64(a1, a3), b3 = _mm256_unpackhi_epi64(a1, a3);
    const __m256i b4 = _mm256_unpacklo_epi64(a4, a6), b5 = _mm256_unpackhi_epi64(a4, a6);
    const __m256i b6 = _mm256_unpacklo_epi64(a5, a7), b7 = _mm256_unpackhi_epi64(a5, a7);
    v[0] = _mm256_permute2x128_si256(b0, b4, 0x20);
    v[1] = _mm256_permute2x128_si256(b1, b5, 0x20);
    v[2] = _mm256_permute2x128_si256(b2, b6, 0x20);
    v[3] = _mm256_permute2x128_si256(b3, b7, 0x20);
    v[4] = _mm256_permute2x128_si256(b0, b4, 0x31);
    v[5] = _mm256_permute2x128_si256(b1, b5, 0x31);
    v[6] = _mm256_permute2x128_si256(b2, b6, 0x31);
    v[7] = _mm256_permute2x128_si256(b3, b7, 0x31);
}

T_AVX2 __attribute__((always_inline)) static inline void repack8_impl(uint32_t type, const uint8_t *w, size_t wrb,
                                                                         int64_t nb, __m256i *rep, float *dws) {
    const int bs = block32_bytes(type);
    for (int64_t b = 0; b < nb; b++) {
        __m256i v[8];
        for (int r = 0; r < 8; r++) {
            const uint8_t *x = w + (size_t)r * wrb + b * bs;
            v[r] = unpack_u8(type, x);
            dws[b * 8 + r] = h2f(x);
        }
        transpose8_epi32(v);
        for (int j = 0; j < 8; j++) _mm256_store_si256(rep + b * 8 + j, v[j]);
    }
}

T_AVX2 static void repack8(uint32_t type, const uint8_t *w, size_t wrb, int64_t nb, __m256i *rep, float *dws) {
    switch (type) {
    case PHI_TYPE_Q4_0: repack8_impl(PHI_TYPE_Q4_0, w, wrb, nb, rep, dws); break;
    case PHI_TYPE_Q5_0: repack8_impl(PHI_TYPE_Q5_0, w, wrb, nb, rep, dws); break;
    default: repack8_impl(PHI_TYPE_Q8_0, w, wrb, nb, rep, dws); break;
    }
}

#define REPACKED_KERNEL(NAME, T)                                                                                   \
    T_AVX512 static void NAME(const __m256i *rep, const float *dws, const uint8_t *const *act, int64_t nb,          \
                              __m256 *out) {                                                                        \
        const float *ds[T];                                                                                         \
        const int32_t *cs[T];                                                                                       \
        for (int t = 0; t < T; t++) {                                                                               \
            ds[t] = (const float *)(const void *)(act[t] + nb * ACT32_BLOCK);                                       \
            cs[t] = (const int32_t *)(const void *)(ds[t] + 2 * nb);                                                \
        }                                                                                                           \
        __m256 accf[T];                                                                                             \
        for (int t = 0; t < T; t++) accf[t] = _mm256_setzero_ps();                                                  \
        for (int64_t b = 0; b < nb; b++) {                                                                          \
            /* two chains per token (even and odd vectors): 8 dependent vpdpbusd would wait on their latency */     \
            __m256i acc[T], acc2[T];                                                                                \
            for (int t = 0; t < T; t++) {                                                                           \
                acc[t] = _mm256_set1_epi32(cs[t][b]);                                                               \
                acc2[t] = _mm256_setzero_si256();                                                                   \
            }                                                                                                       \
            for (int j = 0; j < 8; j++) {                                                                           \
                const __m256i wv = _mm256_load_si256(rep + b * 8 + j);                                              \
                for (int t = 0; t < T; t++) {                                                                       \
                    int32_t a4;                                                                                     \
                    memcpy(&a4, act[t] + b * QK + 4 * j, 4);                                                        \
                    if (j & 1) acc2[t] = _mm256_dpbusd_epi32(acc2[t], wv, _mm256_set1_epi32(a4));                   \
                    else acc[t] = _mm256_dpbusd_epi32(acc[t], wv, _mm256_set1_epi32(a4));                           \
                }                                                                                                   \
            }                                                                                                       \
            for (int t = 0; t < T; t++) acc[t] = _mm256_add_epi32(acc[t], acc2[t]);                                 \
            const __m256 dw = _mm256_loadu_ps(dws + b * 8);                                                         \
            for (int t = 0; t < T; t++)                                                                             \
                accf[t] = _mm256_fmadd_ps(_mm256_mul_ps(dw, _mm256_broadcast_ss(ds[t] + b)), _mm256_cvtepi32_ps(acc[t]), \
                                          accf[t]);                                                                 \
        }                                                                                                           \
        for (int t = 0; t < T; t++) out[t] = accf[t];                                                               \
    }

REPACKED_KERNEL(repacked_8x4, 4)
REPACKED_KERNEL(repacked_8x1, 1)

// The repacked tiles on AVX2. Q4_0: `maddubs` of a repacked vector against 4 broadcast activation bytes gives int16
// pair sums, added up over the block's 8 vectors in int16 (u ≤ 15, so at most 8 · 2 · 15 · 127 = 30,480: no
// saturation) and widened by one `madd` per block, plus the stored −8·Σy. Q8_0 (u up to 255 would saturate
// `maddubs`): the signed quants with the sign trick, widened per vector. Either way the same block integers and the
// same float steps as the VNNI tiles above, so by construction the same results. (Q5_0 keeps the per-row kernels.)
#define REPACKED_KERNEL_AVX2(NAME, T, TYPE)                                                                        \
    T_AVX2 static void NAME(const __m256i *rep, const float *dws, const uint8_t *const *act, int64_t nb,            \
                            __m256 *out) {                                                                          \
        const float *ds[T];                                                                                         \
        const int32_t *cs[T];                                                                                       \
        for (int t = 0; t < T; t++) {                                                                               \
            ds[t] = (const float *)(const void *)(act[t] + nb * ACT32_BLOCK);                                       \
            cs[t] = (const int32_t *)(const void *)(ds[t] + 2 * nb);                                                \
        }                                                                                                           \
        const __m256i ones = _mm256_set1_epi16(1);                                                                  \
        __m256 accf[T];                                                                                             \
        for (int t = 0; t < T; t++) accf[t] = _mm256_setzero_ps();                                                  \
        for (int64_t b = 0; b < nb; b++) {                                                                          \
            __m256i acc[T];                                                                                         \
            if (TYPE == PHI_TYPE_Q4_0) {                                                                            \
                __m256i acc16[T];                                                                                   \
                for (int t = 0; t < T; t++) acc16[t] = _mm256_setzero_si256();                                      \
                for (int j = 0; j < 8; j++) {                                                                       \
                    const __m256i wv = _mm256_load_si256(rep + b * 8 + j);                                          \
                    for (int t = 0; t < T; t++) {                                                                   \
                        int32_t a4;                                                                                 \
                        memcpy(&a4, act[t] + b * QK + 4 * j, 4);                                                    \
                        acc16[t] = _mm256_add_epi16(acc16[t], _mm256_maddubs_epi16(wv, _mm256_set1_epi32(a4)));     \
                    }                                                                                               \
                }                                                                                                   \
                for (int t = 0; t < T; t++)                                                                         \
                    acc[t] = _mm256_add_epi32(_mm256_set1_epi32(cs[t][b]), _mm256_madd_epi16(acc16[t], ones));      \
            } else {                                                                                                \
                for (int t = 0; t < T; t++) acc[t] = _mm256_setzero_si256();                                        \
                for (int j = 0; j < 8; j++) {                                                                       \
                    const __m256i ws = _mm256_xor_si256(_mm256_load_si256(rep + b * 8 + j), _mm256_set1_epi8((char)0x80)); \
                    const __m256i wa = _mm256_sign_epi8(ws, ws);                                                    \
                    for (int t = 0; t < T; t++) {                                                                   \
                        int32_t a4;                                                                                 \
                        memcpy(&a4, act[t] + b * QK + 4 * j, 4);                                                    \
                        const __m256i p = _mm256_maddubs_epi16(wa, _mm256_sign_epi8(_mm256_set1_epi32(a4), ws));    \
                        acc[t] = _mm256_add_epi32(acc[t], _mm256_madd_epi16(p, ones));                              \
                    }                                                                                               \
                }                                                                                                   \
            }                                                                                                       \
            const __m256 dw = _mm256_loadu_ps(dws + b * 8);                                                         \
            for (int t = 0; t < T; t++)                                                                             \
                accf[t] = _mm256_fmadd_ps(_mm256_mul_ps(dw, _mm256_broadcast_ss(ds[t] + b)), _mm256_cvtepi32_ps(acc[t]), \
                                          accf[t]);                                                                 \
        }                                                                                                           \
        for (int t = 0; t < T; t++) out[t] = accf[t];                                                               \
    }

REPACKED_KERNEL_AVX2(repacked_8x4_avx2_q4_0, 4, PHI_TYPE_Q4_0)
REPACKED_KERNEL_AVX2(repacked_8x1_avx2_q4_0, 1, PHI_TYPE_Q4_0)
REPACKED_KERNEL_AVX2(repacked_8x4_avx2_q8_0, 4, PHI_TYPE_Q8_0)
REPACKED_KERNEL_AVX2(repacked_8x1_avx2_q8_0, 1, PHI_TYPE_Q8_0)

typedef void (*repacked_fn)(const __m256i *, const float *, const uint8_t *const *, int64_t, __m256 *);

// Rows [r0, r0 + 8·groups) × all n tokens through repacked tiles (`tile4` for 4 tokens, `tile1` for one). Returns
// the first row not done.
T_AVX2 static int64_t qgemm_repacked_with(repacked_fn tile4, repacked_fn tile1, uint32_t type, const uint8_t *W,
                                          size_t wrb, const uint8_t *A, size_t arb, int64_t k, int64_t n,
                                          const float *bias, float *y, int64_t ldy, int64_t r0, int64_t r1) {
    const int64_t nb = k / QK;
    __m256i *rep = aligned_alloc(64, (size_t)nb * 8 * sizeof(__m256i));
    float *dws = aligned_alloc(64, (size_t)nb * 8 * sizeof(float) + 64);
    if (!rep || !dws) {
        free(rep);
        free(dws);
        return r0;
    }
    int64_t r = r0;
    for (; r + 8 <= r1; r += 8) {
        repack8(type, W + r * wrb, wrb, nb, rep, dws);
        const __m256 bv = bias ? _mm256_loadu_ps(bias + r) : _mm256_setzero_ps();
        int64_t t = 0;
        for (; t + 4 <= n; t += 4) {
            const uint8_t *at[4] = {A + t * arb, A + (t + 1) * arb, A + (t + 2) * arb, A + (t + 3) * arb};
            __m256 out[4];
            tile4(rep, dws, at, nb, out);
            for (int i = 0; i < 4; i++) _mm256_storeu_ps(y + (t + i) * ldy + r, _mm256_add_ps(out[i], bv));
        }
        for (; t < n; t++) {
            const uint8_t *at[1] = {A + t * arb};
            __m256 out[1];
            tile1(rep, dws, at, nb, out);
            _mm256_storeu_ps(y + t * ldy + r, _mm256_add_ps(out[0], bv));
        }
    }
    free(rep);
    free(dws);
    return r;
}

static int64_t qgemm_repacked(uint32_t type, const uint8_t *W, size_t wrb, const uint8_t *A, size_t arb, int64_t k,
                              int64_t n, const float *bias, float *y, int64_t ldy, int64_t r0, int64_t r1) {
    return qgemm_repacked_with(repacked_8x4, repacked_8x1, type, W, wrb, A, arb, k, n, bias, y, ldy, r0, r1);
}

// Q4_0 and Q8_0 only.
static int64_t qgemm_repacked_avx2(uint32_t type, const uint8_t *W, size_t wrb, const uint8_t *A, size_t arb, int64_t k,
                                   int64_t n, const float *bias, float *y, int64_t ldy, int64_t r0, int64_t r1) {
    if (type == PHI_TYPE_Q4_0)
        return qgemm_repacked_with(repacked_8x4_avx2_q4_0, repacked_8x1_avx2_q4_0, type, W, wrb, A, arb, k, n, bias, y,
                                   ldy, r0, r1);
    return qgemm_repacked_with(repacked_8x4_avx2_q8_0, repacked_8x1_avx2_q8_0, type, W, wrb, A, arb, k, n, bias, y, ldy,
                               r0, r1);
}

// For phi_q4_0_x8.c's prefill: 8 rows already unpacked (`rep`, `dws` as `repack8` makes them) × 1 or 4 tokens.
T_AVX2 void phi_internal_repacked_q4_0_avx2(const void *rep, const float *dws, const uint8_t *const *act, int64_t nb,
                                            int tokens, float *out) {
    __m256 v[4];
    if (tokens == 4) repacked_8x4_avx2_q4_0(rep, dws, act, nb, v);
    else repacked_8x1_avx2_q4_0(rep, dws, act, nb, v);
    for (int t = 0; t < tokens; t++) _mm256_storeu_ps(out + 8 * t, v[t]);
}

static float vec_dot_avx512(uint32_t type, const void *w, const void *act, int64_t k) {
    if (!vnni_type(type)) return vec_dot_avx2(type, w, act, k);
    const uint8_t *wr[1] = {w}, *ar[1] = {act};
    float out;
    vnni_tile_1x1(type, wr, ar, k / QK, &out);
    return out;
}
#endif

// MARK: - Dispatch

typedef float (*vec_dot_fn)(uint32_t, const void *, const void *, int64_t);

static vec_dot_fn vec_dot_for_level(int level) {
#ifdef PHI_X86
    if (level >= PHI_LEVEL_AVX512) return vec_dot_avx512;
    if (level >= PHI_LEVEL_AVX2) return vec_dot_avx2;
#else
    (void)level;
#endif
    return vec_dot_scalar;
}

float phi_vec_dot(uint32_t type, const void *w_row, const void *act_row, int64_t k) {
    if (!phi_quant_supported(type) || k <= 0) return 0;
    return vec_dot_for_level(phi_quant_level())(type, w_row, act_row, k);
}

float phi_vec_dot_at_level(uint32_t type, const void *w_row, const void *act_row, int64_t k, int level) {
    if (!phi_quant_supported(type) || k <= 0) return 0;
    const int detected = phi_quant_detected_level();
    return vec_dot_for_level(level < detected ? level : detected)(type, w_row, act_row, k);
}

// `PHI_NO_REPACK=1` keeps prefill on the 2×4 tiles (for measurements).
static int use_repack(void) {
    static int state = -1;
    int v = __atomic_load_n(&state, __ATOMIC_RELAXED);
    if (v < 0) {
        v = getenv("PHI_NO_REPACK") ? 0 : 1;
        __atomic_store_n(&state, v, __ATOMIC_RELAXED);
    }
    return v;
}

// `allow_repack` 0 keeps every row on kernels with the per-row summation order of `phi_vec_dot` (the VNNI tiles
// 1×1, 4×1 and 2×4 accumulate each (row, token) identically); the repacked tiles sum blocks in integers first, so
// their results differ in the last bits.
static void qgemm_range_at(int level, uint32_t type, const void *w, size_t wrb, const void *act, size_t arb, int64_t k,
                           int64_t n, const float *bias, float *y, int64_t ldy, int64_t r0, int64_t r1, int allow_repack) {
    const vec_dot_fn dot = vec_dot_for_level(level);
    const uint8_t *W = w, *A = act;
    int64_t r = r0;
#ifdef PHI_X86
    if (level >= PHI_LEVEL_AVX512 && vnni_type(type)) {
        const int64_t nb = k / QK;
        if (allow_repack && use_repack()) r = qgemm_repacked(type, W, wrb, A, arb, k, n, bias, y, ldy, r, r1);
        if (n >= 2 && r < r1) {
            // Batched decode (and the rows the repacked tiles leave): groups of up to 8 tokens outer, weight rows
            // in quads (groups up to 4) or pairs inner; each weight block is unpacked once per group while the
            // range's rows stay in L1/L2. Rows left over at the end of the range go through the single-row dot.
            for (int64_t t = 0; t < n;) {
                const int g = n - t >= 8 ? 8 : (int)(n - t);
                const int R = g <= 4 ? 4 : 2;
                const vnni_mt_fn tile = g <= 4 ? vnni_mt4[g] : vnni_mt2[g];
                const uint8_t *at[8];
                for (int i = 0; i < g; i++) at[i] = A + (t + i) * arb;
                int64_t rr = r;
                for (; rr + R <= r1; rr += R) {
                    const uint8_t *wr[4];
                    for (int j = 0; j < R; j++) wr[j] = W + (rr + j) * wrb;
                    float out[32];
                    tile(type, wr, at, nb, out);
                    for (int j = 0; j < R; j++)
                        for (int i = 0; i < g; i++)
                            y[(t + i) * ldy + rr + j] = out[j * g + i] + (bias ? bias[rr + j] : 0.0f);
                }
                for (; rr < r1; rr++)
                    for (int i = 0; i < g; i++)
                        y[(t + i) * ldy + rr] = dot(type, W + rr * wrb, at[i], k) + (bias ? bias[rr] : 0.0f);
                t += g;
            }
            r = r1;
        } else if (n == 1) {
            // Decode: four rows at a time share each activation load.
            const uint8_t *at[1] = {A};
            int64_t rr = r;
            const int gfni = type == PHI_TYPE_Q4_0 && has_gfni();
            const int vbmi = type == PHI_TYPE_Q4_0 && !gfni && has_vbmi();
            for (; rr + 4 <= r1; rr += 4) {
                const uint8_t *wr[4] = {W + rr * wrb, W + (rr + 1) * wrb, W + (rr + 2) * wrb, W + (rr + 3) * wrb};
                float out[4];
                if (gfni) vnni_tile_4x1_q4_0_gfni(wr, A, nb, out);
                else if (vbmi) vnni_tile_4x1_q4_0_vbmi(wr, A, nb, out);
                else vnni_tile_4x1(type, wr, at, nb, out);
                for (int i = 0; i < 4; i++) y[rr + i] = out[i] + (bias ? bias[rr + i] : 0.0f);
            }
            for (; rr < r1; rr++) y[rr] = dot(type, W + rr * wrb, A, k) + (bias ? bias[rr] : 0.0f);
            r = r1;
        }
    } else if (level >= PHI_LEVEL_AVX2 && (type == PHI_TYPE_Q4_K || type == PHI_TYPE_Q6_K) && n >= 2) {
        // Batched decode, Q4_K / Q6_K (both levels run the AVX2 kernels): row blocks of 16, groups of up to 4.
        const int64_t nb = k / QKK;
        const dot_k_mt_fn *fns = type == PHI_TYPE_Q4_K ? dot_q4_K_avx2_mt : dot_q6_K_avx2_mt;
        for (int64_t rb = r; rb < r1; rb += 16) {
            const int64_t re = rb + 16 < r1 ? rb + 16 : r1;
            for (int64_t t = 0; t < n;) {
                const int g = n - t >= 4 ? 4 : (int)(n - t);
                const phi_q8k *at[4];
                for (int i = 0; i < g; i++) at[i] = (const phi_q8k *)(const void *)(A + (t + i) * arb);
                for (int64_t rr = rb; rr < re; rr++) {
                    float out[4];
                    fns[g](W + rr * wrb, at, nb, out);
                    for (int i = 0; i < g; i++) y[(t + i) * ldy + rr] = out[i] + (bias ? bias[rr] : 0.0f);
                }
                t += g;
            }
        }
        r = r1;
    } else if (level >= PHI_LEVEL_AVX2 && (type == PHI_TYPE_Q4_0 || type == PHI_TYPE_Q8_0) && n == 1) {
        // Decode on AVX2: four rows at a time share each activation block. (Q5_0's heavier unpacking runs out of
        // registers in the tile: measured slower than the single-row dot, so it keeps that.)
        const int64_t nb = k / QK;
        int64_t rr = r;
        for (; rr + 4 <= r1; rr += 4) {
            const uint8_t *wr[4] = {W + rr * wrb, W + (rr + 1) * wrb, W + (rr + 2) * wrb, W + (rr + 3) * wrb};
            float out[4];
            avx2_tile_4x1(type, wr, A, nb, out);
            for (int i = 0; i < 4; i++) y[rr + i] = out[i] + (bias ? bias[rr + i] : 0.0f);
        }
        for (; rr < r1; rr++) y[rr] = dot(type, W + rr * wrb, A, k) + (bias ? bias[rr] : 0.0f);
        r = r1;
    } else if (level >= PHI_LEVEL_AVX2 && vnni_type(type) && n >= 2) {
        // Prefill on AVX2: Q4_0 and Q8_0 through the repacked tiles (rows left over below 8 continue here). Then
        // batched decode: row blocks of 16, groups of up to 4 tokens per weight row.
        if ((type == PHI_TYPE_Q4_0 || type == PHI_TYPE_Q8_0) && allow_repack && use_repack())
            r = qgemm_repacked_avx2(type, W, wrb, A, arb, k, n, bias, y, ldy, r, r1);
        const int64_t nb = k / QK;
        for (int64_t rb = r; rb < r1; rb += 16) {
            const int64_t re = rb + 16 < r1 ? rb + 16 : r1;
            for (int64_t t = 0; t < n;) {
                const int g = n - t >= 4 ? 4 : (int)(n - t);
                const uint8_t *at[4];
                for (int i = 0; i < g; i++) at[i] = A + (t + i) * arb;
                for (int64_t rr = rb; rr < re; rr++) {
                    float out[4];
                    dot32_avx2_mt[g](type, W + rr * wrb, at, nb, out);
                    for (int i = 0; i < g; i++) y[(t + i) * ldy + rr] = out[i] + (bias ? bias[rr] : 0.0f);
                }
                t += g;
            }
        }
        r = r1;
    }
#endif
    // Row blocks of 16 × every token: the block's weights stay in cache while the tokens stream.
    for (int64_t rb = r; rb < r1; rb += 16) {
        const int64_t re = rb + 16 < r1 ? rb + 16 : r1;
        for (int64_t t = 0; t < n; t++)
            for (int64_t rr = rb; rr < re; rr++)
                y[t * ldy + rr] = dot(type, W + rr * wrb, A + t * arb, k) + (bias ? bias[rr] : 0.0f);
    }
}

static void qgemm_range(uint32_t type, const void *w, size_t wrb, const void *act, size_t arb, int64_t k, int64_t n,
                        const float *bias, float *y, int64_t ldy, int64_t r0, int64_t r1, int allow_repack) {
    qgemm_range_at(phi_quant_level(), type, w, wrb, act, arb, k, n, bias, y, ldy, r0, r1, allow_repack);
}

void phi_qgemm_range(uint32_t type, const void *w, size_t wrb, const void *act, size_t arb, int64_t k, int64_t n,
                     const float *bias, float *y, int64_t ldy, int64_t r0, int64_t r1) {
    qgemm_range(type, w, wrb, act, arb, k, n, bias, y, ldy, r0, r1, n >= 4);
}

void phi_qgemm_rows_at_level(uint32_t type, const void *w, size_t wrb, const void *act, size_t arb, int64_t k,
                             int64_t n, float *y, int64_t ldy, int64_t r0, int64_t r1, int level) {
    if (!phi_quant_supported(type) || k <= 0 || n <= 0 || r1 <= r0) return;
    const int detected = phi_quant_detected_level();
    qgemm_range_at(level < detected ? level : detected, type, w, wrb, act, arb, k, n, NULL, y, ldy, r0, r1, 0);
}

// MARK: - Threaded matmul

static int quantized_matmul = 0;
static _Thread_local int thread_quantized_matmul = -1;
int phi_set_quantized_matmul(int enabled) { return __atomic_exchange_n(&quantized_matmul, enabled ? 1 : 0, __ATOMIC_RELAXED); }
int phi_set_thread_quantized_matmul(int mode) {
    const int previous = thread_quantized_matmul;
    thread_quantized_matmul = mode < 0 ? -1 : mode ? 1 : 0;
    return previous;
}
int phi_quantized_matmul(void) {
    return thread_quantized_matmul >= 0 ? thread_quantized_matmul : __atomic_load_n(&quantized_matmul, __ATOMIC_RELAXED);
}

typedef struct {
    uint32_t type;
    const uint8_t *w;
    size_t wrb;
    int64_t m, k, n;
    const float *x;
    const float *bias;
    float *y;
    uint8_t *act;
    size_t arb;
    int64_t rows_per_chunk, chunks;
    int allow_repack;
    atomic_llong next;
} mm_job;

typedef struct {
    uint32_t type;
    const float *x;
    int64_t n, k;
    uint8_t *act;
    size_t arb;
    atomic_llong next;
} quantize_job;

static void quantize_task(void *p, int ith, int nth) {
    (void)ith;
    (void)nth;
    quantize_job *j = p;
    for (;;) {
        const int64_t t0 = atomic_fetch_add_explicit(&j->next, 8, memory_order_relaxed);
        if (t0 >= j->n) break;
        for (int64_t t = t0; t < t0 + 8 && t < j->n; t++)
            phi_quantize_act_row(j->type, j->x + t * j->k, j->act + (size_t)t * j->arb, j->k);
    }
}

void phi_internal_quantize_rows(uint32_t type, const float *x, int64_t n, int64_t k, uint8_t *act, size_t arb,
                                int threaded) {
    quantize_job j = {.type = type, .x = x, .n = n, .k = k, .act = act, .arb = arb};
    atomic_init(&j.next, 0);
    // Decode's one row is quantized on the caller: waking the pool for it costs more than it saves.
    if (threaded && n * k >= 65536) phi_pool_run(quantize_task, &j);
    else quantize_task(&j, 0, 1);
}

static void matmul_task(void *p, int ith, int nth) {
    (void)ith;
    (void)nth;
    mm_job *j = p;
    for (;;) {
        const long long c = atomic_fetch_add_explicit(&j->next, 1, memory_order_relaxed);
        if (c >= j->chunks) break;
        const int64_t r0 = c * j->rows_per_chunk;
        const int64_t r1 = r0 + j->rows_per_chunk < j->m ? r0 + j->rows_per_chunk : j->m;
        qgemm_range(j->type, j->w, j->wrb, j->act, j->arb, j->k, j->n, j->bias, j->y, j->m, r0, r1, j->allow_repack);
    }
}

int phi_matmul_quantized(uint32_t type, const void *w, size_t wrb, int64_t m, int64_t k, const float *x, int64_t n,
                         const float *bias, float *y) {
    return phi_matmul_quantized_order(type, w, wrb, m, k, x, n, bias, y, n >= 4 ? PHI_ORDER_REPACKED : PHI_ORDER_ROW);
}

int phi_matmul_quantized_order(uint32_t type, const void *w, size_t wrb, int64_t m, int64_t k, const float *x,
                               int64_t n, const float *bias, float *y, int order) {
    if (!phi_quant_supported(type)) return PHI_ERR_UNSUPPORTED_TYPE;
    const size_t arb = phi_act_row_size(type, k);
    if (m < 0 || n < 0 || k <= 0 || arb == 0) return PHI_ERR_BAD_COUNT;
    if (m == 0 || n == 0) return PHI_OK;
    mm_job j;
    j.type = type;
    j.w = w;
    j.wrb = wrb;
    j.m = m;
    j.k = k;
    j.n = n;
    j.x = x;
    j.bias = bias;
    j.y = y;
    j.arb = arb;
    j.allow_repack = order == PHI_ORDER_REPACKED;
    uint8_t *owned = NULL;
    if (is_float(type)) {
        j.act = (uint8_t *)(uintptr_t)x;
    } else {
        const size_t total = ((size_t)n * arb + 63) & ~(size_t)63;
        owned = aligned_alloc(64, total);
        if (!owned) return -3;
        j.act = owned;
        phi_internal_quantize_rows(type, x, n, k, owned, arb, 1);
    }
    const int nth = phi_pool_threads();
    int64_t rpc;
    if (n == 1 && order == PHI_ORDER_ROW) {
        // (Chunking never changes a result: each (row, token) is computed whole by one kernel call; with the
        // repacked order the 8-row groups follow the 16-row chunks.)
        rpc = (m + nth * 8 - 1) / (nth * 8);
        if (rpc < 16) rpc = 16;
    } else {
        rpc = 16;
    }
    rpc = (rpc + 1) & ~(int64_t)1;
    j.rows_per_chunk = rpc;
    j.chunks = (m + rpc - 1) / rpc;
    atomic_init(&j.next, 0);
    if (j.chunks > 1 && (int64_t)m * k * n >= 32768) phi_pool_run(matmul_task, &j);
    else matmul_task(&j, 0, 1);
    free(owned);
    return PHI_OK;
}
