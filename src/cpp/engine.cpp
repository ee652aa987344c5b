#include "neuroemu/engine.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>

#include "neuroemu/counting.hpp"
#include "neuroemu/errors.hpp"
#include "neuroemu/random.hpp"

namespace neuroemu {

struct Engine::BinContext {
    const RunConfig& config;
    const SampleCounters& out;
    int32_t bin;
    int64_t max_steps;
    int64_t spikes = 0;          // network spikes so far in this bin
    int64_t output_step = -1;    // the first step of this bin in which an output neuron spiked
    int64_t synops = 0;
    int64_t updates = 0;
    const std::atomic<bool>* cancel;
};


void validate(const RunConfig& config) {
    if (config.group_size < 0) throw ConfigError("group_size must be >= 1, or unlimited");
    if (config.max_post_output_steps < -1) throw ConfigError("max_post_output_steps must be >= 0");
    if (config.max_steps_per_bin < 0) throw ConfigError("max_steps_per_bin must be >= 1");
    if (config.schedule == Schedule::Sync) {
        if (config.group_size != 0) throw ConfigError("group_size applies to asynchronous schedules only");
        if (!config.prioritize_input) throw ConfigError("prioritize_input=False applies to asynchronous schedules only");
        if (config.max_post_output_steps >= 0) {
            throw ConfigError("max_post_output_steps applies to asynchronous schedules only");
        }
    }
}

Engine::Engine(const Network& network) : net_(network) {
    const auto n = static_cast<size_t>(net_.n_neurons());
    v_.resize(n);
    current_.assign(n, 0.0);
    pre_spike_.resize(n);
    leaked_to_.resize(n);
    refractory_bin_.resize(n);
    received_stamp_.assign(n, 0);
    checked_stamp_.assign(n, 0);
    in_above_.resize(n);
}

void Engine::reset_sample() {
    std::fill(v_.begin(), v_.end(), 0.0);
    std::fill(current_.begin(), current_.end(), 0.0);  // a run that threw may have left current behind
    std::fill(leaked_to_.begin(), leaked_to_.end(), -1);
    std::fill(refractory_bin_.begin(), refractory_bin_.end(), -1);
    std::fill(in_above_.begin(), in_above_.end(), uint8_t{0});
    above_.clear();
    previous_bin_spikes_.clear();
}

void Engine::catch_up(int32_t neuron, int32_t bin) {
    const auto i = static_cast<size_t>(neuron);
    int32_t done = leaked_to_[i];
    const double beta = net_.params().beta[i];
    const double bias = net_.params().bias[i];
    double v = v_[i];
    if (bias == 0.0) {
        // Repeated multiplication, once per bin, exactly as an eager engine would; stops early once
        // nothing can change any more.
        if (beta != 1.0) {
            for (; done < bin && v != 0.0; ++done) v *= beta;
        }
    } else {
        for (; done < bin; ++done) v = v * beta + bias;  // compiled with -ffp-contract=off: no fused FMA
    }
    v_[i] = v;
    leaked_to_[i] = bin;
}

void Engine::start_delivery() {
    ++receive_stamp_;
    received_.clear();
    received_ranges_.clear();
}

void Engine::deliver(const FanOut& fanout, double multiplicity) {
    if (fanout.size == 0) return;
    if (fanout.contiguous) {
        // A dense row: one vectorisable pass. Each target still sums in ascending source order, since
        // sources are delivered in ascending order and current_ starts from 0.0.
        const int32_t first = fanout.targets[0];
        double* current = current_.data() + first;
        for (int64_t s = 0; s < fanout.size; ++s) current[s] += multiplicity * fanout.weights[s];
        const std::pair<int32_t, int32_t> range{first, static_cast<int32_t>(first + fanout.size)};
        if (received_ranges_.empty() || received_ranges_.back() != range) received_ranges_.push_back(range);
        return;
    }
    for (int64_t s = 0; s < fanout.size; ++s) {
        const int32_t target = fanout.targets[s];
        const auto t = static_cast<size_t>(target);
        current_[t] += multiplicity * fanout.weights[s];
        if (received_stamp_[t] != receive_stamp_) {
            received_stamp_[t] = receive_stamp_;
            received_.push_back(target);
        }
    }
}

void Engine::deliver_frame(BinContext& ctx, const double* frame) {
    for (int32_t c = 0; c < net_.n_inputs(); ++c) {
        const double x = frame[c];
        if (x > 0.0) {
            const FanOut row = net_.input_fanout().row(c);
            ctx.synops += input_events(x) * row.size;
            deliver(row, x);
        }
    }
}

inline void Engine::check(int32_t neuron, BinContext& ctx, bool received, bool bias_rule) {
    const auto i = static_cast<size_t>(neuron);
    if (checked_stamp_[i] == check_stamp_) return;
    checked_stamp_[i] = check_stamp_;
    const double current = current_[i];
    current_[i] = 0.0;
    if (refractory_bin_[i] == ctx.bin) return;  // the current is discarded
    if (leaked_to_[i] < ctx.bin) catch_up(neuron, ctx.bin);
    const double theta = net_.params().threshold[i];
    const double v = v_[i];
    if (!received && !(bias_rule && net_.params().bias[i] != 0.0) && !(v > theta)) return;
    ++ctx.updates;
    const double u = received ? v + current : v;
    if (!(u > theta)) {
        v_[i] = u;
        return;
    }
    spike(neuron, u, ctx.bin);
}

void Engine::spike(int32_t neuron, double u, int32_t bin) {
    const auto i = static_cast<size_t>(neuron);
    const double theta = net_.params().threshold[i];
    pre_spike_[i] = u;
    v_[i] = net_.params().subtract_reset[i] ? u - theta : 0.0;
    if (net_.params().refractory[i]) refractory_bin_[i] = bin;
    if (v_[i] > theta && !in_above_[i]) {
        in_above_[i] = 1;
        above_.push_back(neuron);
    }
    step_spikes_.push_back(neuron);
}

// Checks every neuron in [first, last) that received in this delivery.
void Engine::check_received(BinContext& ctx, bool bias_rule, int32_t first, int32_t last) {
    // Contiguous rows reached whole ranges: merge them so that each neuron is visited once, in a tight
    // loop (the common case of a dense layer, where every step touches the whole next layer).
    if (received_ranges_.size() > 1) {
        std::sort(received_ranges_.begin(), received_ranges_.end());
        size_t merged = 0;
        for (size_t r = 1; r < received_ranges_.size(); ++r) {
            if (received_ranges_[r].first <= received_ranges_[merged].second) {
                received_ranges_[merged].second = std::max(received_ranges_[merged].second, received_ranges_[r].second);
            } else {
                received_ranges_[++merged] = received_ranges_[r];
            }
        }
        received_ranges_.resize(merged + 1);
    }
    const double* __restrict threshold = net_.params().threshold.data();
    double* __restrict current = current_.data();
    double* v = v_.data();  // not restrict: catch_up and spike write it too
    uint64_t* __restrict checked = checked_stamp_.data();
    const int32_t* refractory_bin = refractory_bin_.data();
    const int32_t* leaked_to = leaked_to_.data();
    const int32_t bin = ctx.bin;
    const uint64_t stamp = check_stamp_;
    int64_t updates = 0;
    for (const auto& [begin, end] : received_ranges_) {
        const int32_t stop = std::min(end, last);
        for (int32_t neuron = std::max(begin, first); neuron < stop; ++neuron) {
            checked[neuron] = stamp;
            const double input = current[neuron];
            current[neuron] = 0.0;
            if (refractory_bin[neuron] == bin) continue;  // the current is discarded
            if (leaked_to[neuron] < bin) catch_up(neuron, bin);
            ++updates;
            const double u = v[neuron] + input;
            if (u > threshold[neuron]) {
                spike(neuron, u, bin);
            } else {
                v[neuron] = u;
            }
        }
    }
    ctx.updates += updates;
    for (const int32_t neuron : received_) {
        if (neuron >= first && neuron < last) check(neuron, ctx, true, bias_rule);
    }
}

void Engine::refresh_above() {
    size_t kept = 0;
    for (const int32_t neuron : above_) {
        const auto i = static_cast<size_t>(neuron);
        if (v_[i] > net_.params().threshold[i]) {
            above_[kept++] = neuron;
        } else {
            in_above_[i] = 0;
        }
    }
    above_.resize(kept);
}

void Engine::record_step(BinContext& ctx, int64_t step) {
    std::sort(step_spikes_.begin(), step_spikes_.end());
    ctx.spikes += static_cast<int64_t>(step_spikes_.size());
    const SampleCounters& out = ctx.out;
    const int64_t n = net_.n_neurons();
    const int64_t n_out = net_.n_outputs();
    const int32_t output_offset = net_.output_offset();
    const int64_t bin = ctx.bin;
    for (const int32_t neuron : step_spikes_) {
        if (out.spike_counts) ++out.spike_counts[bin * n + neuron];
        ++out.population_spikes[bin * net_.n_populations() + net_.population_of(neuron)];
        if (out.events) out.events->push_back({ctx.bin, static_cast<int32_t>(step), neuron});
        if (neuron >= output_offset) {
            const int64_t c = bin * n_out + (neuron - output_offset);
            ++out.output_counts[c];
            if (out.spikes_to_output[c] < 0) {
                out.spikes_to_output[c] = ctx.spikes;
                out.steps_to_output[c] = step + 1;
            }
            if (ctx.output_step < 0) ctx.output_step = step;
        }
    }
}

void Engine::run_async_bin(BinContext& ctx, const double* frame, Xoshiro256& rng) {
    const RunConfig& config = ctx.config;
    const int32_t n_inputs = net_.n_inputs();
    const int32_t bin = ctx.bin;
    const int32_t n = net_.n_neurons();
    start_delivery();
    if (config.prioritize_input) {
        deliver_frame(ctx, frame);
    } else {
        for (int32_t c = 0; c < n_inputs; ++c) {
            if (frame[c] > 0.0) queue_.push(c, frame[c], config.schedule == Schedule::Fifo ? -0.0 : HUGE_VAL);
        }
    }
    for (int64_t step = 0;; ++step) {
        ++check_stamp_;
        step_spikes_.clear();
        check_received(ctx, step == 0, 0, n);
        if (step == 0) {
            for (const int32_t neuron : net_.biased_neurons()) check(neuron, ctx, false, true);
        }
        for (size_t a = 0; a < above_.size(); ++a) check(above_[a], ctx, false, step == 0);
        if (!above_.empty()) refresh_above();
        record_step(ctx, step);
        const double key = config.schedule == Schedule::Fifo ? -static_cast<double>(step) : 0.0;
        for (const int32_t neuron : step_spikes_) {
            queue_.push(n_inputs + neuron, 1.0,
                        config.schedule == Schedule::Fifo ? key : pre_spike_[static_cast<size_t>(neuron)]);
        }
        const bool stop = config.max_post_output_steps >= 0 && ctx.output_step >= 0 &&
                          step >= ctx.output_step + config.max_post_output_steps;
        if (stop) queue_.clear();
        if (queue_.empty()) {
            ctx.out.forward_steps[bin] = step + 1;
            return;
        }
        if (step + 1 >= ctx.max_steps) {
            queue_.clear();
            throw ConfigError("bin " + std::to_string(bin) + " needed more than " + std::to_string(ctx.max_steps) +
                              " forward steps (runaway activity?); raise max_steps_per_bin if this is intended");
        }
        if ((step & 4095) == 4095 && ctx.cancel && ctx.cancel->load(std::memory_order_relaxed)) {
            queue_.clear();
            throw Cancelled();
        }
        queue_.emit(config.group_size, rng, group_);
        if (ctx.out.emissions) {
            for (const Emission& e : group_) ctx.out.emissions->push_back({bin, static_cast<int32_t>(step), e.entry, e.multiplicity});
        }
        start_delivery();
        for (const Emission& e : group_) {
            if (e.entry < n_inputs) {
                const FanOut row = net_.input_fanout().row(e.entry);
                ctx.synops += input_events(e.multiplicity) * row.size;
                deliver(row, e.multiplicity);
            } else {
                const FanOut row = net_.neuron_fanout().row(e.entry - n_inputs);
                ctx.synops += static_cast<int64_t>(e.multiplicity) * row.size;
                deliver(row, e.multiplicity);
            }
        }
    }
}

void Engine::run_sync_bin(BinContext& ctx, const double* frame) {
    const int32_t n_pop = net_.n_populations();
    const int32_t n = net_.n_neurons();
    ++check_stamp_;
    start_delivery();
    deliver_frame(ctx, frame);
    bin_spikes_.clear();
    const auto& biased = net_.biased_neurons();
    auto biased_at = biased.begin();
    for (int32_t p = 0; p < n_pop; ++p) {
        const int32_t first = net_.population_offset(p);
        const int32_t last = net_.population_offset(p + 1);
        // Recurrent edges: last bin's spikes of populations >= p, delivered after this bin's lower ones so
        // that each target sums its current in ascending source index.
        for (const int32_t source : previous_bin_spikes_) {
            if (source < first) continue;
            const FanOut part = net_.neuron_fanout().row_range(source, first, last);
            ctx.synops += part.size;
            deliver(part, 1.0);
        }
        step_spikes_.clear();
        check_received(ctx, true, first, last);
        for (; biased_at != biased.end() && *biased_at < last; ++biased_at) check(*biased_at, ctx, false, true);
        for (size_t a = 0; a < above_.size(); ++a) {
            if (above_[a] >= first && above_[a] < last) check(above_[a], ctx, false, true);
        }
        record_step(ctx, p);
        for (const int32_t source : step_spikes_) {
            const FanOut part = net_.neuron_fanout().row_range(source, last, n);
            ctx.synops += part.size;
            deliver(part, 1.0);
        }
        bin_spikes_.insert(bin_spikes_.end(), step_spikes_.begin(), step_spikes_.end());
    }
    if (!above_.empty()) refresh_above();
    previous_bin_spikes_.swap(bin_spikes_);
    ctx.out.forward_steps[ctx.bin] = n_pop;
}

void Engine::run(const RunConfig& config, const double* frames, int64_t bins, uint64_t sample_index,
                 const SampleCounters& out, const std::atomic<bool>* cancel) {
    validate(config);
    if (bins > INT32_MAX) throw ConfigError("too many bins");
    const int64_t n_out = net_.n_outputs();
    std::fill(out.spikes_to_output, out.spikes_to_output + bins * n_out, int64_t{-1});
    std::fill(out.steps_to_output, out.steps_to_output + bins * n_out, int64_t{-1});
    reset_sample();
    queue_.reset(int64_t{net_.n_inputs()} + net_.n_neurons(), config.schedule);
    Xoshiro256 rng(config.seed, sample_index);
    const int64_t max_steps = config.max_steps_per_bin > 0 ? config.max_steps_per_bin : default_max_steps_per_bin(net_);
    for (int64_t t = 0; t < bins; ++t) {
        if (cancel && cancel->load(std::memory_order_relaxed)) throw Cancelled();
        BinContext ctx{config, out, static_cast<int32_t>(t), max_steps, 0, -1, 0, 0, cancel};
        // Neurons with a bias change every bin: bring them up to date now (leak, then bias).
        for (const int32_t neuron : net_.biased_neurons()) {
            if (leaked_to_[static_cast<size_t>(neuron)] < ctx.bin) catch_up(neuron, ctx.bin);
        }
        const double* frame = frames + t * net_.n_inputs();
        if (config.schedule == Schedule::Sync) {
            run_sync_bin(ctx, frame);
        } else {
            run_async_bin(ctx, frame, rng);
        }
        out.synops[t] = ctx.synops;
        out.neuron_updates[t] = ctx.updates;
    }
}

}  // namespace neuroemu
