"""Self-checks of the numpy oracle (tests/oracle) against hand-computed cases.

These run without the C++ engine. Every expected value below is derived by hand from
docs/semantics.md (the derivation is in the comments), or from an independent time-stepped LIF loop.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from oracle import simulate  # noqa: E402

ASYNC = ("momentum", "fifo")


def _col(*values: float) -> np.ndarray:
    """A (T, 1) frame array."""
    return np.array(values, dtype=np.float64)[:, None]


def _lif_reference(
    weights: list[np.ndarray], frames: np.ndarray, theta: float, beta: float
) -> tuple[np.ndarray, np.ndarray]:
    """Textbook time-stepped LIF (reset to zero in the same step): spike trains and final v."""
    v = [np.zeros(w.shape[0]) for w in weights]
    trains = []
    for x in frames:
        s_in = x
        row = []
        for li, w in enumerate(weights):
            v[li] = v[li] * beta + w @ s_in
            s = v[li] > theta
            v[li] = np.where(s, 0.0, v[li])
            row.append(s)
            s_in = s.astype(np.float64)
        trains.append(np.concatenate(row))
    return np.array(trains, dtype=np.int64), np.concatenate(v)


# --- SPEC section 6 -------------------------------------------------------------------------------


def _check_against_lif(weights: list[np.ndarray], frames: np.ndarray, beta: float) -> np.ndarray:
    """Oracle sync (and async with F = None / F >= width) vs the time-stepped LIF loop."""
    ref_spikes, ref_v = _lif_reference(weights, frames, 1.0, beta)
    out = simulate(weights, frames, threshold=1.0, beta=beta, schedule="sync")
    np.testing.assert_array_equal(out["spike_counts"], ref_spikes)
    np.testing.assert_allclose(out["final_v"], ref_v, rtol=0, atol=1e-6)
    assert np.all(out["forward_steps"] == len(weights))
    width = max(w.shape[0] for w in weights)
    for schedule in ASYNC:
        for group_size in (None, width):
            a = simulate(weights, frames, threshold=1.0, beta=beta, schedule=schedule, group_size=group_size)
            np.testing.assert_array_equal(a["spike_counts"], ref_spikes)
            np.testing.assert_array_equal(a["final_v"], out["final_v"])
    return ref_spikes


def test_sync_equals_time_stepped_lif_3_3_2() -> None:
    """SPEC 6: 3-3-2 network, N(0,1) weights, tau = dt = 1, theta = 1, ones for 1,000 bins."""
    rng = np.random.default_rng(19)  # a seed with activity in both layers
    weights = [rng.standard_normal((3, 3)), rng.standard_normal((2, 3))]
    spikes = _check_against_lif(weights, np.ones((1000, 3)), math.exp(-1.0))
    assert spikes[:, :3].sum() > 0 and spikes[:, 3:].sum() > 0


@pytest.mark.parametrize("seed", range(4))
def test_sync_equals_time_stepped_lif_random_input(seed: int) -> None:
    """Same, with random counts 0..2 as input and a larger scale, so that activity is irregular."""
    rng = np.random.default_rng(seed)
    weights = [1.5 * rng.standard_normal((3, 3)), 1.5 * rng.standard_normal((2, 3))]
    frames = rng.integers(0, 3, size=(300, 3)).astype(np.float64)
    spikes = _check_against_lif(weights, frames, math.exp(-1.0))
    assert spikes.sum() > 0


@pytest.mark.parametrize("schedule", ASYNC)
def test_single_neuron_three_queued_inputs_fires_three_times(schedule: str) -> None:
    """1 neuron, 3 inputs of weight 0.9, theta 0.5, F=1, no refractoriness, queued input.

    Step 0 queues ch0..ch2 (ranked before neurons) and emits ch0; steps 1, 2, 3 each deliver 0.9
    (zero reset: u = 0.9 > 0.5), the neuron spikes each time and its q grows to 3 while the other
    channels go first; step 4 delivers the neuron (no synapses); the queue is then empty.
    """
    out = simulate(
        [np.full((1, 3), 0.9)],
        np.ones((1, 3)),
        threshold=0.5,
        beta=1.0,
        refractory=False,
        schedule=schedule,
        group_size=1,
        prioritize_input=False,
    )
    assert out["spike_counts"].tolist() == [[3]]
    assert out["events"] == [(0, 1, 0), (0, 2, 0), (0, 3, 0)]
    assert out["forward_steps"].tolist() == [5]
    assert out["synops"].tolist() == [3]  # 3 channels x 1 synapse; the neuron has none
    assert out["neuron_updates"].tolist() == [3]
    assert out["spikes_to_output"].tolist() == [[1]]
    assert out["steps_to_output"].tolist() == [[2]]
    assert out["spikes_to_first_output"].tolist() == [1]
    assert out["final_v"].tolist() == [0.0]


def test_single_neuron_three_queued_inputs_subtract_reset() -> None:
    """Same, subtract reset: v > theta before a step makes the neuron fire without input.

    v: 0.9-0.5, +0.9-0.5, +0.9-0.5 (= 1.2 after step 3), then steps 4 and 5 fire on v alone.
    """
    out = simulate(
        [np.full((1, 3), 0.9)],
        np.ones((1, 3)),
        threshold=0.5,
        beta=1.0,
        reset="subtract",
        refractory=False,
        schedule="momentum",
        group_size=1,
        prioritize_input=False,
    )
    v = 0.0
    for _ in range(3):
        v = (v + 0.9) - 0.5
    v = (v + 0.0) - 0.5
    v = (v + 0.0) - 0.5
    assert out["events"] == [(0, k, 0) for k in range(1, 6)]
    assert out["forward_steps"].tolist() == [7]
    assert out["neuron_updates"].tolist() == [5]
    assert out["final_v"].tolist() == [v]


def _fanout_net() -> list[np.ndarray]:
    """1 input -> 3 neurons (weights 0.6, 1.5, 1.0) -> 3 outputs, one-to-one with weight 1."""
    return [np.array([[0.6], [1.5], [1.0]]), np.eye(3)]


def test_momentum_emits_highest_pre_spike_potential_first() -> None:
    """theta 0.5, F=1. Step 0: n0, n1, n2 spike with p = 0.6, 1.5, 1.0.

    Emission order: n1 (1.5) -> step 1 n4 spikes (p 1.0); then n2 (1.0, ties n4 by index)
    -> step 2 n5 spikes; then n4 (1.0), n5 (1.0), and only then n0 (0.6) -> step 5 n3 spikes;
    step 6 delivers n3 and the bin ends.
    """
    out = simulate(_fanout_net(), [[1.0]], threshold=0.5, beta=1.0, schedule="momentum", group_size=1)
    assert out["events"] == [(0, 0, 0), (0, 0, 1), (0, 0, 2), (0, 1, 4), (0, 2, 5), (0, 5, 3)]
    assert out["forward_steps"].tolist() == [7]
    # output 0 (n3) first spiked in step 5 after all 6 spikes; output 1 (n4) in step 1 (4 spikes)
    assert out["spikes_to_output"].tolist() == [[6, 4, 5]]
    assert out["steps_to_output"].tolist() == [[6, 2, 3]]
    assert out["spikes_to_first_output"].tolist() == [4]
    # neurons with nothing queued are never emitted: only 3 + 3 deliveries happen
    assert out["synops"].tolist() == [3 + 3]


def test_fifo_same_network_emits_by_age_then_index() -> None:
    """Same network, fifo, F=1: n0, n1, n2 (all queued at step 0) go in index order."""
    out = simulate(_fanout_net(), [[1.0]], threshold=0.5, beta=1.0, schedule="fifo", group_size=1)
    assert out["events"] == [(0, 0, 0), (0, 0, 1), (0, 0, 2), (0, 1, 3), (0, 2, 4), (0, 3, 5)]
    assert out["forward_steps"].tolist() == [7]


def test_momentum_group_of_two() -> None:
    """F=2: step 0 emits n1 and n2 together (highest p), n0 waits until step 1's emission."""
    out = simulate(_fanout_net(), [[1.0]], threshold=0.5, beta=1.0, schedule="momentum", group_size=2)
    # step 1: n4, n5 spike (p 1.0); queue n0 (0.6), n4, n5 -> emit n4, n5; step 2: n0 emitted
    assert out["events"] == [(0, 0, 0), (0, 0, 1), (0, 0, 2), (0, 1, 4), (0, 1, 5), (0, 3, 3)]
    assert out["forward_steps"].tolist() == [5]


# --- chain, leak, reset -------------------------------------------------------------------------


@pytest.mark.parametrize("schedule", ("sync", "momentum", "fifo"))
def test_chain_spikes_to_first_output_is_three(schedule: str) -> None:
    """input -> n1 -> n2 -> n3 (all weights 1, theta 0.5) fires through: 3 spikes, 3 steps."""
    weights = [np.ones((1, 1))] * 3
    kwargs = {} if schedule == "sync" else {"group_size": 1}
    out = simulate(weights, [[1.0]], threshold=0.5, beta=1.0, schedule=schedule, **kwargs)
    assert out["spikes_to_first_output"].tolist() == [3]
    assert out["spikes_to_output"].tolist() == [[3]]
    assert out["steps_to_output"].tolist() == [[3]]
    assert out["events"] == [(0, 0, 0), (0, 1, 1), (0, 2, 2)]
    # sync: one phase per layer; async: one more step delivers n3 (no synapses)
    assert out["forward_steps"].tolist() == [3 if schedule == "sync" else 4]
    assert out["synops"].tolist() == [3]
    assert out["neuron_updates"].tolist() == [3]


@pytest.mark.parametrize("schedule", ("sync", "momentum", "fifo"))
def test_leak_is_repeated_multiplication(schedule: str) -> None:
    """A neuron driven once (v = 1.0 in bin 0) then watched decaying for 6 more bins."""
    beta = 0.9
    frames = _col(1.0, 0, 0, 0, 0, 0, 0)
    out = simulate([np.ones((1, 1))], frames, threshold=10.0, beta=beta, schedule=schedule)
    v = 1.0
    for _ in range(6):
        v = v * beta
    assert out["final_v"].tolist() == [v]
    assert out["spike_counts"].sum() == 0
    assert out["neuron_updates"].tolist() == [1, 0, 0, 0, 0, 0, 0]


@pytest.mark.parametrize("schedule", ("sync", "momentum", "fifo"))
def test_leak_then_bias_each_bin(schedule: str) -> None:
    """Bias is added after the leak, once per bin; a biased neuron is checked every bin.

    beta 0.5, b 0.75, theta 1: v = 0.75, 1.125 (spike, zero reset), 0.75, 1.125 (spike), ...
    """
    out = simulate(
        [np.zeros((1, 1))], np.zeros((4, 1)), threshold=1.0, beta=0.5, bias=0.75, schedule=schedule
    )
    assert out["spike_counts"][:, 0].tolist() == [0, 1, 0, 1]
    assert out["neuron_updates"].tolist() == [1, 1, 1, 1]
    assert out["final_v"].tolist() == [0.0]


def test_bias_rule_in_later_layer() -> None:
    """A biased layer-1 neuron is checked at step 0 (async) and in its phase (sync)."""
    weights = [np.ones((1, 1)), np.ones((1, 1))]
    kw = {"threshold": 1.0, "beta": 1.0, "bias": [0.0, 0.25]}
    # bin 0: n0 gets 1.0 (not > 1), n1 v = 0.25; bin 1: n0 2.0 spikes; n1 0.5 + 1.0 = 1.5 spikes
    sync = simulate(weights, _col(1.0, 1.0), schedule="sync", **kw)
    assert sync["spike_counts"].tolist() == [[0, 0], [1, 1]]
    assert sync["neuron_updates"].tolist() == [2, 2]
    a = simulate(weights, _col(1.0, 1.0), schedule="momentum", **kw)
    assert a["spike_counts"].tolist() == [[0, 0], [1, 1]]
    # async bin 1: step 0 checks n0 (input) and n1 (bias); step 1 checks n1 (receives)
    assert a["neuron_updates"].tolist() == [2, 3]
    assert a["events"] == [(1, 0, 0), (1, 1, 1)]


@pytest.mark.parametrize("schedule", ("sync", "momentum", "fifo"))
def test_subtract_reset_carries_over_a_bin(schedule: str) -> None:
    """theta 1, subtract, refractory: 2.5 -> spike, v = 1.5; next bin v > theta fires with no input."""
    out = simulate(
        [np.ones((1, 1))],
        _col(2.5, 0.0, 0.0),
        threshold=1.0,
        beta=1.0,
        reset="subtract",
        schedule=schedule,
    )
    assert out["spike_counts"][:, 0].tolist() == [1, 1, 0]
    assert out["final_v"].tolist() == [0.5]
    assert out["neuron_updates"].tolist() == [1, 1, 0]
    assert out["synops"].tolist() == [1, 0, 0]  # 2.5 is not whole: a graded event counts once
    assert out["forward_steps"].tolist() == ([1, 1, 1] if schedule == "sync" else [2, 2, 1])


def test_subtract_reset_without_refractoriness_fires_again_in_the_bin() -> None:
    """Refractory off: step 0 spikes (v 1.5), step 1 spikes on v alone (v 0.5); step 2 ends."""
    out = simulate(
        [np.ones((1, 1))],
        _col(2.5),
        threshold=1.0,
        beta=1.0,
        reset="subtract",
        refractory=False,
        schedule="fifo",
    )
    assert out["events"] == [(0, 0, 0), (0, 1, 0)]
    assert out["forward_steps"].tolist() == [3]
    assert out["final_v"].tolist() == [0.5]


def test_refractory_neuron_discards_current() -> None:
    """Zero reset, refractory: the second delivery in the bin is discarded, v stays 0."""
    # queued input, F=1: ch0 then ch1 each deliver 1.0 to the one neuron (theta 0.5)
    out = simulate(
        [np.ones((1, 2))],
        np.ones((1, 2)),
        threshold=0.5,
        beta=1.0,
        schedule="fifo",
        group_size=1,
        prioritize_input=False,
    )
    assert out["spike_counts"].tolist() == [[1]]
    assert out["neuron_updates"].tolist() == [1]
    assert out["final_v"].tolist() == [0.0]


# --- stop on output, fifo age, synops -----------------------------------------------------------


def _stop_net() -> list[np.ndarray]:
    """1 input -> n0, n1 (weight 1) -> output n2 (weight 1 from each)."""
    return [np.ones((2, 1)), np.ones((1, 2))]


@pytest.mark.parametrize(
    ("k_post", "counts", "steps", "synops"),
    [
        (0, [1, 1, 1], 2, 3),  # n2 fires in step 1; queue (n1, n2) cleared after step 1
        (1, [1, 1, 2], 3, 4),  # n1 delivered in step 2 (n2 fires again), then cleared
        (2, [1, 1, 2], 4, 4),  # the bin ends by itself after step 3
        (None, [1, 1, 2], 4, 4),
    ],
)
def test_stop_on_output_drops_the_queue(
    k_post: int | None, counts: list[int], steps: int, synops: int
) -> None:
    """momentum, F=1, refractory off, theta 0.5: n0, n1 spike at step 0 (p equal, n0 first)."""
    out = simulate(
        _stop_net(),
        _col(1.0, 0.0),
        threshold=0.5,
        beta=1.0,
        refractory=False,
        schedule="momentum",
        group_size=1,
        max_post_output_steps=k_post,
    )
    assert out["spike_counts"][0].tolist() == counts
    assert out["forward_steps"].tolist() == [steps, 1]  # nothing carries into the next bin
    assert out["synops"].tolist() == [synops, 0]
    assert out["spike_counts"][1].tolist() == [0, 0, 0]
    assert out["spikes_to_output"].tolist() == [[3], [-1]]
    assert out["steps_to_output"].tolist() == [[2], [-1]]
    assert out["spikes_to_first_output"].tolist() == [3, -1]


def test_stop_on_output_drops_undelivered_current() -> None:
    """With K=0, n1's queued spike never reaches n2: n2 keeps v = 0 (reset) instead of 1.0 - ..."""
    weights = [np.ones((2, 1)), np.array([[1.0, 0.25]])]
    out0 = simulate(
        weights,
        _col(1.0),
        threshold=0.5,
        beta=1.0,
        refractory=False,
        schedule="fifo",
        group_size=1,
        max_post_output_steps=0,
    )
    full = simulate(
        weights,
        _col(1.0),
        threshold=0.5,
        beta=1.0,
        refractory=False,
        schedule="fifo",
        group_size=1,
    )
    assert out0["final_v"].tolist() == [0.0, 0.0, 0.0]
    assert full["final_v"].tolist() == [0.0, 0.0, 0.25]


@pytest.mark.parametrize("schedule", ("momentum", "fifo"))
def test_fifo_keeps_age_of_requeued_neuron(schedule: str) -> None:
    """Queued input ch0, ch1, ch2; ch0 -> n1, ch1 -> n0, ch2 -> n1; n0 -> n2, n1 -> n3; F=1.

    fifo: ch0 (step 1: n1 queued at 1), ch1 (step 2: n0 queued at 2), ch2 (step 3: n1 spikes
    again while queued, keeps age 1), so n1 (q=2) goes before n0 -> step 4 n3, step 5 n2.
    momentum (p all 1.0): after ch2, n0 and n1 tie -> n0 first -> step 4 n2, step 5 n3.
    """
    weights = [np.array([[0.0, 1.0, 0.0], [1.0, 0.0, 1.0]]), np.eye(2)]
    out = simulate(
        weights,
        np.ones((1, 3)),
        threshold=0.5,
        beta=1.0,
        refractory=False,
        schedule=schedule,
        group_size=1,
        prioritize_input=False,
    )
    if schedule == "fifo":
        assert out["events"] == [(0, 1, 1), (0, 2, 0), (0, 3, 1), (0, 4, 3), (0, 5, 2)]
        assert out["spikes_to_output"].tolist() == [[5, 4]]
        assert out["steps_to_output"].tolist() == [[6, 5]]
        assert out["spikes_to_first_output"].tolist() == [4]
    else:
        assert out["events"] == [(0, 1, 1), (0, 2, 0), (0, 3, 1), (0, 4, 2), (0, 5, 3)]
    # n1's two spikes are delivered together (q = 2) as one source: 2 synops, one current of 2.0
    assert out["spike_counts"].tolist() == [[1, 2, 1, 1]]
    assert out["synops"].tolist() == [3 + 1 + 2]
    assert out["forward_steps"].tolist() == [8]


def test_synops_counting_multiplicities() -> None:
    """Synops = sum over deliveries of multiplicity x synapses (zero weights are not synapses).

    ch0 has 2 synapses, ch1 one (one explicit zero), ch2 two. Frame [3, 0.5, 2.0]: 3*2 + 1*1 + 2*2.
    theta 100: nothing spikes.
    """
    w = np.array([[1.0, 0.0, 0.5], [-1.0, 0.25, 0.5]])
    for schedule, kw in (("sync", {}), ("momentum", {"prioritize_input": False, "group_size": 1})):
        out = simulate([w], [[3.0, 0.5, 2.0]], threshold=100.0, beta=1.0, schedule=schedule, **kw)
        assert out["synops"].tolist() == [6 + 1 + 4]
        assert out["spike_counts"].sum() == 0
    # the current uses the real multiplicity: v = 3*1 + 2*0.5 and -3 + 0.5*0.25 + 2*0.5
    assert out["final_v"].tolist() == [3.0 + 1.0, (-3.0 + 0.125) + 1.0]


def test_neuron_multiplicity_scales_current_and_synops() -> None:
    """n0 spikes 3 times while queued (refractory off); one delivery of q=3 gives 3*w and 3*2 synops."""
    weights = [np.full((1, 3), 0.9), np.array([[0.25], [0.5]])]
    out = simulate(
        weights,
        np.ones((1, 3)),
        threshold=0.5,
        beta=1.0,
        refractory=False,
        schedule="fifo",
        group_size=1,
        prioritize_input=False,
    )
    # steps 1-3 deliver the channels (n0 queued at step 1, q -> 3); step 4 delivers n0 (q = 3):
    # n1: 3*0.25 = 0.75 > 0.5 spikes; n2: 3*0.5 = 1.5 spikes.
    assert out["spike_counts"].tolist() == [[3, 1, 1]]
    assert out["synops"].tolist() == [3 + 3 * 2]
    assert [e for e in out["events"] if e[2] > 0] == [(0, 4, 1), (0, 4, 2)]


# --- step 0, argument handling ------------------------------------------------------------------


@pytest.mark.parametrize("prioritize_input", (True, False))
def test_step_zero_always_exists(prioritize_input: bool) -> None:
    """A silent bin still takes one forward step (and zero updates)."""
    out = simulate(
        [np.ones((2, 2))],
        np.zeros((2, 2)),
        threshold=1.0,
        beta=1.0,
        schedule="fifo",
        prioritize_input=prioritize_input,
    )
    assert out["forward_steps"].tolist() == [1, 1]
    assert out["neuron_updates"].tolist() == [0, 0]
    assert out["spikes_to_first_output"].tolist() == [-1, -1]


def test_queued_input_shifts_by_one_step() -> None:
    """Queued input, F=None: the channels are emitted after step 0, so the chain fires one later."""
    out = simulate(
        [np.ones((1, 1))] * 2,
        [[1.0]],
        threshold=0.5,
        beta=1.0,
        schedule="momentum",
        prioritize_input=False,
    )
    assert out["events"] == [(0, 1, 0), (0, 2, 1)]
    assert out["forward_steps"].tolist() == [4]
    assert out["steps_to_output"].tolist() == [[3]]


def test_per_layer_parameters() -> None:
    """threshold/beta/bias per layer (scalar or array), reset/refractory per layer."""
    out = simulate(
        [np.ones((2, 1)), np.ones((1, 2))],
        _col(1.0),
        threshold=[np.array([0.5, 2.0]), 1.5],
        beta=[1.0, 0.5],
        bias=[0.0, np.array([0.25])],
        reset=["zero", "subtract"],
        refractory=[True, False],
        schedule="sync",
    )
    # n0 fires (1 > 0.5), n1 does not (1 < 2); n2: 0.25 + 1.0 = 1.25 < 1.5
    assert out["spike_counts"].tolist() == [[1, 0, 0]]
    assert out["final_v"].tolist() == [0.0, 1.0, 1.25]


def test_rejected_arguments() -> None:
    """random is not in the contract; sync takes no async options; shapes are checked."""
    w = [np.ones((1, 1))]
    with pytest.raises(NotImplementedError):
        simulate(w, [[1.0]], threshold=1.0, beta=1.0, schedule="random")
    for kw in ({"group_size": 1}, {"prioritize_input": False}, {"max_post_output_steps": 0}):
        with pytest.raises(ValueError):
            simulate(w, [[1.0]], threshold=1.0, beta=1.0, schedule="sync", **kw)
    with pytest.raises(ValueError):
        simulate(w, [[1.0, 1.0]], threshold=1.0, beta=1.0)
    with pytest.raises(ValueError):
        simulate([np.ones((2, 1)), np.ones((1, 3))], [[1.0]], threshold=1.0, beta=1.0)
    with pytest.raises(ValueError):
        simulate(w, [[-1.0]], threshold=1.0, beta=1.0)


def test_sync_equivalence_counterexample_subtract_refractory() -> None:
    """Documents a limit of the sync/async equivalence claimed in docs/semantics.md.

    in -> n0 (w 1) -> n1 (w 3), theta 1, beta 1, subtract reset, refractory on, frames 2, 1, 0.
    Bin 1 starts with n1 at v = 2 > theta: async fires it at step 0 on v alone (v -> 1) and discards
    the step-1 current; sync integrates it first (5 -> v = 4), so n1 fires again in bin 2 only
    under sync. The equivalence holds for reset to zero; with subtract reset it needs v <= theta
    at each bin start.
    """
    weights = [np.ones((1, 1)), np.full((1, 1), 3.0)]
    kw = {"threshold": 1.0, "beta": 1.0, "reset": "subtract", "refractory": True}
    s = simulate(weights, _col(2.0, 1.0, 0.0), schedule="sync", **kw)
    a = simulate(weights, _col(2.0, 1.0, 0.0), schedule="momentum", **kw)
    assert s["spike_counts"].tolist() == [[1, 1], [1, 1], [0, 1]]
    assert a["spike_counts"].tolist() == [[1, 1], [1, 1], [0, 0]]
