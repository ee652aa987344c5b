// Where a run writes its per-sample counters: views into caller-owned, C-contiguous arrays.
#pragma once

#include <cstdint>
#include <vector>

namespace neuroemu {

struct SpikeEvent {
    int32_t bin;
    int32_t step;
    int32_t neuron;
};
static_assert(sizeof(SpikeEvent) == 3 * sizeof(int32_t), "the bindings copy events as an (n, 3) int32 array");

// One queue entry emitted after forward step `step` of bin `bin` (so delivered in step `step + 1`):
// entry id as in PendingQueue (input channel c is c, neuron i is n_inputs + i) and its multiplicity.
// The training simulator (neuroemu.torch) rebuilds its schedule record from these and the spike events.
struct EmissionEvent {
    int32_t bin;
    int32_t step;
    int32_t entry;
    double multiplicity;
};

// Counters of one sample, each a row-major array with T (bins) rows. Optional ones are nullptr.
struct SampleCounters {
    int32_t* spike_counts = nullptr;       // (T, n_neurons), Record::Counts and Record::Spikes
    int64_t* population_spikes = nullptr;  // (T, n_populations)
    int32_t* output_counts = nullptr;      // (T, n_outputs)
    int64_t* forward_steps = nullptr;      // (T,)
    int64_t* synops = nullptr;             // (T,)
    int64_t* neuron_updates = nullptr;     // (T,)
    int64_t* spikes_to_output = nullptr;   // (T, n_outputs), -1 where the output did not spike
    int64_t* steps_to_output = nullptr;    // (T, n_outputs), -1 where the output did not spike
    std::vector<SpikeEvent>* events = nullptr;  // Record::Spikes
    std::vector<EmissionEvent>* emissions = nullptr;  // optional, any record mode (step engine, asynchronous)
};

// The same counters for a batch: sample b's rows start at b * (per-sample size).
struct BatchCounters {
    int32_t* spike_counts = nullptr;
    int64_t* population_spikes = nullptr;
    int32_t* output_counts = nullptr;
    int64_t* forward_steps = nullptr;
    int64_t* synops = nullptr;
    int64_t* neuron_updates = nullptr;
    int64_t* spikes_to_output = nullptr;
    int64_t* steps_to_output = nullptr;
    std::vector<std::vector<SpikeEvent>>* events = nullptr;  // size B, Record::Spikes
    std::vector<std::vector<EmissionEvent>>* emissions = nullptr;  // size B, optional

    SampleCounters sample(int64_t b, int64_t bins, int64_t n_neurons, int64_t n_populations,
                          int64_t n_outputs) const;
};

}  // namespace neuroemu
