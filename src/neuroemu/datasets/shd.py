"""Reader for the Spiking Heidelberg Digits (SHD, Cramer et al. 2020) HDF5 files.

An SHD file (``shd_train.h5``, ``shd_test.h5``; the Spiking Speech Commands files ``ssc_*.h5`` share
the layout) holds

- ``spikes/times``: one variable-length float array per sample, spike times in seconds;
- ``spikes/units``: one variable-length integer array per sample, the unit (channel, 0..699) of
  each spike;
- ``labels``: the class of each sample (SHD: 0..19, English then German digits);
- optionally ``extra/keys``: the class names, and ``extra/speaker`` etc.

Reading needs ``h5py`` (``pip install h5py``).
"""

from __future__ import annotations

import importlib
import os
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from .._validation import choice, positive_int
from ..errors import DatasetError, MissingDependencyError
from ._dataset import Dataset
from ._events import bin_events, first_per_class

__all__ = ["shd", "SHD_CHANNELS"]

#: Number of input units (cochlea channels) of SHD and SSC.
SHD_CHANNELS = 700


def _h5py() -> Any:
    try:
        return importlib.import_module("h5py")
    except ImportError as exc:
        raise MissingDependencyError("reading SHD .h5 files needs the h5py package: pip install h5py") from exc


def _resolve(path: Path, split: str) -> Path:
    if path.is_dir():
        for name in (f"shd_{split}.h5", f"ssc_{split}.h5"):
            if (path / name).is_file():
                return path / name
        raise DatasetError(f"SHD folder {path} holds no shd_{split}.h5")
    if not path.is_file():
        raise DatasetError(f"SHD file {path} does not exist")
    return path


def _dataset(file: Any, key: str, path: Path) -> Any:
    try:
        return file[key]
    except KeyError:
        raise DatasetError(f"SHD file {path} has no '{key}' dataset (is it an SHD/SSC file?)") from None


def shd(
    path: str | os.PathLike[str],
    *,
    split: str = "train",
    bins: int = 100,
    dt: float = 0.014,
    max_per_class: int | None = None,
) -> Dataset:
    """SHD (or SSC) samples binned into frames of spike counts over the 700 input units.

    Parameters
    ----------
    path : str or path-like
        An SHD/SSC ``.h5`` file, or a folder holding ``shd_<split>.h5`` (then ``split`` picks it).
    split : {"train", "test", "valid"}
        Which file to read when ``path`` is a folder.
    bins, dt : int, float
        Number of bins and bin width in seconds. Spike times are rounded to whole microseconds; bin
        ``b`` holds the spikes in ``[b * dt, (b + 1) * dt)`` from time 0 (edges rounded to whole
        microseconds); later spikes are dropped. The default 100 x 14 ms covers the 1.4 s that SHD
        samples last at most.
    max_per_class : int, optional
        Read only the first ``max_per_class`` samples of every class (in file order).

    Returns
    -------
    Dataset
        ``frames`` (N, bins, 700) float32, channel = unit; ``labels`` from ``labels``;
        ``classes`` from ``extra/keys`` where present.
    """
    split = choice(split, "split", ("train", "test", "valid"))
    t = positive_int(bins, "bins")
    assert t is not None
    file_path = _resolve(Path(path), split)
    h5py = _h5py()
    try:
        handle = h5py.File(file_path, "r")
    except OSError as exc:
        raise DatasetError(f"SHD file {file_path} is not a readable HDF5 file: {exc}") from exc
    with handle as f:
        try:
            labels = np.asarray(_dataset(f, "labels", file_path)[()])
            times_ds = _dataset(f, "spikes/times", file_path)
            units_ds = _dataset(f, "spikes/units", file_path)
            if labels.ndim != 1 or not np.issubdtype(labels.dtype, np.integer):
                raise DatasetError(f"SHD file {file_path}: 'labels' must be a 1-D integer array")
            if times_ds.shape != labels.shape or units_ds.shape != labels.shape:
                raise DatasetError(
                    f"SHD file {file_path}: {labels.shape[0]} labels but spikes/times has "
                    f"{times_ds.shape} and spikes/units {units_ds.shape} samples"
                )
            keys: tuple[str, ...] | None = None
            if "extra/keys" in f:
                raw = np.asarray(f["extra/keys"][()]).reshape(-1)
                keys = tuple(k.decode() if isinstance(k, bytes) else str(k) for k in raw)
            keep = first_per_class([int(v) for v in labels], max_per_class)
            times_all = times_ds[()]
            units_all = units_ds[()]
        except (OSError, RuntimeError) as exc:
            raise DatasetError(f"SHD file {file_path} cannot be read: {exc}") from exc
    frames = np.zeros((len(keep), t, SHD_CHANNELS), dtype=np.float32)
    for row, i in enumerate(keep):
        times = np.asarray(times_all[i], dtype=np.float64)
        units = np.asarray(units_all[i])
        source = f"SHD file {file_path} sample {i}"
        if times.shape != units.shape or times.ndim != 1:
            raise DatasetError(f"{source}: {times.shape} spike times but {units.shape} units")
        if units.size and not np.issubdtype(units.dtype, np.integer):
            raise DatasetError(f"{source}: spikes/units must be integers, got {units.dtype}")
        frames[row] = bin_events(
            _seconds_to_us(times, source), units, n_channels=SHD_CHANNELS, bins=t, dt=dt, source=source
        )
    y = labels[keep].astype(np.int64)
    if y.size and y.min() < 0:
        raise DatasetError(f"SHD file {file_path}: negative label {int(y.min())}")
    n_classes = int(labels.max()) + 1 if labels.size else 0
    if keys is not None and len(keys) >= n_classes:
        n_classes = len(keys)
    else:
        keys = None
    stem = file_path.name.removesuffix(".h5")
    return Dataset(
        frames, y, dt=dt, n_classes=n_classes, name=stem, classes=keys, indices=np.asarray(keep, dtype=np.int64)
    )


def _seconds_to_us(times: NDArray[np.float64], source: str) -> NDArray[np.int64]:
    if not np.all(np.isfinite(times)):
        raise DatasetError(f"{source}: spike times contain NaN or infinite values")
    return np.rint(times * 1e6).astype(np.int64)
