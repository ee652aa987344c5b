"""Timing primitives: best of N wall-clock and CPU times, the same over interleaved rounds of several
contenders, and a sample count sized to a time budget.

Wall time (``time.perf_counter``) is what a user waits; CPU time (``time.process_time``, all threads of
this process, or ``time.thread_time`` for a contender that computes on one thread) is the work done, and is
far less sensitive to other processes on a shared machine. Both are the minimum over the repeats (taken
independently). A run is warmed up first; the warm-up doubles as the
pilot that sizes the timed runs.
"""

from __future__ import annotations

import math
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from _machine import busy_cpu_seconds


@dataclass
class Timing:
    wall: float  # best wall seconds of one call
    cpu: float  # best CPU seconds of one call (all threads of the process)
    repeats: int
    result: Any = None
    other_cores: float = float("nan")  # cores kept busy by other processes during the runs (mean)
    # `interleaved` only: per round, the best (wall, cpu) seconds of a call in it, None for a round without one
    per_round: list[tuple[float, float] | None] = field(default_factory=list)


def timed(fn: Callable[[], Any], cpu_clock: Callable[[], float] = time.process_time) -> tuple[float, float, Any]:
    c0 = cpu_clock()
    t0 = time.perf_counter()
    result = fn()
    return time.perf_counter() - t0, cpu_clock() - c0, result


def other_cores(machine_busy: float, own: float, wall: float) -> float:
    """Cores kept busy by other processes: the machine's busy CPU seconds minus this process's own, over
    the wall time (never below 0; NaN without wall time)."""
    other = (machine_busy - own) / wall if wall > 0 else float("nan")
    return max(0.0, other) if math.isfinite(other) else other


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
    return Timing(wall, cpu, max(1, repeats), result, other_cores(busy_cpu_seconds() - busy0, total_cpu, total_wall))


@dataclass
class Contender:
    """One row of a comparison, to be timed in interleaved rounds (see `interleaved`)."""

    call: Callable[[], Any]  # one timed call
    repeats: int  # calls in all, spread over the rounds
    threads: int  # threads the call computes on
    before: Callable[[], None] | None = None  # untimed, before each call (e.g. set a library's thread count)
    timing: Timing | None = None  # filled in by `interleaved`

    @property
    def cpu_clock(self) -> Callable[[], float]:
        """A one-thread call's CPU time is the calling thread's own: the process's would also count a
        library's idle worker threads, which spin for a while after a multi-threaded call (measured: a
        1-thread snnTorch call right after a 2-thread dense PyTorch one showed 1.3x its wall time in CPU)."""
        return time.thread_time if self.threads == 1 else time.process_time


# Worker threads of a multi-threaded call stay awake for a while after it: torch's OpenMP threads for about
# 8 ms (measured), neuroemu's for 0.2 ms. A row timed within that window shares the cores with them: mlp's
# 2-thread engine rows, whose calls take about half a millisecond, all fell into a 2-thread dense PyTorch
# row's window and showed no gain from the second thread (1.00x against 1.6-1.9x alone).
QUIET_AFTER_THREADS_S = 0.03


def interleaved(contenders: list[Contender], rounds: int = 3) -> None:
    """Times the contenders in `rounds` rounds, each round calling every contender in turn (its `repeats`
    spread as evenly as the rounds allow); each keeps its best wall and CPU time per round and overall.

    This machine runs at one speed for a while, then at another (up to 2-3x apart over minutes, other
    tenants' load on the shared cores): timed one after the other, an engine row and its peer's row may
    fall in different phases and their ratio in either direction. Interleaved, every row of a comparison
    meets the phases of the same rounds, and `paired_ratio` compares two rows round by round. After a
    multi-threaded contender, the next one starts once its threads have gone to sleep.
    """
    per_round: list[list[tuple[float, float] | None]] = [[None] * rounds for _ in contenders]
    # per contender: last result, total wall, this process's total CPU, machine busy
    totals: list[list[Any]] = [[None, 0.0, 0.0, 0.0] for _ in contenders]
    previous: Contender | None = None
    for r in range(rounds):
        for c, seen, total in zip(contenders, per_round, totals, strict=True):
            if previous is not None and previous is not c and previous.threads > 1:
                time.sleep(QUIET_AFTER_THREADS_S)
            previous = c
            repeats = max(1, c.repeats)
            for _ in range(repeats // rounds + (1 if r < repeats % rounds else 0)):
                if c.before is not None:
                    c.before()
                busy0, own0 = busy_cpu_seconds(), time.process_time()
                w, cpu, total[0] = timed(c.call, c.cpu_clock)
                total[2] += time.process_time() - own0  # all this process's threads: none of it is other load
                total[3] += busy_cpu_seconds() - busy0
                total[1] += w
                best = seen[r]
                seen[r] = (w, cpu) if best is None else (min(best[0], w), min(best[1], cpu))
    for c, seen, (result, total_wall, own, busy) in zip(contenders, per_round, totals, strict=True):
        done = [x for x in seen if x is not None]
        c.timing = Timing(min(x[0] for x in done), min(x[1] for x in done), max(1, c.repeats), result,
                          other_cores(busy, own, total_wall), seen)


def paired_ratio(a: list[tuple[float, float] | None], b: list[tuple[float, float] | None], which: int,
                 scale: float = 1.0) -> float | None:
    """The median over the rounds both contenders ran in of scale * a's time / b's (which: 0 wall, 1 CPU);
    None without a common round. Two calls of one round ran minutes apart at most, usually seconds, so
    each ratio compares times taken in one phase of the machine."""
    ratios = [scale * x[which] / y[which] for x, y in zip(a, b, strict=False) if x is not None and y is not None
              and y[which] > 0]
    return float(statistics.median(ratios)) if ratios else None


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
