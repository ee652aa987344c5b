"""Surrogate gradients of the spike function.

A spike is the Heaviside step ``s = H(x)`` of the distance to threshold ``x = u - theta`` (``H(0) = 0``:
the threshold test is strict). Its derivative is zero almost everywhere, so training replaces it in the
backward pass by a smooth surrogate ``sigma'(x)``:

- ``ATan(alpha)`` (Fang et al. 2021; snnTorch's ``surrogate.atan``):
  ``sigma'(x) = (alpha / 2) / (1 + (pi / 2 * alpha * x) ** 2)``, default ``alpha = 2``.
- ``FastSigmoid(slope)`` (Zenke & Ganguli 2018, "SuperSpike"; snnTorch's ``surrogate.fast_sigmoid``):
  ``sigma'(x) = 1 / (1 + slope * |x|) ** 2``, default ``slope = 25``.

:func:`spike` applies a surrogate; it can also return a given forward value (the simulator replays
spikes it has already decided, see ``neuroemu.torch.simulator``) while the gradient is the surrogate's.
"""

from __future__ import annotations

import math
from typing import Any

import torch

from ..errors import ConfigError, NeuroemuTypeError

__all__ = ["Surrogate", "ATan", "FastSigmoid", "SURROGATES", "get_surrogate", "spike"]


class Surrogate:
    """A surrogate derivative ``sigma'(x)`` of the Heaviside spike function."""

    name = "surrogate"

    def derivative(self, x: torch.Tensor) -> torch.Tensor:  # pragma: no cover - abstract
        raise NotImplementedError

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        """``H(x)`` in the forward pass, ``sigma'(x)`` in the backward pass."""
        return spike(x, self)

    def __eq__(self, other: object) -> bool:
        return type(self) is type(other) and self.__dict__ == other.__dict__

    def __hash__(self) -> int:
        return hash((type(self).__name__, tuple(sorted(self.__dict__.items()))))


class ATan(Surrogate):
    """Arctangent surrogate: ``sigma'(x) = (alpha/2) / (1 + (pi/2 * alpha * x)^2)``.

    It is the derivative of ``arctan(pi/2 * alpha * x) / pi + 1/2``; ``alpha`` sets its width.
    """

    name = "atan"

    def __init__(self, alpha: float = 2.0) -> None:
        self.alpha = _positive(alpha, "alpha")

    def derivative(self, x: torch.Tensor) -> torch.Tensor:
        a = self.alpha
        return (a / 2.0) / (1.0 + (math.pi / 2.0 * a * x) ** 2)

    def __repr__(self) -> str:
        return f"ATan(alpha={self.alpha:g})"


class FastSigmoid(Surrogate):
    """Fast-sigmoid (SuperSpike) surrogate: ``sigma'(x) = 1 / (1 + slope * |x|)^2``."""

    name = "fast_sigmoid"

    def __init__(self, slope: float = 25.0) -> None:
        self.slope = _positive(slope, "slope")

    def derivative(self, x: torch.Tensor) -> torch.Tensor:
        return 1.0 / (1.0 + self.slope * x.abs()) ** 2

    def __repr__(self) -> str:
        return f"FastSigmoid(slope={self.slope:g})"


#: Names accepted by :func:`get_surrogate` and by ``LIF(surrogate=...)``, with their classes.
SURROGATES: dict[str, Any] = {"atan": ATan, "fast_sigmoid": FastSigmoid}


def get_surrogate(surrogate: str | Surrogate, alpha: float | None = None) -> Surrogate:
    """A :class:`Surrogate` from a name (``"atan"``, ``"fast_sigmoid"``) and its parameter, or as given.

    ``alpha`` is the width parameter: ATan's ``alpha`` (default 2) or the fast sigmoid's ``slope``
    (default 25).
    """
    if isinstance(surrogate, Surrogate):
        if alpha is not None:
            raise ConfigError("alpha applies to a surrogate given by name, not to a Surrogate object")
        return surrogate
    if not isinstance(surrogate, str):
        raise NeuroemuTypeError(f"surrogate must be a name or a Surrogate, got {type(surrogate).__name__}")
    if surrogate not in SURROGATES:
        raise ConfigError(f"surrogate must be one of {tuple(SURROGATES)}, got {surrogate!r}")
    cls = SURROGATES[surrogate]
    made: Surrogate = cls() if alpha is None else cls(alpha)
    return made


def _positive(value: Any, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise NeuroemuTypeError(f"{name} must be a number, got {type(value).__name__}")
    if not (math.isfinite(value) and value > 0):
        raise ConfigError(f"{name} must be finite and > 0, got {value}")
    return float(value)


class _SpikeFunction(torch.autograd.Function):
    """Forward: ``value`` if given, else ``H(x)``; backward: ``grad * sigma'(x)``."""

    @staticmethod
    def forward(ctx: Any, x: torch.Tensor, surrogate: Surrogate, value: torch.Tensor | None) -> torch.Tensor:
        ctx.save_for_backward(x)
        ctx.surrogate = surrogate
        if value is None:
            return (x > 0).to(x.dtype)
        return value.to(x.dtype)

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[torch.Tensor | None, None, None]:
        (x,) = ctx.saved_tensors
        return grad * ctx.surrogate.derivative(x), None, None


def spike(x: torch.Tensor, surrogate: Surrogate, value: torch.Tensor | None = None) -> torch.Tensor:
    """The spike function ``H(x)`` (strict: ``x > 0``) with the gradient of ``surrogate``.

    Parameters
    ----------
    x : torch.Tensor
        Distance to threshold, ``u - theta``.
    surrogate : Surrogate
        Supplies ``sigma'(x)`` for the backward pass.
    value : torch.Tensor, optional
        The forward value to return instead of ``H(x)`` (spikes already decided elsewhere, with the same
        shape as ``x``); the gradient is still ``sigma'(x)``.
    """
    out: torch.Tensor = _SpikeFunction.apply(x, surrogate, value)  # type: ignore[no-untyped-call]
    return out
