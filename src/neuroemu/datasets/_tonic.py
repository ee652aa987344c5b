"""Adapter from any tonic dataset (or anything shaped like one) to a :class:`Dataset`.

tonic is not imported: the adapter uses only the protocol its datasets follow, so it also works on a
user's own dataset objects and needs no tonic installation.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

from .._validation import choice, positive_int
from ..errors import ConfigError, DatasetError, NeuroemuTypeError
from ._dataset import Dataset
from ._events import bin_events, pixel_channels

__all__ = ["from_tonic"]


def _sensor(dataset: Any) -> tuple[int, int, int]:
    size = getattr(dataset, "sensor_size", None)
    if size is None:
        raise ConfigError("from_tonic: the dataset has no sensor_size (width, height, polarities)")
    try:
        width, height, polarities = (int(v) for v in size)
    except (TypeError, ValueError):
        raise ConfigError(f"from_tonic: sensor_size must be (width, height, polarities), got {size!r}") from None
    if min(width, height, polarities) < 1 or polarities > 2:
        raise ConfigError(f"from_tonic: sensor_size {size!r} needs positive sizes and 1 or 2 polarities")
    return width, height, polarities


def _event_frame(
    events: NDArray[Any],
    sensor: tuple[int, int, int],
    *,
    bins: int,
    dt: float,
    origin: str,
    downsample: int,
    source: str,
) -> NDArray[np.float32]:
    names = events.dtype.names or ()
    if "t" not in names or "x" not in names:
        raise DatasetError(f"{source}: events need fields 't' and 'x', got {names}")
    width, height, polarities = sensor
    n = events.shape[0]
    x = np.asarray(events["x"])
    y = np.asarray(events["y"]) if "y" in names else np.zeros(n, dtype=np.int64)
    if "p" in names and polarities == 2:
        p = (np.asarray(events["p"]).astype(np.float64) > 0).astype(np.int64)  # {0,1}, {False,True}, {-1,1}
    else:
        p = np.zeros(n, dtype=np.int64)
    ch, n_channels = pixel_channels(x, y, p, width=width, height=height, downsample=downsample, source=source)
    if polarities == 1:
        n_channels //= 2
    t = np.asarray(events["t"])
    if t.size and not np.issubdtype(t.dtype, np.integer):
        t = np.rint(t.astype(np.float64))
    t = t.astype(np.int64)
    start = int(t.min()) if origin == "first" and t.size else 0
    return bin_events(t, ch, n_channels=n_channels, bins=bins, dt=dt, start_us=start, source=source)


def from_tonic(
    dataset: Any,
    *,
    dt: float,
    bins: int | None = None,
    origin: str = "zero",
    downsample: int = 1,
    max_samples: int | None = None,
    n_classes: int | None = None,
    name: str | None = None,
) -> Dataset:
    """Bin every sample of a tonic dataset into frames of event counts.

    Parameters
    ----------
    dataset
        A ``tonic`` dataset, or any object with ``len()``, ``dataset[i] -> (data, target)`` and, for
        event data, ``sensor_size = (width, height, polarities)``. ``data`` is either a structured
        event array with fields ``t`` (microseconds, tonic's convention), ``x`` and optionally ``y``
        and ``p``; or dense frames (for example after ``tonic.transforms.ToFrame``) shaped
        ``(bins, ...)``, which are flattened to ``(bins, channels)`` as they are.
        ``target`` must be an integer class.
    dt : float
        Bin width in seconds (for dense frames: the width they were made with).
    bins : int
        Number of bins, required for event data; bin ``b`` holds events in ``[b * dt, (b + 1) * dt)``
        after the origin (edges rounded to whole microseconds; later events dropped). For dense frames
        it is optional and checked when given.
    origin : {"zero", "first"}
        Where bin 0 starts: at time 0 of the recording, or at each sample's first event.
    downsample : int
        Pool ``downsample x downsample`` pixel blocks into one channel (event data).
    max_samples : int, optional
        Use only the first ``max_samples`` samples.
    n_classes : int, optional
        Default: ``len(dataset.classes)`` where the dataset has ``classes``, else the largest label + 1.
    name : str, optional
        Default: the dataset's class name.

    Returns
    -------
    Dataset
        Event data: channel ``p * H * W + (y // downsample) * W + x // downsample`` (H, W after
        downsampling; polarity ``p > 0`` is 1 for two-polarity sensors, and a one-polarity sensor has
        ``H * W`` channels) — ``tonic.transforms.ToFrame``'s ``(T, P, H, W)`` layout, flattened.
    """
    origin = choice(origin, "origin", ("zero", "first"))
    try:
        total = len(dataset)
    except TypeError:
        raise NeuroemuTypeError("from_tonic: the dataset must support len() and indexing") from None
    if max_samples is not None:
        total = min(total, positive_int(max_samples, "max_samples") or 0)
    if total == 0:
        raise DatasetError("from_tonic: the dataset is empty")
    t_bins = positive_int(bins, "bins", allow_none=True)
    frames: NDArray[np.float32] | None = None
    labels = np.zeros(total, dtype=np.int64)
    sensor: tuple[int, int, int] | None = None
    for i in range(total):
        data, target = dataset[i]
        source = f"from_tonic sample {i}"
        try:
            labels[i] = int(np.asarray(target).item())
        except (TypeError, ValueError):
            raise DatasetError(f"{source}: the target must be one integer class, got {target!r}") from None
        data = np.asarray(data)
        if data.dtype.names:
            if t_bins is None:
                raise ConfigError("from_tonic: bins is required for event data")
            if sensor is None:
                sensor = _sensor(dataset)
            frame = _event_frame(data, sensor, bins=t_bins, dt=dt, origin=origin, downsample=downsample, source=source)
        else:
            if data.ndim < 2:
                raise DatasetError(f"{source}: dense frames must be shaped (bins, ...), got {data.shape}")
            if t_bins is not None and data.shape[0] != t_bins:
                raise DatasetError(f"{source}: {data.shape[0]} frames, bins={t_bins}")
            frame = data.reshape(data.shape[0], -1).astype(np.float32)
        if frames is None:
            frames = np.zeros((total, *frame.shape), dtype=np.float32)
        elif frame.shape != frames.shape[1:]:
            raise DatasetError(f"{source}: frames shaped {frame.shape}, earlier samples {frames.shape[1:]}")
        frames[i] = frame
    assert frames is not None
    if n_classes is None:
        classes = getattr(dataset, "classes", None)
        if classes is not None and len(classes) > labels.max():
            n_classes = len(classes)
    return Dataset(frames, labels, dt=dt, n_classes=n_classes, name=name or type(dataset).__name__)
