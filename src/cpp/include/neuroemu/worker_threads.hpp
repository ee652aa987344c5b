// Threads kept between runs. Creating a thread (and faulting in its stack) cost 30-40 us on the benchmark
// machine: more than a whole sample of a small network, paid by every run of one sample.
#pragma once

#include <chrono>
#include <functional>

namespace neuroemu {

// Runs `job` on a kept thread that is idle, or on a new one (kept afterwards) when none is, and returns at
// once: every job starts without waiting for another one. The caller waits for its jobs itself. After a
// fork the child starts afresh (the parent's threads do not exist there). A kept thread that finishes a job
// stays awake for kStayAwake before it sleeps, so that the next run (a loop of short runs) finds it running.
void run_on_kept_thread(std::function<void()> job);

// Waking a sleeping thread took 50-90 us on the benchmark machine (a virtual machine): a 2-thread run of two
// 15-us samples took 112 us against 46-59 us on one thread. Threads that expect work within about that
// time wait for it awake instead.
constexpr std::chrono::microseconds kStayAwake{200};

inline void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    asm volatile("yield");
#endif
}

// Busy-waits until ready() or until `limit` has passed; returns ready().
template <typename Ready>
bool spin_until(Ready ready, std::chrono::microseconds limit) {
    const auto until = std::chrono::steady_clock::now() + limit;
    while (!ready()) {
        for (int i = 0; i < 32; ++i) cpu_relax();
        if (std::chrono::steady_clock::now() >= until) return ready();
    }
    return true;
}

}  // namespace neuroemu
