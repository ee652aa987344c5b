"""Network.save / Network.load: a bit-exact round trip, and clear errors for bad files."""

from __future__ import annotations

import hashlib
import json
import struct
import tempfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import neuroemu
from neuroemu.errors import NetworkFileError
from neuroemu.io import storage


def general_network() -> neuroemu.Network:
    """Skip and recurrent projections, both resets, refractory on and off, names and shapes."""
    rng = np.random.default_rng(5)
    P, J = neuroemu.Population, neuroemu.Projection

    def proj(source: int, target: int, n_src: int, n_tgt: int, scale: float) -> neuroemu.Projection:
        w = rng.normal(0.3, 1.0, size=(n_tgt, n_src)) * scale
        w[rng.random(w.shape) > 0.6] = 0.0
        sources, targets = np.nonzero(w.T)
        indptr = np.zeros(n_src + 1, dtype=np.int64)
        np.cumsum(np.bincount(sources, minlength=n_src), out=indptr[1:])
        return J(source, target, indptr, targets.astype(np.int32), w.T[sources, targets].copy())

    pops = [
        P(12, rng.uniform(0.7, 1.3, 12), rng.uniform(0, 1, 12), rng.normal(0, 0.1, 12), "zero", True,
          name="conv1", shape=(3, 2, 2)),
        P(7, np.full(7, 0.9), np.ones(7), np.zeros(7), "subtract", False, name="hidden"),
        P(4, np.full(4, 1.1), np.full(4, 0.8), np.full(4, -0.05), "zero", True),
    ]
    projs = [proj(-1, 0, 9, 12, 1.4), proj(0, 1, 12, 7, 0.8), proj(1, 0, 7, 12, 0.4), proj(0, 2, 12, 4, 0.6),
             proj(1, 2, 7, 4, 0.9)]
    return neuroemu.Network(9, pops, projs, dt=1e-3 / 3)


def assert_identical(a: neuroemu.Network, b: neuroemu.Network) -> None:
    assert (a.n_inputs, a.dt) == (b.n_inputs, b.dt)
    assert len(a.populations) == len(b.populations) and len(a.projections) == len(b.projections)
    for p, q in zip(a.populations, b.populations):
        assert (p.size, p.reset, p.refractory, p.name, p.shape) == (q.size, q.reset, q.refractory, q.name, q.shape)
        for field in ("threshold", "beta", "bias"):
            x, y = getattr(p, field), getattr(q, field)
            assert x.dtype == y.dtype and x.tobytes() == y.tobytes(), field
    for p, q in zip(a.projections, b.projections):
        assert (p.source, p.target) == (q.source, q.target)
        for field in ("indptr", "indices", "weights"):
            x, y = getattr(p, field), getattr(q, field)
            assert x.dtype == y.dtype and x.tobytes() == y.tobytes(), field


def test_round_trip_preserves_every_array_and_the_spike_trains(tmp_path: Path) -> None:
    net = general_network()
    path = tmp_path / "net.nemu"
    net.save(path)
    back = neuroemu.Network.load(path)
    assert_identical(net, back)
    frames = np.random.default_rng(1).poisson(0.7, size=(4, 30, 9)).astype(float)
    for kwargs in ({"schedule": "sync"}, {"schedule": "momentum", "group_size": 2}, {"schedule": "random", "seed": 3}):
        ref = neuroemu.Emulator(net, **kwargs).run_batch(frames, threads=1)
        got = neuroemu.Emulator(back, **kwargs).run_batch(frames, threads=1)
        assert ref.total_spikes.sum() > 0
        np.testing.assert_array_equal(got.total_spikes, ref.total_spikes)
        for r, g in zip(ref, got):
            np.testing.assert_array_equal(g.spike_counts, r.spike_counts)
            np.testing.assert_array_equal(g.forward_steps, r.forward_steps)


def test_file_layout_is_as_documented(tmp_path: Path) -> None:
    path = tmp_path / "net.nemu"
    general_network().save(str(path))
    data = path.read_bytes()
    magic, version, reserved, header_len = struct.unpack_from("<12sHHQ", data)
    assert (magic, version, reserved) == (b"NEUROEMU\r\n\x1a\n", 1, 0)
    header = json.loads(data[24 : 24 + header_len])
    assert header["format"] == "neuroemu.network" and header["version"] == 1
    assert len(data) == 24 + header_len + header["payload_bytes"] + 32
    assert hashlib.sha256(data[:-32]).digest() == data[-32:]
    first = header["arrays"][header["populations"][0]["threshold"]]
    start = 24 + header_len + first["offset"]
    stored = np.frombuffer(data[start : start + first["nbytes"]], dtype="<f8")
    np.testing.assert_array_equal(stored, general_network().populations[0].threshold)


@settings(max_examples=30, deadline=None)
@given(
    sizes=st.lists(st.integers(1, 6), min_size=1, max_size=3),
    n_in=st.integers(1, 5),
    seed=st.integers(0, 2**32 - 1),
    reset=st.sampled_from(["zero", "subtract"]),
    refractory=st.booleans(),
    dt=st.floats(1e-9, 1.0, allow_nan=False),
)
def test_any_network_round_trips_bit_exactly(sizes, n_in, seed, reset, refractory, dt) -> None:
    rng = np.random.default_rng(seed)
    dims = [n_in, *sizes]
    weights = []
    for a, b in zip(dims[:-1], dims[1:]):
        w = rng.normal(size=(b, a)) * 10.0 ** rng.integers(-300, 300)
        w[rng.random(w.shape) < 0.3] = 0.0
        w[0, 0] = rng.normal()  # at least one synapse
        weights.append(w)
    net = neuroemu.Network.from_weights(
        weights,
        threshold=[rng.uniform(1e-6, 10, s) for s in sizes],
        beta=[rng.choice([0.0, 1.0, rng.uniform()], s) for s in sizes],
        bias=[rng.normal(size=s) for s in sizes],
        reset=reset,
        refractory=refractory,
        dt=dt,
    )
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "n.nemu"
        net.save(path)
        assert_identical(net, neuroemu.Network.load(path))


def test_imported_conv_network_keeps_names_and_shapes(tmp_path: Path) -> None:
    torch = pytest.importorskip("torch")
    snn = pytest.importorskip("snntorch")
    model = torch.nn.Sequential(
        torch.nn.Conv2d(1, 2, 3, padding=1), snn.Leaky(beta=0.9, reset_mechanism="zero"),
        torch.nn.Flatten(), torch.nn.Linear(2 * 4 * 4, 3), snn.Leaky(beta=0.8, reset_mechanism="zero"),
    )
    net = neuroemu.Network.from_torch(model, (1, 4, 4), dt=1e-3)
    net.save(tmp_path / "conv.nemu")
    back = neuroemu.Network.load(tmp_path / "conv.nemu")
    assert [(p.name, p.shape) for p in back.populations] == [("1", (2, 4, 4)), ("4", (3,))]
    assert_identical(net, back)


# -- bad files ------------------------------------------------------------------------------------------------


@pytest.fixture
def saved(tmp_path: Path) -> tuple[Path, bytes]:
    path = tmp_path / "good.nemu"
    general_network().save(path)
    return path, path.read_bytes()


def rewrite(path: Path, data: bytes) -> Path:
    bad = path.with_name("bad.nemu")
    bad.write_bytes(data)
    return bad


@pytest.mark.parametrize("keep", [0.0, 0.3, 0.6, 0.9, 0.999])
def test_truncated_file_names_the_file(saved, keep: float) -> None:
    path, data = saved
    cut = rewrite(path, data[: int(len(data) * keep)])
    pattern = r"'.*bad\.nemu' (is truncated|is not a neuroemu network file)"
    with pytest.raises(NetworkFileError, match=pattern):
        neuroemu.Network.load(cut)


@pytest.mark.parametrize("cut", [5, 12, 20, 30])
def test_file_cut_inside_the_prefix(saved, cut: int) -> None:
    path, data = saved
    expected = "not a neuroemu network file" if cut < 12 else "truncated"
    with pytest.raises(NetworkFileError, match=expected):
        neuroemu.Network.load(rewrite(path, data[:cut]))


@pytest.mark.parametrize(
    "content",
    [b"", b"\x89PNG\r\n\x1a\n" + bytes(100), b"PK\x03\x04" + bytes(100), b"hello world\n" * 20, b"\x93NUMPY"],
)
def test_foreign_file_is_refused(saved, content: bytes) -> None:
    path, _ = saved
    with pytest.raises(NetworkFileError, match=r"'.*bad\.nemu' is not a neuroemu network file"):
        neuroemu.Network.load(rewrite(path, content))


def test_flipped_payload_byte_fails_the_checksum(saved) -> None:
    path, data = saved
    corrupted = bytearray(data)
    corrupted[-100] ^= 0x01
    with pytest.raises(NetworkFileError, match="checksum"):
        neuroemu.Network.load(rewrite(path, bytes(corrupted)))


def test_trailing_bytes_are_refused(saved) -> None:
    path, data = saved
    with pytest.raises(NetworkFileError, match="longer than its header states"):
        neuroemu.Network.load(rewrite(path, data + b"\x00"))


def _reframe(data: bytes, header: dict | bytes, version: int = 1) -> bytes:
    """The file with a new header (and a matching length field and checksum)."""
    _, _, _, header_len = struct.unpack_from("<12sHHQ", data)
    payload = data[24 + header_len : -32]
    raw = header if isinstance(header, bytes) else json.dumps(header).encode()
    body = struct.pack("<12sHHQ", storage.MAGIC, version, 0, len(raw)) + raw + payload
    return body + hashlib.sha256(body).digest()


def test_newer_format_version_is_refused(saved) -> None:
    path, data = saved
    with pytest.raises(NetworkFileError, match="format version 2; this neuroemu reads version 1"):
        neuroemu.Network.load(rewrite(path, _reframe(data, data[24:-32][: struct.unpack_from("<Q", data, 16)[0]], 2)))


def test_consistent_checksum_but_invalid_content(saved) -> None:
    path, data = saved
    header_len = struct.unpack_from("<Q", data, 16)[0]
    header = json.loads(data[24 : 24 + header_len])
    with pytest.raises(NetworkFileError, match="corrupted header"):
        neuroemu.Network.load(rewrite(path, _reframe(data, b"{not json")))
    wrong_size = json.loads(json.dumps(header))
    wrong_size["populations"][0]["size"] = 13
    with pytest.raises(NetworkFileError, match=r"'.*bad\.nemu' (describes an invalid network|has an inconsistent)"):
        neuroemu.Network.load(rewrite(path, _reframe(data, wrong_size)))
    outside = json.loads(json.dumps(header))
    outside["arrays"][0]["offset"] = 10**9
    with pytest.raises(NetworkFileError, match="outside the payload"):
        neuroemu.Network.load(rewrite(path, _reframe(data, outside)))
    foreign_format = dict(header, format="something.else")
    with pytest.raises(NetworkFileError, match="something.else"):
        neuroemu.Network.load(rewrite(path, _reframe(data, foreign_format)))


def test_missing_file_and_error_types(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        neuroemu.Network.load(tmp_path / "nothing.nemu")
    assert issubclass(NetworkFileError, ValueError) and issubclass(NetworkFileError, neuroemu.NeuroemuError)


def test_save_replaces_an_existing_file_whole(tmp_path: Path) -> None:
    path = tmp_path / "net.nemu"
    path.write_bytes(b"old content")
    general_network().save(path)
    assert_identical(general_network(), neuroemu.Network.load(path))
    assert [p.name for p in tmp_path.iterdir()] == ["net.nemu"]  # no temporary file left behind
