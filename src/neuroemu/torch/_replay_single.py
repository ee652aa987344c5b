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

from typing import Any

import torch

from ._layers import Params
from ._schedule import Flat, Trace
from .surrogate import Surrogate

__all__ = ["replay_single_spike", "single_spike_applies"]


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
    def forward(  # type: ignore[override]
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
                    current = (rec.delivered[li] @ weights[li]).cumsum(dim=1)  # (B, K, n), received so far
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
    def backward(ctx: Any, grad_out: torch.Tensor) -> tuple[Any, ...]:  # type: ignore[override]
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
                    if grad_w[li] is not None:
                        grad_w[li] += delivered.flatten(0, 1).t() @ grad_cur.flatten(0, 1)
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


def replay_single_spike(params: list[Params], net: Flat, trace: Trace, x: torch.Tensor) -> torch.Tensor:
    """Differentiable output spike counts ``(B, T, n_out)``; see the module docstring for the conditions."""
    with torch.no_grad():
        bins = [_Bin(trace, t, net, params, x[:, t]) for t in range(trace.n_bins)]
    tensors: list[torch.Tensor] = []
    for p in params:
        tensors += [p.weight_t, p.beta, p.threshold]
    out: torch.Tensor = _SingleSpikeReplay.apply(bins, [p.surrogate for p in params], x, *tensors)
    return out
