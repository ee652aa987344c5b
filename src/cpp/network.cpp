#include "neuroemu/network.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <string>

#include "neuroemu/engine.hpp"  // EnginePool, complete for the destructor
#include "neuroemu/errors.hpp"

namespace neuroemu {
namespace {

std::string projection_name(size_t k, const Projection& p) {
    return "projection " + std::to_string(k) + " (population " + std::to_string(p.source) + " -> " +
           std::to_string(p.target) + ")";
}

void check_params(const NeuronParameters& params, size_t n) {
    auto check_size = [n](size_t got, const char* name) {
        if (got != n) {
            throw ConfigError(std::string(name) + " has " + std::to_string(got) + " entries, expected " +
                              std::to_string(n) + " (one per neuron)");
        }
    };
    check_size(params.threshold.size(), "threshold");
    check_size(params.beta.size(), "beta");
    check_size(params.bias.size(), "bias");
    check_size(params.subtract_reset.size(), "reset");
    check_size(params.refractory.size(), "refractory");
    for (size_t i = 0; i < n; ++i) {
        if (!std::isfinite(params.threshold[i]) || params.threshold[i] <= 0.0) {
            throw ConfigError("threshold of neuron " + std::to_string(i) + " must be finite and > 0");
        }
        if (!(params.beta[i] >= 0.0 && params.beta[i] <= 1.0)) {
            throw ConfigError("beta of neuron " + std::to_string(i) + " must lie in [0, 1]");
        }
        if (!std::isfinite(params.bias[i])) {
            throw ConfigError("bias of neuron " + std::to_string(i) + " must be finite");
        }
    }
}

}  // namespace

FanOutTable::FanOutTable(int64_t n_sources, const std::vector<std::pair<int32_t, const Projection*>>& parts,
                         const std::vector<int32_t>& target_offsets) {
    // parts: (global index of the projection's first source, projection). Count, fill, then sort each
    // row by target; stable so that repeated (source, target) pairs keep projection order.
    indptr_.assign(static_cast<size_t>(n_sources) + 1, 0);
    for (const auto& [first, proj] : parts) {
        const int64_t rows = static_cast<int64_t>(proj->indptr.size()) - 1;
        for (int64_t r = 0; r < rows; ++r) {
            for (int64_t s = proj->indptr[static_cast<size_t>(r)]; s < proj->indptr[static_cast<size_t>(r) + 1];
                 ++s) {
                // A synapse is a non-zero weight (docs/semantics.md): explicit zeros are dropped.
                if (proj->weights[static_cast<size_t>(s)] != 0.0) ++indptr_[static_cast<size_t>(first + r) + 1];
            }
        }
    }
    std::partial_sum(indptr_.begin(), indptr_.end(), indptr_.begin());
    targets_.resize(static_cast<size_t>(indptr_.back()));
    weights_.resize(static_cast<size_t>(indptr_.back()));
    std::vector<int64_t> fill(indptr_.begin(), indptr_.end() - 1);
    for (const auto& [first, proj] : parts) {
        const int32_t offset = target_offsets[static_cast<size_t>(proj->target)];
        const int64_t rows = static_cast<int64_t>(proj->indptr.size()) - 1;
        for (int64_t r = 0; r < rows; ++r) {
            int64_t& at = fill[static_cast<size_t>(first + r)];
            for (int64_t s = proj->indptr[static_cast<size_t>(r)]; s < proj->indptr[static_cast<size_t>(r) + 1];
                 ++s) {
                if (proj->weights[static_cast<size_t>(s)] == 0.0) continue;
                targets_[static_cast<size_t>(at)] = offset + proj->indices[static_cast<size_t>(s)];
                weights_[static_cast<size_t>(at)] = proj->weights[static_cast<size_t>(s)];
                ++at;
            }
        }
    }
    std::vector<std::pair<int32_t, double>> row;
    for (int64_t s = 0; s < n_sources; ++s) {
        const auto begin = static_cast<size_t>(indptr_[static_cast<size_t>(s)]);
        const auto end = static_cast<size_t>(indptr_[static_cast<size_t>(s) + 1]);
        if (std::is_sorted(targets_.begin() + static_cast<std::ptrdiff_t>(begin),
                           targets_.begin() + static_cast<std::ptrdiff_t>(end))) {
            continue;
        }
        row.clear();
        for (size_t k = begin; k < end; ++k) row.emplace_back(targets_[k], weights_[k]);
        std::stable_sort(row.begin(), row.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
        for (size_t k = begin; k < end; ++k) {
            targets_[k] = row[k - begin].first;
            weights_[k] = row[k - begin].second;
        }
    }
    first_target_.assign(static_cast<size_t>(n_sources), -1);
    for (int64_t s = 0; s < n_sources; ++s) {
        const auto begin = static_cast<size_t>(indptr_[static_cast<size_t>(s)]);
        const auto end = static_cast<size_t>(indptr_[static_cast<size_t>(s) + 1]);
        bool consecutive = end > begin;
        for (size_t k = begin + 1; k < end && consecutive; ++k) consecutive = targets_[k] == targets_[k - 1] + 1;
        if (consecutive) first_target_[static_cast<size_t>(s)] = targets_[begin];
    }
    const bool all_float = std::all_of(weights_.begin(), weights_.end(), [](double w) {
        return static_cast<double>(static_cast<float>(w)) == w;
    });
    if (all_float) {
        weights32_.assign(weights_.begin(), weights_.end());
        weights_.clear();
        weights_.shrink_to_fit();
    }
    const int64_t width = n_sources > 0 ? indptr_[1] : 0;
    bool dense = all_float && width > 0 && first_target_[0] >= 0;
    for (int64_t s = 0; s < n_sources && dense; ++s) {
        dense = first_target_[static_cast<size_t>(s)] == first_target_[0] && indptr_[static_cast<size_t>(s)] == s * width &&
                indptr_[static_cast<size_t>(s) + 1] == (s + 1) * width;
    }
    if (dense) {
        dense_width_ = width;
        dense_first_ = first_target_[0];
    }
}

FanOut FanOutTable::row_range(int64_t source, int32_t first_target, int32_t last_target) const {
    FanOut part = row(source);
    int64_t skip = 0;
    int64_t end = part.size;
    if (part.contiguous()) {  // no search: the targets are first, first + 1, ...
        skip = std::clamp<int64_t>(int64_t{first_target} - part.first, 0, part.size);
        end = std::clamp<int64_t>(int64_t{last_target} - part.first, skip, part.size);
    } else if (part.size > 0 && (part.targets[0] < first_target || part.targets[part.size - 1] >= last_target)) {
        // (a row wholly inside the range, the usual case of a feed-forward network, needs no search)
        skip = std::lower_bound(part.targets, part.targets + part.size, first_target) - part.targets;
        end = std::lower_bound(part.targets + skip, part.targets + part.size, last_target) - part.targets;
    }
    part.targets += skip;
    if (part.weights) part.weights += skip;
    if (part.weights32) part.weights32 += skip;
    part.size = end - skip;
    if (part.contiguous()) part.first = part.size > 0 ? static_cast<int32_t>(part.first + skip) : -1;
    return part;
}

Network::Network(int32_t n_inputs, std::vector<int32_t> population_sizes, NeuronParameters params,
                 const std::vector<Projection>& projections)
    : n_inputs_(n_inputs),
      population_sizes_(std::move(population_sizes)),
      params_(std::move(params)),
      engine_pool_(std::make_unique<EnginePool>()) {
    if (n_inputs_ < 1) throw ConfigError("a network needs at least one input channel");
    if (population_sizes_.empty()) throw ConfigError("a network needs at least one population");
    population_offsets_.push_back(0);
    for (size_t p = 0; p < population_sizes_.size(); ++p) {
        if (population_sizes_[p] < 1) {
            throw ConfigError("population " + std::to_string(p) + " has no neurons");
        }
        const int64_t next = int64_t{population_offsets_.back()} + population_sizes_[p];
        if (next > INT32_MAX) throw ConfigError("the network has more than 2^31-1 neurons");
        population_offsets_.push_back(static_cast<int32_t>(next));
    }
    n_neurons_ = population_offsets_.back();
    check_params(params_, static_cast<size_t>(n_neurons_));
    population_of_.resize(static_cast<size_t>(n_neurons_));
    for (int32_t p = 0; p < n_populations(); ++p) {
        std::fill(population_of_.begin() + population_offset(p), population_of_.begin() + population_offset(p + 1),
                  p);
    }

    const auto n_pop = n_populations();
    std::vector<std::pair<int32_t, const Projection*>> from_input;
    std::vector<std::pair<int32_t, const Projection*>> from_neurons;
    for (size_t k = 0; k < projections.size(); ++k) {
        const Projection& proj = projections[k];
        const std::string name = projection_name(k, proj);
        if (proj.source < -1 || proj.source >= n_pop || proj.target < 0 || proj.target >= n_pop) {
            throw ConfigError(name + " names a population that does not exist");
        }
        if (proj.source == n_pop - 1) {
            throw ConfigError(name + " starts at the output population, which has no outgoing synapses");
        }
        const int32_t n_src = proj.source < 0 ? n_inputs_ : population_size(proj.source);
        const int32_t n_tgt = population_size(proj.target);
        if (proj.indptr.size() != static_cast<size_t>(n_src) + 1) {
            throw ConfigError(name + ": indptr has " + std::to_string(proj.indptr.size()) + " entries, expected " +
                              std::to_string(n_src + 1));
        }
        if (proj.indptr.front() != 0 || proj.indptr.back() != static_cast<int64_t>(proj.indices.size()) ||
            proj.indices.size() != proj.weights.size()) {
            throw ConfigError(name + ": indptr, indices and weights are inconsistent");
        }
        for (size_t r = 0; r + 1 < proj.indptr.size(); ++r) {
            if (proj.indptr[r] > proj.indptr[r + 1]) throw ConfigError(name + ": indptr is not non-decreasing");
        }
        for (size_t s = 0; s < proj.indices.size(); ++s) {
            if (proj.indices[s] < 0 || proj.indices[s] >= n_tgt) {
                throw ConfigError(name + ": target index " + std::to_string(proj.indices[s]) + " out of range [0, " +
                                  std::to_string(n_tgt) + ")");
            }
            if (!std::isfinite(proj.weights[s])) throw ConfigError(name + ": weights must be finite");
        }
        has_backward_edges_ = has_backward_edges_ || (proj.source >= 0 && proj.target <= proj.source);
        if (proj.source < 0) {
            from_input.emplace_back(0, &proj);
        } else {
            from_neurons.emplace_back(population_offset(proj.source), &proj);
        }
    }
    input_fanout_ = FanOutTable(n_inputs_, from_input, population_offsets_);
    neuron_fanout_ = FanOutTable(n_neurons_, from_neurons, population_offsets_);
    for (int32_t i = 0; i < n_neurons_; ++i) {
        if (params_.bias[static_cast<size_t>(i)] != 0.0) biased_neurons_.push_back(i);
    }
}

Network::~Network() = default;
Network::Network(Network&&) noexcept = default;
Network& Network::operator=(Network&&) noexcept = default;

}  // namespace neuroemu
