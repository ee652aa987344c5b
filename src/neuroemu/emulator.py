"""Runs a network under an execution schedule (docs/semantics.md)."""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from . import _core
from ._validation import choice, event_frames, non_negative_int, positive_int
from .errors import InputError, NeuroemuTypeError
from .network import Network
from .result import EVENT_DTYPE, BatchResult, Result

__all__ = ["Emulator", "SCHEDULES", "RECORD_MODES"]

SCHEDULES = ("sync", "random", "momentum", "fifo")
RECORD_MODES = ("totals", "counts", "spikes")
_SCHEDULE_CODES = {name: code for code, name in enumerate(SCHEDULES)}
_RECORD_CODES = {name: code for code, name in enumerate(RECORD_MODES)}


def _available_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


class Emulator:
    """Runs a :class:`Network` in the step model under one execution schedule.

    Parameters
    ----------
    network : Network
    schedule : {"sync", "random", "momentum", "fifo"}
        ``"sync"`` is layer-synchronous; the others are asynchronous forward steps ranking the global
        queue of pending spikes at random, by pre-spike potential, or first-in-first-out.
    group_size : int or None
        F, the number of queued entries emitted per forward step (asynchronous schedules; None = all).
    prioritize_input : bool
        Deliver each bin's input frame at once in step 0 (True), or queue input events with the
        network's spikes (False).
    seed : int
        Seed of the random schedule; sample ``s`` draws from a stream derived from ``(seed, s)``.
    max_post_output_steps : int or None
        Stop a bin this many forward steps after its first output spike (None = never).
    record : {"counts", "totals", "spikes"}
        ``"counts"`` keeps spikes per neuron per bin; ``"totals"`` only per-layer totals and output counts;
        ``"spikes"`` also an event log of (bin, forward step, neuron).
    max_steps_per_bin : int or None
        A bin that needs more forward steps raises ConfigError (runaway activity); None = a default of
        ``1000 + 100 * (n_inputs + n_neurons)``.
    """

    def __init__(
        self,
        network: Network,
        *,
        schedule: str = "sync",
        group_size: int | None = None,
        prioritize_input: bool = True,
        seed: int = 0,
        max_post_output_steps: int | None = None,
        record: str = "counts",
        max_steps_per_bin: int | None = None,
    ) -> None:
        if not isinstance(network, Network):
            raise NeuroemuTypeError(f"network must be a neuroemu.Network, got {type(network).__name__}")
        self.network = network
        self.schedule = choice(schedule, "schedule", SCHEDULES)
        self.group_size = positive_int(group_size, "group_size", allow_none=True)
        if not isinstance(prioritize_input, (bool, np.bool_)):
            raise NeuroemuTypeError(f"prioritize_input must be a bool, got {type(prioritize_input).__name__}")
        self.prioritize_input = bool(prioritize_input)
        self.seed = non_negative_int(seed, "seed")
        if self.seed >= 2**64:
            raise InputError("seed must be < 2**64")
        self.max_post_output_steps = (
            None if max_post_output_steps is None else non_negative_int(max_post_output_steps, "max_post_output_steps")
        )
        self.record = choice(record, "record", RECORD_MODES)
        self.max_steps_per_bin = positive_int(max_steps_per_bin, "max_steps_per_bin", allow_none=True)
        if self.schedule == "sync":
            from .errors import ConfigError

            for name, value, default in (
                ("group_size", self.group_size, None),
                ("prioritize_input", self.prioritize_input, True),
                ("max_post_output_steps", self.max_post_output_steps, None),
            ):
                if value != default:
                    raise ConfigError(f"{name}={value!r} applies to asynchronous schedules only, not to 'sync'")

    def __repr__(self) -> str:
        return (
            f"Emulator({self.network!r}, schedule={self.schedule!r}, group_size={self.group_size}, "
            f"prioritize_input={self.prioritize_input}, seed={self.seed})"
        )

    def run(self, frames: Any) -> Result:
        """Runs one sample (sample index 0); ``frames`` is ``(T, n_inputs)`` of event counts >= 0."""
        checked = event_frames(frames, "frames", self.network.n_inputs, ndim=2)
        return self._run(checked[None], threads=1, first_index=0, labels=None)[0]

    def run_batch(
        self, inputs: Any, labels: Any = None, threads: int | None = None, first_index: int = 0
    ) -> BatchResult:
        """Runs samples ``inputs`` shaped ``(B, T, n_inputs)`` on a pool of C++ threads.

        Sample ``b`` is sample index ``first_index + b`` for the random schedule, so a batch split into
        parts gives the same results as the whole, for any number of threads. Ctrl-C stops it promptly.
        """
        checked = event_frames(inputs, "inputs", self.network.n_inputs, ndim=3)
        n_threads = _available_cores() if threads is None else positive_int(threads, "threads")
        first = non_negative_int(first_index, "first_index")
        label_array = None
        if labels is not None:
            label_array = np.asarray(labels)
            if label_array.dtype == object or not np.issubdtype(label_array.dtype, np.integer):
                raise NeuroemuTypeError(f"labels must be integers, got dtype {label_array.dtype}")
            if label_array.shape != (checked.shape[0],):
                raise InputError(f"labels must be shaped ({checked.shape[0]},), got {label_array.shape}")
            if np.any((label_array < 0) | (label_array >= self.network.n_outputs)):
                raise InputError(f"labels must lie in [0, {self.network.n_outputs})")
            label_array = label_array.astype(np.int64)
        assert n_threads is not None
        return self._run(checked, threads=n_threads, first_index=first, labels=label_array)

    def _run(self, inputs: np.ndarray, *, threads: int, first_index: int, labels: Any) -> BatchResult:
        raw = _core.run_batch(
            self.network._core(),
            _SCHEDULE_CODES[self.schedule],
            0 if self.group_size is None else self.group_size,
            self.prioritize_input,
            self.seed,
            -1 if self.max_post_output_steps is None else self.max_post_output_steps,
            0 if self.max_steps_per_bin is None else self.max_steps_per_bin,
            _RECORD_CODES[self.record],
            inputs,
            threads,
            first_index,
        )
        events = None
        if "events" in raw:
            events = [np.rec.fromarrays(log.T, dtype=EVENT_DTYPE) if log.size else np.zeros(0, EVENT_DTYPE)
                      for log in raw["events"]]
            events = [np.asarray(e, dtype=EVENT_DTYPE) for e in events]
        return BatchResult(
            self.network.layer_sizes,
            raw["spike_counts"],
            raw["population_spikes"],
            raw["output_counts"],
            raw["forward_steps"],
            raw["synops"],
            raw["neuron_updates"],
            raw["spikes_to_output"],
            raw["steps_to_output"],
            events=events,
            labels=labels,
        )
