"""``Network.save`` / ``Network.load``: neuroemu's own versioned network file (``.nemu``).

Layout (all integers little-endian; the format is described in docs/import.md):

====================  =======================================================================
bytes                 content
====================  =======================================================================
0 .. 11               magic ``b"NEUROEMU\\r\\n\\x1a\\n"``
12 .. 13              format version, uint16 (this module writes and reads version 1)
14 .. 15              reserved, 0
16 .. 23              header length ``H`` in bytes, uint64
24 .. 24+H-1          header: UTF-8 JSON (network fields and an array table)
24+H .. 24+H+P-1      payload: the arrays' raw little-endian bytes, each at its table offset
last 32 bytes         SHA-256 of everything before them
====================  =======================================================================

Arrays are stored bit for bit, so a loaded network runs exactly as the saved one.
"""

from __future__ import annotations

import hashlib
import json
import os
import struct
import tempfile
from typing import Any

import numpy as np

from ..errors import ConfigError, NetworkFileError
from ..network import Network, Population, Projection

__all__ = ["FORMAT_VERSION", "MAGIC", "load", "save"]

MAGIC = b"NEUROEMU\r\n\x1a\n"
FORMAT_VERSION = 1
_PREFIX = struct.Struct("<12sHHQ")
_DIGEST = 32
_DTYPES = {"<f8": np.float64, "<i8": np.int64, "<i4": np.int32}


def save(network: Network, path: Any) -> None:
    """Writes ``network`` to ``path`` (atomically: a partial file never replaces an existing one)."""
    path = os.fspath(path)
    payload = bytearray()
    table: list[dict[str, Any]] = []

    def put(array: np.ndarray, dtype: str) -> int:
        data = np.ascontiguousarray(array, dtype=np.dtype(dtype))
        table.append({"dtype": dtype, "shape": list(data.shape), "offset": len(payload), "nbytes": data.nbytes})
        payload.extend(data.tobytes())
        return len(table) - 1

    populations = []
    for pop in network.populations:
        populations.append(
            {
                "size": pop.size,
                "name": pop.name,
                "shape": None if pop.shape is None else [int(s) for s in pop.shape],
                "reset": pop.reset,
                "refractory": bool(pop.refractory),
                "threshold": put(pop.threshold, "<f8"),
                "beta": put(pop.beta, "<f8"),
                "bias": put(pop.bias, "<f8"),
            }
        )
    projections = [
        {
            "source": p.source,
            "target": p.target,
            "indptr": put(p.indptr, "<i8"),
            "indices": put(p.indices, "<i4"),
            "weights": put(p.weights, "<f8"),
        }
        for p in network.projections
    ]
    from .. import __version__

    header = {
        "format": "neuroemu.network",
        "version": FORMAT_VERSION,
        "written_by": f"neuroemu {__version__}",
        "n_inputs": network.n_inputs,
        "dt": network.dt.hex(),
        "populations": populations,
        "projections": projections,
        "arrays": table,
        "payload_bytes": len(payload),
    }
    header_bytes = json.dumps(header, separators=(",", ":")).encode("utf-8")
    body = _PREFIX.pack(MAGIC, FORMAT_VERSION, 0, len(header_bytes)) + header_bytes + bytes(payload)
    digest = hashlib.sha256(body).digest()
    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=".neuroemu-", dir=folder)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(body)
            f.write(digest)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def load(path: Any) -> Network:
    """Reads a network written by :func:`save`; raises NetworkFileError naming ``path`` on a bad file."""
    path = os.fspath(path)
    with open(path, "rb") as f:
        data = f.read()

    def bad(reason: str) -> NetworkFileError:
        return NetworkFileError(f"{path!r} {reason}")

    if len(data) < len(MAGIC) or data[: len(MAGIC)] != MAGIC:
        raise bad("is not a neuroemu network file (it does not start with the neuroemu magic bytes)")
    if len(data) < _PREFIX.size:
        raise bad(f"is truncated: {len(data)} bytes, shorter than the {_PREFIX.size}-byte file prefix")
    _, version, _, header_len = _PREFIX.unpack_from(data)
    if version > FORMAT_VERSION or version < 1:
        raise bad(
            f"has format version {version}; this neuroemu reads version {FORMAT_VERSION} "
            "(upgrade neuroemu to read newer files)"
        )
    header_end = _PREFIX.size + header_len
    if header_end + _DIGEST > len(data):
        raise bad(f"is truncated: the header needs {header_end + _DIGEST} bytes, the file has {len(data)}")
    try:
        header = json.loads(data[_PREFIX.size : header_end].decode("utf-8"))
        payload_bytes = int(header["payload_bytes"])
    except (UnicodeDecodeError, json.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
        raise bad(f"has a corrupted header: {exc}") from exc
    expected = header_end + payload_bytes + _DIGEST
    if len(data) != expected:
        what = "truncated" if len(data) < expected else "longer than its header states"
        raise bad(f"is {what}: expected {expected} bytes, found {len(data)}")
    if hashlib.sha256(data[:-_DIGEST]).digest() != data[-_DIGEST:]:
        raise bad("is corrupted: its SHA-256 checksum does not match the content")
    payload = memoryview(data)[header_end : header_end + payload_bytes]
    try:
        return _network(header, payload)
    except (KeyError, TypeError, ValueError, IndexError) as exc:
        if isinstance(exc, ConfigError):
            raise bad(f"describes an invalid network: {exc}") from exc
        raise bad(f"has an inconsistent header: {type(exc).__name__}: {exc}") from exc


def _network(header: dict[str, Any], payload: memoryview) -> Network:
    if header.get("format") != "neuroemu.network":
        raise ValueError(f"format field is {header.get('format')!r}, not 'neuroemu.network'")
    table = header["arrays"]

    def get(index: int) -> np.ndarray:
        entry = table[index]
        dtype = np.dtype(_DTYPES[entry["dtype"]]).newbyteorder("<")
        start, nbytes = int(entry["offset"]), int(entry["nbytes"])
        shape = tuple(int(s) for s in entry["shape"])
        if start < 0 or start + nbytes > len(payload) or nbytes != int(np.prod(shape)) * dtype.itemsize:
            raise ValueError(f"array {index} lies outside the payload or has the wrong size")
        array = np.frombuffer(payload[start : start + nbytes], dtype=dtype).reshape(shape)
        return array.astype(_DTYPES[entry["dtype"]], copy=True)  # native byte order, writable, owns its data

    populations = [
        Population(
            int(p["size"]),
            get(p["threshold"]),
            get(p["beta"]),
            get(p["bias"]),
            str(p["reset"]),
            bool(p["refractory"]),
            name=str(p.get("name", "")),
            shape=None if p.get("shape") is None else tuple(int(s) for s in p["shape"]),
        )
        for p in header["populations"]
    ]
    projections = [
        Projection(int(p["source"]), int(p["target"]), get(p["indptr"]), get(p["indices"]), get(p["weights"]))
        for p in header["projections"]
    ]
    return Network(int(header["n_inputs"]), populations, projections, dt=float.fromhex(header["dt"]))
