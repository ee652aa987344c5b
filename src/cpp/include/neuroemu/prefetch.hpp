#pragma once

namespace neuroemu {

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
