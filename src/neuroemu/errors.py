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
]


class NeuroemuError(Exception):
    """Base class of every error neuroemu raises on purpose."""


class ConfigError(NeuroemuError, ValueError):
    """A network, schedule or run option is invalid (names the argument and what is wrong)."""


class InputError(ConfigError):
    """Input frames or labels have the wrong shape, sign or values."""


class NeuroemuTypeError(NeuroemuError, TypeError):
    """An argument has the wrong type (for example non-numeric frames)."""
