"""A dense batched PyTorch simulator of the asynchronous step model, in the paper's code style.

Shared by ``bench_step_engine.py`` and ``run_all.py``. It follows docs/semantics.md for a feed-forward
chain of layers without bias, reset to zero, refractory until the next bin, prioritised input and the
``momentum`` schedule, written the way the paper's reference code (asynctorch) is: a batch of samples is
processed together, every forward step computes every layer's dense matmul with the emitted-spike vector
of the layer below and ranks the whole queue with a full sort, until every sample's queue is empty.
In float64 it gives exactly the engine's spike counts, forward steps and synaptic operations
(``bench_step_engine.py`` checks this before timing).
"""

from __future__ import annotations

from typing import Any

import numpy as np

TORCH_BATCH = 32


class DenseAsyncTorch:
    """Asynchronous step model, momentum schedule, for a batch of samples at once.

    State is one (B, N) tensor per quantity over all N network neurons (layer by layer).  Per forward
    step every layer's current is one dense matmul with the emitted-spike vector of the layer below
    (layer 0 receives the input frame at step 0 and nothing afterwards); every non-refractory neuron
    integrates and is checked (a neuron that receives nothing has v <= threshold, so checking it
    changes nothing); the queue is ranked with a full stable sort on the momentum key (pre-spike
    potential, -inf where nothing is queued; ties by lower index) and the top F entries per sample are
    emitted.  The bin ends for a sample when its queue is empty; the batch loop runs until every
    sample's queue is empty (finished samples receive zero current, which changes nothing).
    """

    def __init__(self, torch: Any, weights: list[np.ndarray], threshold: float, beta: float,
                 group_size: int | None, dtype: Any, device: str = "cpu") -> None:
        self.torch = torch
        self.dtype = dtype
        self.device = device
        self.sizes = [w.shape[0] for w in weights]
        self.n = sum(self.sizes)
        self.offsets = np.concatenate([[0], np.cumsum(self.sizes)]).tolist()
        # transposed weights (n_in, n_out) so that current = spikes @ Wt
        self.wt = [torch.tensor(w.T.copy(), dtype=dtype, device=device) for w in weights]
        self.threshold = float(threshold)
        self.beta = float(beta)
        self.group_size = self.n if group_size is None else int(group_size)
        # fan-out (number of synapses) of every input channel and every network neuron, for synops
        fan_in_ch = (weights[0] != 0).sum(axis=0).astype(np.float64)
        fan_out = np.zeros(self.n)
        for k in range(len(weights) - 1):
            a, b = self.offsets[k], self.offsets[k + 1]
            fan_out[a:b] = (weights[k + 1] != 0).sum(axis=0)
        self.fan_in_ch = torch.tensor(fan_in_ch, dtype=torch.float64, device=device)
        self.fan_out = torch.tensor(fan_out, dtype=torch.float64, device=device)

    def run(self, x: np.ndarray, stats: bool = False) -> dict:
        """x: (B, T, n_in) event counts.  Returns layer spike counts (B, T, L) and, with stats=True,
        forward steps (B,) and synaptic operations (B,) as counted by the engine."""
        torch = self.torch
        with torch.inference_mode():
            return self._run(torch.as_tensor(x, dtype=self.dtype, device=self.device), stats)

    def _run(self, x, stats):
        torch = self.torch
        B, T, _ = x.shape
        n, F, th, beta, off = self.n, self.group_size, self.threshold, self.beta, self.offsets
        L = len(self.sizes)
        dev, dt = self.device, self.dtype
        v = torch.zeros(B, n, dtype=dt, device=dev)
        p = torch.zeros(B, n, dtype=dt, device=dev)
        r = torch.zeros(B, n, dtype=torch.bool, device=dev)
        q = torch.zeros(B, n, dtype=dt, device=dev)
        cur = torch.zeros(B, n, dtype=dt, device=dev)
        neg_inf = torch.tensor(float("-inf"), dtype=dt, device=dev)
        layer_spikes = torch.zeros(B, T, L, dtype=torch.int64, device=dev)
        steps = torch.zeros(B, dtype=torch.int64, device=dev)
        synops = torch.zeros(B, dtype=torch.float64, device=dev)
        for t in range(T):
            # leak, end of refractoriness, pre-spike potentials cleared
            v.mul_(beta)
            r.zero_()
            p.zero_()
            bin_spikes = torch.zeros(B, n, dtype=dt, device=dev)
            # step 0 delivers the prioritised input frame to the first layer
            xt = x[:, t, :]
            cur.zero_()
            cur[:, off[0] : off[1]] = xt @ self.wt[0]
            if stats:
                active = torch.ones(B, dtype=torch.bool, device=dev)
                synops += xt.to(torch.float64) @ self.fan_in_ch
            while True:
                # integrate and check every non-refractory neuron
                u = v + cur
                spk = (u > th) & ~r
                v = torch.where(r, v, u).masked_fill_(spk, 0.0)
                p = torch.where(spk, u, p)
                r |= spk
                spk_f = spk.to(dt)
                q += spk_f
                bin_spikes += spk_f
                if stats:
                    steps += active
                    active &= q.any(dim=1)
                # bin ends when every sample's queue is empty
                if not bool(q.any()):
                    break
                # momentum: full rank of the queue, highest pre-spike potential first
                key = torch.where(q > 0, p, neg_inf)
                order = torch.sort(key, dim=1, descending=True, stable=True).indices[:, :F]
                m = torch.zeros_like(q).scatter_(1, order, q.gather(1, order))
                q.scatter_(1, order, 0.0)
                if stats:
                    synops += m.to(torch.float64) @ self.fan_out
                # deliver the emitted group: one matmul per layer
                cur[:, off[0] : off[1]].zero_()
                for k in range(1, L):
                    cur[:, off[k] : off[k + 1]] = m[:, off[k - 1] : off[k]] @ self.wt[k]
            for k in range(L):
                layer_spikes[:, t, k] = bin_spikes[:, off[k] : off[k + 1]].sum(dim=1).to(torch.int64)
        out = {"layer_spike_counts": layer_spikes.cpu().numpy()}
        out["total_spikes"] = out["layer_spike_counts"].sum(axis=(1, 2))
        if stats:
            out["forward_steps"] = steps.cpu().numpy()
            out["synops"] = synops.cpu().numpy().astype(np.int64)
        return out

    def run_batched(self, x: np.ndarray, batch: int = TORCH_BATCH, stats: bool = False) -> dict:
        parts = [self.run(x[i : i + batch], stats=stats) for i in range(0, len(x), batch)]
        return {k: np.concatenate([d[k] for d in parts]) for k in parts[0]}
