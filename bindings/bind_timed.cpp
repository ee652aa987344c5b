// The timed hardware model: HardwareModel (mapping + latencies in ps) and run_timed (a batch).
#include <pybind11/numpy.h>

#include "batch_arrays.hpp"
#include "bindings.hpp"
#include "neuroemu/errors.hpp"
#include "neuroemu/timed_engine.hpp"

namespace py = pybind11;
using neuroemu::HardwareModel;

namespace {

template <typename T>
using Array = py::array_t<T, py::array::c_style | py::array::forcecast>;

using neuroemu_bindings::zeros;

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
    if (!frames_or_none.is_none()) {  // read in place, as the step engine reads them
        const neuroemu::BatchInput frames = neuroemu_bindings::batch_input(frames_or_none.cast<py::array>(), net);
        if (frames.bins != bins) throw neuroemu::ConfigError("frames must have shape (samples, bins, n_inputs)");
        input.frames = frames.frames;
        input.samples = frames.samples;
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
    neuroemu_bindings::BinCounterArrays arrays(b, t, net, config.record);
    auto core_busy = zeros<int64_t>({b, py::ssize_t{model.n_cores()}});
    auto first_output = zeros<int64_t>({b, py::ssize_t{net.n_outputs()}});
    auto totals = zeros<int64_t>({b, py::ssize_t{neuroemu::kTimedTotals}});
    std::vector<std::vector<neuroemu::TraceEntry>> traces(trace ? static_cast<size_t>(b) : 0);

    neuroemu::TimedBatchCounters out;
    out.bins = arrays.view();
    out.core_busy = core_busy.mutable_data();
    out.first_output = first_output.mutable_data();
    out.totals = totals.mutable_data();
    out.trace = trace ? &traces : nullptr;

    neuroemu_bindings::run_interruptible([&](const auto& poll) {
        neuroemu::run_timed_batch(net, model, config, input, first_index, out, threads, poll);
    });

    py::dict result = arrays.as_dict();
    result["core_busy_ps"] = core_busy;
    result["first_output_ps"] = first_output;
    result["totals"] = totals;
    if (trace) result["trace"] = neuroemu_bindings::logs_as_arrays<int64_t, 5>(traces);
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
