"""PyTorch side of neuroemu: a LIF layer and a differentiable simulator of the step model.

- :class:`LIF`: leaky integrate-and-fire layer (reset to zero or by subtraction, refractory until the next
  bin, surrogate gradient), the spiking layer of the models neuroemu trains and deploys.
- :func:`simulate`: runs an ``nn.Sequential`` of ``Linear`` / ``Conv2d`` / ``AvgPool2d`` / ``Flatten``
  layers and ``LIF`` layers under the ``sync``, ``random``, ``momentum`` or ``fifo`` schedule with group
  size ``F``, batched, on CPU or CUDA, and returns differentiable output spike counts.
- :mod:`~neuroemu.torch.surrogate`: ``ATan`` and ``FastSigmoid`` surrogate gradients.

``import neuroemu`` does not import PyTorch; this subpackage does (``pip install "neuroemu[torch]"``).
See docs/training.md.
"""

from __future__ import annotations

from ..errors import MissingDependencyError

try:
    import torch as _torch  # noqa: F401
except ImportError as _exc:  # pragma: no cover - exercised only without torch
    raise MissingDependencyError(
        'neuroemu.torch needs PyTorch, which is not installed: pip install "neuroemu[torch]"'
    ) from _exc

from .lif import LIF, RESETS
from .simulator import SCHEDULES, SimulationResult, model_populations, simulate
from .surrogate import SURROGATES, ATan, FastSigmoid, Surrogate, get_surrogate, spike

__all__ = [
    "LIF",
    "RESETS",
    "SCHEDULES",
    "SURROGATES",
    "ATan",
    "FastSigmoid",
    "SimulationResult",
    "Surrogate",
    "get_surrogate",
    "model_populations",
    "simulate",
    "spike",
]
