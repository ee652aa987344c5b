"""The differentiable pass of the asynchronous simulator: potentials recomputed from a fixed schedule.

``_schedule.run_schedule`` decides, without gradients, which neuron spikes in which forward step and
which queue entries are emitted when. This pass recomputes the same bins population by population with
autograd, treating those choices as fixed, and returns the output spike counts with their gradient.

What is differentiated (docs/training.md, "Gradients"):

- In forward step ``k`` a *checked* neuron (docs/semantics.md: not refractory, and it receives current,
  or ``k == 0`` with a bias, or its potential exceeds the threshold) computes ``u = v + I`` and
  ``s = H(u - theta)``; ``s`` has the surrogate gradient. A neuron that is not checked has ``s = 0``
  with no gradient: the surrogate is evaluated only where the neuron's potential changes.
- The reset is detached: ``v <- u - s*u`` (zero) or ``u - s*theta`` (subtract) with ``s`` held fixed.
- A spike travels with the queue: the multiplicity delivered when a neuron is emitted is the sum of its
  spikes ``s`` since its previous emission, so the gradient flows to the step where each spike was
  decided. A checked neuron that does *not* spike sends its ``s`` (value 0, surrogate gradient) at the
  next forward step (or, after the last step of a bin, into the potential carried to the next bin): this
  is the path by which a silent neuron learns to fire, and with ``F`` unlimited it makes the gradient
  equal to layer-wise BPTT.
- The leak ``v <- beta * v (+ bias)`` per bin carries the gradient across bins.

Per population, a bin is computed over its *slots*: the forward steps in which it receives current or
spikes in some sample of the batch (plus step 0 with a bias), and a final slot for current that arrives
after its last check. Within a bin the potential of a population is a cumulative sum of its current
over its slots. The current of real spikes is rebuilt from the recorded emitted groups (at most ``F``
sources per step, one ``embedding_bag``), the current of non-spikes by routing the previous
population's per-slot currents to the next slot, so no tensor is larger than (batch, slots, neurons).
"""

from __future__ import annotations

import torch
import torch.nn.functional as nnf

from ._layers import Params
from ._schedule import Flat, Trace
from .surrogate import spike

__all__ = ["replay"]


def _lif(
    p: Params,
    c: torch.Tensor,
    recv: torch.Tensor,
    spk: torch.Tensor,
    v: torch.Tensor,
    executed: torch.Tensor | None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """One population over its slots: returns (s (B, S, n) with gradients, potential at the bin's end).

    ``c`` (B, S or 1, n) is the current received up to and including each slot (cumulative), ``recv``
    (B, S, n or 1) is 1 where real current arrives, ``spk`` (B, S, n) the decided spikes, ``executed``
    (B, S, 1) whether the sample ran the slot's step (needed for checks without input).
    """
    theta = p.threshold
    base = p.beta * v if p.bias is None else p.beta * v + p.bias
    bias_slot0 = p.bias is not None  # slot 0 is then step 0
    if p.refractory and p.zero_reset and not bias_slot0:
        # the common case: at most one spike per bin, no check without input
        u = base.unsqueeze(1) + c
        seen = spk.cumsum(dim=1)  # 1 from the spike's slot on
        checked = recv * (1.0 - seen) + spk
        s = spike(u - theta, p.surrogate, value=spk) * checked
        v_end = (base + c[:, -1]) * (1.0 - seen[:, -1])
        return s, v_end

    c = c.expand(spk.shape) if c.shape[1] != spk.shape[1] else c
    n_before = spk.cumsum(dim=1) - spk  # spikes in earlier slots of this bin
    if p.zero_reset:
        if p.refractory:
            u = base.unsqueeze(1) + c  # valid up to the first spike; later slots are never checked
        else:
            slot = torch.arange(spk.shape[1], device=spk.device).view(1, -1, 1)
            last = torch.cummax(torch.where(spk > 0, slot, -1), dim=1).values
            last_before = nnf.pad(last[:, :-1], (0, 0, 1, 0), value=-1)
            c_last = c.gather(1, last_before.clamp(min=0))
            had = (last_before >= 0).to(c.dtype)
            u = had * (c - c_last) + (1 - had) * (base.unsqueeze(1) + c)
    else:
        u = base.unsqueeze(1) + c - theta * n_before
    checked = recv + spk
    if bias_slot0:
        checked = checked.clone()
        checked[:, 0] = checked[:, 0] + 1
    if not p.zero_reset or bias_slot0:
        # a potential above threshold is checked without input (subtract reset, bias)
        current = c - nnf.pad(c[:, :-1], (0, 0, 1, 0))
        before = (u - current).detach()
        above = (before > theta).to(u.dtype)
        checked = checked + (above if executed is None else above * executed)
    checked = checked.clamp(max=1)
    if p.refractory:
        checked = checked * (1 - n_before.clamp(max=1))
    s = spike(u - theta, p.surrogate, value=spk) * checked
    total = c[:, -1]
    spiked = spk.amax(dim=1)
    slot = torch.arange(spk.shape[1], device=spk.device, dtype=spk.dtype).view(1, -1, 1)
    if p.zero_reset:
        if p.refractory:
            v_end = (base + total) * (1 - spiked)
        else:
            last = (spk * slot).amax(dim=1).long()
            c_last = c.gather(1, last.unsqueeze(1)).squeeze(1)
            v_end = spiked * (total - c_last) + (1 - spiked) * (base + total)
    elif p.refractory:
        first = (spk * slot).amax(dim=1).long()  # the only spike of the bin
        c_first = c.gather(1, first.unsqueeze(1)).squeeze(1)
        v_end = spiked * (base + c_first - theta) + (1 - spiked) * (base + total)
    else:
        v_end = base + total - theta * spk.sum(dim=1)
    return s, v_end


class _Bin:
    """The record of one bin, with the per-step views the populations need."""

    def __init__(self, trace: Trace, t: int, n_groups: int, group_of_src: torch.Tensor) -> None:
        self.spikes = trace.spikes[t]
        self.alive = trace.alive[t]
        self.k_steps = self.spikes.shape[1]
        self.idx = trace.emit_idx[t]  # (B, K-1, F) or None (dense)
        self.mult = trace.emit_mult[t]
        self.valid = (self.mult > 0).to(self.mult.dtype)
        self.trace, self.t = trace, t
        self.emitting = trace.emitting_steps(t, group_of_src, n_groups)  # (K-1, groups)
        b_size = self.spikes.shape[0]
        self.ran = torch.cat(
            [torch.ones((b_size, 1), dtype=torch.bool, device=self.spikes.device), self.alive[:, :-1]], dim=1
        )
        self._dense: torch.Tensor | None = None
        self._delivered: torch.Tensor | None = None

    def dense(self) -> torch.Tensor:
        if self._dense is None:
            self._dense = self.trace.emitted_dense(self.t)
        return self._dense

    def delivered_at(self) -> torch.Tensor:
        if self._delivered is None:
            self._delivered = self.trace.delivery_step(self.t)
        return self._delivered


def _emitted_current(
    rec: _Bin,
    src_lo: int,
    n_src: int,
    values: torch.Tensor,
    weight_t: torch.Tensor,
    nonzero: torch.Tensor | None,
    st: torch.Tensor,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Cumulative current over the slots ``st`` (+ tail) from the emitted sources ``src_lo .. +n_src``.

    ``values`` (B, n_src) is the multiplicity each source delivers when emitted (its spike ``s`` with
    gradient, or an input count). Returns (c (B, S+1, n), recv (B, S+1, n or 1)).
    """
    b_size = values.shape[0]
    k_em = rec.k_steps - 1
    n = weight_t.shape[1]
    dt = values.dtype
    if k_em == 0:
        zero = torch.zeros((b_size, st.numel() + 1, n), dtype=dt, device=values.device)
        return zero, zero[..., :1] if nonzero is None else zero
    em = rec.dense()[:, :k_em, src_lo : src_lo + n_src]  # (B, K-1, n_src) 1 where emitted after step k
    per_step = (em * values.unsqueeze(1)) @ weight_t
    hit = em.amax(dim=2, keepdim=True) if nonzero is None else (em @ nonzero).clamp(max=1)
    # emitted after step k = delivered in step k + 1; keep this population's slots, add the tail
    per_step = nnf.pad(per_step, (0, 0, 1, 0)).index_select(1, st)
    hit = nnf.pad(hit, (0, 0, 1, 0)).index_select(1, st)
    c = nnf.pad(per_step, (0, 0, 0, 1)).cumsum(dim=1)
    return c, nnf.pad(hit, (0, 0, 0, 1))


def replay(
    params: list[Params],
    net: Flat,
    trace: Trace,
    x: torch.Tensor,
    *,
    prioritize_input: bool,
    first_spike: bool,
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Differentiable output spike counts ``(B, T, n_out)`` (and first-spike times, see ``simulate``)."""
    b_size, n_bins, n_in = x.shape
    dt, dev = x.dtype, x.device
    queued_input = not prioritize_input
    off = n_in if queued_input else 0
    n_layers = len(params)
    v = [torch.zeros((b_size, p.weight_t.shape[1]), dtype=dt, device=dev) for p in params]
    nonzero = [None if p.dense else (p.weight_t.detach() != 0).to(dt) for p in params]
    # queue entries in groups: 0 = input channels, l + 1 = neurons of population l
    group_of_src = torch.cat(
        ([torch.zeros(n_in, dtype=torch.long, device=dev)] if queued_input else [])
        + [torch.full((s,), li + 1, dtype=torch.long, device=dev) for li, s in enumerate(net.sizes)]
    )
    outs = []
    n_out = params[-1].weight_t.shape[1]
    tau_acc = torch.zeros((b_size, n_out), dtype=dt, device=dev) if first_spike else None
    fired_before = torch.zeros((b_size, n_out), dtype=dt, device=dev) if first_spike else None
    for t in range(n_bins):
        rec = _Bin(trace, t, n_layers + 1, group_of_src)
        k_steps = rec.k_steps

        # slots of each population: steps where it receives or spikes in some sample (+ step 0 with a bias).
        # A zero-reset neuron without bias spikes only in a step where it receives, so for such a
        # population the receiving steps suffice.
        steps = []
        for li, p in enumerate(params):
            lo, hi = net.offsets[li], net.offsets[li + 1]
            need = torch.zeros(k_steps, dtype=torch.bool, device=dev)
            if li == 0 and not queued_input:
                need[0] = True
            else:
                need[1:] = rec.emitting[:, li]
            if not p.zero_reset or p.bias is not None:
                need |= rec.spikes[:, :, lo:hi].amax(dim=(0, 2)) > 0
            if p.bias is not None:
                need[0] = True
            steps.append(need.nonzero().squeeze(1))
        step_range = torch.arange(k_steps + 1, device=dev)
        slot_of = [torch.searchsorted(s, step_range) for s in steps]  # step -> first slot at or after it

        xt = x[:, t, :]
        silent_cur = None  # previous population: current of its non-spikes, per its slot (B, S+1, n)
        sent = None  # previous population: multiplicity each neuron delivers when emitted (B, n)
        deliver_cum = None  # previous population, general path: cumulative deliveries (B, S+1, n_prev)
        deliver_real = None
        prev_st = None
        for li, p in enumerate(params):
            lo, hi = net.offsets[li], net.offsets[li + 1]
            st = steps[li]
            spk = nnf.pad(rec.spikes[:, :, lo:hi].index_select(1, st), (0, 0, 0, 1))
            if li == 0:
                if not queued_input:
                    # the frame arrives in step 0 = slot 0, so every slot has received it
                    c = (xt @ p.weight_t).unsqueeze(1)
                    present = (xt > 0).to(dt)
                    if nonzero[0] is None:
                        real0 = present.amax(dim=1, keepdim=True).unsqueeze(2)
                    else:
                        real0 = (present @ nonzero[0]).clamp(max=1).unsqueeze(1)
                    recv = nnf.pad(real0, (0, 0, 0, st.numel()))
                else:
                    c, recv = _emitted_current(rec, 0, n_in, xt, p.weight_t, nonzero[0], st)
            else:
                assert prev_st is not None and silent_cur is not None
                if deliver_cum is None:
                    assert sent is not None
                    c, recv = _emitted_current(
                        rec, off + net.offsets[li - 1], net.sizes[li - 1], sent, p.weight_t, nonzero[li], st
                    )
                else:
                    assert deliver_real is not None and deliver_cum is not None
                    c = deliver_cum @ p.weight_t
                    nz = nonzero[li]
                    recv = deliver_real if nz is None else (deliver_real @ nz).clamp(max=1)
                # non-spikes of the previous population arrive at the next step (or after the last one)
                ghost_step = torch.where(rec.alive[:, prev_st], prev_st + 1, k_steps)
                ghost_slot = nnf.pad(slot_of[li][ghost_step], (0, 1), value=st.numel())  # (B, S_prev + 1)
                slot_ids = torch.arange(st.numel() + 1, device=dev).view(1, -1, 1)
                route = (slot_ids >= ghost_slot.unsqueeze(1)).to(dt)  # cumulative arrival by slot
                c = c + torch.bmm(route, silent_cur @ p.weight_t)
            executed = None
            if not p.zero_reset or p.bias is not None:
                executed = nnf.pad(rec.ran[:, st].to(dt), (0, 1)).unsqueeze(2)
            s, v[li] = _lif(p, c, recv, spk, v[li], executed)

            if li == n_layers - 1:
                outs.append(s.sum(dim=1))
                if first_spike:
                    assert tau_acc is not None and fired_before is not None
                    n_steps = (1 + rec.alive.sum(dim=1)).to(dt)
                    pos = t + nnf.pad(st.to(dt), (0, 1)).view(1, -1) / n_steps.view(-1, 1)
                    before = fired_before.unsqueeze(1) + spk.cumsum(dim=1) - spk
                    include = (before == 0).to(dt)
                    tau_acc = tau_acc + ((pos - n_bins).unsqueeze(2) * s * include).sum(dim=1)
                    fired_before = fired_before + spk.sum(dim=1)
                continue

            silent_cur = s * (1.0 - spk)
            prev_st = st
            if p.refractory:
                sent = (s * spk).sum(dim=1)  # each neuron's one spike of the bin, with its gradient
                deliver_cum = None
            else:
                deliver_cum, deliver_real = _general_deliveries(rec, s, spk, st, slot_of[li + 1], steps[li + 1],
                                                                off + lo, hi - lo, nonzero[li + 1] is None)
    out = torch.stack(outs, dim=1)
    tau = None if tau_acc is None else tau_acc + n_bins
    return out, tau


def _general_deliveries(
    rec: _Bin,
    s: torch.Tensor,
    spk: torch.Tensor,
    st: torch.Tensor,
    next_slot_of: torch.Tensor,
    next_steps: torch.Tensor,
    src_lo: int,
    n: int,
    dense_next: bool,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Deliveries of a population that can spike several times per bin (refractoriness off).

    Each spike is delivered with the first emission of its neuron at or after the spike's step; several
    spikes delivered together add up. Returns the cumulative deliveries (B, S'+1, n) into the next
    population's slots and the real-delivery indicator (B, S'+1, 1 or n).
    """
    b_size = s.shape[0]
    k_steps = rec.k_steps
    dev, dt = s.device, s.dtype
    em = rec.dense()[:, :, src_lo : src_lo + n]
    step_idx = torch.arange(k_steps, device=dev).view(1, -1, 1)
    nxt = torch.where(em > 0, step_idx, k_steps).flip(1).cummin(dim=1).values.flip(1)
    nxt = nnf.pad(nxt.index_select(1, st), (0, 0, 0, 1), value=k_steps)
    got = (nxt < k_steps).to(dt)
    spike_slot = next_slot_of[(nxt + 1).clamp(max=k_steps)]  # (B, S+1, n)
    n_next = next_steps.numel()
    sent = torch.zeros((b_size, n_next + 1, n), dtype=dt, device=dev).scatter_add(1, spike_slot, s * spk * got)
    real = torch.zeros((b_size, n_next + 1, n), dtype=dt, device=dev).scatter_add_(1, spike_slot, spk * got)
    real = real.clamp(max=1)
    return sent.cumsum(dim=1), (real.amax(dim=2, keepdim=True) if dense_next else real)
