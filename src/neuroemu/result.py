"""What a run returns: counters per sample (Result) and per batch (BatchResult)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, fields, is_dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from .energy import EnergyBreakdown, HardwareCounters, energy_breakdown
from .errors import ConfigError

__all__ = ["Result", "BatchResult", "EVENT_DTYPE", "TRACE_DTYPE", "TimedData"]

EVENT_DTYPE = np.dtype([("bin", np.int32), ("step", np.int32), ("neuron", np.int32)])
# One task of one core in the timed model (docs/hardware.md): source is the message's entry (input channel c,
# or n_inputs + neuron), -1 for the per-bin update, -2 for a phase of the sync schedule.
TRACE_DTYPE = np.dtype([("core", np.int64), ("source", np.int64), ("arrival_ps", np.int64),
                        ("start_ps", np.int64), ("end_ps", np.int64)])

IntArray = NDArray[np.int64]


def _predict(output_counts: NDArray[Any]) -> IntArray:
    """argmax of output spikes summed over bins (axis -2); -1 on a tie for the maximum or silence."""
    totals = output_counts.sum(axis=-2)
    best = totals.max(axis=-1)
    winners = (totals == best[..., None]).sum(axis=-1)
    return np.where((best > 0) & (winners == 1), totals.argmax(axis=-1), -1).astype(np.int64)


def _frozen(cls: type[Any], counters: Sequence[Any], **extra: Any) -> Any:
    """``cls(*counters, **extra)`` for Result and BatchResult, without the generated ``__init__``: a frozen
    dataclass sets each of its 14 fields through ``object.__setattr__``, which cost as much as the rest of
    a small network's run. Fields not given take their default (None); neither class has ``__post_init__``."""
    defaults = _DEFAULTS[cls]
    if not defaults.keys() >= extra.keys():
        raise TypeError(f"{cls.__name__} has no field {sorted(extra.keys() - defaults.keys())[0]!r}")
    obj = object.__new__(cls)
    state = obj.__dict__
    state.update(defaults)
    state.update(zip(_COUNTER_FIELDS, counters))
    state.update(extra)
    return obj


def _first_reached(per_class: IntArray) -> IntArray:
    """Minimum over the last axis of the entries >= 0; -1 where all are -1."""
    masked = np.where(per_class >= 0, per_class, np.iinfo(np.int64).max)
    first = masked.min(axis=-1)
    return np.where(first == np.iinfo(np.int64).max, -1, first)


def _for_label(per_class: IntArray, labels: IntArray) -> IntArray:
    """per_class[..., t, labels[...]] -> (..., T)."""
    return np.take_along_axis(per_class, labels[..., None, None], axis=-1)[..., 0]


@dataclass(frozen=True, eq=False)
class _Counters:
    """Counters with a leading batch shape (empty for one sample). See docs/semantics.md for definitions."""

    layer_sizes: tuple[int, ...]
    _spike_counts: NDArray[np.int32] | None
    layer_spike_counts: IntArray
    output_counts: NDArray[np.int32]
    forward_steps_per_bin: IntArray
    synops_per_bin: IntArray
    neuron_updates_per_bin: IntArray
    spikes_to_output: IntArray
    steps_to_output: IntArray

    @property
    def spike_counts(self) -> NDArray[np.int32]:
        """Spikes per neuron per bin, neurons in layer order (``record="counts"`` or ``"spikes"``)."""
        if self._spike_counts is None:
            raise ConfigError('spike_counts per neuron are not kept with record="totals"; use record="counts"')
        return self._spike_counts

    @property
    def n_bins(self) -> int:
        return int(self.output_counts.shape[-2])

    @property
    def spikes_per_layer(self) -> IntArray:
        """Spikes per layer summed over bins."""
        return np.asarray(self.layer_spike_counts.sum(axis=-2), dtype=np.int64)

    @property
    def spike_density(self) -> Any:
        """Spikes per neuron per bin (a float, or one per sample of a batch)."""
        cells = sum(self.layer_sizes) * max(self.n_bins, 1)
        return self.layer_spike_counts.sum(axis=(-2, -1)) / cells

    @property
    def spikes_to_first_output(self) -> IntArray:
        """Per bin: network spikes up to and including the step of the first output spike; -1 if none."""
        return _first_reached(self.spikes_to_output)

    @property
    def steps_to_first_output(self) -> IntArray:
        """Per bin: forward steps up to and including the step of the first output spike; -1 if none."""
        return _first_reached(self.steps_to_output)


@dataclass(frozen=True, eq=False)
class TimedData:
    """What the timed model adds, with a leading batch axis for a batch (``mode="timed"``)."""

    first_output_ps: IntArray  # (..., n_outputs), -1 where the output never spiked
    core_busy_ps: IntArray     # (..., cores)
    duration_ps: IntArray      # (...)
    deliveries: IntArray       # (...) messages processed by cores
    trace: Any = None          # TRACE_DTYPE array per sample (a list for a batch), or None

    def __getitem__(self, b: int) -> TimedData:
        return TimedData(
            self.first_output_ps[b], self.core_busy_ps[b], self.duration_ps[b], self.deliveries[b],
            None if self.trace is None else self.trace[b],
        )


def _ns(ps: Any) -> Any:
    return np.asarray(ps, dtype=np.float64) / 1000.0


class _HardwareMetrics:
    """Latency, traffic and energy properties shared by Result and BatchResult (None-safe)."""

    hardware: Any
    hardware_counters: HardwareCounters | None
    timed: TimedData | None

    def _timed(self) -> TimedData:
        if self.timed is None:
            raise ConfigError('latency in ns needs Emulator(..., mode="timed", hardware=...)')
        return self.timed

    def _counters(self) -> HardwareCounters:
        if self.hardware_counters is None:
            raise ConfigError("messages, hops and energy need Emulator(..., hardware=...)")
        return self.hardware_counters

    @property
    def energy_pj(self) -> EnergyBreakdown:
        """Energy in pJ by operation kind (static power x time in timed mode only); see docs/hardware.md."""
        return energy_breakdown(self._counters(), self.hardware.costs)

    @property
    def messages(self) -> Any:
        """Spike messages between cores (one per spike per destination core), input messages included."""
        return self._counters().messages

    @property
    def hops(self) -> Any:
        """Tile hops of all messages, east-west plus north-south."""
        c = self._counters()
        return c.hops_east_west + c.hops_north_south

    @property
    def core_busy_ns(self) -> Any:
        """Busy time of each core in ns (timed mode)."""
        return _ns(self._timed().core_busy_ps)

    @property
    def duration_ns(self) -> Any:
        """Modelled time of the sample in ns: the bins, or longer if work outlasts them (timed mode)."""
        return _ns(self._timed().duration_ps)

    @property
    def trace(self) -> Any:
        """Every task of every core as a TRACE_DTYPE array (``Emulator(..., trace=True)``)."""
        if self._timed().trace is None:
            raise ConfigError("no trace was recorded; pass trace=True to the Emulator")
        return self._timed().trace

    def _first_output_ns(self) -> Any:
        first = self._timed().first_output_ps
        masked = np.where(first >= 0, first, np.iinfo(np.int64).max).min(axis=-1)
        return np.where(masked == np.iinfo(np.int64).max, np.nan, _ns(masked))

    def _decision_ns(self, predictions: Any) -> Any:
        first = self._timed().first_output_ps
        pred = np.asarray(predictions)
        pick = np.take_along_axis(first, np.maximum(pred, 0)[..., None], axis=-1)[..., 0]
        return np.where(pred >= 0, _ns(pick), np.nan)


@dataclass(frozen=True, eq=False)
class Result(_Counters, _HardwareMetrics):
    """The outcome of one inference (``Emulator.run``).

    Per-bin arrays have ``T`` rows. ``spike_counts`` is ``(T, n_neurons)``, ``output_counts`` is
    ``(T, n_outputs)``, ``layer_spike_counts`` is ``(T, n_layers)``.
    """

    events: NDArray[Any] | None = None
    label: int | None = None
    hardware: Any = None
    hardware_counters: HardwareCounters | None = None
    timed: TimedData | None = None

    @property
    def time_to_first_output_ns(self) -> float:
        """Time from the sample's start to its first output spike in ns; NaN if none (timed mode)."""
        return float(self._first_output_ns())

    @property
    def time_to_decision_ns(self) -> float:
        """Time to the first spike of the class that finally wins; NaN on a tie or silence (timed mode)."""
        return float(self._decision_ns(self.prediction))

    @property
    def forward_steps(self) -> int:
        return int(self.forward_steps_per_bin.sum())

    @property
    def synops(self) -> int:
        return int(self.synops_per_bin.sum())

    @property
    def neuron_updates(self) -> int:
        return int(self.neuron_updates_per_bin.sum())

    @property
    def total_spikes(self) -> int:
        return int(self.layer_spike_counts.sum())

    @property
    def prediction(self) -> int:
        """The predicted class; -1 on a tie or silence."""
        return int(_predict(self.output_counts))

    @property
    def correct(self) -> bool:
        if self.label is None:
            raise ConfigError("this result has no label; pass labels to run_batch")
        return self.prediction == self.label

    @property
    def spikes_to_correct_output(self) -> IntArray:
        """Per bin: network spikes up to and including the first spike of the labelled class; -1 if none."""
        if self.label is None:
            raise ConfigError("this result has no label; pass labels to run_batch")
        return self.spikes_to_output[:, self.label].copy()


@dataclass(frozen=True, eq=False)
class BatchResult(_Counters, _HardwareMetrics):
    """The outcome of a batch (``Emulator.run_batch``): every per-sample array gains a leading axis B."""

    events: list[NDArray[Any]] | None = None
    labels: IntArray | None = None
    hardware: Any = None
    hardware_counters: HardwareCounters | None = None
    timed: TimedData | None = None

    @property
    def time_to_first_output_ns(self) -> NDArray[np.float64]:
        """(B,) time to each sample's first output spike in ns; NaN where none (timed mode)."""
        return np.asarray(self._first_output_ns(), dtype=np.float64)

    @property
    def time_to_decision_ns(self) -> NDArray[np.float64]:
        """(B,) time to the first spike of the winning class in ns; NaN on a tie or silence (timed mode)."""
        return np.asarray(self._decision_ns(self.predictions), dtype=np.float64)

    def __len__(self) -> int:
        return int(self.output_counts.shape[0])

    @classmethod
    def concatenate(cls, parts: Sequence[BatchResult]) -> BatchResult:
        """One batch from consecutive parts (e.g. chunks run with matching ``first_index``)."""
        if not parts:
            raise ConfigError("concatenate needs at least one BatchResult")
        return _concatenate(list(parts))  # type: ignore[no-any-return]

    def __getitem__(self, b: int) -> Result:
        """The result of sample ``b`` of the batch."""
        if not -len(self) <= b < len(self):
            raise IndexError(f"sample {b} out of range for a batch of {len(self)}")
        counters = (
            self.layer_sizes,
            None if self._spike_counts is None else self._spike_counts[b],
            self.layer_spike_counts[b],
            self.output_counts[b],
            self.forward_steps_per_bin[b],
            self.synops_per_bin[b],
            self.neuron_updates_per_bin[b],
            self.spikes_to_output[b],
            self.steps_to_output[b],
        )
        return _frozen(
            Result,
            counters,
            events=None if self.events is None else self.events[b],
            label=None if self.labels is None else int(self.labels[b]),
            hardware=self.hardware,
            hardware_counters=None if self.hardware_counters is None else self.hardware_counters[b],
            timed=None if self.timed is None else self.timed[b],
        )

    @property
    def forward_steps(self) -> IntArray:
        """Forward steps per sample, summed over bins."""
        return np.asarray(self.forward_steps_per_bin.sum(axis=-1), dtype=np.int64)

    @property
    def synops(self) -> IntArray:
        return np.asarray(self.synops_per_bin.sum(axis=-1), dtype=np.int64)

    @property
    def neuron_updates(self) -> IntArray:
        return np.asarray(self.neuron_updates_per_bin.sum(axis=-1), dtype=np.int64)

    @property
    def total_spikes(self) -> IntArray:
        return np.asarray(self.layer_spike_counts.sum(axis=(-2, -1)), dtype=np.int64)

    @property
    def predictions(self) -> IntArray:
        """Predicted class per sample; -1 on a tie or silence."""
        return _predict(self.output_counts)

    @property
    def accuracy(self) -> float:
        """Fraction of samples predicted correctly (a tie or silence is wrong)."""
        if self.labels is None:
            raise ConfigError("accuracy needs labels: pass labels to run_batch")
        return float(np.mean(self.predictions == self.labels)) if len(self) else float("nan")

    @property
    def spikes_to_correct_output(self) -> IntArray:
        """(B, T): network spikes up to and including the first spike of the labelled class; -1 if none."""
        if self.labels is None:
            raise ConfigError("spikes_to_correct_output needs labels: pass labels to run_batch")
        return _for_label(self.spikes_to_output, self.labels)

    def summary(self) -> dict[str, float]:
        """Means over the batch of the headline metrics."""
        out = {
            "spikes": float(np.mean(self.total_spikes)),
            "spike_density": float(np.mean(self.spike_density)),
            "synops": float(np.mean(self.synops)),
            "neuron_updates": float(np.mean(self.neuron_updates)),
            "forward_steps": float(np.mean(self.forward_steps)),
        }
        if self.labels is not None:
            out["accuracy"] = self.accuracy
        if self.hardware_counters is not None:
            out["messages"] = float(np.mean(self.messages))
            out["hops"] = float(np.mean(self.hops))
            try:
                out["energy_pj"] = float(np.mean(self.energy_pj.total))
            except ConfigError:  # the profile lacks an energy figure: no energy in the summary
                pass
        if self.timed is not None and len(self):
            with np.errstate(invalid="ignore"):
                for name in ("time_to_first_output_ns", "time_to_decision_ns"):
                    values = getattr(self, name)
                    out[name] = float(np.nanmean(values)) if np.any(~np.isnan(values)) else float("nan")
        return out


def _concatenate(parts: list[Any]) -> Any:
    """Joins dataclass batch records field by field: arrays along axis 0, per-sample lists end to end;
    anything else (sizes, the hardware profile, core counts) is shared and taken from the first part."""
    first = parts[0]
    if first is None:
        return None
    if is_dataclass(first) and not isinstance(first, type):
        values = {f.name: _concatenate([getattr(p, f.name) for p in parts]) for f in fields(first)}
        return type(first)(**values)
    if isinstance(first, np.ndarray) and first.ndim > 0:
        return np.concatenate(parts)
    if isinstance(first, list):
        return [item for part in parts for item in part]
    return first


_COUNTER_FIELDS = tuple(f.name for f in fields(_Counters))
# Every field after the counters has the default None, in both classes (checked by the tests).
_DEFAULTS = {cls: {f.name: None for f in fields(cls) if f.name not in _COUNTER_FIELDS} for cls in (Result, BatchResult)}
