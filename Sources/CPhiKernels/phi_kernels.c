#include "phi_kernels.h"

int phi_kernels_abi_version(void) { return 1; }
