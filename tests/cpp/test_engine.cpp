// Engine::run and run_batch on small networks whose results follow by hand from docs/semantics.md.
#include <doctest/doctest.h>

#include <cstdint>
#include <random>
#include <string>
#include <type_traits>
#include <vector>

#include "neuroemu/batch.hpp"
#include "neuroemu/engine.hpp"
#include "neuroemu/errors.hpp"
#include "neuroemu/network.hpp"
#include "neuroemu/recorder.hpp"
#include "neuroemu/run_config.hpp"
#include "test_helpers.hpp"

using neuroemu::BatchCounters;
using neuroemu::BatchInput;
using neuroemu::ConfigError;
using neuroemu::Engine;
using neuroemu::EngineLease;
using neuroemu::InputError;
using neuroemu::Network;
using neuroemu::NeuronParameters;
using neuroemu::Projection;
using neuroemu::Record;
using neuroemu::RunConfig;
using neuroemu::SampleCounters;
using neuroemu::Schedule;
using neuroemu::SpikeEvent;
using neuroemu_test::dense_projection;
using neuroemu_test::uniform_params;

namespace {

using I32 = std::vector<int32_t>;
using I64 = std::vector<int64_t>;

// Zero-filled counters of `samples` samples, owned by std::vectors.
struct Counters {
    int64_t bins;
    std::vector<int32_t> spike_counts;
    std::vector<int64_t> population_spikes;
    std::vector<int32_t> output_counts;
    std::vector<int64_t> forward_steps;
    std::vector<int64_t> synops;
    std::vector<int64_t> neuron_updates;
    std::vector<int64_t> spikes_to_output;
    std::vector<int64_t> steps_to_output;
    std::vector<std::vector<SpikeEvent>> events;

    Counters(const Network& net, int64_t n_bins, int64_t samples = 1)
        : bins(n_bins),
          spike_counts(static_cast<size_t>(samples * n_bins * net.n_neurons())),
          population_spikes(static_cast<size_t>(samples * n_bins * net.n_populations())),
          output_counts(static_cast<size_t>(samples * n_bins * net.n_outputs())),
          forward_steps(static_cast<size_t>(samples * n_bins)),
          synops(static_cast<size_t>(samples * n_bins)),
          neuron_updates(static_cast<size_t>(samples * n_bins)),
          spikes_to_output(static_cast<size_t>(samples * n_bins * net.n_outputs())),
          steps_to_output(static_cast<size_t>(samples * n_bins * net.n_outputs())),
          events(static_cast<size_t>(samples)) {}

    SampleCounters view() {
        SampleCounters s;
        s.spike_counts = spike_counts.data();
        s.population_spikes = population_spikes.data();
        s.output_counts = output_counts.data();
        s.forward_steps = forward_steps.data();
        s.synops = synops.data();
        s.neuron_updates = neuron_updates.data();
        s.spikes_to_output = spikes_to_output.data();
        s.steps_to_output = steps_to_output.data();
        s.events = &events[0];
        return s;
    }
    BatchCounters batch_view() {
        BatchCounters b;
        b.spike_counts = spike_counts.data();
        b.population_spikes = population_spikes.data();
        b.output_counts = output_counts.data();
        b.forward_steps = forward_steps.data();
        b.synops = synops.data();
        b.neuron_updates = neuron_updates.data();
        b.spikes_to_output = spikes_to_output.data();
        b.steps_to_output = steps_to_output.data();
        b.events = &events;
        return b;
    }
};

// Runs one sample; frames has bins * n_inputs values.
Counters run(const Network& net, const RunConfig& config, const std::vector<double>& frames,
             uint64_t sample_index = 0) {
    const auto bins = static_cast<int64_t>(frames.size()) / net.n_inputs();
    REQUIRE(bins * net.n_inputs() == static_cast<int64_t>(frames.size()));
    Counters c(net, bins);
    Engine engine(net);
    engine.run(config, frames.data(), bins, sample_index, c.view());
    return c;
}

RunConfig async(Schedule schedule, int64_t group_size = 0, bool prioritize_input = true) {
    RunConfig config;
    config.schedule = schedule;
    config.group_size = group_size;
    config.prioritize_input = prioritize_input;
    config.record = Record::Spikes;
    return config;
}

RunConfig sync() {
    RunConfig config;
    config.schedule = Schedule::Sync;
    config.record = Record::Spikes;
    return config;
}

std::string describe(const std::vector<SpikeEvent>& events) {
    std::string s;
    for (const SpikeEvent& e : events) {
        s += "(" + std::to_string(e.bin) + "," + std::to_string(e.step) + "," + std::to_string(e.neuron) + ")";
    }
    return s;
}

const char* name(Schedule s) {
    switch (s) {
        case Schedule::Sync: return "sync";
        case Schedule::Random: return "random";
        case Schedule::Momentum: return "momentum";
        case Schedule::Fifo: return "fifo";
    }
    return "?";
}

// A strictly layered feed-forward network (every projection goes from layer l-1 to layer l) with
// random dense weights, some of them zero.
Network random_feed_forward(std::mt19937& gen, int32_t n_inputs, const std::vector<int32_t>& sizes,
                            bool subtract_reset, bool refractory) {
    std::uniform_real_distribution<double> weight(-0.6, 1.2);
    std::uniform_real_distribution<double> unit(0.0, 1.0);
    int32_t n = 0;
    for (const int32_t s : sizes) n += s;
    NeuronParameters p = uniform_params(n, 1.0, 1.0, 0.0, subtract_reset, refractory);
    for (int32_t i = 0; i < n; ++i) {
        p.threshold[static_cast<size_t>(i)] = 0.5 + unit(gen);
        p.beta[static_cast<size_t>(i)] = unit(gen) < 0.2 ? 1.0 : 0.5 + 0.5 * unit(gen);
    }
    std::vector<Projection> projections;
    int32_t previous = n_inputs;
    for (size_t l = 0; l < sizes.size(); ++l) {
        std::vector<std::vector<double>> w(static_cast<size_t>(sizes[l]), std::vector<double>(static_cast<size_t>(previous)));
        for (auto& row : w) {
            for (double& x : row) x = unit(gen) < 0.25 ? 0.0 : weight(gen);
        }
        projections.push_back(dense_projection(static_cast<int32_t>(l) - 1, static_cast<int32_t>(l), w, true));
        previous = sizes[l];
    }
    return Network(n_inputs, sizes, p, projections);
}

// Input frames of whole event counts 0..2 and some graded values.
std::vector<double> random_frames(std::mt19937& gen, int64_t samples, int64_t bins, int32_t n_inputs) {
    std::uniform_int_distribution<int> count(0, 5);
    std::uniform_real_distribution<double> unit(0.0, 1.0);
    std::vector<double> frames(static_cast<size_t>(samples * bins * n_inputs));
    for (double& x : frames) {
        const int c = count(gen);
        x = c <= 2 ? 0.0 : c == 5 ? unit(gen) * 1.5 : static_cast<double>(c - 2);
    }
    return frames;
}

void check_same_events(const std::vector<SpikeEvent>& a, const std::vector<SpikeEvent>& b) {
    CHECK(describe(a) == describe(b));
}

}  // namespace

TEST_SUITE("engine") {

TEST_CASE("queued input, F=1: three input events make three spikes of one neuron in one bin") {
    // One neuron, 3 input channels of weight 0.9, threshold 0.5, zero reset, no refractoriness.
    const Network net(3, {1}, uniform_params(1, 0.5), {dense_projection(-1, 0, {{0.9, 0.9, 0.9}})});
    for (const Schedule schedule : {Schedule::Momentum, Schedule::Fifo, Schedule::Random}) {
        CAPTURE(name(schedule));
        const Counters c = run(net, async(schedule, 1, false), {1.0, 1.0, 1.0});
        CHECK(c.spike_counts == I32{3});
        CHECK(c.population_spikes == I64{3});
        CHECK(c.output_counts == I32{3});
        CHECK(c.synops == I64{3});  // three channels, one synapse each; the output neuron has no synapses
        CHECK(c.neuron_updates == I64{3});
        if (schedule != Schedule::Random) {
            // Step 0 queues the channels; steps 1-3 deliver one channel each (inputs rank first); step 4
            // delivers the neuron's three queued spikes, onto nothing.
            CHECK(c.forward_steps == I64{5});
            CHECK(c.spikes_to_output == I64{1});
            CHECK(c.steps_to_output == I64{2});
            CHECK(describe(c.events[0]) == "(0,1,0)(0,2,0)(0,3,0)");
        }
    }
    // Prioritised input delivers all three channels at once in step 0: one spike only.
    const Counters c = run(net, async(Schedule::Momentum, 1, true), {1.0, 1.0, 1.0});
    CHECK(c.spike_counts == I32{1});
    CHECK(c.forward_steps == I64{2});
    CHECK(c.synops == I64{3});
    CHECK(c.neuron_updates == I64{1});
}

TEST_CASE("a chain input -> n1 -> n2 -> n3 spikes once per neuron, one step apart") {
    const Network net(1, {1, 1, 1}, uniform_params(3, 1.0),
                      {dense_projection(-1, 0, {{2.0}}), dense_projection(0, 1, {{2.0}}),
                       dense_projection(1, 2, {{2.0}})});
    SUBCASE("asynchronous") {
        for (const Schedule schedule : {Schedule::Momentum, Schedule::Fifo, Schedule::Random}) {
            for (const int64_t f : {int64_t{0}, int64_t{1}}) {
                CAPTURE(name(schedule));
                CAPTURE(f);
                const Counters c = run(net, async(schedule, f), {1.0});
                CHECK(c.spike_counts == I32{1, 1, 1});
                CHECK(c.population_spikes == I64{1, 1, 1});
                CHECK(c.spikes_to_output == I64{3});
                CHECK(c.steps_to_output == I64{3});
                CHECK(c.forward_steps == I64{4});  // steps 0-2 spike, step 3 delivers n3's spike onto nothing
                CHECK(c.synops == I64{3});
                CHECK(c.neuron_updates == I64{3});
                CHECK(describe(c.events[0]) == "(0,0,0)(0,1,1)(0,2,2)");
            }
        }
    }
    SUBCASE("queued input adds one step") {
        const Counters c = run(net, async(Schedule::Fifo, 0, false), {1.0});
        CHECK(c.spikes_to_output == I64{3});
        CHECK(c.steps_to_output == I64{4});
        CHECK(c.forward_steps == I64{5});
    }
    SUBCASE("sync") {
        const Counters c = run(net, sync(), {1.0, 0.0});
        CHECK(c.spike_counts == I32{1, 1, 1, 0, 0, 0});
        CHECK(c.spikes_to_output == I64{3, -1});
        CHECK(c.steps_to_output == I64{3, -1});
        CHECK(c.forward_steps == I64{3, 3});  // one step per population, also in a silent bin
        CHECK(describe(c.events[0]) == "(0,0,0)(0,1,1)(0,2,2)");
    }
}

TEST_CASE("leak: one multiplication by beta per bin, carried across silent bins") {
    // One neuron, threshold 1, beta 0.5, input weight 1: a graded frame value x is a current of x.
    const Network net(1, {1}, uniform_params(1, 1.0, 0.5), {dense_projection(-1, 0, {{1.0}})});
    for (const bool is_sync : {false, true}) {
        CAPTURE(is_sync);
        const RunConfig config = is_sync ? sync() : async(Schedule::Momentum);
        // Bin 1: 0.8 * 0.5 + 0.3 = 0.7, no spike (without the leak: 1.1, a spike).
        // Bin 2: 0.7 * 0.5 + 0.7 = 1.05, a spike (without the carried potential: 0.7, none).
        CHECK(run(net, config, {0.8, 0.3, 0.7}).spike_counts == I32{0, 0, 1});
        // Across two silent bins, three multiplications: 0.9 * 0.125 + 0.9 = 1.0125 spikes (four would
        // give 0.95625, no spike) ...
        CHECK(run(net, config, {0.9, 0.0, 0.0, 0.9}).spike_counts == I32{0, 0, 0, 1});
        // ... and 0.9 * 0.125 + 0.88 = 0.9925 does not (two would give 1.105, a spike).
        const Counters c = run(net, config, {0.9, 0.0, 0.0, 0.88});
        CHECK(c.spike_counts == I32{0, 0, 0, 0});
        CHECK(c.neuron_updates == I64{1, 0, 0, 1});  // a silent neuron in a silent bin is not checked
        // The reset clears the potential: after a spike, 0.95 does not reach the threshold.
        CHECK(run(net, config, {1.5, 0.95}).spike_counts == I32{1, 0});
    }
    // beta = 1: no leak; beta = 0: nothing carries.
    const Network keep(1, {1}, uniform_params(1, 1.0, 1.0), {dense_projection(-1, 0, {{1.0}})});
    CHECK(run(keep, async(Schedule::Fifo), {0.6, 0.0, 0.0, 0.0, 0.6}).spike_counts == I32{0, 0, 0, 0, 1});
    const Network forget(1, {1}, uniform_params(1, 1.0, 0.0), {dense_projection(-1, 0, {{1.0}})});
    CHECK(run(forget, async(Schedule::Fifo), {0.99, 0.99}).spike_counts == I32{0, 0});
}

TEST_CASE("bias: added after the leak in every bin, checked in step 0") {
    // threshold 1, beta 0.5, bias 0.4, no input: v = 0.4, 0.6, 0.7, 0.75, ... never above 1 ...
    NeuronParameters p = uniform_params(1, 1.0, 0.5, 0.4);
    const Network weak(1, {1}, p, {dense_projection(-1, 0, {{1.0}})});
    Counters c = run(weak, async(Schedule::Momentum), {0.0, 0.0, 0.0, 0.0});
    CHECK(c.spike_counts == I32{0, 0, 0, 0});
    CHECK(c.neuron_updates == I64{1, 1, 1, 1});  // the bias rule checks it in step 0 of every bin
    // ... but 0.75 * 0.5 + 0.4 + 0.3 = 1.075 in bin 4 is.
    c = run(weak, async(Schedule::Momentum), {0.0, 0.0, 0.0, 0.0, 0.3});
    CHECK(c.spike_counts == I32{0, 0, 0, 0, 1});
    // bias 0.6: 0.6, 0.9, 1.05 -> spike in bin 2 (zero reset), then 0.6, 0.9, 1.05 again.
    p.bias = {0.6};
    const Network strong(1, {1}, p, {dense_projection(-1, 0, {{1.0}})});
    for (const bool is_sync : {false, true}) {
        CAPTURE(is_sync);
        c = run(strong, is_sync ? sync() : async(Schedule::Fifo), std::vector<double>(6, 0.0));
        CHECK(c.spike_counts == I32{0, 0, 1, 0, 0, 1});
    }
}

TEST_CASE("sync and asynchronous F=unlimited give the same spike trains on a feed-forward net") {
    std::mt19937 gen(7);
    for (int trial = 0; trial < 12; ++trial) {
        CAPTURE(trial);
        // Reset to zero with and without refractoriness. (Subtract reset with refractoriness is not
        // covered: a neuron left above threshold spikes in step 0 of the next bin asynchronously but in
        // its own phase synchronously; see the test below.)
        const bool refractory = trial % 2 == 1;
        const Network net = random_feed_forward(gen, 6, {8, 7, 4}, false, refractory);
        const int64_t bins = 15;
        const auto frames = random_frames(gen, 1, bins, net.n_inputs());
        const Counters s = run(net, sync(), frames);
        int64_t total = 0;
        for (const int64_t x : s.population_spikes) total += x;
        for (const Schedule schedule : {Schedule::Momentum, Schedule::Fifo, Schedule::Random}) {
            CAPTURE(name(schedule));
            const Counters a = run(net, async(schedule, 0), frames, static_cast<uint64_t>(trial));
            CHECK(a.spike_counts == s.spike_counts);
            CHECK(a.population_spikes == s.population_spikes);
            CHECK(a.output_counts == s.output_counts);
            CHECK(a.synops == s.synops);
            CHECK(a.neuron_updates == s.neuron_updates);
            CHECK(a.spikes_to_output == s.spikes_to_output);
            CHECK(a.steps_to_output == s.steps_to_output);
            // Layer l spikes in step l asynchronously and in phase l synchronously.
            check_same_events(a.events[0], s.events[0]);
        }
        CHECK(total > 10);  // the comparison is not vacuous
    }
}

TEST_CASE("subtract reset with refractoriness: a neuron left above threshold spikes in step 0 of the next bin") {
    // input -> B (layer 1) -> C (layer 2 = output); A (layer 1) -> C. B carries 3.5 - 1 = 2.5 > 1 into bin 1.
    // Asynchronously, B spikes in step 0 of bin 1 (its potential is above threshold before the step), so C
    // receives B's +2 alone in step 1 and spikes; D's -2, delivered in step 2, is discarded (refractory).
    // Synchronously, C integrates +2 - 2 = 0 in its phase and stays silent.
    NeuronParameters p = uniform_params(4, 1.0, 1.0, 0.0, true, true);
    const Network net(1, {1, 2, 1},
                      p,
                      {dense_projection(-1, 0, {{1.5}}), dense_projection(0, 1, {{3.5}, {2.0}}),
                       dense_projection(1, 2, {{2.0, -2.0}})});
    // neuron 0 = layer 0, neurons 1 (B), 2 (D) = layer 1, neuron 3 (C) = output.
    const std::vector<double> frames{1.0, 1.0};
    const Counters s = run(net, sync(), frames);
    const Counters a = run(net, async(Schedule::Fifo, 0), frames);
    // Bin 0 is the same for both: layer 0 spikes, B (3.5) and D (2.0) spike, C gets 0 and stays silent.
    CHECK(s.spike_counts == I32{1, 1, 1, 0, 1, 1, 1, 0});
    CHECK(a.spike_counts == I32{1, 1, 1, 0, 1, 1, 1, 1});
    CHECK(describe(a.events[0]) == "(0,0,0)(0,1,1)(0,1,2)(1,0,0)(1,0,1)(1,1,2)(1,1,3)");
}

TEST_CASE("a population too large for the cache: scattered rows fetched ahead deliver the same current") {
    // 300,000 neurons keep 2.4 MB of current, more than kCoreCacheBytes: the engine prefetches the targets of
    // scattered rows (all but the last few synapses of a row go through the prefetching loop). Input channel c
    // reaches 20 neurons 14,000 apart with weights 0.585 - 0.025 k; a frame value of 2 gives each twice its
    // weight: targets k <= 3 (2 x 0.51 at least) spike, k >= 4 (2 x 0.485 at most) do not.
    const int32_t n = 300000;
    std::vector<std::vector<std::pair<int32_t, double>>> rows(2);
    for (int32_t c = 0; c < 2; ++c) {
        for (int32_t k = 0; k < 20; ++k) {
            rows[static_cast<size_t>(c)].push_back({c * 1000 + k * 14000, 0.585 - 0.025 * k});
        }
    }
    const Network net(2, {n}, uniform_params(n, 1.0, 1.0), {neuroemu_test::list_projection(-1, 0, rows)});
    for (const bool is_sync : {true, false}) {
        CAPTURE(is_sync);
        const Counters c = run(net, is_sync ? sync() : async(Schedule::Momentum), {2.0, 1.0, 0.0, 1.0});
        for (int32_t k = 0; k < 20; ++k) {
            CAPTURE(k);
            // channel 0 in bin 0 (2 events); channel 1 in bins 0 and 1 (1 event each, no leak): the same
            // potential, reached in bin 1
            CHECK(c.spike_counts[static_cast<size_t>(k * 14000)] == (k <= 3 ? 1 : 0));
            CHECK(c.spike_counts[static_cast<size_t>(n + 1000 + k * 14000)] == (k <= 3 ? 1 : 0));
            CHECK(c.spike_counts[static_cast<size_t>(1000 + k * 14000)] == 0);
        }
        CHECK(c.synops == I64{60, 20});
        CHECK(c.population_spikes == I64{4, 4});
        CHECK(c.neuron_updates == I64{40, 20});
    }
}

TEST_CASE("max_steps_per_bin stops a runaway subtract-reset neuron without refractoriness") {
    NeuronParameters p = uniform_params(1, 1.0, 1.0, 0.0, true, false);
    const Network net(1, {1}, p, {dense_projection(-1, 0, {{1.0}})});
    Engine engine(net);
    SUBCASE("a bounded burst: u = 10, 9, ..., 2 spike, v ends at 1") {
        for (const int64_t limit : {int64_t{0}, int64_t{10}}) {
            CAPTURE(limit);
            RunConfig config = async(Schedule::Momentum);
            config.max_steps_per_bin = limit;
            const Counters c = run(net, config, {10.0});
            CHECK(c.spike_counts == I32{9});
            CHECK(c.forward_steps == I64{10});
            CHECK(c.neuron_updates == I64{9});
        }
        RunConfig config = async(Schedule::Momentum);
        config.max_steps_per_bin = 9;  // the burst needs 10 forward steps
        CHECK_THROWS_AS(run(net, config, {10.0}), ConfigError);
    }
    SUBCASE("a runaway") {
        const std::vector<double> frames{1e12, 0.0};
        Counters c(net, 2);
        RunConfig config = async(Schedule::Fifo);
        config.max_steps_per_bin = 100;
        CHECK_THROWS_AS(engine.run(config, frames.data(), 2, 0, c.view()), ConfigError);
        config.max_steps_per_bin = 0;  // the network's default limit
        Counters d(net, 2);
        CHECK_THROWS_AS(engine.run(config, frames.data(), 2, 0, d.view()), ConfigError);
        // The engine is usable again afterwards and starts from a clean state.
        const std::vector<double> small{3.0};
        Counters e(net, 1);
        engine.run(config, small.data(), 1, 0, e.view());
        CHECK(e.spike_counts == I32{2});
        CHECK(e.forward_steps == I64{3});
    }
    SUBCASE("refractoriness bounds it") {
        p.refractory = {1};
        const Network calm(1, {1}, p, {dense_projection(-1, 0, {{1.0}})});
        RunConfig config = async(Schedule::Fifo);
        config.max_steps_per_bin = 3;
        const Counters c = run(calm, config, {1e12, 0.0});
        CHECK(c.spike_counts == I32{1, 1});  // spikes once per bin, carrying a huge potential
        CHECK(c.forward_steps == I64{2, 2});
    }
}

TEST_CASE("invalid run configurations raise ConfigError") {
    const Network net(1, {1}, uniform_params(1), {dense_projection(-1, 0, {{1.0}})});
    RunConfig config = sync();
    config.group_size = 2;
    CHECK_THROWS_AS(run(net, config, {1.0}), ConfigError);
    config = sync();
    config.prioritize_input = false;
    CHECK_THROWS_AS(run(net, config, {1.0}), ConfigError);
    config = sync();
    config.max_post_output_steps = 0;
    CHECK_THROWS_AS(run(net, config, {1.0}), ConfigError);
    config = async(Schedule::Random, -1);
    CHECK_THROWS_AS(run(net, config, {1.0}), ConfigError);
    config = async(Schedule::Momentum);
    config.max_steps_per_bin = -1;
    CHECK_THROWS_AS(run(net, config, {1.0}), ConfigError);
}

TEST_CASE("EnginePool: a lease's engine serves the next lease; a moved network gets engines of its own") {
    std::mt19937 gen(3);
    Network net = random_feed_forward(gen, 4, {6, 3}, false, true);
    const Engine* first = nullptr;
    {
        EngineLease lease(net);
        first = &lease.engine();
        CHECK(&lease.engine().network() == &net);
    }
    {
        EngineLease a(net);
        EngineLease b(net);  // a second one while the first is out: a new engine
        CHECK(&a.engine() == first);
        CHECK(&b.engine() != first);
    }
    Network moved(std::move(net));
    EngineLease lease(moved);
    CHECK(&lease.engine().network() == &moved);
}

TEST_CASE("run_batch: identical counters for any thread count and batch split (random schedule)") {
    std::mt19937 gen(11);
    // A feed-forward net with a recurrent projection in the hidden layer.
    Network base = random_feed_forward(gen, 5, {10, 6}, false, true);
    NeuronParameters p = base.params();
    std::vector<Projection> projections;
    {
        std::uniform_real_distribution<double> w(-0.5, 0.8);
        std::vector<std::vector<double>> in(10, std::vector<double>(5)), rec(10, std::vector<double>(10)),
            out(6, std::vector<double>(10));
        for (auto* m : {&in, &rec, &out}) {
            for (auto& row : *m) {
                for (double& x : row) x = w(gen);
            }
        }
        projections = {dense_projection(-1, 0, in), dense_projection(0, 0, rec), dense_projection(0, 1, out)};
    }
    const Network net(5, {10, 6}, p, projections);
    const int64_t samples = 9;
    const int64_t bins = 12;
    const auto frames = random_frames(gen, samples, bins, net.n_inputs());
    RunConfig config = async(Schedule::Random, 2);
    config.seed = 1234;

    auto batch = [&](int32_t threads, int64_t first, int64_t count) {
        Counters c(net, bins, count);
        const BatchInput input{{frames.data() + first * bins * net.n_inputs()}, count, bins};
        neuroemu::run_batch(net, config, input, static_cast<uint64_t>(first), c.batch_view(), threads, nullptr);
        return c;
    };
    const Counters one = batch(1, 0, samples);
    int64_t total = 0;
    for (const int64_t x : one.population_spikes) total += x;
    CHECK(total > 50);

    auto same = [](const Counters& a, const Counters& b, int64_t offset_samples, int64_t n_neurons, int64_t n_pop,
                   int64_t n_out) {
        const int64_t bins_ = a.bins;
        auto slice = [&](const auto& v, int64_t per) {
            using V = std::decay_t<decltype(v)>;
            return V(v.begin() + offset_samples * bins_ * per,
                     v.begin() + (offset_samples + static_cast<int64_t>(b.events.size())) * bins_ * per);
        };
        CHECK(slice(a.spike_counts, n_neurons) == b.spike_counts);
        CHECK(slice(a.population_spikes, n_pop) == b.population_spikes);
        CHECK(slice(a.output_counts, n_out) == b.output_counts);
        CHECK(slice(a.forward_steps, 1) == b.forward_steps);
        CHECK(slice(a.synops, 1) == b.synops);
        CHECK(slice(a.neuron_updates, 1) == b.neuron_updates);
        CHECK(slice(a.spikes_to_output, n_out) == b.spikes_to_output);
        CHECK(slice(a.steps_to_output, n_out) == b.steps_to_output);
        for (size_t s = 0; s < b.events.size(); ++s) {
            CHECK(describe(a.events[static_cast<size_t>(offset_samples) + s]) == describe(b.events[s]));
        }
    };
    const int64_t n = net.n_neurons(), n_pop = net.n_populations(), n_out = net.n_outputs();
    same(one, batch(2, 0, samples), 0, n, n_pop, n_out);
    same(one, batch(4, 0, samples), 0, n, n_pop, n_out);
    same(one, batch(2, 4, 5), 4, n, n_pop, n_out);  // samples 4..8 alone, first_index 4

    // run_batch agrees with Engine::run sample by sample, and the seed matters.
    for (int64_t s = 0; s < samples; s += 4) {
        CAPTURE(s);
        const std::vector<double> sample_frames(frames.begin() + s * bins * net.n_inputs(),
                                                frames.begin() + (s + 1) * bins * net.n_inputs());
        const Counters single = run(net, config, sample_frames, static_cast<uint64_t>(s));
        same(one, single, s, n, n_pop, n_out);
    }
    config.seed = 4321;
    const Counters other = batch(2, 0, samples);
    CHECK(describe(other.events[0]) + describe(other.events[1]) != describe(one.events[0]) + describe(one.events[1]));
}

}  // TEST_SUITE

TEST_CASE("an invalid input value raises InputError naming its bin and channel; the engine stays usable") {
    const Network net(2, {1}, uniform_params(1), {dense_projection(-1, 0, {{1.0, 1.0}})});
    Engine engine(net);
    const std::vector<double> bad{1.0, 0.0, 0.0, -2.0};  // bin 1, channel 1
    Counters c(net, 2);
    try {
        engine.run(async(Schedule::Momentum), bad.data(), 2, 0, c.view());
        FAIL("no exception");
    } catch (const InputError& e) {
        CHECK(std::string(e.what()).find("bin 1, channel 1") != std::string::npos);
    }
    const std::vector<double> good{2.0, 0.0};
    Counters d(net, 1);
    engine.run(async(Schedule::Momentum), good.data(), 1, 0, d.view());
    CHECK(d.spike_counts == I32{1});
}
