"""neuroemu: a discrete-event emulator of asynchronous neuromorphic hardware.

Deploy a spiking neural network, run it layer-synchronously or asynchronously (random, momentum, fifo
schedules with group size F), and measure spikes, synaptic operations and forward steps per inference.
"""

from __future__ import annotations

from .emulator import RECORD_MODES, SCHEDULES, Emulator
from .errors import ConfigError, InputError, NeuroemuError, NeuroemuTypeError
from .network import Network, Population, Projection
from .result import EVENT_DTYPE, BatchResult, Result

__version__ = "0.1.0"

__all__ = [
    "EVENT_DTYPE",
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
