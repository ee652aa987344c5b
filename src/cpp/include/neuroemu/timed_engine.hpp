// The timed hardware model (docs/hardware.md, SPEC section 2.3): a discrete-event simulation in integer
// picoseconds. Each core is serial with its own input queue of arrived spike messages; a free core takes
// its next message by the schedule (fifo / momentum / random), or, with Schedule::Sync, processes layer by
// layer behind barriers. A TimedEngine owns the scratch state of one thread and is reused across samples.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <vector>

#include "neuroemu/event_queue.hpp"
#include "neuroemu/hardware_model.hpp"
#include "neuroemu/interrupt.hpp"
#include "neuroemu/network.hpp"
#include "neuroemu/random.hpp"
#include "neuroemu/recorder.hpp"
#include "neuroemu/run_config.hpp"

namespace neuroemu {

namespace kernels {
struct Table;  // kernels.hpp
}  // namespace kernels

struct TimedConfig {
    Schedule schedule = Schedule::Fifo;
    uint64_t seed = 0;
    Record record = Record::Counts;
    bool trace = false;            // record every task of every core (TraceEntry)
    bool continuous_leak = false;  // decay by beta^(elapsed / dt) instead of once per bin
    // Asynchronous schedules: the input events released at one same time (a frame's bin) reach each core
    // as ONE input task, processed before the core's waiting spike messages, that integrates all of them
    // (ascending channel) and then checks the touched neurons once: step 0 of docs/semantics.md. false:
    // every input event is a message of its own, like a spike. run_timed_batch turns it off for timestamped
    // events. Ignored by Schedule::Sync (which always integrates a layer's input at once).
    bool prioritize_input = true;
    // Guards against runaway activity: a sample needing more than this many message deliveries per bin
    // (times the number of bins) is an error. 0 = 1000 + 100 * (n_inputs + n_neurons).
    int64_t max_deliveries_per_bin = 0;
};

// An input event entering the mesh at the input port at `time` (ps).
struct InputEvent {
    int64_t time;
    int32_t channel;
    double multiplicity;
};

// One task of one core: a message delivery (source = its entry id: input channel c, or n_inputs + neuron),
// a per-bin update of all the core's neurons (source = -1, arrival = the bin start), a layer phase of
// the sync schedule (source = -2, arrival = the latest arrival of the messages it delivers, or its start),
// or a prioritised input task (source = -3, arrival = the arrival of the bin's input messages at the core).
struct TraceEntry {
    int64_t core;
    int64_t source;
    int64_t arrival;
    int64_t start;
    int64_t end;
};
static_assert(sizeof(TraceEntry) == 5 * sizeof(int64_t), "the bindings copy traces as an (n, 5) int64 array");

// Scalar counters of one sample, in this order in TimedSampleCounters::totals.
enum TimedTotal : int32_t {
    kMessages = 0,       // spike messages sent, input messages included
    kInputMessages,      // of which from the input port
    kInTileMessages,     // of which to a core in the same tile
    kHopsEastWest,
    kHopsNorthSouth,
    kChipCrossings,
    kBarriers,
    kInactiveUpdates,    // per-bin updates: every mapped neuron once per bin
    kDeliveries,         // message deliveries and input tasks processed by cores
    kDuration,           // ps: max(bins * dt, the end of the last task, the last arrival, the last barrier)
    kTimedTotals
};

struct TimedSampleCounters {
    SampleCounters bins;              // the step model's per-bin counters (docs/hardware.md says what each means)
    int64_t* core_busy = nullptr;     // (cores,) ps
    int64_t* first_output = nullptr;  // (n_outputs,) ps of each output's first spike, -1 = never
    int64_t* totals = nullptr;        // (kTimedTotals,)
    std::vector<TraceEntry>* trace = nullptr;
};

class TimedEngine {
public:
    TimedEngine(const Network& network, const HardwareModel& model);
    const Network& network() const { return net_; }
    const HardwareModel& model() const { return model_; }

    // inputs sorted by (time, channel), times >= 0. Counters arrive zero-filled. Throws ConfigError on
    // runaway activity, Cancelled once `interrupt` is requested.
    void run(const TimedConfig& config, const std::vector<InputEvent>& inputs, int64_t bins, uint64_t sample_index,
             const TimedSampleCounters& out, Interrupt* interrupt = nullptr);

private:
    struct Message {
        int64_t arrival;
        uint64_t seq;
        int64_t route;
        int32_t entry;
        double multiplicity;
        double key;  // momentum: the source's pre-spike potential (+inf for input)
        // Sets the fields one by one where the message is kept (see EventQueue::schedule: a message built on
        // the stack and copied stalls store forwarding).
        void set(int64_t at, uint64_t sequence, int64_t route_index, int32_t source, double count, double rank) {
            arrival = at;
            seq = sequence;
            route = route_index;
            entry = source;
            multiplicity = count;
            key = rank;
        }
    };
    enum class Kind : int32_t { BinStart, Input, Arrival, InputReady, Dispatch, Done };
    struct Payload {
        Kind kind;
        int32_t core;  // BinStart: the bin; Input: the index of the input event; else the core
        Message message;
    };
    // A prioritised input task: the input messages [begin, end) of Core::input_messages, ascending channel,
    // all sent at one time; released when they have arrived.
    struct InputTask {
        int64_t release;
        int64_t group;  // the index of the first input event of its time
        std::size_t begin;
        std::size_t end;
    };
    enum class TaskKind : int32_t { Update, Input, Message };
    struct Core {
        bool busy = false;
        bool dispatch_pending = false;
        TaskKind task_kind = TaskKind::Message;
        int32_t updates_due = 0;
        int64_t update_release = 0;  // the bin start of the oldest due per-bin update
        int64_t task_start = 0;
        int64_t task_arrival = 0;
        int64_t task_synops = 0;     // of the running input task
        int64_t task_touched = 0;
        Message task{};
        std::vector<Message> waiting;
        std::size_t head = 0;        // fifo: waiting[head..] in arrival order
        std::vector<int32_t> candidates;  // of the running per-bin update
        std::vector<Message> input_messages;
        std::vector<InputTask> input_tasks;  // in release order; input_tasks[input_head..] not yet done
        std::size_t input_head = 0;
        int32_t inputs_ready = 0;            // released input tasks not yet started
    };
    struct Spike {
        int32_t neuron;
        int64_t count;
        int64_t time;
    };

    void reset_sample(const TimedConfig& config, const TimedSampleCounters& out, int64_t bins);
    int32_t bin_of(int64_t time) const;
    void catch_up(int32_t neuron, int32_t bin, int64_t time);
    void catch_up_owed(int32_t neuron, int32_t bin, int64_t time);
    double decay(double beta, int64_t elapsed) const;
    FanOut row_of(const Message& m) const;
    void deliver(const Message& m);
    template <typename Weight>
    void deliver_route(const int32_t* targets, const Weight* weights, int64_t begin, int64_t end, double multiplicity);
    void add_contiguous(const FanOut& row, int64_t begin, int64_t end, double multiplicity);
    const float* float_run(const Message& m, int32_t& first, int32_t& last) const;
    std::size_t add_row_run(const Message* messages, std::size_t count, std::size_t at, int32_t first, int32_t last,
                            const float* weights);
    std::size_t add_same_targets(const Message* messages, std::size_t count, std::size_t at);
    void deliver_marked(const Message* messages, std::size_t count, int32_t first, int32_t last);
    void deliver_all(const Message* messages, std::size_t count);
    void clear_received();
    int64_t fire(int32_t neuron, double u, int32_t bin, bool repeat);
    int64_t spike(int32_t neuron, double u, int32_t bin, bool repeat);
    void add_spike(int32_t neuron, int64_t count, int64_t time);
    void refresh_above(int32_t core);
    void record(int32_t bin, int64_t step, int64_t steps_so_far);
    static bool momentum_below(const Message& a, const Message& b);
    int64_t count_route(const TileCoord& from, const Route& r, bool input, int64_t count);
    int64_t synop_events(const Message& m) const;

    void run_async(const std::vector<InputEvent>& inputs, Xoshiro256& rng, Interrupt* interrupt);
    Payload& schedule(int64_t time, Kind kind, int32_t core, uint64_t* seq = nullptr);
    void schedule_dispatch(int32_t core, int64_t now);
    void dispatch(int32_t core, int64_t now, Xoshiro256& rng);
    void send_input(const std::vector<InputEvent>& inputs, std::size_t k, int64_t now);
    void start_task(int32_t core, int64_t now, Xoshiro256& rng);
    void count_delivery();
    void finish_task(int32_t core, int64_t now);
    Message take_next(Core& core, Xoshiro256& rng);

    void run_sync(const std::vector<InputEvent>& inputs, Interrupt* interrupt);
    int64_t check_marked(int32_t first, int32_t last, int32_t bin);
    void leak_run(int32_t first, int32_t last, int32_t bin);
    void check_run(int32_t first, int32_t last, int32_t bin, int64_t now);
    int32_t* fired_positions(int64_t n);
    void spike_listed(int32_t first, int64_t n_fired, int32_t bin, bool repeat, int64_t time);

    const Network& net_;
    const HardwareModel& model_;
    const kernels::Table& kernels_;
    const TimedConfig* config_ = nullptr;
    const TimedSampleCounters* out_ = nullptr;
    int64_t bins_ = 0;
    int64_t max_deliveries_ = 0;
    int64_t last_time_ = 0;
    uint64_t message_seq_ = 0;

    std::vector<double> v_;
    std::vector<double> current_;
    std::vector<double> pre_spike_;
    std::vector<int32_t> leaked_to_;
    std::vector<int64_t> leaked_at_;       // continuous leak: the time v_ refers to
    std::vector<int32_t> refractory_bin_;
    std::vector<uint64_t> received_stamp_;
    std::vector<uint64_t> checked_stamp_;
    std::vector<uint8_t> in_above_;
    std::vector<int32_t> received_;
    std::vector<uint8_t> received_bytes_;   // deliver_marked: 1 for a neuron that received (0 between phases)
    std::vector<int32_t> fired_;            // check_marked's and check_run's scratch
    std::vector<const float*> batch_rows_;  // add_same_targets' scratch
    std::vector<double> batch_multiplicities_;
    // Neurons [stamped_first_, stamped_last_) are all in received_ (a contiguous row delivered them): a
    // contiguous row within that run only adds its current.
    int32_t stamped_first_ = 0;
    int32_t stamped_last_ = 0;
    std::vector<int64_t> bin_spikes_;
    std::vector<Spike> spikes_;
    std::vector<std::vector<int32_t>> biased_of_core_;
    std::vector<std::vector<int32_t>> above_of_core_;
    std::vector<std::vector<int32_t>> cores_of_population_;
    std::vector<Core> cores_;
    std::vector<int32_t> input_cores_;  // the cores reached by the input events of one time
    uint64_t receive_stamp_ = 0;
    uint64_t check_stamp_ = 0;
    EventQueue<Payload> queue_;
};

// Idle timed engines of one hardware model: a run takes one per thread and gives it back, so that the next
// run of the model does not allocate (and fault in) its state again. The step engines' EnginePool, for the
// timed model.
class TimedEnginePool {
public:
    std::unique_ptr<TimedEngine> take(const Network& network, const HardwareModel& model);
    void give_back(std::unique_ptr<TimedEngine> engine);

private:
    static constexpr std::size_t kMostIdle = 64;
    std::mutex mutex_;
    std::vector<std::unique_ptr<TimedEngine>> idle_;
};

// A batch for the timed model: either frames (samples, bins, n_inputs), each bin's events released at the
// bin start, or timestamped events per sample (CSR over samples: event_ptr has samples + 1 entries).
struct TimedBatchInput {
    Frames frames{nullptr};  // (samples, bins, n_inputs), any InputType; data null for events
    const int64_t* event_times = nullptr;   // ps
    const int32_t* event_channels = nullptr;
    const int64_t* event_ptr = nullptr;
    int64_t samples = 0;
    int64_t bins = 0;
};

struct TimedBatchCounters {
    BatchCounters bins;
    int64_t* core_busy = nullptr;     // (samples, cores)
    int64_t* first_output = nullptr;  // (samples, n_outputs)
    int64_t* totals = nullptr;        // (samples, kTimedTotals)
    std::vector<std::vector<TraceEntry>>* trace = nullptr;  // size samples, when config.trace
};

// Results are identical for any thread count: sample b draws from the stream (seed, first_index + b).
void run_timed_batch(const Network& network, const HardwareModel& model, const TimedConfig& config,
                     const TimedBatchInput& input, uint64_t first_index, const TimedBatchCounters& out,
                     int32_t threads, const std::function<bool()>& poll);

}  // namespace neuroemu
