// The timed model's event queue (a total order on (time, seq)) and an analytic chain across cores.
#include <doctest/doctest.h>

#include <algorithm>
#include <cstdint>
#include <random>
#include <tuple>
#include <vector>

#include "neuroemu/event_queue.hpp"
#include "neuroemu/hardware_model.hpp"
#include "neuroemu/network.hpp"
#include "neuroemu/recorder.hpp"
#include "neuroemu/timed_engine.hpp"
#include "test_helpers.hpp"

using neuroemu::EventQueue;
using neuroemu::HardwareModel;
using neuroemu::InputEvent;
using neuroemu::LatencyTable;
using neuroemu::Network;
using neuroemu::Schedule;
using neuroemu::TileCoord;
using neuroemu::TimedConfig;
using neuroemu::TimedEngine;
using neuroemu::TimedSampleCounters;
using neuroemu::TraceEntry;

TEST_CASE("event queue pops the smallest (time, push order) present, and names its time, like a brute-force scan") {
    std::mt19937 gen(11);
    for (int round = 0; round < 50; ++round) {
        EventQueue<int> queue;
        std::vector<std::pair<int64_t, int>> present;  // (time, push index) pushed and not yet popped
        int next = 0;
        for (int op = 0; op < 400; ++op) {
            if (present.empty() || gen() % 3 != 0) {
                const auto time = static_cast<int64_t>(gen() % 6);  // many equal times
                queue.push(time, next);
                present.emplace_back(time, next++);
            } else {
                const auto smallest = std::min_element(present.begin(), present.end());
                const auto e = queue.pop();
                CHECK(e.time == smallest->first);
                CHECK(*e.payload == smallest->second);
                CHECK(e.seq == static_cast<uint64_t>(smallest->second));
                present.erase(smallest);
            }
            CHECK(queue.size() == present.size());
            CHECK(queue.next_time() ==
                  (present.empty() ? INT64_MAX : std::min_element(present.begin(), present.end())->first));
        }
    }
}

TEST_CASE("event queue: equal times come out in push order") {
    EventQueue<int> queue;
    for (int k = 0; k < 100; ++k) queue.push(5, k);
    queue.push(3, -1);
    CHECK(*queue.pop().payload == -1);
    for (int k = 0; k < 100; ++k) {
        const auto e = queue.pop();
        CHECK(e.time == 5);
        CHECK(*e.payload == k);
        CHECK(e.seq == static_cast<uint64_t>(k));
    }
    CHECK(queue.empty());
}

namespace {

// input -> n0 -> ... -> n(k-1), weight 2 > threshold 1, one neuron per core, cores in a row of tiles.
Network chain(int32_t k) {
    std::vector<neuroemu::Projection> projections;
    projections.push_back(neuroemu_test::dense_projection(-1, 0, {{2.0}}));
    for (int32_t p = 1; p < k; ++p) projections.push_back(neuroemu_test::dense_projection(p - 1, p, {{2.0}}));
    return Network(1, std::vector<int32_t>(static_cast<std::size_t>(k), 1), neuroemu_test::uniform_params(k),
                   projections);
}

struct TimedCounters {
    std::vector<int32_t> spike_counts;
    std::vector<int64_t> population_spikes, forward_steps, synops, neuron_updates;
    std::vector<int32_t> output_counts;
    std::vector<int64_t> spikes_to_output, steps_to_output, core_busy, first_output, totals;
    std::vector<TraceEntry> trace;
    TimedSampleCounters view;

    TimedCounters(const Network& net, int64_t bins, int32_t cores)
        : spike_counts(static_cast<std::size_t>(bins * net.n_neurons())),
          population_spikes(static_cast<std::size_t>(bins * net.n_populations())),
          forward_steps(static_cast<std::size_t>(bins)),
          synops(static_cast<std::size_t>(bins)),
          neuron_updates(static_cast<std::size_t>(bins)),
          output_counts(static_cast<std::size_t>(bins * net.n_outputs())),
          spikes_to_output(static_cast<std::size_t>(bins * net.n_outputs())),
          steps_to_output(static_cast<std::size_t>(bins * net.n_outputs())),
          core_busy(static_cast<std::size_t>(cores)),
          first_output(static_cast<std::size_t>(net.n_outputs())),
          totals(neuroemu::kTimedTotals) {
        view.bins.spike_counts = spike_counts.data();
        view.bins.population_spikes = population_spikes.data();
        view.bins.output_counts = output_counts.data();
        view.bins.forward_steps = forward_steps.data();
        view.bins.synops = synops.data();
        view.bins.neuron_updates = neuron_updates.data();
        view.bins.spikes_to_output = spikes_to_output.data();
        view.bins.steps_to_output = steps_to_output.data();
        view.core_busy = core_busy.data();
        view.first_output = first_output.data();
        view.totals = totals.data();
        view.trace = &trace;
    }
};

}  // namespace

TEST_CASE("a spike crosses a chain of k cores: latency by hand") {
    // ps: synop 3000, active 5000, inactive 1000, spike out 500, in-tile 2000, east-west hop 7000,
    // north-south 11000, chip 0, barrier 100000
    const LatencyTable lat{3000, 5000, 1000, 500, 2000, 7000, 11000, 0, 100000};
    const int64_t dt = 1000000000;  // 1 ms
    for (const Schedule schedule : {Schedule::Fifo, Schedule::Sync}) {
        for (int32_t k = 1; k <= 4; ++k) {
            const Network net = chain(k);
            std::vector<int32_t> core_first;
            std::vector<TileCoord> tiles;
            for (int32_t c = 0; c <= k; ++c) core_first.push_back(c);
            for (int32_t c = 0; c < k; ++c) tiles.push_back({0, c, 0});
            const HardwareModel model(net, core_first, tiles, lat, dt, {0, 0, 0});
            TimedEngine engine(net, model);
            TimedCounters out(net, 1, k);
            TimedConfig config;
            config.schedule = schedule;
            config.trace = true;
            engine.run(config, {InputEvent{0, 0, 1.0}}, 1, 0, out.view);
            const int64_t barrier = schedule == Schedule::Sync ? lat.barrier : 0;
            // in-tile input 2 ns, then synop + update 8 ns per core, spike_out + one hop (+ barrier) between
            const int64_t expected = 2000 + 8000 + (k - 1) * (500 + 7000 + barrier + 8000);
            CHECK(out.first_output[0] == expected);
            CHECK(out.totals[neuroemu::kMessages] == k);
            CHECK(out.totals[neuroemu::kInTileMessages] == 1);
            CHECK(out.totals[neuroemu::kHopsEastWest] == k - 1);
            CHECK(out.totals[neuroemu::kInactiveUpdates] == k);
            CHECK(out.totals[neuroemu::kDuration] == dt);
            for (int32_t c = 0; c < k; ++c) CHECK(out.core_busy[static_cast<std::size_t>(c)] == 1000 + 8000);
            for (const TraceEntry& e : out.trace) CHECK(e.start >= e.arrival);
        }
    }
}
