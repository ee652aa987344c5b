"""neuroemu: a discrete-event emulator of asynchronous neuromorphic hardware.

Deploy a spiking neural network, run it layer-synchronously or asynchronously (random, momentum, fifo
schedules with group size F), and measure spikes, synaptic operations and forward steps per inference.
"""

from __future__ import annotations

from .deploy import Deployment, deploy
from .emulator import RECORD_MODES, SCHEDULES, Emulator
from .energy import EnergyBreakdown
from .errors import CapacityError, ConfigError, InputError, NeuroemuError, NeuroemuTypeError
from .hardware import CoreLimits, Cost, Hardware, OperationCosts
from .network import Network, Population, Projection
from .result import EVENT_DTYPE, TRACE_DTYPE, BatchResult, Result

__version__ = "0.1.0"

__all__ = [
    "EVENT_DTYPE",
    "TRACE_DTYPE",
    "CapacityError",
    "CoreLimits",
    "Cost",
    "Deployment",
    "EnergyBreakdown",
    "Hardware",
    "OperationCosts",
    "deploy",
    "RECORD_MODES",
    "SCHEDULES",
    "BatchResult",
    "ConfigError",
    "Emulator",
    "InputError",
    "Network",
    "NeuroemuError",
    "NeuroemuTypeError",
    "Population",
    "Projection",
    "Result",
    "__version__",
]
