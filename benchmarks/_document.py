"""Writes docs/performance.md from one run of ``run_all.py`` (every number in it comes from that run)."""

from __future__ import annotations

from typing import Any

from _machine import probe_text
from _measure import QUIET_AFTER_THREADS_S
from _report import fmt_ms, markdown_table


def _load(v: Any) -> str:
    return "-" if not v else ", ".join(f"{x:.2f}" for x in v)


def _curve_tables(curves: dict[str, Any]) -> tuple[str, str, str]:
    ev = curves["events"]
    ev_rows = [[f"{q['p']:g}", q["schedule"], f"{q['synops']:,.0f}", f"{q['spikes']:,.0f}", fmt_ms(q["ms_cpu"]),
                fmt_ms(q["ms_wall"]), f"{1e6 * q['ms_cpu'] / q['synops']:.1f}" if q["synops"] else "-",
                str(q["samples"])] for q in ev["points"]]
    ev_md = markdown_table(("input p", "schedule", "synaptic events / inference", "spikes / inference",
                            "CPU ms / inference", "wall ms / inference", "CPU ns / event", "samples"),
                           ev_rows, "llrrrrrr")
    nc = curves["neurons"]
    nc_rows = [[f"{q['neurons']:,}", f"{q['synapses']:,}", q["schedule"], f"{q['synops']:,.0f}", fmt_ms(q["ms_cpu"]),
                fmt_ms(q["ms_wall"]), str(q["samples"])] for q in nc["points"]]
    nc_md = markdown_table(("neurons", "synapses", "schedule", "synaptic events / inference", "CPU ms / inference",
                            "wall ms / inference", "samples"), nc_rows, "rrlrrrr")
    mc = curves["memory"]
    mc_rows = [[f"{q['synapses']:,}", f"{q['neurons']:,}", f"{q['network_bytes'] / 2**20:,.1f}",
                f"{q['bytes_per_synapse']:.1f}", f"{q['engine_bytes_per_synapse']:.1f}",
                f"{q['run_bytes_per_neuron']:.0f}", f"{q['routes']:,}", f"{q['timed_bytes_per_synapse']:.1f}"]
               for q in mc["points"]]
    mc_md = markdown_table(("synapses", "neurons", "Network MiB (resident)", "bytes / synapse (Network)",
                            "bytes / synapse (engine copy)", "run peak, bytes / neuron", "routes (loihi)",
                            "timed deployment, bytes / synapse"), mc_rows, "rrrrrrrr")
    return ev_md, nc_md, mc_md


def _density_table(ctx: Any) -> str:
    """The engine's speed-up over snnTorch (1 thread, CPU time) beside each row's activity, densest last."""
    engine = {(r["workload"], r["p"]): r for r in ctx.rows
              if r.get("impl") == "neuroemu step" and r.get("config") == "sync" and r.get("threads") == 1
              and not r.get("skipped")}
    rows = []
    for r in ctx.rows:
        if not r.get("impl", "").startswith("snnTorch") or r.get("threads") != 1 or "ratio_cpu" not in r:
            continue
        e, w = engine.get((r["workload"], r["p"])), ctx.workloads.get(r["workload"])
        if e is None or w is None or not e.get("synops"):
            continue
        events = e["synops"] / (w["synapses"] * w["bins"])
        spikes = e["spikes"] / (w["neurons"] * w["bins"])
        rows.append((events, [r["workload"], r["activity"], f"{r['p']:g}", f"{100 * spikes:.2f}%",
                              f"{100 * events:.2f}%", r["impl"], f"{r['ratio_cpu']:.2f}x"]))
    rows.sort(key=lambda t: t[0])
    return markdown_table(
        ("workload", "activity", "input p", "spikes per neuron and bin", "synaptic events per synapse and bin",
         "peer", "speed-up over the peer"),
        [row for _, row in rows], "lllrrlr",
    )


def write_document(path: str, machine: dict[str, Any], ctx: Any, curves: dict[str, Any], targets: list[list[str]],
                   table: str, figs: dict[str, str], plan: Any, paper: str) -> None:
    v = machine["versions"]
    kernels = f"vector kernels: {machine.get('kernels', 'unknown')} (`NEUROEMU_KERNELS` selects others)"
    ev_md, nc_md, mc_md = _curve_tables(curves)
    quiet_ms = QUIET_AFTER_THREADS_S * 1000
    fits = curves["events"]["fits"]
    check_md = markdown_table(
        ("workload", "check", "samples", "result", "float32 run: samples with equal spike counts"),
        [[c["workload"], c["what"], str(c["samples"]), "equal" if c["equal"] else "**different**",
          f"{c['float32']}/{c['samples']}"] for c in ctx.checks],
    )
    workloads_md = markdown_table(
        ("workload", "layers (inputs first)", "neurons", "synapses", "input p per activity"),
        [[f"`{k}`", d["layers"], f"{d['neurons']:,}", f"{d['synapses']:,}", d["activities"]]
         for k, d in ctx.workloads.items()],
        "llrrl",
    )
    notes_md = "\n".join(f"- {n}" for n in ctx.notes) or "- none"
    core = curves["neurons"].get("core", {})
    core_text = (f"{core.get('n_inputs', '?'):,} inputs, 4 hidden layers of {core.get('n_hidden', '?'):,} neurons, "
                 "100 outputs, fan-out 100")
    load_start, load_end = _load(machine["load_start"]), _load(machine.get("load_end"))
    probes_start, probes_end = probe_text(machine.get("probes_start")), probe_text(machine.get("probes_end"))
    versions = (f"Python {v['python']}, numpy {v['numpy']}, scipy {v['scipy']}, torch {v['torch']}, "
                f"snnTorch {v['snntorch']}, SANA-FE {v['sanafe']}, neuroemu {v['neuroemu']}")
    fit_text = "; ".join(f"{k}: {1e3 * f['a']:.0f} us + {1e6 * f['b']:.1f} ns per event, R^2 = {f['r2']:.4f}"
                         for k, f in fits.items())
    text = f"""# Performance

*Generated by `python benchmarks/run_all.py{' --quick' if plan.quick else ''}` on {machine['date']}; every
number on this page comes from that one run (one process). Regenerate it with the same command; do not
edit it by hand.*{' **This is a quick run: small workloads and short sweeps.**' if plan.quick else ''}

The engine (`neuroemu.Emulator`) runs the same workloads as three peers, side by side, in one process:
a dense batched PyTorch simulator of the same step model written in the style of the paper's own code
(asynctorch), snnTorch (layer-synchronous, CPU) and SANA-FE (a C++ simulator of neuromorphic chips, in
its time-step mode). The speed-ups below are per inference: the peer's time divided by the engine's,
on the same network, the same input statistics, the same schedule and the same number of threads.

## Machine and build

| | |
| --- | --- |
| CPU | {machine['cpu']}, {machine['cores']} usable cores |
| load average (1, 5, 15 min) | at the start {load_start}; at the end {load_end} |
| speed probes (`_machine.speed_probes`) | at the start {probes_start}; at the end {probes_end} |
| neuroemu extension | **{machine['build']}** build ({machine['build_why']}); {kernels} |
| versions | {versions} |
| SANA-FE | {machine['sanafe']} |
| run time | {machine.get('seconds', 0) / 60:.1f} min ({machine['plan']} plan) |

This machine is shared: other jobs ran during the measurements (see the load average). Wall times of
2-thread runs suffer most from that; CPU times (the work done by this process, all threads) much less.
Other tenants share the host too: one core at a time runs up to 2x slower for seconds to minutes (two
processes pinned to different cores never slowed together), and the speed probes (random reads from a
64 MB array, and a small matrix product) read the machine at the start and the end. A slow spell does not
slow every kind of work alike, so even ratios differ between runs (by up to 1.4x between two runs an hour
apart). Compare ratios within one run, never numbers from different runs or machines.

## Targets

{markdown_table(("target", "measured", "met"), targets)}

The paper's own simulator, as the issue measured it on the `target` workload: {paper}. The dense
simulator of this page on an H200 GPU, beside the engine on 2 cores of the same machine, is measured by
`benchmarks/bench_gpu.py`: [performance-gpu.md](performance-gpu.md).

## Workloads

Every network is a feed-forward chain of LIF layers without bias, reset to zero, refractory until the
next bin, `beta = exp(-1)` (tau = dt = 1), 10 bins, binary input in which every channel is an
independent event with probability `p` per bin (the "input p" column: a low and a high activity per
workload). Weights are rounded to float32 once, so that float32 frameworks hold exactly the engine's.

{workloads_md}

- `mlp`: the N-MNIST size (2 x 34 x 34 inputs), weights N(0, 1/fan-in), threshold 0.3: input p = 0.02
  keeps 2-5% of every layer spiking per bin ("typical sparsity"), p = 0.1 gives 14-21%.
- `cnn`: 2 x 34 x 34 input, three 3x3 convolutions with stride 2 and padding 1 (6, 12 and 32 channels:
  6x17x17, 12x9x9, 32x5x5) and a linear readout of 10, weights N(0, 1/fan-in), threshold 0.3 (p = 0.02:
  4-12% of each layer per bin; p = 0.1: 15-27%); built with torch layers and snnTorch `Leaky` and
  imported with `Network.from_torch` (convolutions become fan-out lists).
- `target`: the issue's reference: 2312-512-256-128-10, weights N(0, 4/fan-in), threshold 0.3, 5% input
  (22-35% of each layer spiking per bin in `sync`, 60-70% at F = 4); the headline is momentum, F = 4.
- `sparse`: a layered network with random fan-out lists (every source projects to 100 distinct random
  neurons of the next layer, 10 onto the 100 outputs), weights N(0, 0.3^2), threshold 1.0. `sparse-s`
  is the same construction at a sixth of the size (for SANA-FE, whose network builder needs about 300
  bytes per synapse).

## Method

- **Engine** rows: `Emulator(network, schedule=..., group_size=F, record="totals").run_batch(inputs,
  threads=T)`; `timed` rows use `mode="timed"` with neuroemu's `loihi` profile on a mesh as large as the
  network needs. The input-validation and result conversion of the Python API are included. The binary
  input frames reach the engine as a numpy `bool` array, which both modes read in place (float64 frames
  of the same events give the same results at eight times the memory traffic); the peers get float32
  tensors.
- **dense PyTorch** (`benchmarks/_torch_dense.py`, also used by `bench_step_engine.py`): the same step
  model, momentum schedule, for a batch of {plan.dense_batch} samples at once (8 for `cnn`, whose steps
  are slow): every forward step is one dense matmul per layer and a full sort of the queue; float32 like
  the paper's code. Not run where its dense weight matrices would not fit in memory (`sparse`).
- **snnTorch** (`benchmarks/_snntorch.py`): torch layers and `snntorch.Leaky(reset_mechanism="zero")`,
  batch {plan.snn_batch} (16-32 for the sparse networks), a Python loop over time steps under
  `torch.inference_mode()`, float32; for `sparse`, whose dense matrices would not fit, the layers are
  `torch.sparse_csr` matrix products with the same `Leaky`. Compared with the engine's `sync` schedule,
  which computes the same spike trains.
- **SANA-FE** (`benchmarks/_sanafe.py`), `timing_model="simple"`, one sample at a time: the workload's
  exact synapses and LIF parameters on a Loihi-like architecture (SANA-FE's own Loihi energies and
  latencies, 1,024 neurons per core). Its model differs in ways this benchmark cannot remove: a spike
  reaches the next layer one time step later (a sample of T bins runs T + L steps, the last L without
  input), potentials are rounded to 1/64 each step, and the input is SANA-FE's own Bernoulli generator
  with the same probability (same statistics, not the same samples). Its synaptic-event counts
  (SANA-FE's "spikes") land within a few percent of the engine's; its spike column is neurons fired
  minus the expected number of input events. It is compared with the engine's timed `sync` rows (both
  simulate a chip time step by time step) and, in the targets table, also with step `sync`. Network
  construction and loading are not included in its per-inference time.
- **Timing**: every measurement is warmed up (the warm-up also sizes the run), then repeated (3 times,
  5 for short calls, fewer for calls that would exceed the time budget: the "samples x runs" column); the
  table gives the best wall time and the best CPU time per inference. CPU time is the calling thread's
  own (`time.thread_time`) for 1-thread rows, where all the work runs on that thread, and the process's
  (`time.process_time`, all threads) for 2-thread rows: the process's clock would also charge a
  1-thread row with a library's idle worker threads, which spin for a while after a 2-thread call.
  Speed-ups are given on both; on a shared machine the CPU-time ratio at 1 thread is the robust one.
- **Interleaved rounds**: this machine runs at one speed for a while, then at another, up to 2-3x apart
  over minutes (other tenants share its cores). So all rows of one workload and input activity, the
  engine's and every peer's, are timed in 3 rounds, each round calling every row in turn (a row's
  runs spread over the rounds). The time columns give each row's best over all rounds; a **speed-up**
  is the median, over the rounds both rows ran in, of the ratio of their best times within one round:
  each ratio compares two times taken seconds apart, in one phase of the machine, and so a speed-up
  need not equal the ratio of the two rows' time columns. After a multi-threaded row, the next row
  starts {quiet_ms:.0f} ms later: a library's worker threads stay awake for a while after a call (torch's
  OpenMP threads about 8 ms), and a short row timed meanwhile would share the cores with them.
- **Other load**: the last column says how many cores other processes kept busy during a measurement
  (the machine's busy CPU time from `/proc/stat` minus this process's own, over the wall time). The
  2-thread target is judged only on pairs of rows where it stayed below 0.25 of a core.
- **Checks** before timing (float64 peers on the same samples as the engine):

{check_md}

## All measurements

{table}

The **speed-up** columns are the peer's time per inference divided by the engine's, for the engine row
named in "compared with" (same workload, input probability and threads), as a median over the
interleaved rounds (see Method). A skipped row says why.

Reading the table: the engine's cost grows with synaptic events and neuron updates (and a per-sample
part for reading the input frames); a time-stepped framework's cost is a dense (or sparse-matrix) product
per layer and time step, independent of how many neurons spike, amortised over its batch. So the
engine's lead over snnTorch is largest on sparse activity and shrinks, or turns, on dense activity (the
`target` network spikes in 22-70% of its neurons per bin). The dense PyTorch step simulator pays a
full step (every layer's matmul and a sort) per emitted group, so the engine's lead over it grows as F
falls and as the network grows. Torch's multi-threaded runs degrade badly when the machine has no idle
core (its OpenMP threads wait for each other); compare peers at 1 thread on a busy machine.

The same speed-ups over snnTorch (1 thread, CPU time) against how much of each network is active: the
share of neurons that spike per bin, and the share of synapses that carry an event per bin (the work
the engine does, against the work a time-stepped framework does whatever the activity). Where dense
weight matrices would not fit in memory (`sparse`), snnTorch runs each layer as a `torch.sparse_csr`
product, whose cost also falls with the network's sparsity; elsewhere it multiplies dense matrices, as
a snnTorch model does (for `sparse-s`, about 50 times as many weights as it has synapses):

{_density_table(ctx)}

## Curves

### Time against events

![time against events](figures/{figs['events']})

Workload: {curves['events']['workload']}; the input probability is varied, one thread, CPU time: the
best of {curves['events']['points'][0]['repeats']} rounds in which every point is timed once (interleaved, so
that bursts of load from other processes hit all points alike).
Least-squares lines: {fit_text}. The cost per event is not constant: at low activity almost every
event reaches a different neuron (one threshold check per event, scattered memory accesses), at high
activity many events land on the same neurons within a step, so the table's CPU ns per event falls as
events grow; a fit on events and neuron updates together explains the times better (see the targets).

{ev_md}

### Time against neurons at a fixed number of events

![time against neurons](figures/{figs['neurons']})

The same active network ({core_text}) padded with silent neurons: each hidden layer gets extra neurons
wired among themselves (10 synapses each) and never driven, so spikes and synaptic events stay exactly
the same while neurons and synapses grow. Input p = 0.05, one thread, CPU time: the best of 7 rounds in
which every size is timed once (interleaved, so that bursts of load from other processes hit all sizes
alike).

{nc_md}

### Memory per synapse

![memory per synapse](figures/{figs['memory']})

Resident memory of a `Network` built from random fan-out lists (100 synapses per source), each size
measured in a fresh (spawned) interpreter: the Python-side arrays (int64 row pointers, int32 targets,
float64 weights: 12 bytes per synapse) plus the engine's own copy (int32 target and float64 weight per
synapse, row pointers per source); "engine copy" subtracts the Python arrays. "Run peak" is the extra
peak resident memory of one sample (`momentum`, F = 4) per neuron: the engine's per-thread state (which
the network keeps for its next runs) and the temporaries of the input checks (fixed costs dominate the
smallest network). "Timed deployment" is what `mode="timed"` on the `loihi` profile keeps besides the
`Network`, per synapse, after one sample: the `Deployment`'s arrays, the engine's routes (32 bytes for each
source and destination core: with 100 random targets per source, a source reaches most cores of the next
layer) and the timed engine the deployment keeps for its next runs.

{mc_md}

## Notes

{notes_md}

## Reproducing

Timings need a **Release** build of the extension. An editable install (`pip install -e .`) builds in
Debug (see `pyproject.toml`) and the script then refuses to write this page. Either

```sh
python -m venv /tmp/bench && . /tmp/bench/bin/activate
pip install ".[bench]"                      # pip install . builds Release; bench: torch, snnTorch, SANA-FE, matplotlib
python benchmarks/run_all.py                # about 15 minutes on 2 cores; --quick: under 2 minutes
```

or, in a development checkout with an editable install, build a Release copy beside it and point the
script at it (it bypasses the editable install's import hook and prints which extension it timed):

```sh
pip install --no-build-isolation --no-deps --target /tmp/neuroemu-release \\
    -Cbuild-dir=/tmp/neuroemu-release-build .
pip install --no-build-isolation -e ".[bench]"   # the peers (SANA-FE only for benchmarks, never vendored)
python benchmarks/run_all.py --neuroemu-path /tmp/neuroemu-release
```

Options: `--quick`, `--no-sanafe`, `--no-write` (print only), `--out PATH`, `--json PATH` (every
measurement). The printed table is the same as the one above. SANA-FE is skipped, with the reason
printed here, where `import sanafe` fails (its PyPI wheels are binary, manylinux x86-64).
"""
    from run_all import PAPER_CPU_MS, PAPER_GPU_MS

    paper = ", ".join(f"{v} ms per inference ({k})" for k, v in PAPER_GPU_MS.items())
    paper += f", {PAPER_CPU_MS:.0f} ms per inference on 2 CPU cores of this project's machine"
    text = text.replace("{paper}", paper).replace("{THRESHOLDS}", "0.3 (1.0 for the sparse networks)")
    with open(path, "w") as f:
        f.write(text)
