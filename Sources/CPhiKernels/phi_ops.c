// Element-wise activations (gelu_new, SiLU·up): float32, AVX2/FMA paths with a portable fallback (same formulas),
// split across the worker pool. Attention is in phi_attention.c.
#include "phi_ops.h"
#include "phi_exp.h"
#include "phi_kernels.h"
#include "phi_quant.h"
#include "phi_quant_internal.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

static int use_avx2(void) { return phi_quant_level() >= PHI_LEVEL_AVX2; }

// MARK: - Activations

static const float GELU_C = 0.7978845608028654f, GELU_A = 0.044715f;

static inline float gelu_scalar(float x) {
    const float u = GELU_C * fmaf(GELU_A * x, x * x, x);
    const float t = 1.0f - 2.0f / (exp_scalar(2.0f * u) + 1.0f);  // tanh(u)
    return 0.5f * x * (1.0f + t);
}

#ifdef PHI_X86
T_AVX2 static void gelu_avx2(float *x, int64_t n) {
    const __m256 c = _mm256_set1_ps(GELU_C), a = _mm256_set1_ps(GELU_A), one = _mm256_set1_ps(1.0f),
                 two = _mm256_set1_ps(2.0f), half = _mm256_set1_ps(0.5f);
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        const __m256 v = _mm256_loadu_ps(x + i);
        const __m256 u = _mm256_mul_ps(c, _mm256_fmadd_ps(_mm256_mul_ps(a, v), _mm256_mul_ps(v, v), v));
        const __m256 t = _mm256_sub_ps(one, _mm256_div_ps(two, _mm256_add_ps(exp_avx2(_mm256_mul_ps(two, u)), one)));
        _mm256_storeu_ps(x + i, _mm256_mul_ps(_mm256_mul_ps(half, v), _mm256_add_ps(one, t)));
    }
    for (; i < n; i++) x[i] = gelu_scalar(x[i]);
}

T_AVX2 static void silu_mul_avx2(const float *g, const float *u, float *o, int64_t n) {
    const __m256 one = _mm256_set1_ps(1.0f);
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        const __m256 v = _mm256_loadu_ps(g + i);
        const __m256 s = _mm256_div_ps(v, _mm256_add_ps(one, exp_avx2(_mm256_sub_ps(_mm256_setzero_ps(), v))));
        _mm256_storeu_ps(o + i, _mm256_mul_ps(s, _mm256_loadu_ps(u + i)));
    }
    for (; i < n; i++) o[i] = g[i] / (1.0f + exp_scalar(-g[i])) * u[i];
}
#endif

typedef struct {
    float *x;
    const float *g, *u;
    float *o;
    int64_t n;
    int kind;
    atomic_llong next;
} ew_job;

#define EW_CHUNK 16384

static void ew_task(void *p, int ith, int nth) {
    (void)ith;
    (void)nth;
    ew_job *j = p;
    for (;;) {
        const int64_t b = atomic_fetch_add_explicit(&j->next, EW_CHUNK, memory_order_relaxed);
        if (b >= j->n) break;
        const int64_t e = b + EW_CHUNK < j->n ? b + EW_CHUNK : j->n;
#ifdef PHI_X86
        if (use_avx2()) {
            if (j->kind == 0) gelu_avx2(j->x + b, e - b);
            else silu_mul_avx2(j->g + b, j->u + b, j->o + b, e - b);
            continue;
        }
#endif
        for (int64_t i = b; i < e; i++) {
            if (j->kind == 0) j->x[i] = gelu_scalar(j->x[i]);
            else j->o[i] = j->g[i] / (1.0f + exp_scalar(-j->g[i])) * j->u[i];
        }
    }
}

void phi_internal_gelu_tanh(float *x, int64_t n) {
#ifdef PHI_X86
    if (use_avx2()) {
        gelu_avx2(x, n);
        return;
    }
#endif
    for (int64_t i = 0; i < n; i++) x[i] = gelu_scalar(x[i]);
}

void phi_gelu_tanh(float *x, int64_t n) {
    ew_job j = {.x = x, .n = n, .kind = 0};
    atomic_init(&j.next, 0);
    if (n >= 32768) phi_pool_run(ew_task, &j);
    else ew_task(&j, 0, 1);
}

void phi_silu_mul(const float *gate, const float *up, float *out, int64_t n) {
    ew_job j = {.g = gate, .u = up, .o = out, .n = n, .kind = 1};
    atomic_init(&j.next, 0);
    if (n >= 32768) phi_pool_run(ew_task, &j);
    else ew_task(&j, 0, 1);
}
