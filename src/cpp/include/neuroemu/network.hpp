// The network representation: populations of LIF neurons and their synapses as fan-out lists (CSR).
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "neuroemu/prefetch.hpp"

namespace neuroemu {

// One projection as the user gives it: a fan-out list from the neurons of population `source`
// (-1 = the input channels) to the neurons of population `target`, in population-local indices.
struct Projection {
    int32_t source = -1;
    int32_t target = 0;
    std::vector<int64_t> indptr;    // size = number of source neurons + 1
    std::vector<int32_t> indices;   // local target index of each synapse
    std::vector<double> weights;    // weight of each synapse
};

// Per-neuron LIF parameters, all of length n_neurons.
struct NeuronParameters {
    std::vector<double> threshold;
    std::vector<double> beta;
    std::vector<double> bias;
    std::vector<uint8_t> subtract_reset;  // 0 = reset to zero, 1 = subtract threshold
    std::vector<uint8_t> refractory;      // 1 = refractory until the next bin after a spike
};

// A row range of a fan-out list: the synapses of one source. A contiguous row targets the consecutive
// neurons first, first + 1, ... (a dense layer): the engine then adds it as one vector.
struct FanOut {
    const int32_t* targets;
    const double* weights;    // nullptr where the table keeps its weights as float (weights32)
    const float* weights32;   // set where every weight of the table is exactly a float; else nullptr
    int64_t size;
    int32_t first;            // the first target of a contiguous row; -1 for any other row

    bool contiguous() const { return first >= 0; }
    double weight(int64_t s) const { return weights32 ? static_cast<double>(weights32[s]) : weights[s]; }
    // Starts loading the synapses [begin, end) (targets and weights, the first 1 KB of each) from memory: a
    // row of a large table lies anywhere in it, and a short one ends before the hardware prefetcher catches on.
    void prefetch_synapses(int64_t begin, int64_t end) const {
        constexpr int64_t kLine = 64;
        constexpr int64_t kMaxBytes = 1024;  // longer rows stream well enough once started
        const int64_t weight_size = weights32 ? 4 : 8;
        const auto* target_bytes = reinterpret_cast<const char*>(targets + begin);
        const auto* weight_bytes = weights32 ? reinterpret_cast<const char*>(weights32 + begin)
                                             : reinterpret_cast<const char*>(weights + begin);
        const int64_t n = end - begin;
        for (int64_t b = 0; b < std::min(n * 4, kMaxBytes); b += kLine) prefetch_line(target_bytes + b);
        for (int64_t b = 0; b < std::min(n * weight_size, kMaxBytes); b += kLine) prefetch_line(weight_bytes + b);
    }
};

// Global fan-out lists over all projections, indexed by global neuron index. Each source's synapses are
// sorted by target, so the synapses onto one population form a contiguous range. Weights that are all
// exactly representable as float (any model trained in float32) are kept as float: half the memory and
// half the memory traffic per synaptic event, with bit-identical arithmetic (each is widened exactly).
class FanOutTable {
public:
    FanOutTable() = default;
    FanOutTable(int64_t n_sources, const std::vector<std::pair<int32_t, const Projection*>>& parts,
                const std::vector<int32_t>& target_offsets);

    FanOut row(int64_t source) const {
        const auto s = static_cast<std::size_t>(source);
        const int64_t begin = indptr_[s];
        const auto b = static_cast<std::size_t>(begin);
        return {targets_.data() + b, weights_.empty() ? nullptr : weights_.data() + b,
                weights32_.empty() ? nullptr : weights32_.data() + b, indptr_[s + 1] - begin, first_target_[s]};
    }
    // Starts loading what row(source) reads first (its start and kind), for a row needed soon.
    void prefetch_index(int64_t source) const {
        const auto s = static_cast<std::size_t>(source);
        prefetch_line(indptr_.data() + s);
        prefetch_line(indptr_.data() + s + 1);  // the row's end: on the next line where its start ends one
        prefetch_line(first_target_.data() + s);
    }
    // The synapses of `source` whose targets lie in [first_target, last_target).
    FanOut row_range(int64_t source, int32_t first_target, int32_t last_target) const;
    int64_t n_synapses() const { return static_cast<int64_t>(targets_.size()); }
    // The memory its rows and their index take.
    int64_t bytes() const {
        return static_cast<int64_t>(indptr_.size() * sizeof(int64_t) + targets_.size() * sizeof(int32_t) +
                                    weights_.size() * sizeof(double) + weights32_.size() * sizeof(float) +
                                    first_target_.size() * sizeof(int32_t));
    }
    // Where every row is the same contiguous run of targets [dense_first(), dense_first() + dense_width())
    // with float weights, stored source after source (a dense layer: row s starts at s * dense_width()):
    // the weights of source s are dense_weights() + s * dense_width(). Else dense_width() is -1.
    int64_t dense_width() const { return dense_width_; }
    int32_t dense_first() const { return dense_first_; }
    const float* dense_weights() const { return weights32_.data(); }

private:
    std::vector<int64_t> indptr_;
    std::vector<int32_t> targets_;
    std::vector<double> weights_;
    std::vector<float> weights32_;
    std::vector<int32_t> first_target_;  // per row: its first target if contiguous, else -1
    int64_t dense_width_ = -1;
    int32_t dense_first_ = -1;
};

class EnginePool;  // engine.hpp

class Network {
public:
    // Throws ConfigError on any inconsistency (sizes, indices, non-finite numbers, parameter ranges).
    Network(int32_t n_inputs, std::vector<int32_t> population_sizes, NeuronParameters params,
            const std::vector<Projection>& projections);
    ~Network();
    Network(Network&&) noexcept;
    Network& operator=(Network&&) noexcept;

    int32_t n_inputs() const { return n_inputs_; }
    int32_t n_neurons() const { return n_neurons_; }
    int32_t n_populations() const { return static_cast<int32_t>(population_sizes_.size()); }
    int32_t population_size(int32_t p) const { return population_sizes_[static_cast<std::size_t>(p)]; }
    int32_t population_offset(int32_t p) const { return population_offsets_[static_cast<std::size_t>(p)]; }
    int32_t population_of(int32_t neuron) const { return population_of_[static_cast<std::size_t>(neuron)]; }
    int32_t output_offset() const { return population_offsets_[population_offsets_.size() - 2]; }
    int32_t n_outputs() const { return population_sizes_.back(); }
    const NeuronParameters& params() const { return params_; }
    const FanOutTable& input_fanout() const { return input_fanout_; }
    const FanOutTable& neuron_fanout() const { return neuron_fanout_; }
    const std::vector<int32_t>& biased_neurons() const { return biased_neurons_; }
    // Whether a projection reaches its own population or an earlier one (recurrent or backward edges).
    bool has_backward_edges() const { return has_backward_edges_; }
    int64_t n_synapses() const { return input_fanout_.n_synapses() + neuron_fanout_.n_synapses(); }
    int64_t fanout_bytes() const { return input_fanout_.bytes() + neuron_fanout_.bytes(); }
    // This network's engines, idle between runs (engine.hpp: EngineLease takes one and gives it back).
    EnginePool& engine_pool() const { return *engine_pool_; }

private:
    int32_t n_inputs_;
    int32_t n_neurons_ = 0;
    std::vector<int32_t> population_sizes_;
    std::vector<int32_t> population_offsets_;  // size = populations + 1
    std::vector<int32_t> population_of_;
    NeuronParameters params_;
    FanOutTable input_fanout_;
    FanOutTable neuron_fanout_;
    std::vector<int32_t> biased_neurons_;
    bool has_backward_edges_ = false;
    std::unique_ptr<EnginePool> engine_pool_;
};

}  // namespace neuroemu
