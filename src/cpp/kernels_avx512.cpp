// The kernels for x86-64 CPUs with AVX-512 F, VL, BW and DQ (compiled for them; chosen only where the CPU has them).
#include <climits>

#if defined(__SSE2__)
#include <immintrin.h>
#endif

#include "kernels.hpp"

namespace neuroemu::kernels::avx512 {
#define NEUROEMU_KERNEL_NAME "avx512"
#include "kernels.inc"
}  // namespace neuroemu::kernels::avx512
