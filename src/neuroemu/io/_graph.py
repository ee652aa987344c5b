"""Assembles a :class:`~neuroemu.Network` from a graph of spiking and linear nodes.

Both importers (PyTorch and NIR) translate their model into this graph: input nodes, spiking neuron
nodes, linear op nodes (``y = A x + b``, see :mod:`.linear_ops`) and one output node, joined by edges
whose values are summed at the receiving node. The assembler

1. infers every node's shape from the inputs;
2. composes the linear ops between spiking nodes (pool -> flatten -> conv, sums of branches) into one
   sparse matrix per (source, target) pair of spiking nodes, plus a constant current that becomes the
   target's bias;
3. orders the populations so that every edge goes forward where it can: in a cycle, the population
   reached first from the input comes first, and the edges that close the cycle carry the previous
   bin's spikes (docs/semantics.md, "Layer-synchronous schedule"); the output population comes last.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import scipy.sparse as sp  # type: ignore[import-untyped]
from numpy.typing import NDArray

from ..errors import ConfigError, ModelImportError
from ..network import Network, Population, Projection, _fan_out
from .linear_ops import AffineOp

__all__ = ["InputNode", "NeuronNode", "OpNode", "OutputNode", "assemble"]


@dataclass
class InputNode:
    name: str
    shape: tuple[int, ...]


@dataclass
class OutputNode:
    name: str


@dataclass
class NeuronNode:
    """A spiking population. Parameters are scalars or arrays broadcastable to ``shape``.

    ``input_scale`` multiplies everything that arrives at the node (weights and constant currents);
    ``bias`` is added once per bin after the leak.
    """

    name: str
    kind: str
    shape: tuple[int, ...] | None
    threshold: Any
    beta: Any
    bias: Any = 0.0
    input_scale: Any = 1.0
    reset: str = "zero"
    refractory: bool = True


@dataclass
class OpNode:
    """A linear op; ``build(in_shape)`` returns its :class:`AffineOp` (raising ValueError if it does not fit).

    ``reshape_only`` marks ops that only relabel the shape (flatten, identity): they may stand between the
    output population and the output node.
    """

    name: str
    kind: str
    build: Callable[[tuple[int, ...]], AffineOp]
    reshape_only: bool = False
    op: AffineOp | None = field(default=None, repr=False)


Node = InputNode | OutputNode | NeuronNode | OpNode


def _describe(node: Node) -> str:
    kind = getattr(node, "kind", type(node).__name__.replace("Node", ""))
    return f"{kind} node {node.name!r}"


def _neuron_array(node: NeuronNode, value: Any, what: str, shape: tuple[int, ...]) -> NDArray[np.float64]:
    try:
        array = np.asarray(value, dtype=np.float64)
        return np.ascontiguousarray(np.broadcast_to(array, shape).reshape(-1))
    except (TypeError, ValueError) as exc:
        raise ModelImportError(
            f"{_describe(node)}: {what} of shape {np.shape(value)} does not fit the layer shape {shape}"
        ) from exc


class _Value:
    """A node's output as a sum over sources: ``sum_s matrices[s] @ x_s + bias``."""

    def __init__(self, n: int) -> None:
        self.n = n
        self.matrices: dict[str, sp.csr_matrix] = {}
        self.bias: NDArray[np.float64] | None = None

    def add(self, other: _Value) -> None:
        for source, matrix in other.matrices.items():
            self.matrices[source] = matrix if source not in self.matrices else self.matrices[source] + matrix
        if other.bias is not None:
            self.bias = other.bias.copy() if self.bias is None else self.bias + other.bias

    def through(self, op: AffineOp) -> _Value:
        out = _Value(op.n_out)
        out.matrices = {s: sp.csr_matrix(op.matrix @ m) for s, m in self.matrices.items()}
        if self.bias is not None:
            out.bias = np.asarray(op.matrix @ self.bias, dtype=np.float64)
        if op.bias is not None:
            out.bias = op.bias.copy() if out.bias is None else out.bias + op.bias
        return out


def assemble(
    nodes: Sequence[Node],
    edges: Sequence[tuple[str, str]],
    *,
    dt: float,
    model: str,
) -> Network:
    """Builds the network; ``model`` names the source in error messages (e.g. ``"NIR graph"``)."""
    by_name: dict[str, Node] = {}
    for node in nodes:
        if node.name in by_name:
            raise ModelImportError(f"{model}: two nodes are named {node.name!r}")
        by_name[node.name] = node
    preds: dict[str, list[str]] = {name: [] for name in by_name}
    succs: dict[str, list[str]] = {name: [] for name in by_name}
    for src, dst in edges:
        for end in (src, dst):
            if end not in by_name:
                raise ModelImportError(f"{model}: edge ({src!r}, {dst!r}) names an unknown node {end!r}")
        if isinstance(by_name[src], OutputNode):
            raise ModelImportError(f"{model}: the output node {src!r} cannot have outgoing edges")
        if isinstance(by_name[dst], InputNode):
            raise ModelImportError(f"{model}: the input node {dst!r} cannot have incoming edges")
        preds[dst].append(src)
        succs[src].append(dst)

    inputs = [n for n in nodes if isinstance(n, InputNode)]
    outputs = [n for n in nodes if isinstance(n, OutputNode)]
    neurons = [n for n in nodes if isinstance(n, NeuronNode)]
    ops = [n for n in nodes if isinstance(n, OpNode)]
    if not inputs:
        raise ModelImportError(f"{model} has no input node")
    if len(outputs) != 1:
        raise ModelImportError(
            f"{model} has {len(outputs)} output nodes; neuroemu needs exactly one (its output population)"
        )
    if not neurons:
        raise ModelImportError(f"{model} has no spiking layer; neuroemu runs spiking neurons")

    shapes = _infer_shapes(by_name, preds, inputs, neurons, ops, model)
    op_order = _op_order(ops, preds, model)

    # Values of the linear ops, in dependency order, as sums over spiking/input sources.
    values: dict[str, _Value] = {}

    def value_of(name: str) -> _Value:
        node = by_name[name]
        if isinstance(node, OpNode):
            return values[name]
        n = int(np.prod(shapes[name], dtype=np.int64))
        v = _Value(n)
        v.matrices[name] = sp.identity(n, dtype=np.float64, format="csr")
        return v

    def incoming(name: str, n: int) -> _Value:
        total = _Value(n)
        for pred in preds[name]:
            v = value_of(pred)
            if v.n != n:
                raise ModelImportError(
                    f"{_describe(by_name[name])} receives {v.n} values from {pred!r}, expected {n}"
                )
            total.add(v)
        return total

    for op_node in op_order:
        assert op_node.op is not None
        values[op_node.name] = incoming(op_node.name, op_node.op.n_in).through(op_node.op)

    # The output population: the spiking node behind the output node (through reshapes only).
    out_node = outputs[0]
    out_name = _output_population(out_node, by_name, preds, model)

    # Synapses and biases of every population.
    sizes = {n.name: int(np.prod(shapes[n.name], dtype=np.int64)) for n in neurons}
    incoming_values: dict[str, _Value] = {}
    params: dict[str, dict[str, Any]] = {}
    for node in neurons:
        shape = shapes[node.name]
        threshold = _neuron_array(node, node.threshold, "threshold", shape)
        beta = _neuron_array(node, node.beta, "beta", shape)
        bias = _neuron_array(node, node.bias, "bias", shape)
        scale = _neuron_array(node, node.input_scale, "input scale", shape)
        if not np.all(np.isfinite(threshold) & (threshold > 0)):
            raise ModelImportError(f"{_describe(node)}: thresholds must be finite and > 0, got min {threshold.min()}")
        if not np.all((beta >= 0) & (beta <= 1)):
            raise ModelImportError(
                f"{_describe(node)}: the decay per bin beta must lie in [0, 1], got values in "
                f"[{beta.min()}, {beta.max()}] (check dt against the time constants)"
            )
        if not np.all(np.isfinite(scale)):
            raise ModelImportError(f"{_describe(node)}: the input scale is not finite")
        value = incoming(node.name, sizes[node.name])
        scaling = sp.diags(scale, format="csr")
        value.matrices = {s: sp.csr_matrix(scaling @ m) for s, m in value.matrices.items()}
        if value.bias is not None:
            bias = bias + scale * value.bias
        if not np.all(np.isfinite(bias)):
            raise ModelImportError(f"{_describe(node)}: the bias (constant input current) is not finite")
        incoming_values[node.name] = value
        params[node.name] = {"threshold": threshold, "beta": beta, "bias": bias}

    # Dependency graph between populations and the order of populations.
    feeds: dict[str, list[str]] = {n.name: [] for n in neurons}
    for node in neurons:
        for source, matrix in incoming_values[node.name].matrices.items():
            if source in feeds and matrix.count_nonzero() and node.name not in feeds[source]:
                feeds[source].append(node.name)
    if feeds[out_name]:
        raise ModelImportError(
            f"{_describe(by_name[out_name])} is the output layer but also feeds {feeds[out_name]}; neuroemu's "
            "output population has no outgoing synapses: add a separate (non-recurrent) output layer"
        )
    order = _population_order(neurons, incoming_values, out_name)
    index = {name: i for i, name in enumerate(order)}

    n_inputs = 0
    input_offsets: dict[str, int] = {}
    for node in inputs:
        input_offsets[node.name] = n_inputs
        n_inputs += int(np.prod(shapes[node.name], dtype=np.int64))

    populations: list[Population] = []
    projections: list[Projection] = []
    for target in order:
        node = by_name[target]
        assert isinstance(node, NeuronNode)
        p = params[target]
        shape = shapes[target]
        populations.append(
            Population(
                sizes[target],
                p["threshold"],
                p["beta"],
                p["bias"],
                node.reset,
                bool(node.refractory),
                name=target,
                shape=tuple(int(s) for s in shape),
            )
        )
        matrices = incoming_values[target].matrices
        input_parts = [(name, m) for name, m in matrices.items() if name in input_offsets]
        if input_parts:  # all input nodes together are the input channels, in node order
            combined = sp.csr_matrix((sizes[target], n_inputs))
            for name, m in input_parts:
                m = sp.csr_matrix(m)
                shifted = sp.csr_matrix(
                    (m.data, m.indices + input_offsets[name], m.indptr), shape=(sizes[target], n_inputs)
                )
                combined = combined + shifted
            _add_projection(projections, -1, index[target], combined, target, model)
        for source in sorted((s for s in matrices if s in index), key=index.__getitem__):
            _add_projection(projections, index[source], index[target], matrices[source], target, model)

    if n_inputs < 1:
        raise ModelImportError(f"{model}: the input has no channels")
    try:
        return Network(n_inputs, populations, projections, dt=dt)
    except ConfigError as exc:  # an engine limit the checks above did not foresee
        raise ModelImportError(f"{model} cannot be built as a neuroemu network: {exc}") from exc


def _add_projection(
    projections: list[Projection], source: int, target: int, matrix: sp.csr_matrix, name: str, model: str
) -> None:
    matrix = sp.csr_matrix(matrix)
    matrix.eliminate_zeros()
    if matrix.nnz == 0:
        return
    if not np.all(np.isfinite(matrix.data)):
        raise ModelImportError(f"{model}: the weights into {name!r} contain NaN or infinite values")
    _, _, indptr, indices, weights = _fan_out(matrix, f"weights into {name!r}")
    projections.append(Projection(source, target, indptr, indices, weights))


def _infer_shapes(
    by_name: dict[str, Node],
    preds: dict[str, list[str]],
    inputs: list[InputNode],
    neurons: list[NeuronNode],
    ops: list[OpNode],
    model: str,
) -> dict[str, tuple[int, ...]]:
    shapes: dict[str, tuple[int, ...]] = {}
    for source in inputs:
        if any(int(s) < 1 for s in source.shape) or len(source.shape) == 0:
            raise ModelImportError(f"{_describe(source)} has no valid shape: {source.shape}")
        shapes[source.name] = tuple(int(s) for s in source.shape)
    for neuron in neurons:
        if neuron.shape is not None:
            shapes[neuron.name] = tuple(int(s) for s in neuron.shape)
    pending: list[Node] = [n for n in neurons if n.shape is None]
    pending.extend(ops)
    progress = True
    while pending and progress:
        progress = False
        for node in list(pending):
            known = [shapes[p] for p in preds[node.name] if p in shapes]
            if isinstance(node, NeuronNode):
                if not known:
                    continue
                shapes[node.name] = known[0]
            else:
                assert isinstance(node, OpNode)
                if not preds[node.name]:
                    raise ModelImportError(f"{_describe(node)} has no input edge")
                if len(known) < len(preds[node.name]):
                    continue
                sizes = {int(np.prod(s, dtype=np.int64)) for s in known}
                if len(sizes) != 1:
                    raise ModelImportError(
                        f"{_describe(node)} receives inputs of different shapes {known}; NIR sums its inputs"
                    )
                try:
                    node.op = node.build(known[0])
                except ValueError as exc:
                    raise ModelImportError(
                        f"{_describe(node)} does not fit its input of shape {known[0]}: {exc}"
                    ) from exc
                shapes[node.name] = node.op.out_shape
            pending.remove(node)
            progress = True
    if pending:
        names = [n.name for n in pending]
        raise ModelImportError(
            f"{model}: cannot infer the shapes of nodes {names}: they are not reached from an input "
            "or form a cycle of linear nodes"
        )
    return shapes


def _op_order(ops: list[OpNode], preds: dict[str, list[str]], model: str) -> list[OpNode]:
    """Linear ops in dependency order; a cycle through linear ops alone has no defined value."""
    op_names = {n.name for n in ops}
    remaining = {n.name: sum(1 for p in preds[n.name] if p in op_names) for n in ops}
    by_name = {n.name: n for n in ops}
    order: list[OpNode] = []
    ready = [n.name for n in ops if remaining[n.name] == 0]
    succ: dict[str, list[str]] = {n: [] for n in op_names}
    for n in ops:
        for p in preds[n.name]:
            if p in op_names:
                succ[p].append(n.name)
    while ready:
        name = ready.pop(0)
        order.append(by_name[name])
        for s in succ[name]:
            remaining[s] -= 1
            if remaining[s] == 0:
                ready.append(s)
    if len(order) != len(ops):
        cyclic = sorted(name for name, count in remaining.items() if count > 0)
        raise ModelImportError(
            f"{model}: the linear nodes {cyclic} form a cycle without a spiking node; such a loop has no "
            "defined value in a time-stepped network"
        )
    return order


def _output_population(
    out_node: OutputNode, by_name: dict[str, Node], preds: dict[str, list[str]], model: str
) -> str:
    name = out_node.name
    while True:
        if len(preds[name]) != 1:
            raise ModelImportError(
                f"{model}: the output node {out_node.name!r} must be fed by exactly one spiking layer, "
                f"{name!r} has {len(preds[name])} inputs"
            )
        pred = by_name[preds[name][0]]
        if isinstance(pred, NeuronNode):
            return pred.name
        if isinstance(pred, OpNode) and pred.reshape_only:
            name = pred.name
            continue
        raise ModelImportError(
            f"{model}: the output node {out_node.name!r} is fed by {_describe(pred)}, not by a spiking layer; "
            "neuroemu's output is the spikes of its last population: end the model with a spiking layer "
            "(e.g. LIF) after the last linear layer"
        )


def _population_order(neurons: list[NeuronNode], incoming: dict[str, _Value], out_name: str) -> list[str]:
    """Kahn's order over population dependencies; a cycle is broken at the population that is reached first."""
    names = [n.name for n in neurons if n.name != out_name]
    rank = {name: i for i, name in enumerate(names)}
    deps = {
        name: {s for s, m in incoming[name].matrices.items() if s in rank and s != name and m.count_nonzero()}
        for name in names
    }
    placed: list[str] = []
    placed_set: set[str] = set()
    sources_placed = set(
        s for name in names for s in incoming[name].matrices if s not in rank and s != out_name
    )  # input nodes
    while len(placed) < len(names):
        free = [n for n in names if n not in placed_set and deps[n] <= placed_set]
        if not free:
            # A cycle: take the remaining population fed by what is already placed (or by the input).
            remaining = [n for n in names if n not in placed_set]
            entered = [
                n for n in remaining if any(s in placed_set or s in sources_placed for s in incoming[n].matrices)
            ]
            free = [(entered or remaining)[0]]
        choice = min(free, key=rank.__getitem__)
        placed.append(choice)
        placed_set.add(choice)
    return [*placed, out_name]
