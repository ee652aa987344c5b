// The kernels for x86-64 CPUs with AVX2 (compiled with -mavx2; chosen only where the CPU has it).
#include <climits>

#if defined(__SSE2__)
#include <immintrin.h>
#endif

#include "kernels.hpp"

namespace neuroemu::kernels::avx2 {
#define NEUROEMU_KERNEL_NAME "avx2"
#include "kernels.inc"
}  // namespace neuroemu::kernels::avx2
