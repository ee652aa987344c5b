"""Resource limits: a run that would not fit in memory is refused before anything is allocated."""

from __future__ import annotations

import numpy as np
import pytest

import neuroemu
from neuroemu import _resources
from neuroemu.errors import ResourceError


def test_result_bytes_counts_every_array():
    # per bin: 3 int64 counters, 2 populations x int64, 3 outputs x (int32 + 2 int64), 10 neurons x int32
    assert _resources.result_bytes(2, 5, 10, 2, 3, per_neuron=True) == 2 * 5 * (24 + 16 + 60 + 40)
    assert _resources.result_bytes(2, 5, 10, 2, 3, per_neuron=False) == 2 * 5 * (24 + 16 + 60)


def test_a_batch_too_large_for_memory_is_refused(small_network, small_inputs, monkeypatch):
    monkeypatch.setattr(_resources, "available_memory_bytes", lambda: 1000)
    monkeypatch.setattr(_resources, "_ALWAYS_FITS", 0)
    em = neuroemu.Emulator(small_network, schedule="momentum", group_size=2)
    with pytest.raises(ResourceError, match="GiB") as info:
        em.run_batch(small_inputs)
    assert isinstance(info.value, MemoryError)
    assert 'record="totals"' in str(info.value)


def test_small_results_skip_reading_the_free_memory(small_network, small_inputs, monkeypatch):
    def unreadable() -> int:
        raise AssertionError("read the free memory for a result of a few kB")

    monkeypatch.setattr(_resources, "available_memory_bytes", unreadable)
    batch = neuroemu.Emulator(small_network, schedule="sync").run_batch(small_inputs)
    assert len(batch) == len(small_inputs)
    with pytest.raises(AssertionError, match="free memory"):  # above the floor it is read
        _resources.check_result_memory(10**4, 10**3, 10**4, 3, 10, True)


def test_fitting_batches_run(small_network, small_inputs):
    batch = neuroemu.Emulator(small_network, schedule="fifo", group_size=1).run_batch(small_inputs)
    assert len(batch) == len(small_inputs)


def test_available_memory_is_known_here():
    have = _resources.available_memory_bytes()
    assert have is None or have > 0
    _resources.check_result_memory(1, 1, 1, 1, 1, True, available=10**9)
    with pytest.raises(ResourceError):
        _resources.check_result_memory(10**6, 10**3, 10**4, 3, 10, True, available=10**9)
    np.testing.assert_equal(_resources.result_bytes(0, 10, 10, 1, 1, True), 0)


def test_available_memory_is_read_at_most_every_half_second(monkeypatch):
    readings = []

    def read():
        readings.append(1)
        return 10**9 + len(readings)

    monkeypatch.setattr(_resources, "_read_available_memory", read)
    monkeypatch.setattr(_resources, "_last_reading", None)
    clock = [100.0]
    monkeypatch.setattr(_resources.time, "monotonic", lambda: clock[0])
    assert _resources.available_memory_bytes() == 10**9 + 1
    clock[0] += 0.4
    assert _resources.available_memory_bytes() == 10**9 + 1  # the same reading
    clock[0] += 0.2
    assert _resources.available_memory_bytes() == 10**9 + 2  # older than half a second: read again
    assert len(readings) == 2
