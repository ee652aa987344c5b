#include "neuroemu/hardware_model.hpp"

#include <cstdint>
#include <string>

#include "neuroemu/errors.hpp"
#include "neuroemu/timed_engine.hpp"  // TimedEnginePool, complete for the destructor

namespace neuroemu {

HardwareModel::HardwareModel(const Network& network, std::vector<int32_t> core_first, std::vector<TileCoord> tiles,
                             const LatencyTable& latency, int64_t dt, TileCoord input_port)
    : n_inputs_(network.n_inputs()),
      n_neurons_(network.n_neurons()),
      n_synapses_(network.n_synapses()),
      core_first_(std::move(core_first)),
      tiles_(std::move(tiles)),
      latency_(latency),
      dt_(dt),
      input_port_(input_port),
      engine_pool_(std::make_unique<TimedEnginePool>()) {
    if (dt_ < 1) throw ConfigError("dt must be at least 1 ps");
    const int64_t costs[] = {latency.synop,    latency.neuron_active,   latency.neuron_inactive,
                             latency.spike_out, latency.message,        latency.hop_east_west,
                             latency.hop_north_south, latency.chip_hop, latency.barrier};
    for (const int64_t c : costs) {
        if (c < 0) throw ConfigError("latencies must be >= 0");
    }
    const std::size_t n_cores = tiles_.size();
    if (n_cores == 0 || core_first_.size() != n_cores + 1) {
        throw ConfigError("core_first must hold one entry per core plus one");
    }
    if (core_first_.front() != 0 || core_first_.back() != n_neurons_) {
        throw ConfigError("the cores must hold neurons 0 .. n_neurons-1");
    }
    core_of_.resize(static_cast<std::size_t>(n_neurons_));
    core_population_.resize(n_cores);
    for (std::size_t c = 0; c < n_cores; ++c) {
        const int32_t first = core_first_[c];
        const int32_t last = core_first_[c + 1];
        if (last <= first) throw ConfigError("core " + std::to_string(c) + " holds no neurons");
        const int32_t population = network.population_of(first);
        if (network.population_of(last - 1) != population) {
            throw ConfigError("core " + std::to_string(c) + " holds neurons of two populations");
        }
        core_population_[c] = population;
        const TileCoord& t = tiles_[c];
        if (t.chip < 0 || t.x < 0 || t.y < 0) throw ConfigError("tile coordinates must be >= 0");
        for (int32_t i = first; i < last; ++i) core_of_[static_cast<std::size_t>(i)] = static_cast<int32_t>(c);
    }
    if (input_port.chip < 0 || input_port.x < 0 || input_port.y < 0) {
        throw ConfigError("input port coordinates must be >= 0");
    }
    route_ptr_.reserve(static_cast<std::size_t>(n_inputs_) + static_cast<std::size_t>(n_neurons_) + 1);
    route_ptr_.push_back(0);
    for (int32_t c = 0; c < n_inputs_; ++c) {
        add_routes(network.input_fanout().row(c));
        route_ptr_.push_back(static_cast<int64_t>(routes_.size()));
    }
    for (int32_t i = 0; i < n_neurons_; ++i) {
        add_routes(network.neuron_fanout().row(i));
        route_ptr_.push_back(static_cast<int64_t>(routes_.size()));
    }
}

void HardwareModel::add_routes(const FanOut& row) {
    // The row is sorted by target and every core holds a contiguous range of neurons, so the synapses onto
    // one core form one contiguous run.
    if (row.size > INT32_MAX) throw ConfigError("a fan-out row holds more than 2^31 - 1 synapses");
    const auto size = static_cast<int32_t>(row.size);
    int32_t s = 0;
    while (s < size) {
        const int32_t core = core_of(row.targets[s]);
        const int32_t last = core_first_[static_cast<std::size_t>(core) + 1];
        Route r{};
        r.core = core;
        r.begin = s;
        r.touched = 0;
        int32_t previous = -1;
        for (; s < size && row.targets[s] < last; ++s) {
            if (row.targets[s] != previous) ++r.touched;
            previous = row.targets[s];
        }
        r.end = s;
        routes_.push_back(r);
    }
}

bool HardwareModel::fits(const Network& network) const {
    return network.n_inputs() == n_inputs_ && network.n_neurons() == n_neurons_ &&
           network.n_synapses() == n_synapses_;
}

HardwareModel::~HardwareModel() = default;
// (Engines kept in the pool refer to the model's old address: the pool's take() drops them.)
HardwareModel::HardwareModel(HardwareModel&& other) noexcept = default;
HardwareModel& HardwareModel::operator=(HardwareModel&& other) noexcept = default;

}  // namespace neuroemu
