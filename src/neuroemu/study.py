"""The source paper's study: layer-synchronous versus asynchronous-aware training, under every schedule.

:func:`run_study` trains, for each built-in dataset and each seed, a layer-synchronous model (BPTT) and
models trained inside asynchronous schedules (:class:`Regime`: random and momentum at several group
sizes), then evaluates every model in the emulator: in the step model under ``sync`` and under every
asynchronous schedule at every test group size F, and in the timed model on a hardware profile (once per
schedule: the timed model has no group size, its parallelism is the number of cores). Every model is
also run layer-synchronously, so what the weights alone change shows apart from what the execution
changes.

Trained models are cached in the output folder (named by dataset, regime, epochs and seed), and an
interrupted training resumes from its per-epoch checkpoint: a second run only re-evaluates. The
records (one per model and evaluation), their mean and spread over seeds, markdown tables and the
results page with figures (:func:`neuroemu.study_report.write_results_page`) are written to the output
folder. See docs/study.md.

Command line: ``neuroemu study`` (:func:`main` is the same with argparse, used by benchmarks/study.py).
"""

from __future__ import annotations

import argparse
import concurrent.futures as cf
import json
import math
import multiprocessing
import os
import platform
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import numpy as np

from ._validation import choice, non_negative_int, positive_int
from .errors import ConfigError, NeuroemuTypeError

__all__ = [
    "CELL_KEYS",
    "DATASETS",
    "DATASET_LR",
    "DEFAULT_REGIMES",
    "METRICS",
    "MODES",
    "SCHEDULES",
    "TEST_GROUP_SIZES",
    "Regime",
    "StudyConfig",
    "StudyResult",
    "aggregate",
    "config_from_options",
    "get_metric",
    "load_study",
    "machine_info",
    "main",
    "mean_std",
    "report_only",
    "run_study",
    "write_outputs",
]

#: The built-in datasets of the study: a spatial task (rate-coded digits) and a temporal one (digits
#: read row by row).
DATASETS = ("digits", "digits_rows")
SCHEDULES = ("sync", "random", "momentum", "fifo")
MODES = ("step", "timed")
#: Test group sizes F of the step model (None: unlimited, every queued entry per forward step).
TEST_GROUP_SIZES: tuple[int | None, ...] = (1, 2, 4, 8, 16, 64, None)
#: Learning rate per dataset when :attr:`StudyConfig.lr` is None. With the cosine decay over a short run,
#: these reach higher test accuracy in 8-10 epochs than SPEC section 7's 2e-3 in 30 (measured, sync, seed 0:
#: digits 93% after 10 epochs at 5e-3 vs 90% after 30 at 2e-3; digits_rows 77% at 1e-2 vs 69%).
DATASET_LR = {"digits": 5e-3, "digits_rows": 1e-2}
#: The numeric fields of a record (``neuroemu.reporting.summarize``) that the study aggregates.
METRICS = (
    "accuracy",
    "spikes",
    "spike_density",
    "synops",
    "neuron_updates",
    "forward_steps",
    "spikes_to_first_output",
    "spikes_to_correct_output",
    "time_to_first_output_ns",
    "time_to_decision_ns",
    "energy_pj.total",
    "energy_pj.synaptic",
    "energy_pj.neuron_update",
    "energy_pj.static",
)
#: Keys that identify one aggregated cell (one evaluation of one training regime, over seeds).
CELL_KEYS = ("dataset", "regime", "train_schedule", "train_group_size", "mode", "schedule", "group_size")
RESULTS_FILES = ("records.json", "records.csv", "summary.csv", "tables.md", "study.json")


# ------------------------------------------------------------------------------------------------------
# configuration
# ------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Regime:
    """A training regime: the schedule a model is trained in and its group size.

    ``Regime("sync")`` is layer-synchronous BPTT; ``Regime("momentum", 4)`` trains inside the momentum
    schedule emitting 4 queued entries per forward step (``None``: all of them).
    """

    schedule: str
    group_size: int | None = None

    def __post_init__(self) -> None:
        choice(self.schedule, "regime schedule", SCHEDULES)
        positive_int(self.group_size, "regime group_size", allow_none=True)
        if self.schedule == "sync" and self.group_size is not None:
            raise ConfigError(f"regime sync takes no group size, got group_size={self.group_size}")

    @property
    def label(self) -> str:
        """``"sync"``, ``"momentum F=4"``, ``"random F=all"``."""
        if self.schedule == "sync":
            return "sync"
        return f"{self.schedule} F={'all' if self.group_size is None else self.group_size}"

    @property
    def slug(self) -> str:
        """The label as a file-name part: ``"sync"``, ``"momentum-f4"``."""
        if self.schedule == "sync":
            return "sync"
        return f"{self.schedule}-f{'all' if self.group_size is None else self.group_size}"

    @classmethod
    def parse(cls, text: str) -> Regime:
        """``"sync"``, ``"momentum:4"``, ``"random:16"``, ``"fifo:all"`` (also ``"momentum F=4"``)."""
        cleaned = text.strip().replace(" F=", ":").replace("=", ":")
        name, _, group = cleaned.partition(":")
        name = name.strip()
        if not group:
            return cls(name, None)
        if group.strip() in ("all", "none", "None"):
            return cls(name, None)
        try:
            return cls(name, int(group))
        except ValueError:
            raise ConfigError(f"regime {text!r}: expected SCHEDULE or SCHEDULE:F, e.g. momentum:4") from None


DEFAULT_REGIMES = (
    Regime("sync"),
    Regime("momentum", 4),
    Regime("momentum", 16),
    Regime("random", 4),
    Regime("random", 16),
)


@dataclass
class StudyConfig:
    """What :func:`run_study` trains and evaluates.

    The defaults are the default study, sized for about 30 minutes on 2 CPU cores (docs/study.md);
    :meth:`quick` is a smoke run of seconds and :meth:`full` the larger variant for a bigger machine.

    Attributes
    ----------
    datasets : tuple of str
        Built-in datasets (:data:`DATASETS`).
    regimes : tuple of Regime
        Training regimes; the first ``Regime("sync")`` is the reference the others are compared with.
    seeds : tuple of int
        Seeds of the training runs (initial weights, batch order, the random schedule's stream); the
        evaluation's random schedule uses the model's seed too.
    epochs : int
        Training epochs (Adam, cosine decay over all of them).
    lr : float or None
        Adam's initial learning rate; None: :data:`DATASET_LR` (tuned for short runs: 5e-3 for digits,
        1e-2 for digits_rows; SPEC section 7's 2e-3 is meant for 30 epochs).
    train_limit : int or None
        Train on the first ``train_limit`` training samples only (smoke runs).
    test_group_sizes : tuple of int or None
        Group sizes F of the step-model evaluations (None: unlimited).
    schedules : tuple of str
        Evaluation schedules; ``"sync"`` must be one of them.
    modes : tuple of str
        ``"step"`` and/or ``"timed"``.
    hardware : str
        Hardware profile for energy (both modes) and the timed model.
    samples : int or None
        Test samples per evaluation (the first ones of the test split; None: all 360).
    threads : int or None
        Engine threads per evaluation (None: all cores, or 1 per worker when ``workers > 1``).
    train_threads : int or None
        PyTorch threads per training (None: PyTorch's default). 1, the default, is the fastest for these
        small networks: measured, a batch of momentum F=4 training costs about 10x the CPU time with 2
        threads on 2 busy cores.
    workers : int
        Models trained and evaluated in parallel processes (1: in this process).
    device : str or None
        PyTorch device for training (None: CUDA when available, else CPU).
    out : str
        Output folder: cached models, records, tables, and (unless ``page`` is given) the results page.
    page : str or None
        Where to write the results page (its figures go to ``figures/`` beside it); None:
        ``<out>/results.md``; ``""``: no page.
    name : str
        The variant's name, shown on the page.
    """

    datasets: tuple[str, ...] = DATASETS
    regimes: tuple[Regime, ...] = DEFAULT_REGIMES
    seeds: tuple[int, ...] = (0, 1, 2)
    epochs: int = 8
    lr: float | None = None
    train_limit: int | None = None
    test_group_sizes: tuple[int | None, ...] = TEST_GROUP_SIZES
    schedules: tuple[str, ...] = SCHEDULES
    modes: tuple[str, ...] = MODES
    hardware: str = "loihi"
    samples: int | None = None
    threads: int | None = None
    train_threads: int | None = 1
    workers: int = 2
    device: str | None = None
    out: str = "neuroemu-study"
    page: str | None = None
    name: str = "default"

    @classmethod
    def quick(cls, **overrides: Any) -> StudyConfig:
        """A smoke run (seconds): digits and digits_rows, sync and momentum F=4, 2 seeds, 1 epoch on 64
        training samples, 16 test samples, test F in {1, 4, all}."""
        values: dict[str, Any] = dict(
            regimes=(Regime("sync"), Regime("momentum", 4)), seeds=(0, 1), epochs=1, train_limit=64,
            test_group_sizes=(1, 4, None), samples=16, workers=1, name="quick", out="neuroemu-study-quick",
        )
        values.update(overrides)
        return cls(**values).check()

    @classmethod
    def default(cls, **overrides: Any) -> StudyConfig:
        """The default study (about 30 minutes on 2 CPU cores; docs/study.md)."""
        return cls(**overrides).check()

    @classmethod
    def full(cls, **overrides: Any) -> StudyConfig:
        """The larger variant: 30 epochs (as SPEC section 7), 5 seeds, momentum and random at F in
        {4, 8, 16}, one worker per core: about 7x the default's CPU time (docs/study.md), meant for a
        machine with more cores."""
        regimes = (Regime("sync"),) + tuple(Regime(s, f) for s in ("momentum", "random") for f in (4, 8, 16))
        values: dict[str, Any] = dict(
            regimes=regimes, seeds=(0, 1, 2, 3, 4), epochs=30, workers=max(1, _available_cores()), name="full",
            out="neuroemu-study-full",
        )
        values.update(overrides)
        return cls(**values).check()

    def check(self) -> StudyConfig:
        """Validates and normalises the fields (tuples, known names); returns self."""
        self.datasets = tuple(choice(d, "datasets", DATASETS) for d in _seq(self.datasets, "datasets"))
        regimes = []
        for r in _seq(self.regimes, "regimes"):
            regimes.append(Regime.parse(r) if isinstance(r, str) else r)
            if not isinstance(regimes[-1], Regime):
                raise NeuroemuTypeError(f"regimes must hold Regime objects or strings, got {type(r).__name__}")
        if Regime("sync") not in regimes:
            raise ConfigError("regimes must include Regime('sync'), the reference the others are compared with")
        regimes.sort(key=lambda r: r != Regime("sync"))
        self.regimes = tuple(dict.fromkeys(regimes))
        self.seeds = tuple(dict.fromkeys(non_negative_int(s, "seeds") for s in _seq(self.seeds, "seeds")))
        self.epochs = non_negative_int(self.epochs, "epochs")
        if self.lr is not None and not (isinstance(self.lr, (int, float)) and math.isfinite(self.lr) and self.lr > 0):
            raise ConfigError(f"lr must be a positive number or None, got {self.lr!r}")
        self.train_limit = positive_int(self.train_limit, "train_limit", allow_none=True)
        self.test_group_sizes = tuple(
            dict.fromkeys(positive_int(f, "test_group_sizes", allow_none=True) for f in
                          _seq(self.test_group_sizes, "test_group_sizes"))
        )
        self.schedules = tuple(dict.fromkeys(choice(s, "schedules", SCHEDULES) for s in _seq(self.schedules,
                                                                                                "schedules")))
        if "sync" not in self.schedules:
            raise ConfigError("schedules must include 'sync': every model is also evaluated layer-synchronously")
        self.modes = tuple(dict.fromkeys(choice(m, "modes", MODES) for m in _seq(self.modes, "modes")))
        for name in ("datasets", "seeds", "test_group_sizes", "modes"):
            if not getattr(self, name):
                raise ConfigError(f"{name} must not be empty")
        if not isinstance(self.hardware, str):
            raise NeuroemuTypeError(
                f"hardware must be a profile name or a TOML path, got {type(self.hardware).__name__}"
            )
        self.samples = positive_int(self.samples, "samples", allow_none=True)
        self.threads = positive_int(self.threads, "threads", allow_none=True)
        self.train_threads = positive_int(self.train_threads, "train_threads", allow_none=True)
        self.workers = int(positive_int(self.workers, "workers") or 1)
        self.out = os.fspath(self.out)
        return self

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {f.name: getattr(self, f.name) for f in fields(self)}
        out["regimes"] = [r.label for r in self.regimes]
        for key in ("datasets", "seeds", "test_group_sizes", "schedules", "modes"):
            out[key] = list(out[key])
        return out

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> StudyConfig:
        known = {f.name for f in fields(cls)}
        values = {k: v for k, v in data.items() if k in known}
        values["regimes"] = tuple(Regime.parse(r) for r in values.get("regimes", ()))
        return cls(**values).check()

    def model_stem(self, dataset: str, regime: Regime, seed: int) -> str:
        """File name (without ``.npz``) of a cached model: everything that determines its training."""
        limit = "" if self.train_limit is None else f"-n{self.train_limit}"
        return f"{dataset}-{regime.slug}-e{self.epochs}-lr{self.learning_rate(dataset):g}-s{seed}{limit}"

    def learning_rate(self, dataset: str) -> float:
        """The learning rate used for ``dataset``."""
        return float(self.lr) if self.lr is not None else DATASET_LR[dataset]

    @property
    def page_path(self) -> Path | None:
        if self.page == "":
            return None
        return Path(self.page) if self.page is not None else Path(self.out) / "results.md"


def _seq(value: Any, name: str) -> tuple[Any, ...]:
    if isinstance(value, (str, bytes)) or not isinstance(value, Iterable):
        raise NeuroemuTypeError(f"{name} must be a sequence, got {type(value).__name__}")
    return tuple(value)


def _available_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


# ------------------------------------------------------------------------------------------------------
# result
# ------------------------------------------------------------------------------------------------------
@dataclass
class StudyResult:
    """What :func:`run_study` returns (and :func:`load_study` reads back).

    Attributes
    ----------
    config : StudyConfig
    records : list of dict
        One per model and evaluation: the fields of ``neuroemu.reporting.summarize`` plus ``regime``,
        ``train_schedule``, ``train_group_size``, ``seed``, ``epochs``. ``group_size`` is the test F
        (None: unlimited in step mode; always None in timed mode).
    models : dict of str to Path
        Model file of each trained model (key: :meth:`StudyConfig.model_stem`).
    trained : list of str
        Models trained by this run (the others came from the cache).
    timings : dict
        ``wall_s`` (this run), ``train_s`` (training time of every model, summed, whether trained now
        or earlier), ``eval_s`` (evaluation time, summed), ``cpu_s`` (CPU time of this run's work, all
        processes), ``per_model`` (stem to train/eval seconds), ``runs`` (a log of every run in the folder).
    machine : dict
        Processor, cores, load average, versions, engine build type.
    """

    config: StudyConfig
    records: list[dict[str, Any]]
    models: dict[str, Path] = field(default_factory=dict)
    trained: list[str] = field(default_factory=list)
    timings: dict[str, Any] = field(default_factory=dict)
    machine: dict[str, Any] = field(default_factory=dict)

    def summary(self) -> list[dict[str, Any]]:
        """The records aggregated over seeds (see :func:`aggregate`)."""
        return aggregate(self.records)


def get_metric(record: dict[str, Any], key: str) -> float | None:
    """A record's value by key; ``"energy_pj.total"`` reaches into the nested breakdown."""
    value: Any = record
    for part in key.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    if value is None:
        return None
    value = float(value)
    return None if math.isnan(value) else value


def mean_std(values: Sequence[float | None]) -> tuple[float | None, float | None, int]:
    """Mean, sample standard deviation (ddof=1; None for a single value) and count of the non-None values."""
    present = np.array([v for v in values if v is not None], dtype=np.float64)
    if present.size == 0:
        return None, None, 0
    std = float(present.std(ddof=1)) if present.size > 1 else None
    return float(present.mean()), std, int(present.size)


def aggregate(records: Sequence[dict[str, Any]], metrics: Sequence[str] = METRICS) -> list[dict[str, Any]]:
    """Mean and spread over seeds of every evaluation.

    Records are grouped by :data:`CELL_KEYS` (dataset, training regime, mode, schedule, test F). Each
    output row has those keys, ``seeds`` (how many records), and per metric ``m`` its mean ``m``, its
    sample standard deviation over seeds ``m_std`` (ddof=1; None with one seed) and ``m_n``, the
    number of seeds where it was defined (e.g. spikes to the correct output needs a correct output).
    Rows keep the order in which their cells first appear.
    """
    groups: dict[tuple[Any, ...], list[dict[str, Any]]] = {}
    for record in records:
        groups.setdefault(tuple(record.get(k) for k in CELL_KEYS), []).append(record)
    rows = []
    for key, members in groups.items():
        row: dict[str, Any] = dict(zip(CELL_KEYS, key))
        row["seeds"] = len(members)
        for metric in metrics:
            mean, std, n = mean_std([get_metric(m, metric) for m in members])
            row[metric], row[f"{metric}_std"], row[f"{metric}_n"] = mean, std, n
        rows.append(row)
    return rows


# ------------------------------------------------------------------------------------------------------
# one model: train (or take from the cache), then evaluate
# ------------------------------------------------------------------------------------------------------
def _test_data(dataset: str, samples: int | None) -> tuple[np.ndarray, np.ndarray]:
    """The test split exactly as :func:`neuroemu.training.train` evaluates it (its built-in datasets)."""
    from . import datasets  # noqa: PLC0415

    if dataset == "digits":
        data = datasets.digits(encoding="rate", bins=10, seed=0, split="test")
    else:
        data = datasets.digits_rows(split="test", seed=0)
    frames = np.asarray(data.frames, dtype=np.float64)
    labels = np.asarray(data.labels, dtype=np.int64)
    if samples is not None:
        frames, labels = frames[:samples], labels[:samples]
    return frames, labels


def _evaluations(config: StudyConfig) -> list[tuple[str, str, int | None]]:
    """(mode, schedule, F) of every evaluation of one model."""
    runs: list[tuple[str, str, int | None]] = []
    for mode in config.modes:
        for schedule in config.schedules:
            if mode == "timed" or schedule == "sync":
                runs.append((mode, schedule, None))
            else:
                runs.extend((mode, schedule, f) for f in config.test_group_sizes)
    return runs


def _train(task: dict[str, Any], path: Path) -> float:
    from . import training  # noqa: PLC0415

    torch = training._torch()
    previous = torch.get_num_threads()
    if task["train_threads"] is not None:
        torch.set_num_threads(task["train_threads"])
    try:
        return _train_model(task, path, training)
    finally:
        torch.set_num_threads(previous)


def _train_model(task: dict[str, Any], path: Path, training: Any) -> float:
    checkpoint = path.with_name(path.stem + ".ckpt.pt")
    result = training.train(
        dataset=task["dataset"], schedule=task["schedule"], group_size=task["group_size"], epochs=task["epochs"],
        lr=task["lr"], seed=task["seed"], limit=task["train_limit"], device=task["device"], checkpoint=checkpoint,
        resume=True, progress=False, evaluate_schedules=[],
    )
    seconds = float(sum(h["seconds"] for h in result.history))
    dt = result.network.dt if result.network is not None else 1e-3
    training.save_model(result.model.cpu(), path, dt=dt, config=result.config,
                        metrics={"history": result.history, "train_seconds": seconds})
    checkpoint.unlink(missing_ok=True)
    return seconds


def _check_cached(task: dict[str, Any], path: Path) -> float:
    """The cached model's training seconds, after checking it is the model this task asks for."""
    from .training import model_info  # noqa: PLC0415

    info = model_info(path)
    saved = info["config"]
    for key, want in (("dataset", task["dataset"]), ("schedule", task["schedule"]),
                      ("group_size", task["group_size"]), ("epochs", task["epochs"]), ("seed", task["seed"]),
                      ("lr", task["lr"]), ("limit", task["train_limit"])):
        if saved.get(key) != want:
            raise ConfigError(f"cached model {path} was trained with {key}={saved.get(key)!r}, the study asks for "
                              f"{key}={want!r}; delete the file or use another output folder")
    metrics = info["metrics"]
    if "train_seconds" in metrics:
        return float(metrics["train_seconds"])
    return float(sum(h.get("seconds", 0.0) for h in metrics.get("history", [])))


def _model_task(task: dict[str, Any]) -> dict[str, Any]:
    """Trains (unless cached) and evaluates one model; runs in a worker process or inline."""
    from .deploy import deploy  # noqa: PLC0415
    from .emulator import Emulator  # noqa: PLC0415
    from .reporting import summarize  # noqa: PLC0415
    from .training import load_model  # noqa: PLC0415

    path = Path(task["path"])
    trained = not path.exists()
    cpu0 = time.process_time()
    train_s = _train(task, path) if trained else _check_cached(task, path)
    cpu1 = time.process_time()
    t0 = time.perf_counter()
    network = load_model(path)
    frames, labels = _test_data(task["dataset"], task["samples"])
    deployment = deploy(network, _hardware(task["hardware"]))
    records = []
    for mode, schedule, group in task["evaluations"]:
        emulator = Emulator(network, schedule=schedule, group_size=group, seed=task["seed"], mode=mode,
                            hardware=deployment, record="counts")
        batch = emulator.run_batch(frames, labels, threads=task["threads"])
        record = summarize(batch, emulator, model=task["stem"], dataset=task["dataset"])
        record.update(regime=task["regime"], train_schedule=task["schedule"], train_group_size=task["group_size"],
                      seed=task["seed"], epochs=task["epochs"], lr=task["lr"])
        records.append(record)
    return {"stem": task["stem"], "trained": trained, "train_s": train_s, "eval_s": time.perf_counter() - t0,
            "train_cpu_s": cpu1 - cpu0 if trained else None, "eval_cpu_s": time.process_time() - cpu1,
            "records": records}


def _hardware(name: str) -> Any:
    from .hardware import Hardware  # noqa: PLC0415

    path = Path(name)
    return Hardware.from_toml(path) if path.suffix == ".toml" or path.is_file() else Hardware.preset(name)


def _init_worker(torch_threads: int) -> None:
    try:
        import torch  # noqa: PLC0415

        torch.set_num_threads(torch_threads)
    except ImportError:  # pragma: no cover - training then fails with MissingDependencyError
        pass


def _cost(task: dict[str, Any]) -> float:
    """Rough relative cost, to start the longest trainings first."""
    if Path(task["path"]).exists():
        return 0.0
    per_step = {"sync": 1.0, "fifo": 8.0, "momentum": 8.0, "random": 10.0}[task["schedule"]]
    group = task["group_size"] or 64
    return per_step * (4.0 / min(group, 4) if group < 4 else 4.0 / math.sqrt(group / 4)) * (
        1.5 if task["dataset"] == "digits_rows" else 1.0)


# ------------------------------------------------------------------------------------------------------
# the study
# ------------------------------------------------------------------------------------------------------
def machine_info() -> dict[str, Any]:
    """Processor, cores, load, and the versions that matter for the numbers."""
    from . import __version__, _core  # noqa: PLC0415

    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            cpu = next((line.split(":", 1)[1].strip() for line in f if line.startswith("model name")), cpu)
    except OSError:
        pass
    try:
        import torch  # noqa: PLC0415

        torch_version: str | None = torch.__version__
        gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else None
    except ImportError:
        torch_version, gpu = None, None
    core_path = str(getattr(_core, "__file__", ""))
    return {
        "cpu": cpu,
        "cores": _available_cores(),
        "load_average": list(os.getloadavg()) if hasattr(os, "getloadavg") else None,
        "gpu": gpu,
        "platform": platform.platform(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "torch": torch_version,
        "neuroemu": __version__,
        "engine_build": "Debug" if "debug" in core_path.lower() else "Release",
    }


def _tasks(config: StudyConfig, models_dir: Path) -> list[dict[str, Any]]:
    evaluations = _evaluations(config)
    workers = config.workers
    threads = config.threads if config.threads is not None else (1 if workers > 1 else None)
    tasks = []
    for dataset in config.datasets:
        for regime in config.regimes:
            for seed in config.seeds:
                stem = config.model_stem(dataset, regime, seed)
                tasks.append({
                    "stem": stem, "path": os.fspath(models_dir / f"{stem}.npz"), "dataset": dataset,
                    "regime": regime.label, "schedule": regime.schedule, "group_size": regime.group_size,
                    "seed": seed, "epochs": config.epochs, "lr": config.learning_rate(dataset),
                    "train_limit": config.train_limit,
                    "device": config.device, "samples": config.samples, "hardware": config.hardware,
                    "threads": threads, "train_threads": config.train_threads, "evaluations": evaluations,
                })
    return tasks


def run_study(
    config: StudyConfig | None = None,
    *,
    progress: bool | Callable[[str], None] = True,
) -> StudyResult:
    """Trains (or takes from the cache) every model of the study, evaluates each, writes the results.

    Parameters
    ----------
    config : StudyConfig, optional
        Default: :meth:`StudyConfig.default`.
    progress : bool or callable
        Print one line per finished model to stderr (True), nothing (False), or pass each line to a
        callable.

    Returns
    -------
    StudyResult
        Also written to ``config.out``: ``records.json`` / ``records.csv`` (every evaluation),
        ``summary.csv`` (mean and std over seeds), ``tables.md``, ``study.json`` (config, timings,
        machine), the models under ``models/``, and the results page (``config.page_path``).
    """
    config = (config or StudyConfig()).check()
    say = _progress_function(progress)
    out = Path(config.out)
    models_dir = out / "models"
    models_dir.mkdir(parents=True, exist_ok=True)
    machine = machine_info()
    tasks = _tasks(config, models_dir)
    order = {t["stem"]: i for i, t in enumerate(tasks)}
    cached = sum(Path(t["path"]).exists() for t in tasks)
    say(f"study '{config.name}': {len(tasks)} models ({cached} cached), {len(_evaluations(config))} evaluations "
        f"each on {config.samples or 'all'} test samples, {config.workers} worker(s); output {out}")
    t0 = time.perf_counter()
    started = time.strftime("%Y-%m-%d %H:%M")
    results: list[dict[str, Any]] = []
    todo = sorted(tasks, key=_cost, reverse=True)

    def done(result: dict[str, Any]) -> None:
        results.append(result)
        how = f"trained in {result['train_s']:.0f} s" if result["trained"] else "cached"
        say(f"[{len(results)}/{len(tasks)}] {result['stem']}: {how}, evaluated in {result['eval_s']:.0f} s "
            f"({time.perf_counter() - t0:.0f} s elapsed)")

    if config.workers == 1:
        for task in todo:
            done(_model_task(task))
    else:
        torch_threads = config.train_threads or max(1, _available_cores() // config.workers)
        context = multiprocessing.get_context("spawn")
        with cf.ProcessPoolExecutor(config.workers, mp_context=context, initializer=_init_worker,
                                    initargs=(torch_threads,)) as pool:
            futures = [pool.submit(_model_task, task) for task in todo]
            try:
                for future in cf.as_completed(futures):
                    done(future.result())
            except BaseException:
                for future in futures:
                    future.cancel()
                raise
    wall = time.perf_counter() - t0
    results.sort(key=lambda r: order[r["stem"]])
    trained_now = len([r for r in results if r["trained"]])
    cpu_s = float(sum((r["train_cpu_s"] or 0.0) + r["eval_cpu_s"] for r in results))
    runs = _previous_runs(out) + [{"started": started, "wall_s": wall, "cpu_s": cpu_s, "trained_now": trained_now,
                                   "models": len(tasks), "workers": config.workers,
                                   "load_average": machine.get("load_average")}]
    records = [record for r in results for record in r["records"]]
    result = StudyResult(
        config=config,
        records=records,
        models={t["stem"]: Path(t["path"]) for t in tasks},
        trained=[r["stem"] for r in results if r["trained"]],
        timings={
            "wall_s": wall,
            "train_s": float(sum(r["train_s"] for r in results)),
            "eval_s": float(sum(r["eval_s"] for r in results)),
            "trained_now": trained_now,
            "runs": runs,
            "cpu_s": cpu_s,
            "per_model": {r["stem"]: {"train_s": r["train_s"], "eval_s": r["eval_s"], "train_cpu_s": r["train_cpu_s"],
                                      "eval_cpu_s": r["eval_cpu_s"], "trained_now": r["trained"]}
                          for r in results},
        },
        machine=machine,
    )
    write_outputs(result)
    page = config.page_path
    if page is not None:
        from .study_report import write_results_page  # noqa: PLC0415

        write_results_page(result, page)
        say(f"results page: {page}")
    return result


def _previous_runs(out: Path) -> list[dict[str, Any]]:
    """The run log of an earlier study in the same folder (kept so a re-run still states the full runtime)."""
    try:
        meta = json.loads((out / "study.json").read_text(encoding="utf-8"))
        return list(meta.get("timings", {}).get("runs", []))
    except (OSError, ValueError):
        return []


def _progress_function(progress: bool | Callable[[str], None]) -> Callable[[str], None]:
    if callable(progress):
        return progress
    if progress:
        return lambda line: print(line, file=sys.stderr, flush=True)
    return lambda line: None


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, Path):
        return os.fspath(value)
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (np.floating,)):
        return float(value)
    return value


def write_outputs(result: StudyResult) -> list[Path]:
    """Writes records (JSON, CSV), the summary over seeds (CSV), markdown tables and ``study.json`` to
    ``result.config.out``; returns the paths."""
    from .reporting import write_csv, write_json  # noqa: PLC0415
    from .study_report import markdown_tables  # noqa: PLC0415

    out = Path(result.config.out)
    out.mkdir(parents=True, exist_ok=True)
    write_json(out / "records.json", result.records)
    write_csv(out / "records.csv", result.records)
    write_csv(out / "summary.csv", result.summary())
    (out / "tables.md").write_text(markdown_tables(result), encoding="utf-8")
    meta = {
        "config": result.config.to_json(),
        "models": {k: os.fspath(v) for k, v in result.models.items()},
        "trained": result.trained,
        "timings": result.timings,
        "machine": result.machine,
    }
    (out / "study.json").write_text(json.dumps(_jsonable(meta), indent=2) + "\n", encoding="utf-8")
    return [out / name for name in RESULTS_FILES]


def load_study(out: str | os.PathLike[str]) -> StudyResult:
    """Reads the results a previous :func:`run_study` wrote to the folder ``out`` (no re-evaluation)."""
    folder = Path(out)
    try:
        meta = json.loads((folder / "study.json").read_text(encoding="utf-8"))
        records = json.loads((folder / "records.json").read_text(encoding="utf-8"))["results"]
    except FileNotFoundError as exc:
        raise ConfigError(f"{folder} holds no study results (missing {Path(exc.filename).name}); run the study "
                          "first") from None
    config = StudyConfig.from_json(meta["config"])
    config.out = os.fspath(folder)
    return StudyResult(
        config=config, records=records, models={k: Path(v) for k, v in meta.get("models", {}).items()},
        trained=list(meta.get("trained", [])), timings=meta.get("timings", {}), machine=meta.get("machine", {}),
    )


# ------------------------------------------------------------------------------------------------------
# command line (argparse; the click command in cli.py offers the same options)
# ------------------------------------------------------------------------------------------------------
def config_from_options(
    *,
    variant: str = "default",
    out: str | None = None,
    page: str | None = None,
    seeds: int | None = None,
    epochs: int | None = None,
    lr: float | None = None,
    samples: int | None = None,
    workers: int | None = None,
    threads: int | None = None,
    datasets: Sequence[str] | None = None,
    regimes: Sequence[str] | None = None,
    device: str | None = None,
    hardware: str | None = None,
) -> StudyConfig:
    """A :class:`StudyConfig` from command-line options (None: the variant's value)."""
    overrides: dict[str, Any] = {}
    if out is not None:
        overrides["out"] = out
    if page is not None:
        overrides["page"] = page
    if seeds is not None:
        overrides["seeds"] = tuple(range(int(positive_int(seeds, "seeds") or 1)))
    for name, value in (("epochs", epochs), ("lr", lr), ("samples", samples), ("workers", workers),
                        ("threads", threads), ("device", device), ("hardware", hardware)):
        if value is not None:
            overrides[name] = value
    if datasets:
        overrides["datasets"] = tuple(d.replace("-", "_") for d in datasets)
    if regimes:
        overrides["regimes"] = tuple(Regime.parse(r) for r in regimes)
    factory = {"quick": StudyConfig.quick, "default": StudyConfig.default, "full": StudyConfig.full}[variant]
    return factory(**overrides)


def _parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(
        prog="neuroemu study",
        description="Train layer-synchronous and asynchronous-aware models on the built-in datasets and "
        "evaluate them under every schedule and group size (docs/study.md).",
    )
    size = ap.add_mutually_exclusive_group()
    size.add_argument("--quick", action="store_const", dest="variant", const="quick", help="smoke run (seconds)")
    size.add_argument("--full", action="store_const", dest="variant", const="full",
                      help="30 epochs, 5 seeds, F in {4, 8, 16} (a bigger machine or a GPU)")
    ap.set_defaults(variant="default")
    ap.add_argument("--out", default=None, help="output folder (cached models, records); default neuroemu-study "
                    "(-quick, -full)")
    ap.add_argument("--page", default=None, help="results page to write (default OUT/results.md; '' for none)")
    ap.add_argument("--seeds", type=int, default=None, help="number of seeds (0..N-1)")
    ap.add_argument("--epochs", type=int, default=None)
    ap.add_argument("--lr", type=float, default=None, help="learning rate (default per dataset, docs/study.md)")
    ap.add_argument("--samples", type=int, default=None, help="test samples per evaluation (default all)")
    ap.add_argument("--workers", type=int, default=None, help="models in parallel processes")
    ap.add_argument("--threads", type=int, default=None, help="engine threads per evaluation")
    ap.add_argument("--dataset", action="append", default=None, choices=("digits", "digits_rows", "digits-rows"))
    ap.add_argument("--regime", action="append", default=None, help="sync, momentum:4, random:16 ... (repeat)")
    ap.add_argument("--device", default=None, help="training device (default cuda when available)")
    ap.add_argument("--hardware", default=None, help="profile for energy and the timed model (default loihi)")
    ap.add_argument("--report-only", action="store_true", help="rewrite tables and page from OUT's records")
    return ap


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m neuroemu.study`` / ``benchmarks/study.py``: the study from the command line."""
    args = _parser().parse_args(list(argv) if argv is not None else None)
    try:
        if args.report_only:
            report_only(args.out or "neuroemu-study", args.page)
            return 0
        config = config_from_options(
            variant=args.variant, out=args.out, page=args.page, seeds=args.seeds, epochs=args.epochs, lr=args.lr,
            samples=args.samples, workers=args.workers, threads=args.threads, datasets=args.dataset,
            regimes=args.regime, device=args.device, hardware=args.hardware,
        )
        result = run_study(config)
    except (ConfigError, NeuroemuTypeError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"{len(result.records)} evaluations of {len(result.models)} models in {result.timings['wall_s']:.0f} s; "
          f"results in {result.config.out}")
    return 0


def report_only(out: str, page: str | None = None) -> StudyResult:
    """Rewrites the tables and the results page from the records in ``out`` (no training, no runs)."""
    result = load_study(out)
    if page is not None:
        result.config.page = page
    write_outputs(result)
    path = result.config.page_path
    if path is not None:
        from .study_report import write_results_page  # noqa: PLC0415

        write_results_page(result, path)
    return result


if __name__ == "__main__":
    sys.exit(main())
