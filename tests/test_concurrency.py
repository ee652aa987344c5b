"""Thread safety and determinism: concurrent calls on one Emulator equal serial calls, bit for bit."""

from __future__ import annotations

import multiprocessing
import os
import warnings
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

import neuroemu


@pytest.mark.parametrize("schedule,group", [("random", 2), ("momentum", 3), ("sync", None)])
def test_concurrent_runs_equal_serial_runs(small_network, small_inputs, schedule, group):
    em = neuroemu.Emulator(small_network, schedule=schedule, group_size=group, seed=3, record="spikes")
    serial = [em.run_batch(small_inputs[b : b + 1], threads=1, first_index=b) for b in range(len(small_inputs))]
    fresh = neuroemu.Emulator(small_network, schedule=schedule, group_size=group, seed=3, record="spikes")

    def job(b: int) -> neuroemu.BatchResult:
        return fresh.run_batch(small_inputs[b : b + 1], threads=2, first_index=b)

    with ThreadPoolExecutor(max_workers=4) as pool:
        concurrent = list(pool.map(job, range(len(small_inputs))))
    for a, b in zip(serial, concurrent):
        np.testing.assert_array_equal(a.spike_counts, b.spike_counts)
        np.testing.assert_array_equal(a.synops_per_bin, b.synops_per_bin)
        np.testing.assert_array_equal(a.events[0], b.events[0])


def test_repeated_runs_are_bit_identical(small_network, small_inputs):
    em = neuroemu.Emulator(small_network, schedule="random", group_size=1, seed=99)
    first = em.run_batch(small_inputs, threads=2)
    for threads in (1, 2, 3):
        again = em.run_batch(small_inputs, threads=threads)
        np.testing.assert_array_equal(first.spike_counts, again.spike_counts)
        np.testing.assert_array_equal(first.spikes_to_output, again.spikes_to_output)


def _spike_counts_with_two_threads(emulator: neuroemu.Emulator, inputs: np.ndarray) -> np.ndarray:
    return emulator.run_batch(inputs, threads=2).spike_counts


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork()")
def test_a_forked_child_runs_batches_after_threaded_runs_in_the_parent(small_network, small_inputs):
    # The parent's kept worker threads do not exist in a child of fork(): the child must start its own
    # rather than wait for them forever.
    em = neuroemu.Emulator(small_network, schedule="momentum", group_size=2, seed=5)
    parent = em.run_batch(small_inputs, threads=2).spike_counts
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # Python >= 3.12: fork() with threads running
        with multiprocessing.get_context("fork").Pool(1) as pool:
            child = pool.apply_async(_spike_counts_with_two_threads, (em, small_inputs)).get(timeout=120)
    np.testing.assert_array_equal(parent, child)
