// The timed hardware model: HardwareModel (mapping + latencies in ps) and run_timed (a batch).
#include <pybind11/numpy.h>

#include "bindings.hpp"
#include "neuroemu/errors.hpp"
#include "neuroemu/timed_engine.hpp"

namespace py = pybind11;
using neuroemu::HardwareModel;

namespace {

template <typename T>
using Array = py::array_t<T, py::array::c_style | py::array::forcecast>;

template <typename T>
py::array_t<T> zeros(std::vector<py::ssize_t> shape) {
    py::array_t<T> a(shape);
    std::fill(a.mutable_data(), a.mutable_data() + a.size(), T{0});
    return a;
}

HardwareModel make_model(const neuroemu::Network& net, const Array<int32_t>& core_first, const Array<int32_t>& tiles,
                         const Array<int64_t>& latencies, int64_t dt_ps, const Array<int32_t>& input_port) {
    if (tiles.ndim() != 2 || tiles.shape(1) != 3) throw neuroemu::ConfigError("tiles must have shape (cores, 3)");
    if (latencies.size() != 9) throw neuroemu::ConfigError("latencies must hold 9 values");
    if (input_port.size() != 3) throw neuroemu::ConfigError("input_port must hold (chip, x, y)");
    std::vector<neuroemu::TileCoord> coords(static_cast<std::size_t>(tiles.shape(0)));
    for (std::size_t c = 0; c < coords.size(); ++c) {
        coords[c] = {tiles.data()[3 * c], tiles.data()[3 * c + 1], tiles.data()[3 * c + 2]};
    }
    const int64_t* l = latencies.data();
    const neuroemu::LatencyTable table{l[0], l[1], l[2], l[3], l[4], l[5], l[6], l[7], l[8]};
    const int32_t* port = input_port.data();
    return HardwareModel(net, std::vector<int32_t>(core_first.data(), core_first.data() + core_first.size()),
                         std::move(coords), table, dt_ps, {port[0], port[1], port[2]});
}

py::dict run_timed(const neuroemu::Network& net, const HardwareModel& model, int32_t schedule, uint64_t seed,
                   int32_t record, bool trace, bool continuous_leak, bool prioritize_input,
                   int64_t max_deliveries_per_bin,
                   const py::object& frames_or_none, const Array<int64_t>& event_times,
                   const Array<int32_t>& event_channels, const Array<int64_t>& event_ptr, int64_t bins,
                   int32_t threads, uint64_t first_index) {
    if (schedule < 0 || schedule > 3 || record < 0 || record > 2) throw neuroemu::ConfigError("unknown option");
    if (bins < 0) throw neuroemu::ConfigError("bins must be >= 0");
    neuroemu::TimedConfig config;
    config.schedule = static_cast<neuroemu::Schedule>(schedule);
    config.seed = seed;
    config.record = static_cast<neuroemu::Record>(record);
    config.trace = trace;
    config.continuous_leak = continuous_leak;
    config.prioritize_input = prioritize_input;
    config.max_deliveries_per_bin = max_deliveries_per_bin;

    neuroemu::TimedBatchInput input;
    Array<double> frames;
    if (!frames_or_none.is_none()) {
        frames = frames_or_none.cast<Array<double>>();
        if (frames.ndim() != 3 || frames.shape(2) != net.n_inputs() || frames.shape(1) != bins) {
            throw neuroemu::ConfigError("frames must have shape (samples, bins, n_inputs)");
        }
        input.frames = frames.data();
        input.samples = frames.shape(0);
    } else {
        if (event_ptr.size() < 1 || event_times.size() != event_channels.size() ||
            event_ptr.data()[event_ptr.size() - 1] != event_times.size()) {
            throw neuroemu::ConfigError("inconsistent event arrays");
        }
        input.event_times = event_times.data();
        input.event_channels = event_channels.data();
        input.event_ptr = event_ptr.data();
        input.samples = event_ptr.size() - 1;
    }
    input.bins = bins;

    const py::ssize_t b = input.samples, t = bins;
    const py::ssize_t n = net.n_neurons(), n_pop = net.n_populations(), n_out = net.n_outputs();
    const py::ssize_t n_cores = model.n_cores();
    const bool per_neuron = config.record != neuroemu::Record::Totals;
    auto spike_counts = per_neuron ? zeros<int32_t>({b, t, n}) : zeros<int32_t>({0});
    auto population_spikes = zeros<int64_t>({b, t, n_pop});
    auto output_counts = zeros<int32_t>({b, t, n_out});
    auto forward_steps = zeros<int64_t>({b, t});
    auto synops = zeros<int64_t>({b, t});
    auto neuron_updates = zeros<int64_t>({b, t});
    auto spikes_to_output = zeros<int64_t>({b, t, n_out});
    auto steps_to_output = zeros<int64_t>({b, t, n_out});
    auto core_busy = zeros<int64_t>({b, n_cores});
    auto first_output = zeros<int64_t>({b, n_out});
    auto totals = zeros<int64_t>({b, py::ssize_t{neuroemu::kTimedTotals}});
    std::vector<std::vector<neuroemu::SpikeEvent>> events(config.record == neuroemu::Record::Spikes ? b : 0);
    std::vector<std::vector<neuroemu::TraceEntry>> traces(trace ? b : 0);

    neuroemu::TimedBatchCounters out;
    out.bins.spike_counts = per_neuron ? spike_counts.mutable_data() : nullptr;
    out.bins.population_spikes = population_spikes.mutable_data();
    out.bins.output_counts = output_counts.mutable_data();
    out.bins.forward_steps = forward_steps.mutable_data();
    out.bins.synops = synops.mutable_data();
    out.bins.neuron_updates = neuron_updates.mutable_data();
    out.bins.spikes_to_output = spikes_to_output.mutable_data();
    out.bins.steps_to_output = steps_to_output.mutable_data();
    out.bins.events = config.record == neuroemu::Record::Spikes ? &events : nullptr;
    out.core_busy = core_busy.mutable_data();
    out.first_output = first_output.mutable_data();
    out.totals = totals.mutable_data();
    out.trace = trace ? &traces : nullptr;

    bool interrupted = false;
    auto poll = [&interrupted]() {
        py::gil_scoped_acquire gil;
        if (PyErr_CheckSignals() != 0) {
            interrupted = true;
            return true;
        }
        return false;
    };
    try {
        py::gil_scoped_release release;
        neuroemu::run_timed_batch(net, model, config, input, first_index, out, threads, poll);
    } catch (const neuroemu::Cancelled&) {
        if (interrupted) throw py::error_already_set();
        throw;
    }

    py::dict result;
    result["spike_counts"] = per_neuron ? py::object(spike_counts) : py::object(py::none());
    result["population_spikes"] = population_spikes;
    result["output_counts"] = output_counts;
    result["forward_steps"] = forward_steps;
    result["synops"] = synops;
    result["neuron_updates"] = neuron_updates;
    result["spikes_to_output"] = spikes_to_output;
    result["steps_to_output"] = steps_to_output;
    result["core_busy_ps"] = core_busy;
    result["first_output_ps"] = first_output;
    result["totals"] = totals;
    if (config.record == neuroemu::Record::Spikes) {
        py::list logs;
        for (const auto& log : events) {
            py::array_t<int32_t> a({static_cast<py::ssize_t>(log.size()), py::ssize_t{3}});
            std::copy(reinterpret_cast<const int32_t*>(log.data()),
                      reinterpret_cast<const int32_t*>(log.data()) + 3 * log.size(), a.mutable_data());
            logs.append(a);
        }
        result["events"] = logs;
    }
    if (trace) {
        py::list logs;
        for (const auto& log : traces) {
            py::array_t<int64_t> a({static_cast<py::ssize_t>(log.size()), py::ssize_t{5}});
            std::copy(reinterpret_cast<const int64_t*>(log.data()),
                      reinterpret_cast<const int64_t*>(log.data()) + 5 * log.size(), a.mutable_data());
            logs.append(a);
        }
        result["trace"] = logs;
    }
    return result;
}

}  // namespace

void bind_timed(py::module_& m) {
    py::class_<HardwareModel>(m, "HardwareModel")
        .def(py::init(&make_model), py::arg("network"), py::arg("core_first"), py::arg("tiles"),
             py::arg("latencies_ps"), py::arg("dt_ps"), py::arg("input_port"))
        .def_property_readonly("n_cores", &HardwareModel::n_cores);
    m.attr("TIMED_TOTALS") = py::make_tuple("messages", "input_messages", "in_tile_messages", "hops_east_west",
                                            "hops_north_south", "chip_crossings", "barriers", "inactive_updates",
                                            "deliveries", "duration_ps");
    m.def("run_timed", &run_timed, py::arg("network"), py::arg("model"), py::arg("schedule"), py::arg("seed"),
          py::arg("record"), py::arg("trace"), py::arg("continuous_leak"), py::arg("prioritize_input"),
          py::arg("max_deliveries_per_bin"),
          py::arg("frames"), py::arg("event_times"), py::arg("event_channels"), py::arg("event_ptr"),
          py::arg("bins"), py::arg("threads"), py::arg("first_index"));
}
