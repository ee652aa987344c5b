"""Deployment: neurons onto cores, cores onto the mesh, capacity errors and weight quantisation."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import neuroemu
from neuroemu import CapacityError, CoreLimits, Cost, Hardware, OperationCosts, deploy


def _net(sizes, seed=0, density=1.0, n_in=5):
    rng = np.random.default_rng(seed)
    weights, prev = [], n_in
    for size in sizes:
        w = rng.normal(0.3, 1.0, size=(size, prev))
        w[rng.random(w.shape) > density] = 0.0
        weights.append(w)
        prev = size
    return neuroemu.Network.from_weights(weights, threshold=1.0, beta=0.9, dt=1e-3)


def _hw(**limits):
    return Hardware("test", CoreLimits(**limits), OperationCosts(chip_hop=Cost(1.0, 1.0)))


def test_layers_fill_cores_up_to_neurons_per_core():
    net = _net([10, 7, 3])
    dep = deploy(net, _hw(neurons_per_core=4))
    np.testing.assert_array_equal(dep.neurons_per_core, [4, 4, 2, 4, 3, 3])
    np.testing.assert_array_equal(dep.core_layer, [0, 0, 0, 1, 1, 2])
    np.testing.assert_array_equal(dep.core_first_neuron, [0, 4, 8, 10, 14, 17, 20])
    np.testing.assert_array_equal(dep.core_of_neuron[:10], [0] * 4 + [1] * 4 + [2] * 2)
    # dense layers: every neuron of a layer sends to every core of the next layer
    np.testing.assert_array_equal(dep.messages_per_spike[:10], 2)
    np.testing.assert_array_equal(dep.messages_per_spike[10:17], 1)
    np.testing.assert_array_equal(dep.messages_per_spike[17:], 0)
    np.testing.assert_array_equal(dep.destinations[:5], 3)  # input channels reach layer 0's three cores
    # synapses per core = fan-in synapses of its neurons
    dense = [w != 0 for w in net.weights()]
    per_neuron = np.concatenate([d.sum(axis=1) for d in dense])
    for c in range(dep.n_cores):
        first, last = dep.core_first_neuron[c], dep.core_first_neuron[c + 1]
        assert dep.synapses_per_core[c] == per_neuron[first:last].sum()
    rep = dep.report()
    assert rep["cores"] == 6 and rep["chips"] == 1
    assert [layer["cores"] for layer in rep["layers"]] == [3, 2, 1]
    assert rep["layers"][0]["mean_messages_per_spike"] == 2.0
    assert len(rep["per_core"]) == 6


def test_unlimited_profile_puts_each_layer_on_one_core():
    dep = deploy(_net([10, 7, 3]), _hw())
    np.testing.assert_array_equal(dep.neurons_per_core, [10, 7, 3])
    assert dep.n_chips == 1


def test_synapse_and_fan_in_limits_split_cores():
    net = _net([6, 4])  # dense: 5 synapses onto each layer-0 neuron, 6 onto each layer-1 neuron
    dep = deploy(net, _hw(synapses_per_core=12))
    np.testing.assert_array_equal(dep.neurons_per_core, [2, 2, 2, 2, 2])
    assert dep.synapses_per_core.max() <= 12
    # fan-in: distinct sources per core. Layer-0 neurons all share the same 5 inputs, layer-1 ones 6 neurons.
    dep = deploy(net, _hw(fan_in_per_core=6, neurons_per_core=100))
    np.testing.assert_array_equal(dep.neurons_per_core, [6, 4])
    np.testing.assert_array_equal(dep.fan_in_per_core, [5, 6])


def test_fan_in_limit_with_disjoint_sources():
    # neuron k of the layer listens to inputs 2k and 2k+1 only: two new sources per neuron
    w = np.zeros((4, 8))
    for k in range(4):
        w[k, 2 * k: 2 * k + 2] = 1.0
    net = neuroemu.Network.from_weights([w], threshold=1.0, beta=1.0, dt=1e-3)
    dep = deploy(net, _hw(fan_in_per_core=5))
    np.testing.assert_array_equal(dep.neurons_per_core, [2, 2])
    np.testing.assert_array_equal(dep.fan_in_per_core, [4, 4])
    np.testing.assert_array_equal(dep.destinations[:8], 1)


def test_capacity_errors_name_layer_and_limit():
    net = _net([4, 9, 2])
    with pytest.raises(CapacityError, match=r"layer 2: .*synapses_per_core=8"):
        deploy(net, _hw(synapses_per_core=8))
    with pytest.raises(CapacityError, match=r"layer 2: neuron 0 has 9 incoming sources.*fan_in_per_core=6"):
        deploy(net, _hw(fan_in_per_core=6))
    with pytest.raises(CapacityError, match=r"layer 0: .*fan_in_per_core=4"):
        deploy(net, _hw(fan_in_per_core=4))
    with pytest.raises(CapacityError, match=r"layer 1 .*needs 6 cores.*max_chips=1 x 4 cores per chip"):
        deploy(net, _hw(neurons_per_core=3, mesh=(2, 2), max_chips=1))
    assert issubclass(CapacityError, neuroemu.ConfigError) and issubclass(CapacityError, ValueError)


def test_spanning_chips_needs_a_chip_to_chip_cost():
    net = _net([4, 9, 2])
    no_link = Hardware("nolink", CoreLimits(neurons_per_core=3, mesh=(2, 1)))
    with pytest.raises(CapacityError, match=r"layer 1 does not fit on one chip.*chip_hop"):
        deploy(net, no_link)
    small_loihi = Hardware.preset("loihi").replace(
        limits=CoreLimits(neurons_per_core=2, cores_per_tile=4, mesh=(1, 1))
    )
    with pytest.raises(CapacityError, match=r"layer 1 does not fit on one chip.*'loihi' chip holds 4"):
        deploy(_net([6, 6]), small_loihi)  # 6 cores; Loihi's profile gives no chip-to-chip cost
    dep = deploy(net, _hw(neurons_per_core=3, mesh=(2, 1)))
    assert dep.n_chips == 3  # 6 cores, 2 per chip
    np.testing.assert_array_equal(dep.core_coords[:, 0], [0, 0, 1, 1, 2, 2])
    np.testing.assert_array_equal(dep.global_tiles()[:, 1], [0, 1, 2, 3, 4, 5])


def test_loihi_tiles_and_hops_by_hand():
    # one neuron per core, four cores per tile, an 8 x 4 tile mesh: core k sits in tile k // 4
    net = neuroemu.Network.from_weights([np.ones((40, 1)), np.ones((1, 40))], threshold=1.0, beta=1.0, dt=1e-3)
    hw = Hardware.preset("loihi").replace(limits=CoreLimits(neurons_per_core=1, cores_per_tile=4, mesh=(8, 4)))
    dep = deploy(net, hw)
    assert dep.n_cores == 41
    tiles = np.arange(41) // 4
    np.testing.assert_array_equal(dep.core_coords[:, 1], tiles % 8)
    np.testing.assert_array_equal(dep.core_coords[:, 2], tiles // 8)
    # the input channel reaches all 40 layer-0 cores: 4 of them in tile (0, 0)
    assert dep.destinations[0] == 40 and dep.in_tile_destinations[0] == 4
    assert dep.hops_east_west[0] == sum(abs(t % 8) for t in tiles[:40] if t != 0)
    assert dep.hops_north_south[0] == sum(t // 8 for t in tiles[:40])
    # every layer-0 neuron sends one message to core 40 in tile 10 = (2, 1)
    n0 = 1 + np.arange(40)
    np.testing.assert_array_equal(dep.destinations[n0], 1)
    np.testing.assert_array_equal(dep.hops_east_west[n0], np.abs(tiles[:40] % 8 - 2) * (tiles[:40] != 10))
    np.testing.assert_array_equal(dep.hops_north_south[n0], np.abs(tiles[:40] // 8 - 1) * (tiles[:40] != 10))


@settings(max_examples=30, deadline=None)
@given(bits=st.integers(2, 12), seed=st.integers(0, 1000))
def test_quantisation_puts_weights_on_a_per_layer_grid(bits, seed):
    net = _net([6, 4], seed=seed)
    dep = deploy(net, _hw(), quantize_bits=bits)
    levels = 2 ** (bits - 1) - 1
    assert dep.quantize_bits == bits and len(dep.weight_scales) == 2
    for original, quantised, scale in zip(net.weights(), dep.network.weights(), dep.weight_scales):
        assert scale == pytest.approx(np.abs(original).max() / levels)
        steps = quantised / scale
        np.testing.assert_allclose(steps, np.round(steps), atol=1e-9)
        assert np.abs(steps).max() <= levels + 1e-9
        np.testing.assert_allclose(quantised, np.round(original / scale) * scale)
        assert np.abs(quantised - original).max() <= scale / 2 + 1e-12
    # weights that round to zero stop being synapses
    assert dep.network.n_synapses == sum(int(np.count_nonzero(w)) for w in dep.network.weights())
    assert dep.source_network is net


def test_quantised_deployment_is_what_the_emulator_runs():
    net = _net([6, 3], seed=2)
    dep = deploy(net, _hw(), quantize_bits=3)
    frames = (np.random.default_rng(0).random((6, 5)) < 0.6).astype(float)
    quantised = neuroemu.Emulator(net, schedule="sync", hardware=dep).run(frames)
    reference = neuroemu.Emulator(dep.network, schedule="sync").run(frames)
    np.testing.assert_array_equal(quantised.spike_counts, reference.spike_counts)
    with pytest.raises(neuroemu.ConfigError, match="another network"):
        neuroemu.Emulator(_net([6, 3], seed=3), hardware=dep)


def test_bad_arguments():
    net = _net([3])
    with pytest.raises(neuroemu.ConfigError, match="quantize_bits"):
        deploy(net, "loihi", quantize_bits=1)
    with pytest.raises(neuroemu.NeuroemuTypeError, match="quantize_bits"):
        deploy(net, "loihi", quantize_bits=4.0)
    with pytest.raises(neuroemu.NeuroemuTypeError, match="hardware"):
        deploy(net, 3)
    with pytest.raises(neuroemu.NeuroemuTypeError, match="network"):
        deploy("net", "loihi")
    with pytest.raises(neuroemu.ConfigError, match="preset"):
        deploy(net, "nonesuch")


def test_deployment_pickles():
    import pickle

    dep = deploy(_net([5, 2]), "loihi")
    dep._core_model()
    again = pickle.loads(pickle.dumps(dep))
    np.testing.assert_array_equal(again.core_of_neuron, dep.core_of_neuron)
    assert again.hardware == dep.hardware


@settings(max_examples=200, deadline=None)
@given(values=hnp.arrays(np.int64, hnp.array_shapes(max_dims=1, max_side=60), elements=st.integers(-50, 50)))
def test_distinct_equals_numpy_unique(values):
    from neuroemu.deploy import _distinct

    np.testing.assert_array_equal(_distinct(values), np.unique(values))
    assert _distinct(values).dtype == np.int64
