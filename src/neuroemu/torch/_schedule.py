"""The asynchronous step model, batched, without gradients: decides every spike and every emission.

This is the forward pass of :func:`neuroemu.torch.simulate` for the schedules ``random``, ``momentum`` and
``fifo``; it follows docs/semantics.md to the letter and records, per bin, which neuron spiked in which
forward step and which queue entries were emitted after which step. The differentiable pass
(``_replay.py``) then recomputes the potentials from this record with gradients, treating the schedule's
choices as fixed.

State is kept per sample as ``(B, N)`` tensors. A forward step costs a gather of the ``F`` emitted rows of
the fan-out matrix and a ``(B, F) x (F, N)`` product, a handful of element-wise updates, and one
``topk`` over the queue; no layer is multiplied densely. Masks are float 0/1 tensors (element-wise float
arithmetic is several times faster than boolean indexing on CPU), and every update is exact
(``u * 1 = u``, ``u * 0 = 0``, ``a + 0 = a``). Two shortcuts keep steps cheap without changing results:

- with prioritised input, the first population only receives in step 0; if it resets to zero or is
  refractory, nothing can change it afterwards, so steps ``k >= 1`` update only the later populations;
- when every neuron is refractory, a queued neuron has multiplicity 1 and its key alone says that it is
  queued, so the momentum and fifo schedules keep no separate count.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch
import torch.nn.functional as nnf

from ..errors import ConfigError
from ._layers import Params

__all__ = ["Flat", "Trace", "flatten_params", "run_schedule"]

_FIFO_EMPTY = -1.0e300  # fifo key of an entry that is not queued (keys are -(step * n + index) > this)


@dataclass
class Flat:
    """The network as one population of ``N`` neurons, detached from autograd."""

    n_in: int
    sizes: list[int]
    offsets: list[int]  # first neuron of each layer, and N at the end
    w_in: torch.Tensor  # (n_in, sizes[0]): input channel -> layer 0
    w_out: torch.Tensor  # (N, N): row j = outgoing weights of neuron j onto all neurons
    theta: torch.Tensor  # (1, N)
    beta: torch.Tensor  # (1, N)
    bias: torch.Tensor | None  # (1, N), None if no layer has a bias
    zero_reset: torch.Tensor  # (1, N) 1.0 where the reset is to zero
    refractory: torch.Tensor  # (1, N) 1.0 where refractory
    nsyn_in: torch.Tensor  # (n_in,) float64 synapses per input channel
    nsyn: torch.Tensor  # (N,) float64 synapses per neuron

    @property
    def n(self) -> int:
        return self.offsets[-1]

    def _all(self, flags: torch.Tensor, value: float, lo: int = 0, hi: int | None = None) -> bool:
        return bool(torch.all(flags[:, lo:hi] == value))


def flatten_params(params: list[Params], n_in: int) -> Flat:
    sizes = [p.weight_t.shape[1] for p in params]
    offsets = [0]
    for s in sizes:
        offsets.append(offsets[-1] + s)
    n = offsets[-1]
    w0 = params[0].weight_t.detach()
    dtype, device = w0.dtype, w0.device
    w_out = torch.zeros((n, n), dtype=dtype, device=device)
    for li in range(1, len(params)):
        w_out[offsets[li - 1] : offsets[li], offsets[li] : offsets[li + 1]] = params[li].weight_t.detach()

    def row(values: list[torch.Tensor]) -> torch.Tensor:
        return torch.cat([v.detach().to(dtype).reshape(-1) for v in values]).reshape(1, n)

    def flag(attr: str) -> torch.Tensor:
        values = [torch.full((s,), float(getattr(p, attr)), dtype=dtype, device=device) for p, s in zip(params, sizes)]
        return row(values)

    has_bias = any(p.bias is not None for p in params)
    return Flat(
        n_in=n_in,
        sizes=sizes,
        offsets=offsets,
        w_in=w0,
        w_out=w_out,
        theta=row([p.threshold for p in params]),
        beta=row([p.beta for p in params]),
        bias=row([p.bias if p.bias is not None else torch.zeros(s, dtype=dtype, device=device)
                  for p, s in zip(params, sizes)]) if has_bias else None,
        zero_reset=flag("zero_reset"),
        refractory=flag("refractory"),
        nsyn_in=(w0 != 0).sum(dim=1).to(torch.float64),
        nsyn=(w_out != 0).sum(dim=1).to(torch.float64),
    )


@dataclass
class Trace:
    """What happened in every bin. ``K`` is the number of forward steps of the bin's longest sample.

    Per bin: ``spikes`` (B, K, N) float 0/1 (spikes in step k); ``alive`` (B, K) bool (the queue is not
    empty after step k, so the sample runs step k + 1); the groups emitted after steps 0 .. K-2 either as
    ``emit_idx`` (B, K-1, F) queue positions with ``emit_mult`` (B, K-1, F) multiplicities (0 = an unused
    slot, whose index is arbitrary and may repeat an emitted one), or, with ``emit_idx`` None, as dense
    ``emit_mult`` (B, K-1, n_src).
    """

    n_src: int
    spikes: list[torch.Tensor] = field(default_factory=list)
    alive: list[torch.Tensor] = field(default_factory=list)
    emit_idx: list[torch.Tensor | None] = field(default_factory=list)
    emit_mult: list[torch.Tensor] = field(default_factory=list)
    synops: list[torch.Tensor] = field(default_factory=list)  # per bin (B,) float64
    # A record without the per-step tensors above (the engine's, for the fused single-spike replay)
    # carries its totals and its compact form instead:
    counts: torch.Tensor | None = None  # (B, T, N) spikes per neuron per bin
    steps: torch.Tensor | None = None  # (B, T) forward steps
    single_spike: Any = None  # _replay_single.SingleSpikeRecord

    @property
    def n_bins(self) -> int:
        return len(self.synops)

    def forward_steps(self) -> torch.Tensor:
        """(B, T) forward steps of each sample in each bin."""
        if self.steps is not None:
            return self.steps
        return torch.stack([1 + a.sum(dim=1) for a in self.alive], dim=1)

    def spike_counts(self) -> torch.Tensor:
        """(B, T, N) spikes per neuron per bin."""
        if self.counts is not None:
            return self.counts
        return torch.stack([s.sum(dim=1) for s in self.spikes], dim=1)

    def delivery_step(self, t: int) -> torch.Tensor:
        """(B, n_src) float: the step in which the *last* emission of each entry is delivered; 0 if none."""
        mult = self.emit_mult[t]
        b_size = mult.shape[0]
        k_em = mult.shape[1]
        step = torch.arange(1, k_em + 1, device=mult.device, dtype=mult.dtype).view(1, -1, 1)
        idx = self.emit_idx[t]
        if idx is None:
            return ((mult > 0).to(mult.dtype) * step).amax(dim=1) if k_em else torch.zeros(
                (b_size, self.n_src), dtype=mult.dtype, device=mult.device)
        out = torch.zeros((b_size, self.n_src), dtype=mult.dtype, device=mult.device)
        if k_em:
            src = ((mult > 0).to(mult.dtype) * step).reshape(b_size, -1)
            out.scatter_reduce_(1, idx.reshape(b_size, -1), src, reduce="amax")
        return out

    def emitted_dense(self, t: int) -> torch.Tensor:
        """(B, K, n_src) float 0/1: entry emitted after step k."""
        mult = self.emit_mult[t]
        b_size, k_em = mult.shape[0], mult.shape[1]
        out = torch.zeros((b_size, k_em + 1, self.n_src), dtype=mult.dtype, device=mult.device)
        idx = self.emit_idx[t]
        if idx is None:
            out[:, :k_em] = (mult > 0).to(mult.dtype)
        elif k_em:
            # add, not assign: an unused slot (multiplicity 0) may repeat the index of an emitted entry
            out[:, :k_em].scatter_add_(2, idx, (mult > 0).to(mult.dtype))
        return out

    def emitting_steps(self, t: int, group_of_src: torch.Tensor, n_groups: int) -> torch.Tensor:
        """(K-1, n_groups) bool: some sample emitted an entry of each group after step k."""
        mult = self.emit_mult[t]
        idx = self.emit_idx[t]
        if idx is None:
            present = (mult > 0).any(dim=0)  # (K-1, n_src)
            out = torch.zeros((mult.shape[1], n_groups), dtype=torch.bool, device=mult.device)
            for g in range(n_groups):
                out[:, g] = present[:, group_of_src == g].any(dim=1)
            return out
        b_size, k_em, group = idx.shape
        hits = torch.zeros((b_size, k_em, n_groups), dtype=mult.dtype, device=mult.device)
        hits.scatter_add_(2, group_of_src[idx], (mult > 0).to(mult.dtype))
        return hits.amax(dim=0) > 0


def _input_multiplicity(x: torch.Tensor) -> torch.Tensor:
    """Synop multiplicity of input events: the count if whole, else 1 (a graded event); 0 where x == 0."""
    whole = x == torch.floor(x)
    return torch.where(whole, x, (x > 0).to(x.dtype)).to(torch.float64)


def run_schedule(
    net: Flat,
    x: torch.Tensor,
    *,
    schedule: str,
    group_size: int | None,
    prioritize_input: bool,
    max_post_output_steps: int | None,
    generator: torch.Generator | None,
    max_steps_per_bin: int,
) -> Trace:
    """Runs the asynchronous step model on frames ``x`` (B, T, n_in); returns the record of it."""
    b_size, n_bins, n_in = x.shape
    n = net.n
    dev, dt = x.device, x.dtype
    queued_input = not prioritize_input
    off = n_in if queued_input else 0  # position of neuron 0 in the queue arrays
    n_src = off + n
    group = n_src if group_size is None else min(int(group_size), n_src)
    unlimited = group >= n_src
    out_lo = net.offsets[-2]
    n0 = net.sizes[0]

    all_refr = net._all(net.refractory, 1.0)
    no_refr = net._all(net.refractory, 0.0)
    # first population settled after step 0 (it only receives the prioritised frame)
    lo = n0 if (prioritize_input and len(net.sizes) > 1 and (
        net._all(net.zero_reset, 1.0, 0, n0) or net._all(net.refractory, 1.0, 0, n0))) else 0
    # element-wise state of the neurons that can change in steps k >= 1: columns lo..N
    theta_r, zr_r, refr_r = net.theta[:, lo:], net.zero_reset[:, lo:], net.refractory[:, lo:]
    all_zero_r = bool(torch.all(zr_r == 1))
    all_sub_r = bool(torch.all(zr_r == 0))
    sub_amount_r = theta_r * (1 - zr_r)
    need_spike_mask = not bool(torch.all(net.zero_reset == 1))  # a refractory subtract neuron may hold v > theta
    mask_inactive = need_spike_mask and max_post_output_steps is not None
    # ties of float keys: broken by the lower index exactly in float64 (where the engine is matched bit
    # for bit); in lower precision a tie of two pre-spike potentials is left to topk (documented)
    exact_ties = schedule != "fifo" and dt == torch.float64
    count_free = all_refr and not queued_input and schedule in ("momentum", "fifo") and not unlimited

    w_src = net.w_out if not queued_input else torch.cat(
        [torch.nn.functional.pad(net.w_in, (0, n - n0)), net.w_out], dim=0
    )
    w_src_r = w_src[:, lo:].contiguous()
    nsyn_src = net.nsyn if not queued_input else torch.cat([net.nsyn_in, net.nsyn])
    # keys: larger is emitted first; empty_key marks entries that are not queued
    if schedule == "fifo":
        key_dtype = torch.float64
        empty_key = _FIFO_EMPTY
        rank_index = torch.arange(n_src, dtype=key_dtype, device=dev)
    else:
        key_dtype = dt
        empty_key = 0.0
    chan_key = None
    if queued_input and schedule == "momentum":
        # input channels rank before every neuron, in ascending channel order: distinct finite keys far
        # above any potential (neuron keys are pre-spike potentials > threshold > 0)
        if n_in >= 2**21:
            raise ConfigError("momentum with queued input supports fewer than 2**21 input channels")
        top = torch.finfo(dt).max / 4
        chan_key = top * (1.0 - (torch.arange(n_in, dtype=torch.float64, device=dev) + 1) * 2.0**-22).to(dt)

    trace = Trace(n_src=n_src)
    v = torch.zeros((b_size, n), dtype=dt, device=dev)
    q = torch.zeros((b_size, n_src), dtype=dt, device=dev)
    key = torch.full((b_size, n_src), empty_key, dtype=key_dtype, device=dev)
    for t in range(n_bins):
        v.mul_(net.beta)
        if net.bias is not None:
            v.add_(net.bias)
        if not count_free:
            q.zero_()
        key.fill_(empty_key)
        xt = x[:, t, :]
        cur = torch.zeros((b_size, n), dtype=dt, device=dev)
        if queued_input:
            q[:, :n_in] = xt
            if schedule == "momentum":
                assert chan_key is not None
                key[:, :n_in] = chan_key * (xt > 0).to(dt)
            elif schedule == "fifo":
                key[:, :n_in] = torch.where(xt > 0, -rank_index[:n_in], torch.full_like(xt, empty_key, dtype=key_dtype))
        else:
            cur[:, :n0] = xt @ net.w_in
        spikes: list[torch.Tensor] = []
        alive_rec: list[torch.Tensor] = []
        idx_rec: list[torch.Tensor] = []
        mult_rec: list[torch.Tensor] = []
        first_out = torch.full((b_size,), -1, dtype=torch.int64, device=dev)
        act = torch.ones((b_size, 1), dtype=dt, device=dev)
        # step 0 on every neuron
        ok = torch.ones((b_size, n), dtype=dt, device=dev)
        u = v + cur
        spk = (u - net.theta).clamp_(min=0).sign_()
        v = _reset(u, spk, net.theta, net.zero_reset, net.theta * (1 - net.zero_reset),
                   bool(torch.all(net.zero_reset == 1)), bool(torch.all(net.zero_reset == 0)))
        if not no_refr:
            ok.addcmul_(spk, net.refractory, value=-1.0)
        vr, okr = v[:, lo:].contiguous(), ok[:, lo:].contiguous()
        k = 0
        while True:
            spk_r = spk[:, lo:] if k == 0 else spk
            if k > 0:
                u = torch.addcmul(vr, cur, okr) if not no_refr else vr + cur
                spk = (u - theta_r).clamp_(min=0).sign_()
                if need_spike_mask:
                    spk.mul_(okr)
                    if mask_inactive:
                        spk.mul_(act)
                vr = _reset(u, spk, theta_r, zr_r, sub_amount_r, all_zero_r, all_sub_r)
                if all_refr:
                    okr.sub_(spk)
                elif not no_refr:
                    okr.addcmul_(spk, refr_r, value=-1.0)
                spk_r = spk
                u_r = u
            else:
                u_r = u[:, lo:]
            spikes.append(spk)
            # queue: neurons lo..N that spiked in this step (at k = 0 also the first population)
            q_lo = off + (0 if k == 0 else lo)
            s_q = spk if k == 0 else spk_r
            u_q = u if k == 0 else u_r
            kn = key[:, q_lo:]
            if schedule == "momentum":
                if all_refr:
                    kn.addcmul_(u_q, s_q)  # the key was 0: a refractory neuron spikes once per bin
                else:
                    kn.mul_(1.0 - s_q).addcmul_(u_q, s_q)
            elif schedule == "fifo":
                s64 = s_q.to(key_dtype)
                newly = s64 if all_refr else s64 * (1.0 - q[:, q_lo:].sign()).to(key_dtype)
                kn.mul_(1.0 - newly).add_(-(k * n_src + rank_index[q_lo:]) * newly)
            if not count_free:
                q[:, q_lo:].add_(s_q)
            if max_post_output_steps is not None:
                fired = spk[:, out_lo - (0 if k == 0 else lo) :].amax(dim=1) > 0
                first_out = torch.where((first_out < 0) & fired, torch.full_like(first_out, k), first_out)
                stop = (first_out >= 0) & (k >= first_out + max_post_output_steps)
                if bool(stop.any()):
                    if not count_free:
                        q.mul_((~stop).to(dt)[:, None])
                    key[stop] = empty_key
            if unlimited:
                alive = q.amax(dim=1) > 0
            else:
                if schedule == "random":
                    rand = torch.rand((b_size, n_src), generator=generator, device=dev, dtype=dt)
                    key = (rand + 1.0) * q.sign()
                vals, top_idx = torch.topk(key, group + 1 if exact_ties else group, dim=1)
                alive = vals[:, 0] > empty_key
            alive_rec.append(alive)
            if not bool(alive.any()):
                break
            k += 1
            if k >= max_steps_per_bin:
                raise RuntimeError(
                    f"bin {t} needed more than {max_steps_per_bin} forward steps (runaway activity); raise "
                    "max_steps_per_bin if this is intended"
                )
            if unlimited:
                m_full = q.clone()
                q.zero_()
                mult_rec.append(m_full)
                cur = m_full @ w_src_r
            else:
                idx = top_idx[:, :group]
                if exact_ties:
                    tie = (vals[:, group - 1] == vals[:, group]) & (vals[:, group - 1] > empty_key)
                    if bool(tie.any()):
                        idx = _break_ties(key, top_idx, tie)
                        vals = key.gather(1, idx)
                if count_free:
                    m = (vals[:, :group] > empty_key).to(dt)
                else:
                    m = q.gather(1, idx)
                    q.scatter_(1, idx, 0.0)
                key.scatter_(1, idx, empty_key)
                idx_rec.append(idx)
                mult_rec.append(m)
                cur = nnf.embedding_bag(idx, w_src_r, per_sample_weights=m, mode="sum")
            if mask_inactive:
                act = alive.to(dt)[:, None]
        v = torch.cat([v[:, :lo], vr], dim=1) if lo else vr
        k_steps = len(spikes)
        full = torch.zeros((b_size, k_steps, n), dtype=dt, device=dev)
        full[:, 0] = spikes[0]
        if k_steps > 1:
            full[:, 1:, lo:] = torch.stack(spikes[1:], dim=1)
        trace.spikes.append(full)
        trace.alive.append(torch.stack(alive_rec, dim=1))
        if unlimited:
            mult = torch.stack(mult_rec, dim=1) if mult_rec else torch.zeros((b_size, 0, n_src), dtype=dt, device=dev)
            trace.emit_idx.append(None)
            trace.emit_mult.append(mult)
            em_syn = _mult_src(mult, n_in if queued_input else 0) @ nsyn_src
            synops = em_syn.sum(dim=1)
        else:
            idx_all = (torch.stack(idx_rec, dim=1) if idx_rec
                       else torch.zeros((b_size, 0, group), dtype=torch.long, device=dev))
            mult = torch.stack(mult_rec, dim=1) if mult_rec else torch.zeros((b_size, 0, group), dtype=dt, device=dev)
            trace.emit_idx.append(idx_all)
            trace.emit_mult.append(mult)
            m64 = mult.to(torch.float64)
            if queued_input:
                is_chan = idx_all < n_in
                m64 = torch.where(is_chan, _input_multiplicity(mult), m64)
            synops = (m64 * nsyn_src[idx_all]).sum(dim=(1, 2))
        if not queued_input:
            synops = synops + _input_multiplicity(xt) @ net.nsyn_in
        trace.synops.append(synops)
    return trace


def _reset(
    u: torch.Tensor,
    spk: torch.Tensor,
    theta: torch.Tensor,
    zero_reset: torch.Tensor,
    sub_amount: torch.Tensor,
    all_zero: bool,
    all_sub: bool,
) -> torch.Tensor:
    """The potential after the check: ``u`` where no spike, else 0 (zero reset) or ``u - theta``."""
    if all_zero:
        return torch.addcmul(u, spk, u, value=-1.0)
    if all_sub:
        return torch.addcmul(u, spk, theta, value=-1.0)
    return torch.addcmul(u, spk, torch.addcmul(sub_amount, u, zero_reset), value=-1.0)


def _mult_src(m: torch.Tensor, n_in: int) -> torch.Tensor:
    """Synop multiplicities of emitted queue entries (input channels: whole counts, else 1)."""
    out = m.to(torch.float64)
    if n_in:
        out[..., :n_in] = _input_multiplicity(m[..., :n_in])
    return out


def _break_ties(key: torch.Tensor, top_idx: torch.Tensor, rows: torch.Tensor) -> torch.Tensor:
    """Re-ranks the rows where equal keys straddle the group boundary: ties go to the lower index."""
    group = top_idx.shape[1] - 1
    which = rows.nonzero().squeeze(1)
    order = torch.sort(key[which], dim=1, descending=True, stable=True).indices[:, :group]
    fixed = top_idx[:, :group].clone()
    fixed[which] = order
    return fixed
