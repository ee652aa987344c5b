// How a network is run: the schedule and its options (docs/semantics.md).
#pragma once

#include <cstddef>
#include <cstdint>

namespace neuroemu {

enum class Schedule : int32_t { Sync = 0, Random = 1, Momentum = 2, Fifo = 3 };

enum class Record : int32_t {
    Totals = 0,  // per-layer totals and output counts only
    Counts = 1,  // also spike counts per neuron per bin
    Spikes = 2,  // also an event log (bin, forward step, neuron)
};

// The element type of input frames. Binary or small event counts as uint8 (numpy bool or uint8) take an
// eighth of the memory traffic of float64; graded input needs a floating type.
enum class InputType : int32_t { Float64 = 0, Float32 = 1, UInt8 = 2 };

// Row-major input frames of one element type.
struct Frames {
    const void* data;
    InputType type = InputType::Float64;

    static size_t element_size(InputType type) {
        return type == InputType::Float64 ? 8 : type == InputType::Float32 ? 4 : 1;
    }
    // The frames starting `elements` elements further on.
    Frames advanced(int64_t elements) const {
        return {static_cast<const char*>(data) + static_cast<size_t>(elements) * element_size(type), type};
    }
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
