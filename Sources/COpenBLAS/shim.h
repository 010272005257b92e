// Debian installs OpenBLAS' cblas.h under /usr/include/<triplet>/ and exposes it through pkg-config.
#include <cblas.h>
