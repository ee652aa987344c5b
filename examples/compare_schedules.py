"""Runs one network under every execution schedule and prints what each costs.

A random 64-128-64-10 network (weights N(0, 1) x 3/sqrt(fan_in), tau = 6 bins, threshold 1, the
configuration of SPEC section 7) on 200 samples of rate-coded random input over 10 bins.
Usage: python examples/compare_schedules.py [--samples N]
"""

from __future__ import annotations

import argparse
import time

import numpy as np

import neuroemu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=200)
    args = parser.parse_args()

    rng = np.random.default_rng(0)
    sizes = [64, 128, 64, 10]
    weights = [rng.normal(size=(n_out, n_in)) * 3 / np.sqrt(n_in) for n_in, n_out in zip(sizes, sizes[1:])]
    net = neuroemu.Network.from_weights(weights, threshold=1.0, tau=6.0, dt=1.0)
    rates = rng.random((args.samples, 1, 64)) * 0.5
    inputs = (rng.random((args.samples, 10, 64)) < rates).astype(np.float64)

    print(f"{net}, {args.samples} samples x 10 bins\n")
    header = (
        f"| {'schedule':<9} | {'F':>4} | {'spikes':>8} | {'synops':>8} | {'fwd steps':>9} "
        f"| {'spikes->1st out':>15} | {'agrees w/ sync':>14} |"
    )
    print(header)
    print("|" + "|".join("-" * (len(c)) for c in header.split("|")[1:-1]) + "|")
    reference = None
    for schedule, group in [("sync", None), ("momentum", None), ("momentum", 16), ("momentum", 4), ("momentum", 1),
                            ("fifo", 4), ("random", 4), ("random", 1)]:
        start = time.perf_counter()
        batch = neuroemu.Emulator(net, schedule=schedule, group_size=group, record="totals").run_batch(inputs)
        elapsed = time.perf_counter() - start
        if reference is None:
            reference = batch.predictions
        first = batch.spikes_to_first_output
        reached = first[first >= 0]
        agree = float(np.mean(batch.predictions == reference))
        print(
            f"| {schedule:<9} | {group or 'all':>4} | {batch.total_spikes.mean():8.1f} | {batch.synops.mean():8.0f} | "
            f"{batch.forward_steps.mean():9.1f} | {reached.mean() if reached.size else float('nan'):15.1f} | "
            f"{agree:14.2%} |  ({elapsed * 1e3:.0f} ms)"
        )


if __name__ == "__main__":
    main()
