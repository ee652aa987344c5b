#include "kernels.hpp"

#include <cstdlib>
#include <cstring>

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

namespace {

// The widest table this CPU runs, or the one NEUROEMU_KERNELS names (baseline, avx2, avx512) if the CPU
// runs it: results never depend on the choice, and the variable lets anyone check that, or time each.
const Table& choose() {
    const Table* tables[4];
    const int n = available_tables(tables, 4);
    if (const char* wanted = std::getenv("NEUROEMU_KERNELS")) {
        for (int k = 0; k < n; ++k) {
            if (std::strcmp(tables[k]->name, wanted) == 0) return *tables[k];
        }
    }
    return *tables[n - 1];
}

}  // namespace

const Table& table() {
    static const Table& chosen = choose();
    return chosen;
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

namespace neuroemu {

const char* kernel_set() { return kernels::table().name; }

}  // namespace neuroemu
