// phi_quant.h: quantized matrix products as ggml-cpu computes them (activations rounded per block to Q8_0 / Q8_1 /
// Q8_K, integer dot products per block, ggml's `ggml_vec_dot_*` semantics), F16/BF16/F32 weights converted on the
// fly, a persistent worker pool, and a memory read-bandwidth probe. Every exported symbol starts with `phi_`.
#ifndef PHI_QUANT_H
#define PHI_QUANT_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/// Instruction-set levels of the quantized kernels.
enum {
    PHI_LEVEL_SCALAR = 0,
    PHI_LEVEL_AVX2 = 1,     // AVX2 + FMA + F16C, OS-enabled YMM state
    PHI_LEVEL_AVX512 = 2,   // + AVX-512 F/BW/VL/VNNI, OS-enabled opmask/ZMM state (XCR0 bits 5-7). Never AMX.
};

/// Highest level the CPU and the OS support (cpuid AND XGETBV/XCR0).
int phi_quant_detected_level(void);
/// The level in use: min(detected, cap), 0 when `phi_set_simd_enabled(0)` or the environment variable
/// `PHI_FORCE_SCALAR=1` is set at first use.
int phi_quant_level(void);
/// Caps the level (tests compare each path with the scalar one). Returns the previous cap.
int phi_quant_set_level_cap(int cap);

/// Optional x86 extensions of the AVX-512 level's Q4_0 decode tile (the fastest one present is used).
enum {
    PHI_EXTENSION_VBMI = 1,  // vpermb
    PHI_EXTENSION_GFNI = 2,  // gf2p8affineqb
};
/// The extensions in use: present on the CPU and allowed by the mask.
int phi_quant_extensions(void);
/// Allows only the extensions in `mask` (tests cover each tile). Returns the previous mask.
int phi_quant_set_extension_mask(int mask);

/// 1 when the product can be computed for weights of ggml type `type` (quantized, F16, BF16, F32).
int phi_quant_supported(uint32_t type);
/// Bytes of one activation row of `k` values prepared for weights of `type` (0 when unsupported or `k` is not a
/// whole number of the type's blocks).
size_t phi_act_row_size(uint32_t type, int64_t k);
/// Prepares activations `x[k]` for weights of `type`: Q8_0 blocks of 32 (Q4_0/Q5_0/Q8_0), Q8_1 (Q4_1/Q5_1), Q8_K
/// blocks of 256 (K-quants), float32 copies for F16/BF16/F32. Rounding as ggml-cpu on x86: Q8_0/Q8_1 use
/// `d = amax/127` (stored as fp16), `q = nearbyint(x * 127/amax)`; Q8_K uses `iscale = -127/max`, nearest int,
/// `d = 1/iscale` (float32), 16-value sums.
int phi_quantize_act_row(uint32_t type, const float *x, void *dst, int64_t k);
/// The dot product of one weight row (`k` values of `type`) with one prepared activation row.
float phi_vec_dot(uint32_t type, const void *w_row, const void *act_row, int64_t k);

/// `phi_vec_dot` on a given level (clamped to the detected one), for tests.
float phi_vec_dot_at_level(uint32_t type, const void *w_row, const void *act_row, int64_t k, int level);

/// `y[t*ldy + r] = dot(row r of w, act row t) (+ bias[r])` for rows r in [r0, r1) and tokens t in [0, n).
void phi_qgemm_range(uint32_t type, const void *w, size_t w_row_bytes, const void *act, size_t act_row_bytes,
                     int64_t k, int64_t n, const float *bias, float *y, int64_t ldy, int64_t r0, int64_t r1);

/// `phi_qgemm_range` in `PHI_ORDER_ROW` (no bias) on a given level (clamped to the detected one), single-threaded:
/// with n ≥ 2 the multi-token decode kernels (each weight block read once for all n activation rows, every
/// (row, token) summed exactly as `phi_vec_dot` at that level sums it). For tests and benchmarks.
void phi_qgemm_rows_at_level(uint32_t type, const void *w, size_t w_row_bytes, const void *act, size_t act_row_bytes,
                             int64_t k, int64_t n, float *y, int64_t ldy, int64_t r0, int64_t r1, int level);

/// `y[n×m] = x[n×k] · Wᵀ (+ bias)` with `W` (`m` rows of `w_row_bytes`, type `type`) in place: activations
/// prepared per row, rows split across the worker pool. Returns 0, or a negative code for an unsupported type /
/// shape / allocation failure.
int phi_matmul_quantized(uint32_t type, const void *w, size_t w_row_bytes, int64_t m, int64_t k, const float *x,
                         int64_t n, const float *bias, float *y);

/// Summation orders of `phi_matmul_quantized_order`.
enum {
    /// Every (row, token) product summed exactly as `phi_vec_dot` sums it: a token's results do not depend on the
    /// other tokens of the call (decode batches).
    PHI_ORDER_ROW = 0,
    /// AVX-512 VNNI Q4_0/Q5_0/Q8_0: 8 weight rows repacked per call, blocks summed in integers first (prefill); the
    /// other types and levels sum as `PHI_ORDER_ROW`. Still independent of the other tokens of the call.
    PHI_ORDER_REPACKED = 1,
};
/// `phi_matmul_quantized` with the summation order chosen by the caller (`phi_matmul_quantized` uses
/// `PHI_ORDER_REPACKED` from 4 tokens on, `PHI_ORDER_ROW` below).
int phi_matmul_quantized_order(uint32_t type, const void *w, size_t w_row_bytes, int64_t m, int64_t k, const float *x,
                               int64_t n, const float *bias, float *y, int order);

/// Process-wide switch read by PhiKernels' `matmul`: 1 routes quantized/F16/BF16 weights through
/// `phi_matmul_quantized` (llama.cpp-style activation rounding, threaded); 0 (default) keeps the exact path
/// (dequantized tiles + OpenBLAS). Returns the previous value.
int phi_set_quantized_matmul(int enabled);
/// The mode in effect on the calling thread (its override, else the process-wide one).
int phi_quantized_matmul(void);
/// Per-thread override of the mode: 0 / 1, or -1 to follow the process-wide setting. Returns the previous override.
int phi_set_thread_quantized_matmul(int mode);

// MARK: - Weights in groups of 8 rows (phi_packed8.c; Q4_0, Q8_0, Q4_K, Q5_K, Q6_K)

/// Bytes of the 8-row layout of an `m`×`k` matrix of `type` (as in the file, for every type that has one), or 0 when
/// the type has no such layout, `m` is not a multiple of 8 or `k` not of the block.
size_t phi_x8_size(uint32_t type, int64_t m, int64_t k);
/// Copies `m` rows (`w_row_bytes` apart) into the 8-row layout at `dst` (`phi_x8_size` bytes), over the worker pool.
int phi_x8_pack(uint32_t type, const void *w, size_t w_row_bytes, int64_t m, int64_t k, void *dst);
/// `y[n×m] = x[n×k] · Wᵀ (+ bias)` over packed weights: activations prepared as for `type`, every (row, token)
/// summed the same way whatever `n` (rows of different sequences can share a call), rows split over the pool.
int phi_x8_matmul(uint32_t type, const void *packed, int64_t m, int64_t k, const float *x, int64_t n,
                  const float *bias, float *y);
/// What a product applies to each result as it stores it.
enum { PHI_ACTIVATION_NONE = 0, PHI_ACTIVATION_GELU_TANH = 1 };
/// One product of `phi_x8_matmul_many`: `y[t·ldy + row] = f(x[t·k ..< t·k + k] · W[row]ᵀ (+ bias[row]))`, `ldy` ≥ `m`,
/// `f` the identity or, with `activation` PHI_ACTIVATION_GELU_TANH, `phi_gelu_tanh`'s function (the same bits as
/// calling it on the stored rows afterwards).
typedef struct {
    uint32_t type;
    const void *packed;
    int64_t m, k;
    const float *x;
    const float *bias;
    float *y;
    int64_t ldy;
    int32_t activation;
} phi_x8_product;
/// Up to 8 products over the same `n` tokens in one pass over the pool (a layer's q, k and v; or products whose
/// inputs are ready together): one dispatch and one finish instead of one per product, and one quantization of an
/// input shared by products of one type. Each result equals `phi_x8_matmul`'s bit for bit.
int phi_x8_matmul_many(const phi_x8_product *products, int count, int64_t n);
/// Tests: with `on`, a one-token call's first claim of a product takes all of it, so the other threads can only
/// split it in flight (process-wide). Returns the previous setting.
int phi_x8_set_whole_decode_claims(int on);
/// The same on one thread at a given level (clamped to the detected one): the scalar and AVX2 paths agree bit for
/// bit. For tests.
int phi_x8_matmul_at_level(uint32_t type, const void *packed, int64_t m, int64_t k, const float *x, int64_t n,
                           float *y, int level);

// MARK: - Worker pool

/// A unit of parallel work: called on the caller (`ith` 0) and on each worker (`ith` in 1..<nth) that joins in
/// time. Workers that are not running when the caller finishes its share skip the dispatch (busy, shared
/// machines), so a task must claim its work dynamically (an atomic counter), never split it statically by `ith`.
typedef void (*phi_task_fn)(void *ctx, int ith, int nth);
/// Runs `fn` on all pool threads (the caller is thread 0) and returns when all have finished. The pool's workers
/// are persistent (created once), spin briefly, then park. When another thread is already using the pool, `fn`
/// runs on the caller alone (`nth` = 1).
void phi_pool_run(phi_task_fn fn, void *ctx);
/// Calls `body(ctx, i)` for every i in [0, count) on the pool's threads (dynamic claiming); returns when done.
void phi_pool_parallel_for(int64_t count, void (*body)(void *ctx, int64_t index), void *ctx);
/// Threads the pool uses (default: physical cores). Returns the previous count.
int phi_pool_set_threads(int n);
int phi_pool_threads(void);
/// Physical cores (distinct core ids in /sys, else online CPUs).
int phi_physical_cores(void);
/// Running totals of `phi_pool_run` (every call, pooled or run on the caller alone), since the process started.
typedef struct {
    int64_t dispatches;
    int64_t inside_ns;  // from entry to return: the task on every thread, then the wait for the last one
    int64_t wait_ns;    // of which the caller, done with its share, waited for the workers
    int64_t steals;     // decode claims whose back half another thread took over (`phi_packed8.c`)
} phi_pool_counters;
void phi_pool_read_counters(phi_pool_counters *out);
/// Mean nanoseconds per `phi_pool_run` of a task in which every thread checks in and waits for all the others
/// (dispatch + wake-up + full barrier), over `iterations`.
double phi_pool_barrier_ns(int iterations);

/// Memory read bandwidth in bytes/s: all pool threads sum disjoint parts of a `bytes` buffer (best of `reps`).
double phi_read_bandwidth(size_t bytes, int reps);

/// The same over memory the caller already has (e.g. a model's mapped weights), read as is: best of `reps`.
double phi_read_bandwidth_of(const void *buf, size_t bytes, int reps);

#ifdef __cplusplus
}
#endif

#endif
