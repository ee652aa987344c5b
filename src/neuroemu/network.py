"""The network description: populations of LIF neurons and the synapses between them."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from . import _core
from ._validation import choice, real_array
from .errors import ConfigError, NeuroemuTypeError

__all__ = ["Network", "Population", "Projection"]

RESET_MODES = ("zero", "subtract")


@dataclass(frozen=True, eq=False)
class Population:
    """A population (layer) of LIF neurons, with one parameter value per neuron.

    Dynamics per time bin of width ``dt`` (docs/semantics.md): ``v <- beta * v + bias``; on each delivered
    current ``I``: ``u = v + I``; spike iff ``u > threshold``; reset ``v <- 0`` (``reset="zero"``) or
    ``v <- u - threshold`` (``"subtract"``); refractory until the next bin if ``refractory``.
    ``name`` and ``shape`` (the layer's activation shape, neurons numbered in C order) are descriptive:
    importers set them to the source layer's name and shape; the engine ignores them.
    """

    size: int
    threshold: NDArray[np.float64]
    beta: NDArray[np.float64]
    bias: NDArray[np.float64]
    reset: str
    refractory: bool
    name: str = ""
    shape: tuple[int, ...] | None = None

    @property
    def tau(self) -> NDArray[np.float64]:
        """Membrane time constant in units of ``dt`` (``inf`` for beta = 1, 0 for beta = 0)."""
        with np.errstate(divide="ignore"):
            return -1.0 / np.log(self.beta)


@dataclass(frozen=True, eq=False)
class Projection:
    """Synapses from population ``source`` (-1: the input channels) to population ``target``.

    Stored as fan-out lists: the targets of source neuron ``j`` are ``indices[indptr[j]:indptr[j+1]]``
    (population-local) with weights ``weights[...]``. Only non-zero weights are synapses.
    """

    source: int
    target: int
    indptr: NDArray[np.int64]
    indices: NDArray[np.int32]
    weights: NDArray[np.float64]

    @property
    def n_synapses(self) -> int:
        return int(self.indices.size)

    def to_dense(self, n_targets: int) -> NDArray[np.float64]:
        """The weight matrix shaped (n_targets, n_sources), like ``torch.nn.Linear.weight``."""
        n_sources = self.indptr.size - 1
        dense = np.zeros((n_targets, n_sources))
        sources = np.repeat(np.arange(n_sources), np.diff(self.indptr))
        np.add.at(dense, (self.indices, sources), self.weights)
        return dense


def _fan_out(weights: Any, name: str) -> tuple[int, int, NDArray[np.int64], NDArray[np.int32], NDArray[np.float64]]:
    """(n_out, n_in) weights, dense or scipy.sparse, as fan-out lists over the n_in sources."""
    if hasattr(weights, "tocsc") and hasattr(weights, "nnz"):
        csc = weights.tocsc(copy=True)
        csc.eliminate_zeros()
        csc.sort_indices()
        n_out, n_in = csc.shape
        data = real_array(csc.data, name)
        if not np.all(np.isfinite(data)):
            raise ConfigError(f"{name} contains NaN or infinite weights")
        return (
            int(n_out),
            int(n_in),
            np.asarray(csc.indptr, dtype=np.int64),
            np.asarray(csc.indices, dtype=np.int32),
            data,
        )
    dense = real_array(weights, name)
    if dense.ndim != 2:
        raise ConfigError(f"{name} must be a 2-D array shaped (n_out, n_in), got shape {dense.shape}")
    if dense.shape[0] < 1 or dense.shape[1] < 1:
        raise ConfigError(f"{name} must have at least one row and one column, got shape {dense.shape}")
    if not np.all(np.isfinite(dense)):
        raise ConfigError(f"{name} contains NaN or infinite weights")
    transposed = dense.T
    sources, targets = np.nonzero(transposed)
    indptr = np.zeros(dense.shape[1] + 1, dtype=np.int64)
    np.cumsum(np.bincount(sources, minlength=dense.shape[1]), out=indptr[1:])
    return dense.shape[0], dense.shape[1], indptr, targets.astype(np.int32), transposed[sources, targets].copy()


def _per_layer(value: Any, name: str, sizes: Sequence[int]) -> list[NDArray[np.float64]]:
    """A scalar, or a list with one scalar or array per layer, as one float array per layer."""
    if isinstance(value, (list, tuple)):
        if len(value) != len(sizes):
            raise ConfigError(f"{name} lists {len(value)} values, the network has {len(sizes)} layers")
        items = list(value)
    else:
        items = [value] * len(sizes)
    out = []
    for layer, (item, size) in enumerate(zip(items, sizes)):
        array = real_array(item, f"{name} of layer {layer}")
        if array.ndim == 0:
            array = np.full(size, float(array))
        elif array.shape != (size,):
            raise ConfigError(f"{name} of layer {layer} must be a scalar or shaped ({size},), got {array.shape}")
        out.append(array)
    return out


def _per_layer_option(value: Any, name: str, n_layers: int) -> list[Any]:
    if isinstance(value, (list, tuple)):
        if len(value) != n_layers:
            raise ConfigError(f"{name} lists {len(value)} values, the network has {n_layers} layers")
        return list(value)
    return [value] * n_layers


class Network:
    """A spiking network: input channels, populations of LIF neurons and projections between them.

    Neurons are numbered population by population (for :meth:`from_weights`, layer by layer); the last
    population is the output. Build one with :meth:`from_weights`, or directly from populations and
    projections for general graphs (skip and recurrent connections).

    Parameters
    ----------
    n_inputs : int
        Number of input channels.
    populations : sequence of Population
        The neuron populations, the output population last.
    projections : sequence of Projection
        The synapses; a projection from the output population is not allowed.
    dt : float
        Width of one time bin in seconds (used to convert time constants and by the timed model).
    """

    def __init__(
        self,
        n_inputs: int,
        populations: Sequence[Population],
        projections: Sequence[Projection],
        *,
        dt: float,
    ) -> None:
        if isinstance(n_inputs, bool) or not isinstance(n_inputs, (int, np.integer)) or n_inputs < 1:
            raise ConfigError(f"n_inputs must be a positive integer, got {n_inputs!r}")
        self.n_inputs = int(n_inputs)
        self.dt = _positive_finite(dt, "dt")
        self.populations: tuple[Population, ...] = tuple(populations)
        self.projections: tuple[Projection, ...] = tuple(projections)
        if not self.populations:
            raise ConfigError("a network needs at least one population")
        # Read on every run: a per-run sum over the populations cost as much as a small network's inference.
        self._layer_sizes = tuple(p.size for p in self.populations)
        self._core_network: Any = None
        self._core()  # validates everything the engine relies on, once

    @classmethod
    def from_weights(
        cls,
        weights: Sequence[Any],
        *,
        threshold: Any,
        tau: Any = None,
        dt: float,
        beta: Any = None,
        bias: Any = None,
        reset: str | Sequence[str] = "zero",
        refractory: bool | Sequence[bool] = True,
    ) -> Network:
        """A feed-forward chain from a list of weight matrices.

        Parameters
        ----------
        weights : list of array_like or scipy.sparse matrices
            Layer ``l`` shaped ``(n_l, n_{l-1})`` like ``torch.nn.Linear.weight``; ``n_{-1}`` is the
            number of input channels. Zero weights are not synapses.
        threshold : float or list
            Firing threshold (> 0): a scalar, or one scalar or array per layer.
        tau : float or list, optional
            Membrane time constant in seconds; ``beta = exp(-dt / tau)``; ``inf`` is a non-leaky neuron.
        dt : float
            Bin width in seconds (> 0).
        beta : float or list, optional
            Decay per bin in [0, 1], stored as given. Give exactly one of ``tau`` and ``beta``.
        bias : float or list, optional
            Added once per bin after the leak.
        reset : {"zero", "subtract"} or list
            Reset mode, for all layers or per layer.
        refractory : bool or list
            Whether a neuron ignores input until the next bin after it spiked.
        """
        if isinstance(weights, (str, bytes)) or not isinstance(weights, Sequence):
            raise NeuroemuTypeError("weights must be a list of 2-D arrays, one per layer")
        if len(weights) == 0:
            raise ConfigError("weights must hold at least one layer")
        dt = _positive_finite(dt, "dt")
        fan_outs = [_fan_out(w, f"weights[{layer}]") for layer, w in enumerate(weights)]
        for layer in range(1, len(fan_outs)):
            if fan_outs[layer][1] != fan_outs[layer - 1][0]:
                raise ConfigError(
                    f"weights[{layer}] has {fan_outs[layer][1]} columns (inputs) but weights[{layer - 1}] has "
                    f"{fan_outs[layer - 1][0]} rows (neurons): the layers do not chain"
                )
        sizes = [f[0] for f in fan_outs]
        betas = _betas(tau, beta, dt, sizes)
        thresholds = _per_layer(threshold, "threshold", sizes)
        biases = _per_layer(0.0 if bias is None else bias, "bias", sizes)
        for layer, (th, b) in enumerate(zip(thresholds, biases)):
            if not np.all(np.isfinite(th) & (th > 0)):
                raise ConfigError(f"threshold of layer {layer} must be finite and > 0")
            if not np.all(np.isfinite(b)):
                raise ConfigError(f"bias of layer {layer} must be finite")
        resets = [choice(r, "reset", RESET_MODES) for r in _per_layer_option(reset, "reset", len(sizes))]
        refractories = []
        for r in _per_layer_option(refractory, "refractory", len(sizes)):
            if not isinstance(r, (bool, np.bool_)):
                raise NeuroemuTypeError(f"refractory must be a bool or a list of bools, got {r!r}")
            refractories.append(bool(r))
        populations = [
            Population(size, thresholds[k], betas[k], biases[k], resets[k], refractories[k])
            for k, size in enumerate(sizes)
        ]
        projections = [
            Projection(k - 1, k, indptr, indices, data) for k, (_, _, indptr, indices, data) in enumerate(fan_outs)
        ]
        return cls(fan_outs[0][1], populations, projections, dt=dt)

    # -- sizes -----------------------------------------------------------------------------------------
    @property
    def layer_sizes(self) -> tuple[int, ...]:
        return self._layer_sizes

    @property
    def n_neurons(self) -> int:
        return sum(self._layer_sizes)

    @property
    def n_outputs(self) -> int:
        return self.populations[-1].size

    @property
    def n_synapses(self) -> int:
        return sum(p.n_synapses for p in self.projections)

    @property
    def layer_slices(self) -> tuple[slice, ...]:
        """The neuron index range of each population."""
        bounds = np.concatenate([[0], np.cumsum(self.layer_sizes)])
        return tuple(slice(int(a), int(b)) for a, b in zip(bounds[:-1], bounds[1:]))

    def weights(self) -> list[NDArray[np.float64]]:
        """Dense weight matrices of the projections, in order (for small networks and inspection)."""
        return [
            p.to_dense(self.populations[p.target].size if p.target >= 0 else self.n_inputs) for p in self.projections
        ]

    # -- import / export (implemented in neuroemu.io; see docs/import.md) -------------------------------
    @classmethod
    def from_torch(
        cls, module: Any, input_shape: Sequence[int] | int, *, dt: float, refractory: bool | None = None
    ) -> Network:
        """A network from a sequential PyTorch model with snnTorch ``Leaky``/``RLeaky`` or neuroemu LIF layers.

        Parameters
        ----------
        module : torch.nn.Sequential or list of modules
            Linear, Conv2d, AvgPool2d (sum pooling: ``divisor_override=1``), Flatten, ... and spiking layers.
        input_shape : tuple of int
            One sample's input per time step, without the batch dimension, e.g. ``(1, 28, 28)``.
        dt : float
            Bin width in seconds (the decay ``beta`` per step is stored as given).
        refractory : bool, optional
            Refractoriness of the populations (default: True for snnTorch, a neuroemu LIF's own setting).

        Raises
        ------
        ModelImportError
            Naming the layer, for layers or dynamics neuroemu cannot reproduce exactly.
        """
        from .io.torch_import import from_torch

        return from_torch(module, input_shape, dt=dt, refractory=refractory)

    @classmethod
    def from_nir(
        cls, graph_or_path: Any, *, dt: float, bin_width: float | None = None, refractory: bool = True
    ) -> Network:
        """A network from an NIR graph or file; ``dt`` is the exporter's time step (snnTorch: 1e-4).

        Parameters
        ----------
        graph_or_path : nir.NIRGraph or path
        dt : float
            The step the exporter discretised with: ``beta = 1 - dt/tau``, inputs scaled by ``r dt/tau``.
        bin_width : float, optional
            The network's bin width in seconds (default ``dt``).
        refractory : bool
            Refractoriness of every population (NIR does not state it).

        Raises
        ------
        ModelImportError
            Naming the node, for node types or parameters neuroemu cannot reproduce exactly.
        """
        from .io.nir_io import from_nir

        return from_nir(graph_or_path, dt=dt, bin_width=bin_width, refractory=refractory)

    def to_nir(self, path: Any = None, *, dt: float | None = None) -> Any:
        """The network as a ``nir.NIRGraph`` (also written to ``path`` when given); time constants use ``dt``
        (default the network's bin width). Raises ModelExportError for subtract reset."""
        from .io.nir_io import to_nir

        return to_nir(self, path, dt=dt)

    def save(self, path: Any) -> None:
        """Writes the network to a versioned neuroemu file (format in docs/import.md); arrays bit-exact."""
        from .io.storage import save

        save(self, path)

    @classmethod
    def load(cls, path: Any) -> Network:
        """Reads a network written by :meth:`save`; a truncated or foreign file raises NetworkFileError."""
        from .io.storage import load

        return load(path)

    # -- engine ----------------------------------------------------------------------------------------
    def _core(self) -> Any:
        if self._core_network is None:
            def cat(attr: str) -> NDArray[Any]:
                return np.concatenate([getattr(p, attr) for p in self.populations])

            self._core_network = _core.Network(
                self.n_inputs,
                [p.size for p in self.populations],
                cat("threshold"),
                cat("beta"),
                cat("bias"),
                np.concatenate([np.full(p.size, p.reset == "subtract", np.uint8) for p in self.populations]),
                np.concatenate([np.full(p.size, p.refractory, np.uint8) for p in self.populations]),
                [(p.source, p.target, p.indptr, p.indices, p.weights) for p in self.projections],
            )
        return self._core_network

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["_core_network"] = None
        return state

    def __repr__(self) -> str:
        sizes = "-".join(str(s) for s in (self.n_inputs, *self.layer_sizes))
        return f"Network({sizes}, synapses={self.n_synapses}, dt={self.dt:g})"


def _positive_finite(value: Any, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise NeuroemuTypeError(f"{name} must be a number, got {type(value).__name__}")
    if not math.isfinite(value) or value <= 0:
        raise ConfigError(f"{name} must be finite and > 0, got {value}")
    return float(value)


def _betas(tau: Any, beta: Any, dt: float, sizes: Sequence[int]) -> list[NDArray[np.float64]]:
    if (tau is None) == (beta is None):
        raise ConfigError("give exactly one of tau and beta")
    if beta is not None:
        betas = _per_layer(beta, "beta", sizes)
        for layer, b in enumerate(betas):
            if not np.all((b >= 0) & (b <= 1)):
                raise ConfigError(f"beta of layer {layer} must lie in [0, 1]")
        return betas
    taus = _per_layer(tau, "tau", sizes)
    for layer, t in enumerate(taus):
        if np.any(np.isnan(t)) or np.any(t <= 0):
            raise ConfigError(f"tau of layer {layer} must be > 0 (inf for a non-leaky neuron)")
    return [np.exp(-dt / t) for t in taus]
