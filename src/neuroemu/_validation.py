"""Argument checks shared by the public classes: each failure names the argument."""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

from .errors import ConfigError, InputError, NeuroemuTypeError


def real_array(value: Any, name: str, keep: tuple[Any, ...] = ()) -> NDArray[Any]:
    """``value`` as a C-contiguous float64 array (or of its own dtype if listed in ``keep``); bool, integer
    and float inputs only."""
    try:
        array = np.asarray(value)
    except Exception as exc:  # ragged nested lists and the like
        raise NeuroemuTypeError(f"{name} must be a numeric array: {exc}") from exc
    if array.dtype in keep:  # all real: spares the dtype checks below, which cost as much as a small run
        return np.ascontiguousarray(array)
    if array.dtype == object or not (
        np.issubdtype(array.dtype, np.bool_)
        or np.issubdtype(array.dtype, np.integer)
        or np.issubdtype(array.dtype, np.floating)
    ):
        raise NeuroemuTypeError(f"{name} must hold real numbers, got dtype {array.dtype}")
    return np.asarray(array, dtype=np.float64, order="C")


# The element types the engines read in place (binary frames as bool or uint8: an eighth of float64's
# memory traffic); any other real dtype is converted to float64.
ENGINE_FRAME_DTYPES = (np.dtype(np.float64), np.dtype(np.float32), np.dtype(np.uint8), np.dtype(np.bool_))


def event_frames(value: Any, name: str, n_inputs: int, ndim: int) -> NDArray[Any]:
    """Checks the type and shape of frames of event counts shaped (..., bins, n_inputs) with ``ndim`` axes.

    The frames keep any dtype of ``ENGINE_FRAME_DTYPES``: the engines (step and timed) check every value
    themselves while they read the frames (one pass instead of three), and their InputError is then
    explained by :func:`raise_bad_values`.
    """
    frames = real_array(value, name, keep=ENGINE_FRAME_DTYPES)
    layout = "(bins, n_inputs)" if ndim == 2 else "(samples, bins, n_inputs)"
    if frames.ndim != ndim:
        raise InputError(f"{name} must be a {ndim}-D array shaped {layout}, got shape {frames.shape}")
    if frames.shape[-1] != n_inputs:
        raise InputError(
            f"{name} has {frames.shape[-1]} input channels (last axis), the network has {n_inputs}"
        )
    return frames


def raise_bad_values(frames: NDArray[Any], name: str) -> None:
    """Raises InputError naming the first value of ``frames`` that is not a finite count >= 0, if any."""
    axes = ("sample", "bin", "channel")[-frames.ndim:]
    for bad, what in ((~np.isfinite(frames), "NaN or infinite values"),
                      (frames < 0, "negative values; frames hold event counts >= 0")):
        if np.any(bad):
            where = ", ".join(f"{axis} {int(i)}" for axis, i in zip(axes, np.argwhere(bad)[0]))
            raise InputError(f"{name} contains {what} (the first at {where})")


def positive_int(value: Any, name: str, *, allow_none: bool = False) -> int | None:
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise NeuroemuTypeError(f"{name} must be an integer, got {type(value).__name__}")
    if value < 1:
        raise ConfigError(f"{name} must be >= 1, got {value}")
    return int(value)


def non_negative_int(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise NeuroemuTypeError(f"{name} must be an integer, got {type(value).__name__}")
    if value < 0:
        raise ConfigError(f"{name} must be >= 0, got {value}")
    return int(value)


def choice(value: Any, name: str, options: tuple[str, ...]) -> str:
    if not isinstance(value, str):
        raise NeuroemuTypeError(f"{name} must be one of {options}, got {type(value).__name__}")
    if value not in options:
        raise ConfigError(f"{name} must be one of {options}, got {value!r}")
    return value
