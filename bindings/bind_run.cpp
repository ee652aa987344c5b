#include <pybind11/numpy.h>

#include <string>

#include "batch_arrays.hpp"
#include "bindings.hpp"
#include "neuroemu/batch.hpp"
#include "neuroemu/engine.hpp"
#include "neuroemu/errors.hpp"

namespace py = pybind11;

namespace {

py::dict run_batch(const neuroemu::Network& net, int32_t schedule, int64_t group_size, bool prioritize_input,
                   uint64_t seed, int64_t max_post_output_steps, int64_t max_steps_per_bin, int32_t record,
                   const py::array& inputs, int32_t threads, uint64_t first_index) {
    const neuroemu::BatchInput input = neuroemu_bindings::batch_input(inputs, net);
    const neuroemu::RunConfig config = neuroemu_bindings::run_config(
        schedule, group_size, prioritize_input, seed, max_post_output_steps, max_steps_per_bin, record);

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
    m.def("kernel_set", [] { return std::string(neuroemu::kernel_set()); },
          "The instruction set of the engine's vector kernels (NEUROEMU_KERNELS selects another one)");
}
