"""``Network.from_torch``: sequential PyTorch / snnTorch models as neuroemu networks.

Supported layers, in an ``nn.Sequential`` (nested Sequentials are flattened) or a list of modules:

- linear: ``nn.Linear``, ``nn.Conv2d`` (stride, padding incl. ``"same"``/``"valid"``, dilation,
  groups; zero padding), ``nn.AvgPool2d`` (``divisor_override=1`` is sum pooling), ``nn.Flatten``,
  ``nn.Unflatten``, ``nn.Identity``, ``nn.Dropout`` (an identity at inference);
- spiking: snnTorch ``Leaky`` and ``RLeaky``, and neuroemu's own ``neuroemu.torch.LIF``.

The linear layers between two spiking layers are composed into one sparse projection (a convolution
becomes fan-out lists, never a dense matrix); a bias becomes the target population's bias, added once
per bin -- exactly what a time-stepped forward pass does when the bias is part of the current each step.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from ..errors import MissingDependencyError, ModelImportError
from ..network import Network
from . import linear_ops
from ._graph import InputNode, NeuronNode, Node, OpNode, OutputNode, assemble

__all__ = ["from_torch"]


def _torch() -> Any:
    try:
        import torch
    except ImportError as exc:  # pragma: no cover - exercised only without torch
        raise MissingDependencyError(
            "Network.from_torch needs PyTorch: pip install 'neuroemu[torch]'"
        ) from exc
    return torch


def _numpy(value: Any) -> np.ndarray:
    """A tensor, number or array as a float64 numpy array."""
    if hasattr(value, "detach"):
        value = value.detach().cpu().double().numpy()
    return np.asarray(value, dtype=np.float64)


def _flatten_modules(module: Any, torch: Any, prefix: str = "") -> list[tuple[str, Any]]:
    nn = torch.nn
    if isinstance(module, nn.Sequential):
        out = []
        for name, child in module.named_children():
            out.extend(_flatten_modules(child, torch, f"{prefix}{name}."))
        return out
    return [(prefix[:-1] if prefix else type(module).__name__, module)]


def _class_path(module: Any) -> str:
    cls = type(module)
    return f"{cls.__module__}.{cls.__qualname__}"


def _is_snntorch(module: Any, name: str) -> bool:
    return type(module).__name__ == name and type(module).__module__.startswith("snntorch")


def _is_neuroemu_lif(module: Any) -> bool:
    cls = type(module)
    return (
        cls.__name__ == "LIF"
        and cls.__module__.startswith("neuroemu.torch")
        and all(hasattr(module, a) for a in ("beta", "threshold", "reset", "refractory"))
    )


def from_torch(
    module: Any,
    input_shape: Sequence[int] | int,
    *,
    dt: float,
    refractory: bool | None = None,
) -> Network:
    """Imports a sequential PyTorch model with spiking layers (see the module docstring).

    Parameters
    ----------
    module : torch.nn.Sequential or list of torch.nn.Module
        The layers in execution order.
    input_shape : tuple of int
        Shape of one input sample per time step, without the batch dimension (e.g. ``(1, 28, 28)``
        or ``(64,)``); the network's input channels are its elements in C order.
    dt : float
        Bin width in seconds (snnTorch's ``beta`` is a decay per time step: it is stored as given).
    refractory : bool, optional
        Refractoriness of snnTorch layers (default True; it only matters in asynchronous schedules,
        a time-stepped layer fires at most once per step). neuroemu LIF layers keep their own setting
        unless this is given.
    """
    torch = _torch()
    if isinstance(input_shape, (int, np.integer)):
        input_shape = (int(input_shape),)
    shape = tuple(int(s) for s in input_shape)
    if not shape or any(s < 1 for s in shape):
        raise ModelImportError(f"input_shape must be a tuple of positive ints, got {input_shape!r}")
    if isinstance(module, (list, tuple)):
        layers = []
        for i, m in enumerate(module):
            layers.extend(_flatten_modules(m, torch, f"{i}.") if isinstance(m, torch.nn.Sequential) else [(str(i), m)])
    elif isinstance(module, torch.nn.Sequential):
        layers = _flatten_modules(module, torch)
    else:
        raise ModelImportError(
            f"from_torch takes an nn.Sequential or a list of layers in execution order, got "
            f"{type(module).__name__}; wrap the layers of your model's forward() in nn.Sequential"
        )

    nodes: list[Node] = [InputNode("input", shape)]
    edges: list[tuple[str, str]] = []
    previous = "input"
    last_neuron: str | None = None
    trailing_linear: str | None = None
    for name, layer in layers:
        new_nodes = _translate(name, layer, shape, torch, refractory)
        if new_nodes is None:  # identity
            continue
        node, shape, extra = new_nodes
        nodes.append(node)
        edges.append((previous, node.name))
        for extra_node, extra_edges in extra:
            nodes.append(extra_node)
            edges.extend(extra_edges)
        previous = node.name
        if isinstance(node, NeuronNode):
            last_neuron, trailing_linear = node.name, None
        elif not (isinstance(node, OpNode) and node.reshape_only):
            trailing_linear = node.name
    if last_neuron is None:
        raise ModelImportError("the model has no spiking layer (snnTorch Leaky/RLeaky or neuroemu.torch.LIF)")
    if trailing_linear is not None:
        raise ModelImportError(
            f"the model ends with linear layer {trailing_linear!r} after its last spiking layer; neuroemu's output "
            "is the spikes of the last spiking layer: add a spiking layer after it, or remove it"
        )
    nodes.append(OutputNode("output"))
    edges.append((previous, "output"))
    return assemble(nodes, edges, dt=dt, model="PyTorch model")


def _translate(
    name: str, layer: Any, shape: tuple[int, ...], torch: Any, refractory: bool | None
) -> tuple[Node, tuple[int, ...], list[tuple[Node, list[tuple[str, str]]]]] | None:
    nn = torch.nn
    what = f"layer {name!r} ({_class_path(layer)})"

    def fail(reason: str) -> ModelImportError:
        return ModelImportError(f"{what}: {reason}")

    def op(build: Any, reshape_only: bool = False) -> tuple[Node, tuple[int, ...], list[Any]]:
        try:
            built = build(shape)
        except ValueError as exc:
            raise fail(f"does not fit its input of shape {shape}: {exc}") from exc
        node = OpNode(name, _class_path(layer), _constant(built), reshape_only=reshape_only)
        return node, built.out_shape, []

    if isinstance(layer, (nn.Identity, nn.Dropout, nn.Dropout1d, nn.Dropout2d)):
        return None
    if isinstance(layer, nn.Linear):
        if len(shape) != 1:
            raise fail(f"gets input of shape {shape}; neuroemu applies Linear to flat inputs: add nn.Flatten() first")
        if shape[0] != layer.in_features:
            raise fail(f"expects {layer.in_features} inputs, gets {shape[0]}")
        bias = None if layer.bias is None else _numpy(layer.bias)
        return op(lambda s: linear_ops.dense(_numpy(layer.weight), bias))
    if isinstance(layer, nn.Conv2d):
        if layer.padding_mode != "zeros":
            raise fail(f"padding_mode={layer.padding_mode!r} is not supported (only zero padding)")
        bias = None if layer.bias is None else _numpy(layer.bias)
        return op(
            lambda s: linear_ops.conv2d(
                _numpy(layer.weight),
                s,
                stride=layer.stride,
                padding=layer.padding,
                dilation=layer.dilation,
                groups=layer.groups,
                bias=bias,
            )
        )
    if isinstance(layer, nn.AvgPool2d):
        if layer.ceil_mode:
            raise fail("ceil_mode=True is not supported")
        return op(
            lambda s: linear_ops.avg_pool2d(
                s,
                layer.kernel_size,
                stride=layer.stride if layer.stride not in (None, ()) else None,
                padding=layer.padding,
                divisor=layer.divisor_override,
                count_include_pad=layer.count_include_pad,
            )
        )
    if isinstance(layer, nn.Flatten):
        return op(lambda s: linear_ops.reshape(s, _flattened(s, layer.start_dim, layer.end_dim)), reshape_only=True)
    if isinstance(layer, nn.Unflatten):
        return op(
            lambda s: linear_ops.reshape(s, _unflattened(s, layer.dim, layer.unflattened_size)), reshape_only=True
        )
    if _is_snntorch(layer, "Leaky"):
        return _snntorch_leaky(name, layer, shape, refractory, fail), shape, []
    if _is_snntorch(layer, "RLeaky"):
        return _snntorch_rleaky(name, layer, shape, refractory, fail, torch)
    if _is_neuroemu_lif(layer):
        node = NeuronNode(
            name,
            _class_path(layer),
            shape,
            threshold=_numpy(layer.threshold),
            beta=_numpy(layer.beta),
            reset=str(layer.reset),
            refractory=bool(layer.refractory) if refractory is None else bool(refractory),
        )
        if node.reset not in ("zero", "subtract"):
            raise fail(f"reset={layer.reset!r} is not 'zero' or 'subtract'")
        return node, shape, []
    raise fail(
        "is not supported; from_torch takes Linear, Conv2d, AvgPool2d, Flatten, Unflatten, Identity, Dropout, "
        "snnTorch Leaky/RLeaky and neuroemu.torch.LIF"
    )


def _constant(op: linear_ops.AffineOp) -> Callable[[tuple[int, ...]], linear_ops.AffineOp]:
    """A build function for an op whose input shape is already known."""

    def build(_shape: tuple[int, ...]) -> linear_ops.AffineOp:
        return op

    return build


def _flattened(shape: tuple[int, ...], start_dim: int, end_dim: int) -> tuple[int, ...]:
    """``nn.Flatten`` dims count the batch dimension; ``shape`` does not have it."""
    full = (1, *shape)
    start = start_dim % len(full)
    end = end_dim % len(full)
    if start == 0:
        raise ValueError("flattening the batch dimension is not supported")
    merged = int(np.prod(full[start : end + 1], dtype=np.int64))
    return (*full[1:start], merged, *full[end + 1 :])


def _unflattened(shape: tuple[int, ...], dim: int | str, sizes: Any) -> tuple[int, ...]:
    if isinstance(dim, str):
        raise ValueError("named dimensions are not supported")
    full = list((1, *shape))
    d = dim % len(full)
    if d == 0:
        raise ValueError("unflattening the batch dimension is not supported")
    return tuple([*full[1:d], *(int(s) for s in sizes), *full[d + 1 :]])


def _check_snntorch_common(layer: Any, fail: Any) -> None:
    if getattr(layer, "inhibition", False):
        raise fail("inhibition=True (winner-take-all across the batch) has no neuroemu equivalent")
    if getattr(layer, "state_quant", False):
        raise fail("state_quant quantises the membrane potential, which neuroemu does not model")
    factor = _numpy(getattr(layer, "graded_spikes_factor", 1.0))
    if not np.all(factor == 1.0):
        raise fail("graded_spikes_factor != 1 (graded spikes) is not supported")


def _snntorch_params(layer: Any, shape: tuple[int, ...], fail: Any) -> tuple[np.ndarray, np.ndarray]:
    beta = np.clip(_numpy(layer.beta), 0.0, 1.0)  # snnTorch clamps beta to [0, 1] in its forward pass
    threshold = _numpy(layer.threshold)
    for what, value in (("beta", beta), ("threshold", threshold)):
        try:
            np.broadcast_to(value, shape)
        except ValueError as exc:
            raise fail(f"{what} of shape {value.shape} does not broadcast to the layer shape {shape}") from exc
    return beta, threshold


def _snntorch_leaky(
    name: str, layer: Any, shape: tuple[int, ...], refractory: bool | None, fail: Any
) -> NeuronNode:
    """snnTorch ``Leaky``: ``mem = beta*mem + input`` then spike iff ``mem > threshold``.

    - reset "zero": the reset to 0 (delayed to the next step's start with ``reset_delay=True``,
      immediate otherwise) gives the same spike trains as neuroemu's immediate reset to zero.
    - reset "subtract" with ``reset_delay=True`` (snnTorch's default): ``mem' = beta*mem + I - theta*s``,
      the threshold subtracted *after* the decay; neuroemu subtracts before the decay. The two agree
      exactly iff ``beta == 1``; otherwise the layer is refused.
    - reset "subtract" with ``reset_delay=False`` and reset "none" are refused.
    """
    _check_snntorch_common(layer, fail)
    beta, threshold = _snntorch_params(layer, shape, fail)
    reset = _snntorch_reset(layer, beta, fail)
    return NeuronNode(
        name,
        f"snntorch.{type(layer).__name__}",
        shape,
        threshold=threshold,
        beta=beta,
        reset=reset,
        refractory=True if refractory is None else bool(refractory),
    )


def _snntorch_reset(layer: Any, beta: np.ndarray, fail: Any, *, recurrent: bool = False) -> str:
    mechanism = getattr(layer, "reset_mechanism", "subtract")
    delay = bool(getattr(layer, "reset_delay", True))
    if mechanism == "zero":
        if recurrent and delay:
            raise fail(
                "RLeaky with reset_mechanism='zero' and reset_delay=True zeroes the membrane for the whole step "
                "after a spike, discarding that step's input; neuroemu's reset does not skip a step. Use "
                "reset_delay=False (an immediate reset to zero), which neuroemu reproduces exactly"
            )
        return "zero"
    if mechanism == "subtract":
        if not delay:
            raise fail(
                "reset_mechanism='subtract' with reset_delay=False subtracts the threshold again, one step late, "
                "while the potential stays above it; neuroemu cannot reproduce it. Use reset_mechanism='zero'"
            )
        if not np.all(beta == 1.0):
            raise fail(
                "snnTorch's default reset_mechanism='subtract' subtracts the threshold one step late and "
                "undecayed (mem = beta*mem + I - threshold*spike_prev), which matches neuroemu's subtract "
                f"reset only for beta == 1 (this layer has beta in [{beta.min()}, {beta.max()}]). "
                "Train with reset_mechanism='zero' (reproduced exactly), or use beta=1"
            )
        return "subtract"
    raise fail(f"reset_mechanism={mechanism!r} is not supported (use 'zero')")


def _snntorch_rleaky(
    name: str, layer: Any, shape: tuple[int, ...], refractory: bool | None, fail: Any, torch: Any
) -> tuple[Node, tuple[int, ...], list[tuple[Node, list[tuple[str, str]]]]]:
    """snnTorch ``RLeaky``: ``mem = beta*mem + input + recurrent(spk_prev)``.

    The recurrent connection (``nn.Linear``, ``nn.Conv2d`` or one-to-one ``V``) becomes a projection from
    the population to itself, which delivers the previous bin's spikes in the layer-synchronous schedule;
    its bias is a constant current, added to the population's bias.
    """
    _check_snntorch_common(layer, fail)
    beta, threshold = _snntorch_params(layer, shape, fail)
    reset = _snntorch_reset(layer, beta, fail, recurrent=True)
    neuron = NeuronNode(
        name,
        "snntorch.RLeaky",
        shape,
        threshold=threshold,
        beta=beta,
        reset=reset,
        refractory=True if refractory is None else bool(refractory),
    )
    rec = layer.recurrent
    nn = torch.nn
    try:
        if isinstance(rec, nn.Linear):
            if int(np.prod(shape)) != rec.in_features or rec.in_features != rec.out_features or len(shape) != 1:
                raise ValueError(f"recurrent Linear {rec.in_features}->{rec.out_features} does not fit shape {shape}")
            op = linear_ops.dense(_numpy(rec.weight), None if rec.bias is None else _numpy(rec.bias))
        elif isinstance(rec, nn.Conv2d):
            op = linear_ops.conv2d(
                _numpy(rec.weight),
                shape,
                stride=rec.stride,
                padding=rec.padding,
                dilation=rec.dilation,
                groups=rec.groups,
                bias=None if rec.bias is None else _numpy(rec.bias),
            )
            if op.out_shape != shape:
                raise ValueError(f"recurrent convolution maps {shape} to {op.out_shape}")
        elif type(rec).__name__ == "RecurrentOneToOne":
            op = linear_ops.scale(_numpy(rec.V), shape)
        else:
            raise ValueError(f"recurrent module {type(rec).__name__} is not supported")
    except ValueError as exc:
        raise fail(str(exc)) from exc
    rec_node = OpNode(f"{name}.recurrent", _class_path(rec), _constant(op))
    return neuron, shape, [(rec_node, [(name, rec_node.name), (rec_node.name, name)])]
