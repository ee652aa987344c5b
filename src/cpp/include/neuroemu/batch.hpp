// Runs a batch of samples on a pool of threads. Sample b is sample index first_index + b for the random
// schedule, so results are identical for any thread count and any split of a batch.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>

#include "neuroemu/interrupt.hpp"
#include "neuroemu/network.hpp"
#include "neuroemu/recorder.hpp"
#include "neuroemu/run_config.hpp"

namespace neuroemu {

struct BatchInput {
    Frames frames;  // (samples, bins, n_inputs) row-major
    int64_t samples;
    int64_t bins;
};

// Runs samples 0 .. samples-1 on min(threads, samples) workers: the calling thread and kept threads
// (worker_threads.hpp), each taking the next sample left. Each worker calls `make_worker` once (to own its scratch state) and
// then the worker for each sample it takes; the worker should throw Cancelled once `interrupt` is requested.
// `poll` runs on the calling thread about every 50 ms; returning true cancels the batch, which then throws
// Cancelled. The first error of any worker is rethrown after all have stopped.
using SampleWorker = std::function<void(int64_t sample, Interrupt* interrupt)>;
void run_parallel(int64_t samples, int32_t threads, const std::function<SampleWorker()>& make_worker,
                  const std::function<bool()>& poll);

// `poll` is called on the calling thread about every 50 ms while workers run; returning true cancels the
// batch, which then throws Cancelled. The first error of any worker is rethrown after all have stopped.
void run_batch(const Network& network, const RunConfig& config, const BatchInput& input, uint64_t first_index,
               const BatchCounters& out, int32_t threads, const std::function<bool()>& poll);

}  // namespace neuroemu
