// Dequantization of ggml block types to float32, reproducing ggml-quants.c `dequantize_row_*` bit for bit,
// plus float16/bfloat16 conversions and small float32 vector helpers. Portable scalar code, with AVX2/F16C
// variants selected at run time (CPU support and OS-enabled AVX state both checked).
#include "phi_kernels.h"

#include <string.h>

// No a*b+c contraction into FMA anywhere: the references round the product before the sum.
#pragma STDC FP_CONTRACT OFF

int phi_kernels_abi_version(void) { return 1; }

// MARK: - Scalar conversions

static inline uint32_t f32_bits(float f) {
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return u;
}

static inline float f32_from_bits(uint32_t u) {
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

static inline uint16_t load_u16(const uint8_t *p) { return (uint16_t)(p[0] | (p[1] << 8)); }

float phi_f16_to_f32(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000) << 16;
    uint32_t exp = (h >> 10) & 0x1f;
    uint32_t mant = h & 0x3ff;
    if (exp == 0x1f) return f32_from_bits(sign | 0x7f800000u | (mant << 13));  // inf / NaN (payload kept)
    if (exp != 0) return f32_from_bits(sign | ((exp + 112) << 23) | (mant << 13));
    if (mant == 0) return f32_from_bits(sign);  // +-0
    // Subnormal: value = mant * 2^-24, exact in float32.
    float v = (float)mant * 0x1p-24f;
    return sign ? -v : v;
}

uint16_t phi_f32_to_f16(float f) {
    uint32_t x = f32_bits(f);
    uint16_t sign = (uint16_t)((x >> 16) & 0x8000);
    uint32_t absx = x & 0x7fffffffu;
    if (absx >= 0x7f800000u) {  // inf or NaN
        return (uint16_t)(sign | 0x7c00 | (absx > 0x7f800000u ? (0x200 | ((absx >> 13) & 0x3ff)) : 0));
    }
    if (absx >= 0x477ff000u) return (uint16_t)(sign | 0x7c00);  // rounds to >= 65520: overflow to inf
    if (absx < 0x38800000u) {  // below the smallest normal half (2^-14): subnormal or zero
        if (absx < 0x33000000u) return sign;  // < 2^-25: rounds to zero (2^-25 itself ties to even zero)
        uint32_t exp = absx >> 23;  // 102...112
        uint32_t mant = (absx & 0x7fffff) | 0x800000;
        uint32_t shift = 126 - exp;  // value = mant * 2^(exp-150); half subnormal unit 2^-24 -> shift by (126 - exp)
        uint32_t q = mant >> shift;
        uint32_t rem = mant & ((1u << shift) - 1);
        uint32_t half = 1u << (shift - 1);
        if (rem > half || (rem == half && (q & 1))) q += 1;
        return (uint16_t)(sign | q);
    }
    uint32_t q = ((absx >> 13) - (112u << 10));  // rebias exponent, keep top 10 mantissa bits
    uint32_t rem = absx & 0x1fff;
    if (rem > 0x1000 || (rem == 0x1000 && (q & 1))) q += 1;
    return (uint16_t)(sign | q);
}

float phi_bf16_to_f32(uint16_t h) { return f32_from_bits((uint32_t)h << 16); }

uint16_t phi_f32_to_bf16(float f) {
    uint32_t x = f32_bits(f);
    if ((x & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((x >> 16) | 64);  // quiet NaN
    return (uint16_t)((x + (0x7fff + ((x >> 16) & 1))) >> 16);
}

void phi_f32_to_bf16_row(const float *src, uint16_t *dst, int64_t n) {
    for (int64_t i = 0; i < n; i++) dst[i] = phi_f32_to_bf16(src[i]);
}

void phi_f32_to_f16_row(const float *src, uint16_t *dst, int64_t n) {
    for (int64_t i = 0; i < n; i++) dst[i] = phi_f32_to_f16(src[i]);
}

static inline float f16_at(const uint8_t *p) { return phi_f16_to_f32(load_u16(p)); }

// MARK: - CPU feature dispatch

#if defined(__x86_64__) || defined(__i386__)
#define PHI_X86 1
#include <cpuid.h>
#include <immintrin.h>

static int detect_avx2(void) {
    unsigned a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d)) return 0;
    if (!(c & bit_OSXSAVE)) return 0;
    unsigned xcr0_lo, xcr0_hi;
    __asm__ volatile("xgetbv" : "=a"(xcr0_lo), "=d"(xcr0_hi) : "c"(0));
    (void)xcr0_hi;
    if ((xcr0_lo & 0x6) != 0x6) return 0;  // XMM and YMM state enabled by the OS
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && __builtin_cpu_supports("f16c");
}
#else
static int detect_avx2(void) { return 0; }
#endif

static int simd_state = -1;  // -1: not yet detected; 0: off; 1: AVX2 paths
static int simd_enabled = 1;

int phi_simd_active(void) {
    int s = __atomic_load_n(&simd_state, __ATOMIC_RELAXED);
    if (s < 0) {
        s = detect_avx2();
        __atomic_store_n(&simd_state, s, __ATOMIC_RELAXED);
    }
    return s && __atomic_load_n(&simd_enabled, __ATOMIC_RELAXED);
}

int phi_simd_enabled(void) { return __atomic_load_n(&simd_enabled, __ATOMIC_RELAXED); }

int phi_set_simd_enabled(int enabled) {
    return __atomic_exchange_n(&simd_enabled, enabled ? 1 : 0, __ATOMIC_RELAXED);
}

// MARK: - Scalar dequantization (ggml reference formulas)

static void f16_row_scalar(const uint8_t *x, float *y, int64_t n) {
    for (int64_t i = 0; i < n; i++) y[i] = f16_at(x + 2 * i);
}

void phi_dequantize_row_bf16(const void *src, float *y, int64_t n) {
    const uint8_t *x = src;
    for (int64_t i = 0; i < n; i++) y[i] = phi_bf16_to_f32(load_u16(x + 2 * i));
}

// block_q4_0: f16 d; uint8 qs[16]. y[j] = ((qs[j] & 15) - 8) * d, y[j+16] = ((qs[j] >> 4) - 8) * d.
static void q4_0_scalar(const uint8_t *x, float *y, int64_t nb) {
    for (int64_t i = 0; i < nb; i++, x += 18, y += 32) {
        const float d = f16_at(x);
        const uint8_t *qs = x + 2;
        for (int j = 0; j < 16; j++) {
            y[j] = (float)((qs[j] & 0x0f) - 8) * d;
            y[j + 16] = (float)((qs[j] >> 4) - 8) * d;
        }
    }
}

// block_q4_1: f16 d, f16 m; uint8 qs[16]. y = q * d + m.
void phi_dequantize_row_q4_1(const void *src, float *y, int64_t n) {
    const uint8_t *x = src;
    for (int64_t i = 0; i < n / 32; i++, x += 20, y += 32) {
        const float d = f16_at(x), m = f16_at(x + 2);
        const uint8_t *qs = x + 4;
        for (int j = 0; j < 16; j++) {
            float p0 = (float)(qs[j] & 0x0f) * d;
            float p1 = (float)(qs[j] >> 4) * d;
            y[j] = p0 + m;
            y[j + 16] = p1 + m;
        }
    }
}

// block_q5_0: f16 d; uint8 qh[4] (bit j = 5th bit of element j); uint8 qs[16]. y = (q - 16) * d.
void phi_dequantize_row_q5_0(const void *src, float *y, int64_t n) {
    const uint8_t *x = src;
    for (int64_t i = 0; i < n / 32; i++, x += 22, y += 32) {
        const float d = f16_at(x);
        uint32_t qh;
        memcpy(&qh, x + 2, 4);
        const uint8_t *qs = x + 6;
        for (int j = 0; j < 16; j++) {
            const uint8_t h0 = (uint8_t)(((qh >> j) << 4) & 0x10);
            const uint8_t h1 = (uint8_t)((qh >> (j + 12)) & 0x10);
            y[j] = (float)(((qs[j] & 0x0f) | h0) - 16) * d;
            y[j + 16] = (float)(((qs[j] >> 4) | h1) - 16) * d;
        }
    }
}

// block_q5_1: f16 d, f16 m; uint8 qh[4]; uint8 qs[16]. y = q * d + m.
void phi_dequantize_row_q5_1(const void *src, float *y, int64_t n) {
    const uint8_t *x = src;
    for (int64_t i = 0; i < n / 32; i++, x += 24, y += 32) {
        const float d = f16_at(x), m = f16_at(x + 2);
        uint32_t qh;
        memcpy(&qh, x + 4, 4);
        const uint8_t *qs = x + 8;
        for (int j = 0; j < 16; j++) {
            const uint8_t h0 = (uint8_t)(((qh >> j) << 4) & 0x10);
            const uint8_t h1 = (uint8_t)((qh >> (j + 12)) & 0x10);
            float p0 = (float)((qs[j] & 0x0f) | h0) * d;
            float p1 = (float)((qs[j] >> 4) | h1) * d;
            y[j] = p0 + m;
            y[j + 16] = p1 + m;
        }
    }
}

// block_q8_0: f16 d; int8 qs[32]. y = q * d.
static void q8_0_scalar(const uint8_t *x, float *y, int64_t nb) {
    for (int64_t i = 0; i < nb; i++, x += 34, y += 32) {
        const float d = f16_at(x);
        const int8_t *qs = (const int8_t *)(x + 2);
        for (int j = 0; j < 32; j++) y[j] = (float)qs[j] * d;
    }
}

// K-quant 6-bit scale/min pairs packed in 12 bytes (ggml's get_scale_min_k4).
static inline void scale_min_k4(int j, const uint8_t *q, uint8_t *sc, uint8_t *m) {
    if (j < 4) {
        *sc = q[j] & 63;
        *m = q[j + 4] & 63;
    } else {
        *sc = (uint8_t)((q[j + 4] & 0x0f) | ((q[j - 4] >> 6) << 4));
        *m = (uint8_t)((q[j + 4] >> 4) | ((q[j] >> 6) << 4));
    }
}

// block_q4_K: f16 d, f16 dmin; uint8 scales[12]; uint8 qs[128]. 8 sub-blocks of 32: y = d*sc * q - dmin*m.
void phi_dequantize_row_q4_K(const void *src, float *y, int64_t n) {
    const uint8_t *x = src;
    for (int64_t i = 0; i < n / 256; i++, x += 144) {
        const float d = f16_at(x), dmin = f16_at(x + 2);
        const uint8_t *scales = x + 4;
        const uint8_t *q = x + 16;
        int is = 0;
        for (int j = 0; j < 256; j += 64, q += 32, is += 2) {
            uint8_t sc, m;
            scale_min_k4(is, scales, &sc, &m);
            const float d1 = d * sc, m1 = dmin * m;
            scale_min_k4(is + 1, scales, &sc, &m);
            const float d2 = d * sc, m2 = dmin * m;
            for (int l = 0; l < 32; l++) {
                float p = d1 * (float)(q[l] & 0x0f);
                *y++ = p - m1;
            }
            for (int l = 0; l < 32; l++) {
                float p = d2 * (float)(q[l] >> 4);
                *y++ = p - m2;
            }
        }
    }
}

// block_q5_K: f16 d, f16 dmin; uint8 scales[12]; uint8 qh[32]; uint8 qs[128].
void phi_dequantize_row_q5_K(const void *src, float *y, int64_t n) {
    const uint8_t *x = src;
    for (int64_t i = 0; i < n / 256; i++, x += 176) {
        const float d = f16_at(x), dmin = f16_at(x + 2);
        const uint8_t *scales = x + 4;
        const uint8_t *qh = x + 16;
        const uint8_t *ql = x + 48;
        int is = 0;
        uint8_t u1 = 1, u2 = 2;
        for (int j = 0; j < 256; j += 64, ql += 32, is += 2, u1 <<= 2, u2 <<= 2) {
            uint8_t sc, m;
            scale_min_k4(is, scales, &sc, &m);
            const float d1 = d * sc, m1 = dmin * m;
            scale_min_k4(is + 1, scales, &sc, &m);
            const float d2 = d * sc, m2 = dmin * m;
            for (int l = 0; l < 32; l++) {
                float p = d1 * (float)((ql[l] & 0x0f) + (qh[l] & u1 ? 16 : 0));
                *y++ = p - m1;
            }
            for (int l = 0; l < 32; l++) {
                float p = d2 * (float)((ql[l] >> 4) + (qh[l] & u2 ? 16 : 0));
                *y++ = p - m2;
            }
        }
    }
}

// block_q6_K: uint8 ql[128]; uint8 qh[64]; int8 scales[16]; f16 d. 16 sub-blocks of 16: y = d*sc * (q - 32).
void phi_dequantize_row_q6_K(const void *src, float *y, int64_t n) {
    const uint8_t *x = src;
    for (int64_t i = 0; i < n / 256; i++, x += 210) {
        const float d = f16_at(x + 208);
        const uint8_t *ql = x;
        const uint8_t *qh = x + 128;
        const int8_t *sc = (const int8_t *)(x + 192);
        for (int half = 0; half < 2; half++, y += 128, ql += 64, qh += 32, sc += 8) {
            for (int l = 0; l < 32; l++) {
                const int is = l / 16;
                const int q1 = (int)((ql[l] & 0x0f) | (((qh[l] >> 0) & 3) << 4)) - 32;
                const int q2 = (int)((ql[l + 32] & 0x0f) | (((qh[l] >> 2) & 3) << 4)) - 32;
                const int q3 = (int)((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32;
                const int q4 = (int)((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32;
                y[l] = (d * (float)sc[is + 0]) * (float)q1;
                y[l + 32] = (d * (float)sc[is + 2]) * (float)q2;
                y[l + 64] = (d * (float)sc[is + 4]) * (float)q3;
                y[l + 96] = (d * (float)sc[is + 6]) * (float)q4;
            }
        }
    }
}

static float dot_scalar(const float *a, const float *b, int64_t n) {
    float acc[8] = {0};
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        for (int k = 0; k < 8; k++) acc[k] += a[i + k] * b[i + k];
    float sum = ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7]));
    for (; i < n; i++) sum += a[i] * b[i];
    return sum;
}

// MARK: - AVX2 / F16C variants (same arithmetic, same bits)

#ifdef PHI_X86
__attribute__((target("avx2,f16c")))
static void f16_row_avx2(const uint8_t *x, float *y, int64_t n) {
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m128i h = _mm_loadu_si128((const __m128i *)(x + 2 * i));
        _mm256_storeu_ps(y + i, _mm256_cvtph_ps(h));
    }
    for (; i < n; i++) y[i] = f16_at(x + 2 * i);
}

__attribute__((target("avx2,f16c")))
static void q8_0_avx2(const uint8_t *x, float *y, int64_t nb) {
    for (int64_t i = 0; i < nb; i++, x += 34, y += 32) {
        const __m256 d = _mm256_set1_ps(f16_at(x));
        for (int k = 0; k < 32; k += 8) {
            __m128i q8 = _mm_loadl_epi64((const __m128i *)(x + 2 + k));
            __m256 q = _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(q8));
            _mm256_storeu_ps(y + k, _mm256_mul_ps(q, d));
        }
    }
}

__attribute__((target("avx2,f16c")))
static void q4_0_avx2(const uint8_t *x, float *y, int64_t nb) {
    const __m128i low = _mm_set1_epi8(0x0f);
    const __m128i eight = _mm_set1_epi8(8);
    for (int64_t i = 0; i < nb; i++, x += 18, y += 32) {
        const __m256 d = _mm256_set1_ps(f16_at(x));
        __m128i qs = _mm_loadu_si128((const __m128i *)(x + 2));
        __m128i lo = _mm_sub_epi8(_mm_and_si128(qs, low), eight);
        __m128i hi = _mm_sub_epi8(_mm_and_si128(_mm_srli_epi16(qs, 4), low), eight);
        _mm256_storeu_ps(y + 0, _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(lo)), d));
        _mm256_storeu_ps(y + 8, _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_srli_si128(lo, 8))), d));
        _mm256_storeu_ps(y + 16, _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(hi)), d));
        _mm256_storeu_ps(y + 24, _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_srli_si128(hi, 8))), d));
    }
}
#endif

// MARK: - Public entry points

void phi_dequantize_row_f16(const void *src, float *y, int64_t n) {
#ifdef PHI_X86
    if (phi_simd_active()) {
        f16_row_avx2(src, y, n);
        return;
    }
#endif
    f16_row_scalar(src, y, n);
}

void phi_f16_to_f32_row(const uint16_t *src, float *dst, int64_t n) { phi_dequantize_row_f16(src, dst, n); }

void phi_dequantize_row_q4_0(const void *src, float *y, int64_t n) {
#ifdef PHI_X86
    if (phi_simd_active()) {
        q4_0_avx2(src, y, n / 32);
        return;
    }
#endif
    q4_0_scalar(src, y, n / 32);
}

void phi_dequantize_row_q8_0(const void *src, float *y, int64_t n) {
#ifdef PHI_X86
    if (phi_simd_active()) {
        q8_0_avx2(src, y, n / 32);
        return;
    }
#endif
    q8_0_scalar(src, y, n / 32);
}

float phi_dot_f32(const float *a, const float *b, int64_t n) { return dot_scalar(a, b, n); }

void phi_axpy_f32(float alpha, const float *x, float *y, int64_t n) {
    for (int64_t i = 0; i < n; i++) {
        float p = alpha * x[i];
        y[i] += p;
    }
}

static int block_geometry(uint32_t type, int64_t *block, size_t *bytes) {
    switch (type) {
    case PHI_TYPE_F32: *block = 1; *bytes = 4; return 1;
    case PHI_TYPE_F16: *block = 1; *bytes = 2; return 1;
    case PHI_TYPE_BF16: *block = 1; *bytes = 2; return 1;
    case PHI_TYPE_Q4_0: *block = 32; *bytes = 18; return 1;
    case PHI_TYPE_Q4_1: *block = 32; *bytes = 20; return 1;
    case PHI_TYPE_Q5_0: *block = 32; *bytes = 22; return 1;
    case PHI_TYPE_Q5_1: *block = 32; *bytes = 24; return 1;
    case PHI_TYPE_Q8_0: *block = 32; *bytes = 34; return 1;
    case PHI_TYPE_Q4_K: *block = 256; *bytes = 144; return 1;
    case PHI_TYPE_Q5_K: *block = 256; *bytes = 176; return 1;
    case PHI_TYPE_Q6_K: *block = 256; *bytes = 210; return 1;
    default: return 0;
    }
}

size_t phi_row_size(uint32_t type, int64_t n) {
    int64_t block;
    size_t bytes;
    if (!block_geometry(type, &block, &bytes) || n < 0 || n % block != 0) return 0;
    return (size_t)(n / block) * bytes;
}

int phi_dequantize_row(uint32_t type, const void *src, float *dst, int64_t n) {
    int64_t block;
    size_t bytes;
    if (!block_geometry(type, &block, &bytes)) return PHI_ERR_UNSUPPORTED_TYPE;
    if (n < 0 || n % block != 0) return PHI_ERR_BAD_COUNT;
    if (n == 0) return PHI_OK;
    switch (type) {
    case PHI_TYPE_F32: memcpy(dst, src, (size_t)n * 4); break;
    case PHI_TYPE_F16: phi_dequantize_row_f16(src, dst, n); break;
    case PHI_TYPE_BF16: phi_dequantize_row_bf16(src, dst, n); break;
    case PHI_TYPE_Q4_0: phi_dequantize_row_q4_0(src, dst, n); break;
    case PHI_TYPE_Q4_1: phi_dequantize_row_q4_1(src, dst, n); break;
    case PHI_TYPE_Q5_0: phi_dequantize_row_q5_0(src, dst, n); break;
    case PHI_TYPE_Q5_1: phi_dequantize_row_q5_1(src, dst, n); break;
    case PHI_TYPE_Q8_0: phi_dequantize_row_q8_0(src, dst, n); break;
    case PHI_TYPE_Q4_K: phi_dequantize_row_q4_K(src, dst, n); break;
    case PHI_TYPE_Q5_K: phi_dequantize_row_q5_K(src, dst, n); break;
    case PHI_TYPE_Q6_K: phi_dequantize_row_q6_K(src, dst, n); break;
    default: return PHI_ERR_UNSUPPORTED_TYPE;
    }
    return PHI_OK;
}
