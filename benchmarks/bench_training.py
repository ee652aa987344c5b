#!/usr/bin/env python
"""Time per training epoch: layer-synchronous BPTT vs asynchronous-aware training (neuroemu.torch).

Workload (SPEC section 7): scikit-learn digits as packaged by ``neuroemu.datasets.digits`` (rate code,
10 bins, train split of 1437 samples), network 64-128-64-10 without bias, LIF threshold 1, beta =
exp(-1/6), reset to zero, refractory; ATan surrogate; cross-entropy on output spike counts; Adam
(lr 2e-3), batch 64. One epoch = one pass over the train split (23 batches: forward, backward, step).

Variants, each timed on the same batches from the same initial weights:

- ``sync``: ``neuroemu.torch.simulate(schedule="sync")``, a time-stepped forward pass; layer-wise BPTT.
- ``momentum F=4`` / ``random F=4``: ``simulate(schedule=..., group_size=4)``: the asynchronous step
  model; the C++ engine decides the schedule (no gradient), then the single-spike replay recomputes the
  surrogate slopes and back-propagates in fused C++ loops (docs/training.md, "How it is computed").
- ``dense reference`` (``--dense``): the same asynchronous model written the way the paper's reference
  code (asynctorch) is: autograd through every forward step, the surrogate of every neuron evaluated at
  every step, a full sort of the queue and every layer's dense matmul at every step.

Timing: CPU time of this process (``time.process_time``; PyTorch limited to one thread, so it is the
work done, insensitive to other processes on a shared machine) and wall time, each the minimum over
``--repeats`` rounds; the variants are interleaved within each round. Ratios are per epoch against
``sync``. The issue's target for asynchronous training at F = 4 is at most 5x sync.

Measured (Release build, 2 shared vCPUs, load about 1.8, 1 thread, CPU s / epoch): sync 0.169; momentum
F=4 0.679 (4.0x); random F=4 0.635 (3.8x). Before the engine pass and the fused replay: 14.2x / 16.1x.

Usage:  python benchmarks/bench_training.py [--batches N] [--repeats R] [--dense] [--threads T]
"""

from __future__ import annotations

import argparse
import math
import os
import platform
import sys
import time
from collections.abc import Callable
from typing import Any

import numpy as np


def _imports() -> tuple[Any, Any, Any]:
    try:
        import torch
    except ImportError:
        sys.exit('bench_training: needs PyTorch: pip install "neuroemu[torch]"')
    import neuroemu.datasets as datasets
    import neuroemu.torch as ntorch

    return torch, ntorch, datasets


def make_model(torch: Any, ntorch: Any, seed: int = 0) -> Any:
    """64-128-64-10, no bias, N(0, 1) * 3 / sqrt(fan_in) (SPEC section 7)."""
    gen = torch.Generator().manual_seed(seed)
    sizes = (64, 128, 64, 10)
    layers = []
    for n_in, n_out in zip(sizes[:-1], sizes[1:]):
        lin = torch.nn.Linear(n_in, n_out, bias=False)
        with torch.no_grad():
            lin.weight.copy_(torch.randn(n_out, n_in, generator=gen) * 3.0 / math.sqrt(n_in))
        layers += [lin, ntorch.LIF(math.exp(-1.0 / 6.0), 1.0, reset="zero", refractory=True, surrogate="atan")]
    return torch.nn.Sequential(*layers)


class DenseReference:
    """The asynchronous step model (momentum, prioritised input) written like the paper's reference code.

    Autograd runs through every forward step. Every step: every non-refractory neuron integrates the
    current of every layer's dense matmul with the emitted vector, the surrogate spike function of every
    neuron is evaluated, the queue is ranked with a full sort, and the top F entries are emitted.
    """

    def __init__(self, torch: Any, ntorch: Any, model: Any, group_size: int) -> None:
        self.torch = torch
        self.linears = [m for m in model if isinstance(m, torch.nn.Linear)]
        self.lifs = [m for m in model if isinstance(m, ntorch.LIF)]
        self.group = group_size
        self.spike = ntorch.spike
        self.surrogate = self.lifs[0].surrogate

    def __call__(self, x: Any) -> Any:
        torch = self.torch
        b_size, n_bins, _ = x.shape
        sizes = [lin.out_features for lin in self.linears]
        offsets = np.concatenate([[0], np.cumsum(sizes)]).tolist()
        n = offsets[-1]
        beta = float(self.lifs[0].beta)
        theta = float(self.lifs[0].threshold)
        v = torch.zeros(b_size, n)
        outputs = []
        for t in range(n_bins):
            v = v * beta
            refractory = torch.zeros(b_size, n)
            pre = torch.zeros(b_size, n)
            queue = torch.zeros(b_size, n)
            out = torch.zeros(b_size, sizes[-1])
            cur = torch.cat([x[:, t] @ self.linears[0].weight.t(), torch.zeros(b_size, n - sizes[0])], dim=1)
            while True:
                u = v + cur * (1 - refractory)
                s = self.spike(u - theta, self.surrogate) * (1 - refractory)
                held = s.detach()
                v = u * (1 - held)
                pre = torch.where(held > 0, u.detach(), pre)
                refractory = refractory + held
                queue = queue + s
                out = out + s[:, offsets[-2]:]
                if not bool((queue.detach() > 0).any()):
                    break
                key = torch.where(queue.detach() > 0, pre, torch.full_like(pre, -math.inf))
                order = torch.sort(key, dim=1, descending=True, stable=True).indices[:, : self.group]
                emit = torch.zeros(b_size, n).scatter_(1, order, 1.0) * (queue.detach() > 0)
                m = queue * emit
                queue = queue * (1 - emit)
                parts = [torch.zeros(b_size, sizes[0])]
                for li in range(1, len(sizes)):
                    parts.append(m[:, offsets[li - 1] : offsets[li]] @ self.linears[li].weight.t())
                cur = torch.cat(parts, dim=1)
            outputs.append(out)
        return torch.stack(outputs, dim=1)


def run_epoch(torch: Any, forward: Callable[[Any], Any], model: Any, x: Any, y: Any, batches: int) -> float:
    optimizer = torch.optim.Adam(model.parameters(), lr=2e-3)
    loss = math.nan
    for i in range(batches):
        xb, yb = x[i * 64 : (i + 1) * 64], y[i * 64 : (i + 1) * 64]
        counts = forward(xb)
        loss_t = torch.nn.functional.cross_entropy(counts.sum(dim=1), yb)
        optimizer.zero_grad()
        loss_t.backward()
        optimizer.step()
        loss = loss_t.item()
    return loss


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--batches", type=int, default=23, help="batches per timed epoch (23 = the whole train split)")
    ap.add_argument("--repeats", type=int, default=3, help="rounds; each variant's time is the minimum")
    ap.add_argument("--dense", action="store_true", help="also time the dense reference-code-style variant")
    ap.add_argument("--threads", type=int, default=1, help="torch.set_num_threads (default 1)")
    args = ap.parse_args(argv)

    torch, ntorch, datasets = _imports()
    torch.set_num_threads(args.threads)
    data = datasets.digits(encoding="rate", bins=10, seed=0, split="train")
    gen = torch.Generator().manual_seed(0)
    perm = torch.randperm(len(data.labels), generator=gen)
    x = torch.from_numpy(np.asarray(data.frames))[perm]
    y = torch.from_numpy(np.asarray(data.labels))[perm]
    batches = min(args.batches, (len(y) + 63) // 64)

    def simulator(schedule: str, group: int | None) -> Callable[[Any, Any], Any]:
        def forward(model: Any, xb: Any) -> Any:
            kw = {} if schedule == "sync" else {"group_size": group}
            return ntorch.simulate(model, xb, schedule=schedule, **kw).output_counts

        return forward

    variants: list[tuple[str, Callable[[Any, Any], Any]]] = [
        ("sync (BPTT)", simulator("sync", None)),
        ("momentum F=4", simulator("momentum", 4)),
        ("random F=4", simulator("random", 4)),
    ]
    if args.dense:
        variants.append(("dense reference F=4", lambda model, xb: DenseReference(torch, ntorch, model, 4)(xb)))

    print("## Training time per epoch: sync BPTT vs asynchronous-aware (neuroemu.torch)\n")
    print(f"digits rate code, 10 bins, {batches} batches of 64 per epoch; 64-128-64-10 LIF network; Adam")
    print(f"python {platform.python_version()}, torch {torch.__version__} ({args.threads} thread), "
          f"{os.cpu_count()} CPUs ({platform.processor() or platform.machine()})")
    if hasattr(os, "getloadavg"):
        print(f"load average at start: {os.getloadavg()[0]:.2f} (CPU time is the reliable column)")
    best_cpu = {name: math.inf for name, _ in variants}
    best_wall = {name: math.inf for name, _ in variants}
    losses: dict[str, float] = {}
    for _ in range(args.repeats):
        for name, forward in variants:
            model = make_model(torch, ntorch)
            c0, w0 = time.process_time(), time.perf_counter()
            losses[name] = run_epoch(torch, lambda xb, f=forward, m=model: f(m, xb), model, x, y, batches)
            best_cpu[name] = min(best_cpu[name], time.process_time() - c0)
            best_wall[name] = min(best_wall[name], time.perf_counter() - w0)
    base_cpu, base_wall = best_cpu["sync (BPTT)"], best_wall["sync (BPTT)"]
    print()
    print("| variant | CPU s / epoch | ratio to sync | wall s / epoch | ratio to sync | last loss |")
    print("|---|---|---|---|---|---|")
    for name, _ in variants:
        print(f"| {name} | {best_cpu[name]:.3f} | {best_cpu[name] / base_cpu:.1f}x | {best_wall[name]:.3f} | "
              f"{best_wall[name] / base_wall:.1f}x | {losses[name]:.3f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
