// phi_quant_internal.h: kernels shared between the C files of this target (not part of the module's interface).
#ifndef PHI_QUANT_INTERNAL_H
#define PHI_QUANT_INTERNAL_H

#include <stdint.h>

#if defined(__x86_64__) || defined(__i386__)
/// 8 weight rows already unpacked to bytes (`rep`: per block 8 vectors, byte 4r+i of vector j = quant 4j+i of row
/// r; `dws`: per block the 8 rows' scales) against `tokens` (1 or 4) prepared Q4_0 activation rows: `out[8t + r]`.
/// Needs AVX2.
void phi_internal_repacked_q4_0_avx2(const void *rep, const float *dws, const uint8_t *const *act, int64_t nb,
                                     int tokens, float *out);
#endif

#endif
