#!/usr/bin/env python
"""Compares builds of neuroemu on one workload: is a change to the engine faster, and by how much?

Each build (a folder holding ``neuroemu/``, e.g. made by ``pip install --no-deps --target DIR .``) gets a
timing server: a process that imports that build, makes the workload once, and then, for each request, times
about 50 ms of ``Emulator.run_batch`` calls. The driver asks the servers in turn, round after round (forward,
then backward, so that no build always follows the same one), all pinned to the same core, and reports per
build the median, over rounds, of the first build's time divided by its own in the same round.

Why this design: this machine slows one core at a time by up to 2x for seconds to minutes, so two builds timed
in separate runs, or at the same time on two cores, meet different spells; slices 50 ms apart on one core
meet the same one. Processes of one build also differ (by up to 15% in a steady way: memory placement), so
``--control`` adds a second server of the first build: its ratio is the noise floor, and a build's speed-up
means something only well outside it.

Usage:
  python benchmarks/compare_builds.py BUILD_A BUILD_B [...] --workload target --p 0.05 \\
      --schedule momentum --group-size 4 [--batch 32] [--threads 1] [--rounds 40] [--core 0] [--control]
      [--mode timed]   (the timed model on neuroemu's Loihi profile, as the report's timed rows)
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SLICE_S = 0.05


def serve(args: argparse.Namespace) -> None:
    """The timing server: one build, one workload; answers each line on stdin with us per inference."""
    sys.path.insert(0, HERE)
    from _machine import prefer_build

    prefer_build(args.serve)
    if args.threads == 1:
        os.sched_setaffinity(0, {args.core})
    from _workloads import make_workload

    import neuroemu

    # sparse-s: the report's smaller sparse network (20,100 neurons), whose state fits in a core's cache
    workload = (make_workload("sparse", n_hidden=5000, n_inputs=2000) if args.workload == "sparse-s"
                else make_workload(args.workload))
    inputs = workload.inputs(args.batch, args.p).astype(bool)
    timed = {"mode": "timed", "hardware": "loihi"} if args.mode == "timed" else {}
    emulator = neuroemu.Emulator(workload.network, schedule=args.schedule, group_size=args.group_size,
                                 record="totals", **timed)
    run = lambda: emulator.run_batch(inputs, threads=args.threads)  # noqa: E731
    start = time.perf_counter()
    run()
    calls = max(1, int(SLICE_S / max(time.perf_counter() - start, 1e-6)))
    clock = time.thread_time if args.threads == 1 else time.perf_counter
    print(neuroemu.__file__, flush=True)
    for _ in sys.stdin:
        t = clock()
        for _ in range(calls):
            run()
        print(f"{(clock() - t) / calls / args.batch * 1e6:.4f}", flush=True)


def compare(args: argparse.Namespace) -> None:
    builds = list(args.builds)
    names = list(builds)
    if args.control:
        builds.insert(1, builds[0])
        names.insert(1, names[0] + " (control)")
    command = [sys.executable, os.path.abspath(__file__), "--workload", args.workload, "--p", str(args.p),
               "--schedule", args.schedule, "--batch", str(args.batch), "--threads", str(args.threads),
               "--core", str(args.core), "--mode", args.mode]
    if args.group_size is not None:
        command += ["--group-size", str(args.group_size)]
    servers = [subprocess.Popen([*command, "--serve", build], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
               for build in builds]
    for name, server in zip(names, servers, strict=True):
        print(f"{name}: {server.stdout.readline().strip()}")  # (the server's first line: what it imported)
    times: list[list[float]] = [[] for _ in builds]
    order = list(range(len(builds)))
    for r in range(args.rounds):
        for i in order if r % 2 == 0 else order[::-1]:
            servers[i].stdin.write("go\n")
            servers[i].stdin.flush()
            times[i].append(float(servers[i].stdout.readline()))
    for server in servers:
        server.stdin.close()
        server.wait()
    group = "all" if args.group_size is None else args.group_size
    print(f"{args.workload} p={args.p} {args.mode} {args.schedule} F={group}, batch {args.batch}, "
          f"{args.threads} thread(s), {args.rounds} rounds of about {SLICE_S * 1e3:.0f} ms per build")
    for i, name in enumerate(names):
        ratios = [a / b for a, b in zip(times[0], times[i], strict=True)]
        quartiles = statistics.quantiles(ratios, n=4)
        speedup = "" if i == 0 else (f"; speed-up over {names[0]}: median {statistics.median(ratios):.3f}x "
                                     f"(quartiles {quartiles[0]:.3f}-{quartiles[2]:.3f})")
        print(f"  {name:30} best {min(times[i]):9.2f} us, median {statistics.median(times[i]):9.2f} us per "
              f"inference{speedup}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("builds", nargs="*", help="folders holding neuroemu/ (the first is the reference)")
    ap.add_argument("--workload", default="target", choices=("mlp", "cnn", "target", "sparse", "sparse-s"))
    ap.add_argument("--p", type=float, default=0.05, help="input events per channel per bin")
    ap.add_argument("--schedule", default="momentum", choices=("sync", "random", "momentum", "fifo"))
    ap.add_argument("--group-size", type=int, default=None, help="F (default: all queued)")
    ap.add_argument("--mode", default="step", choices=("step", "timed"),
                    help="timed: the timed model on the loihi profile (--group-size does not apply)")
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--rounds", type=int, default=40)
    ap.add_argument("--core", type=int, default=0, help="the core every 1-thread server is pinned to")
    ap.add_argument("--control", action="store_true", help="add a second server of the first build")
    ap.add_argument("--serve", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.serve:
        serve(args)
    elif not args.builds:
        ap.error("name at least one build folder")
    elif args.rounds < 2:
        ap.error("--rounds must be at least 2 (the quartiles need two ratios)")
    else:
        compare(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
