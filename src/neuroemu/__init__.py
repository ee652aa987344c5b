"""neuroemu: a discrete-event emulator of asynchronous neuromorphic hardware.

Deploy a spiking neural network, run it layer-synchronously or asynchronously (random, momentum, fifo
schedules with group size F), and measure spikes, synaptic operations and forward steps per inference.
"""

from __future__ import annotations

from typing import Any

from .deploy import Deployment, deploy
from .emulator import RECORD_MODES, SCHEDULES, Emulator
from .energy import EnergyBreakdown
from .errors import (
    CapacityError,
    ConfigError,
    DatasetError,
    InputError,
    MissingDependencyError,
    ModelExportError,
    ModelImportError,
    NetworkFileError,
    NeuroemuError,
    NeuroemuTypeError,
    ResourceError,
    SweepError,
)
from .hardware import CoreLimits, Cost, Hardware, OperationCosts
from .network import Network, Population, Projection
from .result import EVENT_DTYPE, TRACE_DTYPE, BatchResult, Result
from .sweep import Grid, SweepResult, sweep  # neuroemu.sweep is the function; the module stays importable

__version__ = "0.1.0"

__all__ = [
    "EVENT_DTYPE",
    "TRACE_DTYPE",
    "CapacityError",
    "DatasetError",
    "Grid",
    "MissingDependencyError",
    "ModelExportError",
    "ModelImportError",
    "NetworkFileError",
    "ResourceError",
    "SweepError",
    "SweepResult",
    "sweep",
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
    "train",
]


def __getattr__(name: str) -> Any:
    # neuroemu.train is neuroemu.training.train, imported on first use: `python -m neuroemu.training`
    # must not find the module already imported (and neither imports PyTorch)
    if name == "train":
        from .training import train

        return train
    raise AttributeError(f"module 'neuroemu' has no attribute {name!r}")
