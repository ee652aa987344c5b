"""The ``neuroemu`` command: demo, run, info, train (and study, where installed)."""

from __future__ import annotations

import sys
import traceback
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import click
import numpy as np

from . import __version__
from .emulator import SCHEDULES, Emulator
from .errors import NeuroemuError
from .models import describe_model, load_network
from .network import Network
from .reporting import format_table, summarize, write_csv, write_json
from .result import BatchResult

# The demo's question: what does each training regime cost under each schedule?
DEMO_MODELS = ("digits_sync", "digits_momentum_f4")
DEMO_SCHEDULES: tuple[tuple[str, int | None], ...] = (
    ("sync", None), ("momentum", 16), ("momentum", 4), ("momentum", 1), ("random", 4),
)
TABLE_COLUMNS = [
    ("model", "model", ""),
    ("schedule", "schedule", ""),
    ("group_size", "F", ""),
    ("mode", "mode", ""),
    ("accuracy", "accuracy", "%"),
    ("spikes", "spikes", ".1f"),
    ("forward_steps", "fwd steps", ".1f"),
    ("spikes_to_correct_output", "spikes->correct", ".1f"),
    ("time_to_decision_ns", "decision (ns)", ".0f"),
    ("energy_pj.total", "energy (pJ)", ".0f"),
]
STEP_COLUMNS = [c for c in TABLE_COLUMNS if c[0] not in ("mode", "time_to_decision_ns")]
TIMED_COLUMNS = [c for c in TABLE_COLUMNS if c[0] not in ("mode", "group_size", "forward_steps")]
CHUNK = 64  # samples per engine call: keeps the progress bar moving; results do not depend on it


class _Failure(click.ClickException):
    exit_code = 2


def _run_in_chunks(emulator: Emulator, inputs: np.ndarray, labels: np.ndarray | None, threads: int | None,
                   label: str) -> BatchResult:
    """run_batch over chunks with a progress bar; sample indices stay global, so results equal one call."""
    parts = []
    show = sys.stderr.isatty() and len(inputs) > CHUNK
    with click.progressbar(length=len(inputs), label=label, file=sys.stderr, show_pos=True,
                           hidden=not show) as bar:
        for start in range(0, len(inputs), CHUNK):
            stop = min(start + CHUNK, len(inputs))
            parts.append(emulator.run_batch(inputs[start:stop], None if labels is None else labels[start:stop],
                                            threads=threads, first_index=start))
            bar.update(stop - start)
    return BatchResult.concatenate(parts) if len(parts) != 1 else parts[0]


def _dataset(name: str, split: str, samples: int | None, seed: int) -> tuple[np.ndarray, np.ndarray, str]:
    from . import datasets

    if name == "digits":
        data = datasets.digits(split=split, seed=seed)
    elif name == "digits-rows":
        data = datasets.digits_rows(split=split, seed=seed)
    else:
        path = Path(name)
        if not path.is_file():
            raise _Failure(f"--data {name!r}: expected digits, digits-rows or an .npz file with frames and labels")
        with np.load(path, allow_pickle=False) as f:
            if "frames" not in f.files:
                raise _Failure(f"{name}: an .npz dataset needs an array 'frames' (samples, bins, channels)")
            frames = np.asarray(f["frames"], dtype=np.float64)
            labels = np.asarray(f["labels"]) if "labels" in f.files else None
        if samples is not None:
            frames = frames[:samples]
            labels = None if labels is None else labels[:samples]
        return frames, labels, path.name  # type: ignore[return-value]
    frames, labels = np.asarray(data.frames, dtype=np.float64), data.labels
    if samples is not None:
        frames, labels = frames[:samples], labels[:samples]
    return frames, labels, f"{name}/{split}"


def _group(value: str) -> int | None:
    if value in ("all", "none", "None"):
        return None
    try:
        return int(value)
    except ValueError:
        raise _Failure(f"--group-size {value!r}: expected a positive integer or 'all'") from None


def _hardware(value: str | None) -> Any:
    if value is None:
        return None
    from .hardware import Hardware

    path = Path(value)
    return Hardware.from_toml(path) if path.suffix == ".toml" or path.is_file() else Hardware.preset(value)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="neuroemu")
@click.option("--debug", is_flag=True, help="Show tracebacks on errors.")
@click.pass_context
def main(ctx: click.Context, debug: bool) -> None:
    """neuroemu: emulate asynchronous neuromorphic hardware and measure spikes, latency and energy."""
    ctx.obj = {"debug": debug}


def _evaluate(network: Network, inputs: np.ndarray, labels: np.ndarray | None, *, model: str, dataset: str,
              schedule: str, group_size: int | None, mode: str, hardware: Any, seed: int,
              threads: int | None) -> tuple[dict[str, Any], BatchResult]:
    timed = mode == "timed"
    emulator = Emulator(network, schedule=schedule, group_size=None if timed else group_size, seed=seed,
                        mode=mode, hardware=hardware, record="counts")
    label = f"{model} {schedule} F={group_size or 'all'} {mode}"
    batch = _run_in_chunks(emulator, inputs, labels, threads, label)
    record = summarize(batch, emulator, model=model, dataset=dataset)
    record["group_size"] = group_size
    return record, batch


@main.command()
@click.option("--samples", type=click.IntRange(1), default=None, help="Test samples to run (default: all 360).")
@click.option("--hardware", "hardware_name", default="loihi", show_default=True, help="Profile for time and energy.")
@click.option("--figure", type=click.Path(dir_okay=False), default="neuroemu-demo.png", show_default=True,
              help="Where to write the comparison figure ('' for none).")
@click.option("--threads", type=click.IntRange(1), default=None, help="Engine threads (default: all cores).")
def demo(samples: int | None, hardware_name: str, figure: str, threads: int | None) -> None:
    """Shipped models (trained layer-synchronously and inside the momentum schedule, F=4) on held-out digits,
    run under each schedule: accuracy, spikes, forward steps, time to decision and energy."""
    from .training import pretrained

    hardware = _hardware(hardware_name)
    inputs, labels, dataset = _dataset("digits", "test", samples, 0)
    step_records, timed_records = [], []
    for model in DEMO_MODELS:
        network = pretrained(model)
        for schedule, group in DEMO_SCHEDULES:
            record, _ = _evaluate(network, inputs, labels, model=model, dataset=dataset, schedule=schedule,
                                  group_size=group, mode="step", hardware=hardware, seed=0, threads=threads)
            step_records.append(record)
        # Timed mode has no group size (parallelism is the number of cores): one run per schedule.
        for schedule in dict.fromkeys(s for s, _ in DEMO_SCHEDULES):
            record, _ = _evaluate(network, inputs, labels, model=model, dataset=dataset, schedule=schedule,
                                  group_size=None, mode="timed", hardware=hardware, seed=0, threads=threads)
            timed_records.append(record)
    click.echo(f"digits test set, {len(inputs)} samples x {inputs.shape[1]} bins; models trained "
               f"layer-synchronously (digits_sync) and inside the momentum schedule at F=4 (digits_momentum_f4)\n")
    click.echo(f"Step model (forward steps of F spikes; dynamic energy on the {hardware.name} profile):")
    click.echo(format_table(step_records, STEP_COLUMNS))
    click.echo(f"\nTimed model on {hardware.name} (cores in parallel, time to decision in ns, energy incl. static):")
    click.echo(format_table(timed_records, TIMED_COLUMNS))
    if figure:
        from .plots import comparison

        comparison(timed_records, figure)
        click.echo(f"\nfigure: {figure}")


@main.command()
@click.argument("model")
@click.option("--data", default="digits", show_default=True, help="digits, digits-rows, or an .npz file "
              "with 'frames' (samples, bins, channels) and optional 'labels'.")
@click.option("--split", type=click.Choice(["train", "test", "all"]), default="test", show_default=True)
@click.option("--samples", type=click.IntRange(1), default=None)
@click.option("--schedule", type=click.Choice(SCHEDULES), default="sync", show_default=True)
@click.option("--group-size", "group", default="all", show_default=True, help="F, or 'all'.")
@click.option("--hardware", "hardware_name", default=None, help="Profile name (loihi, seneca, generic45nm) "
              "or a TOML file; gives energy.")
@click.option("--mode", type=click.Choice(["step", "timed"]), default="step", show_default=True)
@click.option("--dt", type=float, default=None, help="The exporter's time step, for .nir models.")
@click.option("--seed", type=click.IntRange(0), default=0, show_default=True)
@click.option("--threads", type=click.IntRange(1), default=None)
@click.option("--json", "json_out", type=click.Path(dir_okay=False), default=None, help="Write the result here.")
@click.option("--csv", "csv_out", type=click.Path(dir_okay=False), default=None, help="Write the result here.")
@click.option("--raster", type=click.Path(dir_okay=False), default=None, help="Spike raster of sample 0 (PNG).")
def run(model: str, data: str, split: str, samples: int | None, schedule: str, group: str,
        hardware_name: str | None, mode: str, dt: float | None, seed: int, threads: int | None,
        json_out: str | None, csv_out: str | None, raster: str | None) -> None:
    """Run MODEL (pretrained:NAME, a model/network file, an NIR graph, a checkpoint) on a dataset."""
    network = load_network(model, dt=dt)
    inputs, labels, dataset = _dataset(data, split, samples, seed)
    group_size = _group(group)
    if mode == "timed" and group_size is not None:
        raise _Failure("--group-size has no meaning in timed mode (parallelism is the number of cores)")
    record, _ = _evaluate(network, inputs, labels, model=model, dataset=dataset, schedule=schedule,
                          group_size=group_size, mode=mode, hardware=_hardware(hardware_name), seed=seed,
                          threads=threads)
    click.echo(format_table([record], TABLE_COLUMNS))
    if json_out:
        write_json(json_out, [record])
    if csv_out:
        write_csv(csv_out, [record])
    if raster:
        from .plots import raster as draw_raster

        one = Emulator(network, schedule=schedule, group_size=group_size, seed=seed, record="spikes")
        draw_raster(one.run(inputs[0]), network.layer_sizes, raster)


@main.command()
@click.argument("model")
@click.option("--hardware", "hardware_name", default=None, help="Check the mapping onto this profile.")
@click.option("--dt", type=float, default=None, help="The exporter's time step, for .nir models.")
def info(model: str, hardware_name: str | None, dt: float | None) -> None:
    """Layers, neurons, synapses of MODEL, and its mapping onto a hardware profile."""
    network = load_network(model, dt=dt)
    described = describe_model(network)
    click.echo(f"{model}: {described['inputs']} inputs, {described['neurons']} neurons, "
               f"{described['synapses']} synapses, dt = {described['dt']:g} s\n")
    columns = [("layer", "layer", ""), ("name", "name", ""), ("neurons", "neurons", ""),
               ("synapses_in", "synapses in", ""), ("reset", "reset", ""), ("refractory", "refractory", ""),
               ("threshold_mean", "threshold", ".3g"), ("beta_mean", "beta", ".3g")]
    click.echo(format_table(described["layers"], columns))
    if hardware_name:
        from .deploy import deploy

        report = deploy(network, _hardware(hardware_name)).report()
        click.echo(f"\nmapping onto {report['hardware']}: {report['cores']} cores on {report['chips']} chip(s), "
                   f"every capacity satisfied\n")
        click.echo(format_table(report["layers"], [
            ("layer", "layer", ""), ("neurons", "neurons", ""), ("cores", "cores", ""),
            ("max_neurons_per_core", "max neurons/core", ""), ("max_synapses_per_core", "max synapses/core", ""),
            ("max_fan_in_per_core", "max fan-in/core", ""), ("mean_messages_per_spike", "messages/spike", ".2f"),
        ]))


@main.command(context_settings={"ignore_unknown_options": True, "allow_extra_args": True}, add_help_option=False)
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
def train(args: Sequence[str]) -> None:
    """Train a model in PyTorch (layer-synchronous or inside an asynchronous schedule); --help for options."""
    from .training import main as train_main

    code = train_main(list(args))
    if code:
        sys.exit(code)


@main.command()
@click.argument("config", type=click.Path(exists=True, dir_okay=False))
@click.option("--cluster", default=None, help="Address of a dask.distributed scheduler (tcp://host:port).")
@click.option("--workers", type=click.IntRange(1), default=None, help="Local worker processes (default: all cores).")
@click.option("--out", type=click.Path(file_okay=False), default=None,
              help="Output folder (default: the config's out, else sweep-<config name>).")
@click.option("--retries", type=click.IntRange(0), default=2, show_default=True, help="Re-runs of a failed task.")
@click.option("--serial", is_flag=True, help="Run the tasks in this process.")
def sweep(config: str, cluster: str | None, workers: int | None, out: str | None, retries: int, serial: bool) -> None:
    """Run the grid of CONFIG.toml (models x schedules x group sizes x modes x hardware) over a dataset in
    shards, locally or on a dask cluster; finished tasks persist in --out, so a rerun resumes (docs/sweep.md)."""
    from .sweep import Grid
    from .sweep import sweep as run_sweep

    grid = Grid.from_toml(config)
    folder = out or grid.out or f"sweep-{Path(config).stem}"
    with click.progressbar(length=1, label="sweep", file=sys.stderr, show_pos=True,
                           hidden=not sys.stderr.isatty()) as bar:
        def progress(done: int, total: int) -> None:
            bar.length = total
            bar.update(done - bar.pos)

        result = run_sweep(grid, out=folder, cluster=cluster, workers=workers, retries=retries,
                           executor="serial" if serial else "processes", progress=progress)
    for point, reason in result.skipped:
        click.echo(f"skipped {point}: {reason}", err=True)
    click.echo(result.table())
    click.echo(f"\n{result.tasks_run + result.tasks_reused} tasks: {result.tasks_run} run, {result.tasks_reused} "
               f"reused; results in {folder}/results.{{csv,json,md}}")


@main.command()
@click.option("--quick", "variant", flag_value="quick", help="Smoke run (seconds).")
@click.option("--full", "variant", flag_value="full", help="30 epochs, 5 seeds, F in {4, 8, 16}: a bigger machine.")
@click.option("--out", default=None, help="Output folder: cached models, records, tables (default neuroemu-study).")
@click.option("--page", default=None, help="Results page to write (default OUT/results.md; '' for none).")
@click.option("--seeds", type=click.IntRange(1), default=None, help="Number of seeds (0..N-1).")
@click.option("--epochs", type=click.IntRange(0), default=None)
@click.option("--lr", type=float, default=None, help="Learning rate (default per dataset, docs/study.md).")
@click.option("--samples", type=click.IntRange(1), default=None, help="Test samples per evaluation (default all).")
@click.option("--workers", type=click.IntRange(1), default=None, help="Models in parallel processes.")
@click.option("--threads", type=click.IntRange(1), default=None, help="Engine threads per evaluation.")
@click.option("--dataset", "datasets", multiple=True, type=click.Choice(["digits", "digits_rows", "digits-rows"]))
@click.option("--regime", "regimes", multiple=True, help="sync, momentum:4, random:16 ... (repeat).")
@click.option("--device", default=None, help="Training device (default cuda when available).")
@click.option("--hardware", default=None, help="Profile for energy and the timed model (default loihi).")
@click.option("--report-only", is_flag=True, help="Rewrite tables and page from OUT's records; no runs.")
def study(variant: str | None, out: str | None, page: str | None, seeds: int | None, epochs: int | None,
          lr: float | None, samples: int | None, workers: int | None, threads: int | None, datasets: Sequence[str],
          regimes: Sequence[str], device: str | None, hardware: str | None, report_only: bool) -> None:
    """Train layer-synchronous and asynchronous-aware models, evaluate them under every schedule and F, and
    write tables, figures and the results page (docs/study.md)."""
    from . import study as study_module

    if report_only:
        study_module.report_only(out or "neuroemu-study", page)
        return
    config = study_module.config_from_options(
        variant=variant or "default", out=out, page=page, seeds=seeds, epochs=epochs, lr=lr, samples=samples,
        workers=workers, threads=threads, datasets=datasets or None, regimes=regimes or None, device=device,
        hardware=hardware)
    result = study_module.run_study(config)
    click.echo(f"{len(result.records)} evaluations of {len(result.models)} models in "
               f"{result.timings['wall_s']:.0f} s; results in {result.config.out}")


def entry_point(argv: Sequence[str] | None = None) -> None:
    """Console entry: errors as one line and exit code 2; tracebacks only with --debug."""
    args = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in args
    try:
        main.main(args=args, prog_name="neuroemu", standalone_mode=False)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except click.ClickException as exc:
        exc.show()
        sys.exit(2)
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        sys.exit(130)
    except KeyboardInterrupt:
        click.echo("interrupted", err=True)
        sys.exit(130)
    except (NeuroemuError, ValueError, TypeError, OSError) as exc:
        if debug:
            traceback.print_exc()
        click.echo(f"error: {exc}", err=True)
        sys.exit(2)
