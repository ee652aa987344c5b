// What the step and timed batch bindings share: the NumPy arrays a batch writes its per-bin counters
// into, the conversion of per-sample logs to arrays, and running with the GIL released while Ctrl-C
// still cancels.
#pragma once

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <algorithm>
#include <vector>

#include "neuroemu/batch.hpp"
#include "neuroemu/errors.hpp"
#include "neuroemu/network.hpp"
#include "neuroemu/recorder.hpp"
#include "neuroemu/run_config.hpp"

namespace neuroemu_bindings {

namespace py = pybind11;

// A batch's input frames: a C-contiguous (samples, bins, n_inputs) array of float64, float32, uint8 or bool
// (read in place, never converted).
inline neuroemu::BatchInput batch_input(const py::array& inputs, const neuroemu::Network& net) {
    if (inputs.ndim() != 3 || inputs.shape(2) != net.n_inputs()) {
        throw neuroemu::ConfigError("inputs must have shape (samples, bins, n_inputs)");
    }
    if ((inputs.flags() & py::array::c_style) == 0) throw neuroemu::ConfigError("inputs must be C-contiguous");
    neuroemu::InputType type;
    if (py::isinstance<py::array_t<double>>(inputs)) {
        type = neuroemu::InputType::Float64;
    } else if (py::isinstance<py::array_t<float>>(inputs)) {
        type = neuroemu::InputType::Float32;
    } else if (py::isinstance<py::array_t<uint8_t>>(inputs) || py::isinstance<py::array_t<bool>>(inputs)) {
        type = neuroemu::InputType::UInt8;
    } else {
        throw neuroemu::ConfigError("inputs must be float64, float32, uint8 or bool");
    }
    return {{inputs.data(), type}, inputs.shape(0), inputs.shape(1)};
}

// The step engine's options as the bindings receive them (codes as in neuroemu/emulator.py).
inline neuroemu::RunConfig run_config(int32_t schedule, int64_t group_size, bool prioritize_input, uint64_t seed,
                                      int64_t max_post_output_steps, int64_t max_steps_per_bin, int32_t record) {
    if (schedule < 0 || schedule > 3 || record < 0 || record > 2) throw neuroemu::ConfigError("unknown option");
    neuroemu::RunConfig config;
    config.schedule = static_cast<neuroemu::Schedule>(schedule);
    config.group_size = group_size;
    config.prioritize_input = prioritize_input;
    config.seed = seed;
    config.max_post_output_steps = max_post_output_steps;
    config.max_steps_per_bin = max_steps_per_bin;
    config.record = static_cast<neuroemu::Record>(record);
    return config;
}

template <typename T>
py::array_t<T> zeros(std::vector<py::ssize_t> shape) {
    py::array_t<T> a(shape);
    std::fill(a.mutable_data(), a.mutable_data() + a.size(), T{0});
    return a;
}

// Per-sample logs of fixed-width records (e.g. SpikeEvent = 3 x int32) as a list of (n, Width) arrays.
template <typename Scalar, py::ssize_t Width, typename Record>
py::list logs_as_arrays(const std::vector<std::vector<Record>>& logs) {
    static_assert(sizeof(Record) == Width * sizeof(Scalar), "records must be packed scalars");
    py::list out;
    for (const auto& log : logs) {
        py::array_t<Scalar> a({static_cast<py::ssize_t>(log.size()), Width});
        const auto* first = reinterpret_cast<const Scalar*>(log.data());
        std::copy(first, first + Width * static_cast<py::ssize_t>(log.size()), a.mutable_data());
        out.append(a);
    }
    return out;
}

// The per-bin counters of a batch of `samples` x `bins`, zero-filled as the engines require.
struct BinCounterArrays {
    BinCounterArrays(py::ssize_t samples, py::ssize_t bins, const neuroemu::Network& net, neuroemu::Record record)
        : per_neuron(record != neuroemu::Record::Totals),
          keep_events(record == neuroemu::Record::Spikes),
          spike_counts(per_neuron ? zeros<int32_t>({samples, bins, net.n_neurons()}) : zeros<int32_t>({0})),
          population_spikes(zeros<int64_t>({samples, bins, net.n_populations()})),
          output_counts(zeros<int32_t>({samples, bins, net.n_outputs()})),
          forward_steps(zeros<int64_t>({samples, bins})),
          synops(zeros<int64_t>({samples, bins})),
          neuron_updates(zeros<int64_t>({samples, bins})),
          spikes_to_output(zeros<int64_t>({samples, bins, net.n_outputs()})),
          steps_to_output(zeros<int64_t>({samples, bins, net.n_outputs()})),
          events(keep_events ? static_cast<size_t>(samples) : 0) {}

    neuroemu::BatchCounters view() {
        neuroemu::BatchCounters out;
        out.spike_counts = per_neuron ? spike_counts.mutable_data() : nullptr;
        out.population_spikes = population_spikes.mutable_data();
        out.output_counts = output_counts.mutable_data();
        out.forward_steps = forward_steps.mutable_data();
        out.synops = synops.mutable_data();
        out.neuron_updates = neuron_updates.mutable_data();
        out.spikes_to_output = spikes_to_output.mutable_data();
        out.steps_to_output = steps_to_output.mutable_data();
        out.events = keep_events ? &events : nullptr;
        return out;
    }

    py::dict as_dict() const {
        py::dict result;
        result["spike_counts"] = per_neuron ? py::object(spike_counts) : py::object(py::none());
        result["population_spikes"] = population_spikes;
        result["output_counts"] = output_counts;
        result["forward_steps"] = forward_steps;
        result["synops"] = synops;
        result["neuron_updates"] = neuron_updates;
        result["spikes_to_output"] = spikes_to_output;
        result["steps_to_output"] = steps_to_output;
        if (keep_events) result["events"] = logs_as_arrays<int32_t, 3>(events);
        return result;
    }

    bool per_neuron;
    bool keep_events;
    py::array_t<int32_t> spike_counts;
    py::array_t<int64_t> population_spikes;
    py::array_t<int32_t> output_counts;
    py::array_t<int64_t> forward_steps;
    py::array_t<int64_t> synops;
    py::array_t<int64_t> neuron_updates;
    py::array_t<int64_t> spikes_to_output;
    py::array_t<int64_t> steps_to_output;
    std::vector<std::vector<neuroemu::SpikeEvent>> events;
};

// Calls run(poll) with the GIL released; poll() (called by the engine's coordinating thread) checks for
// Ctrl-C, and a run cancelled by it re-raises the pending KeyboardInterrupt.
template <typename Run>
void run_interruptible(Run&& run) {
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
        run(poll);
    } catch (const neuroemu::Cancelled&) {
        if (interrupted) throw py::error_already_set();
        throw;
    }
}

}  // namespace neuroemu_bindings
