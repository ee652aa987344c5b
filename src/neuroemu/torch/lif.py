"""The leaky integrate-and-fire layer of neuroemu's PyTorch models."""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import nn

from ..errors import ConfigError, NeuroemuTypeError
from .surrogate import Surrogate, get_surrogate, spike

__all__ = ["LIF", "RESETS"]

RESETS = ("zero", "subtract")


class LIF(nn.Module):
    """A layer of leaky integrate-and-fire neurons, as the step model defines them (docs/semantics.md).

    Per time bin the potential leaks once, ``v <- beta * v``; a delivered current ``I`` gives
    ``u = v + I``; the neuron spikes iff ``u > threshold`` (strict) and then resets, to ``v = 0``
    (``reset="zero"``) or ``v = u - threshold`` (``"subtract"``). With ``refractory=True`` a neuron that
    spiked ignores further current until the next bin (this matters only in asynchronous schedules, where
    a neuron can receive several deliveries per bin). The reset is detached from the gradient.

    Used on its own, :meth:`forward` is one layer-synchronous time step (``mem = beta * mem + current``),
    like snnTorch's ``Leaky`` with ``reset_mechanism="zero"``. Inside an ``nn.Sequential`` of ``Linear`` /
    ``Conv2d`` / ``AvgPool2d`` / ``Flatten`` layers, :func:`neuroemu.torch.simulate` runs it under any
    schedule, and :func:`neuroemu.Network.from_torch` and :func:`neuroemu.training.to_network` deploy it.

    Parameters
    ----------
    beta : float or torch.Tensor
        Decay per bin in [0, 1] (``exp(-dt / tau)``): a scalar, or a tensor that broadcasts to the layer's
        activation shape without the batch axis (for example one value per neuron, or ``(C, 1, 1)`` per
        channel of a convolution).
    threshold : float or torch.Tensor
        Firing threshold (> 0), a scalar or a tensor like ``beta``.
    reset : {"zero", "subtract"}
    refractory : bool
    surrogate : {"atan", "fast_sigmoid"} or Surrogate
        Surrogate gradient of the spike function (see :mod:`neuroemu.torch.surrogate`).
    alpha : float, optional
        Width parameter of a surrogate given by name: ATan's ``alpha`` (default 2) or the fast sigmoid's
        slope (default 25).
    learn_beta, learn_threshold : bool
        Make ``beta`` / ``threshold`` trainable parameters (default: fixed buffers or floats).

    Attributes
    ----------
    beta, threshold : float or torch.Tensor
    reset : str
    refractory : bool
    surrogate : Surrogate
    """

    beta: float | torch.Tensor
    threshold: float | torch.Tensor

    def __init__(
        self,
        beta: float | torch.Tensor,
        threshold: float | torch.Tensor = 1.0,
        reset: str = "zero",
        refractory: bool = True,
        surrogate: str | Surrogate = "atan",
        alpha: float | None = None,
        *,
        learn_beta: bool = False,
        learn_threshold: bool = False,
    ) -> None:
        super().__init__()
        if not isinstance(reset, str) or reset not in RESETS:
            raise ConfigError(f"reset must be one of {RESETS}, got {reset!r}")
        if not isinstance(refractory, bool):
            raise NeuroemuTypeError(f"refractory must be a bool, got {type(refractory).__name__}")
        self.reset = reset
        self.refractory = refractory
        self.surrogate = get_surrogate(surrogate, alpha)
        self._set("beta", beta, learn_beta, lambda b: bool(torch.all((b >= 0) & (b <= 1))), "lie in [0, 1]")
        self._set("threshold", threshold, learn_threshold, lambda t: bool(torch.all(t > 0)), "be > 0")

    def _set(self, name: str, value: Any, learn: bool, ok: Any, rule: str) -> None:
        if isinstance(value, bool) or not isinstance(value, (int, float, torch.Tensor)):
            raise NeuroemuTypeError(f"{name} must be a float or a tensor, got {type(value).__name__}")
        if isinstance(value, torch.Tensor):
            tensor = value
        else:
            tensor = torch.as_tensor(value, dtype=torch.get_default_dtype())
        if not tensor.is_floating_point():
            tensor = tensor.to(torch.get_default_dtype())
        if not bool(torch.all(torch.isfinite(tensor.detach()))) or not ok(tensor.detach()):
            raise ConfigError(f"{name} must be finite and {rule}, got {value!r}")
        if learn:
            self.register_parameter(name, nn.Parameter(tensor.detach().clone()))
        elif isinstance(value, torch.Tensor):
            self.register_buffer(name, value.detach().clone())
        else:
            setattr(self, name, float(value))

    def forward(self, current: torch.Tensor, mem: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """One layer-synchronous time step: returns ``(spikes, new membrane potential)``.

        ``mem = beta * mem + current``; ``spikes = H(mem - threshold)`` with the surrogate gradient;
        reset detached. ``mem=None`` starts from zero.
        """
        u = current if mem is None else self.beta * mem + current
        s = spike(u - self.threshold, self.surrogate)
        held = s.detach()
        if self.reset == "zero":
            return s, u - held * u
        return s, u - held * self.threshold

    def extra_repr(self) -> str:
        def show(value: Any) -> str:
            if isinstance(value, torch.Tensor):
                return f"tensor{tuple(value.shape)}" if value.numel() != 1 else f"{float(value):g}"
            return f"{value:g}"

        return (
            f"beta={show(self.beta)}, threshold={show(self.threshold)}, reset={self.reset!r}, "
            f"refractory={self.refractory}, surrogate={self.surrogate!r}"
        )

    @staticmethod
    def beta_from_tau(tau: float, dt: float = 1.0) -> float:
        """``beta = exp(-dt / tau)`` (``tau`` and ``dt`` in the same unit; ``tau = inf`` gives 1)."""
        return math.exp(-dt / tau)
