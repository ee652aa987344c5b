// What the timed engine knows of a hardware profile: a latency table in integer picoseconds and the
// mapping of neurons to cores and of cores to mesh tiles, with the routes of every source precomputed.
// Energies stay in Python (the engine counts operations; energy = counts x costs).
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "neuroemu/network.hpp"

namespace neuroemu {

// Latencies of the operations in integer picoseconds, all >= 0.
struct LatencyTable {
    int64_t synop = 0;
    int64_t neuron_active = 0;
    int64_t neuron_inactive = 0;
    int64_t spike_out = 0;
    int64_t message = 0;        // to a core in the same tile
    int64_t hop_east_west = 0;  // per tile hop along x
    int64_t hop_north_south = 0;
    int64_t chip_hop = 0;       // per chip boundary crossed
    int64_t barrier = 0;
};

// Where a core sits: chip index and global tile coordinates (chips side by side along x).
struct TileCoord {
    int32_t chip = 0;
    int32_t x = 0;
    int32_t y = 0;
};

// One destination core of a source (input channel or neuron) with the synapses it holds. 16 bytes: a large
// network has millions (4.6 million for 10^7 random synapses on Loihi-sized cores), read at random as spikes
// go out; the hops follow from the two tiles (TimedEngine::count_route).
struct Route {
    int32_t core;
    int32_t touched;  // distinct local targets
    int32_t begin;    // synapse range [begin, end) within the source's fan-out row
    int32_t end;
};
static_assert(sizeof(Route) == 16, "four routes per cache line");

class TimedEnginePool;  // timed_engine.hpp

class HardwareModel {
public:
    // core_first: (cores + 1) ascending neuron indices; core c holds [core_first[c], core_first[c+1]), all in
    // one population. tiles: one per core. input_port: where input events enter the mesh. dt: bin width in
    // ps. Throws ConfigError when the mapping does not fit the network.
    HardwareModel(const Network& network, std::vector<int32_t> core_first, std::vector<TileCoord> tiles,
                  const LatencyTable& latency, int64_t dt, TileCoord input_port);

    int32_t n_cores() const { return static_cast<int32_t>(tiles_.size()); }
    int32_t core_of(int32_t neuron) const { return core_of_[static_cast<std::size_t>(neuron)]; }
    int32_t core_first(int32_t core) const { return core_first_[static_cast<std::size_t>(core)]; }
    int32_t core_population(int32_t core) const { return core_population_[static_cast<std::size_t>(core)]; }
    const TileCoord& tile(int32_t core) const { return tiles_[static_cast<std::size_t>(core)]; }
    const LatencyTable& latency() const { return latency_; }
    int64_t dt() const { return dt_; }

    // Routes of entry e: input channel c is entry c, neuron i is entry n_inputs + i.
    const Route* routes_begin(int64_t entry) const { return routes_.data() + route_ptr_[static_cast<std::size_t>(entry)]; }
    const Route* routes_end(int64_t entry) const { return routes_.data() + route_ptr_[static_cast<std::size_t>(entry) + 1]; }
    const Route& route(int64_t index) const { return routes_[static_cast<std::size_t>(index)]; }
    // Where entry e's messages leave from: the input port, or the tile of the neuron's core.
    const TileCoord& source_tile(int64_t entry) const {
        if (entry < n_inputs_) return input_port_;
        return tiles_[static_cast<std::size_t>(core_of_[static_cast<std::size_t>(entry - n_inputs_)])];
    }
    int64_t route_index(const Route* r) const { return r - routes_.data(); }

    // Consistency with the network the model was built for.
    bool fits(const Network& network) const;

    // The timed engines of this model's runs, kept for its next runs (TimedEngineLease).
    TimedEnginePool& engine_pool() const { return *engine_pool_; }
    ~HardwareModel();
    HardwareModel(HardwareModel&& other) noexcept;
    HardwareModel& operator=(HardwareModel&& other) noexcept;

private:
    void add_routes(const FanOut& row);

    int32_t n_inputs_;
    int32_t n_neurons_;
    int64_t n_synapses_;
    std::vector<int32_t> core_first_;
    std::vector<int32_t> core_of_;
    std::vector<int32_t> core_population_;
    std::vector<TileCoord> tiles_;
    LatencyTable latency_;
    int64_t dt_;
    TileCoord input_port_;
    std::vector<int64_t> route_ptr_;
    std::vector<Route> routes_;
    std::unique_ptr<TimedEnginePool> engine_pool_;
};

}  // namespace neuroemu
