"""neuroemu.torch: LIF layer, surrogates and the differentiable step-model simulator.

References: the C++ engine (spike counts, forward steps, synaptic operations), an independent
layer-wise BPTT written with ``LIF.forward`` (gradient with F unlimited), and a slow step-by-step
differentiable reference of the simulator's gradient semantics written below from docs/training.md.
"""

from __future__ import annotations

import math
import subprocess
import sys

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

import neuroemu  # noqa: E402
from neuroemu.errors import ConfigError, InputError, ModelImportError, NeuroemuTypeError  # noqa: E402
from neuroemu.torch import LIF, ATan, FastSigmoid, get_surrogate, simulate, spike  # noqa: E402

pytestmark = pytest.mark.usefixtures("one_torch_thread")

F64 = torch.float64


# ------------------------------------------------------------------------------------------------------
# helpers
# ------------------------------------------------------------------------------------------------------
def mlp(sizes, seed, *, bias=False, reset="zero", refractory=True, beta=0.8, mean=0.35, scale=1.2, sparsity=0.0):
    """A float64 Linear/LIF chain with weights that keep every layer active."""
    gen = torch.Generator().manual_seed(seed)
    layers = []
    for n_in, n_out in zip(sizes[:-1], sizes[1:]):
        lin = torch.nn.Linear(n_in, n_out, bias=bias, dtype=F64)
        with torch.no_grad():
            w = torch.randn(n_out, n_in, generator=gen, dtype=F64) * scale / math.sqrt(n_in) + mean
            if sparsity:
                w[torch.rand(n_out, n_in, generator=gen) < sparsity] = 0.0
            lin.weight.copy_(w)
            if bias:
                lin.bias.copy_(torch.randn(n_out, generator=gen, dtype=F64) * 0.4)
        layers += [lin, LIF(beta, 1.0, reset=reset, refractory=refractory)]
    return torch.nn.Sequential(*layers)


def linears(model):
    return [m for m in model if isinstance(m, torch.nn.Linear)]


def engine_network(model, *, beta=0.8, reset="zero", refractory=True):
    lins = linears(model)
    return neuroemu.Network.from_weights(
        [lin.weight.detach().numpy() for lin in lins],
        threshold=1.0,
        beta=beta,
        dt=1e-3,
        bias=[lin.bias.detach().numpy() if lin.bias is not None else 0.0 for lin in lins],
        reset=reset,
        refractory=refractory,
    )


def frames(seed, samples, bins, n_in, p=0.5, max_count=1):
    rng = np.random.default_rng(seed)
    return (rng.random((samples, bins, n_in)) < p) * rng.integers(1, max_count + 1, (samples, bins, n_in))


def assert_same_as_engine(res, eng):
    np.testing.assert_array_equal(res.spike_counts.numpy(), eng.spike_counts)
    np.testing.assert_array_equal(res.output_counts.detach().numpy(), eng.output_counts)
    np.testing.assert_array_equal(res.forward_steps.numpy(), eng.forward_steps_per_bin)
    np.testing.assert_array_equal(res.synops.numpy(), eng.synops_per_bin)


def grads(model, loss):
    model.zero_grad()
    loss.backward()
    return [p.grad.clone() for p in model.parameters()]


# ------------------------------------------------------------------------------------------------------
# packaging
# ------------------------------------------------------------------------------------------------------
def test_import_neuroemu_does_not_import_torch():
    code = "import sys, neuroemu, neuroemu.training; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_neuroemu_torch_without_torch_names_the_extra():
    code = (
        "import sys; sys.modules['torch'] = None\n"
        "import neuroemu\n"
        "try:\n    import neuroemu.torch\nexcept ImportError as e:\n    print(type(e).__name__, e)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "MissingDependencyError" in out.stdout
    assert 'pip install "neuroemu[torch]"' in out.stdout


# ------------------------------------------------------------------------------------------------------
# surrogates and the LIF layer
# ------------------------------------------------------------------------------------------------------
def test_spike_is_strict_heaviside():
    x = torch.tensor([-1.0, -1e-12, 0.0, 1e-12, 2.0], dtype=F64)
    assert spike(x, ATan()).tolist() == [0.0, 0.0, 0.0, 1.0, 1.0]


@pytest.mark.parametrize(
    ("surrogate", "formula"),
    [
        (ATan(2.0), lambda x: 1.0 / (1.0 + (math.pi * x) ** 2)),
        (ATan(0.5), lambda x: 0.25 / (1.0 + (math.pi / 4 * x) ** 2)),
        (FastSigmoid(25.0), lambda x: 1.0 / (1.0 + 25.0 * abs(x)) ** 2),
    ],
)
def test_surrogate_gradient_is_the_formula(surrogate, formula):
    xs = [-2.0, -0.3, -1e-3, 0.0, 0.1, 0.7, 3.0]
    x = torch.tensor(xs, dtype=F64, requires_grad=True)
    spike(x, surrogate).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [formula(v) for v in xs], rtol=1e-14)


def test_spike_with_given_value_keeps_the_surrogate_gradient():
    x = torch.tensor([0.5, -0.5], dtype=F64, requires_grad=True)
    out = spike(x, ATan(), value=torch.tensor([0.0, 1.0], dtype=F64))
    assert out.tolist() == [0.0, 1.0]
    out.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [1 / (1 + (math.pi * 0.5) ** 2)] * 2)


def test_get_surrogate():
    assert get_surrogate("atan") == ATan(2.0)
    assert get_surrogate("fast_sigmoid", 10.0) == FastSigmoid(10.0)
    with pytest.raises(ConfigError, match="surrogate must be one of"):
        get_surrogate("sigmoid")
    with pytest.raises(ConfigError, match="alpha"):
        ATan(-1.0)
    with pytest.raises(NeuroemuTypeError):
        get_surrogate(3)


@pytest.mark.parametrize("reset", ["zero", "subtract"])
def test_lif_step(reset):
    lif = LIF(0.5, threshold=1.0, reset=reset)
    mem = torch.tensor([0.2, 1.0, 3.0], dtype=F64)
    cur = torch.tensor([0.5, 0.6, 0.0], dtype=F64, requires_grad=True)
    spk, new = lif(cur, mem)  # u = 0.6, 1.1, 1.5
    assert spk.tolist() == [0.0, 1.0, 1.0]
    expect = [0.6, 0.0, 0.0] if reset == "zero" else [0.6, 0.1, 0.5]
    np.testing.assert_allclose(new.detach().numpy(), expect, atol=1e-15)
    # the reset is detached: d new / d current is 1 where no spike, 0 (zero reset) or 1 (subtract) where it spiked
    new.sum().backward()
    assert cur.grad.tolist() == ([1.0, 0.0, 0.0] if reset == "zero" else [1.0, 1.0, 1.0])


def test_lif_attributes_and_errors():
    lif = LIF(torch.tensor([0.5, 0.9]), threshold=2.0, reset="subtract", refractory=False)
    assert lif.threshold == 2.0 and lif.reset == "subtract" and lif.refractory is False
    assert torch.equal(lif.beta, torch.tensor([0.5, 0.9]))
    assert "beta=tensor(2,)" in repr(lif)
    learn = LIF(0.7, learn_beta=True)
    assert isinstance(learn.beta, torch.nn.Parameter)
    with pytest.raises(ConfigError, match="beta"):
        LIF(1.5)
    with pytest.raises(ConfigError, match="threshold"):
        LIF(0.5, threshold=0.0)
    with pytest.raises(ConfigError, match="reset"):
        LIF(0.5, reset="none")
    with pytest.raises(NeuroemuTypeError, match="refractory"):
        LIF(0.5, refractory=1)


# ------------------------------------------------------------------------------------------------------
# forward pass: agreement with the C++ engine
# ------------------------------------------------------------------------------------------------------
@settings(max_examples=30, deadline=None)
@given(
    seed=st.integers(0, 10_000),
    sizes=st.lists(st.integers(2, 7), min_size=2, max_size=4),
    schedule=st.sampled_from(["sync", "momentum", "fifo"]),
    group=st.sampled_from([None, 1, 2, 3, 5]),
    prioritize=st.booleans(),
    post=st.sampled_from([None, None, 0, 2]),
    reset=st.sampled_from(["zero", "subtract"]),
    refractory=st.booleans(),
    bias=st.booleans(),
    max_count=st.sampled_from([1, 2]),
    use_engine=st.sampled_from([False, None]),
)
def test_agrees_with_engine(seed, sizes, schedule, group, prioritize, post, reset, refractory, bias, max_count,
                            use_engine):
    # use_engine=False: the PyTorch no-grad pass, an implementation independent of the engine
    if schedule == "sync":
        group, prioritize, post, use_engine = None, True, None, None
    model = mlp(sizes, seed, bias=bias, reset=reset, refractory=refractory)
    x = frames(seed, 3, 4, sizes[0], max_count=max_count)
    res = simulate(model, x, schedule=schedule, group_size=group, prioritize_input=prioritize,
                   max_post_output_steps=post, use_engine=use_engine)
    eng = neuroemu.Emulator(engine_network(model, reset=reset, refractory=refractory), schedule=schedule,
                            group_size=group, prioritize_input=prioritize, max_post_output_steps=post)
    assert_same_as_engine(res, eng.run_batch(x, threads=1))


@pytest.mark.parametrize("use_engine", [False, True])
@pytest.mark.parametrize("schedule,group", [("momentum", 2), ("fifo", 1), ("momentum", None)])
def test_sparse_weights_agree_with_engine(schedule, group, use_engine):
    model = mlp((8, 9, 6, 4), 5, sparsity=0.5, mean=0.6)
    x = frames(1, 4, 5, 8)
    res = simulate(model, x, schedule=schedule, group_size=group, use_engine=use_engine)
    eng = neuroemu.Emulator(engine_network(model), schedule=schedule, group_size=group).run_batch(x, threads=1)
    assert_same_as_engine(res, eng)
    assert res.total_spikes.sum() > 20


@pytest.mark.parametrize("use_engine", [False, True])
def test_momentum_ties_go_to_the_lower_index(use_engine):
    # two identical first-layer neurons reach the same pre-spike potential; with F = 1 the lower
    # index must be emitted first (the output neurons tell the order apart)
    model = torch.nn.Sequential(
        torch.nn.Linear(1, 2, bias=False, dtype=F64), LIF(1.0),
        torch.nn.Linear(2, 2, bias=False, dtype=F64), LIF(1.0, refractory=True),
    )
    with torch.no_grad():
        model[0].weight.fill_(1.5)
        model[2].weight.copy_(torch.tensor([[1.2, 0.0], [0.0, 1.2]], dtype=F64))
    x = np.ones((1, 1, 1))
    res = simulate(model, x, schedule="momentum", group_size=1, use_engine=use_engine)
    eng = neuroemu.Emulator(engine_network(model, beta=1.0), schedule="momentum", group_size=1).run_batch(x)
    assert_same_as_engine(res, eng)
    assert eng.spikes_to_output[0, 0, 0] < eng.spikes_to_output[0, 0, 1]


def _conv_model(seed):
    gen = torch.Generator().manual_seed(seed)
    model = torch.nn.Sequential(
        torch.nn.Conv2d(1, 3, 3, padding=1, bias=False, dtype=F64), LIF(0.8),
        torch.nn.AvgPool2d(2), torch.nn.Flatten(), torch.nn.Linear(27, 5, bias=False, dtype=F64), LIF(0.8),
    )
    with torch.no_grad():
        model[0].weight.copy_(torch.randn(3, 1, 3, 3, generator=gen, dtype=F64) * 0.8 + 0.3)
        model[4].weight.copy_(torch.randn(5, 27, generator=gen, dtype=F64) * 0.8 + 0.4)
    return model


@pytest.mark.xfail(not hasattr(neuroemu.Network, "from_torch"), reason="needs Network.from_torch", strict=False)
@pytest.mark.parametrize("schedule,group", [("sync", None), ("momentum", 3), ("fifo", 2), ("momentum", 1)])
def test_conv_agrees_with_engine_from_torch(schedule, group):
    model = _conv_model(3)
    x = frames(2, 4, 5, 36).reshape(4, 5, 1, 6, 6)
    res = simulate(model, x, schedule=schedule, group_size=group, use_engine=None if schedule == "sync" else False)
    net = neuroemu.Network.from_torch(model, (1, 6, 6), dt=1e-3)
    eng = neuroemu.Emulator(net, schedule=schedule, group_size=group).run_batch(x.reshape(4, 5, 36), threads=1)
    assert_same_as_engine(res, eng)
    assert res.layer_spikes[..., 0].sum() > 50 and res.layer_spikes[..., 1].sum() > 20


def test_conv_agrees_with_engine_via_to_network():
    from neuroemu.training import to_network

    model = _conv_model(4)
    x = frames(3, 4, 5, 36)
    net = to_network(model, 1e-3, (1, 6, 6))
    for schedule, group in [("sync", None), ("momentum", 2)]:
        res = simulate(model, x, input_shape=(1, 6, 6), schedule=schedule, group_size=group)
        assert_same_as_engine(res, neuroemu.Emulator(net, schedule=schedule, group_size=group).run_batch(x))


def test_random_schedule_invariants():
    model = mlp((6, 8, 5, 3), 11)
    x = frames(4, 5, 6, 6)
    sync = simulate(model, x, schedule="sync")
    every = simulate(model, x, schedule="random", group_size=None)
    assert torch.equal(sync.spike_counts, every.spike_counts)  # F unlimited is layer-synchronous
    gen = torch.Generator().manual_seed(3)
    one = simulate(model, x, schedule="random", group_size=1, generator=gen)
    again = simulate(model, x, schedule="random", group_size=1, generator=torch.Generator().manual_seed(3))
    assert torch.equal(one.spike_counts, again.spike_counts)
    # F = 1, refractory, prioritised input: one queue entry (one spike) per step after step 0
    spikes_per_bin = one.spike_counts.sum(dim=2)
    assert torch.equal(one.forward_steps, spikes_per_bin.long() + 1)
    # every spike is delivered once: synops = input synops + sum over spikes of the neuron's fan-out
    lins = linears(model)
    fan_out = torch.cat([(lin.weight != 0).sum(dim=0).double() for lin in lins[1:]] + [torch.zeros(3, dtype=F64)])
    input_synops = torch.from_numpy(x).double() @ (lins[0].weight != 0).sum(dim=0).double()
    assert torch.equal(one.synops, input_synops + one.spike_counts.double() @ fan_out)


def test_first_spike_time_matches_engine_steps_to_output():
    model = mlp((6, 7, 4), 2)
    x = frames(5, 6, 4, 6, p=0.4)
    for schedule, group in [("momentum", 2), ("sync", None)]:
        res = simulate(model, x, schedule=schedule, group_size=group, first_spike=True)
        eng = neuroemu.Emulator(engine_network(model), schedule=schedule, group_size=group).run_batch(x)
        expect = np.full((6, 4), 4.0)
        for b in range(6):
            for c in range(4):
                hit = np.nonzero(eng.steps_to_output[b, :, c] >= 0)[0]
                if hit.size:
                    t = hit[0]
                    expect[b, c] = t + (eng.steps_to_output[b, t, c] - 1) / eng.forward_steps_per_bin[b, t]
        np.testing.assert_allclose(res.first_spike_time.detach().numpy(), expect, rtol=1e-12)


def test_prediction_ties_and_silence_are_minus_one():
    model = mlp((4, 3), 0, mean=-5.0)  # silent output
    res = simulate(model, np.ones((2, 3, 4)))
    assert res.prediction.tolist() == [-1, -1]


def test_runaway_activity_raises():
    model = torch.nn.Sequential(
        torch.nn.Linear(1, 1, bias=False, dtype=F64), LIF(1.0, reset="subtract", refractory=False)
    )
    with torch.no_grad():
        model[0].weight.fill_(1e4)
    with pytest.raises(RuntimeError, match="max_steps_per_bin"):
        simulate(model, np.ones((1, 1, 1)), schedule="momentum", group_size=1, max_steps_per_bin=10)


# ------------------------------------------------------------------------------------------------------
# bad input
# ------------------------------------------------------------------------------------------------------
def test_bad_models_name_the_layer():
    with pytest.raises(ModelImportError, match="'1'.*ReLU"):
        simulate(torch.nn.Sequential(torch.nn.Linear(2, 2), torch.nn.ReLU(), LIF(0.5)), np.ones((1, 1, 2)))
    with pytest.raises(ModelImportError, match="after its last LIF"):
        simulate(torch.nn.Sequential(torch.nn.Linear(2, 2), LIF(0.5), torch.nn.Linear(2, 2)), np.ones((1, 1, 2)))
    with pytest.raises(ModelImportError, match="no Linear"):
        simulate(torch.nn.Sequential(LIF(0.5)), np.ones((1, 1, 2)))
    with pytest.raises(ModelImportError, match="does not fit"):
        simulate(torch.nn.Sequential(torch.nn.Linear(3, 2), LIF(0.5)), np.ones((1, 1, 2)))
    with pytest.raises(ModelImportError, match="beta of shape"):
        simulate(torch.nn.Sequential(torch.nn.Linear(2, 2), LIF(torch.full((3,), 0.5))), np.ones((1, 1, 2)))


def test_bad_arguments():
    model = mlp((3, 2), 0)
    with pytest.raises(ConfigError, match="group_size"):
        simulate(model, np.ones((1, 2, 3)), schedule="sync", group_size=2)
    with pytest.raises(ConfigError, match="schedule"):
        simulate(model, np.ones((1, 2, 3)), schedule="lifo")
    with pytest.raises(InputError, match="negative"):
        simulate(model, -np.ones((1, 2, 3)))
    with pytest.raises(InputError, match="shaped"):
        simulate(model, np.ones((2, 3)))
    with pytest.raises(NeuroemuTypeError):
        simulate(model, np.ones((1, 2, 3)), schedule="momentum", group_size=2.5)


# ------------------------------------------------------------------------------------------------------
# gradients
# ------------------------------------------------------------------------------------------------------
def bptt_counts(model, x):
    """Independent layer-wise BPTT with LIF.forward (snnTorch style): output counts (B, T, n_out)."""
    lins, lifs = linears(model), [m for m in model if isinstance(m, LIF)]
    mems = [None] * len(lins)
    outs = []
    for t in range(x.shape[1]):
        s = x[:, t]
        for li, (lin, lif) in enumerate(zip(lins, lifs)):
            s, mems[li] = lif(lin(s), mems[li])
        outs.append(s)
    return torch.stack(outs, dim=1)


@pytest.mark.parametrize("schedule", ["momentum", "fifo", "random", "sync"])
def test_gradient_equals_bptt_when_group_is_unlimited(schedule):
    model = mlp((12, 10, 8, 4), 1, mean=0.45, scale=1.0)
    x = torch.ones(5, 6, 12, dtype=F64)
    x[:, :, ::3] = 0
    weights = torch.randn(5, 6, 4, generator=torch.Generator().manual_seed(0), dtype=F64)
    res = simulate(model, x, schedule=schedule)
    # every layer spikes in every bin of every sample, so every neuron receives once per bin as in BPTT
    assert res.layer_spikes.min() > 0
    ours = grads(model, (res.output_counts * weights).sum())
    ref = grads(model, (bptt_counts(model, x) * weights).sum())
    assert torch.equal(res.output_counts.detach(), bptt_counts(model, x).detach())
    for a, b in zip(ours, ref):
        assert b.abs().max() > 0
        torch.testing.assert_close(a, b, rtol=1e-6, atol=1e-6 * float(b.abs().max()))


def test_surrogate_only_where_the_neuron_receives():
    # hidden neuron 0 has no incoming synapse: it never receives, so the asynchronous simulator never
    # evaluates its surrogate and its incoming weights get no gradient; layer-wise BPTT evaluates it
    # every bin and does give them a gradient
    model = mlp((5, 4, 3), 7, mean=0.5)
    with torch.no_grad():
        model[0].weight[0] = 0.0
    x = torch.ones(3, 4, 5, dtype=F64)
    for schedule, group in [("momentum", None), ("momentum", 2), ("fifo", 1)]:
        res = simulate(model, x, schedule=schedule, group_size=group)
        g = grads(model, res.output_counts.sum() + (res.output_counts ** 2).sum())
        assert torch.all(g[0][0] == 0) and g[0][1:].abs().sum() > 0
    g_sync = grads(model, simulate(model, x).output_counts.sum() + (bptt_counts(model, x) ** 2).sum())
    assert g_sync[0][0].abs().sum() > 0


def reference_counts(model, x, *, schedule, group_size, prioritize_input=True, max_post_output_steps=None):
    """The gradient semantics of docs/training.md, one forward step at a time (slow, for tiny networks).

    Every step: checked neurons compute u = v + I and s = H(u - theta) with the surrogate; a spike
    joins the queue with its s; a checked non-spike's s is delivered at the next step of its sample or,
    after the sample's last step of the bin, added to the membrane of its (non-refractory) targets.
    """
    lins, lifs = linears(model), [m for m in model if isinstance(m, LIF)]
    sizes = [lin.out_features for lin in lins]
    offs = np.concatenate([[0], np.cumsum(sizes)]).astype(int)
    n, (b_size, n_bins, n_in) = int(offs[-1]), x.shape
    beta = torch.cat([torch.full((s,), float(lif.beta), dtype=F64) for s, lif in zip(sizes, lifs)])
    theta = torch.cat([torch.full((s,), float(lif.threshold), dtype=F64) for s, lif in zip(sizes, lifs)])
    zero = torch.cat([torch.full((s,), lif.reset == "zero") for s, lif in zip(sizes, lifs)])
    refr = torch.cat([torch.full((s,), lif.refractory) for s, lif in zip(sizes, lifs)])
    bias = torch.cat([lin.bias if lin.bias is not None else torch.zeros(s, dtype=F64) for s, lin in zip(sizes, lins)])
    has_bias = bias.detach() != 0
    surrogate = lifs[0].surrogate

    def current(m_in, m):
        parts = [m_in @ lins[0].weight.t() if m_in is not None else torch.zeros(b_size, sizes[0], dtype=F64)]
        parts += [m[:, offs[li - 1] : offs[li]] @ lins[li].weight.t() for li in range(1, len(lins))]
        return torch.cat(parts, dim=1)

    def receives(m_in, m):
        nz = [(lin.weight.detach() != 0).double() for lin in lins]
        parts = [m_in @ nz[0].t() if m_in is not None else torch.zeros(b_size, sizes[0], dtype=F64)]
        parts += [m[:, offs[li - 1] : offs[li]] @ nz[li].t() for li in range(1, len(lins))]
        return torch.cat(parts, dim=1) > 0

    v = torch.zeros(b_size, n, dtype=F64)
    outs = []
    for t in range(n_bins):
        v = v * beta + bias
        r = torch.zeros(b_size, n, dtype=torch.bool)
        pre = torch.zeros(b_size, n, dtype=F64)
        q = torch.zeros(b_size, n, dtype=F64)
        step_q = torch.full((b_size, n), -1)
        xt = x[:, t]
        q_in = torch.zeros_like(xt) if prioritize_input else xt.clone()
        m_in = xt if prioritize_input else None
        mask_in = (xt > 0).double() if prioritize_input else None
        m = torch.zeros(b_size, n, dtype=F64)
        mask = torch.zeros(b_size, n, dtype=F64)
        ghost = torch.zeros(b_size, n, dtype=F64)
        active = torch.ones(b_size, dtype=torch.bool)
        first_out = torch.full((b_size,), -1)
        out = torch.zeros(b_size, sizes[-1], dtype=F64)
        k = 0
        while True:
            cur = current(m_in, m + ghost)
            recv = receives(mask_in, mask)
            checked = ~r & active[:, None] & (recv | ((k == 0) & has_bias)[None] | (v > theta))
            u = v + cur
            s = spike(u - theta, surrogate) * checked.double()
            fired = s.detach() > 0
            held = s.detach()
            v = torch.where(checked, u - torch.where(zero, u * held, theta * held), torch.where(r, v, v + cur))
            pre = torch.where(fired, u.detach(), pre)
            r = r | (fired & refr)
            step_q = torch.where(fired & (q.detach() == 0), k, step_q)
            q = q + s * fired.double()
            silent = s * (~fired).double()
            out = out + s[:, offs[-2] :]
            if max_post_output_steps is not None:
                first_out = torch.where((first_out < 0) & fired[:, offs[-2] :].any(1), k, first_out)
                stop = (first_out >= 0) & (k >= first_out + max_post_output_steps)
                q, q_in = q * (~stop).double()[:, None], q_in * (~stop).double()[:, None]
            alive = active & ((q.detach() > 0).any(1) | (q_in > 0).any(1))
            tail = current(None, silent * (~alive).double()[:, None])
            v = v + torch.where(r, torch.zeros_like(tail), tail)
            if not bool(alive.any()):
                break
            emit = torch.zeros(b_size, n, dtype=torch.bool)
            emit_in = torch.zeros(b_size, n_in, dtype=torch.bool)
            for b in np.nonzero(alive.numpy())[0]:
                entries = [(c - n_in, True, c) for c in range(n_in) if q_in[b, c] > 0]
                entries += [(i, False, i) for i in range(n) if q[b, i].detach() > 0]
                if schedule == "momentum":
                    entries.sort(key=lambda e: (0, 0.0, e[0]) if e[1] else (1, -float(pre[b, e[2]]), e[0]))
                else:
                    entries.sort(key=lambda e: (0 if e[1] else int(step_q[b, e[2]]), e[0]))
                for _, is_in, j in entries if group_size is None else entries[:group_size]:
                    (emit_in if is_in else emit)[b, j] = True
            m, mask = q * emit.double(), emit.double()
            q = q * (~emit).double()
            if prioritize_input:
                m_in = mask_in = None
            else:
                m_in, mask_in = q_in * emit_in.double(), emit_in.double()
                q_in = q_in * (~emit_in).double()
            ghost = silent * alive.double()[:, None]
            active = alive
            k += 1
        outs.append(out)
    return torch.stack(outs, dim=1)


@pytest.mark.parametrize(
    "options",
    [
        {"schedule": "momentum", "group_size": 2},
        {"schedule": "momentum", "group_size": 1},
        {"schedule": "fifo", "group_size": 3},
        {"schedule": "momentum", "group_size": 2, "prioritize_input": False},
        {"schedule": "fifo", "group_size": 1, "max_post_output_steps": 1},
        {"schedule": "momentum", "group_size": 2, "reset": "subtract"},
        {"schedule": "momentum", "group_size": 1, "refractory": False},
        {"schedule": "fifo", "group_size": 2, "bias": True},
        {"schedule": "momentum", "group_size": 2, "reset": "subtract", "refractory": False, "bias": True},
        {"schedule": "momentum", "group_size": 2, "sparsity": 0.4},
    ],
)
@pytest.mark.parametrize("seed", [0, 1])
def test_gradient_matches_step_by_step_reference(options, seed):
    options = dict(options)
    build = {k: options.pop(k) for k in ("reset", "refractory", "bias", "sparsity") if k in options}
    model = mlp((6, 7, 5, 3), seed, mean=0.45 if build.get("sparsity") else 0.35, **build)
    x = torch.from_numpy(frames(seed, 4, 5, 6, p=0.6)).double()
    weights = torch.randn(4, 5, 3, generator=torch.Generator().manual_seed(seed), dtype=F64)
    res = simulate(model, x, **options)
    ref = reference_counts(model, x, **options)
    assert torch.equal(res.output_counts.detach(), ref.detach())
    assert res.total_spikes.sum() > 30
    ours = grads(model, (res.output_counts * weights).sum())
    theirs = grads(model, (ref * weights).sum())
    for a, b in zip(ours, theirs):
        assert b.abs().max() > 0
        torch.testing.assert_close(a, b, rtol=1e-9, atol=1e-12 * float(b.abs().max()))


def _flat(model, n_in):
    from neuroemu.torch._layers import parse_model, population_params
    from neuroemu.torch._schedule import flatten_params

    params = [population_params(p, F64, torch.device("cpu")) for p in parse_model(model, (n_in,))]
    return params, flatten_params(params, n_in)


def _emitted_multiplicities(trace, t):
    """(B, K-1, n_src) multiplicity of each queue entry emitted after each step (either layout)."""
    mult, idx = trace.emit_mult[t], trace.emit_idx[t]
    if idx is None:
        return mult
    out = torch.zeros((*mult.shape[:2], trace.n_src), dtype=mult.dtype)
    return out.scatter_add_(2, idx, mult)


@pytest.mark.parametrize(
    "options",
    [
        {"schedule": "momentum", "group_size": 2},
        {"schedule": "momentum", "group_size": None},
        {"schedule": "fifo", "group_size": 1, "max_post_output_steps": 1},
        {"schedule": "momentum", "group_size": 2, "prioritize_input": False},
        {"schedule": "fifo", "group_size": 3, "prioritize_input": False},
    ],
)
@pytest.mark.parametrize("build", [{}, {"reset": "subtract", "refractory": False, "bias": True}, {"sparsity": 0.4}])
def test_engine_pass_gives_the_pytorch_trace(options, build):
    # the no-grad pass in the C++ engine records the same spikes, steps, emissions and synops, in float64,
    # as the batched PyTorch pass
    from neuroemu.torch._engine_schedule import engine_trace
    from neuroemu.torch._schedule import run_schedule

    model = mlp((6, 7, 5, 3), 0, mean=0.45 if build.get("sparsity") else 0.35, **build)
    x = torch.from_numpy(frames(0, 4, 5, 6, p=0.6, max_count=2)).double()
    _, net = _flat(model, 6)
    kwargs = {"schedule": options["schedule"], "group_size": options["group_size"],
              "prioritize_input": options.get("prioritize_input", True),
              "max_post_output_steps": options.get("max_post_output_steps"), "max_steps_per_bin": 10_000}
    ours = engine_trace(net, x, seed=0, **kwargs)
    ref = run_schedule(net, x, generator=None, **kwargs)
    assert ours.n_bins == ref.n_bins == 5 and ref.spike_counts().sum() > 30
    for t in range(ref.n_bins):
        assert torch.equal(ours.spikes[t], ref.spikes[t])
        assert torch.equal(ours.alive[t], ref.alive[t])
        assert torch.equal(ours.synops[t], ref.synops[t])
        assert torch.equal(_emitted_multiplicities(ours, t), _emitted_multiplicities(ref, t))


def _gradient_with(model, x, replay_single_spike: bool, fused: bool = True, **options):
    """Output counts and gradient through the single-spike replay (fused CPU loops or PyTorch) or not."""
    import neuroemu.torch._replay_single as single
    import neuroemu.torch.simulator as simulator

    applies, kernels = simulator.single_spike_applies, single.kernels_apply
    if not replay_single_spike:
        simulator.single_spike_applies = lambda *args: False
    if not fused:
        single.kernels_apply = simulator.kernels_apply = lambda *args: False
    try:
        res = simulate(model, x, **options)
    finally:
        simulator.single_spike_applies, single.kernels_apply, simulator.kernels_apply = applies, kernels, kernels
    weights = torch.randn(res.output_counts.shape, generator=torch.Generator().manual_seed(1), dtype=F64)
    return res.output_counts.detach(), grads(model, (res.output_counts * weights).sum())


@pytest.mark.parametrize(
    "options",
    [
        {"schedule": "momentum", "group_size": 2},
        {"schedule": "momentum", "group_size": 1, "use_engine": False},
        {"schedule": "fifo", "group_size": 1, "max_post_output_steps": 1},
        {"schedule": "random", "group_size": 3},
        {"schedule": "momentum", "group_size": None},
    ],
)
@pytest.mark.parametrize("sizes,build", [((6, 7, 5, 3), {}), ((6, 7, 5, 3), {"sparsity": 0.4}), ((6, 4), {}),
                                         ((6, 9, 8, 7, 3), {})])
@pytest.mark.parametrize("fused", [True, False])
def test_single_spike_replay_equals_the_general_replay(options, sizes, build, fused):
    # refractory zero-reset networks take the replay with a hand-written backward (on CPU in fused C++
    # loops, else in PyTorch operations); the general replay (autograd through the population-by-population
    # recomputation) is its reference
    model = mlp(sizes, 0, mean=0.45 if build.get("sparsity") else 0.35, **build)
    x = torch.from_numpy(frames(0, 4, 5, 6, p=0.6)).double()
    ours, g_ours = _gradient_with(model, x, True, fused, **options)
    ref, g_ref = _gradient_with(model, x, False, **options)
    assert torch.equal(ours, ref) and ref.sum() > 5
    for a, b in zip(g_ours, g_ref):
        assert b.abs().max() > 0
        torch.testing.assert_close(a, b, rtol=1e-12, atol=1e-13 * float(b.abs().max()))


def test_single_spike_replay_learns_beta_and_threshold():
    model = torch.nn.Sequential(
        torch.nn.Linear(6, 7, bias=False, dtype=F64),
        LIF(torch.full((7,), 0.8, dtype=F64), 1.0, learn_beta=True, learn_threshold=True),
        torch.nn.Linear(7, 3, bias=False, dtype=F64),
        LIF(0.7, torch.tensor(0.9, dtype=F64), learn_beta=True, learn_threshold=True),
    )
    gen = torch.Generator().manual_seed(2)
    with torch.no_grad():
        model[0].weight.copy_(torch.rand((7, 6), generator=gen, dtype=F64) * 0.8)
        model[2].weight.copy_(torch.rand((3, 7), generator=gen, dtype=F64) * 0.8)
    x = torch.from_numpy(frames(1, 4, 5, 6, p=0.6)).double()
    ref, g_ref = _gradient_with(model, x, False, schedule="momentum", group_size=2)
    assert len(g_ref) == 6 and all(g.abs().max() > 0 for g in g_ref)
    for fused in (True, False):
        ours, g_ours = _gradient_with(model, x, True, fused, schedule="momentum", group_size=2)
        assert torch.equal(ours, ref)
        for a, b in zip(g_ours, g_ref):
            torch.testing.assert_close(a, b, rtol=1e-12, atol=1e-13 * float(b.abs().max()))


def test_first_spike_time_gradient_moves_spikes_earlier():
    model = mlp((6, 7, 4), 3)
    x = torch.from_numpy(frames(2, 4, 6, 6)).double()
    res = simulate(model, x, schedule="momentum", group_size=2, first_spike=True)
    res.first_spike_time.sum().backward()
    assert all(torch.isfinite(p.grad).all() for p in model.parameters())
    # raising every weight makes spikes no later: the gradient of the total first-spike time is <= 0 overall
    assert sum(float(p.grad.sum()) for p in model.parameters()) < 0
