"""Evaluation sweeps: a grid of models x schedules x group sizes x modes x hardware profiles over a dataset
split into shards, run serially, on a local process pool or on a dask.distributed cluster (docs/sweep.md).

A *task* is one grid point on one shard of the dataset. It runs ``Emulator.run_batch`` with
``first_index`` = the shard's offset, so the random schedule draws the same per-sample streams as one
serial run over the whole dataset; the gathered result of a grid point is bit-identical to that run.
Each finished task is kept in the output directory (one ``.npz`` file, written atomically by the process
that started the sweep; workers return results and need no shared disk), so a rerun skips it.
"""

from __future__ import annotations

import hashlib
import importlib
import itertools
import json
import multiprocessing
import os
import signal
import tempfile
import uuid
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import asdict, dataclass, field, fields, is_dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from ._validation import choice, non_negative_int, positive_int
from .emulator import MODES, SCHEDULES, Emulator, _available_cores
from .energy import HardwareCounters
from .errors import (
    ConfigError,
    InputError,
    MissingDependencyError,
    NeuroemuError,
    NeuroemuTypeError,
    SweepError,
)
from .hardware import Hardware
from .network import Network
from .reporting import format_table, summarize, write_csv, write_json
from .result import BatchResult, TimedData

__all__ = ["Grid", "GridPoint", "Task", "Plan", "SweepResult", "SWEEP_COLUMNS", "plan", "sweep", "EXECUTORS"]

EXECUTORS = ("processes", "serial")
TASK_FORMAT = 1
#: Set to a folder to make tasks log each execution there and obey fault markers (tests; docs/sweep.md).
FAULTS_ENV = "NEUROEMU_SWEEP_FAULTS"

SWEEP_COLUMNS = [
    ("model", "model", ""),
    ("schedule", "schedule", ""),
    ("group_size", "F", ""),
    ("mode", "mode", ""),
    ("hardware", "hardware", ""),
    ("samples", "samples", ""),
    ("accuracy", "accuracy", "%"),
    ("spikes", "spikes", ".1f"),
    ("forward_steps", "fwd steps", ".1f"),
    ("spikes_to_correct_output", "spikes->correct", ".1f"),
    ("time_to_decision_ns", "decision (ns)", ".0f"),
    ("energy_pj.total", "energy (pJ)", ".0f"),
]

_GRID_KEYS = ("models", "schedules", "group_sizes", "modes", "hardware", "dataset", "samples", "shard_size",
              "seed", "keep_spike_counts", "dt", "out")
_DATASET_LOADERS = ("digits", "digits-rows", "digits_rows", "nmnist", "shd", "dvs_gesture", "npz")
_ALL = ("all", "none", "None")


# -- the grid -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class GridPoint:
    """One evaluation of a sweep: a model (its label) under one schedule, group size, mode and profile."""

    model: str
    schedule: str
    group_size: int | None
    mode: str
    hardware: str | None

    def __str__(self) -> str:
        f = "all" if self.group_size is None else self.group_size
        return f"model={self.model} schedule={self.schedule} F={f} mode={self.mode} hardware={self.hardware}"


def _listed(value: Any, name: str) -> list[Any]:
    if isinstance(value, (str, Network, Hardware)) or value is None or not isinstance(value, Iterable):
        return [value]
    items = list(value)
    if not items:
        raise ConfigError(f"{name} must not be empty")
    return items


def _unique(items: Sequence[Any], name: str) -> tuple[Any, ...]:
    seen: list[Any] = []
    for item in items:
        if any(item is s or (not isinstance(item, (Network, Hardware)) and item == s) for s in seen):
            raise ConfigError(f"{name} lists {item!r} twice")
        seen.append(item)
    return tuple(items)


def _resolve(path: str, base: Path | None) -> str:
    return path if base is None or Path(path).is_absolute() else str(base / path)


@dataclass(frozen=True)
class Grid:
    """What a sweep evaluates: every combination of models, modes, hardware, schedules and group sizes.

    Build it with :meth:`from_dict` or :meth:`from_toml` (docs/sweep.md); the fields hold normalised values.

    Parameters
    ----------
    models : tuple of (label, source)
        ``source`` is a name for :func:`neuroemu.models.load_network` (``pretrained:NAME`` or a file) or a
        :class:`Network`.
    schedules, group_sizes, modes, hardware : tuple
        Group size None is unlimited ("all"); hardware None is no profile, else a preset name, a TOML file
        or a :class:`Hardware`.
    dataset : dict or None
        ``name`` (digits, digits-rows, nmnist, shd, dvs_gesture, npz), ``path`` where the loader needs one,
        and the loader's keyword arguments (``split``, ``seed``, ...). None: pass the dataset to :func:`sweep`.
    samples : int or None
        Use the first ``samples`` samples (None = all).
    shard_size : int
        Samples per task.
    seed : int
        The emulator seed (random schedule).
    keep_spike_counts : bool
        Keep spikes per neuron per bin in the results (off: per-layer totals only, smaller files).
    dt : float or None
        Time step for NIR models (see ``neuroemu run --dt``).
    out : str or None
        Default output folder.
    """

    models: tuple[tuple[str, str | Network], ...]
    schedules: tuple[str, ...] = ("sync",)
    group_sizes: tuple[int | None, ...] = (None,)
    modes: tuple[str, ...] = ("step",)
    hardware: tuple[str | Hardware | None, ...] = (None,)
    dataset: Mapping[str, Any] | None = None
    samples: int | None = None
    shard_size: int = 64
    seed: int = 0
    keep_spike_counts: bool = False
    dt: float | None = None
    out: str | None = None

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, base: str | os.PathLike[str] | None = None) -> Grid:
        """A grid from plain data (the TOML layout of docs/sweep.md); relative paths are taken from ``base``.

        ``models`` is a list of names/files (each its own label) or a mapping label -> name, file or Network;
        ``group_sizes`` entries are integers or ``"all"``/None; ``hardware`` entries are preset names, TOML
        files, Hardware objects or ``"none"``/None. A single value may stand for a list of one.
        """
        if not isinstance(data, Mapping):
            raise NeuroemuTypeError(f"a sweep grid must be a mapping, got {type(data).__name__}")
        unknown = [k for k in data if k not in _GRID_KEYS]
        if unknown:
            raise ConfigError(f"unknown sweep setting {unknown[0]!r}; the settings are {', '.join(_GRID_KEYS)}")
        if "models" not in data:
            raise ConfigError("a sweep grid needs models (a list of pretrained:NAME or model files)")
        root = None if base is None else Path(base)

        def model_source(source: Any, label: str) -> str | Network:
            if isinstance(source, Network):
                return source
            if not isinstance(source, (str, os.PathLike)):
                raise NeuroemuTypeError(f"models[{label!r}] must be a name, a file or a Network")
            text = os.fspath(source)
            return text if text.startswith("pretrained:") else _resolve(text, root)

        raw_models = data["models"]
        if isinstance(raw_models, Mapping):
            if not raw_models:
                raise ConfigError("models must not be empty")
            models = tuple((str(label), model_source(src, str(label))) for label, src in raw_models.items())
        else:
            entries = _listed(raw_models, "models")
            for m in entries:
                if not isinstance(m, (str, os.PathLike)):
                    raise NeuroemuTypeError(
                        f"models entries must be names or files, got {type(m).__name__}; label a Network with "
                        "a mapping {label: network}"
                    )
            models = tuple((os.fspath(m), model_source(m, os.fspath(m))) for m in _unique(entries, "models"))

        schedules = tuple(choice(s, "schedules", SCHEDULES) for s in _unique(_listed(data.get("schedules", "sync"),
                                                                                     "schedules"), "schedules"))
        groups: list[int | None] = []
        for g in _listed(data.get("group_sizes", None), "group_sizes"):
            groups.append(None if g is None or g in _ALL else positive_int(g, "group_sizes"))
        modes = tuple(choice(m, "modes", MODES) for m in _unique(_listed(data.get("modes", "step"), "modes"), "modes"))
        hardware: list[str | Hardware | None] = []
        for h in _listed(data.get("hardware", None), "hardware"):
            if h is None or h in _ALL:
                hardware.append(None)
            elif isinstance(h, Hardware):
                hardware.append(h)
            elif isinstance(h, (str, os.PathLike)):
                text = os.fspath(h)
                hardware.append(_resolve(text, root) if text.endswith(".toml") else text)
            else:
                raise NeuroemuTypeError(f"hardware entries must be names, TOML files or Hardware, got {h!r}")
        dataset = data.get("dataset")
        if dataset is not None:
            if not isinstance(dataset, Mapping):
                raise NeuroemuTypeError("dataset must be a table: name = 'digits', split = 'test', ...")
            dataset = dict(dataset)
            if "path" in dataset:
                dataset["path"] = _resolve(os.fspath(dataset["path"]), root)
        samples = positive_int(data.get("samples"), "samples", allow_none=True)
        shard_size = positive_int(data.get("shard_size", 64), "shard_size")
        keep = data.get("keep_spike_counts", False)
        if not isinstance(keep, bool):
            raise NeuroemuTypeError(f"keep_spike_counts must be true or false, got {keep!r}")
        dt = data.get("dt")
        if dt is not None and (isinstance(dt, bool) or not isinstance(dt, (int, float)) or not dt > 0):
            raise ConfigError(f"dt must be a number > 0, got {dt!r}")
        out = data.get("out")
        if out is not None:
            out = _resolve(os.fspath(out), root)
        assert shard_size is not None
        return cls(
            models=models,
            schedules=schedules,
            group_sizes=_unique(groups, "group_sizes"),
            modes=modes,
            hardware=_unique(hardware, "hardware"),
            dataset=dataset,
            samples=samples,
            shard_size=shard_size,
            seed=non_negative_int(data.get("seed", 0), "seed"),
            keep_spike_counts=keep,
            dt=None if dt is None else float(dt),
            out=out,
        )

    @classmethod
    def from_toml(cls, path: str | os.PathLike[str]) -> Grid:
        """Reads a sweep configuration (docs/sweep.md); relative paths in it are relative to its folder."""
        from ._toml import read_toml

        path = Path(path)
        data = read_toml(path, "sweep configuration")
        try:
            return cls.from_dict(data, base=path.parent)
        except NeuroemuError as exc:
            raise type(exc)(f"{path}: {exc}") from exc


# -- planning -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Task:
    """One grid point (index into ``Plan.points``) on samples ``start:stop``; ``key`` names its result."""

    key: str
    point: int
    start: int
    stop: int


@dataclass
class Plan:
    """The grid expanded: valid points with their emulators, skipped points with the reason, and tasks."""

    points: list[GridPoint]
    emulators: list[Emulator]
    skipped: list[tuple[GridPoint, str]]
    tasks: list[Task]
    frames: np.ndarray = field(repr=False)
    labels: np.ndarray | None = field(repr=False)
    dataset: str
    keep_spike_counts: bool = False


def _digest(value: Any, h: Any) -> None:
    """Feeds the content of arrays, dataclasses and plain values into a hash, deterministically."""
    if isinstance(value, np.ndarray):
        array = np.ascontiguousarray(value)
        h.update(f"array {array.dtype.str} {array.shape}".encode())
        h.update(array.tobytes())
    elif is_dataclass(value) and not isinstance(value, type):
        h.update(type(value).__name__.encode())
        for f in fields(value):
            h.update(f.name.encode())
            _digest(getattr(value, f.name), h)
    elif isinstance(value, (list, tuple)):
        h.update(f"seq {len(value)}".encode())
        for item in value:
            _digest(item, h)
    else:
        h.update(repr(value).encode())


def _network_digest(network: Network) -> str:
    h = hashlib.sha256()
    _digest((network.n_inputs, network.dt, list(network.populations), list(network.projections)), h)
    return h.hexdigest()


def _hardware_profile(entry: str | Hardware) -> Hardware:
    if isinstance(entry, Hardware):
        return entry
    if entry.endswith(".toml") or Path(entry).is_file():
        return Hardware.from_toml(entry)
    return Hardware.preset(entry)


def _load_dataset(spec: Mapping[str, Any]) -> tuple[np.ndarray, np.ndarray | None, str]:
    from . import datasets

    options = dict(spec)
    name = options.pop("name", "npz" if str(options.get("path", "")).endswith(".npz") else None)
    if name not in _DATASET_LOADERS:
        raise ConfigError(f"dataset name must be one of {_DATASET_LOADERS}, got {name!r}")
    if name == "npz":
        path = options.pop("path", None)
        if path is None or options:
            raise ConfigError("an npz dataset takes only path = 'FILE.npz' (arrays 'frames' and optional 'labels')")
        try:
            with np.load(path, allow_pickle=False) as f:
                if "frames" not in f.files:
                    raise ConfigError(f"{path}: an .npz dataset needs an array 'frames' (samples, bins, channels)")
                return np.asarray(f["frames"]), (np.asarray(f["labels"]) if "labels" in f.files else None), \
                    Path(path).name
        except OSError as exc:
            raise ConfigError(f"cannot read dataset {path}: {exc}") from exc
    loader = getattr(datasets, name.replace("-", "_"))
    args = [options.pop("path")] if "path" in options else []
    try:
        data = loader(*args, **options)
    except TypeError as exc:
        raise ConfigError(f"dataset {name!r}: {exc}") from exc
    return np.asarray(data.frames), np.asarray(data.labels), data.name


def _dataset_arrays(dataset: Any, grid: Grid) -> tuple[np.ndarray, np.ndarray | None, str]:
    from .datasets import Dataset

    if dataset is None:
        if grid.dataset is None:
            raise ConfigError("no dataset: give sweep(grid, dataset) or a [dataset] table in the grid")
        frames, labels, name = _load_dataset(grid.dataset)
    elif isinstance(dataset, Dataset):
        frames, labels, name = np.asarray(dataset.frames), np.asarray(dataset.labels), dataset.name
    elif isinstance(dataset, tuple) and len(dataset) == 2:
        frames = np.asarray(dataset[0])
        labels = None if dataset[1] is None else np.asarray(dataset[1])
        name = "arrays"
    else:
        raise NeuroemuTypeError(
            f"dataset must be a neuroemu Dataset, a (frames, labels) tuple or None, got {type(dataset).__name__}"
        )
    if frames.ndim != 3:
        raise ConfigError(f"dataset frames must be shaped (samples, bins, channels), got {frames.shape}")
    if labels is not None and labels.shape != (frames.shape[0],):
        raise ConfigError(f"dataset labels must be shaped ({frames.shape[0]},), got {labels.shape}")
    if grid.samples is not None:
        if grid.samples > frames.shape[0]:
            raise ConfigError(f"samples={grid.samples} but the dataset {name!r} has {frames.shape[0]}")
        frames, labels = frames[: grid.samples], None if labels is None else labels[: grid.samples]
    if frames.shape[0] == 0:
        raise ConfigError(f"the dataset {name!r} has no samples")
    return frames, labels, name


def _check_fits(network: Network, label: str, frames: np.ndarray, labels: np.ndarray | None, name: str) -> None:
    """Mistakes every task would repeat are caught here, before anything is sent to a worker."""
    if frames.shape[2] != network.n_inputs:
        raise InputError(f"model {label!r} has {network.n_inputs} inputs, the dataset {name!r} has "
                         f"{frames.shape[2]} channels")
    if labels is not None:
        if not np.issubdtype(labels.dtype, np.integer):
            raise NeuroemuTypeError(f"dataset labels must be integers, got dtype {labels.dtype}")
        if np.any((labels < 0) | (labels >= network.n_outputs)):
            raise InputError(f"dataset {name!r} has labels outside [0, {network.n_outputs}), the outputs of "
                             f"model {label!r}")


def _why_not(point: GridPoint) -> str | None:
    """Combinations that do not apply (skipped, not errors: a grid is a cartesian product)."""
    if point.mode == "timed":
        if point.group_size is not None:
            return "timed mode has no group size (parallelism is the number of cores)"
        if point.hardware is None:
            return "timed mode needs a hardware profile"
    elif point.schedule == "sync" and point.group_size is not None:
        return "group size applies to asynchronous schedules only"
    return None


def plan(grid: Grid | Mapping[str, Any] | str | os.PathLike[str], dataset: Any = None) -> Plan:
    """Expands a grid: loads models, profiles and the dataset, builds one emulator per valid point, skips the
    combinations that do not apply (with the reason) and names every task by the hash of what it computes.

    Raises ConfigError for names that do not resolve and when no grid point is valid.
    """
    grid = _as_grid(grid)
    from . import __version__
    from .models import load_network

    frames, labels, dataset_name = _dataset_arrays(dataset, grid)
    networks: dict[str, Network] = {}
    for label, src in grid.models:
        try:
            networks[label] = src if isinstance(src, Network) else load_network(src, dt=grid.dt)
        except NeuroemuError as exc:
            raise type(exc)(f"model {label!r}: {exc}") from exc
        _check_fits(networks[label], label, frames, labels, dataset_name)
    profiles = [None if h is None else _hardware_profile(h) for h in grid.hardware]

    shard_digests = []
    for start in range(0, frames.shape[0], grid.shard_size):
        stop = min(start + grid.shard_size, frames.shape[0])
        h = hashlib.sha256()
        _digest((frames[start:stop], None if labels is None else labels[start:stop]), h)
        shard_digests.append((start, stop, h.hexdigest()))

    points: list[GridPoint] = []
    emulators: list[Emulator] = []
    skipped: list[tuple[GridPoint, str]] = []
    tasks: list[Task] = []
    digests = {label: _network_digest(network) for label, network in networks.items()}
    for (label, _), mode, profile, schedule, group in itertools.product(
        grid.models, grid.modes, profiles, grid.schedules, grid.group_sizes
    ):
        point = GridPoint(label, schedule, group, mode, None if profile is None else profile.name)
        reason = _why_not(point)
        if reason is not None:
            skipped.append((point, reason))
            continue
        counts = grid.keep_spike_counts or (profile is not None and mode == "step")  # step-mode energy needs them
        try:
            emulator = Emulator(networks[label], schedule=schedule, group_size=group, seed=grid.seed, mode=mode,
                                hardware=profile, record="counts" if counts else "totals")
        except ConfigError as exc:  # e.g. a profile without latencies in timed mode, a capacity limit
            skipped.append((point, str(exc)))
            continue
        identity = {
            "format": TASK_FORMAT, "neuroemu": __version__, "network": digests[label], "schedule": schedule,
            "group_size": group, "mode": mode, "seed": grid.seed, "record": emulator.record,
            "hardware": None if profile is None else hashlib.sha256(repr(profile).encode()).hexdigest(),
        }
        for start, stop, data_digest in shard_digests:
            text = json.dumps({**identity, "start": start, "stop": stop, "data": data_digest}, sort_keys=True)
            tasks.append(Task(hashlib.sha256(text.encode()).hexdigest()[:32], len(points), start, stop))
        points.append(point)
        emulators.append(emulator)
    if not points:
        reasons = "; ".join(f"{p}: {r}" for p, r in skipped)
        raise ConfigError(f"no grid point applies: {reasons}")
    return Plan(points, emulators, skipped, tasks, frames, labels, dataset_name, grid.keep_spike_counts)


def _as_grid(grid: Any) -> Grid:
    if isinstance(grid, Grid):
        return grid
    if isinstance(grid, Mapping):
        return Grid.from_dict(grid)
    if isinstance(grid, (str, os.PathLike)):
        return Grid.from_toml(grid)
    raise NeuroemuTypeError(f"grid must be a Grid, a mapping or a TOML file, got {type(grid).__name__}")


# -- one task, run wherever a worker is ------------------------------------------------------------------


@dataclass(frozen=True)
class _Job:
    key: str
    emulator: Emulator
    frames: np.ndarray
    labels: np.ndarray | None
    first_index: int
    threads: int
    keep_spike_counts: bool
    version: str


def _fault_hook(key: str) -> None:
    """Testing aid (FAULTS_ENV): log the execution; obey a ``fail-KEY`` or ``kill-KEY`` marker once."""
    folder = os.environ.get(FAULTS_ENV)
    if not folder:
        return
    base = Path(folder)
    (base / f"ran-{key}-{os.getpid()}-{uuid.uuid4().hex}").touch()
    for kind in ("fail", "kill"):
        try:
            (base / f"{kind}-{key}").unlink()  # only one execution claims a marker
        except FileNotFoundError:
            continue
        if kind == "fail":
            raise RuntimeError(f"injected failure of task {key} ({FAULTS_ENV})")
        os.kill(os.getpid(), signal.SIGKILL)  # a lost worker: the process dies mid-task


def _reduce(batch: BatchResult, keep_spike_counts: bool) -> BatchResult:
    """What the summary needs: drops event logs, traces, the profile (restored on gather) and, unless kept,
    spikes per neuron."""
    timed = batch.timed if batch.timed is None else replace(batch.timed, trace=None)
    return replace(batch, events=None, hardware=None, timed=timed,
                   _spike_counts=batch._spike_counts if keep_spike_counts else None)


def _run_task(job: _Job) -> BatchResult:
    from . import __version__

    if job.version != __version__:
        raise SweepError(f"this worker runs neuroemu {__version__}, the sweep was planned with {job.version}; "
                         "install the same version everywhere")
    _fault_hook(job.key)
    batch = job.emulator.run_batch(job.frames, job.labels, threads=job.threads, first_index=job.first_index)
    return _reduce(batch, job.keep_spike_counts)


# -- storage: one file per task --------------------------------------------------------------------------

_CLASSES: dict[str, type] = {"BatchResult": BatchResult, "HardwareCounters": HardwareCounters, "TimedData": TimedData}


def _encode(obj: Any, prefix: str, arrays: dict[str, np.ndarray]) -> dict[str, Any]:
    spec: dict[str, Any] = {}
    for f in fields(obj):
        value = getattr(obj, f.name)
        path = prefix + f.name
        if value is None:
            spec[f.name] = None
        elif isinstance(value, np.ndarray):
            arrays[path] = value
            spec[f.name] = {"array": path}
        elif is_dataclass(value) and type(value).__name__ in _CLASSES:
            spec[f.name] = {"class": type(value).__name__, "fields": _encode(value, path + ".", arrays)}
        elif isinstance(value, np.generic):
            spec[f.name] = {"value": value.item()}
        elif isinstance(value, (bool, int, float, str)):
            spec[f.name] = {"value": value}
        elif isinstance(value, tuple) and all(isinstance(v, (int, np.integer)) for v in value):
            spec[f.name] = {"tuple": [int(v) for v in value]}
        else:
            raise SweepError(f"cannot store field {path} of type {type(value).__name__}")
    return spec


def _decode(cls: type, spec: Mapping[str, Any], arrays: Any) -> Any:
    values: dict[str, Any] = {}
    for name, entry in spec.items():
        if entry is None:
            values[name] = None
        elif "array" in entry:
            values[name] = arrays[entry["array"]]
        elif "class" in entry:
            values[name] = _decode(_CLASSES[entry["class"]], entry["fields"], arrays)
        elif "tuple" in entry:
            values[name] = tuple(entry["tuple"])
        else:
            values[name] = entry["value"]
    return cls(**values)


class _MemoryStore:
    def __init__(self) -> None:
        self._results: dict[str, BatchResult] = {}

    def has(self, task: Task) -> bool:
        return task.key in self._results

    def put(self, task: Task, point: GridPoint, batch: BatchResult) -> None:
        self._results[task.key] = batch

    def get(self, task: Task) -> BatchResult:
        return self._results[task.key]


class _DiskStore:
    """``out/tasks/KEY.npz``: the reduced BatchResult's arrays and a JSON description; no pickles."""

    def __init__(self, out: Path) -> None:
        self.folder = out / "tasks"
        self.folder.mkdir(parents=True, exist_ok=True)

    def path(self, task: Task) -> Path:
        return self.folder / f"{task.key}.npz"

    def has(self, task: Task) -> bool:
        return self.path(task).is_file()

    def put(self, task: Task, point: GridPoint, batch: BatchResult) -> None:
        from . import __version__

        arrays: dict[str, np.ndarray] = {}
        meta = {"format": TASK_FORMAT, "neuroemu": __version__, "key": task.key, "start": task.start,
                "stop": task.stop, "point": asdict(point), "result": _encode(batch, "", arrays)}
        arrays["__meta__"] = np.array(json.dumps(meta))
        fd, tmp = tempfile.mkstemp(dir=self.folder, prefix=f".{task.key}-", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as handle:
                np.savez_compressed(handle, **arrays)  # type: ignore[arg-type]
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, self.path(task))
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def get(self, task: Task) -> BatchResult:
        path = self.path(task)
        try:
            with np.load(path, allow_pickle=False) as data:
                meta = json.loads(str(data["__meta__"]))
                if meta.get("format") != TASK_FORMAT or meta.get("key") != task.key:
                    raise SweepError(f"{path} is not the result of task {task.key}")
                return _decode(BatchResult, meta["result"], {k: data[k] for k in data.files})  # type: ignore[no-any-return]
        except (OSError, ValueError, KeyError) as exc:
            raise SweepError(f"cannot read task result {path} ({exc}); delete it to run the task again") from exc


# -- executors ----------------------------------------------------------------------------------------------

OnResult = Callable[[_Job, BatchResult], None]


class _Attempts:
    def __init__(self, retries: int, describe: Callable[[_Job], str]) -> None:
        self.retries = retries
        self.counts: dict[str, int] = {}
        self.describe = describe

    def failed(self, job: _Job, exc: BaseException) -> None:
        """Counts a failed attempt; raises SweepError once the job has used up its retries."""
        self.counts[job.key] = self.counts.get(job.key, 0) + 1
        if self.counts[job.key] > self.retries:
            raise SweepError(
                f"task {self.describe(job)} failed {self.counts[job.key]} times (retries={self.retries}): {exc!r}; "
                "finished tasks are kept, rerun to resume"
            ) from exc


def _run_serial(jobs: list[_Job], attempts: _Attempts, on_result: OnResult) -> None:
    for job in jobs:
        while True:
            try:
                batch = _run_task(job)
            except Exception as exc:
                attempts.failed(job, exc)
                continue
            on_result(job, batch)
            break


def _run_pool(jobs: list[_Job], workers: int, attempts: _Attempts, on_result: OnResult) -> None:
    """A process pool with at most ``workers`` tasks in flight, so a dead worker (a broken pool) charges an
    attempt only to the tasks that were running; the pool is restarted and the sweep goes on. When a task has
    used up its retries no new task starts; those still running finish and are kept, then the error is raised."""
    pending = deque(jobs)
    context = multiprocessing.get_context("spawn")  # fork is unsafe in a process with threads
    fatal: SweepError | None = None

    def failed(job: _Job, exc: BaseException, again: Callable[[_Job], None]) -> None:
        nonlocal fatal
        try:
            attempts.failed(job, exc)
        except SweepError as error:
            fatal = fatal or error
            pending.clear()
        else:
            if fatal is None:
                again(job)

    while pending:
        pool = ProcessPoolExecutor(max_workers=workers, mp_context=context)
        running: dict[Any, _Job] = {}
        broken = False
        clean = False
        try:
            while (pending or running) and not broken:
                while pending and len(running) < workers:
                    job = pending.popleft()
                    try:
                        running[pool.submit(_run_task, job)] = job
                    except BrokenProcessPool:  # a worker died since the last wait: this job never started
                        pending.appendleft(job)
                        broken = True
                        break
                if broken and not running:
                    break
                done, _ = wait(running, return_when=FIRST_COMPLETED)
                for future in [f for f in running if f in done]:  # submission order
                    job = running.pop(future)
                    try:
                        batch = future.result()
                    except BrokenProcessPool as exc:
                        broken = True
                        failed(job, exc, pending.appendleft)
                    except Exception as exc:
                        failed(job, exc, pending.append)
                    else:
                        on_result(job, batch)
            if broken:  # every task still in the dead pool was running in it
                for job in reversed(list(running.values())):
                    failed(job, BrokenProcessPool("a worker process died"), pending.appendleft)
                running.clear()
            clean = True
        finally:
            pool.shutdown(wait=clean, cancel_futures=True)
    if fatal is not None:
        raise fatal


def _distributed() -> Any:
    try:
        return importlib.import_module("distributed")
    except ImportError as exc:
        raise MissingDependencyError(
            "running a sweep on a cluster needs dask.distributed: pip install 'neuroemu[dask]'"
        ) from exc


def _dask_client(cluster: Any) -> tuple[Any, bool]:
    distributed = _distributed()
    if isinstance(cluster, distributed.Client):
        return cluster, False
    if isinstance(cluster, str) or hasattr(cluster, "scheduler_address"):
        try:
            return distributed.Client(cluster, set_as_default=False), True
        except (OSError, TimeoutError) as exc:
            raise SweepError(f"cannot reach the dask scheduler at {cluster}: {exc}") from exc
    raise NeuroemuTypeError(
        f"cluster must be a scheduler address (tcp://host:port), a distributed.Client or a cluster object, "
        f"got {type(cluster).__name__}"
    )


def _run_dask(jobs: list[_Job], cluster: Any, retries: int, describe: Callable[[_Job], str],
              on_result: OnResult) -> None:
    """Submits with ``retries`` (dask re-runs a failed task, and a lost worker's tasks, elsewhere); results
    come back to this process, which persists each as it arrives. At most a window of tasks is in flight.
    A task that fails for good stops new submissions; the tasks in flight finish and are kept, then it raises."""
    distributed = _distributed()
    client, own = _dask_client(cluster)
    token = uuid.uuid4().hex[:8]
    queue = iter(jobs)
    in_flight: dict[Any, _Job] = {}
    fatal: SweepError | None = None
    try:
        completed = distributed.as_completed(loop=client.loop)
        window = max(8, 2 * sum(client.nthreads().values()))

        def submit_next() -> None:
            job = next(queue, None) if fatal is None else None
            if job is not None:
                future = client.submit(_run_task, job, key=f"neuroemu-sweep-{job.key[:16]}-{token}",
                                       retries=retries, pure=False)
                in_flight[future] = job
                completed.add(future)

        for _ in range(window):
            submit_next()
        for future in completed:
            job = in_flight.pop(future)
            try:
                batch = future.result()
            except Exception as exc:
                fatal = fatal or SweepError(
                    f"task {describe(job)} failed on the cluster after {retries} retries: {exc!r}; "
                    "finished tasks are kept, rerun to resume"
                )
                fatal.__cause__ = fatal.__cause__ or exc
                continue
            finally:
                future.release()
            on_result(job, batch)
            submit_next()
    finally:
        if in_flight:
            client.cancel(list(in_flight))
        if own:
            client.close()
    if fatal is not None:
        raise fatal


# -- the sweep --------------------------------------------------------------------------------------------


@dataclass
class SweepResult:
    """The gathered sweep: one summary record per grid point (the schema of docs/cli.md), in grid order.

    ``tasks_run`` tasks ran in this call, ``tasks_reused`` came from the output folder ``out``.
    """

    records: list[dict[str, Any]]
    points: list[GridPoint]
    skipped: list[tuple[GridPoint, str]]
    tasks_run: int
    tasks_reused: int
    out: Path | None
    _plan: Plan = field(repr=False)
    _store: Any = field(repr=False)

    def batch(self, index: int) -> BatchResult:
        """The concatenated result of grid point ``index`` (event logs and traces are not kept)."""
        return _gather_point(self._plan, self._store, index)

    def table(self) -> str:
        """The records as a markdown table."""
        return format_table(self.records, SWEEP_COLUMNS)


def _gather_point(plan_: Plan, store: Any, index: int) -> BatchResult:
    parts = [store.get(t) for t in plan_.tasks if t.point == index]  # tasks are in shard order
    batch = parts[0] if len(parts) == 1 else BatchResult.concatenate(parts)
    return replace(batch, hardware=plan_.emulators[index].hardware)


def _write_atomically(path: Path, writer: Callable[[Path], object]) -> None:
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        writer(tmp)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def sweep(
    grid: Grid | Mapping[str, Any] | str | os.PathLike[str],
    dataset: Any = None,
    *,
    out: str | os.PathLike[str] | None = None,
    cluster: Any = None,
    executor: str = "processes",
    workers: int | None = None,
    retries: int = 2,
    threads: int = 1,
    progress: Callable[[int, int], None] | None = None,
) -> SweepResult:
    """Runs every grid point on every shard of a dataset and gathers one table; identical to serial runs.

    Parameters
    ----------
    grid : Grid, mapping or path of a TOML file
        What to evaluate (docs/sweep.md).
    dataset : Dataset, (frames, labels) or None
        The samples; None loads the grid's ``dataset`` table.
    out : path, optional
        Output folder (default ``grid.out``): ``tasks/KEY.npz`` per finished task, ``results.{csv,json,md}``.
        A rerun with the same folder runs only the tasks whose file is missing. None with no ``grid.out``:
        results stay in memory.
    cluster : str, distributed.Client or dask cluster, optional
        Run on dask.distributed: a scheduler address such as ``"tcp://10.0.0.5:8786"``, a client or a
        cluster object. Workers need neuroemu installed, not the output folder.
    executor : {"processes", "serial"}
        Without ``cluster``: a local pool of worker processes, or this process.
    workers : int, optional
        Local worker processes (default: the available cores, at most the number of tasks).
    retries : int
        How many times a failed task (an exception, or a worker that died under it) is run again.
    threads : int
        Engine threads per task.
    progress : callable, optional
        Called as ``progress(done, total)`` after each finished task.

    Returns
    -------
    SweepResult
    """
    from . import __version__

    grid = _as_grid(grid)
    executor = choice(executor, "executor", EXECUTORS)
    retries_n = non_negative_int(retries, "retries")
    threads_n = positive_int(threads, "threads")
    workers_n = positive_int(workers, "workers", allow_none=True)
    assert threads_n is not None
    target = grid.out if out is None else os.fspath(out)
    the_plan = plan(grid, dataset)
    out_path = None if target is None else Path(target)
    store: Any = _MemoryStore() if out_path is None else _DiskStore(out_path)

    todo = [t for t in the_plan.tasks if not store.has(t)]
    total, done = len(the_plan.tasks), len(the_plan.tasks) - len(todo)
    if progress is not None:
        progress(done, total)
    by_key = {t.key: t for t in todo}
    jobs = [
        _Job(t.key, the_plan.emulators[t.point], the_plan.frames[t.start : t.stop],
             None if the_plan.labels is None else the_plan.labels[t.start : t.stop], t.start, threads_n,
             the_plan.keep_spike_counts, __version__)
        for t in todo
    ]

    def describe(job: _Job) -> str:
        task = by_key[job.key]
        return f"{task.key} ({the_plan.points[task.point]}, samples {task.start}:{task.stop})"

    def on_result(job: _Job, batch: BatchResult) -> None:
        nonlocal done
        task = by_key[job.key]
        store.put(task, the_plan.points[task.point], batch)
        done += 1
        if progress is not None:
            progress(done, total)

    if jobs:
        if cluster is not None:
            _run_dask(jobs, cluster, retries_n, describe, on_result)
        elif executor == "serial":
            _run_serial(jobs, _Attempts(retries_n, describe), on_result)
        else:
            n = min(workers_n or _available_cores(), len(jobs))
            _run_pool(jobs, n, _Attempts(retries_n, describe), on_result)

    records = []
    for index, point in enumerate(the_plan.points):
        batch = _gather_point(the_plan, store, index)
        record = summarize(batch, the_plan.emulators[index], model=point.model, dataset=the_plan.dataset)
        records.append(record)
    result = SweepResult(records, the_plan.points, the_plan.skipped, len(jobs), total - len(jobs), out_path,
                         the_plan, store)
    if out_path is not None:
        _write_atomically(out_path / "results.json", lambda p: write_json(p, records))
        _write_atomically(out_path / "results.csv", lambda p: write_csv(p, records))
        _write_atomically(out_path / "results.md", lambda p: p.write_text(result.table() + "\n", encoding="utf-8"))
    return result
