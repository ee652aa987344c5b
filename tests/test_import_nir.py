"""Network.from_nir / Network.to_nir against the real exporters and importers.

Graphs are made at test time by the frameworks' own NIR exporters (snnTorch, SpikingJelly, Norse) and,
where the exporter can, written to a file with ``nir.write`` and read back. The emulator in sync mode must
reproduce the framework's own forward pass spike for spike (float64 models where the exporter allows it,
float32 for snnTorch; a numpy layer-synchronous simulation of the imported network checks that no
potential came within 1e-9 (float32: 1e-5) of its threshold, so that equality cannot hinge on rounding).
"""

from __future__ import annotations

import subprocess
import sys
import warnings

import numpy as np
import pytest

import neuroemu
from neuroemu.errors import ModelExportError, ModelImportError

nir = pytest.importorskip("nir")
torch = pytest.importorskip("torch")

MARGIN = 1e-9
# snnTorch's exporter traces the model, and a float64 snnTorch model cannot run (its spikes are float32):
# those tests run snnTorch in float32, so they need potentials further from threshold.
MARGIN_F32 = 1e-5


# -- references -------------------------------------------------------------------------------------------


def sync_margin(net: neuroemu.Network, frames: np.ndarray) -> tuple[np.ndarray, float]:
    """A dense numpy layer-synchronous run of ``net`` (docs/semantics.md); spikes and min |u - threshold|."""
    slices = net.layer_slices
    weights = net.weights()
    beta = np.concatenate([p.beta for p in net.populations])
    bias = np.concatenate([p.bias for p in net.populations])
    theta = np.concatenate([p.threshold for p in net.populations])
    subtract = np.concatenate([np.full(p.size, p.reset == "subtract") for p in net.populations])
    v = np.zeros(net.n_neurons)
    previous = np.zeros(net.n_neurons)
    rows, margin = [], np.inf
    for x in frames:
        v = beta * v + bias
        current = np.zeros(net.n_neurons)
        spikes = np.zeros(net.n_neurons)
        for layer, sl in enumerate(slices):
            for proj, w in zip(net.projections, weights):
                if proj.target != layer:
                    continue
                src = x if proj.source < 0 else (spikes if proj.source < layer else previous)[slices[proj.source]]
                current[sl] += w @ src
            u = v[sl] + current[sl]
            margin = min(margin, float(np.min(np.abs(u - theta[sl]))))
            fired = u > theta[sl]
            spikes[sl] = fired
            v[sl] = np.where(fired, np.where(subtract[sl], u - theta[sl], 0.0), u)
        previous = spikes
        rows.append(spikes)
    return np.array(rows), margin


def run_with_hooks(model, neuron_types, x: np.ndarray, step) -> np.ndarray:
    """Steps ``model`` with ``step(model, x_t, state) -> state`` and collects every neuron layer's spikes."""
    recorded: list[torch.Tensor] = []

    def hook(_module, _inputs, output):
        spikes = output[0] if isinstance(output, tuple) else output
        recorded.append(spikes.detach().double().reshape(-1))

    handles = [m.register_forward_hook(hook) for m in model.modules() if isinstance(m, neuron_types)]
    rows, state = [], None
    try:
        with torch.no_grad():
            for t in range(x.shape[0]):
                recorded.clear()
                state = step(model, torch.from_numpy(np.ascontiguousarray(x[t][None])), state)
                rows.append(torch.cat(recorded).numpy())
    finally:
        for h in handles:
            h.remove()
    return np.array(rows)


def assert_parity(net: neuroemu.Network, x: np.ndarray, reference: np.ndarray, min_margin: float = MARGIN) -> None:
    frames = x.reshape(x.shape[0], -1)
    got = neuroemu.Emulator(net, schedule="sync").run(frames).spike_counts
    _, margin = sync_margin(net, frames)
    assert margin > min_margin, "a potential came too close to threshold; pick another seed"
    assert all(reference[:, sl].any() for sl in net.layer_slices), "a layer never spikes: the test is too weak"
    np.testing.assert_array_equal(got, reference)


def binary_input(seed: int, shape: tuple[int, ...], p: float = 0.4) -> np.ndarray:
    return (np.random.default_rng(seed).random(shape) < p).astype(np.float64)


def scale_weights(model, factors: dict[int, float]) -> None:
    with torch.no_grad():
        for index, factor in factors.items():
            model[index].weight.mul_(factor)


# -- snnTorch: export_to_nir -> nir.write -> from_nir -------------------------------------------------------


def snntorch_export(model, sample, path):
    """snnTorch traces the model (its layers need init_hidden=True), then we step it with explicit state."""
    from snntorch.export_nir import export_to_nir

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # nirtorch.extract_nir_graph is deprecated
        graph = export_to_nir(model, sample, ignore_dims=[0])
    for layer in model:
        if hasattr(layer, "init_hidden"):
            layer.init_hidden = False
    nir.write(str(path), graph)
    return path


def snntorch_step(model, xt, state):
    import snntorch as snn

    state = state or {}
    h = xt.float()
    for i, layer in enumerate(model):
        if isinstance(layer, snn.RLeaky):
            spk, mem = state.get(i, (torch.zeros_like(h), torch.zeros_like(h)))
            spk, mem = layer(h, spk, mem)
            state[i] = (spk, mem)
            h = spk
        elif isinstance(layer, snn.Leaky):
            spk, mem = layer(h, state.get(i, torch.zeros_like(h)))
            state[i] = mem
            h = spk
        else:
            h = layer(h)
    return state


def leaky(shape, beta, **kw):
    """snnTorch's exporter needs per-neuron parameter tensors shaped like the layer."""
    import snntorch as snn

    return snn.Leaky(
        beta=torch.full(shape, beta),
        threshold=torch.ones(shape),
        reset_mechanism="zero",
        init_hidden=True,
        **kw,
    )


def test_snntorch_dense_nir_file_matches_snntorch_forward_pass(tmp_path) -> None:
    snn = pytest.importorskip("snntorch")
    torch.manual_seed(0)
    model = torch.nn.Sequential(
        torch.nn.Linear(10, 16), leaky((16,), 0.85), torch.nn.Linear(16, 5), leaky((5,), 0.7)
    )
    scale_weights(model, {0: 3.0, 2: 3.0})
    path = snntorch_export(model, torch.zeros(1, 10), tmp_path / "dense.nir")
    net = neuroemu.Network.from_nir(path, dt=1e-4)
    assert net.layer_sizes == (16, 5) and net.dt == 1e-4
    np.testing.assert_allclose(net.populations[0].beta, 0.85, rtol=1e-6)  # float32 model
    np.testing.assert_array_equal(net.weights()[0], model[0].weight.detach().numpy())  # input scale exactly 1
    np.testing.assert_array_equal(net.populations[0].bias, model[0].bias.detach().numpy())
    x = binary_input(1, (40, 10))
    reference = run_with_hooks(model, (snn.Leaky,), x, snntorch_step)
    assert_parity(net, x, reference, MARGIN_F32)


def test_snntorch_conv_nir_file_matches_snntorch_forward_pass(tmp_path) -> None:
    snn = pytest.importorskip("snntorch")
    torch.manual_seed(1)
    model = torch.nn.Sequential(
        torch.nn.Conv2d(1, 4, 3, padding=1), leaky((4, 8, 8), 0.9),
        torch.nn.AvgPool2d(2), torch.nn.Conv2d(4, 4, 3), leaky((4, 2, 2), 0.8),
        torch.nn.Flatten(), torch.nn.Linear(16, 5), leaky((5,), 0.7),
    )
    scale_weights(model, {0: 3.0, 3: 12.0, 6: 9.0})
    path = snntorch_export(model, torch.zeros(1, 1, 8, 8), tmp_path / "conv.nir")
    net = neuroemu.Network.from_nir(path, dt=1e-4, bin_width=1e-3)
    assert net.dt == 1e-3
    assert [p.shape for p in net.populations] == [(4, 8, 8), (4, 2, 2), (5,)]
    assert net.projections[1].n_synapses == 4 * 4 * 2 * 2 * 9 * 4  # pool + conv composed, sparse
    x = binary_input(2, (30, 1, 8, 8))
    reference = run_with_hooks(model, (snn.Leaky,), x, snntorch_step)
    assert_parity(net, x, reference, MARGIN_F32)


def test_snntorch_rleaky_nir_cycle_runs_recurrently_and_matches_forward_pass(tmp_path) -> None:
    snn = pytest.importorskip("snntorch")
    torch.manual_seed(2)
    rec = snn.RLeaky(beta=0.8, linear_features=12, reset_mechanism="zero", reset_delay=False, init_hidden=True)
    model = torch.nn.Sequential(torch.nn.Linear(6, 12), rec, torch.nn.Linear(12, 4), leaky((4,), 0.9))
    scale_weights(model, {0: 2.5, 2: 3.0})
    with torch.no_grad():
        rec.recurrent.weight.mul_(4.0)
    path = snntorch_export(model, torch.zeros(1, 6), tmp_path / "rec.nir")
    net = neuroemu.Network.from_nir(path, dt=1e-4)
    assert any(p.source == p.target == 0 for p in net.projections)  # the cycle became a self-projection
    x = binary_input(3, (40, 6))
    reference = run_with_hooks(model, (snn.RLeaky, snn.Leaky), x, snntorch_step)
    assert_parity(net, x, reference, MARGIN_F32)
    # The recurrent bias is a constant current, part of the population's bias.
    np.testing.assert_allclose(
        net.populations[0].bias, (model[0].bias.double() + rec.recurrent.bias.double()).detach().numpy(), rtol=1e-15
    )


# -- SpikingJelly: export_to_nir(save_path=...) -> from_nir --------------------------------------------------


def test_spikingjelly_conv_nir_file_matches_spikingjelly_forward_pass(tmp_path) -> None:
    pytest.importorskip("spikingjelly.activation_based.nir_exchange")
    from spikingjelly.activation_based import functional, layer, neuron
    from spikingjelly.activation_based.nir_exchange import export_to_nir

    torch.manual_seed(3)
    model = torch.nn.Sequential(
        layer.Conv2d(1, 4, 3, padding=1), neuron.LIFNode(tau=2.0),
        layer.AvgPool2d(2), layer.Conv2d(4, 4, 3), neuron.IFNode(),
        layer.Flatten(), layer.Linear(16, 6), neuron.LIFNode(tau=3.0, decay_input=False),
        layer.Linear(6, 3), neuron.CUBALIFNode(c_decay=0.0, v_decay=0.6, v_threshold=0.5),
    ).double()
    scale_weights(model, {0: 5.0, 3: 12.0, 6: 6.0, 8: 2.0})
    path = tmp_path / "sj.nir"
    export_to_nir(model, torch.zeros(1, 1, 8, 8, dtype=torch.float64), save_path=path)
    net = neuroemu.Network.from_nir(path, dt=1e-4)
    np.testing.assert_allclose([p.beta[0] for p in net.populations], [0.5, 1.0, 1 - 1 / 3, 0.6], rtol=1e-14)
    x = binary_input(4, (30, 1, 8, 8))
    functional.reset_net(model)

    def step(m, xt, state):
        m(xt)

    reference = run_with_hooks(model, (neuron.LIFNode, neuron.IFNode, neuron.CUBALIFNode), x, step)
    assert_parity(net, x, reference)


def test_spikingjelly_cubalif_with_synaptic_decay_is_refused(tmp_path) -> None:
    pytest.importorskip("spikingjelly.activation_based.nir_exchange")
    from spikingjelly.activation_based import layer, neuron
    from spikingjelly.activation_based.nir_exchange import export_to_nir

    model = torch.nn.Sequential(layer.Linear(3, 2), neuron.CUBALIFNode(c_decay=0.5, v_decay=0.75))
    graph = export_to_nir(model, torch.zeros(1, 3))
    with pytest.raises(ModelImportError, match=r"NIR node '.*' \(CubaLIF\).*synaptic current"):
        neuroemu.Network.from_nir(graph, dt=1e-4)


# -- Norse: to_nir (in memory; nir.write cannot store its scalar parameters) -----------------------------------


def _norse():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # torch.jit.script is deprecated
        import norse.torch as norse
        from norse.torch.utils.export_nir import to_nir
    return norse, to_nir


def norse_box(norse, tau_mem_inv: float):
    from norse.torch.functional.lif_box import LIFBoxParameters

    f64 = {"dtype": torch.float64}
    return norse.LIFBoxCell(
        p=LIFBoxParameters(
            tau_mem_inv=torch.tensor(tau_mem_inv, **f64),
            v_leak=torch.tensor(0.0, **f64),
            v_th=torch.tensor(1.0, **f64),
            v_reset=torch.tensor(0.0, **f64),
            method="heaviside",
        )
    )


@pytest.mark.parametrize("kind", ["dense", "conv"])
def test_norse_nir_graph_matches_norse_forward_pass(kind: str) -> None:
    pytest.importorskip("norse")
    norse, to_nir = _norse()
    torch.manual_seed(4)
    if kind == "dense":
        model = norse.SequentialState(
            torch.nn.Linear(8, 12), norse_box(norse, 100.0), torch.nn.Linear(12, 4), norse_box(norse, 200.0)
        ).double()
        scale_weights(model, {0: 30.0, 2: 30.0})
        shape = (8,)
    else:
        model = norse.SequentialState(
            torch.nn.Conv2d(1, 3, 3, padding=1), norse_box(norse, 100.0),
            torch.nn.Conv2d(3, 2, 3), norse_box(norse, 200.0),
        ).double()
        scale_weights(model, {0: 30.0, 2: 30.0})
        shape = (1, 6, 6)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        graph = to_nir(model, torch.zeros(1, *shape, dtype=torch.float64))
    # Norse writes tau = dt / tau_mem_inv with its dt = 1e-3, so forward Euler needs dt = 1e-3**2.
    net = neuroemu.Network.from_nir(graph, dt=1e-6, bin_width=1e-3)
    np.testing.assert_allclose(net.populations[0].beta, 1 - 1e-3 * 100.0, rtol=1e-14)
    x = binary_input(5, (30, *shape))

    def step(m, xt, state):
        _, state = m(xt, state)
        return state

    reference = run_with_hooks(model, (norse.LIFBoxCell,), x, step)
    assert_parity(net, x, reference)


# -- export ------------------------------------------------------------------------------------------------


def general_network() -> neuroemu.Network:
    """Skip, recurrent and bias-only edges, an IF population (beta = 1) and per-neuron parameters."""
    rng = np.random.default_rng(9)
    P, J = neuroemu.Population, neuroemu.Projection

    def proj(source, target, n_src, n_tgt, scale, density=0.7):
        w = rng.normal(0.3, 1.0, size=(n_tgt, n_src)) * scale
        w[rng.random(w.shape) > density] = 0.0
        import scipy.sparse as sp

        csc = sp.csc_matrix(w)
        return J(source, target, csc.indptr.astype(np.int64), csc.indices.astype(np.int32), csc.data.copy())

    pops = [
        P(10, rng.uniform(0.8, 1.2, 10), rng.uniform(0.5, 0.95, 10), rng.normal(0, 0.1, 10), "zero", True, name="a"),
        P(8, np.full(8, 1.0), np.ones(8), np.zeros(8), "zero", True, name="b.if"),
        P(3, np.full(3, 0.5), np.full(3, 0.3), np.full(3, 0.2), "zero", False),  # bias only, no inputs
        P(4, np.full(4, 1.0), np.full(4, 0.8), np.zeros(4), "zero", True, name="out"),
    ]
    projs = [
        proj(-1, 0, 6, 10, 1.5),
        proj(0, 1, 10, 8, 0.8),
        proj(1, 0, 8, 10, 0.5),  # recurrent
        proj(0, 3, 10, 4, 0.7),  # skip
        proj(1, 3, 8, 4, 0.9),
        proj(2, 3, 3, 4, 0.5),
    ]
    return neuroemu.Network(6, pops, projs, dt=1e-3)


def test_to_nir_file_round_trip_reproduces_parameters_and_spike_trains(tmp_path) -> None:
    net = general_network()
    path = tmp_path / "net.nir"
    graph = net.to_nir(path)
    assert isinstance(graph, nir.NIRGraph) and path.exists()
    kinds = {k: type(v).__name__ for k, v in nir.read(str(path)).nodes.items()}
    assert kinds["a"] == "LIF" and kinds["b_if"] == "IF" and kinds["pop2"] == "LIF"
    back = neuroemu.Network.from_nir(path, dt=1e-3)
    assert sorted(back.layer_sizes) == sorted(net.layer_sizes) and back.n_inputs == net.n_inputs
    # Populations come back in an order with the same dependencies; match them by name.
    names = ["a", "b_if", "pop2", "out"]
    order = [[p.name for p in back.populations].index(n) for n in names]
    for original, index in zip(net.populations, order):
        copy = back.populations[index]
        np.testing.assert_allclose(copy.beta, original.beta, rtol=1e-14, atol=1e-15)
        np.testing.assert_array_equal(copy.threshold, original.threshold)
        np.testing.assert_array_equal(copy.bias, original.bias)
    frames = np.random.default_rng(10).poisson(0.6, size=(50, 6)).astype(float)
    ref = neuroemu.Emulator(net).run(frames).spike_counts
    got = neuroemu.Emulator(back).run(frames).spike_counts
    permuted = np.concatenate([got[:, back.layer_slices[i]] for i in order], axis=1)
    _, margin = sync_margin(net, frames)
    assert margin > MARGIN and ref[:, net.layer_slices[3]].any()
    np.testing.assert_array_equal(permuted, ref)


def test_to_nir_graph_runs_the_same_in_snntorch(tmp_path) -> None:
    """A peer reads our export: snnTorch's import_from_nir gives the same output spikes (float32 there)."""
    pytest.importorskip("snntorch")
    from snntorch.import_nir import import_from_nir

    rng = np.random.default_rng(11)
    weights = [rng.normal(0.4, 1.0, (12, 7)) * 1.5, rng.normal(0.4, 1.0, (5, 12))]
    net = neuroemu.Network.from_weights(weights, threshold=1.0, beta=[rng.uniform(0.5, 0.9, 12), 0.75], dt=1e-4)
    path = tmp_path / "peer.nir"
    net.to_nir(path)
    model = import_from_nir(nir.read(str(path)))
    frames = binary_input(12, (40, 7))
    state = None
    outputs = []
    with torch.no_grad():
        for x in frames:
            out, state = model(torch.from_numpy(x[None]).float(), state)
            outputs.append(out.reshape(-1).numpy())
    _, margin = sync_margin(net, frames)
    assert margin > 1e-4  # float32 in snnTorch
    got = neuroemu.Emulator(net).run(frames).output_counts
    assert got.sum() > 10
    np.testing.assert_array_equal(got, np.array(outputs))


def test_export_refuses_what_nir_cannot_state() -> None:
    rng = np.random.default_rng(0)
    w = [rng.normal(size=(3, 2))]
    with pytest.raises(ModelExportError, match=r"population 0.*reset='subtract'"):
        neuroemu.Network.from_weights(w, threshold=1.0, beta=0.5, dt=1e-3, reset="subtract").to_nir()
    with pytest.raises(ModelExportError, match=r"population 0.*mixes non-leaky"):
        neuroemu.Network.from_weights(w, threshold=1.0, beta=[np.array([1.0, 0.5, 0.5])], dt=1e-3).to_nir()


# -- refusals and malformed graphs --------------------------------------------------------------------------


def lif(n, tau=2e-4, **kw):
    params = {"tau": np.full(n, tau), "r": np.full(n, tau / 1e-4), "v_leak": np.zeros(n), "v_threshold": np.ones(n)}
    params.update(kw)
    return nir.LIF(**params)


def graph(nodes: dict, edges: list) -> nir.NIRGraph:
    return nir.NIRGraph(nodes=nodes, edges=edges, type_check=False)


def chain(*named) -> nir.NIRGraph:
    nodes = {"input": nir.Input(np.array([3]))}
    nodes.update(dict(named))
    nodes["output"] = nir.Output(np.array([2]))
    names = list(nodes)
    return graph(nodes, list(zip(names[:-1], names[1:])))


@pytest.mark.parametrize(
    ("g", "pattern"),
    [
        (chain(("w", nir.Linear(np.ones((2, 3)))), ("readout", nir.LI(np.ones(2), np.ones(2), np.zeros(2)))),
         r"NIR node 'readout' \(LI\): a non-spiking leaky integrator"),
        (chain(("w", nir.Linear(np.ones((2, 3)))), ("d", nir.Delay(np.ones(2))), ("n", lif(2))),
         r"NIR node 'd' \(Delay\)"),
        (chain(("w", nir.Linear(np.ones((2, 3)))), ("n", lif(2, v_reset=np.full(2, -0.5)))),
         r"NIR node 'n' \(LIF\): v_reset = -0.5 != 0"),
        (chain(("w", nir.Linear(np.ones((2, 3)))), ("n", lif(2, tau=5e-5))),
         r"NIR node 'n' \(LIF\): tau = 5e-05 s is shorter than dt"),
        (chain(("n0", lif(3)), ("w", nir.Linear(np.ones((2, 3))))), r"output node 'output' is fed by nir.Linear"),
        (chain(("w", nir.Linear(np.ones((4, 3)))), ("n", lif(2))), r"receives 4 values from 'w', expected 2"),
    ],
)
def test_unsupported_or_malformed_graphs_raise_naming_the_node(g, pattern) -> None:
    with pytest.raises(ModelImportError, match=pattern):
        neuroemu.Network.from_nir(g, dt=1e-4)


def test_structural_errors_are_clear() -> None:
    two_outputs = graph(
        {"input": nir.Input(np.array([2])), "w": nir.Linear(np.ones((2, 2))), "n": lif(2),
         "o1": nir.Output(np.array([2])), "o2": nir.Output(np.array([2]))},
        [("input", "w"), ("w", "n"), ("n", "o1"), ("n", "o2")],
    )
    with pytest.raises(ModelImportError, match="2 output nodes"):
        neuroemu.Network.from_nir(two_outputs, dt=1e-4)
    linear_loop = graph(
        {"input": nir.Input(np.array([2])), "a": nir.Linear(np.ones((2, 2))), "b": nir.Linear(np.ones((2, 2))),
         "n": lif(2), "output": nir.Output(np.array([2]))},
        [("input", "a"), ("a", "b"), ("b", "a"), ("b", "n"), ("n", "output")],
    )
    with pytest.raises(ModelImportError, match=r"cannot infer the shapes|cycle"):
        neuroemu.Network.from_nir(linear_loop, dt=1e-4)
    dangling = graph({"input": nir.Input(np.array([2])), "n": lif(2), "output": nir.Output(np.array([2]))},
                     [("input", "n"), ("n", "output"), ("n", "ghost")])
    with pytest.raises(ModelImportError, match="unknown node 'ghost'"):
        neuroemu.Network.from_nir(dangling, dt=1e-4)


def test_foreign_or_missing_file(tmp_path) -> None:
    foreign = tmp_path / "model.nir"
    foreign.write_text("not an hdf5 file")
    with pytest.raises(ModelImportError, match=r"cannot read '.*model\.nir' as an NIR file"):
        neuroemu.Network.from_nir(foreign, dt=1e-4)
    with pytest.raises(FileNotFoundError, match="missing.nir"):
        neuroemu.Network.from_nir(tmp_path / "missing.nir", dt=1e-4)


def test_if_and_lif_parameters_follow_forward_euler() -> None:
    """LIF: beta = 1 - dt/tau, input scale r dt/tau, bias (dt/tau) v_leak; IF: beta 1, input scale r dt."""
    dt, tau = 1e-3, 4e-3
    g = graph(
        {"input": nir.Input(np.array([2])), "w": nir.Linear(np.array([[1.0, 2.0], [3.0, 0.0]])),
         "n": nir.LIF(tau=np.full(2, tau), r=np.array([2.0, 8.0]), v_leak=np.array([0.0, 0.4]),
                      v_threshold=np.ones(2)),
         "w2": nir.Linear(np.array([[1.0, -1.0]])), "i": nir.IF(r=np.array([250.0]), v_threshold=np.ones(1)),
         "output": nir.Output(np.array([1]))},
        [("input", "w"), ("w", "n"), ("n", "w2"), ("w2", "i"), ("i", "output")],
    )
    net = neuroemu.Network.from_nir(g, dt=dt)
    first, second = net.populations
    np.testing.assert_array_equal(first.beta, [0.75, 0.75])
    np.testing.assert_array_equal(first.bias, [0.0, 0.1])
    np.testing.assert_array_equal(net.weights()[0], [[0.5, 1.0], [6.0, 0.0]])
    np.testing.assert_array_equal(second.beta, [1.0])
    np.testing.assert_array_equal(net.weights()[1], [[0.25, -0.25]])


def test_importing_neuroemu_does_not_import_torch_or_nir() -> None:
    code = "import neuroemu, neuroemu.io, sys; print(sorted(m for m in ('torch', 'nir', 'scipy') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert "torch" not in out and "nir" not in out


def test_nested_subgraphs_and_several_inputs() -> None:
    """A subgraph node is inlined; two Input nodes are concatenated in node order; Scale is linear."""
    inner = graph(
        {"input": nir.Input(np.array([2])), "w": nir.Linear(np.array([[1.0, 0.0], [0.0, 2.0]])),
         "lif": lif(2), "output": nir.Output(np.array([2]))},
        [("input", "w"), ("w", "lif"), ("lif", "output")],
    )
    outer = graph(
        {"a": nir.Input(np.array([1])), "b": nir.Input(np.array([1])),
         "wa": nir.Linear(np.array([[1.0], [0.0]])), "wb": nir.Linear(np.array([[0.0], [3.0]])),
         "block": inner, "s": nir.Scale(np.array([0.5, 4.0])), "out": lif(2), "output": nir.Output(np.array([2]))},
        [("a", "wa"), ("b", "wb"), ("wa", "block"), ("wb", "block"), ("block", "s"), ("s", "out"),
         ("out", "output")],
    )
    net = neuroemu.Network.from_nir(outer, dt=1e-4)
    assert net.n_inputs == 2 and [p.name for p in net.populations] == ["block.lif", "out"]
    np.testing.assert_array_equal(net.weights()[0], [[1.0, 0.0], [0.0, 6.0]])  # input a, then b
    np.testing.assert_array_equal(net.weights()[1], [[0.5, 0.0], [0.0, 4.0]])
