#!/usr/bin/env python
"""Soak: many inferences in one process, watching resident memory for growth.

Runs ``Emulator.run`` (and ``run_batch`` in chunks) on a 64-128-64-10 network for --inferences inferences
(default 100,000) under every schedule in turn and prints the resident set size (RSS) every tenth of the
way. Exits non-zero when RSS grows by more than --max-growth-mib after the first tenth (warm-up).

Usage: python benchmarks/soak.py [--inferences N] [--max-growth-mib M]
"""

from __future__ import annotations

import argparse
import resource
import sys
import time

import numpy as np

import neuroemu

SCHEDULES = [("sync", None), ("momentum", 4), ("fifo", 1), ("random", 4)]


def rss_mib() -> float:
    with open("/proc/self/statm") as f:
        pages = int(f.read().split()[1])
    return pages * resource.getpagesize() / 2**20


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--inferences", type=int, default=100_000)
    parser.add_argument("--max-growth-mib", type=float, default=5.0)
    args = parser.parse_args()

    rng = np.random.default_rng(0)
    sizes = [64, 128, 64, 10]
    weights = [rng.normal(size=(o, i)) * 3 / np.sqrt(i) for i, o in zip(sizes, sizes[1:])]
    net = neuroemu.Network.from_weights(weights, threshold=1.0, tau=6.0, dt=1.0)
    frames = (rng.random((64, 10, 64)) < 0.2).astype(np.float64)
    emulators = [neuroemu.Emulator(net, schedule=s, group_size=f, record="spikes") for s, f in SCHEDULES]

    checkpoints = []
    done = 0
    step = max(args.inferences // 10, 1)
    start = time.perf_counter()
    while done < args.inferences:
        em = emulators[(done // 64) % len(emulators)]
        if (done // 64) % 2:
            em.run_batch(frames, threads=2, first_index=done)
            done += len(frames)
        else:
            for sample in frames[:16]:
                em.run(sample)
            done += 16
        if done // step > len(checkpoints):
            checkpoints.append((done, rss_mib()))
            print(f"{done:>8} inferences  RSS {checkpoints[-1][1]:8.1f} MiB  {time.perf_counter() - start:6.1f} s")
    growth = checkpoints[-1][1] - checkpoints[0][1]
    print(f"RSS growth after warm-up: {growth:+.1f} MiB over {done - checkpoints[0][0]} inferences")
    return 0 if growth <= args.max_growth_mib else 1


if __name__ == "__main__":
    sys.exit(main())
