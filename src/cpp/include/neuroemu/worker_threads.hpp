// Threads kept between runs. Creating a thread (and faulting in its stack) cost 30-40 us on the benchmark
// machine: more than a whole sample of a small network, paid by every run of one sample.
#pragma once

#include <functional>

namespace neuroemu {

// Runs `job` on a kept thread that is idle, or on a new one (kept afterwards) when none is, and returns at
// once: every job starts without waiting for another one. The caller waits for its jobs itself. After a
// fork the child starts afresh (the parent's threads do not exist there).
void run_on_kept_thread(std::function<void()> job);

}  // namespace neuroemu
