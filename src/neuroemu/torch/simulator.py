"""Differentiable simulator of the step model (docs/semantics.md) for sequential PyTorch models.

:func:`simulate` runs a model made of ``Linear`` / ``Conv2d`` / ``AvgPool2d`` / ``Flatten`` layers, each
group followed by a :class:`~neuroemu.torch.LIF` layer, on a batch of input frames, under the same
schedules as :class:`neuroemu.Emulator`:

- ``"sync"`` (layer-synchronous): a time-stepped forward pass; its gradient is plain layer-wise BPTT.
- ``"momentum"``, ``"fifo"``, ``"random"`` with group size ``F``: asynchronous forward steps with a global
  queue. The forward pass (``_schedule.py``) runs without autograd and records the schedule; a second pass
  (``_replay.py``) recomputes the potentials with gradients, treating the schedule as fixed.

For the deterministic schedules the spike counts are those of the C++ engine for the same weights,
inputs and options (in float64; in float32 a potential within rounding of the threshold may differ).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from .._validation import choice, non_negative_int, positive_int
from ..errors import ConfigError, InputError, NeuroemuTypeError
from ._engine_schedule import engine_accepts, engine_trace
from ._layers import Params, Population, apply_linear, parse_model, population_params
from ._replay import replay
from ._replay_single import kernels_apply, replay_single_spike, single_spike_applies
from ._schedule import flatten_params, run_schedule
from .surrogate import spike

__all__ = ["SCHEDULES", "SimulationResult", "simulate", "model_populations"]

SCHEDULES = ("sync", "random", "momentum", "fifo")


@dataclass(frozen=True, eq=False)
class SimulationResult:
    """What :func:`simulate` returns for a batch of ``B`` samples over ``T`` bins.

    Attributes
    ----------
    output_counts : torch.Tensor
        ``(B, T, n_out)`` spikes of the output layer per bin, differentiable.
    spike_counts : torch.Tensor
        ``(B, T, N)`` spikes per neuron per bin (neurons layer by layer, C order), no gradient.
    forward_steps : torch.Tensor
        ``(B, T)`` int64 forward steps per bin (``L`` per bin in the sync schedule).
    synops : torch.Tensor
        ``(B, T)`` float64 synaptic operations per bin (docs/semantics.md, "Counters").
    layer_sizes : tuple of int
    first_spike_time : torch.Tensor or None
        ``(B, n_out)`` with ``first_spike=True``: when each output neuron first spiked, in bins
        (``t + k / K`` for forward step ``k`` of the ``K`` steps of bin ``t``; ``T`` if never), with a
        gradient through the spikes up to and including the first (see docs/training.md).
    """

    output_counts: torch.Tensor
    spike_counts: torch.Tensor
    forward_steps: torch.Tensor
    synops: torch.Tensor
    layer_sizes: tuple[int, ...]
    first_spike_time: torch.Tensor | None = None

    @property
    def layer_spikes(self) -> torch.Tensor:
        """``(B, T, L)`` spikes per layer per bin."""
        bounds = np.concatenate([[0], np.cumsum(self.layer_sizes)])
        return torch.stack(
            [self.spike_counts[..., a:b].sum(dim=-1) for a, b in zip(bounds[:-1], bounds[1:])], dim=-1
        )

    @property
    def total_spikes(self) -> torch.Tensor:
        """``(B,)`` network spikes per sample."""
        return self.spike_counts.sum(dim=(1, 2))

    @property
    def prediction(self) -> torch.Tensor:
        """``(B,)`` argmax of the output counts summed over bins; -1 on a tie for the maximum or silence."""
        totals = self.output_counts.detach().sum(dim=1)
        best = totals.max(dim=1).values
        winners = (totals == best.unsqueeze(1)).sum(dim=1)
        return torch.where((best > 0) & (winners == 1), totals.argmax(dim=1), torch.full_like(winners, -1))


def model_populations(model: Any, input_shape: Sequence[int]) -> list[Population]:
    """The populations (LIF layers with their incoming maps) of a sequential model; checks the model."""
    return parse_model(model, input_shape)


def _model_dtype_device(model: Any) -> tuple[torch.dtype, torch.device]:
    params = list(model.parameters()) if hasattr(model, "parameters") else []
    if not params and isinstance(model, (list, tuple)):
        params = [p for m in model for p in m.parameters()]
    if params:
        return params[0].dtype, params[0].device
    return torch.get_default_dtype(), torch.device("cpu")


def _frames(frames: Any, dtype: torch.dtype, device: torch.device) -> torch.Tensor:
    if isinstance(frames, torch.Tensor):
        x = frames.detach()
    else:
        try:
            array = np.asarray(frames)
        except Exception as exc:  # ragged lists
            raise NeuroemuTypeError(f"frames must be a numeric array or tensor: {exc}") from exc
        if array.dtype == object or not (np.issubdtype(array.dtype, np.number) or array.dtype == np.bool_):
            raise NeuroemuTypeError(f"frames must hold real numbers, got dtype {array.dtype}")
        x = torch.from_numpy(np.ascontiguousarray(array, dtype=np.float64))
    if x.is_complex():
        raise NeuroemuTypeError("frames must hold real numbers, got a complex tensor")
    x = x.to(dtype=dtype, device=device)
    if x.ndim < 3:
        raise InputError(f"frames must be shaped (samples, bins, *input_shape), got shape {tuple(x.shape)}")
    if not bool(torch.all(torch.isfinite(x))):
        raise InputError("frames contain NaN or infinite values")
    if bool(torch.any(x < 0)):
        raise InputError("frames contain negative values; frames hold event counts >= 0")
    return x


def simulate(
    model: Any,
    frames: Any,
    *,
    schedule: str = "sync",
    group_size: int | None = None,
    prioritize_input: bool = True,
    max_post_output_steps: int | None = None,
    input_shape: Sequence[int] | None = None,
    generator: torch.Generator | None = None,
    first_spike: bool = False,
    max_steps_per_bin: int | None = None,
    use_engine: bool | None = None,
) -> SimulationResult:
    """Runs a sequential spiking model in the step model, differentiably.

    Parameters
    ----------
    model : torch.nn.Sequential or list of modules
        ``Linear`` / ``Conv2d`` / ``AvgPool2d`` / ``Flatten`` / ``Unflatten`` / ``Identity`` layers, each
        group followed by a :class:`~neuroemu.torch.LIF` layer; the last layer is a ``LIF`` (the output).
        The simulation runs in the dtype and on the device of the model's parameters.
    frames : torch.Tensor or array_like
        ``(B, T, *input_shape)`` event counts >= 0 (``(B, T, n_in)`` with ``input_shape`` for a
        convolutional first layer).
    schedule : {"sync", "random", "momentum", "fifo"}
        As :class:`neuroemu.Emulator`.
    group_size : int or None
        F, queue entries emitted per forward step (asynchronous schedules; None = all queued).
    prioritize_input : bool
        Deliver each bin's input frame whole in step 0 (True) or queue the input events (False).
    max_post_output_steps : int or None
        Stop a bin this many forward steps after its first output spike.
    input_shape : sequence of int, optional
        Shape of one frame; default ``frames.shape[2:]``.
    generator : torch.Generator, optional
        Random stream of the ``random`` schedule (on the model's device); default a generator seeded 0.
        In the engine (``use_engine``) it seeds the engine's stream with one draw per call; in the
        PyTorch pass it draws the keys itself. Either way the draws differ from an ``Emulator`` run.
    first_spike : bool
        Also compute ``first_spike_time`` (for a time-to-first-spike loss).
    max_steps_per_bin : int or None
        Raise RuntimeError for a bin that needs more forward steps (default ``1000 + 100 * (n_in + N)``).
    use_engine : bool or None
        Asynchronous schedules: which code takes the no-grad pass that decides every spike and emission.
        ``True``: the C++ step engine (in float64, on a CPU copy of the weights; many times faster);
        ``False``: batched PyTorch in the model's dtype and on its device; ``None`` (default): the engine
        for a model on the CPU whose parameters the engine accepts (``beta`` in [0, 1], threshold > 0),
        else PyTorch. The gradient pass is the same either way.

    Returns
    -------
    SimulationResult
    """
    schedule = choice(schedule, "schedule", SCHEDULES)
    group_size = positive_int(group_size, "group_size", allow_none=True)
    if not isinstance(prioritize_input, (bool, np.bool_)):
        raise NeuroemuTypeError(f"prioritize_input must be a bool, got {type(prioritize_input).__name__}")
    if max_post_output_steps is not None:
        max_post_output_steps = non_negative_int(max_post_output_steps, "max_post_output_steps")
    if schedule == "sync":
        for name, value, default in (
            ("group_size", group_size, None),
            ("prioritize_input", bool(prioritize_input), True),
            ("max_post_output_steps", max_post_output_steps, None),
        ):
            if value != default:
                raise ConfigError(f"{name}={value!r} applies to asynchronous schedules only, not to 'sync'")
    dtype, device = _model_dtype_device(model)
    if not dtype.is_floating_point:
        raise NeuroemuTypeError(f"the model's parameters must be floating point, got {dtype}")
    x = _frames(frames, dtype, device)
    shape = tuple(int(s) for s in (x.shape[2:] if input_shape is None else input_shape))
    if math.prod(shape) != math.prod(x.shape[2:]):
        raise InputError(f"frames of shape {tuple(x.shape)} do not hold inputs of shape {shape}")
    pops = parse_model(model, shape)
    params = [population_params(p, dtype, device) for p in pops]
    b_size, n_bins = x.shape[0], x.shape[1]
    x = x.reshape(b_size, n_bins, -1)
    sizes = tuple(p.size for p in pops)

    if schedule == "sync":
        out, counts, tau = _run_sync(pops, params, x, first_spike)
        with torch.no_grad():
            nsyn = [(p.weight_t != 0).sum(dim=1).to(torch.float64) for p in params]  # per source
            nsyn_neurons = torch.cat(nsyn[1:] + [torch.zeros(sizes[-1], dtype=torch.float64, device=device)])
            synops = _input_synops(x, nsyn[0]) + (counts.to(torch.float64) @ nsyn_neurons)
        steps = torch.full((b_size, n_bins), len(pops), dtype=torch.int64, device=device)
        return SimulationResult(out, counts, steps, synops, sizes, tau)

    net = flatten_params(params, x.shape[2])
    wanted = max_steps_per_bin if max_steps_per_bin is not None else 1000 + 100 * (x.shape[2] + net.n)
    limit = positive_int(wanted, "max_steps_per_bin")
    assert limit is not None
    if generator is None and schedule == "random":
        generator = torch.Generator(device=device)
        generator.manual_seed(0)
    if use_engine is not None and not isinstance(use_engine, (bool, np.bool_)):
        raise NeuroemuTypeError(f"use_engine must be a bool or None, got {type(use_engine).__name__}")
    if use_engine is None:
        use_engine = device.type == "cpu" and engine_accepts(net)
    single_spike = single_spike_applies(params, bool(prioritize_input), first_spike)
    if use_engine:
        seed = 0
        if schedule == "random":
            assert generator is not None
            seed = int(torch.randint(0, 2**62, (1,), generator=generator, device=generator.device))
        trace = engine_trace(
            net,
            x,
            schedule=schedule,
            group_size=group_size,
            prioritize_input=bool(prioritize_input),
            max_post_output_steps=max_post_output_steps,
            seed=seed,
            max_steps_per_bin=limit,
            threads=torch.get_num_threads(),
            single_spike=single_spike and kernels_apply(params, x),
        )
    else:
        with torch.no_grad():
            trace = run_schedule(
                net,
                x,
                schedule=schedule,
                group_size=group_size,
                prioritize_input=bool(prioritize_input),
                max_post_output_steps=max_post_output_steps,
                generator=generator,
                max_steps_per_bin=limit,
            )
    if single_spike:
        out, tau = replay_single_spike(params, net, trace, x, record=trace.single_spike), None
    else:
        out, tau = replay(params, net, trace, x, prioritize_input=bool(prioritize_input), first_spike=first_spike)
    return SimulationResult(
        out,
        trace.spike_counts(),
        trace.forward_steps().to(torch.int64),
        torch.stack(trace.synops, dim=1),
        sizes,
        tau,
    )


def _input_synops(x: torch.Tensor, nsyn_in: torch.Tensor) -> torch.Tensor:
    whole = x == torch.floor(x)
    mult = torch.where(whole, x, (x > 0).to(x.dtype)).to(torch.float64)
    return mult @ nsyn_in


def _run_sync(
    pops: list[Population], params: list[Params], x: torch.Tensor, first_spike: bool
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
    """Layer-synchronous time-stepped pass: per bin, ``u = (beta * v + bias) + W s``; BPTT gradient."""
    b_size, n_bins, _ = x.shape
    v: list[torch.Tensor | None] = [None] * len(pops)
    outs = []
    counts = []
    n_layers = len(pops)
    tau_acc = fired = None
    for t in range(n_bins):
        s = x[:, t]
        per_layer = []
        for li, (pop, p) in enumerate(zip(pops, params)):
            current = apply_linear(pop.modules, s.reshape(b_size, *pop.in_shape), bias=False).reshape(b_size, -1)
            vl = v[li]
            if vl is None:
                base = p.bias
            else:
                base = p.beta * vl if p.bias is None else p.beta * vl + p.bias
            u = current if base is None else base + current
            s = spike(u - p.threshold, p.surrogate)
            held = s.detach()
            v[li] = u - held * u if p.zero_reset else u - held * p.threshold
            per_layer.append(held)
        outs.append(s)
        counts.append(torch.cat(per_layer, dim=1))
        if first_spike:
            pos = t + (n_layers - 1) / n_layers - n_bins
            if tau_acc is None:
                tau_acc = torch.zeros_like(s)
                fired = torch.zeros_like(s)
            assert fired is not None
            tau_acc = tau_acc + pos * s * (fired == 0).to(s.dtype)
            fired = fired + held
    tau = None if tau_acc is None else tau_acc + n_bins
    return torch.stack(outs, dim=1), torch.stack(counts, dim=1), tau
