// Runs one sample of the step model (docs/semantics.md) on a network. An Engine owns the scratch state
// of one thread and is reused across samples; it never allocates per event.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <vector>

#include "neuroemu/interrupt.hpp"
#include "neuroemu/network.hpp"
#include "neuroemu/neuron_set.hpp"
#include "neuroemu/pending_queue.hpp"
#include "neuroemu/recorder.hpp"
#include "neuroemu/run_config.hpp"

namespace neuroemu {

namespace kernels {
struct Table;  // kernels.hpp
}

// The instruction set of the vector kernels the engine runs: "baseline", "avx2" or "avx512" (the widest
// the CPU has, unless the environment variable NEUROEMU_KERNELS names another one it has).
const char* kernel_set();

class Engine;

// The engines of one network that are idle between runs. Making an engine allocates and zeroes about 40
// bytes per neuron; for a large network that costs more than a small batch's events, and a run's cost must
// not grow with neurons it never reaches. An engine resets only what its last sample touched (everything
// after a run that threw), so it can serve any later run of its network.
class EnginePool {
public:
    std::unique_ptr<Engine> take(const Network& network);
    void give_back(std::unique_ptr<Engine> engine);

private:
    static constexpr std::size_t kMostIdle = 64;
    std::mutex mutex_;
    std::vector<std::unique_ptr<Engine>> idle_;
};

// An engine of the network's pool for the lifetime of the lease.
class EngineLease {
public:
    explicit EngineLease(const Network& network) : pool_(network.engine_pool()), engine_(pool_.take(network)) {}
    ~EngineLease() { pool_.give_back(std::move(engine_)); }
    EngineLease(const EngineLease&) = delete;
    EngineLease& operator=(const EngineLease&) = delete;
    Engine& engine() { return *engine_; }

private:
    EnginePool& pool_;
    std::unique_ptr<Engine> engine_;
};

class Engine {
public:
    explicit Engine(const Network& network);

    // frames: (bins, n_inputs) row-major, finite and >= 0. The counters must arrive zero-filled (the
    // engine sets the "-1 = never" entries itself). Throws ConfigError when a bin exceeds
    // config.max_steps_per_bin, Cancelled once `interrupt` is requested.
    void run(const RunConfig& config, Frames frames, int64_t bins, uint64_t sample_index, const SampleCounters& out,
             Interrupt* interrupt = nullptr);
    const Network& network() const { return net_; }
    void run(const RunConfig& config, const double* frames, int64_t bins, uint64_t sample_index,
             const SampleCounters& out, Interrupt* interrupt = nullptr) {
        run(config, Frames{frames, InputType::Float64}, bins, sample_index, out, interrupt);
    }

private:
    struct BinContext;

    void reset_sample();
    void compact_input(Frames frames, int64_t bins, Interrupt* interrupt);  // validates; keeps the non-zero entries per bin
    void catch_up(int32_t neuron, int32_t bin);  // applies the leaks (and biases) of bins not yet applied
    struct RowDelivery {
        FanOut row;
        double multiplicity;
        int64_t events;  // synaptic events per synapse of the row
    };
    void deliver(const FanOut& fanout, double multiplicity);
    template <typename RowAt, typename PrefetchIndex>
    void deliver_rows(int64_t count, BinContext& ctx, RowAt row_at, PrefetchIndex prefetch_index);
    void note_received_range(const FanOut& fanout);
    void deliver_frame(BinContext& ctx);  // the bin's whole input frame, ascending channels
    void merge_received_ranges();
    bool in_received_range(int32_t neuron) const;
    void catch_up_range(int32_t first, int32_t last, int32_t bin);
    int32_t* fired_positions(int64_t n);
    void spike_listed(int32_t first, int64_t n_fired, int32_t bin);
    template <typename CheckChunk>
    void check_in_chunks(BinContext& ctx, int32_t first, int32_t last, const CheckChunk& check);
    void check_range(BinContext& ctx, int32_t first, int32_t last);
    void check_masked(BinContext& ctx, bool bias_rule, int32_t first, int32_t last, uint8_t* received);
    void widen_spans(int32_t lo, int32_t hi);
    void check(int32_t neuron, BinContext& ctx, bool received, bool bias_rule);
    void update(int32_t neuron, BinContext& ctx, bool received, bool bias_rule);
    void prefetch_state(int32_t neuron) const;
    void spike(int32_t neuron, double u, int32_t bin);
    bool check_received_ranges(BinContext& ctx, int32_t first, int32_t last);
    void check_received(BinContext& ctx, bool bias_rule);
    void check_received_population(BinContext& ctx, int32_t p);
    void record_step(BinContext& ctx, int64_t step);
    void run_async_bin(BinContext& ctx, Xoshiro256& rng);
    void run_sync_bin(BinContext& ctx);
    void start_delivery();
    void refresh_above();

    const Network& net_;
    const kernels::Table& kernels_;
    std::vector<double> v_;
    std::vector<double> current_;          // zero except for delivered, not yet checked neurons
    std::vector<double> pre_spike_;
    std::vector<int32_t> leaked_to_;       // the last bin whose leak (and bias) v_ includes; -1 = untouched
    std::vector<int32_t> refractory_bin_;  // the bin in which the neuron last became refractory
    std::vector<uint8_t> in_above_;
    NeuronSet received_;                   // neurons reached by a scattered fan-out row in this asynchronous step
    // The layer-synchronous schedule marks them instead (mark_bytes_): a byte per neuron, all zero once its
    // population is checked, and per population the span [first, last) of neurons its rows reached.
    std::vector<uint8_t> received_bytes_;
    std::vector<std::pair<int32_t, int32_t>> marked_span_;
    bool mark_bytes_ = false;
    int32_t widened_population_ = 0;  // widen_spans: the population the last row began in
    // Whether deliver_rows fetches rows ahead: only where the fan-out tables outgrow a core's cache, since
    // rows found in cache gain nothing and each prefetch costs an instruction or three.
    bool prefetch_rows_ = false;
    bool prefetch_state_ = false;  // likewise for the state of the neurons an asynchronous step checks
    // Likewise for the current of a scattered row's targets. Measured (one core, Release): prefetching current_
    // within the cache cost 1.07-1.09x on cnn and sparse-s, and gained nothing on sparse (120,100 neurons).
    bool prefetch_current_ = false;
    NeuronSet checked_;                    // neurons checked one by one (check()) this step
    std::vector<std::pair<int32_t, int32_t>> received_ranges_;  // [first, last) reached by contiguous rows
    std::vector<int32_t> above_;           // neurons whose potential may sit above threshold
    std::vector<int32_t> step_spikes_;
    std::vector<int32_t> bin_spikes_;      // sync: spikes of this bin, in ascending order
    std::vector<int32_t> previous_bin_spikes_;
    std::vector<Emission> group_;
    std::vector<const float*> batch_rows_;  // deliver_rows: a run of dense rows onto the same targets
    std::vector<double> batch_multiplicities_;
    // Neurons whose state this sample changed: resetting only them keeps a sample's cost independent of
    // the network's size. After a run that threw, everything is reset instead.
    std::vector<int32_t> touched_;
    bool reset_everything_ = false;
    std::vector<int32_t> fired_;           // a vector check's output: the positions of the neurons that fired
    // check_masked replaces one check() per received neuron of a population once at least one neuron in this
    // many received. Measured on the benchmark workloads (cnn, sparse-s; sync), ratios 6 and 16 ran as fast
    // as each other; 48 ran up to 1.3x slower.
    static constexpr int64_t kMaskedCheckRatio = 16;
    // This sample's input: the non-zero entries of bin t are [input_offsets_[t], input_offsets_[t + 1]).
    std::vector<int32_t> input_channels_;
    std::vector<double> input_values_;
    std::vector<int64_t> input_offsets_;
    std::vector<int64_t> input_events_;  // per bin, for a dense input table only: its input events (per synapse)
    PendingQueue queue_;
};

}  // namespace neuroemu
