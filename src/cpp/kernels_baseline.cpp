// The kernels for any CPU of the target architecture (SSE2 on x86-64).
#include <climits>

#if defined(__SSE2__)
#include <immintrin.h>
#endif

#include "kernels.hpp"

namespace neuroemu::kernels::baseline {
#define NEUROEMU_KERNEL_NAME "baseline"
#include "kernels.inc"
}  // namespace neuroemu::kernels::baseline
