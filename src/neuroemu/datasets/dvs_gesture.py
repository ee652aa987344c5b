"""Reader for the IBM DVS Gesture dataset (Amir et al. 2017), in both forms users have on disk.

1. **tonic's preprocessed form** (what ``tonic.datasets.DVSGesture`` downloads and reads):
   ``ibmGestureTrain/`` and ``ibmGestureTest/``, each with one folder per recording
   (``user01_fluorescent/`` ...) holding one ``<class>.npy`` per gesture, ``class`` in 0..10. Each file
   is an array shaped ``(events, 4)`` with columns ``x, y, p, t``, ``t`` in milliseconds.
2. **the original release** (``DvsGesture/``): ``userNN_<lighting>.aedat`` recordings in AEDAT 3.1, each
   with ``userNN_<lighting>_labels.csv`` (header ``class,startTime_usec,endTime_usec``; classes 1..11),
   and the lists ``trials_to_train.txt`` / ``trials_to_test.txt``. A gesture is the events with
   ``startTime_usec <= t < endTime_usec``; its label is ``class - 1``.

AEDAT 3.1: ASCII header lines starting with ``#`` (the first ``#!AER-DAT3.1``, the last
``#!END-HEADER``), then packets. A packet is a 28-byte little-endian header (``int16 eventType, int16
eventSource, int32 eventSize, eventTSOffset, eventTSOverflow, eventCapacity, eventNumber,
eventValid``) and ``eventCapacity * eventSize`` bytes of events. Polarity events (type 1) are 8 bytes:
``uint32 data`` (bit 0 valid, bit 1 polarity, bits 2..16 y, bits 17..31 x) and ``int32 timestamp``
(microseconds; the full time is ``eventTSOverflow << 31 | timestamp``). The first ``eventNumber``
events of a packet are read and invalid ones skipped; other packet types are skipped.
"""

from __future__ import annotations

import os
import struct
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from .._validation import choice, positive_int
from ..errors import DatasetError
from ._dataset import Dataset
from ._events import bin_events, first_per_class, pixel_channels
from .nmnist import EVENT_FIELDS

__all__ = ["dvs_gesture", "read_aedat31", "DVS_GESTURE_SENSOR", "DVS_GESTURE_CLASSES"]

#: Sensor width and height of the DVS128, in pixels.
DVS_GESTURE_SENSOR = (128, 128)
#: Class names, index = label (the original files number them 1..11).
DVS_GESTURE_CLASSES = (
    "hand clapping",
    "right hand wave",
    "left hand wave",
    "right arm clockwise",
    "right arm counter-clockwise",
    "left arm clockwise",
    "left arm counter-clockwise",
    "arm roll",
    "air drums",
    "air guitar",
    "other gestures",
)
_PACKET_HEADER = struct.Struct("<HHIIIIII")
_POLARITY_EVENT = 1


def read_aedat31(path: str | os.PathLike[str]) -> NDArray[np.void]:
    """Decode the polarity events of an AEDAT 3.1 file (the DVS Gesture recordings).

    Returns
    -------
    ndarray, structured with fields ``x``, ``y``, ``p`` (0/1) and ``t`` (microseconds)
        Valid polarity events in file order.
    """
    file = Path(path)
    if not file.is_file():
        raise DatasetError(f"AEDAT file {file} does not exist")
    data = file.read_bytes()
    if not data.startswith(b"#!AER-DAT3"):
        raise DatasetError(f"AEDAT file {file} does not start with '#!AER-DAT3' (only AEDAT 3.x is read)")
    pos = 0
    while pos < len(data) and data[pos : pos + 1] == b"#":
        line_end = data.find(b"\n", pos)
        if line_end < 0:
            raise DatasetError(f"AEDAT file {file} is truncated inside its header")
        line = data[pos:line_end]
        pos = line_end + 1
        if line.startswith(b"#!END-HEADER"):
            break
    parts: list[NDArray[np.void]] = []
    while pos < len(data):
        if len(data) - pos < _PACKET_HEADER.size:
            raise DatasetError(f"AEDAT file {file} is truncated: {len(data) - pos} bytes after the last packet")
        e_type, _source, e_size, ts_offset, ts_overflow, capacity, number, _valid = _PACKET_HEADER.unpack_from(
            data, pos
        )
        pos += _PACKET_HEADER.size
        length = e_size * capacity
        if number > capacity or pos + length > len(data):
            raise DatasetError(
                f"AEDAT file {file} is truncated or corrupt: a packet at byte {pos - _PACKET_HEADER.size} "
                f"announces {capacity} events of {e_size} bytes, {len(data) - pos} bytes are left"
            )
        if e_type == _POLARITY_EVENT:
            if e_size != 8 or ts_offset != 4:
                raise DatasetError(
                    f"AEDAT file {file}: polarity packet with {e_size}-byte events and timestamp offset "
                    f"{ts_offset} (expected 8 and 4)"
                )
            words = np.frombuffer(data, dtype="<u4", count=2 * number, offset=pos).reshape(-1, 2)
            word = words[:, 0].astype(np.int64)
            valid = (word & 1) == 1
            word = word[valid]
            ev = np.empty(word.size, dtype=EVENT_FIELDS)
            ev["x"] = (word >> 17) & 0x7FFF
            ev["y"] = (word >> 2) & 0x7FFF
            ev["p"] = (word >> 1) & 1
            ev["t"] = (words[valid, 1].astype(np.int64) & 0x7FFFFFFF) | (int(ts_overflow) << 31)
            parts.append(ev)
        pos += length
    return np.concatenate(parts) if parts else np.empty(0, dtype=EVENT_FIELDS)


def _read_labels_csv(path: Path) -> list[tuple[int, int, int]]:
    if not path.is_file():
        raise DatasetError(f"DVS Gesture labels file {path} does not exist")
    rows = []
    lines = path.read_text().splitlines()
    for n, line in enumerate(lines[1:], start=2):
        if not line.strip():
            continue
        try:
            cls, start, end = (int(v) for v in line.split(","))
        except ValueError:
            raise DatasetError(
                f"DVS Gesture labels file {path} line {n}: expected 'class,startTime_usec,endTime_usec', got {line!r}"
            ) from None
        if not 1 <= cls <= len(DVS_GESTURE_CLASSES):
            raise DatasetError(f"DVS Gesture labels file {path} line {n}: class {cls} is not in 1..11")
        rows.append((cls - 1, start, end))
    return rows


def _find(root: Path, split: str) -> tuple[str, Path]:
    if not root.exists():
        raise DatasetError(f"DVS Gesture path {root} does not exist")
    if not root.is_dir():
        raise DatasetError(f"DVS Gesture path {root} is not a folder")
    folder = f"ibmGesture{split.capitalize()}"
    for candidate in (root / folder, root / "DVSGesture" / folder):
        if candidate.is_dir():
            return "npy", candidate
    for candidate in (root, root / "DvsGesture"):
        if (candidate / f"trials_to_{split}.txt").is_file():
            return "aedat", candidate
    if any(p.is_dir() and any(p.glob("*.npy")) for p in root.iterdir()):
        return "npy", root  # the split folder itself
    raise DatasetError(
        f"DVS Gesture path {root} holds neither tonic's {folder}/ folder nor the original "
        f"trials_to_{split}.txt with .aedat recordings"
    )


def _npy_samples(folder: Path) -> list[tuple[Path, int]]:
    samples = []
    for recording in sorted(p for p in folder.iterdir() if p.is_dir()):
        files = []
        for f in recording.glob("*.npy"):
            if f.name.startswith("."):
                continue  # hidden files, e.g. macOS resource forks
            try:
                files.append((int(f.stem), f))
            except ValueError:
                raise DatasetError(f"DVS Gesture file {f}: the name must be the class number, like 3.npy") from None
        for label, f in sorted(files):
            if not 0 <= label < len(DVS_GESTURE_CLASSES):
                raise DatasetError(f"DVS Gesture file {f}: class {label} is not in 0..10")
            samples.append((f, label))
    if not samples:
        raise DatasetError(f"DVS Gesture folder {folder} holds no <recording>/<class>.npy files")
    return samples


def _load_npy(path: Path) -> tuple[NDArray[np.int64], ...]:
    """``x, y, p, t`` (t in microseconds) of one of tonic's DVS Gesture ``.npy`` files."""
    try:
        raw = np.load(path, allow_pickle=False)
    except (OSError, ValueError, EOFError) as exc:
        raise DatasetError(f"DVS Gesture file {path} cannot be read as .npy: {exc}") from exc
    if raw.ndim != 2 or raw.shape[1] != 4 or not np.issubdtype(raw.dtype, np.number):
        raise DatasetError(
            f"DVS Gesture file {path} must hold a numeric (events, 4) array of x, y, p, t, got {raw.shape}"
        )
    columns = raw.astype(np.float64)
    if not np.all(np.isfinite(columns)):
        raise DatasetError(f"DVS Gesture file {path} contains NaN or infinite values")
    if np.any(columns[:, :3] != np.floor(columns[:, :3])):
        raise DatasetError(f"DVS Gesture file {path}: x, y and p must be whole numbers")
    x, y, p = (columns[:, k].astype(np.int64) for k in range(3))
    return x, y, p, np.rint(columns[:, 3] * 1000.0).astype(np.int64)


def dvs_gesture(
    path: str | os.PathLike[str],
    *,
    split: str = "train",
    bins: int = 30,
    dt: float = 0.2,
    downsample: int = 4,
    max_per_class: int | None = None,
) -> Dataset:
    """DVS Gesture samples binned into frames of event counts.

    Parameters
    ----------
    path : str or path-like
        A folder holding tonic's ``ibmGestureTrain/`` / ``ibmGestureTest/`` (or ``DVSGesture/`` with
        them, as tonic saves it), or the original ``DvsGesture/`` release (or its parent).
    split : {"train", "test"}
        Which part to read.
    bins, dt : int, float
        Number of bins and bin width in seconds. Bin 0 starts at the gesture's start: the
        ``startTime_usec`` of its labels row (original files) or its first event (tonic's ``.npy``,
        which carry no window); bin ``b`` holds the events in ``[b * dt, (b + 1) * dt)`` after it
        (edges rounded to whole microseconds); later events are dropped. The default 30 x 200 ms
        covers 6 s.
    downsample : int
        Pool ``downsample x downsample`` pixel blocks into one channel: 128 -> ``ceil(128 / downsample)``.
        The default 4 gives 2 x 32 x 32 = 2048 channels (without it, 32,768).
    max_per_class : int, optional
        Keep only the first ``max_per_class`` gestures of every class (in reading order).

    Returns
    -------
    Dataset
        ``frames`` (N, bins, 2 * H * W) float32, channel ``p * H * W + (y // downsample) * W +
        x // downsample``; labels 0..10 (:data:`DVS_GESTURE_CLASSES`).
    """
    split = choice(split, "split", ("train", "test"))
    t = positive_int(bins, "bins")
    assert t is not None
    kind, folder = _find(Path(path), split)
    width, height = DVS_GESTURE_SENSOR
    n_channels = pixel_channels([], [], [], width=width, height=height, downsample=downsample)[1]

    def binned(
        x: NDArray[np.int64], y: NDArray[np.int64], p: NDArray[np.int64], ts: NDArray[np.int64], start: int, source: str
    ) -> NDArray[np.float32]:
        ch, _ = pixel_channels(x, y, p, width=width, height=height, downsample=downsample, source=source)
        return bin_events(ts, ch, n_channels=n_channels, bins=t, dt=dt, start_us=start, source=source)

    labels: list[int] = []
    if kind == "npy":
        listing = _npy_samples(folder)
        keep = first_per_class([label for _, label in listing], max_per_class)
        frames = np.zeros((len(keep), t, n_channels), dtype=np.float32)
        for row, i in enumerate(keep):
            f, label = listing[i]
            x, y, p, ts = _load_npy(f)
            frames[row] = binned(x, y, p, ts, int(ts.min()) if ts.size else 0, str(f))
            labels.append(label)
    else:
        trials = [line.strip() for line in (folder / f"trials_to_{split}.txt").read_text().splitlines() if line.strip()]
        limit = None if max_per_class is None else positive_int(max_per_class, "max_per_class")
        counts: dict[int, int] = {}
        plan: list[tuple[Path, list[tuple[int, int, int]]]] = []
        for trial in trials:
            aedat = folder / trial
            wanted = []
            for gesture in _read_labels_csv(folder / f"{aedat.stem}_labels.csv"):
                if limit is None or counts.get(gesture[0], 0) < limit:
                    counts[gesture[0]] = counts.get(gesture[0], 0) + 1
                    wanted.append(gesture)
            if wanted:
                plan.append((aedat, wanted))
        total = sum(len(rows) for _, rows in plan)
        if not total:
            raise DatasetError(f"DVS Gesture folder {folder}: trials_to_{split}.txt lists no gestures")
        frames = np.zeros((total, t, n_channels), dtype=np.float32)
        for aedat, rows in plan:
            ev = read_aedat31(aedat)
            x, y, p, ts = (ev[k].astype(np.int64) for k in ("x", "y", "p", "t"))
            for label, start, end in rows:
                w = (ts >= start) & (ts < end)
                source = f"{aedat} (gesture class {label + 1} at {start} us)"
                frames[len(labels)] = binned(x[w], y[w], p[w], ts[w], start, source)
                labels.append(label)
    return Dataset(
        frames,
        np.asarray(labels, dtype=np.int64),
        dt=dt,
        n_classes=len(DVS_GESTURE_CLASSES),
        name=f"dvs-gesture-{split}",
        classes=DVS_GESTURE_CLASSES,
        indices=np.arange(len(labels), dtype=np.int64),
    )
