"""neuroemu's exception types.

Each derives from :class:`NeuroemuError` and from the builtin it refines, so both
``except ValueError`` and ``except neuroemu.ConfigError`` catch a bad argument.
"""

from __future__ import annotations

__all__ = [
    "NeuroemuError",
    "ConfigError",
    "InputError",
    "NeuroemuTypeError",
    "CapacityError",
    "DatasetError",
    "MissingDependencyError",
    "ModelImportError",
    "ModelExportError",
    "NetworkFileError",
    "SweepError",
]


class NeuroemuError(Exception):
    """Base class of every error neuroemu raises on purpose."""


class ConfigError(NeuroemuError, ValueError):
    """A network, schedule or run option is invalid (names the argument and what is wrong)."""


class InputError(ConfigError):
    """Input frames or labels have the wrong shape, sign or values."""


class CapacityError(ConfigError):
    """A network does not fit a hardware profile's limits (names the layer and the limit)."""


class NeuroemuTypeError(NeuroemuError, TypeError):
    """An argument has the wrong type (for example non-numeric frames)."""


class DatasetError(NeuroemuError, ValueError):
    """A dataset file or folder is missing, truncated or malformed (names the file)."""


class MissingDependencyError(NeuroemuError, ImportError):
    """An optional package a feature needs is not installed (names the ``pip install`` that fixes it)."""


class ModelImportError(NeuroemuError, ValueError):
    """A model (PyTorch module or NIR graph) cannot be imported exactly (names the layer or node and why)."""


class ModelExportError(NeuroemuError, ValueError):
    """A network cannot be written exactly in an exchange format such as NIR (names the population and why)."""


class NetworkFileError(NeuroemuError, ValueError):
    """A saved network file is truncated, corrupted, foreign or of a newer format (names the file)."""


class SweepError(NeuroemuError, RuntimeError):
    """A sweep task failed after its retries, or a stored task result cannot be read (names the task or file)."""


class ResourceError(NeuroemuError, MemoryError):
    """A run would need more memory than the machine has (checked before allocating; names the sizes)."""
