// phi_kernels.h: the hot numeric loops of the Phi core (dequantization, dot products), C with SIMD
// paths and a portable fallback. Every exported symbol starts with `phi_`.
#ifndef PHI_KERNELS_H
#define PHI_KERNELS_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/// Version of the kernel ABI; bumped when a signature changes.
int phi_kernels_abi_version(void);

#ifdef __cplusplus
}
#endif

#endif
