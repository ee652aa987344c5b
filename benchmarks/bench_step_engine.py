#!/usr/bin/env python
"""Throughput of the neuroemu step engine against a dense batched PyTorch simulator.

Measures synaptic events per second of ``neuroemu.Emulator`` in the asynchronous step model
(``schedule="momentum"``) on a feed-forward network of about 1,000 neurons with sparse input, side by
side with a dense batched PyTorch implementation of the same semantics, written in the style of the
paper's asynctorch code: a batch of samples is processed together, and every forward step computes
every layer's matmul with the emitted-spike vector of the previous layer and ranks the whole queue with
a full sort, until every sample's queue is empty.

Setup (fixed, seeded):
  * network 256 inputs -> 512 -> 256 -> 128 -> 100 (996 neurons, dense, no bias), weights drawn
    N(0, 1/fan_in) (standard deviation 1/sqrt(fan_in)) and rounded to float32 (as a PyTorch model holds
    them);
  * LIF: threshold THRESHOLD (chosen so every layer spikes without saturating), beta = exp(-1/6)
    (tau = 6 bins, dt = 1), reset to zero, refractory until the next bin;
  * T = 10 bins; input: each channel an independent Bernoulli event with p = 0.05 per bin,
    prioritised (delivered whole at step 0 of each bin);
  * schedule momentum, group sizes F = 4 (the headline number), 1, 16 and None (all queued).

A synaptic event is one delivered source spike times one synapse (``res.synops``, see
docs/semantics.md); events/s is the sum of synops over the samples divided by the best of three
wall-clock runs (after a warm-up).  Before timing, the benchmark checks that the PyTorch reference in
float64 produces exactly the engine's spike counts (per sample, per bin and per layer), forward steps
and synaptic operations on a few samples; the timed PyTorch runs use float32 like the paper's code.

Usage:  python benchmarks/bench_step_engine.py [--quick]
Needs ``neuroemu`` (pip install -e .) and ``torch`` (pip install torch==2.13.0).
"""

from __future__ import annotations

import argparse
import math
import os
import platform
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # benchmarks/_torch_dense.py
from _torch_dense import TORCH_BATCH, DenseAsyncTorch  # noqa: E402

N_IN = 256
LAYERS = (512, 256, 128, 100)
T_BINS = 10
P_INPUT = 0.05
BETA = math.exp(-1.0 / 6.0)
THRESHOLD = 0.5  # with std 1/sqrt(fan_in) weights: ~4-5% of every layer spikes per bin at F=4 (see --activity)
GROUP_SIZES = (4, 1, 16, None)
MAIN_F = 4
WEIGHT_SEED = 1234
INPUT_SEED = 5678


# --------------------------------------------------------------------------------------------------
# workload
# --------------------------------------------------------------------------------------------------
def make_weights(seed: int = WEIGHT_SEED) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    sizes = (N_IN,) + LAYERS
    # Rounded to float32 once, as a model trained in PyTorch holds them: the float32 torch runs and the
    # engine then use exactly the same weights.
    return [(rng.standard_normal((n_out, n_in)) / math.sqrt(n_in)).astype(np.float32).astype(np.float64)
            for n_in, n_out in zip(sizes[:-1], sizes[1:])]


def make_inputs(n: int, seed: int = INPUT_SEED) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return (rng.random((n, T_BINS, N_IN)) < P_INPUT).astype(np.float64)


def _import_torch():
    try:
        import torch
    except ImportError:
        sys.exit(
            "bench_step_engine: PyTorch is needed for the dense reference; install it with  pip install torch==2.13.0"
        )
    return torch


def _import_neuroemu():
    try:
        import neuroemu
    except ImportError as e:
        sys.exit(f"bench_step_engine: cannot import neuroemu ({e}); install it with  pip install -e .")
    return neuroemu


def _debug_build_warning(neuroemu) -> str | None:
    """Editable installs of this project build the extension in Debug mode (pyproject.toml);
    its timings mean nothing.  Detected from the extension's build path."""
    core = getattr(neuroemu, "_core", None)
    build_type = getattr(core, "BUILD_TYPE", None) or getattr(core, "build_type", None)
    path = str(getattr(core, "__file__", "") or "")
    if (isinstance(build_type, str) and build_type.lower() == "debug") or "debug" in path.lower():
        return (
            f"WARNING: neuroemu's extension is a Debug build ({path}); its timings are not "
            f"meaningful. Use a Release build: pip install . (not -e)"
        )
    return None


# dense batched PyTorch reference (asynctorch style): benchmarks/_torch_dense.py


# --------------------------------------------------------------------------------------------------
# timing helpers
# --------------------------------------------------------------------------------------------------
def best_of(fn, repeats: int = 3):
    """Best wall-clock time of `repeats` calls of fn (after the caller's warm-up), and fn's result."""
    best, result = math.inf, None
    for _ in range(repeats):
        t0 = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - t0)
    return best, result


def fmt_f(f) -> str:
    return "all" if f is None else str(f)


def fmt_rate(x: float) -> str:
    if x >= 1e9:
        return f"{x / 1e9:.2f} G"
    if x >= 1e6:
        return f"{x / 1e6:.1f} M"
    if x >= 1e3:
        return f"{x / 1e3:.1f} k"
    return f"{x:.1f} "


def activity_report(torch, weights, x):
    """Spikes per sample per bin and per layer (dense reference, float64, F = None)."""
    ref = DenseAsyncTorch(torch, weights, THRESHOLD, BETA, None, torch.float64)
    res = ref.run_batched(x, stats=True)
    per_layer = res["layer_spike_counts"].mean(axis=(0, 1))
    print(
        "activity (F=all, float64 reference): spikes per sample per bin by layer: "
        + ", ".join(f"L{k} {c:.1f} ({100 * c / LAYERS[k]:.1f}%)" for k, c in enumerate(per_layer))
    )


# --------------------------------------------------------------------------------------------------
# main
# --------------------------------------------------------------------------------------------------
def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="fewer samples, F=4 only (a smoke run)")
    ap.add_argument(
        "--activity", action="store_true", help="only print the network's activity (needs torch, not neuroemu)"
    )
    args = ap.parse_args(argv)

    torch = _import_torch()
    weights = make_weights()

    if args.activity:
        activity_report(torch, weights, make_inputs(64))
        return 0

    neuroemu = _import_neuroemu()
    quick = args.quick
    n_engine = 128 if quick else 256
    n_torch = 32 if quick else 64
    n_check = 8 if quick else 16
    group_sizes = (MAIN_F,) if quick else GROUP_SIZES
    thread_counts = (1, 2)
    torch_default_threads = torch.get_num_threads()

    x = make_inputs(n_engine)
    net = neuroemu.Network.from_weights(weights, threshold=THRESHOLD, beta=BETA, dt=1.0, reset="zero", refractory=True)
    n_neurons = sum(LAYERS)
    n_syn = sum(int((w != 0).sum()) for w in weights)

    print("## neuroemu step engine vs dense batched PyTorch (asynchronous step model, momentum)\n")
    print(
        f"network {N_IN}-{'-'.join(map(str, LAYERS))} ({n_neurons} neurons, {n_syn} synapses), "
        f"weights N(0, 1/fan_in), threshold {THRESHOLD}, beta exp(-1/6) = {BETA:.6f}, "
        f"reset to zero, refractory; T = {T_BINS} bins; input Bernoulli p = {P_INPUT} per channel "
        f"per bin, prioritised"
    )
    print(
        f"python {platform.python_version()}, numpy {np.__version__}, torch {torch.__version__}, "
        f"neuroemu {getattr(neuroemu, '__version__', '?')}; {os.cpu_count()} CPUs "
        f"({platform.processor() or platform.machine()})"
    )
    print(
        f"engine: {n_engine} samples per run; torch: {n_torch} samples per run ({TORCH_BATCH} at "
        f"F=1) in batches of {TORCH_BATCH}; best of 3 after a warm-up"
    )
    warning = _debug_build_warning(neuroemu)
    if warning:
        print(warning)
    if hasattr(os, "getloadavg"):
        print(f"load average before the run: {os.getloadavg()[0]:.2f} (timings need an idle machine)")
    print()

    # ---- correctness check: float64 torch reference vs engine ------------------------------------
    xc = x[:n_check]
    print(f"### check: torch float64 reference vs engine on {n_check} samples\n")
    print(
        "| F | spikes/sample (engine) | spikes equal | per bin & layer equal | forward steps equal "
        "| synops equal | float32 spikes equal |"
    )
    print("|---|---|---|---|---|---|---|")
    all_ok = True
    for F in group_sizes:
        em = neuroemu.Emulator(net, schedule="momentum", group_size=F, seed=0, record="totals")
        br = em.run_batch(xc, threads=1)
        ref64 = DenseAsyncTorch(torch, weights, THRESHOLD, BETA, F, torch.float64).run_batched(xc, stats=True)
        ref32 = DenseAsyncTorch(torch, weights, THRESHOLD, BETA, F, torch.float32).run_batched(xc)
        eng_lsc = np.asarray(br.layer_spike_counts)
        ok_tot = np.array_equal(np.asarray(br.total_spikes), ref64["total_spikes"])
        ok_lsc = np.array_equal(eng_lsc, ref64["layer_spike_counts"])
        ok_steps = np.array_equal(np.asarray(br.forward_steps), ref64["forward_steps"])
        ok_syn = np.array_equal(np.asarray(br.synops), ref64["synops"])
        n32 = int((np.asarray(br.total_spikes) == ref32["total_spikes"]).sum())
        all_ok &= ok_tot and ok_lsc and ok_steps and ok_syn
        print(
            f"| {fmt_f(F)} | {np.mean(br.total_spikes):.1f} | {'yes' if ok_tot else 'NO'} "
            f"| {'yes' if ok_lsc else 'NO'} | {'yes' if ok_steps else 'NO'} "
            f"| {'yes' if ok_syn else 'NO'} | {n32}/{n_check} samples |"
        )
    print()
    if not all_ok:
        print("WARNING: the float64 PyTorch reference and the engine disagree (see above)\n")

    # ---- timing ----------------------------------------------------------------------------------
    rows = []
    engine_rate = {}
    torch_rate = {}
    x_binary = x.astype(bool)  # the engine reads binary frames as bool in place (torch gets float32 tensors)
    for F in group_sizes:
        em = neuroemu.Emulator(net, schedule="momentum", group_size=F, seed=0, record="totals")
        for th in thread_counts:
            em.run_batch(x_binary[:64], threads=th)  # warm-up
            sec, br = best_of(lambda em=em, th=th: em.run_batch(x_binary, threads=th))
            syn = float(np.sum(br.synops))
            engine_rate[(F, th)] = n_engine / sec
            rows.append(
                (
                    "neuroemu",
                    F,
                    th,
                    n_engine,
                    sec,
                    n_engine / sec,
                    syn / sec,
                    float(np.mean(br.total_spikes)),
                    float(np.mean(br.forward_steps)),
                )
            )

    for F in group_sizes:
        # F = 1 is slow in the dense reference (one step per spike): fewer samples; torch with 2
        # threads only at the headline F (small matmuls gain little from a second thread)
        nt = TORCH_BATCH if F == 1 else n_torch
        xt = x[:nt].astype(np.float32)  # torch reads float32 without a conversion
        ref = DenseAsyncTorch(torch, weights, THRESHOLD, BETA, F, torch.float32)
        st = ref.run_batched(xt, stats=True)  # untimed: synops / steps of the float32 run
        syn = float(np.sum(st["synops"]))
        for th in thread_counts if F == MAIN_F else (1,):
            torch.set_num_threads(th)
            ref.run(xt[:TORCH_BATCH])  # warm-up
            sec, _ = best_of(lambda ref=ref, xt=xt: ref.run_batched(xt))
            torch_rate[(F, th)] = nt / sec
            rows.append(
                (
                    "torch f32 dense",
                    F,
                    th,
                    nt,
                    sec,
                    nt / sec,
                    syn / sec,
                    float(np.mean(st["total_spikes"])),
                    float(np.mean(st["forward_steps"])),
                )
            )
    torch.set_num_threads(torch_default_threads)

    def torch_best(F, th):
        # torch is free to use fewer threads than the engine: compare with its best at <= th
        return max(v for (f, t), v in torch_rate.items() if f == F and t <= th)

    print("### throughput\n")
    print(
        "| implementation | F | threads | samples | best s | inferences/s | synaptic events/s "
        "| spikes/sample | forward steps/sample | engine/torch (same F, torch's best at <= threads) |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    for impl, F, th, n, sec, ips, sps, spk, steps in rows:
        ratio = ""
        if impl == "neuroemu":
            ratio = f"{ips / torch_best(F, th):.1f}x"
        print(
            f"| {impl} | {fmt_f(F)} | {th} | {n} | {sec:.3f} | {ips:,.0f} | {fmt_rate(sps)}/s "
            f"| {spk:.1f} | {steps:.1f} | {ratio} |"
        )
    print()

    eng1 = next(r for r in rows if r[0] == "neuroemu" and r[1] == MAIN_F and r[2] == 1)
    r1 = engine_rate[(MAIN_F, 1)] / torch_best(MAIN_F, 1)
    r2 = engine_rate[(MAIN_F, 2)] / torch_best(MAIN_F, 2)
    print(
        f"**F = {MAIN_F}: engine / torch = {r1:.1f}x at 1 thread, {r2:.1f}x at 2 threads "
        f"(target >= 50x); engine {eng1[6] / 1e6:.1f} M synaptic events/s on one core "
        f"(target >= 100 M/s).**"
    )
    print(f"spike counts of the float64 torch reference equal the engine's: {'yes' if all_ok else 'NO'}")
    if warning:
        print(warning)
    return 0


if __name__ == "__main__":
    sys.exit(main())
