"""Pure-numpy reference engine ("oracle") for the step model of ``docs/semantics.md``.

Written from the specification alone, independently of the C++ engine, and deliberately simple:
dense float64 matrices, every neuron tested against the "checked" rule in every step, currents summed
by a Python loop over the delivered sources in ascending source index. Speed is not a goal; being
obviously correct is.

Index conventions (as in the semantics page): input channels ``c = 0 .. n_in-1``, network neurons
``i = 0 .. N-1`` layer by layer. Internally a *source* has the global index ``g = c`` for a channel
and ``g = n_in + i`` for a neuron, so that ascending ``g`` is the contract's ascending source index
(channel ``c`` ranks as ``c - n_in``, before every neuron).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["simulate"]

_SCHEDULES = ("sync", "momentum", "fifo")
_MAX_STEPS_PER_BIN = 1_000_000


@dataclass
class _Net:
    """A validated feed-forward network, flattened to per-neuron arrays."""

    n_in: int
    sizes: list[int]
    offsets: list[int]  # first neuron index of each layer
    w: np.ndarray  # (N, n_in + N) float64: w[i, g] is the weight from source g onto neuron i
    nsyn: np.ndarray  # (n_in + N,) int64: number of synapses (non-zero weights) of source g
    theta: np.ndarray  # (N,) float64
    beta: np.ndarray  # (N,) float64
    bias: np.ndarray  # (N,) float64
    subtract: np.ndarray  # (N,) bool: reset by subtraction (else to zero)
    refractory: np.ndarray  # (N,) bool
    out_idx: np.ndarray  # (n_out,) int64: neuron indices of the output layer

    @property
    def n(self) -> int:
        """Total number of network neurons."""
        return int(sum(self.sizes))

    def layer(self, li: int) -> np.ndarray:
        """Neuron indices of layer ``li``."""
        return np.arange(self.offsets[li], self.offsets[li] + self.sizes[li])


def _per_layer(value: Any, sizes: Sequence[int], name: str) -> list[Any]:
    """Expand a scalar-or-list-per-layer argument to a list with one entry per layer."""
    if isinstance(value, (list, tuple)):
        if len(value) != len(sizes):
            raise ValueError(f"{name}: expected one entry per layer ({len(sizes)}), got {len(value)}")
        return list(value)
    return [value] * len(sizes)


def _per_neuron_float(value: Any, sizes: Sequence[int], name: str) -> np.ndarray:
    """A scalar, or a list with one scalar or 1-D array per layer -> (N,) float64."""
    parts = []
    for li, (entry, n) in enumerate(zip(_per_layer(value, sizes, name), sizes, strict=True)):
        a = np.asarray(entry, dtype=np.float64)
        if a.ndim == 0:
            a = np.full(n, float(a), dtype=np.float64)
        elif a.shape != (n,):
            raise ValueError(f"{name}[{li}]: expected a scalar or shape ({n},), got {a.shape}")
        parts.append(a)
    return np.concatenate(parts)


def _build(
    weights: Sequence[Any],
    threshold: Any,
    beta: Any,
    bias: Any,
    reset: Any,
    refractory: Any,
) -> _Net:
    """Validate the arguments and assemble the dense global weight matrix."""
    ws = [np.asarray(w, dtype=np.float64) for w in weights]
    if not ws:
        raise ValueError("weights: need at least one layer")
    for li, w in enumerate(ws):
        if w.ndim != 2:
            raise ValueError(f"weights[{li}]: expected a 2-D array, got shape {w.shape}")
        if li > 0 and w.shape[1] != ws[li - 1].shape[0]:
            raise ValueError(f"weights[{li}]: shape {w.shape} does not chain onto {ws[li - 1].shape}")
    n_in = ws[0].shape[1]
    sizes = [w.shape[0] for w in ws]
    offsets = [int(x) for x in np.concatenate([[0], np.cumsum(sizes)[:-1]])]
    n = int(sum(sizes))

    big = np.zeros((n, n_in + n), dtype=np.float64)
    for li, w in enumerate(ws):
        rows = slice(offsets[li], offsets[li] + sizes[li])
        src0 = 0 if li == 0 else n_in + offsets[li - 1]
        big[rows, src0 : src0 + w.shape[1]] = w
    nsyn = np.count_nonzero(big != 0.0, axis=0).astype(np.int64)

    theta = _per_neuron_float(threshold, sizes, "threshold")
    beta_a = _per_neuron_float(beta, sizes, "beta")
    bias_a = _per_neuron_float(0.0 if bias is None else bias, sizes, "bias")
    if not np.all(theta > 0):
        raise ValueError("threshold must be > 0")
    if not np.all((beta_a >= 0) & (beta_a <= 1)):
        raise ValueError("beta must be in [0, 1]")

    sub_parts, ref_parts = [], []
    for li, (mode, n_l) in enumerate(zip(_per_layer(reset, sizes, "reset"), sizes, strict=True)):
        if mode not in ("zero", "subtract"):
            raise ValueError(f"reset[{li}]: expected 'zero' or 'subtract', got {mode!r}")
        sub_parts.append(np.full(n_l, mode == "subtract"))
    for flag, n_l in zip(_per_layer(refractory, sizes, "refractory"), sizes, strict=True):
        ref_parts.append(np.full(n_l, bool(flag)))

    return _Net(
        n_in=n_in,
        sizes=sizes,
        offsets=offsets,
        w=big,
        nsyn=nsyn,
        theta=theta,
        beta=beta_a,
        bias=bias_a,
        subtract=np.concatenate(sub_parts),
        refractory=np.concatenate(ref_parts),
        out_idx=np.arange(offsets[-1], offsets[-1] + sizes[-1], dtype=np.int64),
    )


def _synop_multiplicity(g: int, m: float, n_in: int) -> int:
    """Synop multiplicity: a neuron's spike count; a channel's frame value if whole, else 1."""
    if g >= n_in:
        return int(m)
    return int(m) if float(m).is_integer() else 1


def _current(net: _Net, delivered: list[tuple[int, float]]) -> tuple[np.ndarray, np.ndarray]:
    """Current and 'receives' mask of a delivery, summed in ascending source index from 0.0."""
    current = np.zeros(net.n, dtype=np.float64)
    receives = np.zeros(net.n, dtype=bool)
    for g, m in sorted(delivered):
        col = net.w[:, g]
        mask = col != 0.0
        current[mask] = current[mask] + float(m) * col[mask]
        receives |= mask
    return current, receives


class _Recorder:
    """Per-bin counters and the spike log."""

    def __init__(self, t_bins: int, net: _Net) -> None:
        n_out = len(net.out_idx)
        self.net = net
        self.spike_counts = np.zeros((t_bins, net.n), dtype=np.int64)
        self.forward_steps = np.zeros(t_bins, dtype=np.int64)
        self.synops = np.zeros(t_bins, dtype=np.int64)
        self.neuron_updates = np.zeros(t_bins, dtype=np.int64)
        self.spikes_to_output = np.full((t_bins, n_out), -1, dtype=np.int64)
        self.steps_to_output = np.full((t_bins, n_out), -1, dtype=np.int64)
        self.events: list[tuple[int, int, int]] = []
        self._bin_spikes = 0

    def start_bin(self) -> None:
        """Reset the running spike count of the bin."""
        self._bin_spikes = 0

    def deliver(self, t: int, delivered: list[tuple[int, float]]) -> None:
        """Count the synaptic operations of a delivery."""
        for g, m in delivered:
            self.synops[t] += _synop_multiplicity(g, m, self.net.n_in) * int(self.net.nsyn[g])

    def end_step(self, t: int, k: int, spikes: list[int]) -> bool:
        """Log the spikes of step ``k`` (ascending neuron index); True if an output neuron spiked."""
        self._bin_spikes += len(spikes)
        out_spiked = False
        first_out = int(self.net.out_idx[0])
        for i in spikes:
            self.spike_counts[t, i] += 1
            self.events.append((t, k, i))
            c = i - first_out
            if c >= 0:
                out_spiked = True
                if self.spikes_to_output[t, c] == -1:
                    self.spikes_to_output[t, c] = self._bin_spikes
                    self.steps_to_output[t, c] = k + 1
        return out_spiked


class _State:
    """Neuron state: potential v, refractory flag r, pre-spike potential p."""

    def __init__(self, n: int) -> None:
        self.v = np.zeros(n, dtype=np.float64)
        self.r = np.zeros(n, dtype=bool)
        self.p = np.zeros(n, dtype=np.float64)

    def start_bin(self, net: _Net) -> None:
        """Leak (one multiplication), clear r and p, then add the bias where it is non-zero."""
        self.v = self.v * net.beta
        self.r[:] = False
        self.p[:] = 0.0
        has_bias = net.bias != 0.0
        self.v[has_bias] = self.v[has_bias] + net.bias[has_bias]

    def check(
        self, net: _Net, candidates: np.ndarray, current: np.ndarray, receives: np.ndarray, k0: bool
    ) -> tuple[list[int], int]:
        """Apply the 'checked' rule to ``candidates``; return (spiking neurons ascending, #checks)."""
        v_before = self.v.copy()
        spikes: list[int] = []
        checks = 0
        for i in sorted(int(x) for x in candidates):
            if self.r[i]:
                continue  # refractory: discard the current, keep v
            if not (receives[i] or (k0 and net.bias[i] != 0.0) or v_before[i] > net.theta[i]):
                continue
            checks += 1
            u = self.v[i] + current[i]
            if u > net.theta[i]:
                self.p[i] = u
                self.v[i] = u - net.theta[i] if net.subtract[i] else 0.0
                if net.refractory[i]:
                    self.r[i] = True
                spikes.append(i)
            else:
                self.v[i] = u
        return spikes, checks


def _input_delivery(x: np.ndarray) -> list[tuple[int, float]]:
    """Every channel with ``x[c] > 0``, with multiplicity ``x[c]``."""
    return [(c, float(x[c])) for c in range(len(x)) if x[c] > 0]


def _run_sync(net: _Net, frames: np.ndarray, rec: _Recorder) -> np.ndarray:
    """Layer-synchronous schedule: one phase (forward step) per layer per bin."""
    st = _State(net.n)
    n_layers = len(net.sizes)
    for t in range(frames.shape[0]):
        st.start_bin(net)
        rec.start_bin()
        spiked = np.zeros(net.n, dtype=bool)
        for li in range(n_layers):
            if li == 0:
                delivered = _input_delivery(frames[t])
            else:
                prev = net.layer(li - 1)
                delivered = [(net.n_in + int(i), 1.0) for i in prev if spiked[i]]
            rec.deliver(t, delivered)
            current, receives = _current(net, delivered)
            spikes, checks = st.check(net, net.layer(li), current, receives, k0=True)
            rec.neuron_updates[t] += checks
            spiked[spikes] = True
            rec.end_step(t, li, spikes)
        rec.forward_steps[t] = n_layers
    return st.v


def _rank_key(schedule: str, net: _Net, st: _State, g: int, entry: list[Any]) -> tuple[Any, ...]:
    """Sort key of a queued entry (smaller = emitted first)."""
    if schedule == "momentum":
        if g < net.n_in:
            return (0, 0.0, g)
        return (1, -st.p[g - net.n_in], g)
    # fifo: ascending queue step, ties by ascending source index (channels before neurons)
    return (entry[1], g)


def _run_async(
    net: _Net,
    frames: np.ndarray,
    rec: _Recorder,
    schedule: str,
    group_size: int | None,
    prioritize_input: bool,
    max_post_output_steps: int | None,
) -> np.ndarray:
    """Asynchronous forward steps with a global queue, momentum or fifo ranking."""
    st = _State(net.n)
    all_neurons = np.arange(net.n)
    for t in range(frames.shape[0]):
        st.start_bin(net)
        rec.start_bin()
        queue: dict[int, list[Any]] = {}  # source g -> [multiplicity q, queue step]
        if prioritize_input:
            delivered = _input_delivery(frames[t])
        else:
            delivered = []
            for c, x in _input_delivery(frames[t]):
                queue[c] = [x, 0]
        first_out_step: int | None = None
        k = 0
        while True:
            if k >= _MAX_STEPS_PER_BIN:
                raise RuntimeError("oracle: bin did not terminate")
            rec.deliver(t, delivered)
            current, receives = _current(net, delivered)
            spikes, checks = st.check(net, all_neurons, current, receives, k0=(k == 0))
            rec.neuron_updates[t] += checks
            for i in spikes:
                g = net.n_in + i
                if g in queue:
                    queue[g][0] += 1  # keeps its queue step
                else:
                    queue[g] = [1, k]
            if rec.end_step(t, k, spikes) and first_out_step is None:
                first_out_step = k
            if (
                max_post_output_steps is not None
                and first_out_step is not None
                and k >= first_out_step + max_post_output_steps
            ):
                queue.clear()
            if not queue:
                rec.forward_steps[t] = k + 1
                break
            ranked = [g for _, g in sorted((_rank_key(schedule, net, st, g, queue[g]), g) for g in queue)]
            emitted = ranked if group_size is None else ranked[:group_size]
            delivered = sorted((g, queue.pop(g)[0]) for g in emitted)
            k += 1
    return st.v


def simulate(
    weights: Sequence[Any],
    frames: Any,
    *,
    threshold: Any,
    beta: Any,
    bias: Any = None,
    reset: Any = "zero",
    refractory: Any = True,
    schedule: str = "sync",
    group_size: int | None = None,
    prioritize_input: bool = True,
    max_post_output_steps: int | None = None,
) -> dict[str, Any]:
    """Run one sample through a feed-forward network following ``docs/semantics.md``.

    Parameters
    ----------
    weights
        Dense 2-D arrays, layer ``l`` shaped ``(n_l, n_{l-1})`` with ``n_{-1} = n_in``.
    frames
        ``(T, n_in)`` non-negative input frames.
    threshold, beta, bias
        A scalar, or a list with one scalar or 1-D array per layer.
    reset, refractory
        ``"zero"``/``"subtract"`` and a bool, or a list of them per layer.
    schedule
        ``"sync"``, ``"momentum"`` or ``"fifo"`` (``"random"`` is not part of the contract).
    group_size, prioritize_input, max_post_output_steps
        Asynchronous-schedule options (rejected for ``"sync"`` unless at their defaults).

    Returns
    -------
    dict
        ``spike_counts`` (T, N), ``forward_steps``/``synops``/``neuron_updates`` (T,),
        ``spikes_to_output``/``steps_to_output`` (T, n_out), ``spikes_to_first_output`` (T,),
        ``events`` (list of ``(bin, step, neuron)``), ``final_v`` (N,).
    """
    if schedule == "random":
        raise NotImplementedError("the random schedule is not part of the cross-implementation contract")
    if schedule not in _SCHEDULES:
        raise ValueError(f"schedule: expected one of {_SCHEDULES}, got {schedule!r}")
    net = _build(weights, threshold, beta, bias, reset, refractory)
    x = np.asarray(frames, dtype=np.float64)
    if x.ndim != 2 or x.shape[1] != net.n_in:
        raise ValueError(f"frames: expected shape (T, {net.n_in}), got {x.shape}")
    if not np.all(x >= 0) or not np.all(np.isfinite(x)):
        raise ValueError("frames must be finite and non-negative")
    if group_size is not None and group_size < 1:
        raise ValueError("group_size must be >= 1 or None")
    if max_post_output_steps is not None and max_post_output_steps < 0:
        raise ValueError("max_post_output_steps must be >= 0 or None")

    rec = _Recorder(x.shape[0], net)
    if schedule == "sync":
        if group_size is not None or not prioritize_input or max_post_output_steps is not None:
            raise ValueError(
                "group_size, prioritize_input=False and max_post_output_steps do not apply to sync"
            )
        final_v = _run_sync(net, x, rec)
    else:
        final_v = _run_async(net, x, rec, schedule, group_size, prioritize_input, max_post_output_steps)

    sto = rec.spikes_to_output
    first = np.array([int(row[row >= 0].min()) if np.any(row >= 0) else -1 for row in sto], dtype=np.int64)
    return {
        "spike_counts": rec.spike_counts,
        "forward_steps": rec.forward_steps,
        "synops": rec.synops,
        "neuron_updates": rec.neuron_updates,
        "spikes_to_output": sto,
        "steps_to_output": rec.steps_to_output,
        "spikes_to_first_output": first,
        "events": rec.events,
        "final_v": np.asarray(final_v, dtype=np.float64).copy(),
    }
