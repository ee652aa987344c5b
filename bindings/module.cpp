#include <pybind11/pybind11.h>

#include "bindings.hpp"
#include "neuroemu/errors.hpp"

namespace py = pybind11;

PYBIND11_MODULE(_core, m) {
    m.doc() = "neuroemu's C++ event engine (private: use the neuroemu package)";
    // Engine errors arrive as neuroemu's own exception classes (which also derive from the builtins).
    py::register_exception_translator([](std::exception_ptr p) {
        try {
            if (p) std::rethrow_exception(p);
        } catch (const neuroemu::InputError& e) {
            py::object cls = py::module_::import("neuroemu.errors").attr("InputError");
            PyErr_SetString(cls.ptr(), e.what());
        } catch (const neuroemu::ConfigError& e) {
            py::object cls = py::module_::import("neuroemu.errors").attr("ConfigError");
            PyErr_SetString(cls.ptr(), e.what());
        }
    });
    bind_network(m);
    bind_run(m);
    bind_timed(m);
    bind_trace(m);
    bind_replay(m);
}
