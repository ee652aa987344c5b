"""What a run returns: counters per sample (Result) and per batch (BatchResult)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from .errors import ConfigError

__all__ = ["Result", "BatchResult", "EVENT_DTYPE"]

EVENT_DTYPE = np.dtype([("bin", np.int32), ("step", np.int32), ("neuron", np.int32)])

IntArray = NDArray[np.int64]


def _predict(output_counts: NDArray[Any]) -> IntArray:
    """argmax of output spikes summed over bins (axis -2); -1 on a tie for the maximum or silence."""
    totals = output_counts.sum(axis=-2)
    best = totals.max(axis=-1)
    winners = (totals == best[..., None]).sum(axis=-1)
    return np.where((best > 0) & (winners == 1), totals.argmax(axis=-1), -1).astype(np.int64)


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
class Result(_Counters):
    """The outcome of one inference (``Emulator.run``).

    Per-bin arrays have ``T`` rows. ``spike_counts`` is ``(T, n_neurons)``, ``output_counts`` is
    ``(T, n_outputs)``, ``layer_spike_counts`` is ``(T, n_layers)``.
    """

    events: NDArray[Any] | None = None
    label: int | None = None

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
class BatchResult(_Counters):
    """The outcome of a batch (``Emulator.run_batch``): every per-sample array gains a leading axis B."""

    events: list[NDArray[Any]] | None = None
    labels: IntArray | None = None

    def __len__(self) -> int:
        return int(self.output_counts.shape[0])

    def __getitem__(self, b: int) -> Result:
        """The result of sample ``b`` of the batch."""
        if not -len(self) <= b < len(self):
            raise IndexError(f"sample {b} out of range for a batch of {len(self)}")
        return Result(
            self.layer_sizes,
            None if self._spike_counts is None else self._spike_counts[b],
            self.layer_spike_counts[b],
            self.output_counts[b],
            self.forward_steps_per_bin[b],
            self.synops_per_bin[b],
            self.neuron_updates_per_bin[b],
            self.spikes_to_output[b],
            self.steps_to_output[b],
            events=None if self.events is None else self.events[b],
            label=None if self.labels is None else int(self.labels[b]),
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
        return out
