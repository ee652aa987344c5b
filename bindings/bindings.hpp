// Declarations shared by the binding files (one per engine area).
#pragma once

#include <pybind11/pybind11.h>

void bind_network(pybind11::module_& m);
void bind_run(pybind11::module_& m);
void bind_timed(pybind11::module_& m);
void bind_trace(pybind11::module_& m);
void bind_replay(pybind11::module_& m);
