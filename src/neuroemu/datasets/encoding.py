"""Encoders that turn intensities or signals into event counts per time bin.

Every function is a plain function of its arguments: a seeded encoder draws from
``numpy.random.default_rng(seed)`` in the documented order, so results are reproducible and a
reimplementation can match them bit for bit.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

from .._validation import positive_int, real_array
from ..errors import ConfigError

__all__ = ["rate_code", "latency_code", "delta_code", "spread_counts"]

SeedLike = int | np.random.Generator


def _intensity(value: Any, name: str) -> NDArray[np.float64]:
    p = real_array(value, name)
    if p.ndim < 1:
        raise ConfigError(f"{name} must have a channel axis, got a scalar")
    if not np.all(np.isfinite(p)) or np.any(p < 0) or np.any(p > 1):
        raise ConfigError(f"{name} must hold values in [0, 1]")
    return p


def _rng(seed: SeedLike) -> np.random.Generator:
    if isinstance(seed, np.random.Generator):
        return seed
    return np.random.default_rng(seed)


def rate_code(intensity: Any, bins: int, *, seed: SeedLike = 0) -> NDArray[np.float32]:
    """Bernoulli rate code: in every bin, each channel has one event with probability ``intensity``.

    Parameters
    ----------
    intensity : array_like, shape (..., channels)
        Event probability per bin, in ``[0, 1]`` (for the digits: pixel value / 16).
    bins : int
        Number of time bins ``T``.
    seed : int or numpy.random.Generator
        Random stream. The events are ``rng.random((..., bins, channels)) < intensity[..., None, :]``
        with ``rng = numpy.random.default_rng(seed)``: one draw per (sample, bin, channel) in C order.

    Returns
    -------
    ndarray of float32, shape (..., bins, channels)
        0/1 event counts.
    """
    p = _intensity(intensity, "intensity")
    t = positive_int(bins, "bins")
    assert t is not None
    shape = (*p.shape[:-1], t, p.shape[-1])
    return (_rng(seed).random(shape) < p[..., None, :]).astype(np.float32)


def latency_code(intensity: Any, bins: int) -> NDArray[np.float32]:
    """Time-to-first-spike code: one event per channel, earlier for higher intensity.

    Channel ``c`` fires once, in bin ``round((1 - intensity[c]) * (bins - 1))`` (``numpy.rint``:
    halves round to even), and not at all where ``intensity[c] == 0``. Intensity 1 fires in bin 0.

    Parameters
    ----------
    intensity : array_like, shape (..., channels)
        Values in ``[0, 1]``.
    bins : int
        Number of time bins ``T``.

    Returns
    -------
    ndarray of float32, shape (..., bins, channels)
        0/1 event counts, at most one event per channel.
    """
    p = _intensity(intensity, "intensity")
    t = positive_int(bins, "bins")
    assert t is not None
    when = np.rint((1.0 - p) * (t - 1)).astype(np.int64)  # (..., channels)
    frames = (np.arange(t)[:, None] == when[..., None, :]) & (p[..., None, :] > 0)
    out: NDArray[np.float32] = frames.astype(np.float32)
    return out


def delta_code(signal: Any, threshold: float, *, initial: float = 0.0) -> NDArray[np.float32]:
    """ON/OFF level-crossing (delta) code of a sampled signal, like a DVS pixel.

    Each channel keeps a reference level ``ref`` (starting at ``initial``). At every sample ``s`` with
    value ``x``: if ``x - ref >= threshold`` it emits ``n = floor((x - ref) / threshold)`` ON events and
    ``ref += n * threshold``; if ``ref - x >= threshold`` it emits ``n = floor((ref - x) / threshold)``
    OFF events and ``ref -= n * threshold``. Changes smaller than ``threshold`` are remembered (the
    reference does not move), so slow drifts still produce events once they add up.

    Parameters
    ----------
    signal : array_like, shape (..., samples, channels)
        The signal over time (the second-to-last axis is time).
    threshold : float
        Level step per event, > 0.
    initial : float
        Starting reference level of every channel.

    Returns
    -------
    ndarray of float32, shape (..., samples, 2 * channels)
        Event counts: channels ``0 .. C-1`` are ON events of channel ``c``, ``C .. 2C-1`` OFF events.
    """
    x = real_array(signal, "signal")
    if x.ndim < 2:
        raise ConfigError(f"signal must be shaped (..., samples, channels), got shape {x.shape}")
    if not np.all(np.isfinite(x)):
        raise ConfigError("signal contains NaN or infinite values")
    theta = float(threshold)
    if not (np.isfinite(theta) and theta > 0):
        raise ConfigError(f"threshold must be > 0, got {threshold}")
    ref = np.full((*x.shape[:-2], x.shape[-1]), float(initial))
    out = np.zeros((*x.shape[:-1], 2 * x.shape[-1]), dtype=np.float32)
    n_ch = x.shape[-1]
    for s in range(x.shape[-2]):
        value = x[..., s, :]
        up = np.floor(np.maximum(value - ref, 0.0) / theta)
        ref = ref + up * theta
        down = np.floor(np.maximum(ref - value, 0.0) / theta)
        ref = ref - down * theta
        out[..., s, :n_ch] = up
        out[..., s, n_ch:] = down
    return out


def spread_counts(counts: Any, sub_bins: int) -> NDArray[np.float32]:
    """Split each time step into ``sub_bins`` bins and spread its event counts evenly over them.

    A count ``n`` becomes ``n // sub_bins + (k < n % sub_bins)`` events in sub-bin ``k``: as even as
    possible, the remainder going to the earliest sub-bins. The total count is unchanged.

    Parameters
    ----------
    counts : array_like of non-negative integers, shape (..., steps, channels)
    sub_bins : int
        Bins per step.

    Returns
    -------
    ndarray of float32, shape (..., steps * sub_bins, channels)
    """
    c = real_array(counts, "counts")
    if c.ndim < 2:
        raise ConfigError(f"counts must be shaped (..., steps, channels), got shape {c.shape}")
    if np.any(c < 0) or np.any(c != np.floor(c)):
        raise ConfigError("counts must be non-negative integers")
    k = positive_int(sub_bins, "sub_bins")
    assert k is not None
    n = c.astype(np.int64)
    base, rest = n // k, n % k
    sub = np.arange(k).reshape(k, 1)
    spread = base[..., :, None, :] + (sub < rest[..., :, None, :])  # (..., steps, k, channels)
    return spread.reshape(*c.shape[:-2], c.shape[-2] * k, c.shape[-1]).astype(np.float32)
