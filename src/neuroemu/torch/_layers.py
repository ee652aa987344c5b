"""A sequential spiking model as a chain of populations: linear maps between LIF layers.

The simulator sees a model as ``L`` populations; population ``l`` is a :class:`~neuroemu.torch.LIF`
layer and its incoming map is the composition of the ``Linear`` / ``Conv2d`` / ``AvgPool2d`` /
``Flatten`` / ``Unflatten`` / ``Identity`` modules in front of it. A map is affine: a weight matrix
(``W[i, j]`` from source ``j`` to neuron ``i``, neurons in C order of the activation shape) plus a bias
that the step model adds once per bin.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as nnf
from torch import nn

from ..errors import ModelImportError
from .lif import LIF
from .surrogate import Surrogate

__all__ = ["Population", "parse_model", "Params", "population_params"]

_LINEAR = (nn.Linear, nn.Conv2d, nn.AvgPool2d, nn.Flatten, nn.Unflatten, nn.Identity)


@dataclass(frozen=True)
class Population:
    """One LIF layer with the modules that compute its input current."""

    index: int
    name: str
    modules: tuple[nn.Module, ...]
    lif: LIF
    in_shape: tuple[int, ...]
    out_shape: tuple[int, ...]

    @property
    def n_in(self) -> int:
        return _numel(self.in_shape)

    @property
    def size(self) -> int:
        return _numel(self.out_shape)


def _numel(shape: Sequence[int]) -> int:
    n = 1
    for s in shape:
        n *= int(s)
    return n


def _flatten(model: Any, prefix: str = "") -> list[tuple[str, nn.Module]]:
    """(name, module) of the leaf layers in execution order; nested Sequentials are flattened."""
    if isinstance(model, (nn.Sequential, nn.ModuleList, list, tuple)):
        items = model.named_children() if isinstance(model, nn.Module) else ((str(i), m) for i, m in enumerate(model))
        out: list[tuple[str, nn.Module]] = []
        for name, child in items:
            out.extend(_flatten(child, f"{prefix}{name}."))
        return out
    return [(prefix[:-1] if prefix else type(model).__name__, model)]


def apply_linear(modules: Sequence[nn.Module], x: torch.Tensor, *, bias: bool) -> torch.Tensor:
    """Applies the modules to a batch ``x``; ``bias=False`` leaves every bias out (the linear part)."""
    for m in modules:
        if isinstance(m, nn.Linear):
            x = nnf.linear(x, m.weight, m.bias if bias else None)
        elif isinstance(m, nn.Conv2d):
            x = nnf.conv2d(x, m.weight, m.bias if bias else None, m.stride, m.padding, m.dilation, m.groups)
        else:
            x = m(x)
    return x


def parse_model(model: Any, input_shape: Sequence[int]) -> list[Population]:
    """Splits a sequential model into populations; checks every module and shape.

    Raises
    ------
    ModelImportError
        For an unsupported module, a model that does not end with a LIF layer, two LIF layers in a row,
        or shapes that do not fit (each message names the layer).
    """
    layers = _flatten(model)
    shape = tuple(int(s) for s in input_shape)
    pops: list[Population] = []
    pending: list[nn.Module] = []
    pending_names: list[str] = []
    block_in = shape
    for name, module in layers:
        if isinstance(module, LIF):
            if not pending:
                raise ModelImportError(
                    f"LIF layer {name!r} has no Linear/Conv2d/AvgPool2d in front of it; every LIF layer needs "
                    "an incoming linear map"
                )
            if not any(isinstance(m, (nn.Linear, nn.Conv2d, nn.AvgPool2d)) for m in pending):
                raise ModelImportError(
                    f"LIF layer {name!r} is fed only by reshapes ({', '.join(pending_names)}); put a Linear, "
                    "Conv2d or AvgPool2d in front of it"
                )
            _check_param(module.beta, "beta", shape, name)
            _check_param(module.threshold, "threshold", shape, name)
            pops.append(Population(len(pops), name, tuple(pending), module, block_in, shape))
            pending, pending_names, block_in = [], [], shape
            continue
        if not isinstance(module, _LINEAR):
            raise ModelImportError(
                f"layer {name!r} ({type(module).__name__}) is not supported by the step-model simulator; it takes "
                "Linear, Conv2d, AvgPool2d, Flatten, Unflatten and Identity layers, each group followed by a "
                "neuroemu.torch.LIF layer"
            )
        if isinstance(module, nn.Conv2d) and module.padding_mode != "zeros":
            raise ModelImportError(f"layer {name!r}: padding_mode={module.padding_mode!r} (only zero padding)")
        if isinstance(module, nn.AvgPool2d) and module.ceil_mode:
            raise ModelImportError(f"layer {name!r}: AvgPool2d with ceil_mode=True is not supported")
        try:
            with torch.no_grad():
                probe = torch.zeros((1, *shape), dtype=_param_dtype(module), device=_param_device(module))
                shape = tuple(apply_linear([module], probe, bias=False).shape[1:])
        except (RuntimeError, ValueError) as exc:
            raise ModelImportError(
                f"layer {name!r} ({type(module).__name__}) does not fit input shape {shape}: {exc}"
            ) from exc
        pending.append(module)
        pending_names.append(name)
    if pending:
        raise ModelImportError(
            f"the model ends with {', '.join(repr(n) for n in pending_names)} after its last LIF layer; the output "
            "of a spiking model is the spikes of its last LIF layer"
        )
    if not pops:
        raise ModelImportError("the model has no neuroemu.torch.LIF layer")
    return pops


def _param_dtype(module: nn.Module) -> torch.dtype:
    for p in module.parameters():
        return p.dtype
    return torch.get_default_dtype()


def _param_device(module: nn.Module) -> torch.device:
    for p in module.parameters():
        return p.device
    return torch.device("cpu")


def _check_param(value: Any, what: str, shape: tuple[int, ...], name: str) -> None:
    if isinstance(value, torch.Tensor):
        try:
            torch.broadcast_shapes(value.shape, shape)  # type: ignore[no-untyped-call]
        except RuntimeError as exc:
            raise ModelImportError(
                f"LIF layer {name!r}: {what} of shape {tuple(value.shape)} does not broadcast to the layer "
                f"shape {shape}"
            ) from exc
        if torch.broadcast_shapes(value.shape, shape) != torch.Size(shape):  # type: ignore[no-untyped-call]
            raise ModelImportError(
                f"LIF layer {name!r}: {what} of shape {tuple(value.shape)} is larger than the layer shape {shape}"
            )


@dataclass
class Params:
    """The numbers of one population as flat tensors (neurons in C order); ``weight_t`` is (n_in, n)."""

    weight_t: torch.Tensor
    bias: torch.Tensor | None
    beta: torch.Tensor
    threshold: torch.Tensor
    zero_reset: bool
    refractory: bool
    surrogate: Surrogate
    dense: bool  # every weight is non-zero: every neuron receives whenever any source is delivered


def _per_neuron(value: Any, shape: tuple[int, ...], dtype: torch.dtype, device: torch.device) -> torch.Tensor:
    t = torch.as_tensor(value, dtype=dtype, device=device) if not isinstance(value, torch.Tensor) else value.to(
        dtype=dtype, device=device
    )
    return torch.broadcast_to(t, shape).reshape(-1)


def effective_weight_t(pop: Population, dtype: torch.dtype, device: torch.device) -> torch.Tensor:
    """The population's weight matrix transposed, ``(n_in, n)``, differentiable in the module parameters."""
    if len(pop.modules) == 1 and isinstance(pop.modules[0], nn.Linear):
        return pop.modules[0].weight.to(dtype=dtype, device=device).t()
    eye = torch.eye(pop.n_in, dtype=dtype, device=device).reshape(pop.n_in, *pop.in_shape)
    return apply_linear(pop.modules, eye, bias=False).reshape(pop.n_in, pop.size)


def effective_bias(pop: Population, dtype: torch.dtype, device: torch.device) -> torch.Tensor | None:
    """The population's bias (added once per bin), or None when no module has one."""
    if not any(getattr(m, "bias", None) is not None for m in pop.modules if isinstance(m, (nn.Linear, nn.Conv2d))):
        return None
    if len(pop.modules) == 1:
        raw = pop.modules[0].bias
        assert isinstance(raw, torch.Tensor)
        b = raw.to(dtype=dtype, device=device)
        if isinstance(pop.modules[0], nn.Conv2d):
            return torch.broadcast_to(b[:, None, None], pop.out_shape).reshape(-1)
        return b
    zero = torch.zeros((1, *pop.in_shape), dtype=dtype, device=device)
    return apply_linear(pop.modules, zero, bias=True).reshape(-1)


def population_params(pop: Population, dtype: torch.dtype, device: torch.device) -> Params:
    """Flat, differentiable parameters of a population in ``dtype`` on ``device``."""
    w = effective_weight_t(pop, dtype, device)
    lif = pop.lif
    return Params(
        weight_t=w,
        bias=effective_bias(pop, dtype, device),
        beta=_per_neuron(lif.beta, pop.out_shape, dtype, device),
        threshold=_per_neuron(lif.threshold, pop.out_shape, dtype, device),
        zero_reset=lif.reset == "zero",
        refractory=bool(lif.refractory),
        surrogate=lif.surrogate,
        dense=bool(torch.all(w.detach() != 0)),
    )
