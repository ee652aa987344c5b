#include <pybind11/numpy.h>

#include "batch_arrays.hpp"
#include "bindings.hpp"
#include "neuroemu/batch.hpp"
#include "neuroemu/errors.hpp"

namespace py = pybind11;

namespace {

py::dict run_batch(const neuroemu::Network& net, int32_t schedule, int64_t group_size, bool prioritize_input,
                   uint64_t seed, int64_t max_post_output_steps, int64_t max_steps_per_bin, int32_t record,
                   const py::array& inputs, int32_t threads, uint64_t first_index) {
    const neuroemu::BatchInput input = neuroemu_bindings::batch_input(inputs, net);
    if (schedule < 0 || schedule > 3 || record < 0 || record > 2) throw neuroemu::ConfigError("unknown option");
    neuroemu::RunConfig config;
    config.schedule = static_cast<neuroemu::Schedule>(schedule);
    config.group_size = group_size;
    config.prioritize_input = prioritize_input;
    config.seed = seed;
    config.max_post_output_steps = max_post_output_steps;
    config.max_steps_per_bin = max_steps_per_bin;
    config.record = static_cast<neuroemu::Record>(record);

    neuroemu_bindings::BinCounterArrays arrays(inputs.shape(0), inputs.shape(1), net, config.record);
    const neuroemu::BatchCounters out = arrays.view();
    neuroemu_bindings::run_interruptible([&](const auto& poll) {
        neuroemu::run_batch(net, config, input, first_index, out, threads, poll);
    });
    return arrays.as_dict();
}

}  // namespace

void bind_run(py::module_& m) {
    m.def("run_batch", &run_batch, py::arg("network"), py::arg("schedule"), py::arg("group_size"),
          py::arg("prioritize_input"), py::arg("seed"), py::arg("max_post_output_steps"),
          py::arg("max_steps_per_bin"), py::arg("record"), py::arg("inputs"), py::arg("threads"),
          py::arg("first_index"));
}
