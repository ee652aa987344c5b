"""Reader for N-MNIST (Orchard et al. 2015) in its original ``.bin`` format.

Each ``.bin`` file is one recording of a 34x34 ATIS sensor: a sequence of 40-bit (5-byte) events,

====  ====================================================================
byte  content
====  ====================================================================
0     x address (0..33)
1     y address (0..33)
2     bit 7: polarity (0 or 1); bits 6..0: timestamp bits 22..16
3     timestamp bits 15..8
4     timestamp bits 7..0
====  ====================================================================

with timestamps in microseconds from the start of the recording. An event with ``y == 240`` is a
timestamp-overflow marker: it is dropped and adds ``2**13`` to the timestamps of all later events
(as in the dataset authors' reader and in ``tonic.io.read_mnist_file``; a recording lasts about
0.3 s, well inside the 23-bit timestamp range of 8.4 s).
The dataset is a folder ``Train/<digit>/*.bin`` and ``Test/<digit>/*.bin``.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from .._validation import choice, positive_int
from ..errors import DatasetError
from ._dataset import Dataset
from ._events import bin_events, first_per_class, pixel_channels

__all__ = ["nmnist", "read_nmnist_file", "NMNIST_SENSOR", "EVENT_FIELDS"]

#: Sensor width and height of N-MNIST recordings, in pixels.
NMNIST_SENSOR = (34, 34)
#: Fields of the structured event arrays the readers return (t in microseconds).
EVENT_FIELDS = np.dtype([("x", np.int16), ("y", np.int16), ("p", np.int8), ("t", np.int64)])
_OVERFLOW_Y = 240
_OVERFLOW_STEP = 2**13


def read_nmnist_file(path: str | os.PathLike[str]) -> NDArray[np.void]:
    """Decode one N-MNIST ``.bin`` file.

    Parameters
    ----------
    path : str or path-like
        The ``.bin`` file.

    Returns
    -------
    ndarray, structured with fields ``x``, ``y``, ``p`` (0/1) and ``t`` (microseconds)
        The events in file order, overflow markers removed.
    """
    file = Path(path)
    if not file.is_file():
        raise DatasetError(f"N-MNIST file {file} does not exist")
    raw = np.fromfile(file, dtype=np.uint8)
    if raw.size % 5:
        raise DatasetError(f"N-MNIST file {file} is truncated: {raw.size} bytes is not a whole number of 5-byte events")
    ev = raw.reshape(-1, 5).astype(np.int64)
    x, y = ev[:, 0], ev[:, 1]
    p = ev[:, 2] >> 7
    t = ((ev[:, 2] & 0x7F) << 16) | (ev[:, 3] << 8) | ev[:, 4]
    overflow = y == _OVERFLOW_Y
    t = t + np.cumsum(overflow) * _OVERFLOW_STEP
    keep = ~overflow
    out = np.empty(int(keep.sum()), dtype=EVENT_FIELDS)
    out["x"], out["y"], out["p"], out["t"] = x[keep], y[keep], p[keep], t[keep]
    width, height = NMNIST_SENSOR
    bad = (out["x"] >= width) | (out["y"] >= height)
    if np.any(bad):
        i = int(np.flatnonzero(bad)[0])
        raise DatasetError(
            f"N-MNIST file {file}: event {i} has address ({out['x'][i]}, {out['y'][i]}) outside the "
            f"{width}x{height} sensor"
        )
    return out


def _split_folder(root: Path, split: str) -> Path:
    if not root.exists():
        raise DatasetError(f"N-MNIST path {root} does not exist")
    if not root.is_dir():
        raise DatasetError(f"N-MNIST path {root} is not a folder (expected a folder with Train/ and Test/)")
    for name in (split.capitalize(), split, split.upper()):
        if (root / name).is_dir():
            return root / name
    if any((root / str(d)).is_dir() for d in range(10)):
        return root  # the split folder itself
    raise DatasetError(f"N-MNIST path {root} has no {split.capitalize()}/ folder and no digit folders 0/ .. 9/")


def nmnist(
    path: str | os.PathLike[str],
    *,
    split: str = "train",
    bins: int = 16,
    dt: float = 0.02,
    downsample: int = 1,
    max_per_class: int | None = None,
) -> Dataset:
    """N-MNIST recordings binned into frames of event counts.

    Parameters
    ----------
    path : str or path-like
        The dataset folder holding ``Train/`` and ``Test/`` (each with digit folders ``0/`` .. ``9/``
        of ``.bin`` files), or one split folder itself (then ``split`` is not used).
    split : {"train", "test"}
        Which folder to read.
    bins, dt : int, float
        Number of bins and bin width in seconds; bin ``b`` holds the events with timestamps in
        ``[b * dt, (b + 1) * dt)`` from the start of the recording (edges rounded to whole
        microseconds). Later events are dropped. The default 16 x 20 ms covers the 3 saccades
        (about 315 ms).
    downsample : int
        Pool ``downsample x downsample`` pixel blocks into one channel (34 -> ``ceil(34 / downsample)``).
    max_per_class : int, optional
        Read only the first ``max_per_class`` files (sorted by name) of every digit.

    Returns
    -------
    Dataset
        ``frames`` (N, bins, 2 * H * W) float32 with channel ``p * H * W + y * W + x``
        (``H = W = 34`` without downsampling: 2312 channels), ``labels`` the digit folder names.
        Memory: ``N * bins * channels * 4`` bytes (all 60,000 training files at the defaults: 8.9 GB).
    """
    split = choice(split, "split", ("train", "test"))
    t = positive_int(bins, "bins")
    assert t is not None
    folder = _split_folder(Path(path), split)
    files: list[Path] = []
    labels: list[int] = []
    for digit in range(10):
        sub = folder / str(digit)
        if sub.is_dir():
            found = sorted(
                f for f in sub.iterdir() if f.suffix == ".bin" and f.is_file() and not f.name.startswith(".")
            )
            files += found
            labels += [digit] * len(found)
    if not files:
        raise DatasetError(f"N-MNIST folder {folder} holds no .bin files in its digit folders 0/ .. 9/")
    keep = first_per_class(labels, max_per_class)
    width, height = NMNIST_SENSOR
    frames: NDArray[np.float32] | None = None
    for row, i in enumerate(keep):
        ev = read_nmnist_file(files[i])
        ch, n_channels = pixel_channels(
            ev["x"], ev["y"], ev["p"], width=width, height=height, downsample=downsample, source=str(files[i])
        )
        if frames is None:
            frames = np.zeros((len(keep), t, n_channels), dtype=np.float32)
        frames[row] = bin_events(ev["t"], ch, n_channels=n_channels, bins=t, dt=dt, source=str(files[i]))
    assert frames is not None
    return Dataset(
        frames,
        np.asarray([labels[i] for i in keep], dtype=np.int64),
        dt=dt,
        n_classes=10,
        name=f"nmnist-{split}",
        classes=tuple(str(d) for d in range(10)),
        indices=np.asarray(keep, dtype=np.int64),
    )
