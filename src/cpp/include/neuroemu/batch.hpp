// Runs a batch of samples on a pool of threads. Sample b is sample index first_index + b for the random
// schedule, so results are identical for any thread count and any split of a batch.
#pragma once

#include <cstdint>
#include <functional>

#include "neuroemu/network.hpp"
#include "neuroemu/recorder.hpp"
#include "neuroemu/run_config.hpp"

namespace neuroemu {

struct BatchInput {
    const double* frames;  // (samples, bins, n_inputs) row-major
    int64_t samples;
    int64_t bins;
};

// `poll` is called on the calling thread about every 50 ms while workers run; returning true cancels the
// batch, which then throws Cancelled. The first error of any worker is rethrown after all have stopped.
void run_batch(const Network& network, const RunConfig& config, const BatchInput& input, uint64_t first_index,
               const BatchCounters& out, int32_t threads, const std::function<bool()>& poll);

}  // namespace neuroemu
