"""neuroemu.datasets: built-in digits tasks, encoders, and the readers of the real file formats.

The readers are tested on small files this module writes byte by byte from the published format
descriptions; the expected frames are counted here event by event, independently of the library.
"""

from __future__ import annotations

import hashlib
import math
import struct
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import neuroemu
from neuroemu import datasets as D
from neuroemu.errors import DatasetError, MissingDependencyError, NeuroemuError

# ----------------------------------------------------------------------------- helpers


def count_frames(events, bins: int, dt_us: int, n_channels: int, start_us: int = 0) -> np.ndarray:
    """Reference binning: a plain loop over (t_us, channel) pairs with integer arithmetic."""
    frames = np.zeros((bins, n_channels), dtype=np.float32)
    for t, ch in events:
        b = (t - start_us) // dt_us
        if t >= start_us and b < bins:
            frames[b, ch] += 1
    return frames


def random_camera_events(rng: np.random.Generator, n: int, width: int, height: int, t_max: int):
    x = rng.integers(0, width, n)
    y = rng.integers(0, height, n)
    p = rng.integers(0, 2, n)
    t = np.sort(rng.integers(0, t_max, n))
    return x, y, p, t


def camera_channel(x: int, y: int, p: int, width: int, height: int, f: int = 1) -> int:
    w, h = math.ceil(width / f), math.ceil(height / f)
    return p * h * w + (y // f) * w + x // f


def write_nmnist(path: Path, x, y, p, t, overflow_before: int | None = None) -> None:
    """N-MNIST .bin: 5 bytes per event, x | y | p<<7 | t[22:16] | t[15:8] | t[7:0]."""
    out = bytearray()
    for i, (xi, yi, pi, ti) in enumerate(zip(x, y, p, t)):
        if overflow_before is not None and i == overflow_before:
            out += bytes([0, 240, 0, 0, 0])  # timestamp overflow marker: +2**13 for what follows
            ti_raw = ti - 2**13
        elif overflow_before is not None and i > overflow_before:
            ti_raw = ti - 2**13
        else:
            ti_raw = ti
        assert 0 <= ti_raw < 2**23
        out += bytes(
            [int(xi), int(yi), (int(pi) << 7) | (int(ti_raw) >> 16), (int(ti_raw) >> 8) & 0xFF, int(ti_raw) & 0xFF]
        )
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(bytes(out))


def aedat_packet(event_type: int, events: list[tuple[int, int]], ts_overflow: int = 0) -> bytes:
    """One AEDAT 3.1 packet: 28-byte header, then (uint32 data, int32 timestamp) per event."""
    n = len(events)
    header = struct.pack("<HHIIIIII", event_type, 1, 8, 4, ts_overflow, n, n, n)
    return header + b"".join(struct.pack("<Ii", d, ts) for d, ts in events)


def polarity_word(x: int, y: int, p: int, valid: bool = True) -> int:
    return (x << 17) | (y << 2) | (p << 1) | int(valid)


def write_aedat(path: Path, packets: list[bytes]) -> None:
    header = b"#!AER-DAT3.1\r\n#Format: RAW\r\n#Source 1: DVS128\r\n#!END-HEADER\r\n"
    path.write_bytes(header + b"".join(packets))


# ----------------------------------------------------------------------------- Dataset


def test_dataset_container_protocol() -> None:
    rng = np.random.default_rng(0)
    frames = rng.integers(0, 3, (7, 4, 5))
    labels = np.array([0, 1, 2, 0, 1, 2, 0])
    ds = D.Dataset(frames, labels, dt=2e-3, name="toy")
    assert ds.frames.dtype == np.float32 and ds.frames.shape == (7, 4, 5)
    assert ds.labels.dtype == np.int64 and ds.n_classes == 3
    assert (len(ds), ds.n_bins, ds.n_channels, ds.dt, ds.duration) == (7, 4, 5, 2e-3, 8e-3)
    f, y = ds[3]
    np.testing.assert_array_equal(f, frames[3])
    assert y == 0 and isinstance(y, int)
    np.testing.assert_array_equal(ds[-1][0], frames[6])
    items = list(ds)
    assert len(items) == 7 and all(np.array_equal(a, frames[i]) and b == labels[i] for i, (a, b) in enumerate(items))
    with pytest.raises(IndexError):
        ds[7]
    with pytest.raises(TypeError):
        ds[1:3]  # type: ignore[index]
    sub = ds.subset([6, 0])
    np.testing.assert_array_equal(sub.frames, frames[[6, 0]])
    np.testing.assert_array_equal(sub.indices, [6, 0])
    assert "toy" in repr(ds)


@pytest.mark.parametrize(
    ("frames", "labels", "message"),
    [
        (np.zeros((3, 4)), [0, 1, 2], "shaped"),
        (np.zeros((3, 2, 2)), [0, 1], "labels must be shaped"),
        (-np.ones((2, 2, 2)), [0, 1], ">= 0"),
        (np.full((2, 2, 2), np.nan), [0, 1], "finite"),
        (np.zeros((2, 2, 2)), [0, -1], ">= 0"),
    ],
)
def test_dataset_refuses_bad_arrays(frames, labels, message: str) -> None:
    with pytest.raises(DatasetError, match=message):
        D.Dataset(frames, labels, dt=1e-3)


def test_dataset_refuses_labels_beyond_n_classes_and_bad_dt() -> None:
    with pytest.raises(DatasetError, match="n_classes=2"):
        D.Dataset(np.zeros((2, 1, 1)), [0, 2], dt=1e-3, n_classes=2)
    with pytest.raises(ValueError, match="dt"):
        D.Dataset(np.zeros((2, 1, 1)), [0, 1], dt=0.0)
    with pytest.raises(TypeError):
        D.Dataset(np.zeros((2, 1, 1)), [0.5, 1.0], dt=1e-3)


@settings(max_examples=30, deadline=None)
@given(n=st.integers(1, 40), size=st.integers(1, 12), seed=st.integers(0, 2**32 - 1), drop=st.booleans())
def test_batches_cover_every_sample_once(n: int, size: int, seed: int, drop: bool) -> None:
    frames = np.arange(n, dtype=np.float32).reshape(n, 1, 1)
    ds = D.Dataset(frames, np.zeros(n, dtype=np.int64), dt=1e-3)
    seen = [f[:, 0, 0] for f, _ in ds.batches(size, shuffle=True, seed=seed, drop_last=drop)]
    assert all(len(s) == size for s in seen[:-1])
    got = np.concatenate(seen) if seen else np.zeros(0)
    expected = n - n % size if drop else n
    assert got.size == expected and np.unique(got).size == expected
    again = np.concatenate(
        [f[:, 0, 0] for f, _ in ds.batches(size, shuffle=True, seed=seed, drop_last=drop)] or [np.zeros(0)]
    )
    np.testing.assert_array_equal(got, again)
    ordered = np.concatenate([f[:, 0, 0] for f, _ in ds.batches(size)])
    np.testing.assert_array_equal(ordered, np.arange(n))


@settings(max_examples=50, deadline=None)
@given(
    labels=st.lists(st.integers(0, 5), min_size=1, max_size=200),
    fraction=st.sampled_from([0.0, 0.1, 0.2, 0.25, 0.5, 1.0]),
    seed=st.integers(0, 1000),
)
def test_stratified_split_partitions_with_class_proportions(labels: list[int], fraction: float, seed: int) -> None:
    y = np.array(labels)
    train, test = D.stratified_split(y, fraction, seed=seed)
    assert np.intersect1d(train, test).size == 0
    np.testing.assert_array_equal(np.sort(np.concatenate([train, test])), np.arange(y.size))
    assert test.size == math.ceil(fraction * y.size - 1e-9)
    for c in np.unique(y):
        k = int(np.sum(y[test] == c))
        share = fraction * np.sum(y == c)
        assert math.floor(share) <= k <= math.ceil(share)
    again = D.stratified_split(y, fraction, seed=seed)
    np.testing.assert_array_equal(again[1], test)


# ----------------------------------------------------------------------------- encoders


def test_rate_code_is_the_documented_bernoulli_stream() -> None:
    p = np.array([[0.0, 0.25, 0.5, 1.0], [0.1, 0.9, 0.0, 1.0]])
    got = D.rate_code(p, 7, seed=11)
    draws = np.random.default_rng(11).random((2, 7, 4))
    np.testing.assert_array_equal(got, (draws < p[:, None, :]).astype(np.float32))
    assert got.dtype == np.float32 and got.shape == (2, 7, 4)
    # p = 0 never fires, p = 1 fires in every bin.
    assert got[0, :, 0].sum() == 0 and got[0, :, 3].sum() == 7 and got[1, :, 3].sum() == 7


def test_rate_code_frequency_matches_probability() -> None:
    p = np.linspace(0, 1, 17)
    bins = 4000
    rate = D.rate_code(p, bins, seed=3).mean(axis=0)
    # 5 standard deviations of a binomial frequency.
    assert np.all(np.abs(rate - p) <= 5 * np.sqrt(p * (1 - p) / bins) + 1e-12)


@settings(max_examples=40, deadline=None)
@given(
    values=st.lists(st.integers(0, 16), min_size=1, max_size=20),
    bins=st.integers(1, 25),
)
def test_latency_code_matches_a_scalar_reference(values: list[int], bins: int) -> None:
    p = np.array(values) / 16.0
    got = D.latency_code(p, bins)
    expected = np.zeros((bins, len(values)), dtype=np.float32)
    for c, v in enumerate(values):
        if v > 0:
            expected[round((1 - v / 16) * (bins - 1)), c] = 1  # Python round: half to even
    np.testing.assert_array_equal(got, expected)


def delta_reference(signal: np.ndarray, threshold: float) -> np.ndarray:
    """Scalar level-crossing reference: one event per threshold step, the reference follows."""
    steps, channels = signal.shape
    out = np.zeros((steps, 2 * channels), dtype=np.float32)
    for c in range(channels):
        ref = 0.0
        for s in range(steps):
            while signal[s, c] - ref >= threshold:
                ref += threshold
                out[s, c] += 1
            while ref - signal[s, c] >= threshold:
                ref -= threshold
                out[s, channels + c] += 1
    return out


@settings(max_examples=60, deadline=None)
@given(
    signal=st.lists(st.lists(st.integers(-20, 20), min_size=3, max_size=3), min_size=1, max_size=12),
    threshold=st.sampled_from([1.0, 2.0, 3.0, 4.0, 5.0]),
)
def test_delta_code_matches_a_scalar_reference_and_tracks_the_signal(signal, threshold: float) -> None:
    x = np.array(signal, dtype=np.float64)
    got = D.delta_code(x, threshold)
    np.testing.assert_array_equal(got, delta_reference(x, threshold))
    level = np.cumsum(got[:, :3] - got[:, 3:], axis=0) * threshold
    assert np.all(np.abs(x - level) < threshold)


@settings(max_examples=60, deadline=None)
@given(
    counts=st.lists(st.lists(st.integers(0, 9), min_size=2, max_size=2), min_size=1, max_size=6),
    k=st.integers(1, 5),
)
def test_spread_counts_keeps_totals_and_is_even(counts, k: int) -> None:
    c = np.array(counts)
    got = D.spread_counts(c, k)
    assert got.shape == (c.shape[0] * k, 2)
    per_step = got.reshape(c.shape[0], k, 2)
    np.testing.assert_array_equal(per_step.sum(axis=1), c)
    assert np.all(per_step.max(axis=1) - per_step.min(axis=1) <= 1)
    assert np.all(np.diff(per_step, axis=1) <= 0)  # the remainder goes to the earliest sub-bins


def test_encoders_refuse_bad_arguments() -> None:
    with pytest.raises(ValueError, match="intensity"):
        D.rate_code([1.5], 3)
    with pytest.raises(ValueError, match="bins"):
        D.latency_code([0.5], 0)
    with pytest.raises(ValueError, match="threshold"):
        D.delta_code(np.zeros((2, 2)), 0.0)
    with pytest.raises(ValueError, match="counts"):
        D.spread_counts(np.array([[1.5]]), 2)


# ----------------------------------------------------------------------------- built-in digits


def test_packaged_digits_are_the_uci_optdigits_set() -> None:
    images, labels = D.load_digit_images()
    assert images.shape == (1797, 64) and images.dtype == np.uint8 and images.max() == 16
    np.testing.assert_array_equal(np.bincount(labels), [178, 182, 177, 183, 181, 182, 181, 179, 174, 180])
    # The shipped arrays, byte for byte (see src/neuroemu/data/README.md).
    assert hashlib.sha256(images.tobytes()).hexdigest() == (
        "8f26b2bd9d135c256808f68f14fdabddde6d9c7f869ae419704b051f0f14b3b3"
    )
    assert hashlib.sha256(labels.astype(np.int64).tobytes()).hexdigest() == (
        "a3c91c262eddcf7ba8f0e37507c30284493c9b20412ffe4af30d536401f7ba21"
    )
    sklearn_datasets = pytest.importorskip("sklearn.datasets")
    reference = sklearn_datasets.load_digits()
    np.testing.assert_array_equal(images, reference.data)
    np.testing.assert_array_equal(labels, reference.target)


def test_digits_split_is_stratified_fixed_and_consistent_with_all() -> None:
    train, test, every = (D.digits(split=s) for s in ("train", "test", "all"))
    assert (len(train), len(test), len(every)) == (1437, 360, 1797)
    assert np.intersect1d(train.indices, test.indices).size == 0
    _, labels = D.load_digit_images()
    counts = np.bincount(labels)
    test_counts = np.bincount(test.labels, minlength=10)
    assert np.all(np.abs(test_counts - 0.2 * counts) < 1)
    # A sample's events do not depend on which split it was loaded through.
    np.testing.assert_array_equal(every.frames[train.indices], train.frames)
    np.testing.assert_array_equal(every.frames[test.indices], test.frames)
    np.testing.assert_array_equal(train.labels, labels[train.indices])
    assert train.dt == D.DIGITS_DT and train.n_classes == 10 and train.classes == tuple("0123456789")


def test_digits_rate_code_follows_spec_section_7() -> None:
    images, _ = D.load_digit_images()
    ds = D.digits("rate", bins=10, seed=5, split="all")
    draws = np.random.default_rng(5).random((1797, 10, 64))
    np.testing.assert_array_equal(ds.frames, (draws < images[:, None, :] / 16).astype(np.float32))
    assert ds.frames.shape == (1797, 10, 64)
    again = D.digits("rate", bins=10, seed=5, split="all")
    np.testing.assert_array_equal(again.frames, ds.frames)
    assert not np.array_equal(D.digits("rate", bins=10, seed=6, split="all").frames, ds.frames)
    # Per pixel value v, the event frequency over all samples and bins is v / 16.
    for v in (0, 4, 8, 16):
        mask = np.broadcast_to((images == v)[:, None, :], ds.frames.shape)
        n = mask.sum()
        assert abs(ds.frames[mask].mean() - v / 16) <= 5 * math.sqrt((v / 16) * (1 - v / 16) / n) + 1e-12


def test_digits_latency_code() -> None:
    images, _ = D.load_digit_images()
    ds = D.digits("latency", bins=8, split="test")
    for row, i in enumerate(ds.indices[:20]):
        for c in range(64):
            v = int(images[i, c])
            column = ds.frames[row, :, c]
            if v == 0:
                assert column.sum() == 0
            else:
                assert column.sum() == 1 and column[round((1 - v / 16) * 7)] == 1


def test_digits_rows_delta_is_a_row_by_row_scan() -> None:
    images, _ = D.load_digit_images()
    ds = D.digits_rows("delta", bins_per_row=3, split="all", threshold=4.0)
    assert ds.frames.shape == (1797, 24, 16)
    for i in (0, 1, 500, 1796):
        rows = images[i].reshape(8, 8).astype(float)
        per_row = ds.frames[i].reshape(8, 3, 16)
        np.testing.assert_array_equal(per_row.sum(axis=1), delta_reference(rows, 4.0))
        assert np.all(per_row.max(axis=1) - per_row.min(axis=1) <= 1)


def test_digits_rows_rate_uses_each_rows_probabilities() -> None:
    images, _ = D.load_digit_images()
    ds = D.digits_rows("rate", bins_per_row=2, seed=4, split="all")
    p = np.repeat(images.reshape(-1, 8, 8) / 16.0, 2, axis=1)
    draws = np.random.default_rng(4).random((1797, 16, 8))
    np.testing.assert_array_equal(ds.frames, (draws < p).astype(np.float32))


def _linear_accuracy(xtr: np.ndarray, ytr: np.ndarray, xte: np.ndarray, yte: np.ndarray) -> float:
    mu, sd = xtr.mean(0), xtr.std(0) + 1e-6
    a = np.c_[(xtr - mu) / sd, np.ones(len(xtr))]
    b = np.c_[(xte - mu) / sd, np.ones(len(xte))]
    w = np.linalg.solve(a.T @ a + 0.1 * np.eye(a.shape[1]), a.T @ np.eye(10)[ytr])
    return float(np.mean((b @ w).argmax(1) == yte))


def test_digits_rows_is_a_temporal_task() -> None:
    """The order of events carries the class: a linear read-out of the whole sequence does much
    better than one of the time-summed counts (where the row of an event is lost)."""
    train, test = D.digits_rows(split="train"), D.digits_rows(split="test")
    full = _linear_accuracy(
        train.frames.reshape(len(train), -1), train.labels, test.frames.reshape(len(test), -1), test.labels
    )
    summed = _linear_accuracy(train.frames.sum(1), train.labels, test.frames.sum(1), test.labels)
    assert full > 0.85
    assert full - summed > 0.2


def test_digits_refuse_bad_arguments() -> None:
    with pytest.raises(ValueError, match="split"):
        D.digits(split="validation")
    with pytest.raises(ValueError, match="encoding"):
        D.digits(encoding="delta")
    with pytest.raises(ValueError, match="bins"):
        D.digits(bins=0)
    with pytest.raises(ValueError, match="bins_per_row"):
        D.digits_rows(bins_per_row=0)


def test_digits_batches_run_on_the_emulator() -> None:
    ds = D.digits(split="test")
    rng = np.random.default_rng(0)
    net = neuroemu.Network.from_weights([rng.normal(size=(10, 64))], threshold=1.0, beta=0.8, dt=ds.dt)
    frames, labels = next(ds.batches(16))
    batch = neuroemu.Emulator(net).run_batch(frames, labels=labels, threads=1)
    assert batch.predictions.shape == (16,)


# ----------------------------------------------------------------------------- bin_events


def test_bin_events_edges_belong_to_the_later_bin() -> None:
    # dt = 10 ms: edges at 0, 10000, 20000, 30000 us; 30000 is the end of the window.
    t = np.array([0, 9999, 10000, 19999, 20000, 29999, 30000, -1])
    ch = np.array([0, 0, 1, 1, 2, 2, 0, 0])
    got = D.bin_events(t, ch, n_channels=3, bins=3, dt=0.01)
    np.testing.assert_array_equal(got, [[2, 0, 0], [0, 2, 0], [0, 0, 2]])
    shifted = D.bin_events(t + 500, ch, n_channels=3, bins=3, dt=0.01, start_us=500)
    np.testing.assert_array_equal(shifted, got)
    with pytest.raises(DatasetError, match="channel 3"):
        D.bin_events([0], [3], n_channels=3, bins=1, dt=0.01)


# ----------------------------------------------------------------------------- N-MNIST


def make_nmnist_tree(root: Path, per_class: int, seed: int) -> dict[tuple[str, int, int], tuple]:
    rng = np.random.default_rng(seed)
    written = {}
    for split in ("Train", "Test"):
        for digit in range(3):
            for k in range(per_class):
                events = random_camera_events(rng, int(rng.integers(0, 200)), 34, 34, 320_000)
                write_nmnist(root / split / str(digit) / f"{k:05d}.bin", *events)
                written[(split, digit, k)] = events
    return written


def test_nmnist_reader_decodes_the_bin_format_exactly(tmp_path: Path) -> None:
    written = make_nmnist_tree(tmp_path, per_class=2, seed=1)
    ds = D.nmnist(tmp_path, split="test", bins=16, dt=0.02)
    assert ds.frames.shape == (6, 16, 2 * 34 * 34) and ds.name == "nmnist-test"
    np.testing.assert_array_equal(ds.labels, [0, 0, 1, 1, 2, 2])
    for row, (digit, k) in enumerate((d, k) for d in range(3) for k in range(2)):
        x, y, p, t = written[("Test", digit, k)]
        expected = count_frames(
            [(ti, camera_channel(xi, yi, pi, 34, 34)) for xi, yi, pi, ti in zip(x, y, p, t)], 16, 20_000, 2312
        )
        np.testing.assert_array_equal(ds.frames[row], expected)
    # Events after bins * dt are dropped.
    short = D.nmnist(tmp_path, split="test", bins=5, dt=0.01)
    x, y, p, t = written[("Test", 0, 0)]
    assert short.frames[0].sum() == np.sum(t < 50_000)
    # One split folder can be given directly; max_per_class keeps the first files.
    one = D.nmnist(tmp_path / "Train", bins=16, dt=0.02, max_per_class=1)
    np.testing.assert_array_equal(one.labels, [0, 1, 2])


def test_nmnist_overflow_marker_and_downsampling(tmp_path: Path) -> None:
    x, y, p, t = (
        np.array([0, 33, 5, 17]),
        np.array([0, 33, 6, 2]),
        np.array([1, 0, 1, 1]),
        np.array([10, 9000, 9100, 12000]),
    )
    file = tmp_path / "Train" / "4" / "a.bin"
    write_nmnist(file, x, y, p, t, overflow_before=2)
    events = D.read_nmnist_file(file)
    np.testing.assert_array_equal(events["t"], t)
    np.testing.assert_array_equal(events["x"], x)
    np.testing.assert_array_equal(events["y"], y)
    np.testing.assert_array_equal(events["p"], p)
    ds = D.nmnist(tmp_path, bins=2, dt=0.005, downsample=4)
    assert ds.n_channels == 2 * 9 * 9 and ds.labels.tolist() == [4]
    expected = count_frames([(ti, camera_channel(a, b, c, 34, 34, 4)) for a, b, c, ti in zip(x, y, p, t)], 2, 5000, 162)
    np.testing.assert_array_equal(ds.frames[0], expected)


def test_nmnist_agrees_with_tonics_reader(tmp_path: Path) -> None:
    tonic_io = pytest.importorskip("tonic.io")
    rng = np.random.default_rng(9)
    events = random_camera_events(rng, 300, 34, 34, 300_000)
    write_nmnist(tmp_path / "s.bin", *events)
    ours = D.read_nmnist_file(tmp_path / "s.bin")
    theirs = tonic_io.read_mnist_file(
        str(tmp_path / "s.bin"), dtype=np.dtype([("x", int), ("y", int), ("t", int), ("p", int)])
    )
    for field in ("x", "y", "t", "p"):
        np.testing.assert_array_equal(ours[field], theirs[field])


def test_nmnist_bad_files_name_the_file(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="does not exist"):
        D.nmnist(tmp_path / "missing")
    with pytest.raises(DatasetError, match="no Train"):
        D.nmnist(tmp_path)
    (tmp_path / "Train" / "0").mkdir(parents=True)
    with pytest.raises(DatasetError, match="no .bin files"):
        D.nmnist(tmp_path)
    bad = tmp_path / "Train" / "0" / "cut.bin"
    bad.write_bytes(bytes(12))
    with pytest.raises(DatasetError, match=r"cut\.bin is truncated"):
        D.nmnist(tmp_path)
    bad.write_bytes(bytes([40, 3, 0, 0, 1]))
    with pytest.raises(DatasetError, match=r"cut\.bin.*outside the 34x34 sensor"):
        D.nmnist(tmp_path)
    with pytest.raises(ValueError, match="split"):
        D.nmnist(tmp_path, split="valid")


# ----------------------------------------------------------------------------- SHD


def write_shd(
    path: Path, samples: list[tuple[np.ndarray, np.ndarray]], labels, *, time_dtype=np.float32, keys=True
) -> None:
    h5py = pytest.importorskip("h5py")
    with h5py.File(path, "w") as f:
        times = f.create_dataset("spikes/times", (len(samples),), dtype=h5py.vlen_dtype(np.dtype(time_dtype)))
        units = f.create_dataset("spikes/units", (len(samples),), dtype=h5py.vlen_dtype(np.dtype(np.uint16)))
        for i, (t, u) in enumerate(samples):
            times[i] = np.asarray(t, dtype=time_dtype)
            units[i] = np.asarray(u, dtype=np.uint16)
        f.create_dataset("labels", data=np.asarray(labels, dtype=np.uint16))
        if keys:
            names = [f"english {d}" for d in range(10)] + [f"german {d}" for d in range(10)]
            f.create_dataset("extra/keys", data=np.array([n.encode() for n in names]))
            f.create_dataset("extra/speaker", data=np.zeros(len(samples), dtype=np.uint16))


def test_shd_reader_decodes_the_h5_format_exactly(tmp_path: Path) -> None:
    rng = np.random.default_rng(2)
    samples, labels = [], [3, 19, 3, 0]
    for _ in labels:
        n = int(rng.integers(0, 400))
        t_us = np.sort(rng.integers(0, 1_500_000, n))
        samples.append((t_us / 1e6, rng.integers(0, 700, n)))
    write_shd(tmp_path / "shd_train.h5", samples, labels)
    ds = D.shd(tmp_path / "shd_train.h5", bins=100, dt=0.014)
    assert ds.frames.shape == (4, 100, 700) and ds.n_classes == 20 and ds.name == "shd_train"
    assert ds.classes is not None and ds.classes[19] == "german 9"
    np.testing.assert_array_equal(ds.labels, labels)
    for i, (t, u) in enumerate(samples):
        t_us = np.rint(np.float32(t).astype(np.float64) * 1e6).astype(np.int64)
        np.testing.assert_array_equal(ds.frames[i], count_frames(zip(t_us, u), 100, 14_000, 700))
    # A folder with shd_<split>.h5 works too, and max_per_class keeps the first of each class.
    again = D.shd(tmp_path, split="train", bins=100, dt=0.014, max_per_class=1)
    np.testing.assert_array_equal(again.labels, [3, 19, 0])
    np.testing.assert_array_equal(again.frames[2], ds.frames[3])


def test_shd_reads_float16_times_and_files_without_keys(tmp_path: Path) -> None:
    t = np.array([0.0, 0.25, 0.5, 0.75, 1.0])  # exact in float16
    write_shd(tmp_path / "s.h5", [(t, [0, 1, 2, 3, 699])], [7], time_dtype=np.float16, keys=False)
    ds = D.shd(tmp_path / "s.h5", bins=4, dt=0.25)
    assert ds.n_classes == 8 and ds.classes is None
    expected = np.zeros((4, 700), dtype=np.float32)
    expected[0, 0] = expected[1, 1] = expected[2, 2] = expected[3, 3] = 1  # t = 1.0 s is past the window
    np.testing.assert_array_equal(ds.frames[0], expected)


def test_shd_spikes_stored_at_bin_edges_land_in_the_later_bin(tmp_path: Path) -> None:
    # k * 14 ms is not exact in float32 (0.042 is stored as 0.0419999994...); rounding to whole
    # microseconds puts each spike on the edge, i.e. in bin k.
    k = np.arange(1, 30)
    write_shd(tmp_path / "edges.h5", [(k * 0.014, k)], [0])
    ds = D.shd(tmp_path / "edges.h5", bins=30, dt=0.014)
    np.testing.assert_array_equal(np.argwhere(ds.frames[0]), np.stack([k, k], axis=1))


def test_shd_bad_files_name_the_file(tmp_path: Path) -> None:
    h5py = pytest.importorskip("h5py")
    with pytest.raises(DatasetError, match="does not exist"):
        D.shd(tmp_path / "nope.h5")
    with pytest.raises(DatasetError, match="holds no shd_test.h5"):
        D.shd(tmp_path, split="test")
    (tmp_path / "junk.h5").write_bytes(b"not an hdf5 file at all")
    with pytest.raises(DatasetError, match=r"junk\.h5 is not a readable HDF5 file"):
        D.shd(tmp_path / "junk.h5")
    with h5py.File(tmp_path / "nolabels.h5", "w") as f:
        f.create_dataset("spikes/times", data=np.zeros(2))
    with pytest.raises(DatasetError, match=r"nolabels\.h5 has no 'labels'"):
        D.shd(tmp_path / "nolabels.h5")
    write_shd(tmp_path / "unit.h5", [([0.1], [700])], [0])
    with pytest.raises(DatasetError, match=r"unit\.h5 sample 0: event channel 700"):
        D.shd(tmp_path / "unit.h5")
    write_shd(tmp_path / "count.h5", [([0.1], [1])], [0, 1])
    with pytest.raises(DatasetError, match=r"count\.h5: 2 labels"):
        D.shd(tmp_path / "count.h5")
    full = (tmp_path / "unit.h5").read_bytes()
    (tmp_path / "cut.h5").write_bytes(full[: len(full) // 2])
    with pytest.raises(DatasetError, match=r"cut\.h5"):
        D.shd(tmp_path / "cut.h5")


def test_shd_without_h5py_says_how_to_install_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "shd_train.h5").write_bytes(b"")
    monkeypatch.setitem(__import__("sys").modules, "h5py", None)
    with pytest.raises(MissingDependencyError, match="pip install h5py") as info:
        D.shd(tmp_path / "shd_train.h5")
    assert isinstance(info.value, ImportError) and isinstance(info.value, NeuroemuError)


# ----------------------------------------------------------------------------- DVS Gesture


def test_dvs_gesture_reads_tonics_npy_layout(tmp_path: Path) -> None:
    rng = np.random.default_rng(4)
    written = {}
    for user in ("user01_fluorescent", "user02_led"):
        folder = tmp_path / "DVSGesture" / "ibmGestureTrain" / user
        folder.mkdir(parents=True)
        for label in (10, 2):
            x, y, p, t_us = random_camera_events(rng, 500, 128, 128, 2_000_000)
            t_ms = np.round(t_us / 1000).astype(np.int64) + 700  # recordings do not start at 0
            np.save(folder / f"{label}.npy", np.stack([x, y, p, t_ms], axis=1))
            written[(user, label)] = (x, y, p, t_ms)
    ds = D.dvs_gesture(tmp_path, split="train", bins=10, dt=0.2, downsample=4)
    assert ds.frames.shape == (4, 10, 2048) and ds.n_classes == 11
    np.testing.assert_array_equal(ds.labels, [2, 10, 2, 10])
    order = [("user01_fluorescent", 2), ("user01_fluorescent", 10), ("user02_led", 2), ("user02_led", 10)]
    for row, key in enumerate(order):
        x, y, p, t_ms = written[key]
        t_us = t_ms * 1000
        events = [(ti, camera_channel(a, b, c, 128, 128, 4)) for a, b, c, ti in zip(x, y, p, t_us)]
        np.testing.assert_array_equal(ds.frames[row], count_frames(events, 10, 200_000, 2048, start_us=int(t_us.min())))
        assert ds.frames[row].sum() == len(x)  # every event of a 2 s sample fits in 10 x 200 ms
    full = D.dvs_gesture(tmp_path / "DVSGesture" / "ibmGestureTrain", bins=10, dt=0.2, downsample=1, max_per_class=1)
    assert full.n_channels == 2 * 128 * 128
    np.testing.assert_array_equal(full.labels, [2, 10])


def test_dvs_gesture_reads_the_original_aedat_release(tmp_path: Path) -> None:
    root = tmp_path / "DvsGesture"
    root.mkdir()
    # Gesture class 3 (label 2) in [1000, 401000) us, class 11 (label 10) in [500000, 900000) us.
    rng = np.random.default_rng(8)
    n = 400
    x, y, p, t = random_camera_events(rng, n, 128, 128, 1_000_000)
    valid = rng.random(n) > 0.1
    events = [(polarity_word(int(a), int(b), int(c), bool(v)), int(ti)) for a, b, c, v, ti in zip(x, y, p, valid, t)]
    packets = [
        aedat_packet(0, [(0x12345, 5)]),  # a special-event packet: skipped
        aedat_packet(1, events[:150]),
        aedat_packet(1, events[150:]),
    ]
    write_aedat(root / "user03_natural.aedat", packets)
    (root / "user03_natural_labels.csv").write_text(
        "class,startTime_usec,endTime_usec\n3,1000,401000\n11,500000,900000\n"
    )
    (root / "trials_to_train.txt").write_text("user03_natural.aedat\n\n")
    (root / "trials_to_test.txt").write_text("")
    decoded = D.read_aedat31(root / "user03_natural.aedat")
    np.testing.assert_array_equal(decoded["t"], t[valid])
    np.testing.assert_array_equal(decoded["x"], x[valid])
    np.testing.assert_array_equal(decoded["p"], p[valid])
    ds = D.dvs_gesture(tmp_path, split="train", bins=8, dt=0.05, downsample=2)
    np.testing.assert_array_equal(ds.labels, [2, 10])
    for row, (start, end) in enumerate([(1000, 401000), (500000, 900000)]):
        ev = [
            (int(ti), camera_channel(a, b, c, 128, 128, 2))
            for a, b, c, v, ti in zip(x, y, p, valid, t)
            if v and start <= ti < end
        ]
        np.testing.assert_array_equal(ds.frames[row], count_frames(ev, 8, 50_000, 2 * 64 * 64, start_us=start))
    with pytest.raises(DatasetError, match="lists no gestures"):
        D.dvs_gesture(root, split="test")


def test_aedat_timestamp_overflow_and_truncation(tmp_path: Path) -> None:
    file = tmp_path / "o.aedat"
    write_aedat(file, [aedat_packet(1, [(polarity_word(1, 2, 1), 7)], ts_overflow=1)])
    assert D.read_aedat31(file)["t"].tolist() == [2**31 + 7]
    write_aedat(file, [aedat_packet(1, [(polarity_word(1, 2, 1), 7), (polarity_word(3, 4, 0), 9)])])
    whole = file.read_bytes()
    file.write_bytes(whole[:-3])
    with pytest.raises(DatasetError, match=r"o\.aedat is truncated"):
        D.read_aedat31(file)
    file.write_bytes(whole[:-20])
    with pytest.raises(DatasetError, match=r"o\.aedat is truncated"):
        D.read_aedat31(file)
    file.write_bytes(b"#!AER-DAT2.0\r\n")
    with pytest.raises(DatasetError, match="AER-DAT3"):
        D.read_aedat31(file)


def test_dvs_gesture_bad_input_names_the_file(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="does not exist"):
        D.dvs_gesture(tmp_path / "none")
    with pytest.raises(DatasetError, match="neither"):
        D.dvs_gesture(tmp_path)
    folder = tmp_path / "ibmGestureTest" / "user01_led"
    folder.mkdir(parents=True)
    np.save(folder / "1.npy", np.zeros((5, 3)))
    with pytest.raises(DatasetError, match=r"1\.npy must hold"):
        D.dvs_gesture(tmp_path, split="test")
    np.save(folder / "1.npy", np.array([[128, 0, 0, 1]]))
    with pytest.raises(DatasetError, match=r"1\.npy: event x = 128"):
        D.dvs_gesture(tmp_path, split="test")
    (folder / "1.npy").unlink()
    np.save(folder / "12.npy", np.zeros((1, 4)))
    with pytest.raises(DatasetError, match=r"12\.npy: class 12"):
        D.dvs_gesture(tmp_path, split="test")
    original = tmp_path / "orig"
    original.mkdir()
    (original / "trials_to_train.txt").write_text("user01_led.aedat\n")
    (original / "user01_led_labels.csv").write_text("class,startTime_usec,endTime_usec\n12,0,10\n")
    with pytest.raises(DatasetError, match=r"user01_led_labels\.csv line 2: class 12"):
        D.dvs_gesture(original)


# ----------------------------------------------------------------------------- from_tonic


class FakeTonicDataset:
    """What from_tonic relies on: len, [i] -> (events, target), sensor_size, classes."""

    def __init__(self, samples, sensor_size, classes=None) -> None:
        self.samples, self.sensor_size = samples, sensor_size
        if classes is not None:
            self.classes = classes

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, i: int):
        return self.samples[i]


def structured(dtype, **columns) -> np.ndarray:
    out = np.zeros(len(next(iter(columns.values()))), dtype=dtype)
    for k, v in columns.items():
        out[k] = v
    return out


def test_from_tonic_bins_camera_events_in_toframe_layout() -> None:
    rng = np.random.default_rng(6)
    dtype = np.dtype([("x", np.int16), ("y", np.int16), ("p", bool), ("t", np.int64)])
    samples, raw = [], []
    for label in (1, 0, 1):
        x, y, p, t = random_camera_events(rng, 100, 20, 12, 90_000)
        t = t + 40_000
        samples.append((structured(dtype, x=x, y=y, p=p.astype(bool), t=t), np.int64(label)))
        raw.append((x, y, p, t))
    fake = FakeTonicDataset(samples, (20, 12, 2), classes=["a", "b", "c"])
    for origin in ("zero", "first"):
        ds = D.from_tonic(fake, bins=6, dt=0.02, origin=origin, downsample=3)
        assert ds.frames.shape == (3, 6, 2 * 4 * 7) and ds.n_classes == 3 and ds.name == "FakeTonicDataset"
        np.testing.assert_array_equal(ds.labels, [1, 0, 1])
        for row, (x, y, p, t) in enumerate(raw):
            start = int(t.min()) if origin == "first" else 0
            events = [(ti, camera_channel(a, b, c, 20, 12, 3)) for a, b, c, ti in zip(x, y, p, t)]
            np.testing.assert_array_equal(ds.frames[row], count_frames(events, 6, 20_000, 56, start_us=start))
    # A frame reshaped to (bins, 2, H, W) is polarity-first images, as tonic.transforms.ToFrame makes them.
    ds = D.from_tonic(fake, bins=6, dt=0.02, max_samples=1)
    x, y, p, t = raw[0]
    image = ds.frames[0].reshape(6, 2, 12, 20).sum(axis=0)
    expected = np.zeros((2, 12, 20))
    np.add.at(expected, (p[t < 120_000], y[t < 120_000], x[t < 120_000]), 1)
    np.testing.assert_array_equal(image, expected)


def test_from_tonic_audio_events_and_dense_frames() -> None:
    # SHD through tonic: fields (t, x, p), sensor (700, 1, 1), t in microseconds as floats.
    dtype = np.dtype([("t", float), ("x", int), ("p", int)])
    ev = structured(dtype, t=[10.4, 999.6, 1000.0, 2500.0], x=[0, 699, 5, 5], p=[1, 1, 1, 1])
    ds = D.from_tonic(FakeTonicDataset([(ev, 4)], (700, 1, 1)), bins=3, dt=1e-3)
    assert ds.n_channels == 700 and ds.n_classes == 5
    expected = np.zeros((3, 700), dtype=np.float32)
    expected[0, 0] = expected[1, 699] = expected[1, 5] = expected[2, 5] = 1  # 999.6 us rounds to 1000
    np.testing.assert_array_equal(ds.frames[0], expected)
    dense = np.arange(2 * 4 * 2 * 3 * 3).reshape(2, 4, 2, 3, 3) % 3
    framed = D.from_tonic(FakeTonicDataset([(dense[0], 0), (dense[1], 1)], None), dt=5e-3)
    np.testing.assert_array_equal(framed.frames, dense.reshape(2, 4, 18))
    with pytest.raises(ValueError, match="bins is required"):
        D.from_tonic(FakeTonicDataset([(ev, 4)], (700, 1, 1)), dt=1e-3)
    with pytest.raises(ValueError, match="sensor_size"):
        D.from_tonic(FakeTonicDataset([(ev, 4)], None), bins=2, dt=1e-3)
    with pytest.raises(DatasetError, match="sample 1"):
        D.from_tonic(FakeTonicDataset([(dense[0], 0), (dense[1, :3], 1)], None), dt=5e-3)
