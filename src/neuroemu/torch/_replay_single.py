"""The differentiable pass for networks whose neurons spike at most once per bin, with its backward by hand.

This computes exactly what ``_replay.replay`` computes (docs/training.md, "Gradients"), for the common
training configuration: every population resets to zero and is refractory, has no bias, ``beta`` in
[0, 1] and a positive threshold, and the input is prioritised. Then, in every bin:

- a neuron spikes at most once and is emitted at most once (with multiplicity 1), so the current a
  population receives in forward step ``k`` is ``E_k @ W``, with ``E_k`` the 0/1 indicator of the
  previous population's entries emitted after step ``k - 1``;
- a potential never exceeds the threshold without input, so a neuron is checked exactly in the steps
  where it receives, up to and including its spike;
- the potential in step ``k`` is ``u_k = base + sum_{k' <= k} I_k'`` with ``base = beta * v`` (the leak),
  and the potential carried to the next bin is ``(base + all current of the bin) * (1 - spiked)``.

The forward values are the recorded spikes; what the pass computes is each check's surrogate derivative
``sigma'(u_k - theta)`` and the potentials carried across bins. The backward pass is written out rather
than left to autograd: per population and bin it is a reversed cumulative sum over the steps, one
product with ``W^T`` that serves the spikes (at their delivery step) and the checked non-spikes (at the
next step of their sample, or after its last step) alike, and one product for the weight gradient. The
non-spikes carry the value 0, so they add nothing to the forward currents or to the weight gradient;
autograd would still build and multiply their (batch, steps, neurons) tensors. This cuts the operations
per bin to about a fifth, and the time of the pass with it.

``tests/test_torch_simulator.py`` checks the gradient against ``_replay.replay`` (and, through the
existing tests, against layer-wise BPTT and the step-by-step reference).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from .. import _core
from ._layers import Params
from ._schedule import Flat, Trace
from .surrogate import ATan, FastSigmoid, Surrogate

__all__ = ["SingleSpikeRecord", "record_from_trace", "replay_single_spike", "single_spike_applies"]

NO_SPIKE = np.iinfo(np.int32).max  # spike step of a neuron that did not spike in the bin


@dataclass
class SingleSpikeRecord:
    """The schedule of a single-spike network in a compact form (CPU, for the fused loops of ``_core``).

    Per population ``l``: ``spike_step[l]`` (T, B, n_l) int32, the forward step of the neuron's spike in
    each bin (``NO_SPIKE`` if none); ``delivery[l]`` (T, B, n_l) int32, the step in which that spike is
    delivered (-1 if never). Per bin: ``alive[t]`` (B, K_t) uint8, 1 where the sample runs another step.
    """

    spike_step: list[np.ndarray]
    delivery: list[np.ndarray]
    alive: list[np.ndarray]


def record_from_trace(trace: Trace, net: Flat) -> SingleSpikeRecord:
    """The compact record of a Trace (each neuron spikes and is delivered at most once per bin)."""
    spike_step, delivery = [], []
    per_bin_step, per_bin_delivery = [], []
    for t in range(trace.n_bins):
        spikes = trace.spikes[t]
        spiked = spikes.amax(dim=1) > 0
        per_bin_step.append(torch.where(spiked, spikes.argmax(dim=1), NO_SPIKE).to(torch.int32).cpu().numpy())
        delivered = trace.delivery_step(t)  # 0 where never delivered (a delivery step is >= 1)
        per_bin_delivery.append(torch.where(delivered > 0, delivered, -1.0).to(torch.int32).cpu().numpy())
    steps_all, delivery_all = np.stack(per_bin_step), np.stack(per_bin_delivery)
    for li in range(len(net.sizes)):
        lo, hi = net.offsets[li], net.offsets[li + 1]
        spike_step.append(np.ascontiguousarray(steps_all[:, :, lo:hi]))
        delivery.append(np.ascontiguousarray(delivery_all[:, :, lo:hi]))
    alive = [a.to(torch.uint8).cpu().numpy() for a in trace.alive]
    return SingleSpikeRecord(spike_step, delivery, alive)


_KERNEL_SURROGATES = {ATan: (0, "alpha"), FastSigmoid: (1, "slope")}


def kernels_apply(params: list[Params], x: torch.Tensor) -> bool:
    """Whether the fused CPU loops of ``_core`` can run this replay (else the PyTorch version runs)."""
    return x.device.type == "cpu" and x.dtype in (torch.float32, torch.float64) and all(
        type(p.surrogate) in _KERNEL_SURROGATES for p in params)


def single_spike_applies(params: list[Params], prioritize_input: bool, first_spike: bool) -> bool:
    """Whether :func:`replay_single_spike` computes this configuration (else use ``_replay.replay``)."""
    if not prioritize_input or first_spike:
        return False
    for p in params:
        if not (p.zero_reset and p.refractory and p.bias is None):
            return False
        beta, theta = p.beta.detach(), p.threshold.detach()
        if not (bool((theta > 0).all()) and bool(((beta >= 0) & (beta <= 1)).all())):
            return False
    return True


class _Bin:
    """The schedule of one bin as the replay needs it, per population (no gradients)."""

    def __init__(self, trace: Trace, t: int, net: Flat, params: list[Params], x_t: torch.Tensor) -> None:
        spikes = trace.spikes[t]  # (B, K, N)
        self.k_steps = spikes.shape[1]
        dt = spikes.dtype
        alive = trace.alive[t]  # (B, K)
        self.alive = alive.unsqueeze(2).to(dt)  # (B, K, 1)
        emitted = trace.emitted_dense(t)  # (B, K, N): emitted after step k, so delivered in step k + 1
        self.spk: list[torch.Tensor] = []  # (B, K, n) spikes, layer 0: (B, n) in step 0
        self.checked: list[torch.Tensor] = []  # same shapes, 1.0 where the neuron is checked
        self.delivered: list[torch.Tensor | None] = []  # (B, K, n_prev) 1.0 where a source is delivered
        for li, p in enumerate(params):
            lo, hi = net.offsets[li], net.offsets[li + 1]
            if li == 0:
                # only the input frame, in step 0: every receiving neuron is checked there, and only there
                spk = spikes[:, 0, lo:hi]
                present = (x_t > 0).to(dt)
                if p.dense:
                    recv = present.amax(dim=1, keepdim=True)
                else:
                    recv = (present @ (p.weight_t.detach() != 0).to(dt)).clamp(max=1)
                self.spk.append(spk)
                self.checked.append(recv.expand_as(spk))
                self.delivered.append(None)
                continue
            plo, phi = net.offsets[li - 1], net.offsets[li]
            delivered = torch.zeros((spikes.shape[0], self.k_steps, phi - plo), dtype=dt, device=spikes.device)
            delivered[:, 1:] = emitted[:, :-1, plo:phi]
            if p.dense:
                recv = delivered.amax(dim=2, keepdim=True)
            else:
                recv = (delivered @ (p.weight_t.detach() != 0).to(dt)).clamp(max=1)
            spk = spikes[:, :, lo:hi]
            seen_before = spk.cumsum(dim=1) - spk
            self.spk.append(spk)
            self.checked.append(recv * (1.0 - seen_before))
            self.delivered.append(delivered)


def _reverse_cumsum(a: torch.Tensor) -> torch.Tensor:
    """``out[:, k] = sum_{k' >= k} a[:, k']`` along dim 1."""
    total = a.sum(dim=1, keepdim=True)
    return total - a.cumsum(dim=1) + a


class _SingleSpikeReplay(torch.autograd.Function):
    @staticmethod
    def forward(
        ctx: Any,
        bins: list[_Bin],
        surrogates: list[Surrogate],
        x: torch.Tensor,
        *tensors: torch.Tensor,
    ) -> torch.Tensor:
        n_layers = len(surrogates)
        weights = tensors[0::3]
        betas = tensors[1::3]
        thetas = tensors[2::3]
        b_size, n_bins, _ = x.shape
        v = [torch.zeros((b_size, w.shape[1]), dtype=x.dtype, device=x.device) for w in weights]
        slopes: list[list[torch.Tensor]] = []  # per bin, per population: sigma'(u - theta) where checked
        v_before: list[list[torch.Tensor]] = []  # per bin, per population: potential before the leak
        outs = []
        for t, rec in enumerate(bins):
            slopes_t, v_t = [], []
            for li in range(n_layers):
                v_t.append(v[li])
                base = betas[li] * v[li]
                if li == 0:
                    current = x[:, t] @ weights[0]  # (B, n0), all in step 0
                    u = base + current
                    total = current
                else:
                    delivered = rec.delivered[li]
                    assert delivered is not None  # populations after the first always have their record
                    current = (delivered @ weights[li]).cumsum(dim=1)  # (B, K, n), received so far
                    u = base.unsqueeze(1) + current
                    total = current[:, -1]
                slopes_t.append(surrogates[li].derivative(u - thetas[li]) * rec.checked[li])
                spiked = rec.spk[li] if li == 0 else rec.spk[li].amax(dim=1)
                v[li] = (base + total) * (1.0 - spiked)
            slopes.append(slopes_t)
            v_before.append(v_t)
            outs.append(rec.spk[-1] if n_layers == 1 else rec.spk[-1].sum(dim=1))
        ctx.bins, ctx.slopes, ctx.v_before = bins, slopes, v_before
        ctx.save_for_backward(x, *tensors)
        return torch.stack(outs, dim=1)

    @staticmethod
    def backward(ctx: Any, grad_out: torch.Tensor) -> tuple[Any, ...]:
        x, *tensors = ctx.saved_tensors
        weights, betas = tensors[0::3], tensors[1::3]
        n_layers = len(weights)
        needs = ctx.needs_input_grad[3:]
        grad_w = [torch.zeros_like(w) if needs[3 * li] else None for li, w in enumerate(weights)]
        grad_beta = [torch.zeros_like(b) if needs[3 * li + 1] else None for li, b in enumerate(betas)]
        grad_theta = [torch.zeros_like(b) if needs[3 * li + 2] else None for li, b in enumerate(betas)]
        grad_v = [torch.zeros((x.shape[0], w.shape[1]), dtype=x.dtype, device=x.device) for w in weights]
        for t in range(x.shape[1] - 1, -1, -1):
            rec: _Bin = ctx.bins[t]
            # the output counts sum the output spikes over the steps (a single population: step 0 only)
            grad_s = grad_out[:, t] if n_layers == 1 else grad_out[:, t].unsqueeze(1)
            for li in range(n_layers - 1, -1, -1):
                grad_u = grad_s * ctx.slopes[t][li]
                spk = rec.spk[li]
                spiked = spk if li == 0 else spk.amax(dim=1)
                grad_carry = grad_v[li] * (1.0 - spiked)  # through the potential carried to the next bin
                if grad_theta[li] is not None:
                    grad_theta[li] -= grad_u.sum(dim=0) if li == 0 else grad_u.sum(dim=(0, 1))
                if li == 0:
                    grad_base = grad_u + grad_carry  # the frame's current arrives with the base in step 0
                    if grad_w[0] is not None:
                        grad_w[0] += x[:, t].t() @ grad_base
                else:
                    # gradient of the current arriving in each step (and after the last: grad_carry)
                    grad_cur = _reverse_cumsum(grad_u) + grad_carry.unsqueeze(1)
                    grad_base = grad_cur[:, 0]
                    delivered = rec.delivered[li]
                    assert delivered is not None
                    grad_weight = grad_w[li]
                    if grad_weight is not None:
                        grad_weight += delivered.flatten(0, 1).t() @ grad_cur.flatten(0, 1)
                    back = grad_cur @ weights[li].t()  # (B, K, n_prev)
                    back_tail = grad_carry @ weights[li].t()  # (B, n_prev)
                    # spikes travel to their delivery step; checked non-spikes to the next step of their
                    # sample, or after its last step into the carried potential
                    at_delivery = (delivered * back).sum(dim=1, keepdim=True)
                    next_step = torch.cat([back[:, 1:], back_tail.unsqueeze(1)], dim=1)
                    after = rec.alive * next_step + (1.0 - rec.alive) * back_tail.unsqueeze(1)
                    spk_prev = rec.spk[li - 1]
                    if li == 1:
                        # the first population is only checked in step 0
                        grad_s = spk_prev * at_delivery[:, 0] + (1.0 - spk_prev) * after[:, 0]
                    else:
                        grad_s = spk_prev * at_delivery + (1.0 - spk_prev) * after
                if grad_beta[li] is not None:
                    grad_beta[li] += (grad_base * ctx.v_before[t][li]).sum(dim=0)
                grad_v[li] = grad_base * betas[li]
        grads: list[torch.Tensor | None] = []
        for li in range(n_layers):
            grads += [grad_w[li], grad_beta[li], grad_theta[li]]
        return (None, None, None, *grads)


def _np(t: torch.Tensor) -> np.ndarray:
    return t.detach().numpy()


class _SingleSpikeKernels(torch.autograd.Function):
    """The same pass as ``_SingleSpikeReplay`` with each population's loops fused in ``_core`` (CPU)."""

    @staticmethod
    def forward(
        ctx: Any,
        record: SingleSpikeRecord,
        layer_info: list[tuple[Surrogate, bool]],
        x: torch.Tensor,
        *tensors: torch.Tensor,
    ) -> torch.Tensor:
        n_layers = len(layer_info)
        weights = [w.detach().contiguous() for w in tensors[0::3]]
        betas = [b.detach().contiguous() for b in tensors[1::3]]
        thetas = [th.detach().contiguous() for th in tensors[2::3]]
        b_size, n_bins, _ = x.shape
        dt, dev = x.dtype, x.device
        v = [torch.zeros((b_size, w.shape[1]), dtype=dt, device=dev) for w in weights]
        slopes: list[list[torch.Tensor]] = []
        v_before: list[list[torch.Tensor]] = []
        outs = []
        nonzero0 = None if layer_info[0][1] else (weights[0] != 0).to(dt)
        for t in range(n_bins):
            k_steps = record.alive[t].shape[1]
            slopes_t, v_t = [], []
            for li in range(n_layers):
                surrogate, dense = layer_info[li]
                v_t.append(v[li])
                base = betas[li] * v[li]
                spike_step = record.spike_step[li][t]
                if li == 0:
                    xt = x[:, t]
                    current = xt @ weights[0]
                    present = (xt > 0).to(dt)
                    recv = present.amax(dim=1, keepdim=True) if nonzero0 is None else (present @ nonzero0).clamp(max=1)
                    u = base + current
                    slope = (surrogate.derivative(u - thetas[0]) * recv).unsqueeze(1).contiguous()
                    spiked = torch.from_numpy(spike_step == 0).to(dt)
                    v_new = (base + current) * (1.0 - spiked)
                else:
                    slope = torch.empty((b_size, k_steps, weights[li].shape[1]), dtype=dt)
                    v_new = torch.empty_like(base)
                    kind, attr = _KERNEL_SURROGATES[type(surrogate)]
                    _core.single_spike_forward(
                        _np(weights[li]), record.delivery[li - 1][t], _np(base), _np(thetas[li]), spike_step,
                        kind, float(getattr(surrogate, attr)), dense, _np(slope), _np(v_new))
                slopes_t.append(slope)
                v[li] = v_new
            slopes.append(slopes_t)
            v_before.append(v_t)
            outs.append(torch.from_numpy(record.spike_step[-1][t] < k_steps).to(dt))
        ctx.record, ctx.slopes, ctx.v_before, ctx.consumed = record, slopes, v_before, False
        ctx.weights, ctx.betas = weights, betas
        ctx.save_for_backward(x, *tensors)
        return torch.stack(outs, dim=1)

    @staticmethod
    def backward(ctx: Any, grad_out: torch.Tensor) -> tuple[Any, ...]:
        if ctx.consumed:
            raise RuntimeError("the single-spike replay's backward pass can run only once per forward pass")
        ctx.consumed = True  # the slopes are overwritten in place by the current gradients
        x = ctx.saved_tensors[0]
        record: SingleSpikeRecord = ctx.record
        weights, betas = ctx.weights, ctx.betas
        n_layers = len(weights)
        needs = ctx.needs_input_grad[3:]
        dt = x.dtype
        grad_w = [torch.zeros_like(w) for w in weights]
        grad_beta = [torch.zeros_like(b) for b in betas]
        grad_theta = [torch.zeros_like(b) for b in betas]
        grad_v = [torch.zeros((x.shape[0], w.shape[1]), dtype=dt) for w in weights]
        grad_out = grad_out.contiguous()
        for t in range(x.shape[1] - 1, -1, -1):
            alive = record.alive[t]
            k_steps = alive.shape[1]
            back = back_tail = None
            for li in range(n_layers - 1, -1, -1):
                slope = ctx.slopes[t][li]  # becomes the gradient of the current per step
                spike_step = record.spike_step[li][t]
                carry = grad_v[li] * torch.from_numpy(spike_step >= k_steps).to(dt)
                grad_base = torch.empty_like(carry)
                output = _np(grad_out[:, t].contiguous()) if li == n_layers - 1 else None
                hidden = output is None
                _core.single_spike_backward(
                    output, back if hidden else None, back_tail if hidden else None,
                    record.delivery[li][t] if hidden else None, alive if hidden else None, spike_step,
                    _np(carry), _np(slope), _np(grad_base), _np(grad_theta[li]),
                    record.delivery[li - 1][t] if li > 0 else None, _np(grad_w[li]) if li > 0 else None)
                if li == 0:
                    grad_w[0] += x[:, t].t() @ grad_base
                else:
                    w_t = weights[li].t()
                    back = _np((slope @ w_t).contiguous())
                    back_tail = _np((carry @ w_t).contiguous())
                grad_beta[li] += (grad_base * ctx.v_before[t][li]).sum(dim=0)
                grad_v[li] = grad_base * betas[li]
        grads: list[torch.Tensor | None] = []
        for li in range(n_layers):
            per_layer = (grad_w[li], grad_beta[li], grad_theta[li])
            grads += [g if needs[3 * li + i] else None for i, g in enumerate(per_layer)]
        return (None, None, None, *grads)


def replay_single_spike(
    params: list[Params], net: Flat, trace: Trace | None, x: torch.Tensor, record: SingleSpikeRecord | None = None
) -> torch.Tensor:
    """Differentiable output spike counts ``(B, T, n_out)``; see the module docstring for the conditions.

    On CPU with the built-in surrogates the fused loops of ``_core`` run (from ``record``, or from a record
    made of ``trace``); elsewhere the same pass in PyTorch operations (from ``trace``).
    """
    tensors: list[torch.Tensor] = []
    for p in params:
        tensors += [p.weight_t, p.beta, p.threshold]
    if kernels_apply(params, x):
        if record is None:
            assert trace is not None
            with torch.no_grad():
                record = record_from_trace(trace, net)
        layer_info = [(p.surrogate, p.dense) for p in params]
        fused: torch.Tensor = _SingleSpikeKernels.apply(record, layer_info, x, *tensors)  # type: ignore[no-untyped-call]
        return fused
    assert trace is not None
    with torch.no_grad():
        bins = [_Bin(trace, t, net, params, x[:, t]) for t in range(trace.n_bins)]
    out: torch.Tensor = _SingleSpikeReplay.apply(  # type: ignore[no-untyped-call]
        bins, [p.surrogate for p in params], x, *tensors
    )
    return out
