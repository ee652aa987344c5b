"""The :class:`Dataset` container every loader returns, and a seeded stratified split."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray

from .._validation import non_negative_int, positive_int
from ..errors import ConfigError, DatasetError, NeuroemuTypeError

__all__ = ["Dataset", "stratified_split"]


class Dataset:
    """Samples of event frames with integer labels, ready for :meth:`neuroemu.Emulator.run_batch`.

    Parameters
    ----------
    frames : array_like, shape (samples, bins, channels)
        Event counts per time bin and input channel (stored as ``float32``; counts >= 0).
    labels : array_like of int, shape (samples,)
        Class of each sample, ``0 <= label < n_classes`` (stored as ``int64``).
    dt : float
        Width of one time bin in seconds.
    n_classes : int, optional
        Number of classes; default ``labels.max() + 1``.
    name : str
        A short name (shown by ``repr``).
    classes : sequence of str, optional
        A name per class.
    indices : array_like of int, shape (samples,), optional
        Where each sample comes from in its source collection (for the built-in digits: the row of
        the 1797-image array); default ``0 .. samples-1``.

    Notes
    -----
    ``dataset[i]`` is ``(frames[i], label)`` with ``frames[i]`` shaped ``(bins, channels)`` and ``label``
    a Python ``int``; iterating yields these pairs. ``dataset.frames`` and ``dataset.labels`` are the
    whole arrays, shaped ``(samples, bins, channels)`` and ``(samples,)``.
    """

    def __init__(
        self,
        frames: Any,
        labels: Any,
        *,
        dt: float,
        n_classes: int | None = None,
        name: str = "dataset",
        classes: Sequence[str] | None = None,
        indices: Any = None,
    ) -> None:
        try:
            frame_array = np.asarray(frames, dtype=np.float32)
            label_array = np.asarray(labels)
        except (TypeError, ValueError) as exc:
            raise NeuroemuTypeError(f"frames and labels must be numeric arrays: {exc}") from exc
        if frame_array.ndim != 3:
            raise DatasetError(f"frames must be shaped (samples, bins, channels), got shape {frame_array.shape}")
        if label_array.ndim != 1 or label_array.shape[0] != frame_array.shape[0]:
            raise DatasetError(
                f"labels must be shaped ({frame_array.shape[0]},) to match frames, got {label_array.shape}"
            )
        if label_array.size and not np.issubdtype(label_array.dtype, np.integer):
            raise NeuroemuTypeError(f"labels must be integers, got dtype {label_array.dtype}")
        if not np.all(np.isfinite(frame_array)) or np.any(frame_array < 0):
            raise DatasetError("frames must hold finite event counts >= 0")
        label_array = label_array.astype(np.int64)
        if label_array.size and label_array.min() < 0:
            raise DatasetError(f"labels must be >= 0, got {label_array.min()}")
        top = int(label_array.max()) + 1 if label_array.size else 0
        if n_classes is None:
            n_classes = top
        n_classes = non_negative_int(n_classes, "n_classes")
        if top > n_classes:
            raise DatasetError(f"label {top - 1} is out of range for n_classes={n_classes}")
        dt = float(dt)
        if not (np.isfinite(dt) and dt > 0):
            raise ConfigError(f"dt must be a positive number of seconds, got {dt}")
        if indices is None:
            index_array = np.arange(frame_array.shape[0], dtype=np.int64)
        else:
            index_array = np.asarray(indices, dtype=np.int64)
            if index_array.shape != label_array.shape:
                raise DatasetError(f"indices must be shaped {label_array.shape}, got {index_array.shape}")
        if classes is not None:
            classes = tuple(str(c) for c in classes)
            if len(classes) != n_classes:
                raise DatasetError(f"classes names {len(classes)} classes, n_classes is {n_classes}")

        self.frames: NDArray[np.float32] = np.ascontiguousarray(frame_array)
        self.labels: NDArray[np.int64] = label_array
        self.dt = dt
        self.n_classes = n_classes
        self.name = str(name)
        self.classes: tuple[str, ...] | None = classes
        self.indices: NDArray[np.int64] = index_array

    # ------------------------------------------------------------------ shape
    @property
    def n_bins(self) -> int:
        """Number of time bins ``T`` per sample."""
        return int(self.frames.shape[1])

    @property
    def n_channels(self) -> int:
        """Number of input channels ``C`` (the network's input size)."""
        return int(self.frames.shape[2])

    @property
    def duration(self) -> float:
        """Length of one sample in seconds, ``n_bins * dt``."""
        return self.n_bins * self.dt

    def __len__(self) -> int:
        return int(self.frames.shape[0])

    def __getitem__(self, index: int) -> tuple[NDArray[np.float32], int]:
        if isinstance(index, bool) or not isinstance(index, (int, np.integer)):
            raise NeuroemuTypeError(
                f"a Dataset is indexed by an integer, got {type(index).__name__}; use .subset() for several"
            )
        n = len(self)
        if not -n <= index < n:
            raise IndexError(f"sample index {index} is out of range for {n} samples")
        return self.frames[index], int(self.labels[index])

    def __iter__(self) -> Iterator[tuple[NDArray[np.float32], int]]:
        for i in range(len(self)):
            yield self.frames[i], int(self.labels[i])

    def __repr__(self) -> str:
        return (
            f"Dataset({self.name!r}, samples={len(self)}, bins={self.n_bins}, channels={self.n_channels}, "
            f"classes={self.n_classes}, dt={self.dt:g})"
        )

    # ------------------------------------------------------------ selections
    def subset(self, indices: Any, *, name: str | None = None) -> Dataset:
        """A new dataset holding the samples at ``indices`` (integer positions or a boolean mask)."""
        sel = np.asarray(indices)
        if sel.dtype == np.bool_:
            if sel.shape != (len(self),):
                raise DatasetError(f"a boolean mask must be shaped ({len(self)},), got {sel.shape}")
            sel = np.flatnonzero(sel)
        elif sel.size == 0:
            sel = sel.astype(np.int64)
        elif not np.issubdtype(sel.dtype, np.integer):
            raise NeuroemuTypeError(f"indices must be integers or a boolean mask, got dtype {sel.dtype}")
        sel = sel.reshape(-1)
        if sel.size and (sel.min() < -len(self) or sel.max() >= len(self)):
            raise IndexError(f"indices out of range for {len(self)} samples")
        return Dataset(
            self.frames[sel],
            self.labels[sel],
            dt=self.dt,
            n_classes=self.n_classes,
            name=self.name if name is None else name,
            classes=self.classes,
            indices=self.indices[sel],
        )

    def split(self, test_fraction: float = 0.2, *, seed: int = 0) -> tuple[Dataset, Dataset]:
        """A stratified ``(train, test)`` split; see :func:`stratified_split`."""
        train, test = stratified_split(self.labels, test_fraction, seed=seed)
        return self.subset(train, name=f"{self.name}-train"), self.subset(test, name=f"{self.name}-test")

    def batches(
        self, batch_size: int, shuffle: bool = False, seed: int = 0, *, drop_last: bool = False
    ) -> Iterator[tuple[NDArray[np.float32], NDArray[np.int64]]]:
        """Yield ``(frames, labels)`` batches shaped ``(B, bins, channels)`` and ``(B,)``.

        Parameters
        ----------
        batch_size : int
            Samples per batch; the last batch may be smaller unless ``drop_last``.
        shuffle : bool
            Visit the samples in a random order drawn from ``numpy.random.default_rng(seed)``
            (the same seed gives the same order); otherwise in dataset order.
        seed : int
            Seed of the shuffle.
        drop_last : bool
            Skip a last batch smaller than ``batch_size``.
        """
        size = positive_int(batch_size, "batch_size")
        assert size is not None
        order = np.random.default_rng(seed).permutation(len(self)) if shuffle else np.arange(len(self))
        stop = len(self) - len(self) % size if drop_last else len(self)
        for start in range(0, stop, size):
            sel = order[start : start + size]
            yield self.frames[sel], self.labels[sel]


def stratified_split(
    labels: Any, test_fraction: float = 0.2, *, seed: int = 0
) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """Split sample indices into train and test sets with the same class proportions.

    The test set has ``ceil(test_fraction * samples)`` samples (as in scikit-learn). Class ``c`` with
    ``n_c`` samples gets ``floor(test_fraction * n_c)`` of them, and the classes with the largest
    remainders ``test_fraction * n_c - floor(...)`` one more each (ties: the smaller label first)
    until the total is reached. Within a class, the test samples are the first ones in the order of
    ``numpy.random.default_rng(seed).permutation(samples)``. Both index arrays are sorted ascending.

    Parameters
    ----------
    labels : array_like of int, shape (samples,)
        Class of each sample.
    test_fraction : float
        Share of every class that goes to the test set, ``0 <= test_fraction <= 1``.
    seed : int
        Seed of the permutation.

    Returns
    -------
    train, test : ndarray of int64
        Disjoint sorted index arrays whose union is ``0 .. samples-1``.
    """
    y = np.asarray(labels)
    if y.ndim != 1:
        raise DatasetError(f"labels must be 1-D, got shape {y.shape}")
    fraction = float(test_fraction)
    if not 0.0 <= fraction <= 1.0:
        raise ConfigError(f"test_fraction must be in [0, 1], got {test_fraction}")
    classes, sizes = np.unique(y, return_counts=True)
    share = fraction * sizes
    n_test = np.floor(share).astype(np.int64)
    # Largest remainders get the rest, so that the test set has ceil(test_fraction * samples) samples.
    rest = int(np.ceil(fraction * y.shape[0] - 1e-9)) - int(n_test.sum())
    n_test[np.argsort(-(share - n_test), kind="stable")[:rest]] += 1
    order = np.random.default_rng(seed).permutation(y.shape[0])
    is_test = np.zeros(y.shape[0], dtype=bool)
    for c, k in zip(classes, n_test):
        is_test[order[y[order] == c][:k]] = True
    return np.flatnonzero(~is_test).astype(np.int64), np.flatnonzero(is_test).astype(np.int64)
