"""Linear layers (dense, convolution, pooling, reshapes) as sparse matrices, built from the kernel.

Every op maps a C-ordered input activation of shape ``in_shape`` to a C-ordered output activation:
``y = A @ x + b`` with ``A`` a ``scipy.sparse.csr_matrix`` shaped ``(n_out, n_in)`` holding only the
connections the layer has (a convolution never becomes a dense matrix) and ``b`` the bias or ``None``.
Consecutive ops compose into one (:meth:`AffineOp.then`), which is how an importer turns
``pool -> flatten -> conv`` between two spiking layers into one projection.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp  # type: ignore[import-untyped]
from numpy.typing import NDArray

__all__ = [
    "AffineOp",
    "avg_pool2d",
    "conv1d",
    "conv2d",
    "dense",
    "identity",
    "reshape",
    "scale",
    "pair",
    "conv_padding",
]


@dataclass(frozen=True)
class AffineOp:
    """``y = matrix @ x + bias`` from an input of shape ``in_shape`` to an output of shape ``out_shape``."""

    in_shape: tuple[int, ...]
    out_shape: tuple[int, ...]
    matrix: sp.csr_matrix
    bias: NDArray[np.float64] | None = None

    @property
    def n_in(self) -> int:
        return int(np.prod(self.in_shape, dtype=np.int64))

    @property
    def n_out(self) -> int:
        return int(np.prod(self.out_shape, dtype=np.int64))

    def then(self, nxt: AffineOp) -> AffineOp:
        """This op followed by ``nxt``: ``nxt.A @ (A x + b) + nxt.b``."""
        matrix = sp.csr_matrix(nxt.matrix @ self.matrix)
        bias = None if self.bias is None else nxt.matrix @ self.bias
        if nxt.bias is not None:
            bias = nxt.bias.copy() if bias is None else bias + nxt.bias
        return AffineOp(self.in_shape, nxt.out_shape, matrix, bias)

    def apply(self, x: NDArray[np.float64]) -> NDArray[np.float64]:
        """Applies the op to a flat input (for checks and tests)."""
        y = np.asarray(self.matrix @ np.asarray(x, dtype=np.float64).reshape(-1))
        return y if self.bias is None else y + self.bias


def pair(value: Any, name: str) -> tuple[int, int]:
    """An int or a pair of ints as a pair (``(h, w)``)."""
    array = np.asarray(value).reshape(-1)
    if array.size == 1:
        array = np.repeat(array, 2)
    if array.size != 2 or not np.all(np.equal(np.mod(array, 1), 0)):
        raise ValueError(f"{name} must be an int or a pair of ints, got {value!r}")
    return int(array[0]), int(array[1])


def conv_padding(
    padding: Any, kernel: tuple[int, int], dilation: tuple[int, int], stride: tuple[int, int]
) -> tuple[int, int, int, int]:
    """Padding ``(top, bottom, left, right)`` from an int, a pair, or ``"valid"`` / ``"same"``.

    ``"same"`` pads like PyTorch: total ``dilation * (kernel - 1)``, the smaller half first; it needs
    stride 1.
    """
    if isinstance(padding, bytes):
        padding = padding.decode()
    if isinstance(padding, str):
        if padding == "valid":
            return 0, 0, 0, 0
        if padding == "same":
            if stride != (1, 1):
                raise ValueError("padding='same' needs stride 1")
            th, tw = dilation[0] * (kernel[0] - 1), dilation[1] * (kernel[1] - 1)
            return th // 2, th - th // 2, tw // 2, tw - tw // 2
        raise ValueError(f"padding must be an int, a pair, 'valid' or 'same', got {padding!r}")
    ph, pw = pair(padding, "padding")
    if ph < 0 or pw < 0:
        raise ValueError(f"padding must be >= 0, got {padding!r}")
    return ph, ph, pw, pw


def _out_size(size: int, before: int, after: int, extent: int, stride: int) -> int:
    return (size + before + after - extent) // stride + 1


def identity(shape: Sequence[int]) -> AffineOp:
    shape = tuple(int(s) for s in shape)
    n = int(np.prod(shape, dtype=np.int64))
    return AffineOp(shape, shape, sp.identity(n, dtype=np.float64, format="csr"))


def reshape(in_shape: Sequence[int], out_shape: Sequence[int]) -> AffineOp:
    """A reshape (flatten / unflatten): C order keeps every element's index, so the matrix is the identity."""
    in_shape, out_shape = tuple(int(s) for s in in_shape), tuple(int(s) for s in out_shape)
    if np.prod(in_shape, dtype=np.int64) != np.prod(out_shape, dtype=np.int64):
        raise ValueError(f"cannot reshape {in_shape} to {out_shape}")
    op = identity(in_shape)
    return AffineOp(in_shape, out_shape, op.matrix)


def dense(weight: Any, bias: Any = None) -> AffineOp:
    """``torch.nn.Linear`` / NIR Affine: ``weight`` shaped ``(n_out, n_in)``."""
    w = np.asarray(weight, dtype=np.float64)
    if w.ndim != 2:
        raise ValueError(f"weight must be 2-D (n_out, n_in), got shape {w.shape}")
    b = None if bias is None else np.asarray(bias, dtype=np.float64).reshape(-1)
    if b is not None and b.shape != (w.shape[0],):
        raise ValueError(f"bias must have {w.shape[0]} entries, got shape {b.shape}")
    matrix = sp.csr_matrix(w)
    matrix.eliminate_zeros()
    return AffineOp((w.shape[1],), (w.shape[0],), matrix, b)


def scale(factors: Any, shape: Sequence[int]) -> AffineOp:
    """Element-wise scaling (NIR Scale)."""
    shape = tuple(int(s) for s in shape)
    f = np.broadcast_to(np.asarray(factors, dtype=np.float64), shape).reshape(-1)
    matrix = sp.csr_matrix(sp.diags(f, format="csr"))
    matrix.eliminate_zeros()
    return AffineOp(shape, shape, matrix)


def conv2d(
    weight: Any,
    in_shape: Sequence[int],
    *,
    stride: Any = 1,
    padding: Any = 0,
    dilation: Any = 1,
    groups: int = 1,
    bias: Any = None,
) -> AffineOp:
    """A 2-D cross-correlation (``torch.nn.Conv2d``, zero padding) as a sparse matrix.

    ``weight`` is ``(C_out, C_in / groups, kh, kw)``, ``in_shape`` is ``(C_in, H, W)``. Output neuron
    ``(co, oy, ox)`` receives input ``(ci, oy*sh - top + ky*dh, ox*sw - left + kx*dw)`` with weight
    ``weight[co, ci - g*C_in/groups, ky, kx]``, ``g = co // (C_out/groups)``; taps that fall into the
    padding and zero weights are no synapses.
    """
    w = np.asarray(weight, dtype=np.float64)
    if w.ndim != 4:
        raise ValueError(f"conv2d weight must be 4-D (C_out, C_in/groups, kh, kw), got shape {w.shape}")
    if len(in_shape) != 3:
        raise ValueError(f"conv2d input must be shaped (C, H, W), got {tuple(in_shape)}")
    c_in, height, width = (int(s) for s in in_shape)
    c_out, c_in_g, kh, kw = w.shape
    groups = int(groups)
    if groups < 1 or c_in != c_in_g * groups or c_out % groups:
        raise ValueError(
            f"conv2d with weight {w.shape} and groups={groups} does not fit an input with {c_in} channels"
        )
    sh, sw = pair(stride, "stride")
    dh, dw = pair(dilation, "dilation")
    if min(sh, sw, dh, dw) < 1:
        raise ValueError("stride and dilation must be >= 1")
    top, bottom, left, right = conv_padding(padding, (kh, kw), (dh, dw), (sh, sw))
    out_h = _out_size(height, top, bottom, dh * (kh - 1) + 1, sh)
    out_w = _out_size(width, left, right, dw * (kw - 1) + 1, sw)
    if out_h < 1 or out_w < 1:
        raise ValueError(f"conv2d output would be empty for input {tuple(in_shape)} and kernel {(kh, kw)}")
    b = None if bias is None else np.asarray(bias, dtype=np.float64).reshape(-1)
    if b is not None and b.shape != (c_out,):
        raise ValueError(f"conv2d bias must have {c_out} entries, got shape {b.shape}")

    per_group = c_out // groups
    co = np.arange(c_out)[:, None, None, None]
    cig = np.arange(c_in_g)[None, :, None, None]
    oy = np.arange(out_h)[None, None, :, None]
    ox = np.arange(out_w)[None, None, None, :]
    ci = (co // per_group) * c_in_g + cig
    rows_all, cols_all, data_all = [], [], []
    for ky in range(kh):
        iy = oy * sh - top + ky * dh
        for kx in range(kw):
            ix = ox * sw - left + kx * dw
            values = np.broadcast_to(w[:, :, ky, kx][:, :, None, None], (c_out, c_in_g, out_h, out_w))
            valid = (iy >= 0) & (iy < height) & (ix >= 0) & (ix < width) & (values != 0)
            if not valid.any():
                continue
            rows = np.broadcast_to((co * out_h + oy) * out_w + ox, valid.shape)[valid]
            cols = np.broadcast_to((ci * height + iy) * width + ix, valid.shape)[valid]
            rows_all.append(rows)
            cols_all.append(cols)
            data_all.append(values[valid])
    n_out, n_in = c_out * out_h * out_w, c_in * height * width
    matrix = _csr(rows_all, cols_all, data_all, (n_out, n_in))
    bias_full = None if b is None else np.repeat(b, out_h * out_w)
    return AffineOp((c_in, height, width), (c_out, out_h, out_w), matrix, bias_full)


def conv1d(
    weight: Any,
    in_shape: Sequence[int],
    *,
    stride: Any = 1,
    padding: Any = 0,
    dilation: Any = 1,
    groups: int = 1,
    bias: Any = None,
) -> AffineOp:
    """A 1-D cross-correlation: ``weight`` ``(C_out, C_in/groups, k)``, ``in_shape`` ``(C_in, L)``."""
    w = np.asarray(weight, dtype=np.float64)
    if w.ndim != 3 or len(in_shape) != 2:
        raise ValueError(f"conv1d needs a 3-D weight and an input shaped (C, L), got {w.shape} and {in_shape}")

    def one(value: Any, name: str) -> int:  # an int or a 1-tuple
        return pair(value, name)[1]

    if isinstance(padding, (str, bytes)):
        pad2: Any = padding
    else:
        pad2 = (0, int(np.asarray(padding).reshape(-1)[0]))
    op = conv2d(
        w[:, :, None, :],
        (int(in_shape[0]), 1, int(in_shape[1])),
        stride=(1, one(stride, "stride")),
        padding=pad2,
        dilation=(1, one(dilation, "dilation")),
        groups=groups,
        bias=bias,
    )
    c_out, _, length = op.out_shape
    return AffineOp(tuple(int(s) for s in in_shape), (c_out, length), op.matrix, op.bias)


def avg_pool2d(
    in_shape: Sequence[int],
    kernel: Any,
    *,
    stride: Any = None,
    padding: Any = 0,
    divisor: float | None = None,
    count_include_pad: bool = True,
) -> AffineOp:
    """Average pooling (``torch.nn.AvgPool2d``, ``ceil_mode=False``) as a sparse matrix.

    Each output ``(c, oy, ox)`` takes ``1/d`` of each input of its window, ``d = kh*kw`` (or the number
    of taps inside the input when ``count_include_pad=False``, or ``divisor``). Sum pooling is
    ``divisor=1``.
    """
    if len(in_shape) != 3:
        raise ValueError(f"pooling input must be shaped (C, H, W), got {tuple(in_shape)}")
    channels, height, width = (int(s) for s in in_shape)
    kh, kw = pair(kernel, "kernel_size")
    sh, sw = pair(kernel if stride is None else stride, "stride")
    ph, pw = pair(padding, "padding")
    if min(kh, kw, sh, sw) < 1 or min(ph, pw) < 0:
        raise ValueError("kernel_size and stride must be >= 1 and padding >= 0")
    out_h = _out_size(height, ph, ph, kh, sh)
    out_w = _out_size(width, pw, pw, kw, sw)
    if out_h < 1 or out_w < 1:
        raise ValueError(f"pooling output would be empty for input {tuple(in_shape)} and kernel {(kh, kw)}")
    c = np.arange(channels)[:, None, None]
    oy = np.arange(out_h)[None, :, None]
    ox = np.arange(out_w)[None, None, :]
    shape = (channels, out_h, out_w)
    taps = []
    for ky in range(kh):
        iy = oy * sh - ph + ky
        for kx in range(kw):
            ix = ox * sw - pw + kx
            valid = np.broadcast_to((iy >= 0) & (iy < height) & (ix >= 0) & (ix < width), shape)
            taps.append((iy, ix, valid))
    if divisor is not None:
        weights = np.full(shape, 1.0 / float(divisor))
    elif count_include_pad:
        weights = np.full(shape, 1.0 / (kh * kw))
    else:
        weights = 1.0 / np.sum([valid.astype(np.int64) for _, _, valid in taps], axis=0)
    rows_all, cols_all, data_all = [], [], []
    rows = (c * out_h + oy) * out_w + ox
    for iy, ix, valid in taps:
        rows_all.append(np.broadcast_to(rows, shape)[valid])
        cols_all.append(np.broadcast_to((c * height + iy) * width + ix, shape)[valid])
        data_all.append(weights[valid])
    matrix = _csr(rows_all, cols_all, data_all, (channels * out_h * out_w, channels * height * width))
    return AffineOp((channels, height, width), shape, matrix)


def _csr(rows: list[Any], cols: list[Any], data: list[Any], shape: tuple[int, int]) -> sp.csr_matrix:
    if rows:
        r, c, d = np.concatenate(rows), np.concatenate(cols), np.concatenate(data)
    else:
        r = c = np.zeros(0, dtype=np.int64)
        d = np.zeros(0)
    matrix = sp.csr_matrix((d.astype(np.float64), (r, c)), shape=shape)
    matrix.sum_duplicates()
    matrix.eliminate_zeros()
    return matrix
