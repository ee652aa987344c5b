#include <pybind11/numpy.h>
#include <pybind11/stl.h>

#include <tuple>

#include "bindings.hpp"
#include "neuroemu/network.hpp"

namespace py = pybind11;
using neuroemu::Network;

namespace {

template <typename T>
std::vector<T> to_vector(const py::array_t<T, py::array::c_style | py::array::forcecast>& a) {
    return std::vector<T>(a.data(), a.data() + a.size());
}

using ProjectionTuple = std::tuple<int32_t, int32_t, py::array_t<int64_t, py::array::c_style | py::array::forcecast>,
                                   py::array_t<int32_t, py::array::c_style | py::array::forcecast>,
                                   py::array_t<double, py::array::c_style | py::array::forcecast>>;

Network make_network(int32_t n_inputs, std::vector<int32_t> sizes,
                     const py::array_t<double, py::array::c_style | py::array::forcecast>& threshold,
                     const py::array_t<double, py::array::c_style | py::array::forcecast>& beta,
                     const py::array_t<double, py::array::c_style | py::array::forcecast>& bias,
                     const py::array_t<uint8_t, py::array::c_style | py::array::forcecast>& subtract_reset,
                     const py::array_t<uint8_t, py::array::c_style | py::array::forcecast>& refractory,
                     const std::vector<ProjectionTuple>& projections) {
    neuroemu::NeuronParameters params{to_vector(threshold), to_vector(beta), to_vector(bias),
                                      to_vector(subtract_reset), to_vector(refractory)};
    std::vector<neuroemu::Projection> projs;
    projs.reserve(projections.size());
    for (const auto& [source, target, indptr, indices, weights] : projections) {
        projs.push_back({source, target, to_vector(indptr), to_vector(indices), to_vector(weights)});
    }
    return Network(n_inputs, std::move(sizes), std::move(params), projs);
}

}  // namespace

void bind_network(py::module_& m) {
    py::class_<Network>(m, "Network")
        .def(py::init(&make_network), py::arg("n_inputs"), py::arg("population_sizes"), py::arg("threshold"),
             py::arg("beta"), py::arg("bias"), py::arg("subtract_reset"), py::arg("refractory"),
             py::arg("projections"))
        .def_property_readonly("n_inputs", &Network::n_inputs)
        .def_property_readonly("n_neurons", &Network::n_neurons)
        .def_property_readonly("n_populations", &Network::n_populations)
        .def_property_readonly("n_outputs", &Network::n_outputs)
        .def_property_readonly("n_synapses", &Network::n_synapses);
}
