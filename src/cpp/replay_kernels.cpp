#include "neuroemu/replay_kernels.hpp"

#include <cmath>
#include <cstddef>
#include <vector>

namespace neuroemu::replay {

namespace {

template <typename T>
struct Derivative {
    explicit Derivative(Surrogate s) : kind(s.kind) {
        constexpr double half_pi = 1.5707963267948966;
        if (kind == SurrogateKind::ATan) {
            scale = static_cast<T>(half_pi * s.parameter);  // (pi/2 * alpha) x, squared
            peak = static_cast<T>(s.parameter / 2.0);
        } else {
            scale = static_cast<T>(s.parameter);
            peak = T{1};
        }
    }
    T operator()(T x) const {
        if (kind == SurrogateKind::ATan) {
            const T y = scale * x;
            return peak / (T{1} + y * y);
        }
        const T y = T{1} + scale * std::abs(x);
        return T{1} / (y * y);
    }
    SurrogateKind kind;
    T scale;
    T peak;
};

}  // namespace

template <typename T>
void single_spike_forward(int64_t samples, int64_t steps, int64_t n_sources, int64_t n, const T* weights,
                          const int32_t* source_delivery, const T* base, const T* theta, const int32_t* spike_step,
                          Surrogate surrogate, bool dense, T* slopes, T* v_end) {
    const Derivative<T> derivative(surrogate);
    const auto width = static_cast<size_t>(n);
    std::vector<T> current(width);
    std::vector<uint8_t> received(width);
    std::vector<int64_t> first_of_step(static_cast<size_t>(steps) + 1);
    std::vector<int64_t> by_step(static_cast<size_t>(n_sources));
    for (int64_t b = 0; b < samples; ++b) {
        // the sources in order of their delivery step (a counting sort)
        const int32_t* delivery = source_delivery + b * n_sources;
        std::fill(first_of_step.begin(), first_of_step.end(), 0);
        for (int64_t j = 0; j < n_sources; ++j) {
            if (delivery[j] >= 0 && delivery[j] < steps) ++first_of_step[static_cast<size_t>(delivery[j]) + 1];
        }
        for (size_t k = 1; k < first_of_step.size(); ++k) first_of_step[k] += first_of_step[k - 1];
        std::vector<int64_t> fill(first_of_step.begin(), first_of_step.end() - 1);
        for (int64_t j = 0; j < n_sources; ++j) {
            if (delivery[j] >= 0 && delivery[j] < steps) by_step[static_cast<size_t>(fill[static_cast<size_t>(delivery[j])]++)] = j;
        }
        std::fill(current.begin(), current.end(), T{0});
        const T* base_b = base + b * n;
        const int32_t* spike_b = spike_step + b * n;
        for (int64_t k = 0; k < steps; ++k) {
            const int64_t first = first_of_step[static_cast<size_t>(k)];
            const int64_t last = first_of_step[static_cast<size_t>(k) + 1];
            if (!dense) std::fill(received.begin(), received.end(), uint8_t{0});
            for (int64_t s = first; s < last; ++s) {
                const T* row = weights + by_step[static_cast<size_t>(s)] * n;
                for (size_t i = 0; i < width; ++i) current[i] += row[i];
                if (!dense) {
                    for (size_t i = 0; i < width; ++i) received[i] |= static_cast<uint8_t>(row[i] != T{0});
                }
            }
            T* out = slopes + (b * steps + k) * n;
            if (first == last) {
                std::fill(out, out + n, T{0});
                continue;
            }
            for (size_t i = 0; i < width; ++i) {
                const bool checked = (dense || received[i]) && k <= spike_b[i];
                out[i] = checked ? derivative(base_b[i] + current[i] - theta[i]) : T{0};
            }
        }
        T* v_b = v_end + b * n;
        for (size_t i = 0; i < width; ++i) v_b[i] = spike_b[i] < steps ? T{0} : base_b[i] + current[i];
    }
}

template <typename T>
void single_spike_backward(int64_t samples, int64_t steps, int64_t back_steps, int64_t n, const T* grad_output,
                           const T* back, const T* back_tail, const int32_t* delivery, const uint8_t* alive,
                           const int32_t* spike_step, const T* grad_v, T* slopes, T* grad_base, T* grad_theta,
                           int64_t n_sources, const int32_t* source_delivery, T* grad_weights) {
    const auto width = static_cast<size_t>(n);
    std::vector<T> acc(width);
    for (int64_t b = 0; b < samples; ++b) {
        const int32_t* spike_b = spike_step + b * n;
        const T* grad_v_b = grad_v + b * n;
        for (size_t i = 0; i < width; ++i) acc[i] = spike_b[i] < steps ? T{0} : grad_v_b[i];
        for (int64_t k = steps - 1; k >= 0; --k) {
            T* row = slopes + (b * steps + k) * n;
            if (grad_output) {
                const T* g = grad_output + b * n;
                for (size_t i = 0; i < width; ++i) {
                    const T gu = g[i] * row[i];
                    acc[i] += gu;
                    grad_theta[i] -= gu;
                    row[i] = acc[i];
                }
                continue;
            }
            // a checked non-spike's gradient: the next population's current at the next step of this
            // sample, or after its last step
            const bool runs_on = k + 1 < back_steps && alive[b * back_steps + k] != 0;
            const T* after = runs_on ? back + (b * back_steps + k + 1) * n : back_tail + b * n;
            const int32_t* delivery_b = delivery + b * n;
            for (size_t i = 0; i < width; ++i) {
                T g = after[i];
                if (spike_b[i] == k) {
                    const int32_t d = delivery_b[i];
                    g = (d >= 0 && d < back_steps) ? back[(b * back_steps + d) * n + static_cast<int64_t>(i)] : T{0};
                }
                const T gu = g * row[i];
                acc[i] += gu;
                grad_theta[i] -= gu;
                row[i] = acc[i];
            }
        }
        T* base_b = grad_base + b * n;
        for (size_t i = 0; i < width; ++i) base_b[i] = acc[i];
        if (grad_weights) {
            const int32_t* source_b = source_delivery + b * n_sources;
            for (int64_t j = 0; j < n_sources; ++j) {
                const int32_t d = source_b[j];
                if (d < 0 || d >= steps) continue;
                const T* g = slopes + (b * steps + d) * n;
                T* gw = grad_weights + j * n;
                for (size_t i = 0; i < width; ++i) gw[i] += g[i];
            }
        }
    }
}

template void single_spike_forward<float>(int64_t, int64_t, int64_t, int64_t, const float*, const int32_t*,
                                          const float*, const float*, const int32_t*, Surrogate, bool, float*,
                                          float*);
template void single_spike_forward<double>(int64_t, int64_t, int64_t, int64_t, const double*, const int32_t*,
                                           const double*, const double*, const int32_t*, Surrogate, bool, double*,
                                           double*);
template void single_spike_backward<float>(int64_t, int64_t, int64_t, int64_t, const float*, const float*,
                                           const float*, const int32_t*, const uint8_t*, const int32_t*,
                                           const float*, float*, float*, float*, int64_t, const int32_t*, float*);
template void single_spike_backward<double>(int64_t, int64_t, int64_t, int64_t, const double*, const double*,
                                            const double*, const int32_t*, const uint8_t*, const int32_t*,
                                            const double*, double*, double*, double*, int64_t, const int32_t*,
                                            double*);

}  // namespace neuroemu::replay
