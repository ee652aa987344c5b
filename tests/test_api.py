"""The public API: shapes, derived metrics, determinism, threads, pickling and cancellation."""

from __future__ import annotations

import os
import pickle
import signal
import threading
import time

import numpy as np
import pytest

import neuroemu


def test_result_shapes_and_totals(small_network, small_inputs):
    res = neuroemu.Emulator(small_network, schedule="momentum", group_size=2, record="spikes").run(small_inputs[0])
    T, N = small_inputs.shape[1], small_network.n_neurons
    assert res.spike_counts.shape == (T, N)
    assert res.output_counts.shape == (T, 3)
    np.testing.assert_array_equal(res.output_counts, res.spike_counts[:, -3:])
    assert res.layer_spike_counts.shape == (T, 3)
    for layer, sl in enumerate(small_network.layer_slices):
        np.testing.assert_array_equal(res.layer_spike_counts[:, layer], res.spike_counts[:, sl].sum(axis=1))
    assert res.total_spikes == res.spike_counts.sum() == len(res.events)
    assert res.forward_steps == res.forward_steps_per_bin.sum() >= T
    assert res.spike_density == pytest.approx(res.total_spikes / (N * T))
    np.testing.assert_array_equal(np.bincount(res.events["neuron"], minlength=N), res.spike_counts.sum(axis=0))
    assert res.total_spikes > 0


def test_record_totals_keeps_only_totals(small_network, small_inputs):
    full = neuroemu.Emulator(small_network, schedule="fifo", group_size=3).run_batch(small_inputs, threads=1)
    totals = neuroemu.Emulator(small_network, schedule="fifo", group_size=3, record="totals").run_batch(
        small_inputs, threads=1
    )
    np.testing.assert_array_equal(full.layer_spike_counts, totals.layer_spike_counts)
    np.testing.assert_array_equal(full.output_counts, totals.output_counts)
    with pytest.raises(neuroemu.ConfigError, match="record"):
        _ = totals.spike_counts


def test_prediction_tie_and_silence_is_minus_one():
    net = neuroemu.Network.from_weights([np.array([[2.0], [2.0], [0.5]])], threshold=1.0, beta=1.0, dt=1.0)
    em = neuroemu.Emulator(net, schedule="sync")
    assert em.run(np.ones((3, 1))).prediction == -1  # outputs 0 and 1 tie
    assert em.run(np.zeros((3, 1))).prediction == -1  # silence
    net2 = neuroemu.Network.from_weights([np.array([[2.0], [0.5]])], threshold=1.0, beta=1.0, dt=1.0)
    batch = neuroemu.Emulator(net2).run_batch(np.ones((2, 3, 1)), labels=[0, 1])
    np.testing.assert_array_equal(batch.predictions, [0, 0])
    assert batch.accuracy == 0.5
    # output 1 integrates 0.5 per bin without leak and first spikes in bin 2, together with output 0
    np.testing.assert_array_equal(batch.spikes_to_correct_output[0], [1, 1, 2])
    np.testing.assert_array_equal(batch.spikes_to_correct_output[1], [-1, -1, 2])


def test_batch_equals_single_runs(small_network, small_inputs):
    em = neuroemu.Emulator(small_network, schedule="random", group_size=2, seed=5)
    batch = em.run_batch(small_inputs, threads=2)
    first = em.run(small_inputs[0])
    np.testing.assert_array_equal(batch[0].spike_counts, first.spike_counts)
    assert batch[0].forward_steps == first.forward_steps


@pytest.mark.parametrize("schedule", ["random", "momentum", "fifo", "sync"])
def test_threads_and_batch_splits_change_nothing(small_network, small_inputs, schedule):
    group = None if schedule == "sync" else 2
    em = neuroemu.Emulator(small_network, schedule=schedule, group_size=group, seed=11)
    one = em.run_batch(small_inputs, threads=1)
    two = em.run_batch(small_inputs, threads=2)
    split = [em.run_batch(small_inputs[:5], threads=2), em.run_batch(small_inputs[5:], threads=1, first_index=5)]
    for other in (two,):
        np.testing.assert_array_equal(one.spike_counts, other.spike_counts)
        np.testing.assert_array_equal(one.forward_steps_per_bin, other.forward_steps_per_bin)
    np.testing.assert_array_equal(one.spike_counts, np.concatenate([s.spike_counts for s in split]))
    np.testing.assert_array_equal(one.synops, np.concatenate([s.synops for s in split]))


@pytest.mark.parametrize("schedule", ["momentum", "sync"])
def test_frames_of_any_engine_dtype_give_the_same_result(small_network, schedule):
    """bool, uint8 and float32 frames are read in place; counts up to 255 give what float64 frames give."""
    rng = np.random.default_rng(4)
    counts = rng.integers(0, 3, size=(6, 9, 4)) * (rng.random((6, 9, 4)) < 0.4)
    counts[0, 0, 0] = 255
    em = neuroemu.Emulator(small_network, schedule=schedule, group_size=None if schedule == "sync" else 2)
    reference = em.run_batch(counts.astype(np.float64))
    for dtype in (np.float32, np.uint8, np.int64):
        other = em.run_batch(counts.astype(dtype))
        np.testing.assert_array_equal(other.spike_counts, reference.spike_counts)
        np.testing.assert_array_equal(other.synops, reference.synops)
    binary = counts > 0
    np.testing.assert_array_equal(em.run_batch(binary).spike_counts,
                                  em.run_batch(binary.astype(np.float64)).spike_counts)
    np.testing.assert_array_equal(em.run(binary[1]).spike_counts, em.run(binary[1].astype(float)).spike_counts)


_KERNEL_RUN = """
import pickle, sys
import numpy as np
import neuroemu
from neuroemu import _core
net, inputs = pickle.loads(sys.stdin.buffer.read())
counts = [neuroemu.Emulator(net, schedule=s, group_size=g).run_batch(inputs, threads=1).spike_counts
          for s, g in (("sync", None), ("momentum", 2), ("random", 1))]
sys.stdout.buffer.write(pickle.dumps((_core.kernel_set(), counts)))
"""


def test_every_kernel_set_gives_the_same_results(small_network, small_inputs):
    """NEUROEMU_KERNELS picks the vector kernels (baseline, avx2, avx512 where the CPU has them): the
    results are bit-identical whichever runs."""
    import subprocess
    import sys

    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in sys.path if p))
    dense = neuroemu.Network.from_weights([np.full((40, 4), 0.3), np.full((3, 40), 0.05)], threshold=1.0,
                                          beta=0.9, dt=1.0)  # contiguous rows: the vector kernels run
    results = {}
    for wanted in ("baseline", "avx2", "avx512"):
        out = subprocess.run([sys.executable, "-c", _KERNEL_RUN], input=pickle.dumps((dense, small_inputs * 2)),
                             env=dict(env, NEUROEMU_KERNELS=wanted), capture_output=True, check=True)
        name, counts = pickle.loads(out.stdout)
        results[wanted] = (name, counts)
    assert results["baseline"][0] == "baseline"
    for name, counts in results.values():
        assert name in ("baseline", "avx2", "avx512")
        for got, expected in zip(counts, results["baseline"][1]):
            np.testing.assert_array_equal(got, expected)
    assert any(c.sum() > 0 for c in results["baseline"][1])


def test_random_schedule_depends_on_seed_and_sample_index(small_network):
    x = np.ones((3, 40, 4))
    em = neuroemu.Emulator(small_network, schedule="random", group_size=1, seed=1)
    a = em.run_batch(x, threads=1)
    b = neuroemu.Emulator(small_network, schedule="random", group_size=1, seed=2).run_batch(x, threads=1)
    assert not np.array_equal(a.spike_counts, b.spike_counts)
    # the same frames as different sample indices draw different orders
    assert not np.array_equal(a.spike_counts[0], a.spike_counts[1])
    np.testing.assert_array_equal(a.spike_counts, em.run_batch(x, threads=2).spike_counts)


def test_pickle_roundtrip(small_network, small_inputs):
    em = neuroemu.Emulator(small_network, schedule="momentum", group_size=3, record="spikes")
    res = em.run_batch(small_inputs, labels=np.zeros(len(small_inputs), dtype=int), threads=1)
    em2 = pickle.loads(pickle.dumps(em))
    res2 = em2.run_batch(small_inputs, labels=np.zeros(len(small_inputs), dtype=int), threads=1)
    np.testing.assert_array_equal(res.spike_counts, res2.spike_counts)
    res3 = pickle.loads(pickle.dumps(res))
    np.testing.assert_array_equal(res3.spike_counts, res.spike_counts)
    assert res3.accuracy == res.accuracy
    one = pickle.loads(pickle.dumps(res[0]))
    np.testing.assert_array_equal(one.events, res[0].events)
    assert pickle.loads(pickle.dumps(small_network)).n_synapses == small_network.n_synapses


def test_scipy_sparse_weights_equal_dense():
    sparse = pytest.importorskip("scipy.sparse")
    rng = np.random.default_rng(0)
    dense = [rng.normal(size=(20, 10)) * (rng.random((20, 10)) < 0.3), rng.normal(size=(4, 20))]
    x = (rng.random((6, 10)) < 0.6).astype(float) * 3
    a = neuroemu.Network.from_weights(dense, threshold=0.5, beta=0.9, dt=1.0)
    b = neuroemu.Network.from_weights([sparse.csr_matrix(w) for w in dense], threshold=0.5, beta=0.9, dt=1.0)
    assert a.n_synapses == b.n_synapses == sum(int((w != 0).sum()) for w in dense)
    for schedule, group in (("sync", None), ("momentum", 2)):
        ra = neuroemu.Emulator(a, schedule=schedule, group_size=group).run(x)
        rb = neuroemu.Emulator(b, schedule=schedule, group_size=group).run(x)
        np.testing.assert_array_equal(ra.spike_counts, rb.spike_counts)
    np.testing.assert_array_equal(b.weights()[0], dense[0])


def test_tau_and_beta_are_two_views():
    w = [np.array([[0.7]])]
    by_tau = neuroemu.Network.from_weights(w, threshold=1.0, tau=2e-3, dt=1e-3)
    by_beta = neuroemu.Network.from_weights(w, threshold=1.0, beta=np.exp(-0.5), dt=1e-3)
    assert by_tau.populations[0].beta[0] == by_beta.populations[0].beta[0]
    non_leaky = neuroemu.Network.from_weights(w, threshold=1.0, tau=np.inf, dt=1e-3)
    assert non_leaky.populations[0].beta[0] == 1.0
    # non-leaky: 0.7 + 0.7 > 1 spikes in the second bin; with beta=exp(-1/2) 0.7*0.61+0.7 > 1 too, but
    # beta = 0.2 leaks too much
    leaky = neuroemu.Network.from_weights(w, threshold=1.0, beta=0.2, dt=1e-3)
    x = np.ones((2, 1))
    assert neuroemu.Emulator(non_leaky).run(x).total_spikes == 1
    assert neuroemu.Emulator(leaky).run(x).total_spikes == 0


def test_stop_on_output_cuts_the_bin():
    # input -> 1 hidden -> 1 output, plus 3 more hidden neurons that keep the queue busy at F=1
    w1 = np.full((4, 1), 2.0)
    w2 = np.array([[2.0, 0.0, 0.0, 0.0]])
    net = neuroemu.Network.from_weights([w1, w2], threshold=1.0, beta=1.0, dt=1.0)
    x = np.ones((1, 1))
    full = neuroemu.Emulator(net, schedule="fifo", group_size=1).run(x)
    cut = neuroemu.Emulator(net, schedule="fifo", group_size=1, max_post_output_steps=0).run(x)
    assert full.forward_steps == 6  # step0 (input), then h0, h1, h2, h3, out emitted one by one
    assert cut.forward_steps == 2  # the output spikes in step 1 (after h0's delivery): stop right there
    assert cut.output_counts.sum() == 1


@pytest.mark.parametrize("threads", [1, 2])
# Many samples (about 10 s of work on 2 threads: a batch done before the signal at 0.5 s would let the
# KeyboardInterrupt land in pytest itself), or one sample of about a minute.
@pytest.mark.parametrize("samples,bins", [(2000, 100), (1, 400_000)])
def test_ctrl_c_stops_a_long_batch_promptly(threads, samples, bins):
    # One thread runs on the caller's own thread, which must still notice Ctrl-C inside a sample.
    rng = np.random.default_rng(0)
    weights = [rng.normal(0, 0.3, size=(300, 300)) for _ in range(2)] + [rng.normal(0, 0.3, size=(10, 300))]
    net = neuroemu.Network.from_weights(weights, threshold=0.5, beta=0.9, dt=1.0)
    block = 20 if samples > 1 else 4000  # random draws for a block of bins, repeated: little memory
    inputs = np.tile(rng.random((samples, block, 300), dtype=np.float32) < 0.2, (1, bins // block, 1))
    em = neuroemu.Emulator(net, schedule="momentum", group_size=1, record="totals")
    timer = threading.Timer(0.5, lambda: os.kill(os.getpid(), signal.SIGINT))
    start = time.perf_counter()
    timer.start()
    with pytest.raises(KeyboardInterrupt):
        em.run_batch(inputs, threads=threads)
    timer.join()
    assert time.perf_counter() - start < 10.0


@pytest.mark.parametrize("mode", ["step", "timed"])
def test_concatenated_chunks_equal_one_batch(small_network, small_inputs, mode):
    em = neuroemu.Emulator(small_network, schedule="random", seed=4, mode=mode, hardware="loihi",
                           group_size=None if mode == "timed" else 2)
    labels = np.arange(len(small_inputs)) % 3
    whole = em.run_batch(small_inputs, labels, threads=1)
    parts = [em.run_batch(small_inputs[a:b], labels[a:b], threads=2, first_index=a) for a, b in ((0, 5), (5, 12))]
    joined = neuroemu.BatchResult.concatenate(parts)
    np.testing.assert_array_equal(joined.spike_counts, whole.spike_counts)
    np.testing.assert_array_equal(joined.predictions, whole.predictions)
    assert joined.accuracy == whole.accuracy
    np.testing.assert_array_equal(joined.energy_pj.total, whole.energy_pj.total)
    if mode == "timed":
        np.testing.assert_array_equal(joined.time_to_decision_ns, whole.time_to_decision_ns)
    with pytest.raises(neuroemu.ConfigError):
        neuroemu.BatchResult.concatenate([])


def test_results_built_without_init_equal_the_dataclass_constructor(small_network, small_inputs):
    """Result and BatchResult are built by setting their fields directly (a frozen dataclass's __init__ is
    slow): every field must be what the generated constructor gives, defaults included."""
    import dataclasses

    from neuroemu.result import BatchResult, Result, _frozen

    labels = np.arange(len(small_inputs)) % small_network.n_outputs
    batch = neuroemu.Emulator(small_network, schedule="momentum", group_size=2, record="spikes").run_batch(
        small_inputs, labels=labels)
    for fast, cls in ((batch, BatchResult), (batch[1], Result)):
        names = [f.name for f in dataclasses.fields(cls)]
        assert set(vars(fast)) == set(names)
        slow = cls(**{name: getattr(fast, name) for name in names})
        for name in names:
            assert getattr(fast, name) is getattr(slow, name), name
        with pytest.raises(dataclasses.FrozenInstanceError):
            fast.output_counts = None  # type: ignore[misc]
    assert batch[1].label == labels[1] and batch[1].events is not None
    with pytest.raises(TypeError, match="no field 'labels'"):
        _frozen(Result, [getattr(batch[0], f.name) for f in dataclasses.fields(Result)][:9], labels=labels)
    totals = neuroemu.Emulator(small_network, schedule="sync", record="totals").run(small_inputs[0])
    assert totals.events is None and totals.label is None and totals.timed is None
