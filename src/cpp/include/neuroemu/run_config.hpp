// How a network is run: the schedule and its options (docs/semantics.md).
#pragma once

#include <cstdint>

namespace neuroemu {

enum class Schedule : int32_t { Sync = 0, Random = 1, Momentum = 2, Fifo = 3 };

enum class Record : int32_t {
    Totals = 0,  // per-layer totals and output counts only
    Counts = 1,  // also spike counts per neuron per bin
    Spikes = 2,  // also an event log (bin, forward step, neuron)
};

struct RunConfig {
    Schedule schedule = Schedule::Sync;
    int64_t group_size = 0;              // 0 = unlimited
    bool prioritize_input = true;
    uint64_t seed = 0;
    int64_t max_post_output_steps = -1;  // -1 = off
    Record record = Record::Counts;
    // Guards against runaway activity (for example subtract reset without refractoriness on a huge
    // potential): a bin that needs more forward steps is an error. 0 = the default for the network.
    int64_t max_steps_per_bin = 0;
};

// Throws ConfigError where the options do not fit together.
void validate(const RunConfig& config);

}  // namespace neuroemu
