"""The benchmark workloads of ``run_all.py``: networks, their torch/snnTorch twins and seeded inputs.

Every workload is a feed-forward chain of LIF layers without bias, reset to zero, refractory until the
next bin, one threshold and one decay ``beta`` for all layers, and binary Bernoulli input (each channel an
independent event with probability ``p`` per bin). The same float64 weights (rounded to float32 once, so
that a float32 framework holds exactly the engine's weights) build:

- the engine network (``neuroemu.Network``; convolutions through ``Network.from_torch``);
- the snnTorch model (torch layers + ``snntorch.Leaky(reset_mechanism="zero")``), or, for the large
  sparse network, ``torch.sparse_csr`` matrices with the same ``Leaky``;
- the dense weight matrices of the dense batched PyTorch simulator (``_torch_dense.py``), where they fit;
- the projections handed to SANA-FE (``_sanafe.py``).

Workloads (``make_workload(key)``):

``mlp``     2312-64-64-64-10 (N-MNIST size: 2 x 34 x 34 inputs), 10 bins.
``cnn``     2 x 34 x 34 -> conv 6@3x3/2 -> conv 12@3x3/2 -> conv 32@3x3/2 -> linear 10 (3,516 neurons), 10 bins.
``target``  2312-512-256-128-10, the issue's reference workload (see ``docs/performance.md``).
``sparse``  a large sparse layered network: ``n_in`` input channels, 4 hidden layers, 100 outputs, random
            fan-out lists (each source projects to ``fan_out`` distinct random targets of the next layer).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

BINS = 10
THRESHOLD = 0.3
BETA = math.exp(-1.0)  # tau = dt = 1
WEIGHT_SEED = 2024
INPUT_SEED = 7


@dataclass
class Workload:
    """One benchmark network and how each implementation builds it."""

    key: str
    title: str
    n_inputs: int
    input_shape: tuple[int, ...]
    layer_sizes: tuple[int, ...]
    threshold: float
    beta: float
    bins: int
    activities: dict[str, float]  # activity name -> input event probability per channel per bin
    network: Any  # neuroemu.Network
    sparse: list[Any]  # scipy.sparse.csr_matrix per layer, shaped (n_out, n_in)
    torch_layers: list[Any] | None = None  # dense torch layers (Linear/Conv2d/Flatten), float32
    conv: list[dict[str, int]] | None = None  # conv geometry per layer (for descriptions)
    notes: list[str] = field(default_factory=list)

    @property
    def n_neurons(self) -> int:
        return int(sum(self.layer_sizes))

    @property
    def n_synapses(self) -> int:
        return int(sum(m.nnz for m in self.sparse))

    def dense_bytes(self) -> int:
        """Bytes of float32 dense weight matrices (what the dense PyTorch simulator would need)."""
        sizes = (self.n_inputs, *self.layer_sizes)
        return 4 * sum(a * b for a, b in zip(sizes[:-1], sizes[1:]))

    def dense_weights(self) -> list[np.ndarray]:
        """Dense (n_out, n_in) float64 matrices, for the dense PyTorch simulator."""
        return [np.asarray(m.toarray(), dtype=np.float64) for m in self.sparse]

    def inputs(self, n: int, p: float, seed: int = INPUT_SEED) -> np.ndarray:
        """(n, bins, n_inputs) float64 binary frames, each channel an event with probability p per bin."""
        rng = np.random.default_rng(seed)
        return (rng.random((n, self.bins, self.n_inputs), dtype=np.float32) < p).astype(np.float64)

    def describe(self) -> str:
        sizes = "-".join(str(s) for s in (self.n_inputs, *self.layer_sizes))
        return f"{sizes} ({self.n_neurons:,} neurons, {self.n_synapses:,} synapses)"


def _f32(a: np.ndarray) -> np.ndarray:
    """Rounded to float32 once, held as float64: float32 and float64 frameworks get identical weights."""
    return np.asarray(a, dtype=np.float32).astype(np.float64)


def _normal_weights(rng: np.random.Generator, n_out: int, n_in: int, scale: float) -> np.ndarray:
    return _f32(rng.standard_normal((n_out, n_in)) * (scale / math.sqrt(n_in)))


def _dense_workload(
    key: str, title: str, sizes: tuple[int, ...], activities: dict[str, float], scale: float
) -> Workload:
    import scipy.sparse as sp

    import neuroemu

    rng = np.random.default_rng(WEIGHT_SEED)
    weights = [_normal_weights(rng, o, i, scale) for i, o in zip(sizes[:-1], sizes[1:])]
    net = neuroemu.Network.from_weights(weights, threshold=THRESHOLD, beta=BETA, dt=1.0, reset="zero", refractory=True)
    return Workload(
        key=key,
        title=title,
        n_inputs=sizes[0],
        input_shape=(sizes[0],),
        layer_sizes=tuple(sizes[1:]),
        threshold=THRESHOLD,
        beta=BETA,
        bins=BINS,
        activities=activities,
        network=net,
        sparse=[sp.csr_matrix(w) for w in weights],
        torch_layers=None,
    )


def _torch_linear_layers(torch: Any, sparse: list[Any]) -> list[Any]:
    layers = []
    for m in sparse:
        lin = torch.nn.Linear(m.shape[1], m.shape[0], bias=False)
        with torch.no_grad():
            lin.weight.copy_(torch.from_numpy(m.toarray().astype(np.float32)))
        layers.append(lin)
    return layers


def make_mlp() -> Workload:
    """Weights N(0, 1/fan_in): input p = 0.02 gives 2-5% of each layer spiking per bin, p = 0.1 gives 14-21%."""
    return _dense_workload(
        "mlp", "MLP 2312-64-64-64-10 (N-MNIST size)", (2312, 64, 64, 64, 10), {"low": 0.02, "high": 0.1}, 1.0
    )


def make_target() -> Workload:
    """The issue's reference: weights N(0, 4/fan_in), threshold 0.3, 5% input."""
    return _dense_workload(
        "target", "MLP 2312-512-256-128-10 (issue's reference)", (2312, 512, 256, 128, 10), {"ref": 0.05}, 2.0
    )


CNN_SCALE = 1.0  # weights N(0, (CNN_SCALE / sqrt(fan_in))^2)
CNN_SPEC = (  # (in_channels, out_channels, kernel, stride, padding) on a 2 x 34 x 34 input
    (2, 6, 3, 2, 1),
    (6, 12, 3, 2, 1),
    (12, 32, 3, 2, 1),
)


def make_cnn(scale: float = CNN_SCALE) -> Workload:
    """Three 3x3 stride-2 convolutions and a linear readout, imported through ``Network.from_torch``."""
    import scipy.sparse as sp
    import snntorch as snn
    import torch

    import neuroemu

    rng = np.random.default_rng(WEIGHT_SEED + 1)
    modules: list[Any] = []
    conv_geometry = []
    hw = 34
    for c_in, c_out, k, s, p in CNN_SPEC:
        conv = torch.nn.Conv2d(c_in, c_out, k, stride=s, padding=p, bias=False)
        fan_in = c_in * k * k
        w = rng.standard_normal((c_out, c_in, k, k)) * (scale / math.sqrt(fan_in))
        with torch.no_grad():
            conv.weight.copy_(torch.from_numpy(w.astype(np.float32)))
        hw = (hw + 2 * p - k) // s + 1
        conv_geometry.append({"c_in": c_in, "c_out": c_out, "k": k, "stride": s, "pad": p, "out_hw": hw})
        modules += [conv, snn.Leaky(beta=BETA, threshold=THRESHOLD, reset_mechanism="zero")]
    n_flat = CNN_SPEC[-1][1] * hw * hw
    lin = torch.nn.Linear(n_flat, 10, bias=False)
    with torch.no_grad():
        w_out = rng.standard_normal((10, n_flat)) * (scale / math.sqrt(n_flat))
        lin.weight.copy_(torch.from_numpy(w_out.astype(np.float32)))
    modules += [torch.nn.Flatten(), lin, snn.Leaky(beta=BETA, threshold=THRESHOLD, reset_mechanism="zero")]
    model = torch.nn.Sequential(*modules)
    net = neuroemu.Network.from_torch(model, input_shape=(2, 34, 34), dt=1.0, refractory=True)
    sparse = [sp.csr_matrix(w) for w in net.weights()]
    torch_layers = [m for m in modules if not isinstance(m, snn.Leaky)]
    return Workload(
        key="cnn",
        title="CNN 3 conv + linear (3,516 neurons)",
        n_inputs=2 * 34 * 34,
        input_shape=(2, 34, 34),
        layer_sizes=net.layer_sizes,
        threshold=THRESHOLD,
        beta=BETA,
        bins=BINS,
        activities={"low": 0.02, "high": 0.1},  # 4-12% / 15-27% of each layer spiking per bin
        network=net,
        sparse=sparse,
        torch_layers=torch_layers,
        conv=conv_geometry,
    )


def random_fanout(rng: np.random.Generator, n_src: int, n_dst: int, fan_out: int, mean: float, sd: float) -> Any:
    """(n_dst, n_src) CSR: every source projects to `fan_out` distinct random targets, weights N(mean, sd)."""
    import scipy.sparse as sp

    fan_out = min(fan_out, n_dst)
    if fan_out * 4 <= n_dst:
        # random targets with rejection of the rare duplicates (fast for fan_out << n_dst)
        targets = rng.integers(0, n_dst, size=(n_src, fan_out), dtype=np.int64)
        targets.sort(axis=1)
        dup = np.zeros_like(targets, dtype=bool)
        dup[:, 1:] = targets[:, 1:] == targets[:, :-1]
        while dup.any():
            targets[dup] = rng.integers(0, n_dst, size=int(dup.sum()))
            targets.sort(axis=1)
            dup[:] = False
            dup[:, 1:] = targets[:, 1:] == targets[:, :-1]
    else:
        targets = np.argsort(rng.random((n_src, n_dst)), axis=1)[:, :fan_out]
        targets.sort(axis=1)
    weights = _f32(mean + sd * rng.standard_normal(targets.shape))
    weights[weights == 0.0] = mean if mean != 0 else 1e-3
    indptr = np.arange(0, n_src * fan_out + 1, fan_out, dtype=np.int64)
    # built as (n_src, n_dst) CSR (fan-out rows) and transposed: (n_dst, n_src) CSC -> CSR
    fanout = sp.csr_matrix((weights.ravel(), targets.ravel().astype(np.int32), indptr), shape=(n_src, n_dst))
    return fanout.T.tocsr()


# Sparse network: weights N(0, 0.3^2), threshold 1: input p = 0.05 keeps 1-2% of every hidden layer
# spiking per bin, p = 0.2 gives 11-20% (calibrated once with the engine's sync schedule).
SPARSE_FAN_OUT = 100
SPARSE_OUT_FAN_OUT = 10
SPARSE_W_MEAN = 0.0
SPARSE_W_SD = 0.3
SPARSE_THRESHOLD = 1.0


def make_sparse(
    n_hidden: int = 30_000,
    n_inputs: int = 10_000,
    n_layers: int = 4,
    fan_out: int = SPARSE_FAN_OUT,
    pad: int = 0,
    pad_fan_out: int = 10,
    seed: int = WEIGHT_SEED + 2,
) -> Workload:
    """A large sparse layered network; with ``pad > 0`` every hidden layer gets ``pad`` extra neurons
    wired only among themselves (never driven by the input, so they never fire): the number of events
    stays exactly that of the unpadded network while neurons and synapses grow."""
    import scipy.sparse as sp

    import neuroemu

    rng = np.random.default_rng(seed)
    n_out = 100
    hidden = [n_hidden] * n_layers
    mats = []
    src = n_inputs  # active sources of this projection (the padded ones follow them)
    for k, dst in enumerate([*hidden, n_out]):
        fo = fan_out if k < n_layers else SPARSE_OUT_FAN_OUT
        m = random_fanout(rng, src, dst, fo, SPARSE_W_MEAN, SPARSE_W_SD)
        if pad:
            # the active block stays the top-left block; padded sources (k > 0) -> padded targets
            pad_src = pad if k > 0 else 0
            pad_dst = pad if k < n_layers else 0
            if pad_dst and pad_src:
                padded = random_fanout(rng, pad_src, pad_dst, pad_fan_out, SPARSE_W_MEAN, SPARSE_W_SD)
                m = sp.bmat([[m, None], [None, padded]], format="csr")
            elif pad_dst:  # first layer: padded targets receive nothing
                m = sp.vstack([m, sp.csr_matrix((pad_dst, src))], format="csr")
            elif pad_src:  # output layer: padded sources project nowhere
                m = sp.hstack([m, sp.csr_matrix((dst, pad_src))], format="csr")
        mats.append(m)
        src = dst
    net = neuroemu.Network.from_weights(mats, threshold=SPARSE_THRESHOLD, beta=BETA, dt=1.0)
    sizes = tuple(m.shape[0] for m in mats)
    return Workload(
        key="sparse" if not pad else f"sparse+pad{pad}",
        title=f"sparse layered {n_inputs}-{'-'.join(str(h) for h in hidden)}-{n_out}, fan-out {fan_out}",
        n_inputs=n_inputs,
        input_shape=(n_inputs,),
        layer_sizes=sizes,
        threshold=SPARSE_THRESHOLD,
        beta=BETA,
        bins=BINS,
        activities={"low": 0.05, "high": 0.2},
        network=net,
        sparse=mats,
    )


def make_workload(key: str, **kwargs: Any) -> Workload:
    return {"mlp": make_mlp, "cnn": make_cnn, "target": make_target, "sparse": make_sparse}[key](**kwargs)
