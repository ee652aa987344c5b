"""The no-grad pass of the asynchronous simulator run by the C++ step engine.

:func:`engine_trace` gives the same :class:`~neuroemu.torch._schedule.Trace` as
:func:`~neuroemu.torch._schedule.run_schedule` (the batched PyTorch pass) for the same network and
frames: the engine computes the step model of docs/semantics.md in float64 and logs every spike
``(bin, step, neuron)`` and every emitted queue entry ``(bin, step, entry, multiplicity)``; this module
turns the two logs into the Trace's per-bin tensors. The engine does a forward step in about the time
PyTorch needs for one small operation, so on CPU this pass costs a fraction of the PyTorch one.

Differences from the PyTorch pass, both documented in docs/training.md:

- The decisions are taken in float64 whatever the model's dtype (the PyTorch pass decides in the
  model's dtype); in float64 the two are identical (``tests/test_torch_simulator.py``).
- The ``random`` schedule draws from the engine's random stream (docs/semantics.md, "Random stream"),
  seeded by a number drawn from the caller's ``torch.Generator``; the PyTorch pass draws its keys from
  the generator directly. Both are uniform; they differ draw for draw.

The network is rebuilt for every call (the weights change at every training step); for the digits
network (64-128-64-10) that costs well under a millisecond.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from .. import _core
from ..errors import ConfigError
from ._replay_single import NO_SPIKE, SingleSpikeRecord
from ._schedule import Flat, Trace

__all__ = ["engine_accepts", "engine_trace"]

_SCHEDULE_CODES = {"random": 1, "momentum": 2, "fifo": 3}  # neuroemu::Schedule


def engine_accepts(net: Flat) -> bool:
    """Whether the engine can run these parameters (it refuses what a deployed network cannot hold).

    The PyTorch pass runs any numbers; a learnable ``beta`` or ``threshold`` may leave the engine's
    domain (``beta`` in [0, 1], ``threshold`` > 0, all finite) during training.
    """
    values = [net.w_in, net.w_out, net.theta, net.beta] + ([net.bias] if net.bias is not None else [])
    if not all(bool(torch.isfinite(v).all()) for v in values):
        return False
    return bool((net.theta > 0).all()) and bool(((net.beta >= 0) & (net.beta <= 1)).all())


def _csr(weights: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A dense (sources, targets) matrix as the engine's fan-out list; zeros are not synapses."""
    present = weights != 0
    rows, cols = np.nonzero(present)  # row-major: each source's targets ascending, as the engine wants
    indptr = np.zeros(weights.shape[0] + 1, dtype=np.int64)
    np.cumsum(present.sum(axis=1), out=indptr[1:])
    return indptr, cols.astype(np.int32), weights[rows, cols]


def core_network(net: Flat) -> _core.Network:
    """The engine's network for the flattened parameters (float64; neurons in the same order)."""

    def f64(t: torch.Tensor) -> np.ndarray:
        return t.detach().to(device="cpu", dtype=torch.float64).numpy().reshape(-1)

    n = net.n
    w_out = net.w_out.detach().to(device="cpu", dtype=torch.float64).numpy()
    projections = [(-1, 0, *_csr(net.w_in.detach().to(device="cpu", dtype=torch.float64).numpy()))]
    for li in range(1, len(net.sizes)):
        block = w_out[net.offsets[li - 1] : net.offsets[li], net.offsets[li] : net.offsets[li + 1]]
        projections.append((li - 1, li, *_csr(np.ascontiguousarray(block))))
    return _core.Network(
        net.n_in,
        list(net.sizes),
        f64(net.theta),
        f64(net.beta),
        f64(net.bias) if net.bias is not None else np.zeros(n),
        (f64(net.zero_reset) == 0).astype(np.uint8),
        f64(net.refractory).astype(np.uint8),
        projections,
    )


def engine_trace(
    net: Flat,
    x: torch.Tensor,
    *,
    schedule: str,
    group_size: int | None,
    prioritize_input: bool,
    max_post_output_steps: int | None,
    seed: int,
    max_steps_per_bin: int,
    threads: int = 1,
    single_spike: bool = False,
) -> Trace:
    """Runs the asynchronous step model in the engine on frames ``x`` (B, T, n_in); returns its Trace.

    ``single_spike=True`` (every neuron spikes at most once per bin, prioritised input): the Trace holds
    only the totals and a :class:`~neuroemu.torch._replay_single.SingleSpikeRecord`, for the fused
    replay, not the per-step tensors.
    """
    b_size, n_bins, n_in = x.shape
    n = net.n
    dev, dt = x.device, x.dtype
    off = 0 if prioritize_input else n_in  # queue position of neuron 0 (as in run_schedule)
    n_src = off + n
    group = n_src if group_size is None else min(int(group_size), n_src)
    unlimited = group >= n_src
    frames = np.ascontiguousarray(x.detach().to(device="cpu", dtype=torch.float64).numpy())
    try:
        raw = _core.run_batch_record(
            core_network(net),
            _SCHEDULE_CODES[schedule],
            0 if unlimited else group,
            prioritize_input,
            seed,
            -1 if max_post_output_steps is None else max_post_output_steps,
            max_steps_per_bin,
            frames,
            threads,
            0,
        )
    except ConfigError as exc:
        if "max_steps_per_bin" in str(exc):  # the same error as the PyTorch pass
            raise RuntimeError(str(exc)) from None
        raise
    steps = raw["forward_steps"]  # (B, T)
    spikes_rows = raw["spikes"]  # (sample, bin, step, neuron)
    emit_rows = raw["emissions"]  # (sample, bin, step, entry), entry = n_in + neuron for a neuron
    emit_mult = raw["multiplicity"]
    if single_spike:
        return _single_spike_trace(net, raw, n_bins, b_size, n_in, dev, dt)
    position = emit_rows[:, 3].astype(np.int64) - (n_in - off)  # the entry's queue position in the Trace
    slot = np.zeros(len(emit_rows), dtype=np.int64)
    if not unlimited and len(emit_rows):
        # slot of each entry within its group: the engine logs a group's entries consecutively
        starts = np.ones(len(emit_rows), dtype=bool)
        starts[1:] = np.any(emit_rows[1:, :3] != emit_rows[:-1, :3], axis=1)
        first = np.maximum.accumulate(np.where(starts, np.arange(len(emit_rows)), 0))
        slot = np.arange(len(emit_rows)) - first
    spike_order = np.argsort(spikes_rows[:, 1], kind="stable")
    spikes_by_bin = spikes_rows[spike_order]
    spike_cuts = np.searchsorted(spikes_by_bin[:, 1], np.arange(n_bins + 1))
    emit_order = np.argsort(emit_rows[:, 1], kind="stable")
    emit_by_bin = emit_rows[emit_order]
    emit_cuts = np.searchsorted(emit_by_bin[:, 1], np.arange(n_bins + 1))

    def tensor(a: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(np.ascontiguousarray(a)).to(dev)

    trace = Trace(n_src=n_src)
    for t in range(n_bins):
        k_steps = int(steps[:, t].max())
        rows = spikes_by_bin[spike_cuts[t] : spike_cuts[t + 1]]
        spk = torch.zeros((b_size, k_steps, n), dtype=dt)
        spk[tensor(rows[:, 0]).long(), tensor(rows[:, 2]).long(), tensor(rows[:, 3]).long()] = 1.0
        trace.spikes.append(spk.to(dev))
        alive = torch.arange(k_steps).view(1, -1) < (tensor(steps[:, t]) - 1).view(-1, 1)
        trace.alive.append(alive.to(dev))
        sel = emit_order[emit_cuts[t] : emit_cuts[t + 1]]
        erows = emit_by_bin[emit_cuts[t] : emit_cuts[t + 1]]
        sample, step = tensor(erows[:, 0]).long(), tensor(erows[:, 2]).long()
        mult = tensor(emit_mult[sel]).to(dt)
        if unlimited:
            dense = torch.zeros((b_size, k_steps - 1, n_src), dtype=dt)
            dense[sample, step, tensor(position[sel])] = mult
            trace.emit_idx.append(None)
            trace.emit_mult.append(dense.to(dev))
        else:
            idx = torch.zeros((b_size, k_steps - 1, group), dtype=torch.long)
            mults = torch.zeros((b_size, k_steps - 1, group), dtype=dt)
            where = (sample, step, tensor(slot[sel]).long())
            idx[where] = tensor(position[sel])
            mults[where] = mult
            trace.emit_idx.append(idx.to(dev))
            trace.emit_mult.append(mults.to(dev))
        trace.synops.append(tensor(raw["synops"][:, t]).to(torch.float64))
    return trace


def _single_spike_trace(
    net: Flat, raw: dict[str, Any], n_bins: int, b_size: int, n_in: int, dev: torch.device, dt: torch.dtype
) -> Trace:
    """The totals and the compact record of a run in which every neuron spiked at most once per bin."""
    n = net.n
    steps = raw["forward_steps"]
    spikes_rows, emit_rows = raw["spikes"], raw["emissions"]
    sample, bin_, step, neuron = (spikes_rows[:, c].astype(np.int64) for c in range(4))
    spike_step = np.full((n_bins, b_size, n), NO_SPIKE, dtype=np.int32)
    spike_step[bin_, sample, neuron] = step
    delivery = np.full((n_bins, b_size, n), -1, dtype=np.int32)
    # an entry emitted after step k is delivered in step k + 1; with prioritised input every entry is a neuron
    delivery[emit_rows[:, 1], emit_rows[:, 0], emit_rows[:, 3] - n_in] = emit_rows[:, 2] + 1
    counts = np.bincount((sample * n_bins + bin_) * n + neuron, minlength=b_size * n_bins * n)
    per_pop = [(net.offsets[li], net.offsets[li + 1]) for li in range(len(net.sizes))]
    record = SingleSpikeRecord(
        spike_step=[np.ascontiguousarray(spike_step[:, :, lo:hi]) for lo, hi in per_pop],
        delivery=[np.ascontiguousarray(delivery[:, :, lo:hi]) for lo, hi in per_pop],
        alive=[(np.arange(int(steps[:, t].max()))[None, :] < steps[:, t : t + 1] - 1).astype(np.uint8)
               for t in range(n_bins)],
    )
    synops = torch.from_numpy(raw["synops"]).to(device=dev, dtype=torch.float64)
    return Trace(
        n_src=n,
        synops=[synops[:, t] for t in range(n_bins)],
        counts=torch.from_numpy(counts.reshape(b_size, n_bins, n)).to(device=dev, dtype=dt),
        steps=torch.from_numpy(steps).to(dev),
        single_spike=record,
    )
