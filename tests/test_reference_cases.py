"""SPEC section 6: the reference check cases, against PyTorch and by hand."""

from __future__ import annotations

import numpy as np
import pytest

import neuroemu

torch = pytest.importorskip("torch")


def torch_lif_reference(weights, frames, *, beta, threshold):
    """A standard time-stepped SNN (snnTorch `Leaky` with reset-to-zero in the same step), in torch."""
    v = [torch.zeros(w.shape[0], dtype=torch.float64) for w in weights]
    ws = [torch.as_tensor(w, dtype=torch.float64) for w in weights]
    trains = []
    for frame in torch.as_tensor(frames, dtype=torch.float64):
        x = frame
        spikes_t = []
        for layer, w in enumerate(ws):
            v[layer] = beta * v[layer] + w @ x
            s = (v[layer] > threshold).to(torch.float64)
            v[layer] = v[layer] * (1 - s)
            spikes_t.append(s)
            x = s
        trains.append(torch.cat(spikes_t))
    return torch.stack(trains).numpy()


@pytest.mark.parametrize("seed", [0, 1, 2, 4, 5])
def test_layer_sync_equals_time_stepped_torch_lif(seed):
    rng = np.random.default_rng(seed)
    weights = [rng.normal(size=(3, 3)), rng.normal(size=(2, 3))]
    frames = np.ones((1000, 3))
    beta = float(np.exp(-1.0))  # tau = dt = 1
    net = neuroemu.Network.from_weights(weights, threshold=1.0, tau=1.0, dt=1.0)
    expected = torch_lif_reference(weights, frames, beta=beta, threshold=1.0)
    assert expected.sum() > 0
    for schedule, group in (("sync", None), ("momentum", 3), ("fifo", 3), ("random", 3), ("momentum", None)):
        res = neuroemu.Emulator(net, schedule=schedule, group_size=group).run(frames)
        np.testing.assert_allclose(res.spike_counts, expected, atol=1e-6, err_msg=f"{schedule} F={group}")


def test_single_neuron_fires_three_times_in_one_bin():
    net = neuroemu.Network.from_weights([np.full((1, 3), 0.9)], threshold=0.5, beta=1.0, dt=1.0, refractory=False)
    em = neuroemu.Emulator(net, schedule="fifo", group_size=1, prioritize_input=False)
    res = em.run(np.ones((1, 3)))
    assert res.spike_counts.tolist() == [[3]]
    # with the input prioritised, the frame arrives as one current: 2.7 > 0.5, one spike
    assert neuroemu.Emulator(net, schedule="fifo", group_size=1).run(np.ones((1, 3))).total_spikes == 1


def test_momentum_emits_the_hardest_crossing_first():
    # three hidden neurons crossing threshold by different margins, each with its own output neuron
    w1 = np.array([[1.5], [3.0], [2.0]])
    w2 = np.eye(3) * 2.0
    net = neuroemu.Network.from_weights([w1, w2], threshold=1.0, beta=1.0, dt=1.0)
    res = neuroemu.Emulator(net, schedule="momentum", group_size=1, record="spikes").run(np.ones((1, 1)))
    outputs = [e["neuron"] - 3 for e in res.events if e["neuron"] >= 3]
    assert outputs == [1, 2, 0]  # pre-spike potentials 3.0 > 2.0 > 1.5
    # a silent network queues nothing and emits nothing
    silent = neuroemu.Emulator(net, schedule="momentum", group_size=1).run(np.zeros((2, 1)))
    assert silent.total_spikes == 0
    assert silent.forward_steps_per_bin.tolist() == [1, 1]


def test_chain_of_three_spikes_to_first_output_is_three():
    net = neuroemu.Network.from_weights([np.array([[2.0]])] * 3, threshold=1.0, beta=1.0, dt=1.0)
    for schedule, group in (("sync", None), ("momentum", 1), ("fifo", None), ("random", 2)):
        res = neuroemu.Emulator(net, schedule=schedule, group_size=group).run(np.ones((1, 1)))
        assert res.spikes_to_first_output.tolist() == [3]
