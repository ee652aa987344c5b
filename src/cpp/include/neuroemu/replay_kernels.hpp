// Fused loops of the training simulator's differentiable pass for networks whose neurons spike at most
// once per bin (neuroemu/torch/_replay_single.py states the model and the gradient). Plain arrays, C
// order; PyTorch calls them on CPU tensors, with its own matrix products in between. Each loop replaces
// a dozen element-wise tensor operations over (samples, steps, neurons), which on a CPU are limited by
// memory traffic, with one pass.
#pragma once

#include <cstdint>

namespace neuroemu::replay {

enum class SurrogateKind : int32_t { ATan = 0, FastSigmoid = 1 };

// The surrogate derivative sigma'(x) of neuroemu.torch.surrogate: ATan(alpha), FastSigmoid(slope).
struct Surrogate {
    SurrogateKind kind;
    double parameter;
};

// One population in one bin, forward. `source_delivery` (samples, n_sources): the step in which each
// source of the previous population is delivered (-1: not in this bin). `spike_step` (samples, n): the
// step of the neuron's spike, or >= steps for none. Writes `slopes` (samples, steps, n): sigma'(u - theta)
// where the neuron is checked (it receives, up to and including its spike step), else 0; and `v_end`
// (samples, n): (base + all current of the bin) where the neuron did not spike, else 0.
// `dense`: every weight is non-zero, so a delivery reaches every neuron.
template <typename T>
void single_spike_forward(int64_t samples, int64_t steps, int64_t n_sources, int64_t n, const T* weights,
                          const int32_t* source_delivery, const T* base, const T* theta, const int32_t* spike_step,
                          Surrogate surrogate, bool dense, T* slopes, T* v_end);

// One population in one bin, backward. The gradient of each check's spike comes either from the output
// loss (`grad_output` (samples, n), the same in every step) or, for a hidden population, from the next
// population: `back` (samples, back_steps, n) = (gradient of the next population's current per step) @ W^T
// and `back_tail` (samples, n) = its gradient after the last step: a spike receives it at its delivery step
// (`delivery`, -1 = never delivered), a checked non-spike at the next step of its sample (`alive`
// (samples, back_steps), 1 where the sample runs another step) or after the last. `grad_v` (samples, n):
// gradient of the potential carried to the next bin. On return `slopes` (samples, steps, n) holds the
// gradient of the current arriving in each step, `grad_base` (samples, n) that of the leaked potential,
// `grad_theta` (n) has the threshold's gradient added, and, if `grad_weights` (n_sources, n) is given, the
// weight gradient sum over delivered sources of the current gradient at their delivery step is added.
template <typename T>
void single_spike_backward(int64_t samples, int64_t steps, int64_t back_steps, int64_t n, const T* grad_output,
                           const T* back, const T* back_tail, const int32_t* delivery, const uint8_t* alive,
                           const int32_t* spike_step, const T* grad_v, T* slopes, T* grad_base, T* grad_theta,
                           int64_t n_sources, const int32_t* source_delivery, T* grad_weights);

}  // namespace neuroemu::replay
