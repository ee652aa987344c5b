// The step engine's schedule record for the training simulator (neuroemu.torch): every spike and every
// emitted queue entry of a batch, as flat arrays. A separate entry point from run_batch, so that the
// record's layout can follow the simulator's needs without touching the public run path.
#include <pybind11/numpy.h>

#include <vector>

#include "batch_arrays.hpp"
#include "bindings.hpp"
#include "neuroemu/batch.hpp"
#include "neuroemu/errors.hpp"

namespace py = pybind11;

namespace {

py::dict run_batch_record(const neuroemu::Network& net, int32_t schedule, int64_t group_size, bool prioritize_input,
                          uint64_t seed, int64_t max_post_output_steps, int64_t max_steps_per_bin,
                          const py::array& inputs, int32_t threads, uint64_t first_index) {
    const neuroemu::BatchInput input = neuroemu_bindings::batch_input(inputs, net);
    if (schedule < 1 || schedule > 3) throw neuroemu::ConfigError("the record needs an asynchronous schedule");
    const neuroemu::RunConfig config =
        neuroemu_bindings::run_config(schedule, group_size, prioritize_input, seed, max_post_output_steps,
                                      max_steps_per_bin, static_cast<int32_t>(neuroemu::Record::Totals));

    const py::ssize_t samples = inputs.shape(0);
    neuroemu_bindings::BinCounterArrays arrays(samples, inputs.shape(1), net, config.record);
    std::vector<std::vector<neuroemu::SpikeEvent>> spikes(static_cast<size_t>(samples));
    std::vector<std::vector<neuroemu::EmissionEvent>> emissions(static_cast<size_t>(samples));
    neuroemu::BatchCounters out = arrays.view();
    out.events = &spikes;
    out.emissions = &emissions;
    neuroemu_bindings::run_interruptible([&](const auto& poll) {
        neuroemu::run_batch(net, config, input, first_index, out, threads, poll);
    });

    // (n, 4) int32 rows (sample, bin, step, neuron); (m, 4) int32 rows (sample, bin, step, entry) with the
    // (m,) float64 multiplicities
    py::ssize_t n_spikes = 0;
    py::ssize_t n_emitted = 0;
    for (py::ssize_t b = 0; b < samples; ++b) {
        n_spikes += static_cast<py::ssize_t>(spikes[static_cast<size_t>(b)].size());
        n_emitted += static_cast<py::ssize_t>(emissions[static_cast<size_t>(b)].size());
    }
    py::array_t<int32_t> spike_rows({n_spikes, py::ssize_t{4}});
    py::array_t<int32_t> emission_rows({n_emitted, py::ssize_t{4}});
    py::array_t<double> multiplicity(n_emitted);
    int32_t* s = spike_rows.mutable_data();
    int32_t* e = emission_rows.mutable_data();
    double* m = multiplicity.mutable_data();
    for (py::ssize_t b = 0; b < samples; ++b) {
        const auto sample = static_cast<int32_t>(b);
        for (const auto& ev : spikes[static_cast<size_t>(b)]) {
            *s++ = sample;
            *s++ = ev.bin;
            *s++ = ev.step;
            *s++ = ev.neuron;
        }
        for (const auto& ev : emissions[static_cast<size_t>(b)]) {
            *e++ = sample;
            *e++ = ev.bin;
            *e++ = ev.step;
            *e++ = ev.entry;
            *m++ = ev.multiplicity;
        }
    }
    py::dict result;
    result["forward_steps"] = arrays.forward_steps;
    result["synops"] = arrays.synops;
    result["spikes"] = spike_rows;
    result["emissions"] = emission_rows;
    result["multiplicity"] = multiplicity;
    return result;
}

}  // namespace

void bind_trace(py::module_& m) {
    m.def("run_batch_record", &run_batch_record, py::arg("network"), py::arg("schedule"), py::arg("group_size"),
          py::arg("prioritize_input"), py::arg("seed"), py::arg("max_post_output_steps"),
          py::arg("max_steps_per_bin"), py::arg("inputs"), py::arg("threads"), py::arg("first_index"));
}
