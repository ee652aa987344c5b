"""Results as plain data: one summary record per evaluation, JSON and CSV files, terminal tables and
pandas DataFrames. The record's fields are documented in docs/cli.md ("Result schema")."""

from __future__ import annotations

import csv
import json
import math
import os
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from .emulator import Emulator
from .errors import MissingDependencyError
from .result import BatchResult

__all__ = ["SCHEMA_VERSION", "summarize", "format_table", "write_json", "write_csv", "to_dataframe"]

SCHEMA_VERSION = 1


def _mean_of_reached(values: np.ndarray) -> float | None:
    """Mean of the entries >= 0 (-1 marks 'never'); None when there are none."""
    reached = values[values >= 0]
    return float(reached.mean()) if reached.size else None


def _finite_mean(values: Any) -> float | None:
    array = np.asarray(values, dtype=np.float64)
    finite = array[np.isfinite(array)]
    return float(finite.mean()) if finite.size else None


def summarize(batch: BatchResult, emulator: Emulator, *, model: str, dataset: str | None = None) -> dict[str, Any]:
    """One evaluation as a flat, JSON-ready record (means are per inference)."""
    record: dict[str, Any] = {
        "schema": SCHEMA_VERSION,
        "model": model,
        "dataset": dataset,
        "schedule": emulator.schedule,
        "group_size": emulator.group_size,
        "mode": emulator.mode,
        "hardware": None if emulator.hardware is None else emulator.hardware.name,
        "samples": len(batch),
        "bins": batch.n_bins,
        "accuracy": batch.accuracy if batch.labels is not None else None,
        "spikes": float(np.mean(batch.total_spikes)) if len(batch) else None,
        "spike_density": float(np.mean(batch.spike_density)) if len(batch) else None,
        "spikes_per_layer": [float(x) for x in batch.spikes_per_layer.mean(axis=0)] if len(batch) else [],
        "synops": float(np.mean(batch.synops)) if len(batch) else None,
        "neuron_updates": float(np.mean(batch.neuron_updates)) if len(batch) else None,
        "forward_steps": float(np.mean(batch.forward_steps)) if len(batch) else None,
        "spikes_to_first_output": _mean_of_reached(batch.spikes_to_first_output),
        "spikes_to_correct_output": (
            _mean_of_reached(batch.spikes_to_correct_output) if batch.labels is not None else None
        ),
        "time_to_first_output_ns": None,
        "time_to_decision_ns": None,
        "energy_pj": None,
    }
    if emulator.mode == "timed":
        record["time_to_first_output_ns"] = _finite_mean(batch.time_to_first_output_ns)
        record["time_to_decision_ns"] = _finite_mean(batch.time_to_decision_ns)
    if emulator.hardware is not None:
        energy = batch.energy_pj.as_dict()
        record["energy_pj"] = {k: float(np.mean(v)) for k, v in energy.items()}
    return record


def _cell(value: Any, fmt: str) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    if fmt == "%":
        return f"{value:.1%}"
    return format(value, fmt) if fmt else str(value)


def format_table(rows: Sequence[dict[str, Any]], columns: Sequence[tuple[str, str, str]]) -> str:
    """A markdown-style table: columns are (key, header, format spec; "%" for a percentage).

    A key may reach into a nested dict with a dot (``energy_pj.total``)."""

    def get(row: dict[str, Any], key: str) -> Any:
        value: Any = row
        for part in key.split("."):
            value = value.get(part) if isinstance(value, dict) else None
        return value

    cells = [[_cell(get(row, key), fmt) for key, _, fmt in columns] for row in rows]
    headers = [header for _, header, _ in columns]
    widths = [max(len(h), *(len(r[i]) for r in cells)) if cells else len(h) for i, h in enumerate(headers)]
    left = [not fmt for _, _, fmt in columns]

    def line(values: Sequence[str]) -> str:
        return "| " + " | ".join(v.ljust(w) if lj else v.rjust(w) for v, w, lj in zip(values, widths, left)) + " |"

    separator = "|" + "|".join("-" * (w + 2) for w in widths) + "|"
    return "\n".join([line(headers), separator, *(line(r) for r in cells)])


def _flatten(record: dict[str, Any]) -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in record.items():
        if isinstance(value, dict):
            for sub, v in value.items():
                flat[f"{key}.{sub}"] = v
        elif isinstance(value, list):
            flat[key] = " ".join(f"{v:g}" if isinstance(v, float) else str(v) for v in value)
        else:
            flat[key] = value
    return flat


def write_json(path: str | os.PathLike[str], records: Sequence[dict[str, Any]]) -> None:
    with open(path, "w", encoding="utf-8") as f:
        json.dump({"schema": SCHEMA_VERSION, "results": list(records)}, f, indent=2)
        f.write("\n")


def write_csv(path: str | os.PathLike[str], records: Iterable[dict[str, Any]]) -> None:
    flat = [_flatten(r) for r in records]
    fieldnames: list[str] = []
    for row in flat:
        fieldnames.extend(k for k in row if k not in fieldnames)
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=fieldnames)
        writer.writeheader()
        writer.writerows(flat)


def to_dataframe(records: Iterable[dict[str, Any]]) -> Any:
    """The records as a pandas DataFrame (nested fields become ``energy_pj.total`` style columns)."""
    try:
        import pandas as pd  # type: ignore[import-untyped]
    except ImportError as exc:
        raise MissingDependencyError("to_dataframe needs pandas: pip install pandas") from exc
    return pd.DataFrame([_flatten(r) for r in records])
