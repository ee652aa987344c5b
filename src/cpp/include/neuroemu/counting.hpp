// Counting rules shared by the step and timed engines (docs/semantics.md, "Counters").
#pragma once

#include <cmath>
#include <cstdint>

#include "neuroemu/network.hpp"

namespace neuroemu {

// The synaptic-operation multiplicity of an input event: its count when a whole number, else one graded
// event.
inline int64_t input_events(double x) {
    if (x == 1.0) return 1;  // binary input, the usual case, without std::floor (a libm call without SSE4.1)
    return (x == std::floor(x) && x < 9.0e15) ? static_cast<int64_t>(x) : 1;
}

// The default guard against runaway activity: forward steps (step model) or deliveries (timed model) per bin.
inline int64_t default_max_steps_per_bin(const Network& net) {
    return 1000 + 100 * (int64_t{net.n_inputs()} + net.n_neurons());
}

}  // namespace neuroemu
