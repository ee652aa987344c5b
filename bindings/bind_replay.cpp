// The training simulator's fused replay loops (neuroemu/replay_kernels.hpp) on NumPy views of PyTorch CPU
// tensors: every array is checked for dtype, C order and shape, outputs are written in place.
#include <pybind11/numpy.h>

#include <string>
#include <vector>

#include "bindings.hpp"
#include "neuroemu/errors.hpp"
#include "neuroemu/replay_kernels.hpp"

namespace py = pybind11;
using neuroemu::replay::Surrogate;
using neuroemu::replay::SurrogateKind;

namespace {

template <typename T>
T* view(const py::array& a, const char* name, const std::vector<py::ssize_t>& shape, bool writeable) {
    if (!py::isinstance<py::array_t<T>>(a)) throw neuroemu::ConfigError(std::string(name) + ": wrong dtype");
    if (!(a.flags() & py::array::c_style)) throw neuroemu::ConfigError(std::string(name) + ": not C-contiguous");
    if (writeable && !a.writeable()) throw neuroemu::ConfigError(std::string(name) + ": read-only");
    if (a.ndim() != static_cast<py::ssize_t>(shape.size())) throw neuroemu::ConfigError(std::string(name) + ": wrong shape");
    for (size_t d = 0; d < shape.size(); ++d) {
        if (a.shape(static_cast<py::ssize_t>(d)) != shape[d]) throw neuroemu::ConfigError(std::string(name) + ": wrong shape");
    }
    return static_cast<T*>(const_cast<void*>(a.data()));
}

Surrogate surrogate_of(int32_t kind, double parameter) {
    if (kind != 0 && kind != 1) throw neuroemu::ConfigError("unknown surrogate");
    return {static_cast<SurrogateKind>(kind), parameter};
}

template <typename T>
void forward(const py::array& weights, const py::array& source_delivery, const py::array& base, const py::array& theta,
             const py::array& spike_step, Surrogate surrogate, bool dense, const py::array& slopes,
             const py::array& v_end) {
    const py::ssize_t samples = base.shape(0), n = base.shape(1), n_sources = weights.shape(0);
    const py::ssize_t steps = slopes.ndim() == 3 ? slopes.shape(1) : 0;
    const T* w = view<T>(weights, "weights", {n_sources, n}, false);
    const int32_t* sd = view<int32_t>(source_delivery, "source_delivery", {samples, n_sources}, false);
    const T* bs = view<T>(base, "base", {samples, n}, false);
    const T* th = view<T>(theta, "theta", {n}, false);
    const int32_t* ss = view<int32_t>(spike_step, "spike_step", {samples, n}, false);
    T* sl = view<T>(slopes, "slopes", {samples, steps, n}, true);
    T* ve = view<T>(v_end, "v_end", {samples, n}, true);
    py::gil_scoped_release release;
    neuroemu::replay::single_spike_forward<T>(samples, steps, n_sources, n, w, sd, bs, th, ss, surrogate, dense, sl, ve);
}

template <typename T>
void backward(const py::object& grad_output, const py::object& back, const py::object& back_tail,
              const py::object& delivery, const py::object& alive, const py::array& spike_step, const py::array& grad_v,
              const py::array& slopes, const py::array& grad_base, const py::array& grad_theta,
              const py::object& source_delivery, const py::object& grad_weights) {
    const py::ssize_t samples = slopes.shape(0), steps = slopes.shape(1), n = slopes.shape(2);
    const T* go = nullptr;
    const T* bk = nullptr;
    const T* bt = nullptr;
    const int32_t* dl = nullptr;
    const uint8_t* al = nullptr;
    py::ssize_t back_steps = 0;
    if (!grad_output.is_none()) {
        go = view<T>(py::array(grad_output), "grad_output", {samples, n}, false);
    } else {
        const py::array b(back);
        back_steps = b.ndim() == 3 ? b.shape(1) : 0;
        bk = view<T>(b, "back", {samples, back_steps, n}, false);
        bt = view<T>(py::array(back_tail), "back_tail", {samples, n}, false);
        dl = view<int32_t>(py::array(delivery), "delivery", {samples, n}, false);
        al = view<uint8_t>(py::array(alive), "alive", {samples, back_steps}, false);
    }
    const int32_t* ss = view<int32_t>(spike_step, "spike_step", {samples, n}, false);
    const T* gv = view<T>(grad_v, "grad_v", {samples, n}, false);
    T* sl = view<T>(slopes, "slopes", {samples, steps, n}, true);
    T* gb = view<T>(grad_base, "grad_base", {samples, n}, true);
    T* gt = view<T>(grad_theta, "grad_theta", {n}, true);
    py::ssize_t n_sources = 0;
    const int32_t* sd = nullptr;
    T* gw = nullptr;
    if (!grad_weights.is_none()) {
        const py::array w(grad_weights);
        n_sources = w.ndim() == 2 ? w.shape(0) : 0;
        gw = view<T>(w, "grad_weights", {n_sources, n}, true);
        sd = view<int32_t>(py::array(source_delivery), "source_delivery", {samples, n_sources}, false);
    }
    py::gil_scoped_release release;
    neuroemu::replay::single_spike_backward<T>(samples, steps, back_steps, n, go, bk, bt, dl, al, ss, gv, sl, gb, gt,
                                               n_sources, sd, gw);
}

}  // namespace

void bind_replay(py::module_& m) {
    m.def(
        "single_spike_forward",
        [](const py::array& weights, const py::array& source_delivery, const py::array& base, const py::array& theta,
           const py::array& spike_step, int32_t surrogate, double parameter, bool dense, const py::array& slopes,
           const py::array& v_end) {
            if (weights.ndim() != 2 || base.ndim() != 2) throw neuroemu::ConfigError("weights, base: wrong shape");
            const Surrogate s = surrogate_of(surrogate, parameter);
            if (py::isinstance<py::array_t<float>>(weights)) {
                forward<float>(weights, source_delivery, base, theta, spike_step, s, dense, slopes, v_end);
            } else {
                forward<double>(weights, source_delivery, base, theta, spike_step, s, dense, slopes, v_end);
            }
        },
        py::arg("weights"), py::arg("source_delivery"), py::arg("base"), py::arg("theta"), py::arg("spike_step"),
        py::arg("surrogate"), py::arg("parameter"), py::arg("dense"), py::arg("slopes"), py::arg("v_end"));
    m.def(
        "single_spike_backward",
        [](const py::object& grad_output, const py::object& back, const py::object& back_tail,
           const py::object& delivery, const py::object& alive, const py::array& spike_step, const py::array& grad_v,
           const py::array& slopes, const py::array& grad_base, const py::array& grad_theta,
           const py::object& source_delivery, const py::object& grad_weights) {
            if (slopes.ndim() != 3) throw neuroemu::ConfigError("slopes: wrong shape");
            if (py::isinstance<py::array_t<float>>(slopes)) {
                backward<float>(grad_output, back, back_tail, delivery, alive, spike_step, grad_v, slopes, grad_base,
                                grad_theta, source_delivery, grad_weights);
            } else {
                backward<double>(grad_output, back, back_tail, delivery, alive, spike_step, grad_v, slopes, grad_base,
                                 grad_theta, source_delivery, grad_weights);
            }
        },
        py::arg("grad_output"), py::arg("back"), py::arg("back_tail"), py::arg("delivery"), py::arg("alive"),
        py::arg("spike_step"), py::arg("grad_v"), py::arg("slopes"), py::arg("grad_base"), py::arg("grad_theta"),
        py::arg("source_delivery"), py::arg("grad_weights"));
}
