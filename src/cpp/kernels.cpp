#include "kernels.hpp"

namespace neuroemu::kernels {

namespace baseline {
extern const Table kTable;
}
#if defined(NEUROEMU_X86_KERNELS)
namespace avx2 {
extern const Table kTable;
}
namespace avx512 {
extern const Table kTable;
}
#endif

namespace {

#if defined(NEUROEMU_X86_KERNELS)
bool cpu_has_avx2() {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2");
}

bool cpu_has_avx512() {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl") &&
           __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512dq");
}
#endif

}  // namespace

const Table& table() {
#if defined(NEUROEMU_X86_KERNELS)
    static const Table& chosen = cpu_has_avx512() ? avx512::kTable : cpu_has_avx2() ? avx2::kTable : baseline::kTable;
    return chosen;
#else
    return baseline::kTable;
#endif
}

int available_tables(const Table** out, int capacity) {
    int n = 0;
    if (n < capacity) out[n++] = &baseline::kTable;
#if defined(NEUROEMU_X86_KERNELS)
    if (n < capacity && cpu_has_avx2()) out[n++] = &avx2::kTable;
    if (n < capacity && cpu_has_avx512()) out[n++] = &avx512::kTable;
#endif
    return n;
}

}  // namespace neuroemu::kernels
