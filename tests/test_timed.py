"""The timed hardware model (docs/hardware.md): analytic chains, energy = counts x costs, the sync schedule
against the step model, barriers, determinism, and Hypothesis properties of the event trace."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

import neuroemu
from neuroemu import CoreLimits, Cost, Hardware, OperationCosts, deploy
from neuroemu.network import Network, Population, Projection

# (energy pJ, latency ns) per operation: distinct values so that every term of a hand computation shows.
COSTS = {
    "synop": (2.0, 3.0),
    "neuron_active": (5.0, 5.0),
    "neuron_inactive": (0.7, 1.0),
    "spike_out": (1.1, 0.5),
    "message": (1.7, 2.0),
    "hop_east_west": (3.0, 7.0),
    "hop_north_south": (4.0, 11.0),
    "chip_hop": (20.0, 50.0),
    "barrier": (0.3, 100.0),
}
DT = 1e-3  # s; 1e6 ns


def _costs(static: float = 0.25, **changes: tuple[float, float]) -> OperationCosts:
    table = {**COSTS, **changes}
    return OperationCosts(**{op: Cost(e, lat) for op, (e, lat) in table.items()}, static_mw_per_core=static)


def chain(k: int, weight: float = 2.0) -> Network:
    """input -> n0 -> n1 -> ... -> n(k-1), the last the output; each spike makes the next neuron fire."""
    return Network.from_weights([np.array([[weight]])] * k, threshold=1.0, beta=1.0, dt=DT)


def chain_hardware(k: int, layout: str = "east-west", static: float = 0.25) -> Hardware:
    mesh = {"east-west": (k, 1), "north-south": (1, k), "chips": (1, 1)}[layout]
    return Hardware("chain", CoreLimits(neurons_per_core=1, cores_per_tile=1, mesh=mesh), _costs(static))


def timed(net: Network, hardware, **kwargs) -> neuroemu.Emulator:
    return neuroemu.Emulator(net, mode="timed", hardware=hardware, **kwargs)


# -- analytic cases ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("prioritize_input", [True, False])
@pytest.mark.parametrize("layout", ["east-west", "north-south", "chips"])
@pytest.mark.parametrize("k", [1, 2, 5])
def test_chain_across_k_cores_by_hand(k, layout, prioritize_input):
    hw = chain_hardware(k, layout)
    res = timed(chain(k), hw, schedule="fifo", trace=True, prioritize_input=prioritize_input).run(np.ones((1, 1)))
    syn, act, inact, out, msg, ew, ns, chip, _ = (COSTS[op][1] for op in COSTS)
    hop = {"east-west": ew, "north-south": ns, "chips": ew + chip}[layout]
    # t = 0: every core's per-bin update (one inactive update, 1 ns). The input reaches core 0 (in the input
    # port's tile) at 2 ns; core 0 integrates it (one synop, one active update) until 10 ns and fires; each
    # next core gets the spike spike_out + one hop later and needs another synop + update.
    first = msg + syn + act
    assert res.time_to_first_output_ns == pytest.approx(first + (k - 1) * (out + hop + syn + act))
    assert res.time_to_decision_ns == res.time_to_first_output_ns
    np.testing.assert_allclose(res.core_busy_ns, inact + syn + act)
    assert res.duration_ns == DT * 1e9
    assert res.total_spikes == k and res.synops == k and res.neuron_updates == k
    assert res.messages == k and res.hops == k - 1
    assert res.hardware_counters.chip_crossings == (k - 1 if layout == "chips" else 0)
    # every spike message arrives exactly spike_out + latency after the spike that sent it; with one input
    # channel the prioritised input task (source -3) costs what the single input message costs
    tasks = res.trace[res.trace["source"] != -1]
    assert tasks.size == k
    assert tasks["source"][0] == (-3 if prioritize_input else 0)
    np.testing.assert_array_equal(tasks["source"][1:], np.arange(k - 1) + 1)
    np.testing.assert_allclose(tasks["arrival_ps"][1:] - tasks["end_ps"][:-1], (out + hop) * 1000)
    # energy by hand (pJ)
    e = {op: COSTS[op][0] for op in COSTS}
    energy = res.energy_pj
    assert energy.synaptic == pytest.approx(k * e["synop"])
    assert energy.neuron_update == pytest.approx(k * e["neuron_active"] + k * e["neuron_inactive"])
    assert energy.spike_message == pytest.approx(k * e["spike_out"] + e["message"])
    hop_energy = {"east-west": e["hop_east_west"], "north-south": e["hop_north_south"],
                  "chips": e["hop_east_west"] + e["chip_hop"]}[layout]
    assert energy.routing == pytest.approx((k - 1) * hop_energy)
    assert energy.static == pytest.approx(0.25 * k * DT * 1e9)
    assert energy.total == pytest.approx(
        energy.synaptic + energy.neuron_update + energy.spike_message + energy.routing + energy.static
    )


@pytest.mark.parametrize("k", [1, 3, 6])
def test_chain_with_barriers_by_hand(k):
    res = timed(chain(k), chain_hardware(k), schedule="sync").run(np.ones((1, 1)))
    syn, act, _, out, msg, ew, _, _, barrier = (COSTS[op][1] for op in COSTS)
    # phase 0 starts when the input has arrived; every later phase waits for the spike's arrival + a barrier
    assert res.time_to_first_output_ns == pytest.approx(msg + syn + act + (k - 1) * (out + ew + barrier + syn + act))
    assert res.hardware_counters.barriers == k
    assert res.energy_pj.routing == pytest.approx((k - 1) * COSTS["hop_east_west"][0] + k * COSTS["barrier"][0])
    no_barrier = timed(chain(k), chain_hardware(k), schedule="fifo").run(np.ones((1, 1)))
    assert res.time_to_first_output_ns - no_barrier.time_to_first_output_ns == pytest.approx((k - 1) * barrier)


def test_work_outlasting_the_bins_extends_the_duration():
    k = 4
    slow = Hardware("slow", CoreLimits(neurons_per_core=1, mesh=(k, 1)),
                    _costs(hop_east_west=(3.0, 1e6)))  # 1 ms per hop
    res = timed(chain(k), slow, schedule="fifo").run(np.ones((1, 1)))
    assert res.duration_ns == pytest.approx(res.time_to_first_output_ns)
    assert res.duration_ns > DT * 1e9
    assert res.energy_pj.static == pytest.approx(0.25 * k * res.duration_ns)
    # spikes after the last bin's end are counted in the last bin
    assert res.output_counts.sum() == 1


def test_static_energy_is_power_times_time():
    net = chain(3)
    for power in (0.0, 1.5, 40.0):
        for bins in (1, 7):
            res = timed(net, chain_hardware(3, static=power)).run(np.ones((bins, 1)))
            assert res.energy_pj.static == power * 3 * res.duration_ns
            assert res.duration_ns == bins * DT * 1e9


# -- prioritised input (docs/hardware.md "Input") ---------------------------------------------------------

def _one_core_hardware() -> Hardware:
    return Hardware("one", CoreLimits(neurons_per_core=8, cores_per_tile=1, mesh=(4, 1)), _costs(static=0.0))


@pytest.mark.parametrize("schedule", ["fifo", "momentum", "random"])
def test_prioritised_input_integrates_the_frame_at_once_by_hand(schedule):
    """One neuron, two input channels of weight 0.6 each, threshold 1, no leak, no refractoriness."""
    syn, act, inact, _, msg, *_ = (COSTS[op][1] for op in COSTS)
    net = Network.from_weights([np.array([[0.6, 0.6]])], threshold=1.0, beta=1.0, dt=DT, refractory=False)
    frames = np.array([[1.0, 1.0]])
    # prioritised: the per-bin update (0 - 1 ns), both input messages arrive at 2 ns, ONE input task integrates
    # 0.6 + 0.6 = 1.2 > 1 (two synops, one active update) and fires at 2 + 2*3 + 5 = 13 ns
    pri = timed(net, _one_core_hardware(), schedule=schedule, trace=True).run(frames)
    assert pri.total_spikes == 1
    assert pri.time_to_first_output_ns == pytest.approx(msg + 2 * syn + act) == 13.0
    assert pri.synops == 2 and pri.neuron_updates == 1 and pri.timed.deliveries == 1
    assert pri.messages == 2  # the input port still sends one message per event
    assert pri.forward_steps_per_bin.tolist() == [1] and pri.steps_to_output.tolist() == [[1]]
    np.testing.assert_allclose(pri.core_busy_ns, inact + 2 * syn + act)
    task = pri.trace[pri.trace["source"] == -3]
    assert task[["arrival_ps", "start_ps", "end_ps"]].tolist() == [(2000, 2000, 13000)]
    # queued: channel 0 alone (2 - 10 ns: v = 0.6), then channel 1 (10 - 18 ns: 1.2 > 1, a spike at 18 ns)
    que = timed(net, _one_core_hardware(), schedule=schedule, prioritize_input=False).run(frames)
    assert que.total_spikes == 1
    assert que.time_to_first_output_ns == pytest.approx(msg + 2 * (syn + act)) == 18.0
    assert que.synops == 2 and que.neuron_updates == 2 and que.timed.deliveries == 2 and que.messages == 2
    # the frame value is the multiplicity: 2 x 0.6 in one event, one message, two synops either way
    for prioritize in (True, False):
        two = timed(net, _one_core_hardware(), schedule=schedule, prioritize_input=prioritize).run(
            np.array([[2.0, 0.0]]))
        assert two.total_spikes == 1 and two.synops == 2 and two.messages == 1
        assert two.time_to_first_output_ns == msg + 2 * syn + act


@pytest.mark.parametrize("schedule", ["fifo", "momentum"])
def test_prioritised_and_queued_input_fire_differently_as_in_the_step_model(schedule):
    """Excitation 1.2 and inhibition -0.6 in one bin: summed first they stay below threshold (0.6); queued,
    channel 0 alone crosses it first. The step model with F = 1 agrees in both conventions."""
    net = Network.from_weights([np.array([[1.2, -0.6]])], threshold=1.0, beta=1.0, dt=DT, refractory=False)
    frames = np.array([[1.0, 1.0], [0.0, 1.0], [1.0, 0.0]])
    # prioritised: v = 0.6, then 0.6 - 0.6 = 0, then 0 + 1.2 > 1 fires in bin 2.
    # queued: 1.2 fires in bin 0 (v = 0), then v = -0.6; bin 1: -1.2; bin 2: -1.2 + 1.2 = 0 stays silent.
    for prioritize, expected in ((True, [0, 0, 1]), (False, [1, 0, 0])):
        tim = timed(net, _one_core_hardware(), schedule=schedule, prioritize_input=prioritize).run(frames)
        step = neuroemu.Emulator(net, schedule=schedule, group_size=1, prioritize_input=prioritize).run(frames)
        np.testing.assert_array_equal(tim.spike_counts, step.spike_counts)
        assert tim.spike_counts[:, 0].tolist() == expected


@pytest.mark.parametrize("prioritize_input", [True, False])
@pytest.mark.parametrize("gap", [False, True])
@pytest.mark.parametrize("schedule", ["fifo", "momentum"])
def test_subtract_reset_without_refractoriness_fires_repeatedly_in_one_update_by_hand(schedule, gap,
                                                                                     prioritize_input):
    """One input event onto neurons with weights 2.5, 0.5, 1.2 (threshold 1, subtract reset, no refractory
    period): the first fires twice in its update (2.5 -> 1.5 -> 0.5), the third once. Without a gap the row is
    contiguous (the vector check), with a zero weight between them it is not (the check per neuron)."""
    w = np.array([[2.5], [0.0], [0.5], [1.2]]) if gap else np.array([[2.5], [0.5], [1.2]])
    net = Network(1, [Population(len(w), np.ones(len(w)), np.ones(len(w)), np.zeros(len(w)), "subtract", False)],
                  [_projection(-1, 0, w)], dt=DT)
    res = timed(net, _one_core_hardware(), schedule=schedule, prioritize_input=prioritize_input).run(np.ones((1, 1)))
    expected = [2, 0, 0, 1] if gap else [2, 0, 1]
    np.testing.assert_array_equal(res.spike_counts[0], expected)
    assert res.hardware_counters.messages == 1  # the input event; the output layer sends nothing


def test_input_task_timing_on_a_chain_by_hand():
    """2 channels -> n0 (core 0, the input port's tile) -> n1 (core 1, one hop east)."""
    syn, act, inact, out, msg, ew, *_ = (COSTS[op][1] for op in COSTS)
    net = Network.from_weights([np.array([[0.6, 0.6]]), np.array([[2.0]])], threshold=1.0, beta=1.0, dt=DT)
    hw = chain_hardware(2)
    frames = np.array([[1.0, 1.0], [0.0, 0.0], [1.0, 1.0]])
    pri = timed(net, hw, schedule="fifo", trace=True).run(frames)
    que = timed(net, hw, schedule="fifo", trace=True, prioritize_input=False).run(frames)
    fire_pri = msg + 2 * syn + act                    # 13 ns
    fire_que = msg + 2 * (syn + act)                  # 18 ns
    assert pri.time_to_first_output_ns == pytest.approx(fire_pri + out + ew + syn + act) == 28.5
    assert que.time_to_first_output_ns == pytest.approx(fire_que + out + ew + syn + act) == 33.5
    for res in (pri, que):
        assert res.spike_counts.tolist() == [[1, 1], [0, 0], [1, 1]]
        assert res.messages == 4 + 2 and res.hops == 2 and res.synops == 4 + 2
    assert pri.neuron_updates == 2 + 2 and que.neuron_updates == 4 + 2
    tasks = pri.trace[pri.trace["source"] == -3]
    bin2 = 2 * DT * 1e12
    assert tasks[["core", "arrival_ps", "start_ps", "end_ps"]].tolist() == [
        (0, 2000, 2000, 13000), (0, bin2 + 2000, bin2 + 2000, bin2 + 13000)]
    # the output's spike message of bin 2 reaches core 1 at its bin start + 13 + 0.5 + 7 ns
    late = pri.trace[(pri.trace["core"] == 1) & (pri.trace["source"] >= 0)]
    assert late["arrival_ps"].tolist() == [20500, bin2 + 20500]


def test_input_task_waits_for_the_running_task_then_goes_before_waiting_messages():
    """Layer 0 (n0, n1 on core 0) excites itself weakly; a synop takes 0.3 ms, so bin 0's recurrent spike
    messages are still at core 0 when bin 1 starts. fifo would take them by arrival, but bin 1's per-bin
    update and then its input task come first, once the running delivery is over."""
    pops = [Population(2, np.ones(2), np.ones(2), np.zeros(2), "zero", True),
            Population(1, np.ones(1), np.ones(1), np.zeros(1), "zero", True)]
    net = Network(1, pops, [_projection(-1, 0, np.array([[2.0], [2.0]])),
                            _projection(0, 0, np.full((2, 2), 0.1)),
                            _projection(0, 1, np.array([[2.0, 2.0]]))], dt=DT)
    syn_ns = 3e5
    hw = Hardware("slow", CoreLimits(neurons_per_core=2, mesh=(2, 1)), _costs(synop=(2.0, syn_ns)))
    res = timed(net, hw, schedule="fifo", trace=True).run(np.ones((2, 1)))
    mine = res.trace[res.trace["core"] == 0]
    n_in = net.n_inputs
    assert mine["source"].tolist() == [-1, -3, n_in + 0, -1, -3, n_in + 1, n_in + 0, n_in + 1]
    ps = 1000
    syn, act, inact, out, msg = (round(COSTS[op][1] * ps) for op in
                                 ("synop", "neuron_active", "neuron_inactive", "spike_out", "message"))
    syn = round(syn_ns * ps)
    end0 = msg + 2 * syn + 2 * act                           # bin 0's input task: from the input's arrival
    arrive = end0 + out + msg                                # both recurrent spike messages wait from here
    end1 = arrive + 2 * syn + 2 * act                        # n0's message: runs past the bin boundary
    dt_ps = round(DT * 1e12)
    assert end1 > dt_ps
    update1 = (end1, end1 + 2 * inact)
    task1 = (dt_ps + msg, update1[1], update1[1] + 2 * syn + 2 * act)
    got = mine[["arrival_ps", "start_ps", "end_ps"]].tolist()
    assert got[1] == (msg, msg, end0)
    assert got[2] == (arrive, arrive, end1)
    assert got[3] == (dt_ps, *update1)
    assert got[4] == task1
    assert got[5][:2] == (arrive, task1[2])   # n1's message of bin 0 waited behind bin 1's input


@st.composite
def two_layer_chains(draw):
    """Input -> hidden -> output, every layer on one core; reset to zero, no bias."""
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    n_in, hidden, n_out = draw(st.integers(1, 6)), draw(st.integers(1, 8)), draw(st.integers(1, 4))
    w0 = rng.normal(0.4, 0.9, (hidden, n_in))
    w1 = rng.normal(0.3, 0.9, (n_out, hidden))
    for w in (w0, w1):
        w[rng.random(w.shape) < draw(st.sampled_from([0.0, 0.2]))] = 0.0
        if draw(st.booleans()):  # float32 weights: the engine keeps such tables as float
            w[:] = w.astype(np.float32)
    net = Network.from_weights(
        [w0, w1], threshold=1.0, beta=draw(st.sampled_from([1.0, 0.8, 0.0])), dt=DT,
        refractory=[draw(st.booleans()), draw(st.booleans())],
    )
    bins = draw(st.integers(1, 5))
    frames = rng.integers(0, 3, (bins, n_in)).astype(float)
    if draw(st.booleans()):
        frames *= rng.random((bins, n_in))
    return net, frames


@settings(max_examples=80, deadline=None)
@given(case=two_layer_chains(), schedule=st.sampled_from(["momentum", "fifo"]))
def test_prioritised_timed_input_equals_the_step_model_on_one_hidden_layer(case, schedule):
    """Where it follows from the model: the hidden layer receives only the input task, once per bin (with
    reset to zero and no bias nothing stays above threshold), so its spikes are step 0's; their messages
    all reach the output core at once and are taken by pre-spike potential (momentum) or by index (fifo),
    the step model's F = 1 emission order, and output neurons send nothing. Deeper networks differ: the
    timed cores run in parallel where the step model has one global queue."""
    net, frames = case
    hw = Hardware("per layer", CoreLimits(neurons_per_core=8, mesh=(2, 1)), _costs())
    tim = timed(net, hw, schedule=schedule).run(frames)
    step = neuroemu.Emulator(net, schedule=schedule, group_size=1).run(frames)
    np.testing.assert_array_equal(tim.spike_counts, step.spike_counts)
    np.testing.assert_array_equal(tim.synops_per_bin, step.synops_per_bin)


# -- random networks ------------------------------------------------------------------------------------

def _projection(source: int, target: int, dense: np.ndarray) -> Projection:
    sources, targets = np.nonzero(dense.T)
    indptr = np.zeros(dense.shape[1] + 1, np.int64)
    np.cumsum(np.bincount(sources, minlength=dense.shape[1]), out=indptr[1:])
    return Projection(source, target, indptr, targets.astype(np.int32), dense.T[sources, targets].copy())


def _weights(draw, rng: np.random.Generator, mean: float, sd: float, shape: tuple[int, int]) -> np.ndarray:
    """Normal weights, some of them zero (a row with gaps is scattered, one without is contiguous: the
    engine delivers the two differently), float64 or exactly float32 (kept as float)."""
    w = rng.normal(mean, sd, shape)
    w[rng.random(shape) < draw(st.sampled_from([0.0, 0.3]))] = 0.0
    return w.astype(np.float32).astype(np.float64) if draw(st.booleans()) else w


@st.composite
def networks(draw, recurrent: bool = True):
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    n_in = draw(st.integers(1, 4))
    sizes = draw(st.lists(st.integers(1, 5), min_size=1, max_size=4))
    # a recurrent projection needs refractoriness to be sure activity ends (zero latencies are allowed)
    loop = recurrent and len(sizes) > 1 and draw(st.booleans())
    pops, projs, prev = [], [], n_in
    for layer, size in enumerate(sizes):
        pops.append(Population(
            size,
            np.full(size, 1.0),
            np.full(size, draw(st.sampled_from([1.0, 0.9, 0.5, 0.0]))),
            rng.normal(0.0, 0.3, size) if draw(st.booleans()) else np.zeros(size),
            draw(st.sampled_from(["zero", "subtract"])),
            loop or draw(st.booleans()),
        ))
        projs.append(_projection(layer - 1, layer, _weights(draw, rng, 0.6, 0.8, (size, prev))))
        prev = size
    if loop:
        src = draw(st.integers(0, len(sizes) - 2))
        tgt = draw(st.integers(0, src))
        projs.append(_projection(src, tgt, _weights(draw, rng, 0.0, 0.7, (sizes[tgt], sizes[src]))))
    net = Network(n_in, pops, projs, dt=DT)
    bins = draw(st.integers(1, 5))
    graded = draw(st.booleans())
    frames = rng.integers(0, 3, (bins, n_in)).astype(float)
    if graded:
        frames *= rng.random((bins, n_in))
    return net, frames


@st.composite
def hardwares(draw):
    latency = st.sampled_from([0.0, 0.5, 1.0, 3.0, 20.0, 600.0])
    ops = {op: Cost(draw(st.sampled_from([0.0, 0.5, 2.0, 7.5])), draw(latency)) for op in COSTS}
    limits = CoreLimits(
        neurons_per_core=draw(st.integers(1, 4)),
        cores_per_tile=draw(st.integers(1, 3)),
        mesh=draw(st.none() | st.tuples(st.integers(1, 3), st.integers(1, 3))),
    )
    return Hardware("random", limits, OperationCosts(**ops, static_mw_per_core=draw(st.sampled_from([0.0, 1.3]))))


def _check_trace(res, n_cores: int) -> None:
    trace = res.trace
    # no task starts before what it processes has arrived
    assert np.all(trace["start_ps"] >= trace["arrival_ps"])
    assert np.all(trace["end_ps"] >= trace["start_ps"])
    # a core does one thing at a time
    for core in range(n_cores):
        mine = np.sort(trace[trace["core"] == core], order=["start_ps", "end_ps"])
        assert np.all(mine["start_ps"][1:] >= mine["end_ps"][:-1])
        assert (mine["end_ps"] - mine["start_ps"]).sum() == round(res.core_busy_ns[core] * 1000)
    assert res.duration_ns * 1000 >= trace["end_ps"].max(initial=0)


def _expected_energy(c, costs: OperationCosts):
    e = {op: getattr(costs, op).energy_pj for op in COSTS}
    return (
        c.synops * e["synop"],
        c.active_updates * e["neuron_active"] + c.inactive_updates * e["neuron_inactive"],
        c.spikes * e["spike_out"] + c.in_tile_messages * e["message"],
        c.hops_east_west * e["hop_east_west"] + c.hops_north_south * e["hop_north_south"]
        + c.chip_crossings * e["chip_hop"] + c.barriers * e["barrier"],
        costs.static_mw_per_core * c.cores * c.duration_ns,
    )


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=networks(), hw=hardwares(), schedule=st.sampled_from(["fifo", "momentum", "random", "sync"]),
       leak=st.sampled_from(["bin", "continuous"]), prioritize=st.booleans())
def test_trace_properties_traffic_and_energy(case, hw, schedule, leak, prioritize):
    net, frames = case
    dep = deploy(net, hw)
    res = timed(net, dep, schedule=schedule, leak=leak, trace=True, seed=3,
                prioritize_input=prioritize or schedule == "sync").run(frames)
    _check_trace(res, dep.n_cores)
    c = res.hardware_counters
    # every spike sends one message per destination core, every input event one per core it reaches
    spikes = res.spike_counts.sum(axis=0)
    sent = (frames > 0).sum(axis=0)
    n_in = net.n_inputs
    for counted, per_entry in ((c.messages, dep.destinations), (c.in_tile_messages, dep.in_tile_destinations),
                               (c.hops_east_west, dep.hops_east_west), (c.hops_north_south, dep.hops_north_south),
                               (c.chip_crossings, dep.chip_crossings)):
        assert counted == spikes @ per_entry[n_in:] + sent @ per_entry[:n_in]
    assert c.inactive_updates == net.n_neurons * frames.shape[0]
    assert c.spikes == res.total_spikes
    assert c.barriers == (len(net.populations) * frames.shape[0] if schedule == "sync" else 0)
    # energy = counts x costs, exactly
    energy = res.energy_pj
    expected = _expected_energy(c, hw.costs)
    assert (energy.synaptic, energy.neuron_update, energy.spike_message, energy.routing, energy.static) == expected
    assert energy.total == sum(expected[:4]) + expected[4]
    # the first output spike is recorded at its time
    first = res.timed.first_output_ps
    assert np.all((first >= 0) == (res.output_counts.sum(axis=0) > 0))
    if res.output_counts.sum():
        assert res.time_to_first_output_ns == first[first >= 0].min() / 1000
    else:
        assert math.isnan(res.time_to_first_output_ns)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=networks(), hw=hardwares())
def test_timed_sync_computes_exactly_what_the_step_model_computes(case, hw):
    """The sync schedule integrates each layer's input at once behind barriers: the latencies change only
    the timing, never the spikes (docs/hardware.md)."""
    net, frames = case
    step = neuroemu.Emulator(net, schedule="sync", hardware=hw).run(frames)
    tim = timed(net, hw, schedule="sync").run(frames)
    for name in ("spike_counts", "output_counts", "synops_per_bin", "neuron_updates_per_bin", "forward_steps_per_bin",
                 "spikes_to_output", "steps_to_output", "layer_spike_counts"):
        np.testing.assert_array_equal(getattr(tim, name), getattr(step, name), err_msg=name)
    # and step mode's dynamic energy is the timed run's dynamic energy
    s, t = step.energy_pj, tim.energy_pj
    assert step.energy_pj.static == 0.0
    np.testing.assert_allclose([s.synaptic, s.neuron_update, s.spike_message, s.routing],
                               [t.synaptic, t.neuron_update, t.spike_message, t.routing], rtol=1e-12)


def _dense_float32_network(sizes: list[int], seed: int) -> Network:
    """Dense layers of float32 weights (N(0, 4 / fan-in), as the benchmarks' `target`): every row contiguous."""
    rng = np.random.default_rng(seed)
    weights = [(rng.normal(0.0, 2.0 / np.sqrt(n_in), (n_out, n_in))).astype(np.float32).astype(np.float64)
               for n_in, n_out in zip(sizes[:-1], sizes[1:])]
    return Network.from_weights(weights, threshold=0.3, beta=math.exp(-1.0), dt=DT)


@pytest.mark.parametrize("neurons_per_core", [1024, 64, 37])
def test_timed_sync_on_dense_float32_layers_split_over_cores_equals_the_step_model(neurons_per_core):
    """Wide dense layers take the timed engine's vector paths: a core adds the rows that reach the same run
    of its neurons in one pass, and a layer larger than a core splits every row into one route per core."""
    net = _dense_float32_network([300, 200, 150, 10], seed=5)
    frames = np.random.default_rng(5).random((4, 8, 300)) < 0.1
    hw = Hardware("dense", CoreLimits(neurons_per_core=neurons_per_core), _costs())
    step = neuroemu.Emulator(net, schedule="sync").run_batch(frames)
    tim = timed(net, hw, schedule="sync").run_batch(frames)
    assert np.all(step.layer_spike_counts.sum(axis=(0, 1)) > 0)  # every layer fires: the case is not vacuous
    for name in ("spike_counts", "synops_per_bin", "neuron_updates_per_bin", "spikes_to_output", "layer_spike_counts"):
        np.testing.assert_array_equal(getattr(tim, name), getattr(step, name), err_msg=name)


@st.composite
def wide_networks(draw):
    """Layers of 20-80 neurons over cores of 9-40: cores where few neurons receive (checked one by one) and
    where many do (checked in vector passes), with biases, subtract reset (neurons left above threshold),
    refractoriness on or off, and quiet stretches of input (neurons that owe the leak of many bins)."""
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    n_in = draw(st.integers(5, 40))
    sizes = draw(st.lists(st.integers(20, 80), min_size=1, max_size=3))
    pops, projs, prev = [], [], n_in
    for layer, size in enumerate(sizes):
        pops.append(Population(
            size,
            np.full(size, 1.0),
            np.full(size, draw(st.sampled_from([1.0, 0.9, 0.5]))),
            rng.normal(0.0, 0.2, size) * (rng.random(size) < 0.3) if draw(st.booleans()) else np.zeros(size),
            draw(st.sampled_from(["zero", "subtract"])),
            draw(st.booleans()),
        ))
        w = rng.normal(0.5, 1.0, (size, prev)) * 2.0 / np.sqrt(prev)
        w[rng.random(w.shape) < draw(st.sampled_from([0.0, 0.6, 0.95]))] = 0.0
        projs.append(_projection(layer - 1, layer, w))
        prev = size
    net = Network(n_in, pops, projs, dt=DT)
    bins = draw(st.integers(1, 14))
    frames = (rng.random((bins, n_in)) < draw(st.sampled_from([0.05, 0.3]))).astype(float)
    frames[rng.random(bins) < draw(st.sampled_from([0.0, 0.8]))] = 0.0  # quiet bins
    return net, frames, draw(st.integers(9, 40))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=wide_networks())
def test_timed_sync_on_wide_random_layers_equals_the_step_model(case):
    net, frames, per_core = case
    hw = Hardware("wide", CoreLimits(neurons_per_core=per_core), _costs())
    step = neuroemu.Emulator(net, schedule="sync").run(frames)
    tim = timed(net, hw, schedule="sync").run(frames)
    for name in ("spike_counts", "synops_per_bin", "neuron_updates_per_bin", "spikes_to_output"):
        np.testing.assert_array_equal(getattr(tim, name), getattr(step, name), err_msg=name)


@pytest.mark.parametrize("schedule", ["momentum", "fifo"])
def test_prioritised_timed_input_on_a_wide_dense_float32_layer_equals_the_step_model(schedule):
    """test_prioritised_timed_input_equals_the_step_model_on_one_hidden_layer at a width where the input task
    and each spike message reach a run of 120 neurons, delivered by the vector paths."""
    net = _dense_float32_network([300, 120, 10], seed=6)
    frames = np.random.default_rng(6).random((4, 8, 300)) < 0.1
    hw = Hardware("wide", CoreLimits(neurons_per_core=128, mesh=(2, 1)), _costs())
    tim = timed(net, hw, schedule=schedule).run_batch(frames)
    step = neuroemu.Emulator(net, schedule=schedule, group_size=1).run_batch(frames)
    assert tim.output_counts.sum() > 0
    np.testing.assert_array_equal(tim.spike_counts, step.spike_counts)
    np.testing.assert_array_equal(tim.synops_per_bin, step.synops_per_bin)


@settings(max_examples=40, deadline=None)
@given(
    k=st.integers(1, 6),
    pattern=st.lists(st.booleans(), min_size=1, max_size=4),
    lat=st.lists(st.sampled_from([0.0, 0.3, 1.0, 4.0, 50.0]), min_size=len(COSTS), max_size=len(COSTS)),
    layout=st.sampled_from(["east-west", "north-south", "chips"]),
)
def test_on_a_chain_barriers_never_reach_the_output_sooner(k, pattern, lat, layout):
    assume(any(pattern))
    costs = OperationCosts(**{op: Cost(1.0, x) for op, x in zip(COSTS, lat)}, static_mw_per_core=0.0)
    mesh = {"east-west": (k, 1), "north-south": (1, k), "chips": (1, 1)}[layout]
    hw = Hardware("chain", CoreLimits(neurons_per_core=1, mesh=mesh), costs)
    frames = np.array(pattern, dtype=float)[:, None]
    with_barrier = timed(chain(k), hw, schedule="sync").run(frames)
    for schedule in ("fifo", "momentum", "random"):
        free = timed(chain(k), hw, schedule=schedule).run(frames)
        np.testing.assert_array_equal(free.spike_counts, with_barrier.spike_counts)
        assert with_barrier.time_to_first_output_ns >= free.time_to_first_output_ns


# -- schedules and determinism ----------------------------------------------------------------------------

def _fan_in_case():
    """Three layer-0 neurons fire together with pre-spike potentials 1.5, 3.0, 2.0; their messages wait at
    the single layer-1 core."""
    w0 = np.array([[1.5], [3.0], [2.0]])
    w1 = np.full((1, 3), 0.2)
    net = Network.from_weights([w0, w1], threshold=1.0, beta=1.0, dt=DT)
    hw = Hardware("two cores", CoreLimits(neurons_per_core=3, mesh=(2, 1)), _costs())
    return net, hw


@pytest.mark.parametrize("schedule, order", [("fifo", [1, 2, 3]), ("momentum", [2, 3, 1])])
def test_a_free_core_takes_its_next_message_by_the_schedule(schedule, order):
    net, hw = _fan_in_case()
    res = timed(net, hw, schedule=schedule, trace=True).run(np.ones((1, 1)))
    mine = res.trace[(res.trace["core"] == 1) & (res.trace["source"] >= 0)]
    np.testing.assert_array_equal(mine["source"] - net.n_inputs, [o - 1 for o in order])
    assert np.all(mine["arrival_ps"] == mine["arrival_ps"][0])  # they all waited


def test_random_schedule_is_seeded_per_sample_and_thread_independent(small_network, small_inputs):
    em = timed(small_network, Hardware("h", CoreLimits(neurons_per_core=2, mesh=(3, 3)), _costs()),
               schedule="random", seed=7, trace=True)
    one = em.run_batch(small_inputs, threads=1)
    two = em.run_batch(small_inputs, threads=2)
    parts = [em.run_batch(small_inputs[:5], threads=2), em.run_batch(small_inputs[5:], threads=1, first_index=5)]
    for other in (two,):
        np.testing.assert_array_equal(one.spike_counts, other.spike_counts)
        np.testing.assert_array_equal(one.timed.core_busy_ps, other.timed.core_busy_ps)
        np.testing.assert_array_equal(one.time_to_first_output_ns, other.time_to_first_output_ns)
        for a, b in zip(one.trace, other.trace):
            np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(one.spike_counts, np.concatenate([p.spike_counts for p in parts]))
    np.testing.assert_array_equal(one.timed.first_output_ps, np.concatenate([p.timed.first_output_ps for p in parts]))
    single = em.run(small_inputs[0])
    np.testing.assert_array_equal(single.trace, one[0].trace)
    assert single.energy_pj.total == one.energy_pj.total[0] == one[0].energy_pj.total
    # another seed processes the waiting messages in another order
    other_seed = timed(small_network, em.deployment, schedule="random", seed=8, trace=True).run_batch(small_inputs)
    assert any(not np.array_equal(a["source"], b["source"]) for a, b in zip(one.trace, other_seed.trace))


def test_batch_result_arrays(small_network, small_inputs):
    batch = timed(small_network, "loihi", schedule="momentum").run_batch(small_inputs, labels=np.zeros(12, int))
    B = len(small_inputs)
    assert batch.time_to_first_output_ns.shape == (B,)
    assert batch.time_to_decision_ns.shape == (B,)
    assert batch.core_busy_ns.shape == (B, 3)
    assert batch.messages.shape == batch.hops.shape == (B,)
    assert batch.energy_pj.total.shape == (B,)
    decided = batch.predictions >= 0
    assert np.all(np.isnan(batch.time_to_decision_ns[~decided]))
    assert np.all(batch.time_to_decision_ns[decided] >= batch.time_to_first_output_ns[decided])
    for b in range(B):
        assert batch[b].energy_pj.total == batch.energy_pj.total[b]
        assert batch[b].messages == batch.messages[b]
        np.testing.assert_array_equal(batch[b].core_busy_ns, batch.core_busy_ns[b])
    # loihi: the three layers of the small network each fit one core, all in tile (0, 0)
    assert batch.hops.sum() == 0
    assert batch.energy_pj.routing.sum() == 0.0


@pytest.mark.parametrize("dtype", [np.bool_, np.uint8, np.float32, np.int64])
def test_every_frame_dtype_runs_exactly_as_float64(small_network, small_inputs, dtype):
    """The timed engine reads bool, uint8 and float32 frames in place (others are converted): same results."""
    em = timed(small_network, "loihi", schedule="momentum", trace=True)
    counts = small_inputs * 2.0  # counts of 0 and 2 (bool frames: events of 1)
    reference = em.run_batch(small_inputs if dtype is np.bool_ else counts, threads=2)
    other = em.run_batch((small_inputs if dtype is np.bool_ else counts).astype(dtype), threads=2)
    np.testing.assert_array_equal(reference.spike_counts, other.spike_counts)
    np.testing.assert_array_equal(reference.timed.first_output_ps, other.timed.first_output_ps)
    for a, b in zip(reference.trace, other.trace):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("bad", [-1.0, np.nan, np.inf])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_a_bad_frame_value_is_named_by_sample_bin_and_channel(small_network, small_inputs, bad, dtype):
    frames = small_inputs.astype(dtype)
    frames[7, 5, 2] = bad
    em = timed(small_network, "loihi")
    with pytest.raises(neuroemu.InputError, match="sample 7, bin 5, channel 2"):
        em.run_batch(frames, threads=2)
    with pytest.raises(neuroemu.InputError, match="bin 5, channel 2"):
        em.run(frames[7])
    assert em.run_batch(small_inputs).spike_counts.shape[0] == len(small_inputs)  # the emulator still works


def test_time_to_decision_none_on_a_tie():
    net = Network.from_weights([np.array([[2.0], [2.0]])], threshold=1.0, beta=1.0, dt=DT)
    res = timed(net, chain_hardware(1)).run(np.ones((2, 1)))
    assert res.prediction == -1
    assert math.isnan(res.time_to_decision_ns)
    assert res.time_to_first_output_ns > 0


# -- input events and leak ----------------------------------------------------------------------------

def test_timestamped_events_at_bin_starts_equal_frames(small_network, small_inputs):
    """Timestamped events are always individual input messages: they equal frames with queued input,
    whatever prioritize_input says."""
    frames = small_inputs[0]
    t, c = np.nonzero(frames)
    events = np.stack([t * DT, c], axis=1)
    em = timed(small_network, "loihi", schedule="fifo", trace=True, prioritize_input=False)
    a, b = em.run(frames), em.run_events(events[::-1], duration_s=frames.shape[0] * DT)
    np.testing.assert_array_equal(a.spike_counts, b.spike_counts)
    np.testing.assert_array_equal(a.trace, b.trace)
    prioritised = timed(small_network, "loihi", schedule="fifo", trace=True)
    c_ = prioritised.run_events(events, duration_s=frames.shape[0] * DT)
    np.testing.assert_array_equal(c_.trace, a.trace)
    assert not np.any(c_.trace["source"] == -3)
    # frames with prioritised input: one input task (source -3) per bin with input, on the first layer's core
    d = prioritised.run(frames)
    assert (d.trace["source"] == -3).sum() == (frames.sum(axis=1) > 0).sum()
    assert not np.any((d.trace["source"] >= 0) & (d.trace["source"] < small_network.n_inputs))
    # in step mode the events are counted per bin
    step = neuroemu.Emulator(small_network, schedule="sync")
    np.testing.assert_array_equal(step.run(frames).spike_counts,
                                  step.run_events(events + [0.4 * DT, 0], frames.shape[0] * DT).spike_counts)


def test_events_enter_at_their_own_time():
    k = 2
    em = timed(chain(k), chain_hardware(k), schedule="fifo")
    late = em.run_events([[0.25e-3, 0]], duration_s=1e-3)
    early = em.run_events([[0.0, 0]], duration_s=1e-3)
    assert late.time_to_first_output_ns - early.time_to_first_output_ns == pytest.approx(0.25e6)
    with pytest.raises(neuroemu.InputError, match="duration_s"):
        em.run_events([[1e-3, 0]], duration_s=1e-3)
    with pytest.raises(neuroemu.InputError, match="channels"):
        em.run_events([[0.0, 1]], duration_s=1e-3)
    with pytest.raises(neuroemu.InputError, match=r"\(n, 2\)"):
        em.run_events([0.0, 1.0, 2.0], duration_s=1e-3)
    assert em.run_events(np.zeros((0, 2)), duration_s=2.5e-3).output_counts.shape == (3, 1)


def test_continuous_leak_decays_by_elapsed_time():
    # one neuron, beta = 0.5 per bin; two events 1.5 bins apart, each adding 0.6; threshold 0.85.
    net = Network.from_weights([np.array([[0.6]])], threshold=0.85, beta=0.5, dt=DT)
    tiny = Hardware("tiny", CoreLimits(), OperationCosts(**{op: Cost(0.0, 0.001) for op in COSTS},
                                                         static_mw_per_core=0.0))
    events = [[0.0, 0], [1.5 * DT, 0]]
    per_bin = timed(net, tiny, leak="bin").run_events(events, duration_s=3 * DT)
    exact = timed(net, tiny, leak="continuous").run_events(events, duration_s=3 * DT)
    assert per_bin.total_spikes == 1      # 0.6 * 0.5 + 0.6 = 0.9 > 0.85
    assert exact.total_spikes == 0        # 0.6 * 0.5 ** 1.5 + 0.6 = 0.81 < 0.85
    # without leak both agree with the step model
    flat = Network.from_weights([np.array([[0.6]])], threshold=0.85, beta=1.0, dt=DT)
    a = timed(flat, tiny, leak="bin").run_events(events, duration_s=3 * DT)
    b = timed(flat, tiny, leak="continuous").run_events(events, duration_s=3 * DT)
    np.testing.assert_array_equal(a.spike_counts, b.spike_counts)
    assert a.total_spikes == 1


# -- errors ---------------------------------------------------------------------------------------------

def test_timed_mode_refusals(small_network):
    with pytest.raises(neuroemu.ConfigError, match="hardware"):
        neuroemu.Emulator(small_network, mode="timed")
    with pytest.raises(neuroemu.ConfigError, match=r"costs\.synop\.latency_ns.*costs\.hop_north_south"):
        timed(small_network, "seneca")
    no_barrier = Hardware("nb", CoreLimits(), OperationCosts(**{
        op: Cost(1.0, None if op == "barrier" else 1.0) for op in COSTS}))
    timed(small_network, no_barrier, schedule="fifo")
    with pytest.raises(neuroemu.ConfigError, match=r"costs\.barrier\.latency_ns"):
        timed(small_network, no_barrier, schedule="sync")
    with pytest.raises(neuroemu.ConfigError, match="group_size.*number of cores"):
        timed(small_network, "loihi", schedule="fifo", group_size=2)
    timed(small_network, "loihi", schedule="fifo", prioritize_input=False)  # queued input: allowed
    with pytest.raises(neuroemu.ConfigError, match="prioritize_input=False applies to asynchronous"):
        timed(small_network, "loihi", schedule="sync", prioritize_input=False)
    with pytest.raises(neuroemu.ConfigError, match="max_post_output_steps"):
        timed(small_network, "loihi", schedule="fifo", max_post_output_steps=1)
    with pytest.raises(neuroemu.ConfigError, match="leak"):
        neuroemu.Emulator(small_network, leak="continuous")
    with pytest.raises(neuroemu.ConfigError, match="trace"):
        neuroemu.Emulator(small_network, trace=True)
    with pytest.raises(neuroemu.ConfigError, match="record"):
        neuroemu.Emulator(small_network, hardware="loihi", record="totals")
    with pytest.raises(neuroemu.ConfigError, match="mode"):
        neuroemu.Emulator(small_network, mode="fast")
    step = neuroemu.Emulator(small_network).run(np.ones((2, 4)))
    with pytest.raises(neuroemu.ConfigError, match="timed"):
        _ = step.time_to_first_output_ns
    with pytest.raises(neuroemu.ConfigError, match="hardware"):
        _ = step.energy_pj
    with pytest.raises(neuroemu.ConfigError, match="trace"):
        _ = timed(small_network, "loihi").run(np.ones((2, 4))).trace


def test_missing_energy_names_the_field(small_network):
    hw = Hardware("no energy", CoreLimits(), OperationCosts(**{op: Cost(None, 1.0) for op in COSTS}))
    res = timed(small_network, hw).run(np.ones((3, 4)))
    assert res.time_to_first_output_ns > 0  # timing works without energies
    with pytest.raises(neuroemu.ConfigError, match=r"costs\.synop\.energy_pj"):
        _ = res.energy_pj


def test_runaway_activity_is_an_error():
    # population 0 excites itself without refractoriness: it never stops
    pops = [Population(1, np.ones(1), np.ones(1), np.zeros(1), "zero", False),
            Population(1, np.ones(1), np.ones(1), np.zeros(1), "zero", True)]
    one = np.array([[2.0]])
    net = Network(1, pops, [_projection(-1, 0, one), _projection(0, 0, one), _projection(0, 1, one)], dt=DT)
    with pytest.raises(neuroemu.ConfigError, match="runaway"):
        timed(net, chain_hardware(2), schedule="fifo", max_steps_per_bin=50).run(np.ones((1, 1)))


@pytest.mark.parametrize("schedule", ["sync", "momentum"])
def test_engines_kept_between_runs_start_every_run_afresh(schedule):
    """A deployment keeps its timed engines for its next runs: a run after other runs, after a failed one and
    on other threads gives what the first run gave."""
    net = _dense_float32_network([60, 40, 30, 10], seed=9)
    rng = np.random.default_rng(9)
    frames, other = rng.random((2, 6, 5, 60)) < 0.2
    dep = deploy(net, Hardware("small cores", CoreLimits(neurons_per_core=16), _costs()))
    first = timed(net, dep, schedule=schedule).run_batch(frames)
    timed(net, dep, schedule=schedule).run_batch(other, threads=2)
    bad = frames.astype(float)
    bad[3, 2, 7] = -1.0  # samples before it have run when it is found
    with pytest.raises(neuroemu.ConfigError):
        timed(net, dep, schedule=schedule).run_batch(bad, threads=2)
    if schedule != "sync":  # (a sync bin has one phase per layer: it cannot run away)
        with pytest.raises(neuroemu.ConfigError, match="runaway"):
            timed(net, dep, schedule=schedule, max_steps_per_bin=1).run_batch(np.ones((2, 5, 60)), threads=2)
    for threads in (1, 2):
        again = timed(net, dep, schedule=schedule).run_batch(frames, threads=threads)
        for name in ("spike_counts", "synops_per_bin", "neuron_updates_per_bin", "core_busy_ns", "duration_ns"):
            np.testing.assert_array_equal(getattr(again, name), getattr(first, name), err_msg=name)


def test_timed_emulators_and_results_pickle(small_network, small_inputs):
    import pickle

    em = timed(small_network, "loihi", schedule="momentum", trace=True)
    again = pickle.loads(pickle.dumps(em))
    a, b = em.run(small_inputs[0]), again.run(small_inputs[0])
    np.testing.assert_array_equal(a.trace, b.trace)
    res = pickle.loads(pickle.dumps(a))
    assert res.energy_pj.total == a.energy_pj.total
    assert res.time_to_first_output_ns == a.time_to_first_output_ns
