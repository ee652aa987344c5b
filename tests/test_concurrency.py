"""Thread safety and determinism: concurrent calls on one Emulator equal serial calls, bit for bit."""

from __future__ import annotations

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
