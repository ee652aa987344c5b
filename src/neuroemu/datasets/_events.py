"""Binning of address events into frames of counts, shared by the file readers and the tonic adapter."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray

from .._validation import positive_int
from ..errors import ConfigError, DatasetError

__all__ = ["bin_edges_us", "bin_events", "pixel_channels", "first_per_class"]


def _dt_seconds(dt: Any) -> float:
    value = float(dt)
    if not (np.isfinite(value) and value > 0):
        raise ConfigError(f"dt must be a positive number of seconds, got {dt}")
    return value


def bin_edges_us(bins: int, dt: float) -> NDArray[np.int64]:
    """Bin edges in whole microseconds: ``E_b = round(b * dt * 1e6)`` for ``b = 0 .. bins``."""
    t = positive_int(bins, "bins")
    assert t is not None
    edges = np.rint(np.arange(t + 1, dtype=np.float64) * _dt_seconds(dt) * 1e6).astype(np.int64)
    if np.any(np.diff(edges) <= 0):
        raise ConfigError(f"dt={dt} s is shorter than the 1 us timestamp resolution")
    return edges


def bin_events(
    times_us: Any,
    channels: Any,
    *,
    n_channels: int,
    bins: int,
    dt: float,
    start_us: int = 0,
    source: str = "events",
) -> NDArray[np.float32]:
    """Count events per time bin and channel.

    Timestamps are integer microseconds (floats are rounded to the nearest microsecond). Bin ``b``
    holds the events with ``start_us + E_b <= t < start_us + E_{b+1}``, ``E_b = round(b * dt * 1e6)``:
    an event exactly on an edge belongs to the later bin; events before ``start_us`` or at or after
    ``start_us + E_bins`` are dropped.

    Parameters
    ----------
    times_us : array_like, shape (events,)
        Event times in microseconds.
    channels : array_like of int, shape (events,)
        Channel of each event, ``0 <= channel < n_channels``.
    n_channels : int
        Number of channels ``C``.
    bins : int
        Number of bins ``T``.
    dt : float
        Bin width in seconds.
    start_us : int
        Time of the start of bin 0, in microseconds.
    source : str
        Named in error messages (for example the file the events came from).

    Returns
    -------
    ndarray of float32, shape (bins, n_channels)
    """
    edges = bin_edges_us(bins, dt)
    c = positive_int(n_channels, "n_channels")
    assert c is not None
    t = np.asarray(times_us)
    ch = np.asarray(channels)
    if t.ndim != 1 or ch.shape != t.shape:
        raise DatasetError(f"{source}: times and channels must be 1-D of equal length, got {t.shape}, {ch.shape}")
    if t.size and not np.issubdtype(t.dtype, np.integer):
        t = t.astype(np.float64)
        if not np.all(np.isfinite(t)):
            raise DatasetError(f"{source}: event times contain NaN or infinite values")
        t = np.rint(t)
    t = t.astype(np.int64)
    ch = ch.astype(np.int64)
    if ch.size and (ch.min() < 0 or ch.max() >= c):
        bad = int(ch.min()) if ch.min() < 0 else int(ch.max())
        raise DatasetError(f"{source}: event channel {bad} is out of range for {c} channels")
    rel = t - int(start_us)
    keep = (rel >= 0) & (rel < edges[-1])
    b = np.searchsorted(edges, rel[keep], side="right") - 1
    counts = np.bincount(b * c + ch[keep], minlength=(edges.size - 1) * c)
    return counts.reshape(edges.size - 1, c).astype(np.float32)


def pixel_channels(
    x: Any,
    y: Any,
    p: Any,
    *,
    width: int,
    height: int,
    downsample: int = 1,
    source: str = "events",
) -> tuple[NDArray[np.int64], int]:
    """Flat channel index of camera events, in the layout of ``tonic.transforms.ToFrame`` flattened.

    With ``W = ceil(width / downsample)`` and ``H = ceil(height / downsample)``, an event at pixel
    ``(x, y)`` with polarity ``p`` (0 or 1) has channel ``p * H * W + (y // downsample) * W +
    (x // downsample)``: frames reshaped to ``(bins, 2, H, W)`` are polarity-first images.

    Returns
    -------
    channels : ndarray of int64
    n_channels : int
        ``2 * H * W``.
    """
    f = positive_int(downsample, "downsample")
    assert f is not None
    xs, ys, ps = (np.asarray(a).astype(np.int64) for a in (x, y, p))
    for name, values, size in (("x", xs, width), ("y", ys, height), ("polarity", ps, 2)):
        bad = values[(values < 0) | (values >= size)]
        if bad.size:
            raise DatasetError(
                f"{source}: event {name} = {int(bad[0])} is outside 0..{size - 1} "
                f"(sensor {width}x{height}, 2 polarities)"
            )
    w, h = -(-width // f), -(-height // f)
    return ps * (h * w) + (ys // f) * w + xs // f, 2 * h * w


def first_per_class(labels: Sequence[int], max_per_class: int | None) -> list[int]:
    """Positions of the first ``max_per_class`` samples of every class, in their original order."""
    if max_per_class is None:
        return list(range(len(labels)))
    m = positive_int(max_per_class, "max_per_class")
    seen: dict[int, int] = {}
    keep = []
    for i, label in enumerate(labels):
        if seen.get(label, 0) < (m or 0):
            seen[label] = seen.get(label, 0) + 1
            keep.append(i)
    return keep
