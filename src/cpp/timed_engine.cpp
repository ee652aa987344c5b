#include "neuroemu/timed_engine.hpp"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <limits>
#include <memory>
#include <numeric>
#include <string>

#include "frame_scan.hpp"
#include "kernels.hpp"
#include "neuroemu/batch.hpp"
#include "neuroemu/counting.hpp"
#include "neuroemu/errors.hpp"

namespace neuroemu {

namespace {

// The sync phase of a core delivers and checks in vector passes over all its neurons (deliver_marked,
// check_marked) where at least one synapse per kVectorCheckRatio neurons arrives, else neuron by neuron.
constexpr int64_t kVectorCheckRatio = 8;

// A neuron with subtract reset and no refractoriness fires again at once while it stays above threshold;
// this bounds one update (runaway potentials).
constexpr int64_t kMaxSpikesPerUpdate = 1000000;

}  // namespace

// Momentum ranks a core's waiting messages: highest pre-spike potential first (input: +inf), ties by lower
// entry (input channels before neurons), then by arrival order. As a heap "less": a ranks below b.
bool TimedEngine::momentum_below(const Message& a, const Message& b) {
    if (a.key != b.key) return a.key < b.key;
    if (a.entry != b.entry) return a.entry > b.entry;
    return a.seq > b.seq;
}

TimedEngine::TimedEngine(const Network& network, const HardwareModel& model)
    : net_(network), model_(model), kernels_(kernels::table()) {
    if (!model_.fits(net_)) throw ConfigError("the hardware mapping was built for another network");
    const auto n = static_cast<std::size_t>(net_.n_neurons());
    v_.resize(n);
    current_.resize(n);
    pre_spike_.resize(n);
    leaked_to_.resize(n);
    leaked_at_.resize(n);
    refractory_bin_.resize(n);
    received_stamp_.assign(n, 0);
    received_bytes_.assign(n, 0);
    checked_stamp_.assign(n, 0);
    in_above_.resize(n);
    const auto n_cores = static_cast<std::size_t>(model_.n_cores());
    cores_.resize(n_cores);
    biased_of_core_.resize(n_cores);
    above_of_core_.resize(n_cores);
    cores_of_population_.resize(static_cast<std::size_t>(net_.n_populations()));
    for (const int32_t neuron : net_.biased_neurons()) {
        biased_of_core_[static_cast<std::size_t>(model_.core_of(neuron))].push_back(neuron);
    }
    for (int32_t c = 0; c < model_.n_cores(); ++c) {
        cores_of_population_[static_cast<std::size_t>(model_.core_population(c))].push_back(c);
    }
}

// -- neuron state (the LIF rules of docs/semantics.md) ---------------------------------------------------

int32_t TimedEngine::bin_of(int64_t time) const {
    // Work still pending after the last bin completes in the last bin's terms.
    return static_cast<int32_t>(std::min<int64_t>(time / model_.dt(), bins_ - 1));
}

double TimedEngine::decay(double beta, int64_t elapsed) const {
    if (beta == 1.0 || elapsed <= 0) return 1.0;
    if (beta == 0.0) return 0.0;
    return std::exp(std::log(beta) * (static_cast<double>(elapsed) / static_cast<double>(model_.dt())));
}

// Most calls find the neuron caught up already (one that received before in this bin): that test is inline,
// the leak itself is not.
inline void TimedEngine::catch_up(int32_t neuron, int32_t bin, int64_t time) {
    if (!config_->continuous_leak && leaked_to_[static_cast<std::size_t>(neuron)] >= bin) return;
    catch_up_owed(neuron, bin, time);
}

void TimedEngine::catch_up_owed(int32_t neuron, int32_t bin, int64_t time) {
    const auto i = static_cast<std::size_t>(neuron);
    const double beta = net_.params().beta[i];
    const double bias = net_.params().bias[i];
    int32_t done = leaked_to_[i];
    double v = v_[i];
    if (!config_->continuous_leak) {
        if (done >= bin) return;
        if (bias == 0.0) {
            if (beta != 1.0) {
                for (; done < bin && v != 0.0; ++done) v *= beta;
            }
        } else {
            for (; done < bin; ++done) v = v * beta + bias;  // -ffp-contract=off: no fused FMA
        }
    } else {
        // Exact exponential decay over the elapsed time; the bias still enters once per bin, at each bin
        // boundary crossed.
        int64_t at = leaked_at_[i];
        if (bias != 0.0) {
            for (; done < bin; ++done) {
                const int64_t boundary = static_cast<int64_t>(done + 1) * model_.dt();
                v = v * decay(beta, boundary - at) + bias;
                at = std::max(at, boundary);
            }
        }
        v *= decay(beta, time - at);
        leaked_at_[i] = std::max(at, time);
    }
    v_[i] = v;
    leaked_to_[i] = std::max(leaked_to_[i], bin);
}

// The fan-out row of a message's source (an input channel or a neuron).
FanOut TimedEngine::row_of(const Message& m) const {
    const int32_t n_inputs = net_.n_inputs();
    return m.entry < n_inputs ? net_.input_fanout().row(m.entry) : net_.neuron_fanout().row(m.entry - n_inputs);
}

void TimedEngine::clear_received() {
    received_.clear();
    stamped_first_ = stamped_last_ = 0;
}

// Adds the current of one message to its route's targets, listing in received_ each target that had none
// under receive_stamp_ (its current starts from 0.0). A contiguous row (a dense layer) takes vector kernels
// where the targets are known: all new (nothing received yet on this core) or all listed already.
void TimedEngine::deliver(const Message& m) {
    const Route& r = model_.route(m.route);
    const FanOut row = row_of(m);
    if (row.contiguous() && r.end > r.begin) {
        const auto first = static_cast<int32_t>(row.first + r.begin);
        const auto last = static_cast<int32_t>(row.first + r.end);
        if (first >= stamped_first_ && last <= stamped_last_) {
            add_contiguous(row, r.begin, r.end, m.multiplicity);
            return;
        }
        if (received_.empty()) {  // a route's targets lie on one core, and this core has received nothing
            std::fill(current_.begin() + first, current_.begin() + last, 0.0);
            add_contiguous(row, r.begin, r.end, m.multiplicity);
            std::fill(received_stamp_.begin() + first, received_stamp_.begin() + last, receive_stamp_);
            received_.resize(static_cast<std::size_t>(last - first));
            std::iota(received_.begin(), received_.end(), first);
            stamped_first_ = first;
            stamped_last_ = last;
            return;
        }
    }
    if (row.weights32) {
        deliver_route(row.targets, row.weights32, r.begin, r.end, m.multiplicity);
    } else {
        deliver_route(row.targets, row.weights, r.begin, r.end, m.multiplicity);
    }
    if (row.contiguous() && r.end - r.begin > stamped_last_ - stamped_first_) {
        stamped_first_ = static_cast<int32_t>(row.first + r.begin);
        stamped_last_ = static_cast<int32_t>(row.first + r.end);
    }
}

// The contiguous float row segment a message delivers: its targets [first, last) and their weights; null
// where the row is scattered or kept in double.
const float* TimedEngine::float_run(const Message& m, int32_t& first, int32_t& last) const {
    const Route& r = model_.route(m.route);
    const FanOut row = row_of(m);
    if (!row.contiguous() || row.weights32 == nullptr) return nullptr;
    first = static_cast<int32_t>(row.first + r.begin);
    last = static_cast<int32_t>(row.first + r.end);
    return row.weights32 + r.begin;
}

// The messages from `at` on whose contiguous float rows reach the same targets [first, last) as the one at
// `at` (which must be such a message), in one kernels::add_rows_f32 pass: the targets' sums stay in registers
// and each still sums in message order. Returns how many messages it took.
std::size_t TimedEngine::add_row_run(const Message* messages, std::size_t count, std::size_t at, int32_t first,
                                     int32_t last, const float* weights) {
    batch_rows_.assign(1, weights);
    batch_multiplicities_.assign(1, messages[at].multiplicity);
    std::size_t k = at + 1;
    for (; k < count; ++k) {
        int32_t next_first = 0;
        int32_t next_last = 0;
        const float* next = float_run(messages[k], next_first, next_last);
        if (next == nullptr || next_first != first || next_last != last) break;
        batch_rows_.push_back(next);
        batch_multiplicities_.push_back(messages[k].multiplicity);
    }
    kernels_.add_rows_f32(current_.data() + first, batch_rows_.data(), batch_multiplicities_.data(),
                          static_cast<int64_t>(batch_rows_.size()), last - first);
    return k - at;
}

// add_row_run from the message at `at`, where its targets are all listed in received_ already; else none (0).
std::size_t TimedEngine::add_same_targets(const Message* messages, std::size_t count, std::size_t at) {
    int32_t first = 0;
    int32_t last = 0;
    const float* weights = float_run(messages[at], first, last);
    if (weights == nullptr || first >= last || first < stamped_first_ || last > stamped_last_) return 0;
    return add_row_run(messages, count, at, first, last, weights);
}

// Delivers the messages in turn onto neurons [first, last) (one core), as deliver_all would, but marking the
// targets in received_bytes_ instead of listing them: current_ of the whole run starts at 0.0, so that no
// synapse needs a stamp. For a core whose check will be check_marked's vector passes.
void TimedEngine::deliver_marked(const Message* messages, std::size_t count, int32_t first, int32_t last) {
    std::fill(current_.begin() + first, current_.begin() + last, 0.0);
    uint8_t* received = received_bytes_.data();
    double* current = current_.data();
    for (std::size_t k = 0; k < count;) {
        const Message& m = messages[k];
        const Route& r = model_.route(m.route);
        const FanOut row = row_of(m);
        if (row.contiguous()) {
            const auto run_first = static_cast<int32_t>(row.first + r.begin);
            const auto run_last = static_cast<int32_t>(row.first + r.end);
            if (row.weights32 != nullptr && run_first < run_last) {
                k += add_row_run(messages, count, k, run_first, run_last, row.weights32 + r.begin);
            } else {
                add_contiguous(row, r.begin, r.end, m.multiplicity);
                ++k;
            }
            std::fill(received + run_first, received + run_last, uint8_t{1});
            continue;
        }
        const double multiplicity = m.multiplicity;
        for (int64_t s = r.begin; s < r.end; ++s) {
            const auto t = static_cast<std::size_t>(row.targets[s]);
            current[t] += multiplicity * row.weight(s);
            received[t] = 1;
        }
        ++k;
    }
}

// Delivers messages in turn (the caller's order is the summation order).
void TimedEngine::deliver_all(const Message* messages, std::size_t count) {
    for (std::size_t k = 0; k < count;) {
        const std::size_t taken = add_same_targets(messages, count, k);
        if (taken > 0) {
            k += taken;
        } else {
            deliver(messages[k++]);
        }
    }
}

// current[t] += multiplicity * weight for the synapses [begin, end) of a contiguous row: deliver_route's
// arithmetic, in a vector kernel.
void TimedEngine::add_contiguous(const FanOut& row, int64_t begin, int64_t end, double multiplicity) {
    double* current = current_.data() + row.first + begin;
    if (row.weights32) {
        kernels_.add_scaled_f32(current, row.weights32 + begin, multiplicity, end - begin);
    } else {
        kernels_.add_scaled(current, row.weights + begin, multiplicity, end - begin);
    }
}

// The synapses [begin, end) of one row. Everything the loop reads is a local: a store through current
// could otherwise (for the compiler) change the engine's own fields, which it would then reload per synapse.
template <typename Weight>
void TimedEngine::deliver_route(const int32_t* targets, const Weight* weights, int64_t begin, int64_t end,
                                double multiplicity) {
    const uint64_t stamp = receive_stamp_;
    uint64_t* stamps = received_stamp_.data();
    double* current = current_.data();
    for (int64_t s = begin; s < end; ++s) {
        const int32_t target = targets[s];
        const auto t = static_cast<std::size_t>(target);
        if (stamps[t] != stamp) {
            stamps[t] = stamp;
            current[t] = 0.0;
            received_.push_back(target);
        }
        current[t] += multiplicity * static_cast<double>(weights[s]);
    }
}

int64_t TimedEngine::synop_events(const Message& m) const {
    const Route& r = model_.route(m.route);
    const int64_t events = m.entry < net_.n_inputs() ? input_events(m.multiplicity)
                                                     : static_cast<int64_t>(m.multiplicity);
    return events * (r.end - r.begin);
}

// The threshold check after integration (u = v + I): returns the number of spikes. Inline: most checks do
// not fire.
inline int64_t TimedEngine::fire(int32_t neuron, double u, int32_t bin, bool repeat) {
    const auto i = static_cast<std::size_t>(neuron);
    if (!(u > net_.params().threshold[i])) {
        v_[i] = u;
        return 0;
    }
    return spike(neuron, u, bin, repeat);
}

// fire() where u crossed the threshold.
int64_t TimedEngine::spike(int32_t neuron, double u, int32_t bin, bool repeat) {
    const auto i = static_cast<std::size_t>(neuron);
    const double theta = net_.params().threshold[i];
    const bool subtract = net_.params().subtract_reset[i] != 0;
    const bool refractory = net_.params().refractory[i] != 0;
    int64_t k = 0;
    for (;;) {
        pre_spike_[i] = u;
        v_[i] = subtract ? u - theta : 0.0;
        ++k;
        if (refractory) {
            refractory_bin_[i] = bin;
            break;
        }
        if (!repeat || !(v_[i] > theta)) break;
        if (k >= kMaxSpikesPerUpdate) {
            throw ConfigError("neuron " + std::to_string(neuron) + " fired more than " +
                              std::to_string(kMaxSpikesPerUpdate) + " times in one update (runaway potential)");
        }
        u = v_[i];
    }
    if (v_[i] > theta && !in_above_[i]) {
        in_above_[i] = 1;
        above_of_core_[static_cast<std::size_t>(model_.core_of(neuron))].push_back(neuron);
    }
    return k;
}

// Lists a neuron's spikes of one update (set in place: a Spike built on the stack and copied stalls store
// forwarding).
void TimedEngine::add_spike(int32_t neuron, int64_t count, int64_t time) {
    Spike& s = spikes_.emplace_back();
    s.neuron = neuron;
    s.count = count;
    s.time = time;
}

void TimedEngine::refresh_above(int32_t core) {
    auto& above = above_of_core_[static_cast<std::size_t>(core)];
    std::size_t kept = 0;
    for (const int32_t neuron : above) {
        const auto i = static_cast<std::size_t>(neuron);
        if (v_[i] > net_.params().threshold[i]) {
            above[kept++] = neuron;
        } else {
            in_above_[i] = 0;
        }
    }
    above.resize(kept);
}

// Records spikes_ (sorted by neuron) as one step of `bin`: all of them count towards spikes_to_output.
// `step` is the event log's step index, `steps_so_far` what steps_to_output reports.
void TimedEngine::record(int32_t bin, int64_t step, int64_t steps_so_far) {
    const SampleCounters& out = out_->bins;
    const int64_t n = net_.n_neurons();
    const int64_t n_out = net_.n_outputs();
    const int32_t output_offset = net_.output_offset();
    const auto b = static_cast<std::size_t>(bin);
    for (const Spike& s : spikes_) bin_spikes_[b] += s.count;
    for (const Spike& s : spikes_) {
        if (out.spike_counts) out.spike_counts[bin * n + s.neuron] += static_cast<int32_t>(s.count);
        out.population_spikes[bin * net_.n_populations() + net_.population_of(s.neuron)] += s.count;
        if (out.events) {
            for (int64_t k = 0; k < s.count; ++k) out.events->push_back({bin, static_cast<int32_t>(step), s.neuron});
        }
        if (s.neuron >= output_offset) {
            const int64_t c = s.neuron - output_offset;
            out.output_counts[bin * n_out + c] += static_cast<int32_t>(s.count);
            if (out_->first_output[c] < 0) out_->first_output[c] = s.time;
            if (out.spikes_to_output[bin * n_out + c] < 0) {
                out.spikes_to_output[bin * n_out + c] = bin_spikes_[b];
                out.steps_to_output[bin * n_out + c] = steps_so_far;
            }
        }
    }
}

// Counts the traffic of `count` spike messages along route r from the source's tile `from` (a neuron that fires
// k times in one update sends k messages per destination; they travel together and are delivered as one task
// of multiplicity k), and returns their latency (ps, spike_out not included).
int64_t TimedEngine::count_route(const TileCoord& from, const Route& r, bool input, int64_t count) {
    // (locals, not a struct: the compiler would test a struct's fields in one wide load over narrow stores)
    const TileCoord& to = model_.tile(r.core);
    const int32_t east_west = std::abs(to.x - from.x);
    const int32_t north_south = std::abs(to.y - from.y);
    const int32_t chips = std::abs(to.chip - from.chip);
    const LatencyTable& lat = model_.latency();
    int64_t* totals = out_->totals;
    totals[kMessages] += count;
    if (input) totals[kInputMessages] += count;
    if (east_west == 0 && north_south == 0 && chips == 0) {
        totals[kInTileMessages] += count;
        return lat.message;
    }
    totals[kHopsEastWest] += count * east_west;
    totals[kHopsNorthSouth] += count * north_south;
    totals[kChipCrossings] += count * chips;
    return east_west * lat.hop_east_west + north_south * lat.hop_north_south + chips * lat.chip_hop;
}

void TimedEngine::reset_sample(const TimedConfig& config, const TimedSampleCounters& out, int64_t bins) {
    config_ = &config;
    out_ = &out;
    bins_ = bins;
    std::fill(v_.begin(), v_.end(), 0.0);
    std::fill(leaked_to_.begin(), leaked_to_.end(), -1);
    std::fill(leaked_at_.begin(), leaked_at_.end(), int64_t{0});
    std::fill(refractory_bin_.begin(), refractory_bin_.end(), -1);
    std::fill(in_above_.begin(), in_above_.end(), uint8_t{0});
    for (auto& above : above_of_core_) above.clear();
    for (auto& core : cores_) {
        core.busy = false;
        core.dispatch_pending = false;
        core.task_kind = TaskKind::Message;
        core.updates_due = 0;
        core.waiting.clear();
        core.head = 0;
        core.candidates.clear();
        core.input_messages.clear();
        core.input_tasks.clear();
        core.input_head = 0;
        core.inputs_ready = 0;
    }
    bin_spikes_.assign(static_cast<std::size_t>(std::max<int64_t>(bins, 0)), 0);
    last_time_ = 0;
    message_seq_ = 0;
    queue_.clear();
    const int64_t n_out = net_.n_outputs();
    std::fill(out.bins.spikes_to_output, out.bins.spikes_to_output + bins * n_out, int64_t{-1});
    std::fill(out.bins.steps_to_output, out.bins.steps_to_output + bins * n_out, int64_t{-1});
    std::fill(out.first_output, out.first_output + n_out, int64_t{-1});
}

void TimedEngine::run(const TimedConfig& config, const std::vector<InputEvent>& inputs, int64_t bins,
                      uint64_t sample_index, const TimedSampleCounters& out, Interrupt* interrupt) {
    if (bins > INT32_MAX) throw ConfigError("too many bins");
    if (bins > 0 && model_.dt() > std::numeric_limits<int64_t>::max() / (bins + 1)) {
        throw ConfigError("bins x dt does not fit in int64 picoseconds");
    }
    reset_sample(config, out, bins);
    const int64_t per_bin = config.max_deliveries_per_bin > 0
                                ? config.max_deliveries_per_bin
                                : default_max_steps_per_bin(net_);
    max_deliveries_ = per_bin * std::max<int64_t>(bins, 1);
    if (bins > 0) {
        for (const InputEvent& e : inputs) {
            if (e.time < 0 || e.channel < 0 || e.channel >= net_.n_inputs()) {
                throw ConfigError("input events need times >= 0 and channels in [0, n_inputs)");
            }
        }
        if (config.schedule == Schedule::Sync) {
            try {
                run_sync(inputs, interrupt);
            } catch (...) {
                // The engine goes back to its pool: a phase left half done must not leave marks behind.
                std::fill(received_bytes_.begin(), received_bytes_.end(), uint8_t{0});
                throw;
            }
        } else {
            Xoshiro256 rng(config.seed, sample_index);
            run_async(inputs, rng, interrupt);
        }
    }
    out.totals[kDuration] = std::max(last_time_, bins * model_.dt());
    config_ = nullptr;
    out_ = nullptr;
}

// -- asynchronous schedules: serial cores with input queues ----------------------------------------------

// Schedules an event of `kind` for `core` (or a bin, or an input event) at `time`; a message is set in place.
TimedEngine::Payload& TimedEngine::schedule(int64_t time, Kind kind, int32_t core, uint64_t* seq) {
    Payload& payload = queue_.schedule(time, seq);
    payload.kind = kind;
    payload.core = core;
    return payload;
}

void TimedEngine::schedule_dispatch(int32_t core, int64_t now) {
    Core& c = cores_[static_cast<std::size_t>(core)];
    if (c.busy || c.dispatch_pending) return;
    c.dispatch_pending = true;
    schedule(now, Kind::Dispatch, core);
}

// schedule_dispatch, where the dispatch event would be the next event taken: nothing else is due at `now`, so
// nothing can happen before it, and the core starts at once (a push and a pop of the queue fewer; the order of
// everything else, sequence numbers relative to each other included, stays as it was).
void TimedEngine::dispatch(int32_t core, int64_t now, Xoshiro256& rng) {
    const Core& c = cores_[static_cast<std::size_t>(core)];
    if (c.busy || c.dispatch_pending) return;
    if (queue_.next_time() > now) {
        start_task(core, now, rng);
    } else {
        schedule_dispatch(core, now);
    }
}

TimedEngine::Message TimedEngine::take_next(Core& core, Xoshiro256& rng) {
    auto& w = core.waiting;
    Message m{};
    switch (config_->schedule) {
        case Schedule::Momentum: {
            std::pop_heap(w.begin(), w.end(), momentum_below);
            m = w.back();
            w.pop_back();
            break;
        }
        case Schedule::Random: {
            const auto k = static_cast<std::size_t>(rng.below(static_cast<uint64_t>(w.size())));
            m = w[k];
            w[k] = w.back();
            w.pop_back();
            break;
        }
        default: {  // fifo: by arrival (time, seq), which is the order messages joined the queue
            m = w[core.head++];
            if (core.head == w.size()) {
                w.clear();
                core.head = 0;
            } else if (core.head > 64 && core.head * 2 > w.size()) {
                w.erase(w.begin(), w.begin() + static_cast<std::ptrdiff_t>(core.head));
                core.head = 0;
            }
            break;
        }
    }
    return m;
}

void TimedEngine::count_delivery() {
    if (++out_->totals[kDeliveries] > max_deliveries_) {
        throw ConfigError("the timed run needed more than " + std::to_string(max_deliveries_) +
                          " message deliveries (runaway activity?); raise max_steps_per_bin if this is intended");
    }
}

void TimedEngine::start_task(int32_t core, int64_t now, Xoshiro256& rng) {
    Core& c = cores_[static_cast<std::size_t>(core)];
    const LatencyTable& lat = model_.latency();
    int64_t cost = 0;
    if (c.updates_due > 0) {
        // The per-bin update: every neuron of the core leaks (an inactive update each), and the neurons with
        // a bias or a potential above threshold are checked (an active update each), as in step 0 of a bin.
        ++check_stamp_;
        c.candidates.clear();
        for (const auto* list : {&biased_of_core_[static_cast<std::size_t>(core)],
                                 &above_of_core_[static_cast<std::size_t>(core)]}) {
            for (const int32_t neuron : *list) {
                if (checked_stamp_[static_cast<std::size_t>(neuron)] == check_stamp_) continue;
                checked_stamp_[static_cast<std::size_t>(neuron)] = check_stamp_;
                c.candidates.push_back(neuron);
            }
        }
        std::sort(c.candidates.begin(), c.candidates.end());
        const int64_t local = model_.core_first(core + 1) - model_.core_first(core);
        const int64_t inactive = c.updates_due * local;
        out_->totals[kInactiveUpdates] += inactive;
        cost = inactive * lat.neuron_inactive + static_cast<int64_t>(c.candidates.size()) * lat.neuron_active;
        c.task_kind = TaskKind::Update;
        c.task_arrival = c.update_release;
        c.updates_due = 0;
    } else if (c.inputs_ready > 0) {
        // A prioritised input task, before any waiting spike message: a synop per delivered event x synapse
        // and one active update per distinct touched neuron.
        const InputTask& task = c.input_tasks[c.input_head];
        ++check_stamp_;
        c.task_synops = 0;
        c.task_touched = 0;
        // Neurons [marked_first, marked_last) are all marked: a contiguous row (a dense layer) within them
        // touches nothing new, and the task's first one marks its whole run at once.
        int32_t marked_first = 0;
        int32_t marked_last = 0;
        for (std::size_t k = task.begin; k < task.end; ++k) {
            const Message& m = c.input_messages[k];
            const Route& r = model_.route(m.route);
            c.task_synops += synop_events(m);
            const FanOut row = row_of(m);
            const auto first = static_cast<int32_t>(row.first + r.begin);
            const auto last = static_cast<int32_t>(row.first + r.end);
            if (row.contiguous() && first >= marked_first && last <= marked_last) continue;
            if (row.contiguous() && c.task_touched == 0) {
                std::fill(checked_stamp_.begin() + first, checked_stamp_.begin() + last, check_stamp_);
                c.task_touched = last - first;
            } else {
                for (int64_t s = r.begin; s < r.end; ++s) {
                    const auto t = static_cast<std::size_t>(row.targets[s]);
                    if (checked_stamp_[t] == check_stamp_) continue;
                    checked_stamp_[t] = check_stamp_;
                    ++c.task_touched;
                }
            }
            if (row.contiguous() && last - first > marked_last - marked_first) {
                marked_first = first;
                marked_last = last;
            }
        }
        cost = c.task_synops * lat.synop + c.task_touched * lat.neuron_active;
        c.task_kind = TaskKind::Input;
        c.task_arrival = task.release;
        --c.inputs_ready;
        count_delivery();
    } else if (c.head < c.waiting.size()) {
        c.task = take_next(c, rng);
        const Route& r = model_.route(c.task.route);
        cost = synop_events(c.task) * lat.synop + r.touched * lat.neuron_active;
        c.task_kind = TaskKind::Message;
        c.task_arrival = c.task.arrival;
        count_delivery();
    } else {
        return;
    }
    c.busy = true;
    c.task_start = now;
    schedule(now + cost, Kind::Done, core);
}

void TimedEngine::finish_task(int32_t core, int64_t now) {
    Core& c = cores_[static_cast<std::size_t>(core)];
    c.busy = false;
    out_->core_busy[core] += now - c.task_start;
    if (out_->trace) {
        const int64_t source = c.task_kind == TaskKind::Update  ? -1
                               : c.task_kind == TaskKind::Input ? -3
                                                                : int64_t{c.task.entry};
        out_->trace->push_back({core, source, c.task_arrival, c.task_start, now});
    }
    const int32_t bin = bin_of(now);
    const SampleCounters& counters = out_->bins;
    spikes_.clear();
    auto check_received = [&]() {
        // Where a dense row reached a run of neurons and nothing else (received_ is that run, ascending), in
        // vector passes; spikes come out in the same order either way.
        if (!config_->continuous_leak && !received_.empty() &&
            static_cast<std::size_t>(stamped_last_ - stamped_first_) == received_.size()) {
            check_run(stamped_first_, stamped_last_, bin, now);
            return;
        }
        for (const int32_t neuron : received_) {
            const auto i = static_cast<std::size_t>(neuron);
            if (refractory_bin_[i] == bin) continue;  // the current is discarded
            catch_up(neuron, bin, now);
            const int64_t k = fire(neuron, v_[i] + current_[i], bin, true);
            if (k > 0) add_spike(neuron, k, now);
        }
    };
    if (c.task_kind == TaskKind::Update) {
        counters.neuron_updates[bin] += static_cast<int64_t>(c.candidates.size());
        for (const int32_t neuron : c.candidates) {
            if (refractory_bin_[static_cast<std::size_t>(neuron)] == bin) continue;
            catch_up(neuron, bin, now);
            const int64_t k = fire(neuron, v_[static_cast<std::size_t>(neuron)], bin, true);
            if (k > 0) add_spike(neuron, k, now);
        }
    } else if (c.task_kind == TaskKind::Input) {
        // Step 0 of docs/semantics.md for this core's neurons: every current summed in ascending channel
        // order (the task's messages are in that order), then one check per touched neuron.
        const InputTask task = c.input_tasks[c.input_head++];
        counters.synops[bin] += c.task_synops;
        counters.neuron_updates[bin] += c.task_touched;
        counters.forward_steps[bin] += 1;
        ++receive_stamp_;
        clear_received();
        deliver_all(c.input_messages.data() + task.begin, task.end - task.begin);
        std::sort(received_.begin(), received_.end());
        check_received();
        if (c.input_head == c.input_tasks.size()) {
            c.input_tasks.clear();
            c.input_messages.clear();
            c.input_head = 0;
        }
    } else {
        const Message& m = c.task;
        const Route& r = model_.route(m.route);
        counters.synops[bin] += synop_events(m);
        counters.neuron_updates[bin] += r.touched;
        counters.forward_steps[bin] += 1;
        ++receive_stamp_;
        clear_received();
        deliver(m);
        check_received();  // ascending: the row is sorted by target
    }
    refresh_above(core);
    if (!spikes_.empty()) {
        const int64_t so_far = counters.forward_steps[bin];
        record(bin, c.task_kind == TaskKind::Update ? so_far : so_far - 1, so_far);
        const int32_t n_inputs = net_.n_inputs();
        const LatencyTable& lat = model_.latency();
        for (const Spike& s : spikes_) {
            const int64_t entry = int64_t{n_inputs} + s.neuron;
            const TileCoord& from = model_.source_tile(entry);
            for (const Route* r = model_.routes_begin(entry); r != model_.routes_end(entry); ++r) {
                const int64_t arrival = now + lat.spike_out + count_route(from, *r, false, s.count);
                uint64_t seq;
                schedule(arrival, Kind::Arrival, r->core, &seq)
                    .message.set(arrival, seq, model_.route_index(r), static_cast<int32_t>(entry),
                                 static_cast<double>(s.count), pre_spike_[static_cast<std::size_t>(s.neuron)]);
            }
        }
    }
}

// Sends input event k, or with prioritised input every event of its time (k is the first of them): each
// event still travels as one message per destination core (the traffic is counted per event), but a core
// receives the events of one time as one input task, released when they have arrived (the latency from the
// input port to a core is the same for every channel).
void TimedEngine::send_input(const std::vector<InputEvent>& inputs, std::size_t k, int64_t now) {
    std::size_t next = k + 1;
    if (!config_->prioritize_input) {
        const InputEvent& e = inputs[k];
        const TileCoord& from = model_.source_tile(e.channel);
        for (const Route* r = model_.routes_begin(e.channel); r != model_.routes_end(e.channel); ++r) {
            const int64_t arrival = e.time + count_route(from, *r, true, 1);
            uint64_t seq;
            schedule(arrival, Kind::Arrival, r->core, &seq)
                .message.set(arrival, seq, model_.route_index(r), e.channel, e.multiplicity, HUGE_VAL);
        }
    } else {
        const auto group = static_cast<int64_t>(k);
        input_cores_.clear();
        for (next = k; next < inputs.size() && inputs[next].time == now; ++next) {
            const InputEvent& e = inputs[next];
            const TileCoord& from = model_.source_tile(e.channel);
            for (const Route* r = model_.routes_begin(e.channel); r != model_.routes_end(e.channel); ++r) {
                const int64_t arrival = e.time + count_route(from, *r, true, 1);
                Core& c = cores_[static_cast<std::size_t>(r->core)];
                if (c.input_tasks.size() == c.input_head || c.input_tasks.back().group != group) {
                    c.input_tasks.push_back({arrival, group, c.input_messages.size(), c.input_messages.size()});
                    input_cores_.push_back(r->core);
                }
                InputTask& task = c.input_tasks.back();
                c.input_messages.emplace_back().set(arrival, 0, model_.route_index(r), e.channel, e.multiplicity,
                                                    HUGE_VAL);
                task.end = c.input_messages.size();
                task.release = std::max(task.release, arrival);
            }
        }
        for (const int32_t core : input_cores_) {
            schedule(cores_[static_cast<std::size_t>(core)].input_tasks.back().release, Kind::InputReady, core);
        }
    }
    if (next < inputs.size()) {
        schedule(inputs[next].time, Kind::Input, static_cast<int32_t>(next));
    }
}

void TimedEngine::run_async(const std::vector<InputEvent>& inputs, Xoshiro256& rng, Interrupt* interrupt) {
    const int64_t dt = model_.dt();
    // Bin starts and input events are released one after another (each schedules the next), which keeps the
    // queue small. A bin start is scheduled a bin ahead, so a core's per-bin update runs before the
    // messages that arrive at the same time.
    schedule(0, Kind::BinStart, 0);
    if (!inputs.empty()) schedule(inputs[0].time, Kind::Input, 0);
    const bool momentum = config_->schedule == Schedule::Momentum;
    uint64_t processed = 0;
    while (!queue_.empty()) {
        if ((++processed & 4095) == 0 && interrupt && interrupt->requested()) throw Cancelled();
        const auto event = queue_.pop();
        const int64_t now = event.time;
        const Kind kind = event.payload->kind;
        const int32_t core = event.payload->core;  // (BinStart: the bin; Input: the input event's index)
        last_time_ = std::max(last_time_, now);
        switch (kind) {
            case Kind::BinStart:
                if (core + 1 < bins_) schedule(now + dt, Kind::BinStart, core + 1);
                for (int32_t k = 0; k < model_.n_cores(); ++k) {
                    Core& c = cores_[static_cast<std::size_t>(k)];
                    if (c.updates_due++ == 0) c.update_release = now;
                    schedule_dispatch(k, now);
                }
                break;
            case Kind::Input:
                send_input(inputs, static_cast<std::size_t>(core), now);
                break;
            case Kind::InputReady: {
                ++cores_[static_cast<std::size_t>(core)].inputs_ready;
                dispatch(core, now, rng);
                break;
            }
            case Kind::Arrival: {
                // (the payload, read before anything is scheduled: a push may move it)
                Core& c = cores_[static_cast<std::size_t>(core)];
                c.waiting.push_back(event.payload->message);  // its seq is the event's own (send_input, finish_task)
                if (momentum) {
                    std::push_heap(c.waiting.begin(), c.waiting.end(), momentum_below);
                }
                dispatch(core, now, rng);
                break;
            }
            case Kind::Dispatch: {
                Core& c = cores_[static_cast<std::size_t>(core)];
                c.dispatch_pending = false;
                if (!c.busy) start_task(core, now, rng);
                break;
            }
            case Kind::Done:
                finish_task(core, now);
                // The next task is chosen after the messages arriving at this same time that were scheduled
                // earlier have joined the core's queue (the (time, seq) order decides; dispatch() starts at
                // once only where none are due).
                dispatch(core, now, rng);
                break;
        }
    }
}

// -- schedule "sync": layer phases behind barriers -------------------------------------------------------

void TimedEngine::run_sync(const std::vector<InputEvent>& inputs, Interrupt* interrupt) {
    const int64_t dt = model_.dt();
    const LatencyTable& lat = model_.latency();
    const int32_t n_inputs = net_.n_inputs();
    const int32_t n_pop = net_.n_populations();
    const SampleCounters& counters = out_->bins;
    std::vector<int64_t> free_at(cores_.size(), 0);
    std::size_t cursor = 0;
    std::vector<Message> sent;
    int64_t next_start = 0;  // the earliest start of the next bin's first phase (after the last barrier)
    auto by_entry = [](const Message& a, const Message& b) {
        return a.entry < b.entry || (a.entry == b.entry && a.seq < b.seq);
    };
    for (int32_t bin = 0; bin < bins_; ++bin) {
        if (interrupt && interrupt->requested()) throw Cancelled();
        const int64_t t0 = bin * dt;
        // Per-bin update of every core: the leak of its neurons.
        for (int32_t core = 0; core < model_.n_cores(); ++core) {
            const auto c = static_cast<std::size_t>(core);
            const int64_t local = model_.core_first(core + 1) - model_.core_first(core);
            const int64_t start = std::max(t0, free_at[c]);
            const int64_t cost = local * lat.neuron_inactive;
            free_at[c] = start + cost;
            out_->core_busy[core] += cost;
            out_->totals[kInactiveUpdates] += local;
            if (out_->trace) out_->trace->push_back({core, -1, t0, start, start + cost});
        }
        // The bin's input events (all remaining ones in the last bin).
        int64_t phase_start = std::max(t0, next_start);
        for (; cursor < inputs.size() && (inputs[cursor].time < t0 + dt || bin == bins_ - 1); ++cursor) {
            const InputEvent& e = inputs[cursor];
            const TileCoord& from = model_.source_tile(e.channel);
            for (const Route* r = model_.routes_begin(e.channel); r != model_.routes_end(e.channel); ++r) {
                const int64_t arrival = e.time + count_route(from, *r, true, 1);
                cores_[static_cast<std::size_t>(r->core)].waiting.emplace_back().set(
                    arrival, message_seq_++, model_.route_index(r), e.channel, e.multiplicity, 0.0);
                phase_start = std::max(phase_start, arrival);
            }
        }
        for (int32_t p = 0; p < n_pop; ++p) {
            int64_t phase_end = phase_start;
            spikes_.clear();
            ++receive_stamp_;
            for (const int32_t core : cores_of_population_[static_cast<std::size_t>(p)]) {
                const auto c = static_cast<std::size_t>(core);
                Core& state = cores_[c];
                const int64_t start = std::max(phase_start, free_at[c]);
                // Deliver every held message in ascending source index: the step model's summation order.
                // (Mostly in order already: a dense layer's spikes go out in ascending neuron order.)
                if (!std::is_sorted(state.waiting.begin(), state.waiting.end(), by_entry)) {
                    std::sort(state.waiting.begin(), state.waiting.end(), by_entry);
                }
                clear_received();
                int64_t synops = 0;
                int64_t synapses = 0;
                int64_t latest_arrival = phase_start;
                for (const Message& m : state.waiting) {
                    synops += synop_events(m);
                    const Route& r = model_.route(m.route);
                    synapses += r.end - r.begin;
                    latest_arrival = std::max(latest_arrival, m.arrival);
                }
                const int32_t core_first = model_.core_first(core);
                const int32_t core_last = model_.core_first(core + 1);
                // Where at least one synapse per kVectorCheckRatio neurons arrives, the whole core is checked
                // in vector passes; else the neurons that received, one by one.
                const bool vector_check = !config_->continuous_leak &&
                                          synapses * kVectorCheckRatio >= core_last - core_first;
                if (vector_check) {
                    deliver_marked(state.waiting.data(), state.waiting.size(), core_first, core_last);
                } else {
                    deliver_all(state.waiting.data(), state.waiting.size());
                }
                out_->totals[kDeliveries] += static_cast<int64_t>(state.waiting.size());
                state.waiting.clear();
                // Check as the step model's sync phase does: received, biased or above-threshold neurons.
                ++check_stamp_;
                int64_t updates = 0;
                const std::size_t first_spike = spikes_.size();
                auto check = [&](int32_t neuron) {
                    const auto i = static_cast<std::size_t>(neuron);
                    if (checked_stamp_[i] == check_stamp_) return;
                    checked_stamp_[i] = check_stamp_;
                    if (refractory_bin_[i] == bin) return;
                    catch_up(neuron, bin, start);
                    const bool received = received_stamp_[i] == receive_stamp_;
                    if (!received && net_.params().bias[i] == 0.0 && !(v_[i] > net_.params().threshold[i])) return;
                    ++updates;
                    const int64_t k = fire(neuron, received ? v_[i] + current_[i] : v_[i], bin, false);
                    if (k > 0) add_spike(neuron, k, 0);
                };
                if (vector_check) {
                    updates = check_marked(core_first, core_last, bin);
                } else {
                    for (const int32_t neuron : received_) check(neuron);
                    for (const int32_t neuron : biased_of_core_[c]) check(neuron);
                    // By index: a check may append to the list (the appended neuron is already checked).
                    for (std::size_t a = 0; a < above_of_core_[c].size(); ++a) check(above_of_core_[c][a]);
                }
                refresh_above(core);
                const int64_t end = start + synops * lat.synop + updates * lat.neuron_active;
                free_at[c] = end;
                out_->core_busy[core] += end - start;
                counters.synops[bin] += synops;
                counters.neuron_updates[bin] += updates;
                if (out_->trace) out_->trace->push_back({core, -2, latest_arrival, start, end});
                phase_end = std::max(phase_end, end);
                for (std::size_t s = first_spike; s < spikes_.size(); ++s) {
                    Spike& spike = spikes_[s];
                    spike.time = end;
                    const int64_t entry = int64_t{n_inputs} + spike.neuron;
                    const TileCoord& from = model_.source_tile(entry);
                    for (const Route* r = model_.routes_begin(entry); r != model_.routes_end(entry); ++r) {
                        const int64_t arrival = end + lat.spike_out + count_route(from, *r, false, 1);
                        // One sent to a core of this population (a recurrent edge) must wait for the next
                        // bin's phase, as in the step model: it joins that core's queue after this phase.
                        auto& joins = model_.core_population(r->core) == p
                                          ? sent
                                          : cores_[static_cast<std::size_t>(r->core)].waiting;
                        joins.emplace_back().set(arrival, message_seq_++, model_.route_index(r),
                                                 static_cast<int32_t>(entry), 1.0, 0.0);
                        phase_end = std::max(phase_end, arrival);
                    }
                }
            }
            for (const Message& m : sent) cores_[static_cast<std::size_t>(model_.route(m.route).core)].waiting.push_back(m);
            sent.clear();
            std::sort(spikes_.begin(), spikes_.end(),
                      [](const Spike& a, const Spike& b) { return a.neuron < b.neuron; });
            record(bin, p, p + 1);
            ++out_->totals[kBarriers];
            phase_start = phase_end + lat.barrier;
        }
        counters.forward_steps[bin] = n_pop;
        next_start = phase_start;
        last_time_ = std::max(last_time_, phase_start);
    }
}

// Brings neurons [first, last) up to `bin` (bin leak mode) as catch_up would: one kernels::leak_range pass per
// bin of lag, or catch_up one by one where some neuron owes more than kMaxVectorLag bins.
void TimedEngine::leak_run(int32_t first, int32_t last, int32_t bin) {
    const int64_t n = last - first;
    const int32_t oldest = kernels_.min_i32(leaked_to_.data() + first, n);
    constexpr int32_t kMaxVectorLag = 8;  // beyond it, a pass per bin of lag costs more than one catch_up each
    if (bin - oldest > kMaxVectorLag) {
        for (int32_t neuron = first; neuron < last; ++neuron) catch_up(neuron, bin, 0);
    } else if (oldest < bin) {
        const NeuronParameters& params = net_.params();
        kernels_.leak_range(v_.data() + first, leaked_to_.data() + first, params.beta.data() + first,
                            params.bias.data() + first, bin, bin - oldest, n);
    }
}

// The check after a delivery (asynchronous schedules) where the neurons [first, last) received and no others:
// the leak they owe, then kernels::check_range (u = v + current, v = u, a spike where u > threshold, the
// refractory ones skipped), then the spikes of those that crossed (repeated, without refractoriness).
void TimedEngine::check_run(int32_t first, int32_t last, int32_t bin, int64_t now) {
    const int64_t n = last - first;
    leak_run(first, last, bin);
    int64_t n_fired = 0;
    kernels_.check_range(current_.data() + first, v_.data() + first, net_.params().threshold.data() + first,
                         refractory_bin_.data() + first, bin, n, fired_positions(n), &n_fired);
    spike_listed(first, n_fired, bin, true, now);
}

// Room for the positions a vector check of n neurons writes.
int32_t* TimedEngine::fired_positions(int64_t n) {
    if (fired_.size() < static_cast<std::size_t>(n)) fired_.resize(static_cast<std::size_t>(n));
    return fired_.data();
}

// Applies the spikes of the neurons first + fired_[j], j < n_fired, that a vector check listed (it left their
// u in v_): the spike (pre-spike potential, reset, refractoriness; repeated firing where `repeat`), into spikes_.
void TimedEngine::spike_listed(int32_t first, int64_t n_fired, int32_t bin, bool repeat, int64_t time) {
    for (int64_t j = 0; j < n_fired; ++j) {
        const int32_t neuron = first + fired_[static_cast<std::size_t>(j)];
        const int64_t k = spike(neuron, v_[static_cast<std::size_t>(neuron)], bin, repeat);
        add_spike(neuron, k, time);
    }
}

// The sync check of a core's neurons [first, last) after deliver_marked, in vector passes: the leak each owes
// (leak_run), then kernels::check_masked, which checks every neuron as the scalar check would (a received one
// integrates its current; one that did not is updated only where it has a bias or stays above threshold),
// then the spikes of those that crossed. Returns the number of updates.
int64_t TimedEngine::check_marked(int32_t first, int32_t last, int32_t bin) {
    const int64_t n = last - first;
    uint8_t* received = received_bytes_.data() + first;
    double* current = current_.data() + first;
    leak_run(first, last, bin);
    const NeuronParameters& params = net_.params();
    int64_t n_fired = 0;
    const int64_t updates = kernels_.check_masked(current, v_.data() + first, params.threshold.data() + first,
                                                  params.bias.data() + first, true, refractory_bin_.data() + first,
                                                  bin, n, received, fired_positions(n), &n_fired);
    spike_listed(first, n_fired, bin, false, 0);
    return updates;
}

// -- batches ----------------------------------------------------------------------------------------------

std::unique_ptr<TimedEngine> TimedEnginePool::take(const Network& network, const HardwareModel& model) {
    {
        const std::lock_guard<std::mutex> lock(mutex_);
        while (!idle_.empty()) {
            std::unique_ptr<TimedEngine> engine = std::move(idle_.back());
            idle_.pop_back();
            // (one made before its network or model was moved refers to the old object: it is dropped)
            if (&engine->network() == &network && &engine->model() == &model) return engine;
        }
    }
    return std::make_unique<TimedEngine>(network, model);
}

void TimedEnginePool::give_back(std::unique_ptr<TimedEngine> engine) {
    const std::lock_guard<std::mutex> lock(mutex_);
    if (engine && idle_.size() < kMostIdle) idle_.push_back(std::move(engine));
}

void run_timed_batch(const Network& network, const HardwareModel& model, const TimedConfig& config,
                     const TimedBatchInput& input, uint64_t first_index, const TimedBatchCounters& out,
                     int32_t threads, const std::function<bool()>& poll) {
    if (threads < 1) throw ConfigError("threads must be >= 1");
    if (input.samples <= 0) return;
    if (!model.fits(network)) throw ConfigError("the hardware mapping was built for another network");
    const int64_t n_in = network.n_inputs();
    const bool frames = input.frames.data != nullptr;  // (each worker checks the values of its own samples)
    if (!frames) {
        if (input.event_ptr[0] < 0) throw ConfigError("event_ptr must start at 0 or above");
        for (int64_t b = 0; b < input.samples; ++b) {
            if (input.event_ptr[b] > input.event_ptr[b + 1]) throw ConfigError("event_ptr must be non-decreasing");
        }
    }
    const int64_t n_cores = model.n_cores();
    const int64_t n_out = network.n_outputs();
    // Timestamped events are individual messages by nature: prioritised input applies to frames only.
    TimedConfig run_config = config;
    if (!frames) run_config.prioritize_input = false;
    const kernels::Table& kernels = kernels::table();
    auto make_worker = [&]() -> SampleWorker {
        TimedEnginePool& pool = model.engine_pool();
        const std::shared_ptr<TimedEngine> engine(pool.take(network, model).release(), [&pool](TimedEngine* e) {
            pool.give_back(std::unique_ptr<TimedEngine>(e));
        });
        auto events = std::make_shared<std::vector<InputEvent>>();
        // one bin's non-zero channels and counts
        auto channels = std::make_shared<std::vector<int32_t>>(static_cast<std::size_t>(frames ? n_in : 0));
        auto values = std::make_shared<std::vector<double>>(static_cast<std::size_t>(frames ? n_in : 0));
        return [&, engine, events, channels, values](int64_t b, Interrupt* interrupt) {
            events->clear();
            if (frames) {
                const Frames sample = input.frames.advanced(b * input.bins * n_in);
                for (int64_t t = 0; t < input.bins; ++t) {
                    const int64_t nonzero =
                        scan_frame(kernels, sample.advanced(t * n_in), n_in, t, channels->data(), values->data());
                    for (int64_t e = 0; e < nonzero; ++e) {
                        // (set in place: an event built on the stack and copied stalls store forwarding)
                        InputEvent& event = events->emplace_back();
                        event.time = t * model.dt();
                        event.channel = (*channels)[static_cast<std::size_t>(e)];
                        event.multiplicity = (*values)[static_cast<std::size_t>(e)];
                    }
                }
            } else {
                for (int64_t k = input.event_ptr[b]; k < input.event_ptr[b + 1]; ++k) {
                    InputEvent& event = events->emplace_back();
                    event.time = input.event_times[k];
                    event.channel = input.event_channels[k];
                    event.multiplicity = 1.0;
                }
                std::stable_sort(events->begin(), events->end(), [](const InputEvent& a, const InputEvent& e) {
                    return a.time < e.time || (a.time == e.time && a.channel < e.channel);
                });
            }
            TimedSampleCounters s;
            s.bins = out.bins.sample(b, input.bins, network.n_neurons(), network.n_populations(), n_out);
            s.core_busy = out.core_busy + b * n_cores;
            s.first_output = out.first_output + b * n_out;
            s.totals = out.totals + b * kTimedTotals;
            s.trace = out.trace ? &(*out.trace)[static_cast<std::size_t>(b)] : nullptr;
            engine->run(run_config, *events, input.bins, first_index + static_cast<uint64_t>(b), s, interrupt);
        };
    };
    run_parallel(input.samples, threads, make_worker, poll);
}

}  // namespace neuroemu
