#pragma once

#include <cstdint>

namespace neuroemu {

// What one core's cache holds: the L2 of this project's machines (Xeon, 2 MB per core). Data beyond it is
// fetched ahead of use where the access pattern allows; data within it mostly hits, and prefetching it only
// costs instructions.
constexpr int64_t kCoreCacheBytes = int64_t{2} << 20;

// Asks the cache for the line holding `address`, to be read soon. GCC deletes a loop whose body is only
// __builtin_prefetch calls (it treats them as free of side effects); a volatile asm statement stays.
inline void prefetch_line(const void* address) {
#if defined(__x86_64__) || defined(__i386__)
    asm volatile("prefetcht0 %0" : : "m"(*static_cast<const char*>(address)));
#else
    __builtin_prefetch(address, 0, 3);
#endif
}

}  // namespace neuroemu
