// phi_packed8.c: weights re-laid out once, at load, in groups of 8 rows (Q4_0: phi_q4_0_x8.c, Q4_K: phi_q4_K_x8.c,
// Q6_K: phi_q6_K_x8.c), and the threaded products over that layout.
//
// Why: in a file's layout each row's block carries its own scales, so an AVX2 kernel spends most of its
// instructions per row and block on unpacking, widening and scaling. With 8 rows interleaved so that one 32-bit lane
// holds 4 quants of one row, one `maddubs` against 4 broadcast activation bytes does 32 multiply-adds for 8 rows, and
// scales and float steps are paid once per 8 rows. Decode then runs at memory speed instead of core speed.
//
// Every (row, token) is summed the same way whatever the number of tokens in the call, so rows of different
// sequences can share a call; the scalar and AVX2 paths of each format agree bit for bit.
#include "phi_quant.h"
#include "phi_kernels.h"
#include "phi_quant_internal.h"

#include <stdlib.h>

static const phi_x8_format *format_for(uint32_t type) {
    switch (type) {
    case PHI_TYPE_Q4_0: return &phi_x8_q4_0;
    case PHI_TYPE_Q4_K: return &phi_x8_q4_K;
    case PHI_TYPE_Q6_K: return &phi_x8_q6_K;
    default: return NULL;
    }
}

size_t phi_x8_size(uint32_t type, int64_t m, int64_t k) {
    const phi_x8_format *f = format_for(type);
    if (!f || m <= 0 || k <= 0 || m % 8 != 0 || k % f->block_values != 0) return 0;
    return (size_t)(m / 8) * (size_t)(k / f->block_values) * f->group_block;
}

int phi_x8_pack(uint32_t type, const void *w, size_t wrb, int64_t m, int64_t k, void *dst) {
    const phi_x8_format *f = format_for(type);
    if (phi_x8_size(type, m, k) == 0) return PHI_ERR_BAD_COUNT;
    const int64_t nb = k / f->block_values;
    if (wrb < (size_t)nb * f->file_block) return PHI_ERR_BAD_COUNT;
    for (int64_t g = 0; g < m / 8; g++) {
        const uint8_t *rows[8];
        for (int r = 0; r < 8; r++) rows[r] = (const uint8_t *)w + (size_t)(8 * g + r) * wrb;
        for (int64_t b = 0; b < nb; b++)
            f->pack_block(rows, b, (uint8_t *)dst + (size_t)(g * nb + b) * f->group_block);
    }
    return PHI_OK;
}

typedef struct {
    const phi_x8_format *format;
    phi_x8_range range;
    int64_t groups, groups_per_chunk;
} x8_job;

static void x8_chunk(void *p, int64_t c) {
    const x8_job *j = p;
    const int64_t g0 = c * j->groups_per_chunk;
    const int64_t g1 = g0 + j->groups_per_chunk < j->groups ? g0 + j->groups_per_chunk : j->groups;
    if (j->format->range) j->format->range(&j->range, g0, g1);
    else phi_x8_run_tiles(&j->range, g0, g1, j->format->group_block, &j->format->tiles);
}

static int x8_matmul(uint32_t type, int level, int threaded, const void *packed, int64_t m, int64_t k, const float *x,
                     int64_t n, const float *bias, float *y) {
    const phi_x8_format *f = format_for(type);
    if (phi_x8_size(type, m, k) == 0 || n < 0) return PHI_ERR_BAD_COUNT;
    if (n == 0) return PHI_OK;
    const int64_t nb = k / f->block_values;
    const size_t arb = phi_act_row_size(type, k);
    uint8_t *act = aligned_alloc(64, ((size_t)n * arb + 63) & ~(size_t)63);
    if (!act) return -3;
    phi_internal_quantize_rows(type, x, n, k, act, arb, threaded);
    if (f->prepare_activations) f->prepare_activations(act, n, arb, nb);
    const int64_t groups = m / 8;
    const int nth = threaded ? phi_pool_threads() : 1;
    // Decode: about 4 chunks per thread (claimed dynamically, so a late or busy thread costs little); prefill:
    // 2 groups per chunk, whose weights stay in cache while every token streams past them.
    int64_t gpc = n == 1 ? groups / (4 * (int64_t)nth) : 2;
    if (gpc < 1) gpc = 1;
    const x8_job j = {.format = f,
                      .range = {.level = level, .packed = packed, .nb = nb, .act = act, .arb = arb, .n = n,
                                .bias = bias, .y = y, .m = m},
                      .groups = groups,
                      .groups_per_chunk = gpc};
    const int64_t chunks = (groups + gpc - 1) / gpc;
    if (threaded && m * k * n >= 32768) {
        phi_pool_parallel_for(chunks, x8_chunk, (void *)&j);
    } else {
        for (int64_t c = 0; c < chunks; c++) x8_chunk((void *)&j, c);
    }
    free(act);
    return PHI_OK;
}

int phi_x8_matmul(uint32_t type, const void *packed, int64_t m, int64_t k, const float *x, int64_t n,
                  const float *bias, float *y) {
    return x8_matmul(type, phi_quant_level(), 1, packed, m, k, x, n, bias, y);
}

int phi_x8_matmul_at_level(uint32_t type, const void *packed, int64_t m, int64_t k, const float *x, int64_t n,
                           float *y, int level) {
    const int detected = phi_quant_detected_level();
    return x8_matmul(type, level < detected ? level : detected, 0, packed, m, k, x, n, NULL, y);
}

void phi_x8_store(const phi_x8_range *r, int64_t g, int64_t t, int tokens, const float *out) {
    for (int i = 0; i < tokens; i++)
        for (int row = 0; row < 8; row++)
            r->y[(t + i) * r->m + 8 * g + row] = out[8 * i + row] + (r->bias ? r->bias[8 * g + row] : 0.0f);
}

void phi_x8_run_tiles(const phi_x8_range *r, int64_t g0, int64_t g1, size_t group_block, const phi_x8_tiles *tiles) {
    const int64_t n = r->n;
    for (int64_t g = g0; g < g1; g++) {
        const uint8_t *group = r->packed + (size_t)g * r->nb * group_block;
        float out[32];
        int64_t t = 0;
        if (r->level >= PHI_LEVEL_AVX2 && tiles->vector4 && tiles->vector1) {
            for (; t + 4 <= n; t += 4) {
                const uint8_t *at[4] = {r->act + t * r->arb, r->act + (t + 1) * r->arb, r->act + (t + 2) * r->arb,
                                        r->act + (t + 3) * r->arb};
                tiles->vector4(group, at, r->nb, out);
                phi_x8_store(r, g, t, 4, out);
            }
            for (; t < n; t++) {
                const uint8_t *at[1] = {r->act + t * r->arb};
                tiles->vector1(group, at, r->nb, out);
                phi_x8_store(r, g, t, 1, out);
            }
        }
        for (; t < n; t++) {
            tiles->scalar(group, r->act + t * r->arb, r->nb, out);
            phi_x8_store(r, g, t, 1, out);
        }
    }
}
