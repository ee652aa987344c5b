"""Built-in, offline datasets from the UCI optdigits images (scikit-learn's ``load_digits``).

The 1797 8x8 images (integer pixels 0..16) and their labels ship with neuroemu as
``neuroemu/data/digits.npz``; scikit-learn is not needed at run time.
"""

from __future__ import annotations

from functools import lru_cache
from importlib import resources

import numpy as np
from numpy.typing import NDArray

from .._validation import choice, positive_int
from ..errors import ConfigError, DatasetError
from ._dataset import Dataset, stratified_split
from .encoding import SeedLike, _rng, delta_code, latency_code, rate_code, spread_counts

__all__ = ["digits", "digits_rows", "load_digit_images", "DIGITS_DT", "SPLIT_SEED", "SPLITS"]

#: Nominal width of one time bin of the built-in digits datasets, in seconds (1 ms).
DIGITS_DT = 1e-3
#: Seed of the fixed stratified 80/20 train/test split (independent of the encoding seed).
SPLIT_SEED = 0
SPLITS = ("train", "test", "all")
_CLASSES = tuple(str(d) for d in range(10))


@lru_cache(maxsize=1)
def _load() -> tuple[NDArray[np.uint8], NDArray[np.int64]]:
    source = resources.files("neuroemu").joinpath("data", "digits.npz")
    try:
        with resources.as_file(source) as path, np.load(path) as data:
            images = np.asarray(data["images"], dtype=np.uint8)
            labels = np.asarray(data["labels"], dtype=np.int64)
    except (OSError, KeyError, ValueError) as exc:
        raise DatasetError(f"the packaged digits data neuroemu/data/digits.npz cannot be read: {exc}") from exc
    if images.shape != (1797, 64) or labels.shape != (1797,) or images.max() > 16:
        raise DatasetError("the packaged digits data neuroemu/data/digits.npz is corrupt")
    images.setflags(write=False)
    labels.setflags(write=False)
    return images, labels


def load_digit_images() -> tuple[NDArray[np.uint8], NDArray[np.int64]]:
    """The raw digits: ``images`` (1797, 64) uint8 in 0..16 (row-major 8x8) and ``labels`` (1797,).

    The arrays are read-only and equal to ``sklearn.datasets.load_digits()``'s ``data`` and ``target``.
    """
    return _load()


def _split_indices(split: str, labels: NDArray[np.int64]) -> NDArray[np.int64]:
    split = choice(split, "split", SPLITS)
    if split == "all":
        return np.arange(labels.shape[0], dtype=np.int64)
    train, test = stratified_split(labels, 0.2, seed=SPLIT_SEED)
    return train if split == "train" else test


def _dt(dt: float) -> float:
    value = float(dt)
    if not (np.isfinite(value) and value > 0):
        raise ConfigError(f"dt must be a positive number of seconds, got {dt}")
    return value


def digits(
    encoding: str = "rate",
    bins: int = 10,
    seed: SeedLike = 0,
    split: str = "train",
    *,
    dt: float = DIGITS_DT,
) -> Dataset:
    """The 8x8 digits as a spatial event task: 64 channels (one per pixel), 10 classes.

    Parameters
    ----------
    encoding : {"rate", "latency"}
        ``"rate"``: in every bin each pixel has one event with probability ``value / 16``
        (:func:`~neuroemu.datasets.encoding.rate_code`, SPEC section 7). ``"latency"``: each non-zero
        pixel has exactly one event, in bin ``round((1 - value / 16) * (bins - 1))`` (bright pixels
        first; :func:`~neuroemu.datasets.encoding.latency_code`).
    bins : int
        Number of time bins ``T``.
    seed : int or numpy.random.Generator
        Seed of the rate code. All 1797 images are encoded with one stream (shape
        ``(1797, bins, 64)``), then the split is taken, so a sample's events do not depend on ``split``.
        Unused by the latency code.
    split : {"train", "test", "all"}
        The fixed stratified 80/20 split (seed :data:`SPLIT_SEED`): 1437 train and 360 test samples.
    dt : float
        Bin width in seconds attached to the dataset (nominal: the images have no time; default 1 ms).

    Returns
    -------
    Dataset
        ``frames`` (N, bins, 64) float32, ``labels`` (N,) int64, ``indices`` the image rows used.
    """
    encoding = choice(encoding, "encoding", ("rate", "latency"))
    t = positive_int(bins, "bins")
    assert t is not None
    images, labels = _load()
    sel = _split_indices(split, labels)
    intensity = images.astype(np.float64) / 16.0
    if encoding == "rate":
        frames = rate_code(intensity, t, seed=seed)[sel]
    else:
        frames = latency_code(intensity[sel], t)
    return Dataset(
        frames,
        labels[sel],
        dt=_dt(dt),
        n_classes=10,
        name=f"digits-{encoding}-{split}",
        classes=_CLASSES,
        indices=sel,
    )


def digits_rows(
    encoding: str = "delta",
    bins_per_row: int = 2,
    seed: SeedLike = 0,
    split: str = "train",
    *,
    threshold: float = 2.0,
    dt: float = DIGITS_DT,
) -> Dataset:
    """The digits read row by row over time: a temporal task where the order of rows matters.

    Row ``r = 0 .. 7`` (top to bottom) of each 8x8 image is presented during bins
    ``r * bins_per_row .. (r + 1) * bins_per_row - 1``, so ``T = 8 * bins_per_row``. Column ``c`` of
    the image drives the channels of column ``c``. Summed over time the input no longer tells which
    row an event came from, so a network must use timing to tell e.g. 6 from 9.

    Parameters
    ----------
    encoding : {"delta", "rate"}
        ``"delta"`` (16 channels, deterministic): a DVS-like scan. Each column ``c`` keeps a reference
        level starting at 0; on reaching row ``r`` with value ``x`` it emits one ON event (channel
        ``c``) per ``threshold`` step that ``x`` rose above the reference and one OFF event (channel
        ``8 + c``) per step it fell below, moving the reference by the steps emitted
        (:func:`~neuroemu.datasets.encoding.delta_code`). A row's events are spread as evenly as
        possible over its ``bins_per_row`` bins, the remainder in the earliest
        (:func:`~neuroemu.datasets.encoding.spread_counts`). With the default ``threshold=2`` a pixel
        change of 0 -> 16 gives 8 ON events.
        ``"rate"`` (8 channels): in every bin of row ``r``, channel ``c`` has one event with
        probability ``x[r, c] / 16``; the events are ``rng.random((1797, 8 * bins_per_row, 8)) <
        p`` with ``p`` each row's probabilities repeated ``bins_per_row`` times along time and
        ``rng = numpy.random.default_rng(seed)``, drawn for all images before the split is taken.
    bins_per_row : int
        Time bins per image row.
    seed : int or numpy.random.Generator
        Seed of the rate code (unused by the delta code).
    split : {"train", "test", "all"}
        The same fixed stratified 80/20 split as :func:`digits`.
    threshold : float
        Level step of the delta code, in pixel units (0..16).
    dt : float
        Bin width in seconds attached to the dataset (default 1 ms).

    Returns
    -------
    Dataset
        ``frames`` (N, 8 * bins_per_row, 16 or 8) float32.
    """
    encoding = choice(encoding, "encoding", ("delta", "rate"))
    k = positive_int(bins_per_row, "bins_per_row")
    assert k is not None
    images, labels = _load()
    sel = _split_indices(split, labels)
    rows = images.reshape(-1, 8, 8).astype(np.float64)  # (samples, row = time, column = channel)
    if encoding == "delta":
        frames = spread_counts(delta_code(rows[sel], threshold), k)
    else:
        p = np.repeat(rows / 16.0, k, axis=1)  # (samples, 8 * k, 8)
        frames = (_rng(seed).random(p.shape) < p).astype(np.float32)[sel]
    return Dataset(
        frames,
        labels[sel],
        dt=_dt(dt),
        n_classes=10,
        name=f"digits-rows-{encoding}-{split}",
        classes=_CLASSES,
        indices=sel,
    )
