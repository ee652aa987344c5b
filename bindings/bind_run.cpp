#include <pybind11/numpy.h>

#include "bindings.hpp"
#include "neuroemu/batch.hpp"
#include "neuroemu/errors.hpp"

namespace py = pybind11;

namespace {

template <typename T>
py::array_t<T> zeros(std::vector<py::ssize_t> shape) {
    py::array_t<T> a(shape);
    std::fill(a.mutable_data(), a.mutable_data() + a.size(), T{0});
    return a;
}

py::dict run_batch(const neuroemu::Network& net, int32_t schedule, int64_t group_size, bool prioritize_input,
                   uint64_t seed, int64_t max_post_output_steps, int64_t max_steps_per_bin, int32_t record,
                   const py::array_t<double, py::array::c_style | py::array::forcecast>& inputs, int32_t threads,
                   uint64_t first_index) {
    if (inputs.ndim() != 3 || inputs.shape(2) != net.n_inputs()) {
        throw neuroemu::ConfigError("inputs must have shape (samples, bins, n_inputs)");
    }
    if (schedule < 0 || schedule > 3 || record < 0 || record > 2) throw neuroemu::ConfigError("unknown option");
    neuroemu::RunConfig config;
    config.schedule = static_cast<neuroemu::Schedule>(schedule);
    config.group_size = group_size;
    config.prioritize_input = prioritize_input;
    config.seed = seed;
    config.max_post_output_steps = max_post_output_steps;
    config.max_steps_per_bin = max_steps_per_bin;
    config.record = static_cast<neuroemu::Record>(record);

    const py::ssize_t b = inputs.shape(0), t = inputs.shape(1);
    const py::ssize_t n = net.n_neurons(), n_pop = net.n_populations(), n_out = net.n_outputs();
    const bool per_neuron = config.record != neuroemu::Record::Totals;
    auto spike_counts = per_neuron ? zeros<int32_t>({b, t, n}) : zeros<int32_t>({0});
    auto population_spikes = zeros<int64_t>({b, t, n_pop});
    auto output_counts = zeros<int32_t>({b, t, n_out});
    auto forward_steps = zeros<int64_t>({b, t});
    auto synops = zeros<int64_t>({b, t});
    auto neuron_updates = zeros<int64_t>({b, t});
    auto spikes_to_output = zeros<int64_t>({b, t, n_out});
    auto steps_to_output = zeros<int64_t>({b, t, n_out});
    std::vector<std::vector<neuroemu::SpikeEvent>> events(config.record == neuroemu::Record::Spikes ? b : 0);

    neuroemu::BatchCounters out;
    out.spike_counts = per_neuron ? spike_counts.mutable_data() : nullptr;
    out.population_spikes = population_spikes.mutable_data();
    out.output_counts = output_counts.mutable_data();
    out.forward_steps = forward_steps.mutable_data();
    out.synops = synops.mutable_data();
    out.neuron_updates = neuron_updates.mutable_data();
    out.spikes_to_output = spikes_to_output.mutable_data();
    out.steps_to_output = steps_to_output.mutable_data();
    out.events = config.record == neuroemu::Record::Spikes ? &events : nullptr;

    bool interrupted = false;
    auto poll = [&interrupted]() {
        py::gil_scoped_acquire gil;
        if (PyErr_CheckSignals() != 0) {
            interrupted = true;  // the KeyboardInterrupt stays set as Python's pending error
            return true;
        }
        return false;
    };
    try {
        py::gil_scoped_release release;
        neuroemu::run_batch(net, config, {inputs.data(), b, t}, first_index, out, threads, poll);
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
    return result;
}

}  // namespace

void bind_run(py::module_& m) {
    m.def("run_batch", &run_batch, py::arg("network"), py::arg("schedule"), py::arg("group_size"),
          py::arg("prioritize_input"), py::arg("seed"), py::arg("max_post_output_steps"),
          py::arg("max_steps_per_bin"), py::arg("record"), py::arg("inputs"), py::arg("threads"),
          py::arg("first_index"));
}
