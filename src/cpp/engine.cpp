#include "neuroemu/engine.hpp"

#include <algorithm>
#include <cstring>
#include <cmath>
#include <limits>
#include <string>

#include "frame_scan.hpp"
#include "neuroemu/counting.hpp"
#include "neuroemu/errors.hpp"
#include "kernels.hpp"
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
    Interrupt* interrupt;
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

std::unique_ptr<Engine> EnginePool::take(const Network& network) {
    {
        const std::lock_guard<std::mutex> lock(mutex_);
        while (!idle_.empty()) {
            std::unique_ptr<Engine> engine = std::move(idle_.back());
            idle_.pop_back();
            // (an engine made before its network was moved refers to the old object: it is dropped)
            if (&engine->network() == &network) return engine;
        }
    }
    return std::make_unique<Engine>(network);
}

void EnginePool::give_back(std::unique_ptr<Engine> engine) {
    const std::lock_guard<std::mutex> lock(mutex_);
    if (engine && idle_.size() < kMostIdle) idle_.push_back(std::move(engine));
}

Engine::Engine(const Network& network) : net_(network), kernels_(kernels::table()) {
    const auto n = static_cast<size_t>(net_.n_neurons());
    v_.assign(n, 0.0);
    current_.assign(n, 0.0);
    pre_spike_.resize(n);
    leaked_to_.assign(n, -1);
    refractory_bin_.assign(n, -1);
    received_.resize(n);
    received_bytes_.assign(n, 0);
    marked_span_.assign(static_cast<size_t>(net_.n_populations()), {INT32_MAX, INT32_MIN});
    checked_.resize(n);
    in_above_.assign(n, 0);
    prefetch_rows_ = net_.fanout_bytes() > kCoreCacheBytes;
    prefetch_current_ = int64_t{net_.n_neurons()} * int64_t{sizeof(double)} > kCoreCacheBytes;
    // What update() reads and writes of a neuron: current_, v_, threshold, beta, bias (double), leaked_to_ and
    // refractory_bin_.
    constexpr int64_t kUpdatedBytesPerNeuron = 5 * sizeof(double) + 2 * sizeof(int32_t);
    prefetch_state_ = int64_t{net_.n_neurons()} * kUpdatedBytesPerNeuron > kCoreCacheBytes;
}

void Engine::reset_sample() {
    if (reset_everything_) {
        std::fill(v_.begin(), v_.end(), 0.0);
        std::fill(current_.begin(), current_.end(), 0.0);  // a run that threw may have left current behind
        std::fill(leaked_to_.begin(), leaked_to_.end(), -1);
        std::fill(refractory_bin_.begin(), refractory_bin_.end(), -1);
        std::fill(in_above_.begin(), in_above_.end(), uint8_t{0});
        queue_ = PendingQueue();
        received_.resize(v_.size());
        std::fill(received_bytes_.begin(), received_bytes_.end(), uint8_t{0});
        std::fill(marked_span_.begin(), marked_span_.end(), std::pair<int32_t, int32_t>{INT32_MAX, INT32_MIN});
        mark_bytes_ = false;
        checked_.resize(v_.size());
        reset_everything_ = false;
    } else {
        // Every change to a neuron's state starts with its first catch_up of the sample (leaked_to_ -1),
        // which lists it in touched_; current_ is back to zero after every step that completed.
        for (const int32_t neuron : touched_) {
            const auto i = static_cast<size_t>(neuron);
            v_[i] = 0.0;
            leaked_to_[i] = -1;
            refractory_bin_[i] = -1;
            in_above_[i] = 0;
        }
    }
    touched_.clear();
    above_.clear();
    previous_bin_spikes_.clear();
}

void Engine::compact_input(Frames frames, int64_t bins, Interrupt* interrupt) {
    const int32_t n_in = net_.n_inputs();
    input_offsets_.assign(static_cast<size_t>(bins) + 1, 0);
    const bool dense_input = net_.input_fanout().dense_width() > 0;
    if (dense_input) input_events_.resize(static_cast<size_t>(bins));
    int64_t count = 0;
    for (int64_t t = 0; t < bins; ++t) {
        if ((t & 1023) == 1023 && interrupt && interrupt->requested()) throw Cancelled();  // a very long sample
        if (input_channels_.size() < static_cast<size_t>(count + n_in)) {
            input_channels_.resize(static_cast<size_t>(count + n_in));
            input_values_.resize(static_cast<size_t>(count + n_in));
        }
        int32_t* channels = input_channels_.data() + count;
        double* values = input_values_.data() + count;
        const int64_t nonzero = scan_frame(kernels_, frames.advanced(t * n_in), n_in, t, channels, values);
        if (dense_input) {  // deliver_frame's fast path counts a bin's events at once; the others count per row
            int64_t events = 0;
            if (frames.type == InputType::UInt8) {
                // whole counts below 256, exact as integers: a sum of doubles would wait 4 cycles per addition
                for (int64_t e = 0; e < nonzero; ++e) events += static_cast<int64_t>(values[e]);
            } else {
                for (int64_t e = 0; e < nonzero; ++e) events += input_events(values[e]);
            }
            input_events_[static_cast<size_t>(t)] = events;
        }
        count += nonzero;
        input_offsets_[static_cast<size_t>(t) + 1] = count;
    }
}

inline void Engine::catch_up(int32_t neuron, int32_t bin) {
    const auto i = static_cast<size_t>(neuron);
    int32_t done = leaked_to_[i];
    if (done < 0) touched_.push_back(neuron);
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
    received_.clear();
    received_ranges_.clear();
}

namespace {

// Marks the targets of a layer-synchronous delivery, one byte per neuron: a plain store, cheaper than listing
// them, since each population scans its marks once per bin anyway (within the span rows reached).
struct MarkBytes {
    uint8_t* received;
    void add(int32_t neuron) const { received[static_cast<size_t>(neuron)] = 1; }
};

// Adds a scattered row's current and marks the targets reached (MarkBytes, or a NeuronSet cursor that lists
// them for an asynchronous step).
template <bool kPrefetch, typename Weight, typename Reached>
void deliver_scattered(const int32_t* targets, const Weight* weights, int64_t size, double multiplicity,
                       double* current, Reached& reached) {
    int64_t s = 0;
    if constexpr (kPrefetch) {
        // The targets are random: fetch the current of a target a few synapses ahead so that the misses overlap.
        constexpr int64_t kAhead = 8;
        for (; s + kAhead < size; ++s) {
            __builtin_prefetch(current + targets[s + kAhead], 1);
            current[static_cast<size_t>(targets[s])] += multiplicity * static_cast<double>(weights[s]);
            reached.add(targets[s]);
        }
    }
    for (; s < size; ++s) {
        current[static_cast<size_t>(targets[s])] += multiplicity * static_cast<double>(weights[s]);
        reached.add(targets[s]);
    }
}

template <bool kPrefetch, typename Reached>
void deliver_scattered_row(const FanOut& fanout, double multiplicity, double* current, Reached& reached) {
    if (fanout.weights32) {
        deliver_scattered<kPrefetch>(fanout.targets, fanout.weights32, fanout.size, multiplicity, current, reached);
    } else {
        deliver_scattered<kPrefetch>(fanout.targets, fanout.weights, fanout.size, multiplicity, current, reached);
    }
}

template <typename Reached>
void deliver_scattered_row(const FanOut& fanout, double multiplicity, double* current, Reached& reached,
                           bool prefetch) {
    if (prefetch) {
        deliver_scattered_row<true>(fanout, multiplicity, current, reached);
    } else {
        deliver_scattered_row<false>(fanout, multiplicity, current, reached);
    }
}

}  // namespace

inline void Engine::note_received_range(const FanOut& fanout) {
    const std::pair<int32_t, int32_t> range{fanout.first, static_cast<int32_t>(fanout.first + fanout.size)};
    if (received_ranges_.empty() || received_ranges_.back() != range) received_ranges_.push_back(range);
}

namespace {

// Contiguous rows (dense layers) are read in order, which the hardware prefetcher follows by itself.
void prefetch_scattered(const FanOut& row) {
    if (!row.contiguous()) row.prefetch_synapses(0, row.size);
}

}  // namespace

// Delivers rows 0..count-1 in order; row_at(i) gives {fan-out row, multiplicity, events per synapse}, and
// prefetch_index(i) starts loading where row i's table keeps its start. A run of consecutive dense float rows
// onto the same targets (an input frame into a dense layer, a layer's spikes into the next) goes through one
// tiled kernel call, which sums each target in the same order.
template <typename RowAt, typename PrefetchIndex>
void Engine::deliver_rows(int64_t count, BinContext& ctx, RowAt row_at, PrefetchIndex prefetch_index) {
    // Two stages, since each needs the last: a row's start in its table, then (once that has arrived) its
    // synapses. Rows are found at random in large networks, so both would otherwise miss.
    constexpr int64_t kIndexAhead = 8;
    constexpr int64_t kRowsAhead = 3;
    const bool prefetch = prefetch_rows_;
    if (prefetch) {
        for (int64_t i = 0; i < std::min(count, kIndexAhead); ++i) prefetch_index(i);
        for (int64_t i = 0; i < std::min(count, kRowsAhead); ++i) prefetch_scattered(row_at(i).row);
    }
    for (int64_t i = 0; i < count;) {
        if (prefetch) {
            if (i + kIndexAhead < count) prefetch_index(i + kIndexAhead);
            if (i + kRowsAhead < count) prefetch_scattered(row_at(i + kRowsAhead).row);
        }
        const RowDelivery first = row_at(i);
        const FanOut& row = first.row;
        ctx.synops += first.events * row.size;
        int64_t j = i + 1;
        if (row.contiguous() && row.size > 0 && row.weights32 != nullptr) {
            batch_rows_.assign(1, row.weights32);
            batch_multiplicities_.assign(1, first.multiplicity);
            for (; j < count; ++j) {
                const RowDelivery next = row_at(j);
                if (next.row.first != row.first || next.row.size != row.size || next.row.weights32 == nullptr) break;
                batch_rows_.push_back(next.row.weights32);
                batch_multiplicities_.push_back(next.multiplicity);
                ctx.synops += next.events * next.row.size;
            }
            if (batch_rows_.size() > 1) {
                kernels_.add_rows_f32(current_.data() + row.first, batch_rows_.data(), batch_multiplicities_.data(),
                                      static_cast<int64_t>(batch_rows_.size()), row.size);
                note_received_range(row);
                i = j;
                continue;
            }
        }
        deliver(row, first.multiplicity);
        i = j;
    }
}

void Engine::deliver(const FanOut& fanout, double multiplicity) {
    if (fanout.size == 0) return;
    if (fanout.contiguous()) {
        // A dense row: one vector pass. Each target still sums in ascending source order, since sources
        // are delivered in ascending order and current_ starts from 0.0.
        double* current = current_.data() + fanout.first;
        if (fanout.weights32) {
            kernels_.add_scaled_f32(current, fanout.weights32, multiplicity, fanout.size);
        } else {
            kernels_.add_scaled(current, fanout.weights, multiplicity, fanout.size);
        }
        note_received_range(fanout);
        return;
    }
    if (mark_bytes_) {
        MarkBytes reached{received_bytes_.data()};
        deliver_scattered_row(fanout, multiplicity, current_.data(), reached, prefetch_current_);
        widen_spans(fanout.targets[0], fanout.targets[fanout.size - 1] + 1);
        return;
    }
    NeuronSet::Cursor reached = received_.cursor();
    deliver_scattered_row(fanout, multiplicity, current_.data(), reached, prefetch_current_);
    received_.commit(reached);
}

// Widens the marked span of every population that [lo, hi) reaches (a row's targets are sorted). Consecutive
// rows mostly reach the population the last one began in: checking its bounds first spares a lookup of
// population_of, whose table of a large network is rarely in cache.
void Engine::widen_spans(int32_t lo, int32_t hi) {
    int32_t p = widened_population_;
    if (lo < net_.population_offset(p) || lo >= net_.population_offset(p + 1)) {
        p = net_.population_of(lo);
        widened_population_ = p;
    }
    for (; p < net_.n_populations() && net_.population_offset(p) < hi; ++p) {
        auto& [span_lo, span_hi] = marked_span_[static_cast<size_t>(p)];
        span_lo = std::min(span_lo, std::max(lo, net_.population_offset(p)));
        span_hi = std::max(span_hi, std::min(hi, net_.population_offset(p + 1)));
    }
}

void Engine::deliver_frame(BinContext& ctx) {
    const auto begin = static_cast<size_t>(input_offsets_[static_cast<size_t>(ctx.bin)]);
    const auto end = static_cast<size_t>(input_offsets_[static_cast<size_t>(ctx.bin) + 1]);
    const int32_t* channels = input_channels_.data() + begin;
    const double* values = input_values_.data() + begin;
    const auto count = static_cast<int64_t>(end - begin);
    const FanOutTable& table = net_.input_fanout();
    if (table.dense_width() > 0 && count > 1) {
        // The input projects densely onto one layer (the usual first layer): the frame is one run of rows,
        // each found by arithmetic, its multiplicities the frame's own values.
        const int64_t width = table.dense_width();
        batch_rows_.resize(static_cast<size_t>(count));
        for (int64_t e = 0; e < count; ++e) batch_rows_[static_cast<size_t>(e)] = table.dense_weights() + channels[e] * width;
        kernels_.add_rows_f32(current_.data() + table.dense_first(), batch_rows_.data(), values, count, width);
        ctx.synops += input_events_[static_cast<size_t>(ctx.bin)] * width;
        note_received_range(table.row(channels[0]));
        return;
    }
    deliver_rows(
        count, ctx,
        [&](int64_t e) { return RowDelivery{table.row(channels[e]), values[e], input_events(values[e])}; },
        [&](int64_t e) { table.prefetch_index(channels[e]); });
}

inline void Engine::check(int32_t neuron, BinContext& ctx, bool received, bool bias_rule) {
    if (checked_.insert(neuron)) update(neuron, ctx, received, bias_rule);
}

// check() for a neuron that no other check of this step can reach.
inline void Engine::update(int32_t neuron, BinContext& ctx, bool received, bool bias_rule) {
    const auto i = static_cast<size_t>(neuron);
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

// Sorts and merges the ranges reached by contiguous rows, so that each neuron is in at most one.
void Engine::merge_received_ranges() {
    if (received_ranges_.size() < 2) return;
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

// Whether check_range has already checked `neuron` in this step (there are few ranges: one per population
// reached by dense rows).
bool Engine::in_received_range(int32_t neuron) const {
    for (const auto& [begin, end] : received_ranges_) {
        if (neuron >= begin && neuron < end) return true;
    }
    return false;
}

// Applies the leaks (and biases) that the neurons [first, last) owe up to `bin`: one vector pass per bin of
// lag; a neuron left untouched for many bins is caught up on its own.
void Engine::catch_up_range(int32_t first, int32_t last, int32_t bin) {
    const int64_t n = last - first;
    const int32_t oldest = kernels_.min_i32(leaked_to_.data() + first, n);
    if (oldest >= bin) return;
    constexpr int32_t kMaxVectorLag = 8;
    if (bin - oldest <= kMaxVectorLag) {
        if (oldest < 0) {  // the sample's first touch of some: list them for reset_sample (as catch_up does)
            for (int32_t neuron = first; neuron < last; ++neuron) {
                if (leaked_to_[static_cast<size_t>(neuron)] < 0) touched_.push_back(neuron);
            }
        }
        kernels_.leak_range(v_.data() + first, leaked_to_.data() + first, net_.params().beta.data() + first,
                            net_.params().bias.data() + first, bin, bin - oldest, n);
    } else {
        for (int32_t neuron = first; neuron < last; ++neuron) {
            if (leaked_to_[static_cast<size_t>(neuron)] < bin) catch_up(neuron, bin);
        }
    }
}

namespace {

// Calls visit(k), in ascending k, for the first `count` of bytes[0..n) that are set (each set byte holds 1),
// reading them a word at a time: the marks of a population are sparse.
template <typename Visit>
void for_each_set_byte(const uint8_t* bytes, int64_t n, int64_t count, Visit visit) {
    static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "the word scan below reads bytes in memory order");
    int64_t k = 0;
    for (; count > 0 && k + 8 <= n; k += 8) {
        uint64_t word;
        std::memcpy(&word, bytes + k, sizeof word);
        for (; word != 0; word &= word - 1) {  // the lowest bit of each set byte marks its index
            visit(k + __builtin_ctzll(word) / 8);
            --count;
        }
    }
    for (; count > 0 && k < n; ++k) {
        if (bytes[k] == 0) continue;
        visit(k);
        --count;
    }
}

}  // namespace

// The vector checks of a range run kCheckChunk neurons at a time, each chunk's leak (catch_up_range) just
// before its check: the check then finds the chunk's state in L1, where a pass over a whole large population
// would find it evicted by the leak's own pass (a population of 30,000 neurons keeps 1.5 MB of state).
constexpr int32_t kCheckChunk = 512;

// Room for the positions a vector check of n neurons writes.
int32_t* Engine::fired_positions(int64_t n) {
    if (fired_.size() < static_cast<size_t>(n)) fired_.resize(static_cast<size_t>(n));
    return fired_.data();
}

// Handles the spikes of the neurons first + fired_[j], j < n_fired, that a vector check listed.
void Engine::spike_listed(int32_t first, int64_t n_fired, int32_t bin) {
    for (int64_t j = 0; j < n_fired; ++j) {
        const int32_t neuron = first + fired_[static_cast<size_t>(j)];
        spike(neuron, v_[static_cast<size_t>(neuron)], bin);  // the check left u in v_
    }
}

// Runs a vector check over [first, last) in chunks of kCheckChunk: check(from, n, fired, &n_fired) checks the
// neurons from..from+n-1 once they are caught up, lists those that fired and returns the updates it counted.
template <typename CheckChunk>
void Engine::check_in_chunks(BinContext& ctx, int32_t first, int32_t last, const CheckChunk& check) {
    for (int32_t from = first; from < last; from += std::min(kCheckChunk, last - from)) {
        const int32_t to = std::min(kCheckChunk, last - from) + from;
        catch_up_range(from, to, ctx.bin);
        const int64_t n = to - from;
        int32_t* fired = fired_positions(n);
        int64_t n_fired = 0;
        ctx.updates += check(from, n, fired, &n_fired);
        spike_listed(from, n_fired, ctx.bin);
    }
}

// Checks the neurons [first, last), all of which received current from a contiguous row: the common case
// of a dense layer, where every step reaches the whole next layer. One vector pass (kernels::check_range)
// after bringing the neurons this bin has not touched yet up to date; spikes are then handled one by one.
void Engine::check_range(BinContext& ctx, int32_t first, int32_t last) {
    const NeuronParameters& params = net_.params();
    check_in_chunks(ctx, first, last, [&](int32_t from, int64_t n, int32_t* fired, int64_t* n_fired) {
        return kernels_.check_range(current_.data() + from, v_.data() + from, params.threshold.data() + from,
                                    refractory_bin_.data() + from, ctx.bin, n, fired, n_fired);
    });
}

// Checks the neurons [first, last) of one population in one vector pass (kernels::check_masked) where many of
// them received from scattered rows (a convolution, a sparse projection): cheaper than one check() per neuron
// once more than about one neuron in kMaskedCheckRatio received. The neurons that received nothing are
// checked as check() would check them (above threshold, or biased under bias_rule) and otherwise left alone.
void Engine::check_masked(BinContext& ctx, bool bias_rule, int32_t first, int32_t last, uint8_t* received) {
    const NeuronParameters& params = net_.params();
    check_in_chunks(ctx, first, last, [&](int32_t from, int64_t n, int32_t* fired, int64_t* n_fired) {
        return kernels_.check_masked(current_.data() + from, v_.data() + from, params.threshold.data() + from,
                                     params.bias.data() + from, bias_rule, refractory_bin_.data() + from, ctx.bin,
                                     n, received + (from - first), fired, n_fired);
    });
    received_ranges_.emplace_back(first, last);  // checked: the checks of biased and above-threshold neurons skip it
}

// Checks the ranges reached by contiguous rows that overlap [first, last); true if there was one.
bool Engine::check_received_ranges(BinContext& ctx, int32_t first, int32_t last) {
    merge_received_ranges();
    bool overlaps = false;
    for (const auto& [begin, end] : received_ranges_) {
        const int32_t from = std::max(begin, first);
        const int32_t to = std::min(end, last);
        if (from < to) {
            check_range(ctx, from, to);
            overlaps = true;
        }
    }
    return overlaps;
}

// Checks every neuron that received in this forward step (asynchronous schedules). received_ lists each
// neuron once, and the later checks of the step skip its members: no need to note them in checked_.
void Engine::check_received(BinContext& ctx, bool bias_rule) {
    check_received_ranges(ctx, 0, net_.n_neurons());
    const int32_t* members = received_.begin();
    const auto n = static_cast<size_t>(received_.end() - members);
    // The state of a large network's neurons is spread over arrays far beyond the cache, and update() reads
    // seven of them: fetched a few neurons ahead, the misses of consecutive neurons overlap.
    constexpr size_t kAhead = 6;
    if (prefetch_state_) {
        for (size_t k = 0; k < std::min(n, kAhead); ++k) prefetch_state(members[k]);
    }
    for (size_t k = 0; k < n; ++k) {
        if (prefetch_state_ && k + kAhead < n) prefetch_state(members[k + kAhead]);
        if (!in_received_range(members[k])) update(members[k], ctx, true, bias_rule);
    }
}

void Engine::prefetch_state(int32_t neuron) const {
    const auto i = static_cast<size_t>(neuron);
    prefetch_line(current_.data() + i);
    prefetch_line(v_.data() + i);
    prefetch_line(net_.params().threshold.data() + i);
    prefetch_line(net_.params().beta.data() + i);  // beta and bias: catch_up, a neuron's first update in a bin
    prefetch_line(net_.params().bias.data() + i);
    prefetch_line(leaked_to_.data() + i);
    prefetch_line(refractory_bin_.data() + i);
}

// Checks every neuron of population p that received in this bin (layer-synchronous schedule): the marks
// within the span scattered rows reached, in one masked vector pass where many are set, else one by one.
void Engine::check_received_population(BinContext& ctx, int32_t p) {
    const int32_t first = net_.population_offset(p);
    const int32_t last = net_.population_offset(p + 1);
    const bool overlaps = check_received_ranges(ctx, first, last);
    auto& span = marked_span_[static_cast<size_t>(p)];
    const auto [lo, hi] = span;
    span = {INT32_MAX, INT32_MIN};
    if (lo >= hi) return;
    uint8_t* received = received_bytes_.data() + lo;
    const int64_t n = int64_t{hi} - lo;
    int64_t members = 0;
    for (int64_t k = 0; k < n; ++k) members += received[k];
    if (!overlaps && members * kMaskedCheckRatio >= n) {
        check_masked(ctx, true, lo, hi, received);  // clears the marks
        return;
    }
    for_each_set_byte(received, n, members, [&](int64_t k) {
        received[k] = 0;
        const auto neuron = static_cast<int32_t>(lo + k);
        if (!(overlaps && in_received_range(neuron))) check(neuron, ctx, true, true);
    });
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

void Engine::run_async_bin(BinContext& ctx, Xoshiro256& rng) {
    const RunConfig& config = ctx.config;
    const int32_t n_inputs = net_.n_inputs();
    const int32_t bin = ctx.bin;
    start_delivery();
    if (config.prioritize_input) {
        deliver_frame(ctx);
    } else {
        const auto end = static_cast<size_t>(input_offsets_[static_cast<size_t>(bin) + 1]);
        for (auto e = static_cast<size_t>(input_offsets_[static_cast<size_t>(bin)]); e < end; ++e) {
            queue_.push(input_channels_[e], input_values_[e], config.schedule == Schedule::Fifo ? -0.0 : HUGE_VAL);
        }
    }
    for (int64_t step = 0;; ++step) {
        checked_.clear();
        step_spikes_.clear();
        check_received(ctx, step == 0);
        if (step == 0) {
            for (const int32_t neuron : net_.biased_neurons()) {
                if (!in_received_range(neuron) && !received_.contains(neuron)) check(neuron, ctx, false, true);
            }
        }
        for (size_t a = 0; a < above_.size(); ++a) {
            const int32_t neuron = above_[a];
            if (!in_received_range(neuron) && !received_.contains(neuron)) check(neuron, ctx, false, step == 0);
        }
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
        if ((step & 4095) == 4095 && ctx.interrupt && ctx.interrupt->requested()) {
            queue_.clear();
            throw Cancelled();
        }
        queue_.emit(config.group_size, rng, group_);
        if (ctx.out.emissions) {
            for (const Emission& e : group_) ctx.out.emissions->push_back({bin, static_cast<int32_t>(step), e.entry, e.multiplicity});
        }
        start_delivery();
        deliver_rows(static_cast<int64_t>(group_.size()), ctx, [&](int64_t g) {
            const Emission& e = group_[static_cast<size_t>(g)];
            if (e.entry < n_inputs) {
                return RowDelivery{net_.input_fanout().row(e.entry), e.multiplicity, input_events(e.multiplicity)};
            }
            return RowDelivery{net_.neuron_fanout().row(e.entry - n_inputs), e.multiplicity,
                               static_cast<int64_t>(e.multiplicity)};
        }, [&](int64_t g) {
            const int32_t entry = group_[static_cast<size_t>(g)].entry;
            if (entry < n_inputs) {
                net_.input_fanout().prefetch_index(entry);
            } else {
                net_.neuron_fanout().prefetch_index(entry - n_inputs);
            }
        });
    }
}

void Engine::run_sync_bin(BinContext& ctx) {
    const int32_t n_pop = net_.n_populations();
    const int32_t n = net_.n_neurons();
    checked_.clear();
    start_delivery();
    mark_bytes_ = true;
    deliver_frame(ctx);
    bin_spikes_.clear();
    const auto& biased = net_.biased_neurons();
    auto biased_at = biased.begin();
    const bool backward = net_.has_backward_edges();
    for (int32_t p = 0; p < n_pop; ++p) {
        const int32_t first = net_.population_offset(p);
        const int32_t last = net_.population_offset(p + 1);
        // Recurrent edges: last bin's spikes of populations >= p, delivered after this bin's lower ones so
        // that each target sums its current in ascending source index.
        for (const int32_t source : previous_bin_spikes_) {  // (empty without backward edges)
            if (source < first) continue;
            const FanOut part = net_.neuron_fanout().row_range(source, first, last);
            ctx.synops += part.size;
            deliver(part, 1.0);
        }
        step_spikes_.clear();
        check_received_population(ctx, p);
        for (; biased_at != biased.end() && *biased_at < last; ++biased_at) {
            if (!in_received_range(*biased_at)) check(*biased_at, ctx, false, true);
        }
        for (size_t a = 0; a < above_.size(); ++a) {
            if (above_[a] >= first && above_[a] < last && !in_received_range(above_[a])) check(above_[a], ctx, false, true);
        }
        record_step(ctx, p);
        deliver_rows(static_cast<int64_t>(step_spikes_.size()), ctx, [&](int64_t s) {
            const int32_t source = step_spikes_[static_cast<size_t>(s)];
            return RowDelivery{backward ? net_.neuron_fanout().row_range(source, last, n) : net_.neuron_fanout().row(source),
                               1.0, 1};
        }, [&](int64_t s) { net_.neuron_fanout().prefetch_index(step_spikes_[static_cast<size_t>(s)]); });
        if (backward) bin_spikes_.insert(bin_spikes_.end(), step_spikes_.begin(), step_spikes_.end());
    }
    mark_bytes_ = false;
    if (!above_.empty()) refresh_above();
    previous_bin_spikes_.swap(bin_spikes_);
    ctx.out.forward_steps[ctx.bin] = n_pop;
}

void Engine::run(const RunConfig& config, Frames frames, int64_t bins, uint64_t sample_index,
                 const SampleCounters& out, Interrupt* interrupt) {
    validate(config);
    if (bins > INT32_MAX) throw ConfigError("too many bins");
    const int64_t n_out = net_.n_outputs();
    std::fill(out.spikes_to_output, out.spikes_to_output + bins * n_out, int64_t{-1});
    std::fill(out.steps_to_output, out.steps_to_output + bins * n_out, int64_t{-1});
    reset_sample();
    try {
        compact_input(frames, bins, interrupt);
        queue_.reset(int64_t{net_.n_inputs()} + net_.n_neurons(), config.schedule);
        Xoshiro256 rng(config.seed, sample_index);
        const int64_t max_steps =
            config.max_steps_per_bin > 0 ? config.max_steps_per_bin : default_max_steps_per_bin(net_);
        for (int64_t t = 0; t < bins; ++t) {
            if (interrupt && interrupt->requested()) throw Cancelled();
            BinContext ctx{config, out, static_cast<int32_t>(t), max_steps, 0, -1, 0, 0, interrupt};
            // Neurons with a bias change every bin: bring them up to date now (leak, then bias).
            for (const int32_t neuron : net_.biased_neurons()) {
                if (leaked_to_[static_cast<size_t>(neuron)] < ctx.bin) catch_up(neuron, ctx.bin);
            }
            if (config.schedule == Schedule::Sync) {
                run_sync_bin(ctx);
            } else {
                run_async_bin(ctx, rng);
            }
            out.synops[t] = ctx.synops;
            out.neuron_updates[t] = ctx.updates;
        }
    } catch (...) {
        reset_everything_ = true;  // a bin left half done: the next sample must not trust touched_
        throw;
    }
}

}  // namespace neuroemu
