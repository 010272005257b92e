// phi_kernels.h: the hot numeric loops of the Phi core (dequantization, conversions, dot products), C with SIMD
// paths and a portable fallback. Every exported symbol starts with `phi_`.
//
// Block layouts and dequantization formulas reproduce ggml's reference `dequantize_row_*` (ggml-quants.c),
// bit for bit. Type numbers are ggml's `enum ggml_type` values.
#ifndef PHI_KERNELS_H
#define PHI_KERNELS_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/// Version of the kernel ABI; bumped when a signature changes.
int phi_kernels_abi_version(void);

/// ggml type numbers the kernels dequantize.
enum {
    PHI_TYPE_F32 = 0,
    PHI_TYPE_F16 = 1,
    PHI_TYPE_Q4_0 = 2,
    PHI_TYPE_Q4_1 = 3,
    PHI_TYPE_Q5_0 = 6,
    PHI_TYPE_Q5_1 = 7,
    PHI_TYPE_Q8_0 = 8,
    PHI_TYPE_Q4_K = 12,
    PHI_TYPE_Q5_K = 13,
    PHI_TYPE_Q6_K = 14,
    PHI_TYPE_BF16 = 30,
};

/// Status codes of `phi_dequantize_row`.
enum {
    PHI_OK = 0,
    PHI_ERR_UNSUPPORTED_TYPE = -1,
    PHI_ERR_BAD_COUNT = -2,
};

/// Dequantizes `n` elements of ggml type `type` from `src` to `dst` (float32). `n` must be >= 0 and a multiple of
/// the type's block size; `src` must hold the whole blocks (any alignment). Returns PHI_OK or an error code.
int phi_dequantize_row(uint32_t type, const void *src, float *dst, int64_t n);

/// Bytes taken by `n` elements of `type` (0 for an unsupported type or a count that is not a whole number of blocks).
size_t phi_row_size(uint32_t type, int64_t n);

/// Uses the AVX2/F16C paths when the CPU and OS support them (the default); 0 forces the portable scalar code.
/// Both paths produce identical bits. Returns the previous setting.
int phi_set_simd_enabled(int enabled);
/// The current setting of `phi_set_simd_enabled`.
int phi_simd_enabled(void);
/// 1 when the AVX2 + FMA + F16C paths are available and enabled.
int phi_simd_active(void);

// Per-type row dequantization (n a multiple of the block size: 1, 32 or 256).
void phi_dequantize_row_f16(const void *src, float *dst, int64_t n);
void phi_dequantize_row_bf16(const void *src, float *dst, int64_t n);
void phi_dequantize_row_q4_0(const void *src, float *dst, int64_t n);
void phi_dequantize_row_q4_1(const void *src, float *dst, int64_t n);
void phi_dequantize_row_q5_0(const void *src, float *dst, int64_t n);
void phi_dequantize_row_q5_1(const void *src, float *dst, int64_t n);
void phi_dequantize_row_q8_0(const void *src, float *dst, int64_t n);
void phi_dequantize_row_q4_K(const void *src, float *dst, int64_t n);
void phi_dequantize_row_q5_K(const void *src, float *dst, int64_t n);
void phi_dequantize_row_q6_K(const void *src, float *dst, int64_t n);

/// IEEE binary16 <-> binary32 (exact widening; narrowing rounds to nearest even, overflow to inf, NaN kept NaN).
float phi_f16_to_f32(uint16_t h);
uint16_t phi_f32_to_f16(float f);
void phi_f16_to_f32_row(const uint16_t *src, float *dst, int64_t n);
void phi_f32_to_f16_row(const float *src, uint16_t *dst, int64_t n);
/// bfloat16 <-> float32 (narrowing rounds to nearest even, NaN kept NaN).
float phi_bf16_to_f32(uint16_t h);
uint16_t phi_f32_to_bf16(float f);
void phi_f32_to_bf16_row(const float *src, uint16_t *dst, int64_t n);

/// sum(a[i] * b[i]) accumulated in float32 (fixed, deterministic order for a given n and SIMD setting).
float phi_dot_f32(const float *a, const float *b, int64_t n);
/// y[i] += alpha * x[i].
void phi_axpy_f32(float alpha, const float *x, float *y, int64_t n);

#ifdef __cplusplus
}
#endif

#endif
