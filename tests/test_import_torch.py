"""Network.from_torch: layer-synchronous parity with snnTorch / PyTorch forward passes, and clear refusals.

The reference is the source framework itself: each model is stepped in float64 through its own forward
pass (snnTorch Leaky / RLeaky, torch conv / pool / linear), and the emulator's sync-mode spike trains must
equal it bit for bit. Every comparison also checks that no membrane potential came within 1e-9 of its
threshold, so equality cannot hinge on the last rounding of a sum.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import neuroemu
from neuroemu.errors import ModelImportError

torch = pytest.importorskip("torch")
snn = pytest.importorskip("snntorch")

from neuroemu.io import linear_ops  # noqa: E402  (needs scipy, a torch-extra dependency)

MARGIN = 1e-9


def step_reference(layers: list, x: np.ndarray) -> tuple[np.ndarray, float]:
    """Runs snnTorch/torch ``layers`` time step by time step; returns spikes (T, neurons) and the margin.

    ``x`` is (T, *input_shape). Spikes of all spiking layers are concatenated in layer order, C-ordered,
    like neuroemu's neuron numbering. The margin is min |mem - threshold| over all steps and neurons.
    """
    states: dict[int, object] = {}
    rows, margin = [], np.inf
    with torch.no_grad():
        for t in range(x.shape[0]):
            h = torch.from_numpy(np.ascontiguousarray(x[t][None], dtype=np.float64))
            row = []
            for i, layer in enumerate(layers):
                if isinstance(layer, snn.RLeaky):
                    spk, mem = states.get(i, (torch.zeros_like(h), torch.zeros_like(h)))
                    spk, mem = layer(h, spk, mem)
                    states[i] = (spk.double(), mem)  # snnTorch emits float32 spikes
                elif isinstance(layer, snn.Leaky):
                    mem = states.get(i, torch.zeros_like(h))
                    spk, mem = layer(h, mem)
                    states[i] = mem
                elif type(layer).__name__ == "LIF" and type(layer).__module__.startswith("neuroemu"):
                    spk, mem = _step_neuroemu_lif(layer, h, states, i)
                else:
                    h = layer(h)
                    continue
                margin = min(margin, float((mem - layer.threshold).abs().min()))
                h = spk.double()
                row.append(h.reshape(-1))
            rows.append(torch.cat(row).numpy())
    return np.array(rows), margin


def _step_neuroemu_lif(layer, h, states, i):
    """neuroemu.torch.LIF.forward(current, mem) -> (spikes, potential after the reset)."""
    spk, mem = layer(h, states.get(i))
    states[i] = mem
    return spk, mem


def emulate(net: neuroemu.Network, x: np.ndarray) -> np.ndarray:
    frames = x.reshape(x.shape[0], -1)
    return neuroemu.Emulator(net, schedule="sync").run(frames).spike_counts


def boost(model, factor: float) -> None:
    """Scales weights so that every layer is active."""
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, (torch.nn.Linear, torch.nn.Conv2d)):
                m.weight.mul_(factor)


def binary_input(seed: int, shape: tuple[int, ...], p: float = 0.4) -> np.ndarray:
    return (np.random.default_rng(seed).random(shape) < p).astype(np.float64)


def assert_parity(model, input_shape, x, *, dt=1e-3, min_spikes=20) -> neuroemu.Network:
    layers = list(model)
    net = neuroemu.Network.from_torch(model, input_shape, dt=dt)
    ref, margin = step_reference(layers, x)
    got = emulate(net, x)
    assert margin > MARGIN, "a potential came too close to threshold; pick another seed"
    assert ref.sum() >= min_spikes, "the reference network is too quiet to test anything"
    assert all(ref[:, layer].any() for layer in net.layer_slices), "a layer never spikes"
    np.testing.assert_array_equal(got, ref)
    return net


# -- dense -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("reset_delay", [True, False])
@pytest.mark.parametrize("seed", [0, 1])
def test_dense_snntorch_leaky_zero_reset_matches_forward_pass(seed: int, reset_delay: bool) -> None:
    torch.manual_seed(seed)
    model = torch.nn.Sequential(
        torch.nn.Linear(12, 20),
        snn.Leaky(beta=0.85, reset_mechanism="zero", reset_delay=reset_delay),
        torch.nn.Linear(20, 15, bias=False),
        snn.Leaky(beta=0.6, threshold=0.8, reset_mechanism="zero", reset_delay=reset_delay),
        torch.nn.Linear(15, 4),
        snn.Leaky(beta=0.95, reset_mechanism="zero", reset_delay=reset_delay),
    ).double()
    boost(model, 3.0)
    net = assert_parity(model, (12,), binary_input(seed, (40, 12)))
    assert net.layer_sizes == (20, 15, 4)
    assert [p.name for p in net.populations] == ["1", "3", "5"]
    # The Linear biases became population biases; the bias-free layer has none.
    np.testing.assert_array_equal(net.populations[0].bias, model[0].bias.detach().numpy())
    assert not np.any(net.populations[1].bias)


def test_per_neuron_beta_and_threshold_tensors() -> None:
    torch.manual_seed(3)
    beta = torch.linspace(0.2, 1.0, 10, dtype=torch.float64)
    threshold = torch.linspace(0.5, 1.5, 10, dtype=torch.float64)
    model = torch.nn.Sequential(
        torch.nn.Linear(6, 10),
        snn.Leaky(beta=beta, threshold=threshold, reset_mechanism="zero"),
        torch.nn.Linear(10, 3),
        snn.Leaky(beta=0.9, reset_mechanism="zero"),
    ).double()
    boost(model, 3.0)
    net = assert_parity(model, (6,), binary_input(5, (30, 6)))
    np.testing.assert_array_equal(net.populations[0].beta, beta.numpy())
    np.testing.assert_array_equal(net.populations[0].threshold, threshold.numpy())


def test_subtract_reset_with_beta_one_matches_forward_pass() -> None:
    """snnTorch's delayed subtract reset equals neuroemu's immediate one exactly when beta == 1."""
    torch.manual_seed(4)
    model = torch.nn.Sequential(
        torch.nn.Linear(8, 12),
        snn.Leaky(beta=1.0),  # snnTorch's defaults: reset_mechanism="subtract", reset_delay=True
        torch.nn.Linear(12, 5),
        snn.Leaky(beta=1.0),
    ).double()
    boost(model, 2.5)
    net = assert_parity(model, (8,), binary_input(6, (40, 8)))
    assert all(p.reset == "subtract" for p in net.populations)


@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [
        ({"beta": 0.9}, "subtract"),  # snnTorch's default reset with a leak
        ({"beta": 0.9, "reset_mechanism": "subtract", "reset_delay": False}, "reset_delay=False"),
        ({"beta": 0.9, "reset_mechanism": "none"}, "reset_mechanism='none'"),
        ({"beta": 0.9, "reset_mechanism": "zero", "graded_spikes_factor": 2.0}, "graded"),
        ({"beta": 0.9, "reset_mechanism": "zero", "inhibition": True}, "inhibition"),
    ],
)
def test_unrepresentable_snntorch_dynamics_are_refused_naming_the_layer(kwargs, fragment) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # snnTorch warns that inhibition is unstable
        model = torch.nn.Sequential(torch.nn.Linear(4, 3), snn.Leaky(**kwargs))
    with pytest.raises(ModelImportError, match=r"layer '1' \(snntorch") as info:
        neuroemu.Network.from_torch(model, (4,), dt=1e-3)
    assert fragment in str(info.value)


# -- convolutional ------------------------------------------------------------------------------------------


def conv_model(seed: int, *, sum_pool: bool = False):
    torch.manual_seed(seed)
    pool = torch.nn.AvgPool2d(2, divisor_override=1) if sum_pool else torch.nn.AvgPool2d(2)
    model = torch.nn.Sequential(
        torch.nn.Conv2d(1, 4, 3, padding=1),
        snn.Leaky(beta=0.9, reset_mechanism="zero"),
        pool,
        torch.nn.Conv2d(4, 4, 3, stride=1),
        snn.Leaky(beta=0.8, reset_mechanism="zero"),
        torch.nn.Flatten(),
        torch.nn.Linear(16, 5),
        snn.Leaky(beta=0.7, reset_mechanism="zero"),
    ).double()
    boost(model, 2.0 if sum_pool else 3.0)
    with torch.no_grad():  # average pooling divides by 4: the layers after it need stronger weights
        model[3].weight.mul_(2.0 if sum_pool else 4.0)
        model[6].weight.mul_(2.0 if sum_pool else 3.0)
    return model


@pytest.mark.parametrize("sum_pool", [False, True])
def test_conv_network_matches_torch_forward_pass(sum_pool: bool) -> None:
    model = conv_model(10, sum_pool=sum_pool)
    net = assert_parity(model, (1, 8, 8), binary_input(11, (30, 1, 8, 8)))
    assert net.layer_sizes == (4 * 8 * 8, 4 * 2 * 2, 5)
    assert [p.shape for p in net.populations] == [(4, 8, 8), (4, 2, 2), (5,)]
    # Fan-out lists, not dense matrices: a 3x3 conv with padding 1 on 8x8 has 4*(8*8*9 - 4*8*3 + 4) taps.
    assert net.projections[0].n_synapses == 4 * (8 * 8 * 9 - 4 * 8 * 3 + 4)
    # pool -> conv became one projection of 4*4*(2*2 windows of 3x3) taps x 4 inputs each.
    assert net.projections[1].n_synapses == 4 * 4 * 2 * 2 * 9 * 4


@pytest.mark.filterwarnings("ignore:Using padding='same' with even kernel:UserWarning")
def test_strided_grouped_dilated_conv_network_matches_forward_pass() -> None:
    """Asymmetric 'same' padding (even kernel height) included."""
    torch.manual_seed(12)
    model = torch.nn.Sequential(
        torch.nn.Conv2d(2, 6, 3, stride=2, padding=(1, 2)),
        snn.Leaky(beta=0.9, reset_mechanism="zero"),
        torch.nn.Conv2d(6, 4, (2, 3), dilation=(1, 2), groups=2, padding="same"),
        snn.Leaky(beta=0.8, reset_mechanism="zero"),
        torch.nn.Flatten(),
        torch.nn.Dropout(0.5),
        torch.nn.Linear(4 * 5 * 5, 6),
        snn.Leaky(beta=0.7, reset_mechanism="zero"),
    ).double().eval()
    boost(model, 3.0)
    assert_parity(model, (2, 9, 8), binary_input(13, (25, 2, 9, 8)))


# -- recurrent ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["linear", "one_to_one", "conv"])
def test_rleaky_runs_as_a_self_projection_and_matches_forward_pass(kind: str) -> None:
    torch.manual_seed(20)
    if kind == "conv":
        rec = snn.RLeaky(beta=0.8, conv2d_channels=3, kernel_size=3, reset_mechanism="zero", reset_delay=False)
        model = torch.nn.Sequential(
            torch.nn.Conv2d(1, 3, 3, padding=1), rec, torch.nn.Flatten(), torch.nn.Linear(3 * 5 * 5, 4),
            snn.Leaky(beta=0.9, reset_mechanism="zero"),
        )
        shape = (1, 5, 5)
    else:
        extra = {"linear_features": 10} if kind == "linear" else {"all_to_all": False, "V": torch.linspace(-1, 1, 10)}
        rec = snn.RLeaky(beta=0.8, reset_mechanism="zero", reset_delay=False, **extra)
        model = torch.nn.Sequential(
            torch.nn.Linear(6, 10), rec, torch.nn.Linear(10, 4), snn.Leaky(beta=0.9, reset_mechanism="zero")
        )
        shape = (6,)
    model = model.double()
    boost(model, 2.5)
    with torch.no_grad():
        if kind != "one_to_one":
            rec.recurrent.weight.mul_(2.0)
        if kind == "conv":
            model[3].weight.mul_(6.0)  # 75 inputs of small default weights
    net = assert_parity(model, shape, binary_input(21, (40, *shape)))
    self_loops = [p for p in net.projections if p.source == p.target]
    assert len(self_loops) == 1 and self_loops[0].source == 0


def test_rleaky_zero_reset_with_delay_is_refused() -> None:
    model = torch.nn.Sequential(
        torch.nn.Linear(3, 4), snn.RLeaky(beta=0.9, linear_features=4, reset_mechanism="zero"),
        torch.nn.Linear(4, 2), snn.Leaky(beta=0.9, reset_mechanism="zero"),
    )
    with pytest.raises(ModelImportError, match=r"layer '1'.*reset_delay=False"):
        neuroemu.Network.from_torch(model, (3,), dt=1e-3)


def test_recurrent_output_layer_is_refused() -> None:
    model = torch.nn.Sequential(
        torch.nn.Linear(3, 4),
        snn.RLeaky(beta=0.9, linear_features=4, reset_mechanism="zero", reset_delay=False),
    )
    with pytest.raises(ModelImportError, match=r"output layer.*separate"):
        neuroemu.Network.from_torch(model, (3,), dt=1e-3)


# -- neuroemu's own LIF module ---------------------------------------------------------------------------


@pytest.mark.parametrize("reset", ["zero", "subtract"])
def test_neuroemu_lif_module_matches_its_forward_pass(reset: str) -> None:
    lif = pytest.importorskip("neuroemu.torch.lif", reason="neuroemu.torch (the training issue) is not there yet")
    torch.manual_seed(30)
    model = torch.nn.Sequential(
        torch.nn.Linear(6, 9),
        lif.LIF(beta=torch.linspace(0.5, 0.9, 9, dtype=torch.float64), threshold=1.25, reset=reset, refractory=False),
        torch.nn.Linear(9, 3),
        lif.LIF(beta=0.8, reset=reset),
    ).double()
    boost(model, 3.0)
    net = assert_parity(model, (6,), binary_input(31, (40, 6)))
    first, second = net.populations
    assert (first.reset, first.refractory, second.reset, second.refractory) == (reset, False, reset, True)
    np.testing.assert_array_equal(first.beta, model[1].beta.numpy())
    np.testing.assert_array_equal(first.threshold, np.full(9, 1.25))


# -- refusals ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("layers", "shape", "pattern"),
    [
        ([torch.nn.Linear(4, 3), torch.nn.ReLU()], (4,), r"layer '1' \(torch\.nn.*ReLU\).*not supported"),
        ([torch.nn.Conv2d(1, 2, 3), torch.nn.MaxPool2d(2)], (1, 6, 6), r"layer '1'.*MaxPool2d.*not supported"),
        ([torch.nn.Linear(4, 3)], (4,), r"no spiking layer"),
        ([torch.nn.Linear(4, 3), "LIF", torch.nn.Linear(3, 2)], (4,), r"ends with linear layer '2'"),
        ([torch.nn.Linear(5, 3), "LIF"], (4,), r"layer '0'.*expects 5 inputs, gets 4"),
        ([torch.nn.Linear(4, 3), "LIF"], (2, 2), r"layer '0'.*add nn.Flatten"),
        ([torch.nn.Conv2d(2, 3, 3), "LIF"], (1, 5, 5), r"layer '0'.*does not fit its input of shape \(1, 5, 5\)"),
        ([torch.nn.Conv2d(1, 3, 3, padding_mode="reflect"), "LIF"], (1, 5, 5), r"padding_mode='reflect'"),
    ],
)
def test_unsupported_models_raise_model_import_error_naming_the_layer(layers, shape, pattern) -> None:
    modules = [snn.Leaky(beta=0.9, reset_mechanism="zero") if m == "LIF" else m for m in layers]
    with pytest.raises(ModelImportError, match=pattern):
        neuroemu.Network.from_torch(torch.nn.Sequential(*modules), shape, dt=1e-3)


def test_non_sequential_module_is_refused_with_advice() -> None:
    with pytest.raises(ModelImportError, match="nn.Sequential"):
        neuroemu.Network.from_torch(torch.nn.Linear(2, 2), (2,), dt=1e-3)


def test_model_import_error_is_a_value_error() -> None:
    assert issubclass(ModelImportError, ValueError) and issubclass(ModelImportError, neuroemu.NeuroemuError)


# -- linear ops against torch's own operators -----------------------------------------------------------------


@settings(max_examples=40, deadline=None)
@given(
    c_in=st.integers(1, 3),
    c_out_per_group=st.integers(1, 3),
    groups=st.integers(1, 2),
    size=st.tuples(st.integers(3, 9), st.integers(3, 9)),
    kernel=st.tuples(st.integers(1, 3), st.integers(1, 3)),
    stride=st.tuples(st.integers(1, 3), st.integers(1, 3)),
    padding=st.tuples(st.integers(0, 2), st.integers(0, 2)),
    dilation=st.tuples(st.integers(1, 2), st.integers(1, 2)),
    seed=st.integers(0, 2**16),
)
def test_conv2d_matrix_equals_torch_conv2d(
    c_in, c_out_per_group, groups, size, kernel, stride, padding, dilation, seed
) -> None:
    c_in_total, c_out = c_in * groups, c_out_per_group * groups
    extent = [d * (k - 1) + 1 for d, k in zip(dilation, kernel)]
    if any(s + 2 * p < e for s, p, e in zip(size, padding, extent)):
        return  # empty output: torch refuses too
    rng = np.random.default_rng(seed)
    weight = rng.normal(size=(c_out, c_in, *kernel))
    weight[rng.random(weight.shape) < 0.2] = 0.0
    bias = rng.normal(size=c_out)
    x = rng.normal(size=(c_in_total, *size))
    op = linear_ops.conv2d(weight, x.shape, stride=stride, padding=padding, dilation=dilation, groups=groups, bias=bias)
    ref = torch.nn.functional.conv2d(
        torch.from_numpy(x[None]), torch.from_numpy(weight), torch.from_numpy(bias),
        stride=stride, padding=padding, dilation=dilation, groups=groups,
    )[0].numpy()
    assert op.out_shape == ref.shape
    np.testing.assert_allclose(op.apply(x), ref.reshape(-1), rtol=1e-12, atol=1e-12)
    assert op.matrix.nnz == np.count_nonzero(op.matrix.toarray())  # no stored zeros


@settings(max_examples=40, deadline=None)
@given(
    size=st.tuples(st.integers(2, 9), st.integers(2, 9)),
    kernel=st.tuples(st.integers(1, 3), st.integers(1, 3)),
    stride=st.tuples(st.integers(1, 3), st.integers(1, 3)),
    pad=st.tuples(st.integers(0, 1), st.integers(0, 1)),
    include_pad=st.booleans(),
    divisor=st.sampled_from([None, 1, 3]),
    seed=st.integers(0, 2**16),
)
def test_avg_pool_matrix_equals_torch_avg_pool2d(size, kernel, stride, pad, include_pad, divisor, seed):
    if any(p * 2 > k for p, k in zip(pad, kernel)) or any(s + 2 * p < k for s, p, k in zip(size, pad, kernel)):
        return  # torch requires pad <= kernel/2 and a non-empty output
    x = np.random.default_rng(seed).normal(size=(2, *size))
    op = linear_ops.avg_pool2d(
        x.shape, kernel, stride=stride, padding=pad, divisor=divisor, count_include_pad=include_pad
    )
    ref = torch.nn.functional.avg_pool2d(
        torch.from_numpy(x[None]), kernel, stride, pad, count_include_pad=include_pad, divisor_override=divisor
    )[0].numpy()
    assert op.out_shape == ref.shape
    np.testing.assert_allclose(op.apply(x), ref.reshape(-1), rtol=1e-12, atol=1e-12)


def test_composed_ops_equal_sequential_application() -> None:
    rng = np.random.default_rng(0)
    pool = linear_ops.avg_pool2d((3, 6, 6), 2)
    conv = linear_ops.conv2d(rng.normal(size=(2, 3, 2, 2)), pool.out_shape, bias=rng.normal(size=2))
    flat = linear_ops.reshape(conv.out_shape, (int(np.prod(conv.out_shape)),))
    dense = linear_ops.dense(rng.normal(size=(4, flat.n_out)), rng.normal(size=4))
    composed = pool.then(conv).then(flat).then(dense)
    x = rng.normal(size=3 * 6 * 6)
    np.testing.assert_allclose(composed.apply(x), dense.apply(flat.apply(conv.apply(pool.apply(x)))), rtol=1e-12)


@pytest.mark.parametrize(("stride", "padding", "dilation", "groups"), [(1, 0, 1, 1), (2, 1, 1, 1), (1, "same", 2, 2)])
def test_conv1d_matrix_equals_torch_conv1d(stride, padding, dilation, groups) -> None:
    rng = np.random.default_rng(7)
    weight, bias, x = rng.normal(size=(4, 4 // groups, 3)), rng.normal(size=4), rng.normal(size=(4, 11))
    op = linear_ops.conv1d(weight, x.shape, stride=stride, padding=padding, dilation=dilation, groups=groups, bias=bias)
    ref = torch.nn.functional.conv1d(
        torch.from_numpy(x[None]), torch.from_numpy(weight), torch.from_numpy(bias),
        stride=stride, padding=padding, dilation=dilation, groups=groups,
    )[0].numpy()
    assert op.out_shape == ref.shape
    np.testing.assert_allclose(op.apply(x), ref.reshape(-1), rtol=1e-12, atol=1e-12)
