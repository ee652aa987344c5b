"""Figures (matplotlib, an optional extra: pip install "neuroemu[plot]")."""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import numpy as np

from .errors import MissingDependencyError
from .result import Result

__all__ = ["raster", "spikes_per_layer", "energy_breakdown", "metric_against_group_size", "comparison"]


def _pyplot() -> Any:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as exc:
        raise MissingDependencyError('figures need matplotlib: pip install "neuroemu[plot]"') from exc
    return plt


def _save(fig: Any, path: str | os.PathLike[str] | None) -> Any:
    if path is not None:
        fig.savefig(path, dpi=120, bbox_inches="tight")
        _pyplot().close(fig)
    return fig


def raster(result: Result, layer_sizes: Sequence[int], path: str | os.PathLike[str] | None = None) -> Any:
    """Spike raster of one inference (``record="spikes"``): neuron against bin + step / max steps."""
    if result.events is None:
        raise ValueError('a raster needs the event log: run with record="spikes"')
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(8, 4))
    events = result.events
    steps = np.maximum(result.forward_steps_per_bin, 1)
    x = events["bin"] + events["step"] / steps[events["bin"]]
    ax.scatter(x, events["neuron"], s=2, c="k")
    for edge in np.cumsum(layer_sizes)[:-1]:
        ax.axhline(edge - 0.5, color="0.8", lw=0.5)
    ax.set_xlabel("bin (+ forward step within the bin)")
    ax.set_ylabel("neuron (layer by layer)")
    ax.set_title("spike raster")
    return _save(fig, path)


def spikes_per_layer(labels: Sequence[str], per_layer: Sequence[Sequence[float]], path: Any = None) -> Any:
    """Grouped bars: spikes per inference in each layer, one group per run."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(8, 4))
    data = np.asarray(per_layer, dtype=float)
    width = 0.8 / max(len(labels), 1)
    for k, (label, row) in enumerate(zip(labels, data)):
        ax.bar(np.arange(data.shape[1]) + k * width, row, width, label=label)
    ax.set_xlabel("layer")
    ax.set_ylabel("spikes per inference")
    ax.legend(fontsize=7)
    return _save(fig, path)


def energy_breakdown(labels: Sequence[str], breakdowns: Sequence[dict[str, float]], path: Any = None) -> Any:
    """Stacked bars of the energy breakdown (pJ per inference), one bar per run."""
    plt = _pyplot()
    kinds = ["synaptic", "neuron_update", "spike_message", "routing", "static"]
    fig, ax = plt.subplots(figsize=(8, 4))
    bottom = np.zeros(len(labels))
    for kind in kinds:
        values = np.array([b.get(kind, 0.0) for b in breakdowns])
        ax.bar(range(len(labels)), values, bottom=bottom, label=kind)
        bottom += values
    ax.set_xticks(range(len(labels)), labels, rotation=30, ha="right", fontsize=7)
    ax.set_ylabel("energy per inference (pJ)")
    ax.legend(fontsize=7)
    return _save(fig, path)


def metric_against_group_size(
    series: dict[str, tuple[Sequence[float], Sequence[float]]], metric: str, path: Any = None
) -> Any:
    """One line per series (e.g. training regime): metric against group size F (log axis)."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6, 4))
    for label, (group_sizes, values) in series.items():
        ax.plot(group_sizes, values, marker="o", label=label)
    ax.set_xscale("log", base=2)
    ax.set_xlabel("group size F (rightmost: unlimited)")
    ax.set_ylabel(metric)
    ax.legend(fontsize=8)
    return _save(fig, path)


def comparison(records: Sequence[dict[str, Any]], path: Any = None) -> Any:
    """Four panels (accuracy, spikes, time to decision, energy) over runs, as the demo draws them."""
    plt = _pyplot()
    fig, axes = plt.subplots(1, 4, figsize=(15, 3.6))
    labels = [f"{r['model']}\n{r['schedule']} F={r['group_size'] or 'all'}" for r in records]
    panels = [
        ("accuracy", "accuracy", 1.0),
        ("spikes", "spikes per inference", 1.0),
        ("time_to_decision_ns", "time to decision (µs)", 1e-3),
        ("energy_pj", "energy per inference (nJ)", 1e-3),
    ]
    for ax, (key, title, scale) in zip(axes, panels):
        values = []
        for r in records:
            value = r.get(key)
            if isinstance(value, dict):
                value = value.get("total")
            values.append(np.nan if value is None else value * scale)
        colors = ["tab:blue" if "sync" in r["model"] else "tab:orange" for r in records]
        ax.bar(range(len(records)), values, color=colors)
        ax.set_xticks(range(len(records)), labels, rotation=60, ha="right", fontsize=6)
        ax.set_title(title, fontsize=9)
    fig.tight_layout()
    return _save(fig, path)
