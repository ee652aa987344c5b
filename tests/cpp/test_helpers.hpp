// Small builders shared by the C++ unit tests.
#pragma once

#include <cstdint>
#include <vector>

#include "neuroemu/network.hpp"

namespace neuroemu_test {

// Uniform parameters for n neurons.
inline neuroemu::NeuronParameters uniform_params(int32_t n, double threshold = 1.0, double beta = 1.0,
                                                 double bias = 0.0, bool subtract_reset = false,
                                                 bool refractory = false) {
    const auto size = static_cast<size_t>(n);
    neuroemu::NeuronParameters p;
    p.threshold.assign(size, threshold);
    p.beta.assign(size, beta);
    p.bias.assign(size, bias);
    p.subtract_reset.assign(size, subtract_reset ? 1 : 0);
    p.refractory.assign(size, refractory ? 1 : 0);
    return p;
}

// A projection from a dense matrix w[target][source] (like torch.nn.Linear.weight). With keep_zeros, zero
// weights stay in the CSR lists as explicit zeros (which the network must drop).
inline neuroemu::Projection dense_projection(int32_t source, int32_t target,
                                             const std::vector<std::vector<double>>& w, bool keep_zeros = false) {
    neuroemu::Projection p;
    p.source = source;
    p.target = target;
    const size_t n_tgt = w.size();
    const size_t n_src = n_tgt == 0 ? 0 : w[0].size();
    p.indptr.push_back(0);
    for (size_t j = 0; j < n_src; ++j) {
        for (size_t i = 0; i < n_tgt; ++i) {
            if (w[i][j] != 0.0 || keep_zeros) {
                p.indices.push_back(static_cast<int32_t>(i));
                p.weights.push_back(w[i][j]);
            }
        }
        p.indptr.push_back(static_cast<int64_t>(p.indices.size()));
    }
    return p;
}

// A projection from explicit per-source (target, weight) lists, in the given order.
inline neuroemu::Projection list_projection(int32_t source, int32_t target,
                                            const std::vector<std::vector<std::pair<int32_t, double>>>& rows) {
    neuroemu::Projection p;
    p.source = source;
    p.target = target;
    p.indptr.push_back(0);
    for (const auto& row : rows) {
        for (const auto& [t, w] : row) {
            p.indices.push_back(t);
            p.weights.push_back(w);
        }
        p.indptr.push_back(static_cast<int64_t>(p.indices.size()));
    }
    return p;
}

}  // namespace neuroemu_test
