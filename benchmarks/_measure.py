"""Timing primitives: best of N wall-clock and CPU times, and a sample count sized to a time budget.

Wall time (``time.perf_counter``) is what a user waits; CPU time (``time.process_time``, all threads of
this process) is the work done, and is far less sensitive to other processes on a shared machine. Both are
the minimum over the repeats (taken independently). A run is warmed up first; the warm-up doubles as the
pilot that sizes the timed runs.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from _machine import busy_cpu_seconds


@dataclass
class Timing:
    wall: float  # best wall seconds of one call
    cpu: float  # best CPU seconds of one call (all threads of the process)
    repeats: int
    result: Any = None
    other_cores: float = float("nan")  # cores kept busy by other processes during the runs (mean)


def timed(fn: Callable[[], Any]) -> tuple[float, float, Any]:
    c0 = time.process_time()
    t0 = time.perf_counter()
    result = fn()
    return time.perf_counter() - t0, time.process_time() - c0, result


def best_of(fn: Callable[[], Any], repeats: int) -> Timing:
    """Best wall and CPU time of `repeats` calls, and how many cores other processes kept busy meanwhile
    (machine-wide busy CPU time from /proc/stat minus this process's own, over the wall time)."""
    wall, cpu, result = math.inf, math.inf, None
    total_wall, total_cpu = 0.0, 0.0
    busy0 = busy_cpu_seconds()
    for _ in range(max(1, repeats)):
        w, c, result = timed(fn)
        wall, cpu = min(wall, w), min(cpu, c)
        total_wall, total_cpu = total_wall + w, total_cpu + c
    other = (busy_cpu_seconds() - busy0 - total_cpu) / total_wall if total_wall > 0 else float("nan")
    return Timing(wall, cpu, max(1, repeats), result, max(0.0, other) if math.isfinite(other) else other)


def repeats_for(estimate_s: float, budget_s: float, most: int = 5) -> int:
    """3 repeats normally (5 for short calls), fewer when one call is long compared with the budget."""
    if estimate_s <= 0:
        return most
    if estimate_s * 3 <= budget_s:
        return most if estimate_s < 0.2 else 3
    return max(1, int(budget_s // estimate_s))


def sized(per_sample_s: float, target_s: float, least: int, most: int, multiple: int = 1) -> int:
    """A sample count near target_s / per_sample_s, within [least, most], rounded up to `multiple`."""
    n = target_s / per_sample_s if per_sample_s > 0 else most
    n = int(min(most, max(least, math.ceil(n))))
    return max(multiple, int(math.ceil(n / multiple)) * multiple)
