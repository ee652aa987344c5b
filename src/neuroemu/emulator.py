"""Runs a network under an execution schedule (docs/semantics.md)."""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from . import _core
from ._resources import check_result_memory
from ._validation import choice, event_frames, non_negative_int, positive_int, raise_bad_values
from .deploy import Deployment, deploy
from .energy import HardwareCounters
from .errors import ConfigError, InputError, NeuroemuTypeError
from .hardware import Hardware
from .network import Network
from .result import EVENT_DTYPE, TRACE_DTYPE, BatchResult, Result, TimedData, _frozen

__all__ = ["Emulator", "SCHEDULES", "RECORD_MODES", "MODES", "LEAK_MODES"]

SCHEDULES = ("sync", "random", "momentum", "fifo")
RECORD_MODES = ("totals", "counts", "spikes")
MODES = ("step", "timed")
LEAK_MODES = ("bin", "continuous")
_SCHEDULE_CODES = {name: code for code, name in enumerate(SCHEDULES)}
_RECORD_CODES = {name: code for code, name in enumerate(RECORD_MODES)}


def _available_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


class Emulator:
    """Runs a :class:`Network` in the step model or the timed hardware model under one execution schedule.

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
        network's spikes (False). In timed mode (asynchronous schedules): True makes every first-layer core
        integrate the bin's input messages as one input task, before its waiting spike messages, and check
        its touched neurons once; False delivers every input message on its own like a spike.
        Timestamped events (:meth:`run_events`) are always individual messages. ``"sync"`` needs True.
    seed : int
        Seed of the random schedule; sample ``s`` draws from a stream derived from ``(seed, s)``.
    max_post_output_steps : int or None
        Stop a bin this many forward steps after its first output spike (None = never).
    record : {"counts", "totals", "spikes"}
        ``"counts"`` keeps spikes per neuron per bin; ``"totals"`` only per-layer totals and output counts;
        ``"spikes"`` also an event log of (bin, forward step, neuron).
    max_steps_per_bin : int or None
        A bin that needs more forward steps raises ConfigError (runaway activity); None = a default of
        ``1000 + 100 * (n_inputs + n_neurons)``. In timed mode: deliveries (messages and input tasks) per
        bin, on average.
    mode : {"step", "timed"}
        ``"step"``: the step model (docs/semantics.md). ``"timed"``: the timed hardware model
        (docs/hardware.md): cores, routing, latency in ns; needs ``hardware`` with latencies.
    hardware : str, Hardware or Deployment, optional
        A preset name, a profile (deployed with :func:`neuroemu.deploy`) or a deployment of this network.
        In step mode it adds messages, hops and the dynamic energy breakdown to the results.
    leak : {"bin", "continuous"}
        Timed mode: the leak once per bin (``v *= beta`` at bin boundaries, as the step model), or an exact
        continuous decay ``v *= beta ** (elapsed / dt)`` up to each update.
    trace : bool
        Timed mode: record every task of every core (``Result.trace``).
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
        mode: str = "step",
        hardware: str | Hardware | Deployment | None = None,
        leak: str = "bin",
        trace: bool = False,
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
        self.mode = choice(mode, "mode", MODES)
        self.leak = choice(leak, "leak", LEAK_MODES)
        if not isinstance(trace, (bool, np.bool_)):
            raise NeuroemuTypeError(f"trace must be a bool, got {type(trace).__name__}")
        self.trace = bool(trace)
        self.deployment = self._deployment(hardware)
        if self.mode == "timed":
            self._check_timed()
        else:
            if self.leak != "bin" or self.trace:
                name = "leak" if self.leak != "bin" else "trace"
                raise ConfigError(f"{name}={getattr(self, name)!r} applies to mode='timed' only")
            if self.deployment is not None and self.record == "totals":
                raise ConfigError(
                    'messages and energy in step mode need spikes per neuron: use record="counts" (or "spikes") '
                    'with hardware=, or mode="timed"'
                )
        if self.schedule == "sync" and self.mode == "step":
            for name, value, default in (
                ("group_size", self.group_size, None),
                ("prioritize_input", self.prioritize_input, True),
                ("max_post_output_steps", self.max_post_output_steps, None),
            ):
                if value != default:
                    raise ConfigError(f"{name}={value!r} applies to asynchronous schedules only, not to 'sync'")

    def _deployment(self, hardware: Any) -> Deployment | None:
        if hardware is None:
            return None
        if isinstance(hardware, Deployment):
            if hardware.source_network is not self.network:
                raise ConfigError("hardware is a Deployment of another network; deploy this network")
            return hardware
        if not isinstance(hardware, (str, Hardware)):
            raise NeuroemuTypeError(
                f"hardware must be a preset name, a neuroemu.Hardware or a Deployment, got {type(hardware).__name__}"
            )
        return deploy(self.network, hardware)

    def _check_timed(self) -> None:
        if self.deployment is None:
            raise ConfigError(
                'mode="timed" needs hardware= (a preset name such as "loihi", a Hardware or a Deployment)'
            )
        for name, value, default, why in (
            ("group_size", self.group_size, None, "parallelism is the number of cores"),
            ("max_post_output_steps", self.max_post_output_steps, None, "the hardware does not stop"),
        ):
            if value != default:
                raise ConfigError(f"{name}={value!r} has no meaning in mode='timed' ({why})")
        if self.schedule == "sync" and not self.prioritize_input:
            raise ConfigError("prioritize_input=False applies to asynchronous schedules only, not to 'sync'")
        hw = self.deployment.hardware
        missing = hw.missing_latencies(sync=self.schedule == "sync", chips=self.deployment.n_chips)
        if missing:
            raise ConfigError(
                f"mode='timed' needs the latency of every operation; hardware profile {hw.name!r} gives none for "
                + ", ".join(f"costs.{op}.latency_ns" for op in missing)
            )
        self.deployment._core_model()  # converts the latencies and dt to ps once, with its errors here

    @property
    def hardware(self) -> Hardware | None:
        return None if self.deployment is None else self.deployment.hardware

    def __repr__(self) -> str:
        extra = ""
        if self.deployment is not None:
            extra = f", mode={self.mode!r}, hardware={self.deployment.hardware.name!r}"
        return (
            f"Emulator({self.network!r}, schedule={self.schedule!r}, group_size={self.group_size}, "
            f"prioritize_input={self.prioritize_input}, seed={self.seed}{extra})"
        )

    def run_events(self, events: Any, duration_s: float) -> Result:
        """Runs one sample of timestamped input events.

        Parameters
        ----------
        events : array_like, shape (n, 2)
            Rows ``(time in seconds, channel)``; times in ``[0, duration_s)``, any order.
        duration_s : float
            The sample lasts ``ceil(duration_s / dt)`` bins.

        In timed mode each event enters the mesh at its own time (to the picosecond) and is delivered as a
        message of its own, whatever ``prioritize_input`` says. In step mode the
        events are counted per bin (event ``(t, c)`` adds 1 to ``frames[floor(t / dt), c]``) and run as frames.
        """
        array = np.asarray(events, dtype=np.float64) if not isinstance(events, np.ndarray) else events
        if array.dtype == object or not np.issubdtype(array.dtype, np.number):
            raise NeuroemuTypeError(f"events must be numeric, got dtype {array.dtype}")
        array = np.asarray(array, dtype=np.float64)
        if array.size == 0:
            array = array.reshape(0, 2)
        if array.ndim != 2 or array.shape[1] != 2:
            raise InputError(f"events must be shaped (n, 2) as (time_s, channel), got {array.shape}")
        if isinstance(duration_s, bool) or not isinstance(duration_s, (int, float, np.integer, np.floating)):
            raise NeuroemuTypeError(f"duration_s must be a number, got {type(duration_s).__name__}")
        if not np.isfinite(duration_s) or duration_s <= 0:
            raise InputError(f"duration_s must be finite and > 0, got {duration_s}")
        times, channels = array[:, 0], array[:, 1]
        if not np.all(np.isfinite(times)) or np.any(times < 0) or np.any(times >= duration_s):
            raise InputError(f"event times must lie in [0, duration_s={duration_s}) seconds")
        if np.any(channels != np.round(channels)) or np.any(channels < 0) or np.any(channels >= self.network.n_inputs):
            raise InputError(f"event channels must be integers in [0, {self.network.n_inputs})")
        dt = self.network.dt
        ratio = duration_s / dt
        bins = int(round(ratio)) if abs(ratio - round(ratio)) < 1e-9 * max(1.0, ratio) else int(np.ceil(ratio))
        channel_index = channels.astype(np.int64)
        if self.mode == "step":
            frames = np.zeros((bins, self.network.n_inputs))
            np.add.at(frames, (np.minimum((times / dt).astype(np.int64), bins - 1), channel_index), 1.0)
            return self._run(frames[None], threads=1, first_index=0, labels=None)[0]
        order = np.argsort(times, kind="stable")
        times_ps = np.round(times[order] * 1e12).astype(np.int64)
        return self._run_timed(
            None, bins, threads=1, first_index=0, labels=None,
            events=(times_ps, channel_index[order].astype(np.int32), np.array([0, times_ps.size], np.int64)),
        )[0]

    def run(self, frames: Any) -> Result:
        """Runs one sample (sample index 0); ``frames`` is ``(T, n_inputs)`` of event counts >= 0."""
        checked = event_frames(frames, "frames", self.network.n_inputs, ndim=2)
        try:
            return self._run(checked[None], threads=1, first_index=0, labels=None)[0]
        except InputError:
            raise_bad_values(checked, "frames")  # the engine found a bad value: name it
            raise

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
        try:
            return self._run(checked, threads=n_threads, first_index=first, labels=label_array)
        except InputError:
            raise_bad_values(checked, "inputs")  # the engine found a bad value: name it
            raise

    def _run(self, inputs: np.ndarray, *, threads: int, first_index: int, labels: Any) -> BatchResult:
        net = self.network
        # Timed runs return the same per-bin counters (plus small per-core arrays): one estimate serves both.
        check_result_memory(inputs.shape[0], inputs.shape[1], net.n_neurons, len(net.populations), net.n_outputs,
                            per_neuron=self.record != "totals")
        if self.mode == "timed":
            return self._run_timed(inputs, inputs.shape[1], threads=threads, first_index=first_index, labels=labels)
        network = self.network if self.deployment is None else self.deployment.network
        raw = _core.run_batch(
            network._core(),
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
        return _batch_result(self.network.layer_sizes, raw, events=events, labels=labels, hardware=self.hardware,
                             hardware_counters=self._step_counters(raw, inputs))

    def _step_counters(self, raw: dict[str, Any], inputs: np.ndarray) -> HardwareCounters | None:
        """Step mode: traffic from the deployment's routes x spikes per neuron (no time, no static energy)."""
        dep = self.deployment
        if dep is None:
            return None
        n_in = self.network.n_inputs
        spikes = raw["spike_counts"].sum(axis=1, dtype=np.int64)        # (B, N)
        inputs_sent = (inputs > 0).sum(axis=1, dtype=np.int64)          # (B, n_in)

        def traffic(per_entry: np.ndarray) -> np.ndarray:
            return np.asarray(spikes @ per_entry[n_in:] + inputs_sent @ per_entry[:n_in], dtype=np.int64)

        bins = inputs.shape[1]
        barriers = len(self.network.populations) * bins if self.schedule == "sync" else 0
        return HardwareCounters(
            synops=raw["synops"].sum(axis=1),
            active_updates=raw["neuron_updates"].sum(axis=1),
            inactive_updates=np.full(inputs.shape[0], self.network.n_neurons * bins, dtype=np.int64),
            spikes=raw["population_spikes"].sum(axis=(1, 2)),
            messages=traffic(dep.destinations),
            in_tile_messages=traffic(dep.in_tile_destinations),
            hops_east_west=traffic(dep.hops_east_west),
            hops_north_south=traffic(dep.hops_north_south),
            chip_crossings=traffic(dep.chip_crossings),
            barriers=np.full(inputs.shape[0], barriers, dtype=np.int64),
            cores=dep.n_cores,
            duration_ns=None,
        )

    def _run_timed(
        self,
        frames: np.ndarray | None,
        bins: int,
        *,
        threads: int,
        first_index: int,
        labels: Any,
        events: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None,
    ) -> BatchResult:
        dep = self.deployment
        assert dep is not None
        if events is None:
            events = (np.zeros(0, np.int64), np.zeros(0, np.int32), np.zeros(1, np.int64))
        raw = _core.run_timed(
            dep.network._core(),
            dep._core_model(),
            _SCHEDULE_CODES[self.schedule],
            self.seed,
            _RECORD_CODES[self.record],
            self.trace,
            self.leak == "continuous",
            self.prioritize_input,
            0 if self.max_steps_per_bin is None else self.max_steps_per_bin,
            frames,
            *events,
            bins,
            threads,
            first_index,
        )
        spike_log = None
        if "events" in raw:
            spike_log = [np.asarray(np.rec.fromarrays(log.T, dtype=EVENT_DTYPE), dtype=EVENT_DTYPE)
                         if log.size else np.zeros(0, EVENT_DTYPE) for log in raw["events"]]
        trace = None
        if "trace" in raw:
            trace = [np.asarray(np.rec.fromarrays(log.T, dtype=TRACE_DTYPE), dtype=TRACE_DTYPE)
                     if log.size else np.zeros(0, TRACE_DTYPE) for log in raw["trace"]]
        totals = dict(zip(_core.TIMED_TOTALS, np.moveaxis(raw["totals"], -1, 0)))
        counters = HardwareCounters(
            synops=raw["synops"].sum(axis=1),
            active_updates=raw["neuron_updates"].sum(axis=1),
            inactive_updates=totals["inactive_updates"],
            spikes=raw["population_spikes"].sum(axis=(1, 2)),
            messages=totals["messages"],
            in_tile_messages=totals["in_tile_messages"],
            hops_east_west=totals["hops_east_west"],
            hops_north_south=totals["hops_north_south"],
            chip_crossings=totals["chip_crossings"],
            barriers=totals["barriers"],
            cores=dep.n_cores,
            duration_ns=totals["duration_ps"] / 1000.0,
        )
        return _batch_result(
            dep.network.layer_sizes,
            raw,
            events=spike_log,
            labels=labels,
            hardware=dep.hardware,
            hardware_counters=counters,
            timed=TimedData(raw["first_output_ps"], raw["core_busy_ps"], totals["duration_ps"],
                            totals["deliveries"], trace),
        )


def _batch_result(layer_sizes: tuple[int, ...], raw: dict[str, Any], **extra: Any) -> BatchResult:
    """A BatchResult from the per-bin counters both engines return (``raw``) and what a mode adds."""
    counters = (raw["spike_counts"], raw["population_spikes"], raw["output_counts"], raw["forward_steps"],
                raw["synops"], raw["neuron_updates"], raw["spikes_to_output"], raw["steps_to_output"])
    return _frozen(BatchResult, (layer_sizes, *counters), **extra)  # type: ignore[no-any-return]
