"""Memory estimates, checked before a run allocates its result arrays."""

from __future__ import annotations

import os
import time

from .errors import ResourceError

# Fraction of the available memory one run may claim for its results: leaves room for the engine's
# per-thread state, the caller's arrays and the rest of the process.
_SHARE = 0.8

# Results this small are not checked at all: any machine that runs Python has this much to spare.
_ALWAYS_FITS = 16 * 2**20


# Reading /proc/meminfo costs about a third of a small run() call: one reading serves the calls of the
# next half second (available memory drifts far more slowly than that).
_MAX_AGE_S = 0.5
_last_reading: tuple[float, int | None] | None = None


def available_memory_bytes() -> int | None:
    """MemAvailable from /proc/meminfo (Linux), else physical pages free; None where unknown. At most
    half a second old."""
    global _last_reading
    now = time.monotonic()
    last = _last_reading
    if last is not None and now - last[0] < _MAX_AGE_S:
        return last[1]
    value = _read_available_memory()
    _last_reading = (now, value)
    return value


def _read_available_memory() -> int | None:
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


def result_bytes(samples: int, bins: int, neurons: int, populations: int, outputs: int, per_neuron: bool) -> int:
    """Bytes of the counters a step-mode batch returns (the event log, whose size depends on activity,
    is not included)."""
    per_bin = 3 * 8 + populations * 8 + outputs * (4 + 8 + 8) + (neurons * 4 if per_neuron else 0)
    return samples * bins * per_bin


def check_result_memory(samples: int, bins: int, neurons: int, populations: int, outputs: int,
                        per_neuron: bool, available: int | None = None) -> None:
    """Raises ResourceError when the result arrays would not fit in the available memory."""
    need = result_bytes(samples, bins, neurons, populations, outputs, per_neuron)
    if available is None and need <= _ALWAYS_FITS:
        return  # spares reading the free memory (a system call) on every small run
    have = available_memory_bytes() if available is None else available
    if have is not None and need > _SHARE * have:
        hint = ' record="totals" drops the per-neuron counts, and' if per_neuron else ""
        raise ResourceError(
            f"a batch of {samples} samples x {bins} bins x {neurons} neurons needs about {need / 2**30:.1f} GiB "
            f"for its results, more than the {have / 2**30:.1f} GiB available:{hint} run_batch on smaller "
            "batches (with first_index) gives the same results in parts"
        )
