"""``Network.from_nir`` / ``Network.to_nir``: the Neuromorphic Intermediate Representation (``nir`` package).

NIR states continuous-time dynamics; neuroemu reads them with forward Euler at the time step ``dt``
the exporter used (docs/import.md lists each exporter's ``dt``):

- ``LIF``  ``tau dv/dt = (v_leak - v) + r I``: ``v <- (1 - dt/tau) v + (dt/tau) v_leak + (r dt/tau) I``,
  i.e. ``beta = 1 - dt/tau``, bias ``(dt/tau) v_leak``, every incoming weight and constant current
  scaled by ``r dt/tau``; spike iff ``v > v_threshold``, then ``v <- v_reset`` (must be 0).
- ``IF``   ``dv/dt = r I``: ``beta = 1``, input scale ``r dt``.
- ``CubaLIF`` only with ``tau_syn == dt`` (synaptic decay ``1 - dt/tau_syn == 0``): the synaptic current is
  then the scaled input of the same step, and the node is an LIF with input scale
  ``w_in (dt/tau_syn) r (dt/tau_mem)``.
- ``Affine``, ``Linear``, ``Scale``, ``Conv1d``, ``Conv2d``, ``SumPool2d``, ``AvgPool2d``, ``Flatten`` are
  linear; nested graphs are inlined. Anything else (``LI``, ``I``, ``CubaLI``, ``Delay``, ``Threshold``,
  ``CubaLIF`` with a synaptic time constant) raises :class:`~neuroemu.errors.ModelImportError` naming the
  node.
"""

from __future__ import annotations

import math
import os
from typing import Any

import numpy as np

from ..errors import MissingDependencyError, ModelExportError, ModelImportError
from ..network import Network
from . import linear_ops
from ._graph import InputNode, NeuronNode, Node, OpNode, OutputNode, assemble

__all__ = ["from_nir", "to_nir"]

# An input scale within this distance of 1 is exactly 1 (docs/import.md): exporters write r = tau/dt, and
# r*dt/tau then rounds; to about 1e-16 in float64 files, to about 1e-7 in float32 files.
_SCALE_SNAP = {8: 1e-12, 4: 1e-6}
_ALPHA_ZERO = 1e-9  # CubaLIF synaptic decay taken as zero below this


def _nir() -> Any:
    try:
        import nir  # type: ignore[import-untyped]
    except ImportError as exc:
        raise MissingDependencyError("NIR import/export needs the nir package: pip install 'neuroemu[nir]'") from exc
    return nir


def _arr(value: Any) -> np.ndarray:
    if hasattr(value, "detach"):
        value = value.detach().cpu().double().numpy()
    return np.asarray(value, dtype=np.float64)


def _itemsize(*values: Any) -> int:
    """The smallest float size among the stored parameters (4 for float32 files, else 8)."""
    sizes = [8]
    for value in values:
        dtype = getattr(value, "dtype", None)
        if dtype is not None and "float32" in str(dtype):
            sizes.append(4)
    return min(sizes)


def _shape(value: Any) -> tuple[int, ...] | None:
    if value is None:
        return None
    if isinstance(value, dict):
        values = list(value.values())
        if len(values) != 1:
            return None
        value = values[0]
    if value is None:
        return None
    array = _arr(value).reshape(-1)
    return tuple(int(s) for s in array)


def _param_shape(*arrays: np.ndarray) -> tuple[int, ...] | None:
    """The neuron layer shape stated by its parameters (None for scalars: inferred from the input)."""
    shapes = {a.shape for a in arrays if a.ndim > 0}
    if not shapes:
        return None
    return max(shapes, key=len)


def _positive_dt(value: Any, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise ModelImportError(f"{name} must be a number of seconds, got {type(value).__name__}")
    if not math.isfinite(value) or value <= 0:
        raise ModelImportError(f"{name} must be finite and > 0, got {value}")
    return float(value)


def from_nir(
    graph_or_path: Any,
    *,
    dt: float,
    bin_width: float | None = None,
    refractory: bool = True,
) -> Network:
    """Imports an NIR graph (a ``nir.NIRGraph`` or the path of a file written by ``nir.write``).

    Parameters
    ----------
    graph_or_path : nir.NIRGraph or str or os.PathLike
    dt : float
        The time step (seconds) the exporter discretised with; it sets ``beta = 1 - dt/tau`` and the
        input scales. snnTorch and SpikingJelly write with ``1e-4``; see docs/import.md for others.
    bin_width : float, optional
        The network's bin width in seconds (``Network.dt``, used by the timed model); default ``dt``.
    refractory : bool
        Refractoriness of every population (NIR has none; it only matters in asynchronous schedules).
    """
    nir = _nir()
    dt = _positive_dt(dt, "dt")
    width = dt if bin_width is None else _positive_dt(bin_width, "bin_width")
    if isinstance(graph_or_path, (str, os.PathLike)):
        path = os.fspath(graph_or_path)
        if not os.path.exists(path):
            raise FileNotFoundError(f"no NIR file at {path!r}")
        try:
            graph = nir.read(path)
        except Exception as exc:  # h5py/nir raise many kinds on a foreign or broken file
            raise ModelImportError(f"cannot read {path!r} as an NIR file: {type(exc).__name__}: {exc}") from exc
        model = f"NIR file {path!r}"
    else:
        graph = graph_or_path
        if not isinstance(graph, nir.NIRGraph):
            raise ModelImportError(f"from_nir takes a nir.NIRGraph or a file path, got {type(graph).__name__}")
        model = "NIR graph"
    nodes: list[Node] = []
    edges: list[tuple[str, str]] = []
    _translate_graph(graph, "", nodes, edges, dt, refractory, nir, top=True)
    return assemble(nodes, edges, dt=width, model=model)


def _translate_graph(
    graph: Any,
    prefix: str,
    nodes: list[Node],
    edges: list[tuple[str, str]],
    dt: float,
    refractory: bool,
    nir: Any,
    *,
    top: bool,
) -> tuple[list[str], list[str]]:
    """Adds the graph's nodes (inlining subgraphs); returns the names of its input and output nodes."""
    inputs, outputs = [], []
    entry: dict[str, str] = {}  # a subgraph's name -> its inlined input node
    exit_: dict[str, str] = {}
    for key, node in graph.nodes.items():
        name = f"{prefix}{key}"
        if isinstance(node, nir.NIRGraph):
            sub_in, sub_out = _translate_graph(node, f"{name}.", nodes, edges, dt, refractory, nir, top=False)
            if len(sub_in) != 1 or len(sub_out) != 1:
                raise ModelImportError(
                    f"NIR subgraph {name!r} has {len(sub_in)} inputs and {len(sub_out)} outputs; neuroemu inlines "
                    "subgraphs with exactly one of each"
                )
            entry[name], exit_[name] = sub_in[0], sub_out[0]
            continue
        if isinstance(node, nir.Input):
            if top:
                shape = _shape(node.input_type)
                if shape is None:
                    raise ModelImportError(f"NIR Input node {name!r} has no shape")
                nodes.append(InputNode(name, shape))
            else:
                nodes.append(_identity(name, "nir.Input (subgraph)"))
            inputs.append(name)
            continue
        if isinstance(node, nir.Output):
            nodes.append(OutputNode(name) if top else _identity(name, "nir.Output (subgraph)"))
            outputs.append(name)
            continue
        nodes.append(_translate_node(name, node, dt, refractory, nir))
    for src, dst in graph.edges:
        src_name, dst_name = f"{prefix}{src}", f"{prefix}{dst}"
        edges.append((exit_.get(src_name, src_name), entry.get(dst_name, dst_name)))
    return inputs, outputs


def _identity(name: str, kind: str) -> OpNode:
    return OpNode(name, kind, lambda s: linear_ops.identity(s), reshape_only=True)


def _squeeze_batch(shape: tuple[int, ...], ndim: int) -> tuple[int, ...]:
    """Drops leading singleton (batch) dims some exporters keep, down to ``ndim`` dims."""
    while len(shape) > ndim and shape[0] == 1:
        shape = shape[1:]
    return shape


def _translate_node(name: str, node: Any, dt: float, refractory: bool, nir: Any) -> Node:
    kind = f"nir.{type(node).__name__}"
    what = f"NIR node {name!r} ({type(node).__name__})"

    if isinstance(node, nir.Affine):
        weight, bias = _arr(node.weight), _arr(node.bias)
        _check_2d(weight, what)
        return OpNode(name, kind, lambda s: linear_ops.dense(weight, bias))
    if isinstance(node, nir.Linear):
        weight = _arr(node.weight)
        _check_2d(weight, what)
        return OpNode(name, kind, lambda s: linear_ops.dense(weight))
    if isinstance(node, nir.Scale):
        factors = _arr(node.scale)
        return OpNode(name, kind, lambda s: linear_ops.scale(factors, s))
    if isinstance(node, nir.Conv2d):
        weight = _arr(node.weight)
        hw = _shape(node.input_shape) if node.input_shape is not None else None

        def build_conv2d(s: tuple[int, ...]) -> linear_ops.AffineOp:
            s = _squeeze_batch(s, 3)
            if len(s) != 3 and hw is not None and len(hw) == 2:  # a flat input with a stated (H, W)
                s = (int(np.prod(s)) // (hw[0] * hw[1]), *hw)
            return linear_ops.conv2d(
                weight, s, stride=_param(node.stride), padding=_param(node.padding),
                dilation=_param(node.dilation), groups=int(_arr(node.groups)), bias=_arr(node.bias),
            )

        return OpNode(name, kind, build_conv2d)
    if isinstance(node, nir.Conv1d):
        weight = _arr(node.weight)

        def build_conv1d(s: tuple[int, ...]) -> linear_ops.AffineOp:
            return linear_ops.conv1d(
                weight, _squeeze_batch(s, 2), stride=_param(node.stride), padding=_param(node.padding),
                dilation=_param(node.dilation), groups=int(_arr(node.groups)), bias=_arr(node.bias),
            )

        return OpNode(name, kind, build_conv1d)
    if isinstance(node, (nir.SumPool2d, nir.AvgPool2d)):
        divisor = 1.0 if isinstance(node, nir.SumPool2d) else None
        return OpNode(
            name,
            kind,
            lambda s: linear_ops.avg_pool2d(
                _squeeze_batch(s, 3), _param(node.kernel_size), stride=_param(node.stride),
                padding=_param(node.padding), divisor=divisor,
            ),
        )
    if isinstance(node, nir.Flatten):
        start, end = int(node.start_dim), int(node.end_dim)

        def build_flatten(s: tuple[int, ...]) -> linear_ops.AffineOp:
            n = len(s)
            a, b = start % n, end % n
            merged = int(np.prod(s[a : b + 1], dtype=np.int64))
            return linear_ops.reshape(s, (*s[:a], merged, *s[b + 1 :]))

        return OpNode(name, kind, build_flatten, reshape_only=True)
    if isinstance(node, nir.LIF):
        precision = _itemsize(node.tau, node.r)
        tau, r, v_leak = _arr(node.tau), _arr(node.r), _arr(node.v_leak)
        threshold, v_reset = _arr(node.v_threshold), _reset(node, what)
        _check_tau(tau, dt, what, "tau")
        beta = 1.0 - dt / tau
        return NeuronNode(
            name, kind, _param_shape(tau, r, v_leak, threshold, v_reset), threshold=threshold,
            beta=beta, bias=(dt / tau) * v_leak, input_scale=_snap(r * dt / tau, precision), refractory=refractory,
        )
    if isinstance(node, nir.IF):
        precision = _itemsize(node.r)
        r, threshold, v_reset = _arr(node.r), _arr(node.v_threshold), _reset(node, what)
        return NeuronNode(
            name, kind, _param_shape(r, threshold, v_reset), threshold=threshold, beta=1.0,
            input_scale=_snap(r * dt, precision), refractory=refractory,
        )
    if isinstance(node, nir.CubaLIF):
        precision = _itemsize(node.tau_syn, node.tau_mem, node.r, node.w_in)
        tau_syn, tau_mem = _arr(node.tau_syn), _arr(node.tau_mem)
        r, v_leak, w_in = _arr(node.r), _arr(node.v_leak), _arr(node.w_in)
        threshold, v_reset = _arr(node.v_threshold), _reset(node, what)
        _check_tau(tau_mem, dt, what, "tau_mem")
        _check_tau(tau_syn, dt, what, "tau_syn")
        alpha = 1.0 - dt / tau_syn
        if np.any(np.abs(alpha) > _ALPHA_ZERO):
            raise ModelImportError(
                f"{what}: its synaptic current decays by alpha = 1 - dt/tau_syn = {float(np.max(np.abs(alpha))):.6g} "
                "per step, a second state variable that neuroemu's single-state LIF neuron cannot represent. "
                "Only tau_syn == dt (alpha = 0) is imported; export the layer as a LIF (snnTorch Leaky) instead"
            )
        return NeuronNode(
            name, kind, _param_shape(tau_syn, tau_mem, r, v_leak, w_in, threshold, v_reset), threshold=threshold,
            beta=1.0 - dt / tau_mem, bias=(dt / tau_mem) * v_leak,
            input_scale=_snap(w_in * (dt / tau_syn) * r * (dt / tau_mem), precision), refractory=refractory,
        )
    reasons = {
        "LI": "a non-spiking leaky integrator (a readout); neuroemu's layers spike. Replace it with a LIF layer, "
        "or drop it and read the spike counts of the layer before it",
        "CubaLI": "a non-spiking current-based leaky integrator (a readout); neuroemu's layers spike",
        "I": "a non-spiking integrator; neuroemu's layers spike",
        "Delay": "synaptic delays are not modelled by neuroemu",
        "Threshold": "a stateless threshold unit is not a neuroemu neuron",
    }
    reason = reasons.get(type(node).__name__, "this node type is not supported")
    raise ModelImportError(f"{what}: {reason}")


def _param(value: Any) -> Any:
    if isinstance(value, (str, bytes)):
        return value.decode() if isinstance(value, bytes) else value
    return _arr(value).astype(np.int64).reshape(-1)


def _check_2d(weight: np.ndarray, what: str) -> None:
    if weight.ndim != 2:
        raise ModelImportError(f"{what}: weight must be 2-D (n_out, n_in), got shape {weight.shape}")


def _check_tau(tau: np.ndarray, dt: float, what: str, name: str) -> None:
    if np.any(np.isnan(tau)) or np.any(tau <= 0):
        raise ModelImportError(f"{what}: {name} must be > 0")
    if np.any(tau < dt * (1 - 1e-12)):
        raise ModelImportError(
            f"{what}: {name} = {float(np.min(tau)):.6g} s is shorter than dt = {dt:g} s, so forward Euler gives a "
            "negative decay; check that dt matches the exporter (docs/import.md)"
        )


def _reset(node: Any, what: str) -> np.ndarray:
    v_reset = getattr(node, "v_reset", None)
    v_reset = np.zeros(()) if v_reset is None else _arr(v_reset)
    if np.any(v_reset != 0):
        raise ModelImportError(
            f"{what}: v_reset = {float(v_reset.reshape(-1)[np.argmax(v_reset.reshape(-1) != 0)])} != 0; neuroemu "
            "resets the membrane to 0 (shift v_leak, v_threshold and v_reset so that v_reset is 0)"
        )
    return v_reset


def _snap(scale: np.ndarray, itemsize: int) -> np.ndarray:
    """Exporters write ``r = tau/dt`` so that ``r dt/tau`` is 1 up to rounding: make that exactly 1."""
    scale = np.array(scale, dtype=np.float64)
    scale[np.abs(scale - 1.0) <= _SCALE_SNAP[itemsize]] = 1.0
    return scale


# -- export ----------------------------------------------------------------------------------------------


def to_nir(network: Network, path: Any = None, *, dt: float | None = None) -> Any:
    """The network as a ``nir.NIRGraph`` (written to ``path`` with ``nir.write`` when given).

    Each population becomes a ``LIF`` node (``tau = dt/(1-beta)``, ``r = tau/dt`` so that the input scale
    is 1, ``v_leak = 0``, ``v_reset = 0``) or, where every ``beta == 1``, an ``IF`` node (``r = 1/dt``); each
    projection a ``Linear`` node with its dense weight matrix; a population's bias becomes the bias of an
    ``Affine`` node on its first incoming edge (or on an all-zero edge from the input). Subtract reset and
    populations mixing ``beta == 1`` with ``beta < 1`` cannot be written and raise
    :class:`~neuroemu.errors.ModelExportError`; refractoriness is not part of NIR and is dropped.
    """
    nir = _nir()
    step = network.dt if dt is None else _positive_dt(dt, "dt")
    names = _unique_names(network)
    nodes: dict[str, Any] = {"input": nir.Input(input_type=np.array([network.n_inputs]))}
    edges: list[tuple[str, str]] = []
    for index, pop in enumerate(network.populations):
        name = names[index]
        if pop.reset != "zero":
            raise ModelExportError(
                f"population {index} ({name!r}) uses reset={pop.reset!r}; NIR neurons reset to v_reset, so only "
                "reset='zero' can be written"
            )
        threshold = np.asarray(pop.threshold, dtype=np.float64)
        if np.all(pop.beta == 1.0):
            nodes[name] = nir.IF(r=np.full(pop.size, 1.0 / step), v_threshold=threshold.copy(),
                                 v_reset=np.zeros(pop.size))
        elif np.any(pop.beta == 1.0):
            raise ModelExportError(
                f"population {index} ({name!r}) mixes non-leaky (beta == 1) and leaky neurons; NIR's LIF cannot "
                "state an infinite time constant with a non-zero input, and IF has no leak"
            )
        else:
            tau = step / (1.0 - pop.beta)
            nodes[name] = nir.LIF(tau=tau, r=tau / step, v_leak=np.zeros(pop.size), v_threshold=threshold.copy(),
                                  v_reset=np.zeros(pop.size))
    biased = {i for i, pop in enumerate(network.populations) if np.any(pop.bias != 0)}
    for k, proj in enumerate(network.projections):
        n_targets = network.populations[proj.target].size
        weight = proj.to_dense(n_targets)
        source = "input" if proj.source < 0 else names[proj.source]
        wname = f"w{k}_{source}_to_{names[proj.target]}"
        if proj.target in biased:
            nodes[wname] = nir.Affine(weight=weight, bias=network.populations[proj.target].bias.copy())
            biased.discard(proj.target)
        else:
            nodes[wname] = nir.Linear(weight=weight)
        edges += [(source, wname), (wname, names[proj.target])]
    for target in sorted(biased):  # biased populations without incoming synapses
        pop = network.populations[target]
        wname = f"bias_to_{names[target]}"
        nodes[wname] = nir.Affine(weight=np.zeros((pop.size, network.n_inputs)), bias=pop.bias.copy())
        edges += [("input", wname), (wname, names[target])]
    nodes["output"] = nir.Output(output_type=np.array([network.populations[-1].size]))
    edges.append((names[len(network.populations) - 1], "output"))
    graph = nir.NIRGraph(nodes=nodes, edges=edges, metadata={"source": "neuroemu", "dt": step})
    if path is not None:
        nir.write(os.fspath(path), graph)
    return graph


def _unique_names(network: Network) -> list[str]:
    names: list[str] = []
    taken = {"input", "output"}
    for index, pop in enumerate(network.populations):
        base = "".join(c if (c.isalnum() or c in "_-") else "_" for c in (pop.name or "")) or f"pop{index}"
        name = base
        while name in taken:
            name = f"{base}_{index}"
            base = name
        taken.add(name)
        names.append(name)
    return names
