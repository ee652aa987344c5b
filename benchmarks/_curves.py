"""The three curves of ``run_all.py``: time against events, time against neurons at a fixed number of
events, and memory per synapse. All engine-only, step mode, one thread (CPU time per inference, which
other processes on a shared machine disturb far less than wall time; wall time is recorded too)."""

from __future__ import annotations

import multiprocessing as mp
from typing import Any

import numpy as np
from _machine import peak_rss_bytes, reset_peak_rss, rss_bytes, settle_memory
from _measure import Contender, interleaved, sized, timed

SCHEDULES = (("sync", "sync", None), ("F=4", "momentum", 4))


def _engine_case(neuroemu: Any, net: Any, x: np.ndarray, schedule: str, group: int | None, target_s: float) -> dict:
    """An emulator and as many samples of x as take about target_s, ready for _best_in_rounds."""
    em = neuroemu.Emulator(net, schedule=schedule, group_size=group, record="totals")
    pilot = min(2, len(x))
    _, c, _ = timed(lambda: em.run_batch(x[:pilot], threads=1))
    return {"em": em, "x": x[: sized(c / pilot, target_s, 2, len(x))], "best": None}


def _best_in_rounds(cases: list[dict], rounds: int) -> None:
    """Times every case once per round, `rounds` rounds, keeping each one's best (case["best"]), so that a
    burst of load from other processes on a shared machine hits all cases alike instead of one of them:
    the curves' criteria compare the cases with each other."""
    contenders = [Contender(lambda case=case: case["em"].run_batch(case["x"], threads=1), rounds, 1)
                  for case in cases]
    interleaved(contenders, rounds)
    for case, contender in zip(cases, contenders, strict=True):
        case["best"] = contender.timing


def _point(case: dict, rounds: int) -> dict:
    t, n = case["best"], len(case["x"])
    br = t.result
    return {"samples": n, "ms_cpu": 1e3 * t.cpu / n, "ms_wall": 1e3 * t.wall / n,
            "synops": float(np.mean(br.synops)), "spikes": float(np.mean(br.total_spikes)),
            "updates": float(np.mean(br.neuron_updates)), "repeats": rounds}


def linear_fit(x: np.ndarray, y: np.ndarray) -> dict[str, float]:
    """Least squares y = a + b x; R^2; and the largest relative deviation of a point from the line."""
    b, a = np.polyfit(x, y, 1)
    pred = a + b * x
    ss_res = float(np.sum((y - pred) ** 2))
    ss_tot = float(np.sum((y - np.mean(y)) ** 2)) or 1.0
    worst = float(np.max(np.abs(y - pred) / y))
    return {"a": float(a), "b": float(b), "r2": 1.0 - ss_res / ss_tot, "max_rel_dev": worst}


def events_curve(neuroemu: Any, workload: Any, probabilities: list[float], n_max: int, target_s: float,
                 rounds: int = 7) -> dict:
    """Time per inference against synaptic events per inference, on one network, input rate varied; the
    points are timed in interleaved rounds (_best_in_rounds)."""
    cases = []
    for p in probabilities:
        x = workload.inputs(n_max, p, seed=11).astype(bool)
        for label, schedule, group in SCHEDULES:
            case = _engine_case(neuroemu, workload.network, x, schedule, group, target_s)
            case.update(p=p, schedule=label)
            cases.append(case)
    _best_in_rounds(cases, rounds)
    points = []
    for case in cases:
        pt = _point(case, rounds)
        pt.update(p=case["p"], schedule=case["schedule"])
        points.append(pt)
        print(
            f"  events curve: p={pt['p']:<6} {pt['schedule']:5} {pt['synops']:>12,.0f} events  "
            f"{pt['ms_cpu']:8.3f} ms CPU  {pt['ms_wall']:8.3f} ms wall",
            flush=True,
        )
    cases.clear()
    fits = {}
    for label, _, _ in SCHEDULES:
        pts = [q for q in points if q["schedule"] == label]
        events = np.array([q["synops"] for q in pts])
        ms = np.array([q["ms_cpu"] for q in pts])
        fit = linear_fit(events, ms)
        per_event = ms / events
        fit["ns_per_event_first"] = float(1e6 * per_event[np.argmin(events)])
        fit["ns_per_event_last"] = float(1e6 * per_event[np.argmax(events)])
        fit["ns_per_event_max"] = float(1e6 * per_event.max())
        fit["ns_per_event_min"] = float(1e6 * per_event.min())
        # the engine's work has two parts: synaptic events and neuron updates (threshold checks)
        design = np.column_stack([np.ones_like(events), events, [q["updates"] for q in pts]])
        coef, *_ = np.linalg.lstsq(design, ms, rcond=None)
        resid = ms - design @ coef
        fit["r2_events_updates"] = float(1.0 - np.sum(resid**2) / (np.sum((ms - ms.mean()) ** 2) or 1.0))
        fits[label] = fit
    return {"workload": workload.describe(), "points": points, "fits": fits}


def neurons_curve(neuroemu: Any, make_sparse: Any, core_kwargs: dict, pads: list[int], p: float, n: int,
                  target_s: float, rounds: int = 7) -> dict:
    """Time per inference against network size with the events held fixed: the same active network plus
    `pad` silent neurons per hidden layer (wired among themselves, never driven).

    The sizes are timed in interleaved rounds (every size once per round, `rounds` rounds, the best of
    each kept), so that a burst of load from other processes on a shared machine hits all sizes alike
    instead of one of them: a flatness criterion compares the sizes with each other."""
    cases = []
    for pad in pads:
        w = make_sparse(pad=pad, **core_kwargs)
        x = w.inputs(n, p, seed=13).astype(bool)
        for label, schedule, group in SCHEDULES:
            case = _engine_case(neuroemu, w.network, x, schedule, group, target_s)
            case.update(pad=pad, neurons=w.n_neurons, synapses=w.n_synapses, schedule=label)
            cases.append(case)
        del w
    _best_in_rounds(cases, rounds)
    points = []
    for case in cases:
        pt = _point(case, rounds)
        pt.update(pad=case["pad"], neurons=case["neurons"], synapses=case["synapses"], schedule=case["schedule"])
        points.append(pt)
        print(
            f"  neurons curve: {pt['neurons']:>9,} neurons {pt['synapses']:>11,} synapses {pt['schedule']:5} "
            f"{pt['synops']:>10,.0f} events {pt['ms_cpu']:8.3f} ms CPU {pt['ms_wall']:8.3f} ms wall",
            flush=True,
        )
    cases.clear()
    settle_memory()
    return {"points": points}


# -- memory: each size in a fresh (spawned) interpreter, so that no measurement inherits another heap ---
def _memory_child(conn: Any, n_synapses: int, fan_out: int, seed: int, neuroemu_path: str | None) -> None:
    try:
        if neuroemu_path:
            from _machine import prefer_build

            prefer_build(neuroemu_path)
        from _workloads import random_fanout

        import neuroemu

        n = max(200, n_synapses // (2 * fan_out))  # two projections of n sources each
        rng = np.random.default_rng(seed)
        mats = [random_fanout(rng, n, n, fan_out, 0.0, 0.3), random_fanout(rng, n, 100, fan_out, 0.0, 0.3)]
        settle_memory()
        base = rss_bytes()
        net = neuroemu.Network.from_weights(mats, threshold=1.0, beta=0.5, dt=1.0)
        settle_memory()
        after = rss_bytes()
        python_arrays = sum(p.indptr.nbytes + p.indices.nbytes + p.weights.nbytes for p in net.projections)
        python_arrays += sum(
            q.threshold.nbytes + q.beta.nbytes + q.bias.nbytes for q in net.populations
        )
        del mats
        settle_memory()
        x = (rng.random((1, 10, n)) < 0.05).astype(np.float64)
        em = neuroemu.Emulator(net, schedule="momentum", group_size=4, record="totals")
        settle_memory()
        before_run = rss_bytes()
        ok = reset_peak_rss()
        em.run_batch(x, threads=1)
        run_peak = peak_rss_bytes() - before_run if ok else float("nan")
        del em
        settle_memory()
        # What mode="timed" keeps besides the Network: the Deployment's arrays, the engine's routes (one per
        # source and destination core) and the timed engine of the first run, which the deployment keeps.
        before_deploy = rss_bytes()
        timed = neuroemu.Emulator(net, schedule="sync", mode="timed", hardware="loihi", record="totals")
        timed.run_batch(x, threads=1)
        settle_memory()
        timed_bytes = rss_bytes() - before_deploy
        conn.send(
            {
                "synapses": net.n_synapses,
                "neurons": net.n_neurons,
                "network_bytes": after - base,
                "python_bytes": python_arrays,
                "run_peak_bytes": run_peak,
                "timed_bytes": timed_bytes,
                "routes": int(timed.deployment.destinations.sum()),
            }
        )
    except Exception as exc:  # reported by the parent
        conn.send({"error": f"{type(exc).__name__}: {exc}"})
    finally:
        conn.close()


def memory_curve(sizes: list[int], fan_out: int = 100, neuroemu_path: str | None = None) -> dict:
    """Resident memory of a Network (its Python arrays and the engine's copy) per synapse, the extra
    peak of a one-sample run per neuron (the engine's per-thread state, the input checks' temporaries), and
    what a timed deployment on the loihi profile adds per synapse (its arrays, routes and timed engine)."""
    ctx = mp.get_context("spawn")
    points = []
    for s in sizes:
        parent, child = ctx.Pipe(duplex=False)
        proc = ctx.Process(target=_memory_child, args=(child, s, fan_out, 17, neuroemu_path))
        proc.start()
        child.close()
        out = parent.recv() if parent.poll(600) else {"error": "timed out"}
        proc.join()
        if "error" in out:
            print(f"  memory: {s:,} synapses: {out['error']}", flush=True)
            continue
        out["bytes_per_synapse"] = out["network_bytes"] / out["synapses"]
        out["engine_bytes_per_synapse"] = (out["network_bytes"] - out["python_bytes"]) / out["synapses"]
        out["run_bytes_per_neuron"] = out["run_peak_bytes"] / out["neurons"]
        out["timed_bytes_per_synapse"] = out["timed_bytes"] / out["synapses"]
        points.append(out)
        print(
            f"  memory: {out['synapses']:>11,} synapses {out['neurons']:>9,} neurons: network "
            f"{out['bytes_per_synapse']:.1f} B/synapse (engine copy {out['engine_bytes_per_synapse']:.1f}), "
            f"run +{out['run_bytes_per_neuron']:.0f} B/neuron; timed deployment +{out['timed_bytes_per_synapse']:.1f} "
            f"B/synapse ({out['routes']:,} routes)",
            flush=True,
        )
    return {"points": points, "fan_out": fan_out}
