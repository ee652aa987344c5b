"""Datasets as frames of event counts: built-in digits tasks and readers for event-camera/audio sets.

Every loader returns a :class:`Dataset`: ``frames`` shaped ``(samples, bins, channels)`` (float32
event counts), ``labels`` (int64), the bin width ``dt`` in seconds, ``n_classes`` and ``name``;
``dataset[i]`` is ``(frames (bins, channels), label)``.

Built in and offline: :func:`digits` (spatial: rate or latency code of the 8x8 digits) and
:func:`digits_rows` (temporal: the digits scanned row by row). Readers for files users have:
:func:`nmnist` (``.bin``), :func:`shd` (``.h5``, needs h5py), :func:`dvs_gesture` (tonic's ``.npy``
or the original AEDAT 3.1), and :func:`from_tonic` for any tonic dataset. Nothing is downloaded.
"""

from __future__ import annotations

from ..errors import DatasetError, MissingDependencyError
from ._dataset import Dataset, stratified_split
from ._events import bin_events
from ._tonic import from_tonic
from .digits import DIGITS_DT, digits, digits_rows, load_digit_images
from .dvs_gesture import DVS_GESTURE_CLASSES, dvs_gesture, read_aedat31
from .encoding import delta_code, latency_code, rate_code, spread_counts
from .nmnist import nmnist, read_nmnist_file
from .shd import shd

__all__ = [
    "DIGITS_DT",
    "DVS_GESTURE_CLASSES",
    "Dataset",
    "DatasetError",
    "MissingDependencyError",
    "bin_events",
    "delta_code",
    "digits",
    "digits_rows",
    "dvs_gesture",
    "from_tonic",
    "latency_code",
    "load_digit_images",
    "nmnist",
    "rate_code",
    "read_aedat31",
    "read_nmnist_file",
    "shd",
    "spread_counts",
    "stratified_split",
]
