"""Training spiking networks for neuroemu, inside the schedule they will run under.

The source paper's method: put the asynchronous schedule inside training, so that the deployed model
works (and saves spikes) under asynchronous execution. :func:`train` fits a sequential PyTorch model of
``Linear`` and :class:`neuroemu.torch.LIF` layers with :func:`neuroemu.torch.simulate` under any
schedule (``"sync"`` is ordinary layer-wise BPTT), then deploys it (:func:`to_network`) and evaluates it
in the C++ engine. Models are saved in a small versioned ``.npz`` format (:func:`save_model`,
:func:`load_model`); two trained digits models ship with neuroemu (:func:`pretrained`).

This module imports PyTorch only inside the functions that need it: :func:`load_model` and
:func:`pretrained` work without it. Command line: ``python -m neuroemu.training --help``
(:func:`main`). See docs/training.md.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from ._validation import choice, non_negative_int, positive_int
from .emulator import Emulator
from .errors import ConfigError, MissingDependencyError, NetworkFileError, NeuroemuTypeError
from .network import Network

__all__ = [
    "LOSSES",
    "MODEL_FORMAT",
    "MODEL_FORMAT_VERSION",
    "PRETRAINED",
    "TrainConfig",
    "TrainResult",
    "evaluate",
    "load_model",
    "load_torch_model",
    "main",
    "make_model",
    "model_info",
    "pretrained",
    "pretrained_path",
    "save_model",
    "to_network",
    "train",
]

#: Losses of :func:`train`: cross-entropy on the output spike counts summed over bins (SPEC section 7),
#: the mean over bins of the cross-entropy on each bin's counts, or on minus the first-spike times.
LOSSES = ("count", "rate", "first_spike")
MODEL_FORMAT = "neuroemu-model"
MODEL_FORMAT_VERSION = 1
CHECKPOINT_FORMAT = "neuroemu-checkpoint"
#: Models shipped with neuroemu (``neuroemu/data/models/<name>.npz``); see :func:`pretrained`.
PRETRAINED = ("digits_sync", "digits_momentum_f4", "digits_rows_sync", "digits_rows_momentum_f4")
_DATASETS = ("digits", "digits_rows")


def _torch() -> Any:
    try:
        import torch
    except ImportError as exc:  # pragma: no cover - exercised only without torch
        raise MissingDependencyError('training needs PyTorch: pip install "neuroemu[torch]"') from exc
    return torch


# ------------------------------------------------------------------------------------------------------
# configuration and results
# ------------------------------------------------------------------------------------------------------
@dataclass
class TrainConfig:
    """Everything that determines a training run (stored in checkpoints and saved models).

    The defaults are SPEC section 7's known-good digits configuration: 64-128-64-10 without bias,
    threshold 1, beta = exp(-1/6), reset to zero, refractory, ATan surrogate, initial weights
    N(0, 1) * 3 / sqrt(fan_in), Adam with learning rate 2e-3 and cosine decay, batch 64, 30 epochs.
    """

    dataset: str = "digits"
    schedule: str = "sync"
    group_size: int | None = None
    prioritize_input: bool = True
    epochs: int = 30
    batch_size: int = 64
    lr: float = 2e-3
    loss: str = "count"
    seed: int = 0
    hidden: tuple[int, ...] = (128, 64)
    beta: float = math.exp(-1.0 / 6.0)
    threshold: float = 1.0
    surrogate: str = "atan"
    limit: int | None = None  # train on the first `limit` samples only (smoke runs)

    def check(self) -> TrainConfig:
        from .torch.simulator import SCHEDULES  # noqa: PLC0415 - needs torch, checked by the caller

        self.schedule = choice(self.schedule, "schedule", SCHEDULES)
        self.loss = choice(self.loss, "loss", LOSSES)
        self.group_size = positive_int(self.group_size, "group_size", allow_none=True)
        self.epochs = non_negative_int(self.epochs, "epochs")
        self.batch_size = int(positive_int(self.batch_size, "batch_size") or 1)
        self.seed = non_negative_int(self.seed, "seed")
        if self.limit is not None:
            self.limit = positive_int(self.limit, "limit")
        if not (isinstance(self.lr, (int, float)) and math.isfinite(self.lr) and self.lr > 0):
            raise ConfigError(f"lr must be a positive number, got {self.lr!r}")
        self.hidden = tuple(int(positive_int(h, "hidden") or 1) for h in self.hidden)
        if self.schedule == "sync" and (self.group_size is not None or not self.prioritize_input):
            raise ConfigError("group_size and prioritize_input=False apply to asynchronous schedules only")
        return self

    def to_json(self) -> dict[str, Any]:
        out = asdict(self)
        out["hidden"] = list(self.hidden)
        return out

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> TrainConfig:
        known = {f for f in cls.__dataclass_fields__}
        values = {k: v for k, v in data.items() if k in known}
        if "hidden" in values:
            values["hidden"] = tuple(values["hidden"])
        return cls(**values)


@dataclass
class TrainResult:
    """What :func:`train` returns.

    Attributes
    ----------
    model : torch.nn.Sequential
        The trained model (on the training device).
    config : TrainConfig
    history : list of dict
        Per epoch: ``epoch``, ``loss`` (mean over batches), ``train_accuracy`` (in the training
        simulator), ``spikes`` (network spikes per sample), ``seconds``.
    evaluation : dict
        Engine metrics on the test data per schedule label (see :func:`evaluate`); empty if not evaluated.
    network : Network or None
        The deployed network (:func:`to_network`) when evaluated.
    """

    model: Any
    config: TrainConfig
    history: list[dict[str, float]] = field(default_factory=list)
    evaluation: dict[str, dict[str, float]] = field(default_factory=dict)
    network: Network | None = None


# ------------------------------------------------------------------------------------------------------
# models
# ------------------------------------------------------------------------------------------------------
def make_model(
    n_inputs: int,
    n_outputs: int,
    hidden: Sequence[int] = (128, 64),
    *,
    beta: float = math.exp(-1.0 / 6.0),
    threshold: float = 1.0,
    surrogate: str = "atan",
    seed: int = 0,
    dtype: Any = None,
) -> Any:
    """A fully connected spiking model ``n_inputs - hidden... - n_outputs`` without bias (SPEC section 7).

    Layers ``Linear(bias=False)`` each followed by ``LIF(beta, threshold, reset="zero",
    refractory=True, surrogate)``; weights drawn ``N(0, 1) * 3 / sqrt(fan_in)`` from a generator seeded
    ``seed``.
    """
    torch = _torch()
    from .torch import LIF  # noqa: PLC0415

    gen = torch.Generator().manual_seed(int(seed))
    sizes = [int(n_inputs), *(int(h) for h in hidden), int(n_outputs)]
    layers: list[Any] = []
    for n_in, n_out in zip(sizes[:-1], sizes[1:]):
        lin = torch.nn.Linear(n_in, n_out, bias=False, dtype=dtype)
        with torch.no_grad():
            lin.weight.copy_(torch.randn(n_out, n_in, generator=gen, dtype=torch.float64) * 3.0 / math.sqrt(n_in))
        layers += [lin, LIF(beta, threshold, reset="zero", refractory=True, surrogate=surrogate)]
    return torch.nn.Sequential(*layers)


def to_network(model: Any, dt: float, input_shape: Sequence[int] | int | None = None) -> Network:
    """The trained model as a :class:`neuroemu.Network` (via :meth:`Network.from_weights`).

    Each LIF layer becomes a population; the ``Linear`` / ``Conv2d`` / ``AvgPool2d`` / ``Flatten``
    layers in front of it become its weight matrix (a convolution becomes the equivalent matrix, whose
    zeros are not synapses) and bias (added once per bin). Weights are converted to float64 exactly.

    Parameters
    ----------
    model : torch.nn.Sequential
    dt : float
        Bin width in seconds (``beta`` is stored as given).
    input_shape : sequence of int, optional
        Shape of one input frame; needed when the first layer is not ``Linear``.
    """
    torch = _torch()
    from .torch._layers import effective_bias, effective_weight_t, parse_model  # noqa: PLC0415

    pops = parse_model(model, _input_shape(model, input_shape, torch))
    weights, thresholds, betas, biases, resets, refractory = [], [], [], [], [], []
    with torch.no_grad():
        for pop in pops:
            dev = _device(pop, torch)
            dtype = next((p.dtype for m in pop.modules for p in m.parameters()), torch.float64)
            w = effective_weight_t(pop, dtype, dev)
            weights.append(w.t().detach().cpu().to(torch.float64).numpy())
            b = effective_bias(pop, dtype, dev)
            biases.append(0.0 if b is None else b.detach().cpu().to(torch.float64).numpy())
            thresholds.append(_flat(pop.lif.threshold, pop.out_shape, torch))
            betas.append(_flat(pop.lif.beta, pop.out_shape, torch))
            resets.append(pop.lif.reset)
            refractory.append(bool(pop.lif.refractory))
    return Network.from_weights(
        weights, threshold=thresholds, beta=betas, bias=biases, reset=resets, refractory=refractory, dt=dt
    )


def _device(pop: Any, torch: Any) -> Any:
    for m in pop.modules:
        for p in m.parameters():
            return p.device
    return torch.device("cpu")


def _flat(value: Any, shape: tuple[int, ...], torch: Any) -> np.ndarray:
    t = value.detach().cpu().to(torch.float64) if isinstance(value, torch.Tensor) else torch.tensor(float(value))
    return np.array(torch.broadcast_to(t.to(torch.float64), shape).reshape(-1).numpy(), dtype=np.float64)


def _input_shape(model: Any, input_shape: Sequence[int] | int | None, torch: Any) -> tuple[int, ...]:
    if input_shape is not None:
        return (int(input_shape),) if isinstance(input_shape, (int, np.integer)) else tuple(int(s) for s in input_shape)
    for m in (model if isinstance(model, (list, tuple, torch.nn.Sequential)) else [model]):
        if isinstance(m, torch.nn.Linear):
            return (m.in_features,)
        if isinstance(m, (torch.nn.Flatten, torch.nn.Identity)):
            continue
        break
    raise ConfigError("input_shape is needed for a model whose first layer is not Linear")


# ------------------------------------------------------------------------------------------------------
# the .npz model format
# ------------------------------------------------------------------------------------------------------
def save_model(
    model: Any,
    path: str | os.PathLike[str],
    *,
    dt: float,
    input_shape: Sequence[int] | int | None = None,
    config: TrainConfig | dict[str, Any] | None = None,
    metrics: dict[str, Any] | None = None,
) -> Path:
    """Writes a trained model to ``path`` in neuroemu's ``.npz`` model format (version 1).

    The file holds, per population ``l``: ``weight_l`` (n_l, n_{l-1}) float64 (a convolution as its
    equivalent matrix), ``bias_l``, ``beta_l``, ``threshold_l`` (n_l,) float64; per network:
    ``reset`` and ``surrogate`` (one string per population), ``refractory`` (bool per population),
    ``n_inputs``, ``input_shape``, ``dt``, and JSON strings ``config`` and ``metrics``; plus
    ``format = "neuroemu-model"`` and ``format_version = 1``. No pickled objects: the file loads with
    ``numpy.load(allow_pickle=False)`` and without PyTorch.
    """
    torch = _torch()
    from .torch._layers import parse_model  # noqa: PLC0415

    shape = _input_shape(model, input_shape, torch)
    net = to_network(model, dt, shape)
    pops = parse_model(model, shape)
    arrays: dict[str, Any] = {
        "format": np.array(MODEL_FORMAT),
        "format_version": np.array(MODEL_FORMAT_VERSION, dtype=np.int64),
        "n_layers": np.array(len(pops), dtype=np.int64),
        "n_inputs": np.array(net.n_inputs, dtype=np.int64),
        "input_shape": np.array(shape, dtype=np.int64),
        "dt": np.array(float(dt)),
        "reset": np.array([p.reset for p in net.populations]),
        "refractory": np.array([p.refractory for p in net.populations], dtype=bool),
        "surrogate": np.array([_surrogate_name(pop.lif.surrogate) for pop in pops]),
        "config": np.array(json.dumps(config.to_json() if isinstance(config, TrainConfig) else (config or {}))),
        "metrics": np.array(json.dumps(metrics or {})),
    }
    for li, (w, pop) in enumerate(zip(net.weights(), net.populations)):
        arrays[f"weight_{li}"] = w
        arrays[f"bias_{li}"] = pop.bias
        arrays[f"beta_{li}"] = pop.beta
        arrays[f"threshold_{li}"] = pop.threshold
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".tmp.npz")
    np.savez_compressed(tmp, **arrays)
    os.replace(tmp, out)
    return out


def _surrogate_name(surrogate: Any) -> str:
    alpha = getattr(surrogate, "alpha", getattr(surrogate, "slope", None))
    return f"{surrogate.name}:{alpha:g}" if alpha is not None else str(surrogate.name)


def _read(path: str | os.PathLike[str]) -> dict[str, Any]:
    name = os.fspath(path)
    try:
        with np.load(name, allow_pickle=False) as data:
            arrays = {k: data[k] for k in data.files}
    except FileNotFoundError:
        raise
    except (OSError, ValueError, EOFError) as exc:
        raise NetworkFileError(f"{name}: not a readable neuroemu model file ({exc})") from exc
    if str(arrays.get("format", "")) != MODEL_FORMAT:
        raise NetworkFileError(f"{name}: not a neuroemu model file (format {arrays.get('format')!r})")
    version = int(arrays.get("format_version", -1))
    if version > MODEL_FORMAT_VERSION or version < 1:
        raise NetworkFileError(
            f"{name}: model format version {version}; this neuroemu reads version {MODEL_FORMAT_VERSION}"
        )
    try:
        n_layers = int(arrays["n_layers"])
        for li in range(n_layers):
            for key in (f"weight_{li}", f"bias_{li}", f"beta_{li}", f"threshold_{li}"):
                arrays[key]
        for key in ("reset", "refractory", "dt", "n_inputs"):
            arrays[key]
    except KeyError as exc:
        raise NetworkFileError(f"{name}: truncated model file, missing {exc}") from exc
    return arrays


def load_model(path: str | os.PathLike[str]) -> Network:
    """Reads a model saved by :func:`save_model` as a :class:`neuroemu.Network` (no PyTorch needed).

    Raises
    ------
    NetworkFileError
        If the file is not a neuroemu model, is truncated, or has a newer format version.
    """
    a = _read(path)
    n_layers = int(a["n_layers"])
    try:
        return Network.from_weights(
            [a[f"weight_{li}"] for li in range(n_layers)],
            threshold=[a[f"threshold_{li}"] for li in range(n_layers)],
            beta=[a[f"beta_{li}"] for li in range(n_layers)],
            bias=[a[f"bias_{li}"] for li in range(n_layers)],
            reset=[str(r) for r in a["reset"]],
            refractory=[bool(r) for r in a["refractory"]],
            dt=float(a["dt"]),
        )
    except (ConfigError, NeuroemuTypeError) as exc:
        raise NetworkFileError(f"{os.fspath(path)}: inconsistent model file: {exc}") from exc


def model_info(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The ``config`` and ``metrics`` stored in a model file (plain dicts)."""
    a = _read(path)
    return {"config": json.loads(str(a["config"])), "metrics": json.loads(str(a["metrics"]))}


def load_torch_model(path: str | os.PathLike[str], *, dtype: Any = None) -> Any:
    """Reads a model file (``.npz``) or a training checkpoint (``.pt``/``.pth``) as an ``nn.Sequential``.

    A model file comes back as ``Linear`` and ``LIF`` layers (a model saved from convolutions as the
    equivalent fully connected model, with the same spikes). A checkpoint written by :func:`train` is
    rebuilt with :func:`make_model` from its configuration and weights; a checkpoint of a custom
    architecture cannot be rebuilt from the file alone (build the model, then
    ``model.load_state_dict(torch.load(path)["model"])``).
    """
    torch = _torch()
    from .torch import LIF  # noqa: PLC0415

    if Path(path).suffix in (".pt", ".pth"):
        return _model_from_checkpoint(torch, Path(path), dtype)
    a = _read(path)
    dtype = dtype or torch.get_default_dtype()
    layers: list[Any] = []
    surrogates = [str(s) for s in a["surrogate"]] if "surrogate" in a else ["atan:2"] * int(a["n_layers"])
    for li in range(int(a["n_layers"])):
        w = torch.from_numpy(a[f"weight_{li}"]).to(dtype)
        b = a[f"bias_{li}"]
        lin = torch.nn.Linear(w.shape[1], w.shape[0], bias=bool(np.any(b != 0)), dtype=dtype)
        with torch.no_grad():
            lin.weight.copy_(w)
            if lin.bias is not None:
                lin.bias.copy_(torch.from_numpy(b).to(dtype))
        name, _, alpha = surrogates[li].partition(":")
        beta, theta = a[f"beta_{li}"], a[f"threshold_{li}"]
        layers += [
            lin,
            LIF(
                float(beta[0]) if np.all(beta == beta[0]) else torch.from_numpy(beta).to(dtype),
                float(theta[0]) if np.all(theta == theta[0]) else torch.from_numpy(theta).to(dtype),
                reset=str(a["reset"][li]),
                refractory=bool(a["refractory"][li]),
                surrogate=name,
                alpha=float(alpha) if alpha else None,
            ),
        ]
    return torch.nn.Sequential(*layers)


def _model_from_checkpoint(torch: Any, path: Path, dtype: Any) -> Any:
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise
    except Exception as exc:  # torch raises several types for a foreign or damaged file
        raise NetworkFileError(f"{path}: not a readable PyTorch checkpoint ({exc})") from exc
    if not isinstance(state, dict) or state.get("format") != CHECKPOINT_FORMAT:
        raise NetworkFileError(f"{path}: not a neuroemu training checkpoint")
    config = TrainConfig.from_json(state["config"])
    weights = sorted(
        ((int(k.split(".")[0]), v) for k, v in state["model"].items() if k.endswith(".weight")), key=lambda kv: kv[0]
    )
    if not weights:
        raise NetworkFileError(f"{path}: the checkpoint holds no Linear weights")
    shapes = [tuple(w.shape) for _, w in weights]
    model = make_model(
        shapes[0][1], shapes[-1][0], [s[0] for s in shapes[:-1]], beta=config.beta, threshold=config.threshold,
        surrogate=config.surrogate,
    )
    try:
        model.load_state_dict(state["model"])
    except RuntimeError as exc:
        raise NetworkFileError(
            f"{path}: the checkpoint is not of a make_model() network; build your model and load "
            f"torch.load(path)['model'] into it ({exc})"
        ) from exc
    return model if dtype is None else model.to(dtype)


def pretrained_path(name: str) -> Path:
    """Path of a shipped model file: one of :data:`PRETRAINED`."""
    choice(name, "name", PRETRAINED)
    ref = resources.files("neuroemu").joinpath("data", "models", f"{name}.npz")
    return Path(str(ref))


def pretrained(name: str) -> Network:
    """A shipped trained model as a :class:`neuroemu.Network` (no PyTorch needed).

    Per built-in dataset (``digits``: rate code, 10 bins; ``digits_rows``: the digits read row by row,
    delta code), one model trained layer-synchronously (``*_sync``, BPTT) and one inside the momentum
    schedule with group size 4 (``*_momentum_f4``), all with SPEC section 7's configuration and seed 0.
    Re-create them with the commands in docs/training.md.
    """
    return load_model(pretrained_path(name))


# ------------------------------------------------------------------------------------------------------
# data
# ------------------------------------------------------------------------------------------------------
def _as_arrays(data: Any, what: str) -> tuple[np.ndarray, np.ndarray]:
    if hasattr(data, "frames") and hasattr(data, "labels"):
        frames, labels = data.frames, data.labels
    elif isinstance(data, (tuple, list)) and len(data) == 2:
        frames, labels = data
    else:
        raise NeuroemuTypeError(f"{what} must be a neuroemu Dataset or a (frames, labels) pair")
    frames = np.asarray(frames, dtype=np.float32)
    labels = np.asarray(labels)
    if frames.ndim < 3 or labels.shape != (frames.shape[0],):
        raise ConfigError(
            f"{what}: frames must be shaped (samples, bins, ...) and labels (samples,), got {frames.shape} "
            f"and {labels.shape}"
        )
    if not np.issubdtype(labels.dtype, np.integer):
        raise NeuroemuTypeError(f"{what}: labels must be integers, got dtype {labels.dtype}")
    return frames, labels.astype(np.int64)


def _builtin(dataset: str, split: str) -> Any:
    from . import datasets  # noqa: PLC0415

    if dataset == "digits":
        return datasets.digits(encoding="rate", bins=10, seed=0, split=split)
    return datasets.digits_rows(split=split, seed=0)


# ------------------------------------------------------------------------------------------------------
# evaluation in the engine
# ------------------------------------------------------------------------------------------------------
def evaluate(
    network: Network,
    frames: Any,
    labels: Any,
    schedules: Sequence[tuple[str, int | None]] = (("sync", None), ("momentum", 4), ("momentum", 1)),
    *,
    threads: int | None = None,
) -> dict[str, dict[str, float]]:
    """Accuracy and cost of a network in the C++ engine under several schedules.

    Returns a dict keyed ``"sync"`` / ``"momentum F=4"`` ... with the means over samples of
    ``accuracy``, ``spikes`` (network spikes per inference), ``synops``, ``forward_steps``.
    """
    out: dict[str, dict[str, float]] = {}
    x = np.asarray(frames, dtype=np.float64).reshape(len(labels), np.shape(frames)[1], -1)
    y = np.asarray(labels, dtype=np.int64)
    for schedule, group in schedules:
        label = schedule if schedule == "sync" else f"{schedule} F={'all' if group is None else group}"
        em = Emulator(network, schedule=schedule, group_size=group, record="totals")
        res = em.run_batch(x, labels=y, threads=threads)
        summary = res.summary()
        out[label] = {k: float(summary[k]) for k in ("accuracy", "spikes", "synops", "forward_steps")}
    return out


# ------------------------------------------------------------------------------------------------------
# training
# ------------------------------------------------------------------------------------------------------
def _loss(torch: Any, kind: str, res: Any, y: Any) -> Any:
    nnf = torch.nn.functional
    if kind == "count":
        return nnf.cross_entropy(res.output_counts.sum(dim=1), y)
    if kind == "rate":
        counts = res.output_counts
        return nnf.cross_entropy(counts.reshape(-1, counts.shape[2]), y.repeat_interleave(counts.shape[1]))
    return nnf.cross_entropy(-res.first_spike_time, y)


class _Progress:
    def __init__(self, enabled: bool, total: int, epoch: int, epochs: int) -> None:
        self.enabled, self.total, self.epoch, self.epochs = enabled, total, epoch, epochs
        self.tty = enabled and sys.stderr.isatty()

    def step(self, done: int, loss: float) -> None:
        if self.tty:
            width = 30
            filled = int(width * done / max(self.total, 1))
            sys.stderr.write(
                f"\repoch {self.epoch + 1}/{self.epochs} [{'#' * filled}{'.' * (width - filled)}] "
                f"{done}/{self.total} loss {loss:.4f}"
            )
            sys.stderr.flush()

    def end(self, record: dict[str, float]) -> None:
        if self.enabled:
            prefix = "\r" if self.tty else ""
            sys.stderr.write(
                f"{prefix}epoch {self.epoch + 1}/{self.epochs}: loss {record['loss']:.4f}, train accuracy "
                f"{record['train_accuracy']:.3f}, spikes/sample {record['spikes']:.1f}, {record['seconds']:.1f} s"
                + " " * 10 + "\n"
            )
            sys.stderr.flush()


def _save_checkpoint(torch: Any, path: Path, state: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    torch.save(state, tmp)
    os.replace(tmp, path)


def train(
    model: Any = None,
    train_data: Any = None,
    test_data: Any = None,
    *,
    dataset: str = "digits",
    schedule: str = "sync",
    group_size: int | None = None,
    prioritize_input: bool = True,
    epochs: int = 30,
    batch_size: int = 64,
    lr: float = 2e-3,
    loss: str = "count",
    seed: int = 0,
    device: Any = None,
    checkpoint: str | os.PathLike[str] | None = None,
    resume: bool = False,
    progress: bool = True,
    evaluate_schedules: Sequence[tuple[str, int | None]] | None = None,
    limit: int | None = None,
    dt: float | None = None,
    config: TrainConfig | None = None,
    callback: Any = None,
) -> TrainResult:
    """Trains a spiking model inside a schedule of the step model, then evaluates it in the engine.

    Parameters
    ----------
    model : torch.nn.Sequential, optional
        ``Linear`` / ``Conv2d`` / ... layers each followed by ``neuroemu.torch.LIF``. Default:
        :func:`make_model` with the configuration's sizes (SPEC section 7), seeded ``seed``.
    train_data, test_data : Dataset or (frames, labels), optional
        Default: the built-in ``dataset`` (``"digits"``: rate code, 10 bins, seed 0; ``"digits_rows"``),
        train and test split. ``test_data=None`` with ``train_data`` given skips the evaluation.
    schedule, group_size, prioritize_input
        The schedule trained in (``"sync"``: layer-wise BPTT; ``"momentum"``, ``"random"``, ``"fifo"``
        with group size F): see :func:`neuroemu.torch.simulate`.
    epochs, batch_size, lr
        Adam with learning rate ``lr`` decayed to 0 by a cosine over all steps; shuffled mini-batches.
    loss : {"count", "rate", "first_spike"}
        Cross-entropy on the output spike counts summed over bins, averaged over per-bin counts, or on
        minus the first output spike times (earliest spike wins).
    seed : int
        Seeds the initial weights, the batch order and the random schedule's stream.
    device : str or torch.device, optional
        Default ``"cuda"`` when available, else ``"cpu"``.
    checkpoint : path, optional
        Saved after every epoch (model, optimizer, learning-rate schedule, random states, history).
    resume : bool
        Continue from ``checkpoint`` if it exists; the result equals an uninterrupted run.
    progress : bool
        Print progress to stderr.
    evaluate_schedules : list of (schedule, F), optional
        Engine evaluation on the test data; default sync and the training schedule.
    limit : int, optional
        Use only the first ``limit`` training samples (smoke runs).
    dt : float, optional
        Bin width in seconds of the deployed network (default the dataset's, else 1 ms).
    config : TrainConfig, optional
        All the above at once (keyword arguments are then ignored).
    callback : callable, optional
        Called after every epoch (and its checkpoint) with the epoch's history record; returning
        ``False`` stops training there (the run can be continued with ``resume=True``).

    Returns
    -------
    TrainResult
    """
    torch = _torch()
    from .torch import simulate  # noqa: PLC0415

    if config is None:
        config = TrainConfig(
            dataset=dataset, schedule=schedule, group_size=group_size, prioritize_input=prioritize_input,
            epochs=epochs, batch_size=batch_size, lr=lr, loss=loss, seed=seed, limit=limit,
        )
    config.check()
    if train_data is None:
        config.dataset = choice(config.dataset, "dataset", _DATASETS)
        train_set = _builtin(config.dataset, "train")
        test_set = _builtin(config.dataset, "test") if test_data is None else test_data
    else:
        train_set, test_set = train_data, test_data
    x_train, y_train = _as_arrays(train_set, "train_data")
    if config.limit is not None:
        x_train, y_train = x_train[: config.limit], y_train[: config.limit]
    if dt is None:
        dt = float(getattr(train_set, "dt", 1e-3))
    dev = torch.device(device) if device is not None else torch.device("cuda" if torch.cuda.is_available() else "cpu")
    n_classes = max(int(y_train.max()) + 1, int(getattr(train_set, "n_classes", 0) or 0))
    if model is None:
        model = make_model(
            int(np.prod(x_train.shape[2:])), n_classes, config.hidden, beta=config.beta,
            threshold=config.threshold, surrogate=config.surrogate, seed=config.seed,
        )
    model = model.to(dev)
    dtype = next(model.parameters()).dtype
    optimizer = torch.optim.Adam(model.parameters(), lr=config.lr)
    n_batches = max(1, math.ceil(len(y_train) / config.batch_size))
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=max(1, config.epochs * n_batches))
    shuffle = torch.Generator().manual_seed(config.seed)
    sched_gen = torch.Generator(device=dev).manual_seed(config.seed + 1)
    history: list[dict[str, float]] = []
    start = 0
    ckpt = Path(checkpoint) if checkpoint is not None else None
    if resume and ckpt is not None and ckpt.exists():
        state = torch.load(ckpt, map_location="cpu", weights_only=True)
        if state.get("format") != CHECKPOINT_FORMAT:
            raise NetworkFileError(f"{ckpt}: not a neuroemu training checkpoint")
        saved = TrainConfig.from_json(state["config"])
        for name in ("schedule", "group_size", "prioritize_input", "batch_size", "lr", "loss", "seed", "limit"):
            if getattr(saved, name) != getattr(config, name):
                raise ConfigError(
                    f"checkpoint {ckpt} was written with {name}={getattr(saved, name)!r}, this run has "
                    f"{name}={getattr(config, name)!r}"
                )
        if saved.epochs != config.epochs:
            raise ConfigError(f"checkpoint {ckpt} is from a {saved.epochs}-epoch run, this run has {config.epochs}")
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        shuffle.set_state(state["rng_shuffle"])
        sched_gen.set_state(state["rng_schedule"])
        history = [dict(h) for h in state["history"]]
        start = int(state["epoch"])

    x_all = torch.from_numpy(x_train).to(device=dev, dtype=dtype)
    y_all = torch.from_numpy(y_train).to(dev)
    kwargs: dict[str, Any] = {"schedule": config.schedule}
    if config.schedule != "sync":
        kwargs.update(group_size=config.group_size, prioritize_input=config.prioritize_input, generator=sched_gen)
    for epoch in range(start, config.epochs):
        t0 = time.perf_counter()
        order = torch.randperm(len(y_train), generator=shuffle).to(dev)
        bar = _Progress(progress, n_batches, epoch, config.epochs)
        total_loss = total_correct = total_spikes = 0.0
        model.train()
        for b in range(n_batches):
            idx = order[b * config.batch_size : (b + 1) * config.batch_size]
            xb, yb = x_all[idx], y_all[idx]
            res = simulate(model, xb, first_spike=config.loss == "first_spike", **kwargs)
            value = _loss(torch, config.loss, res, yb)
            optimizer.zero_grad(set_to_none=True)
            value.backward()
            optimizer.step()
            scheduler.step()
            total_loss += value.item() * len(yb)
            total_correct += float((res.prediction == yb).sum())
            total_spikes += float(res.total_spikes.sum())
            bar.step(b + 1, value.item())
        record = {
            "epoch": float(epoch + 1),
            "loss": total_loss / len(y_train),
            "train_accuracy": total_correct / len(y_train),
            "spikes": total_spikes / len(y_train),
            "seconds": time.perf_counter() - t0,
        }
        history.append(record)
        bar.end(record)
        if ckpt is not None:
            _save_checkpoint(torch, ckpt, {
                "format": CHECKPOINT_FORMAT,
                "config": config.to_json(),
                "epoch": epoch + 1,
                "model": model.state_dict(),
                "optimizer": optimizer.state_dict(),
                "scheduler": scheduler.state_dict(),
                "rng_shuffle": shuffle.get_state(),
                "rng_schedule": sched_gen.get_state(),
                "history": history,
            })
        if callback is not None and callback(record) is False:
            break

    result = TrainResult(model=model, config=config, history=history)
    if test_set is not None:
        x_test, y_test = _as_arrays(test_set, "test_data")
        shape = tuple(x_test.shape[2:])
        result.network = to_network(model, dt, shape)
        schedules = evaluate_schedules
        if schedules is None:
            schedules = [("sync", None)]
            if config.schedule != "sync":
                schedules.append((config.schedule, config.group_size))
        result.evaluation = evaluate(result.network, x_test, y_test, schedules)
    return result


# ------------------------------------------------------------------------------------------------------
# command line
# ------------------------------------------------------------------------------------------------------
def _parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(
        prog="python -m neuroemu.training",
        description="Train a spiking network inside a schedule of the step model and save it for neuroemu.",
    )
    ap.add_argument("--dataset", choices=_DATASETS, default="digits")
    ap.add_argument("--schedule", choices=("sync", "random", "momentum", "fifo"), default="sync")
    ap.add_argument("--group-size", type=int, default=None, help="F (asynchronous schedules); default all")
    ap.add_argument("--queued-input", action="store_true", help="queue input events instead of prioritising them")
    ap.add_argument("--epochs", type=int, default=30)
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--loss", choices=LOSSES, default="count")
    ap.add_argument("--hidden", default="128,64", help="hidden layer sizes, comma separated")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--limit", type=int, default=None, help="use only the first N training samples")
    ap.add_argument("--device", default=None, help="cpu, cuda, ... (default cuda when available)")
    ap.add_argument("--threads", type=int, default=None, help="torch.set_num_threads")
    ap.add_argument("--checkpoint", default=None, help="checkpoint file, written after every epoch")
    ap.add_argument("--resume", action="store_true", help="continue from --checkpoint")
    ap.add_argument("--out", default=None, help="write the trained model here (.npz)")
    ap.add_argument("--quiet", action="store_true", help="no progress output")
    return ap


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point (``python -m neuroemu.training``; the ``neuroemu train`` command).

    Trains with :func:`train`, prints the engine evaluation, and writes the model with
    :func:`save_model` when ``--out`` is given. Returns the process exit status.
    """
    args = _parser().parse_args(list(argv) if argv is not None else None)
    torch = _torch()
    if args.threads is not None:
        torch.set_num_threads(int(args.threads))
    try:
        hidden = tuple(int(h) for h in args.hidden.split(",") if h.strip())
    except ValueError:
        print(f"--hidden must be comma-separated integers, got {args.hidden!r}", file=sys.stderr)
        return 2
    config = TrainConfig(
        dataset=args.dataset,
        schedule=args.schedule,
        group_size=args.group_size,
        prioritize_input=not args.queued_input,
        epochs=args.epochs,
        batch_size=args.batch_size,
        lr=args.lr,
        loss=args.loss,
        seed=args.seed,
        hidden=hidden,
        limit=args.limit,
    )
    try:
        result = train(
            config=config, device=args.device, checkpoint=args.checkpoint, resume=args.resume,
            progress=not args.quiet,
            evaluate_schedules=[("sync", None), ("momentum", 4), ("momentum", 1)],
        )
    except (ConfigError, NeuroemuTypeError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"trained {config.dataset} with schedule {config.schedule}"
          + ("" if config.schedule == "sync" else f" F={config.group_size or 'all'}")
          + f", {config.epochs} epochs, seed {config.seed}")
    print("| evaluated under | accuracy | spikes/inference | synops/inference | forward steps |")
    print("|---|---|---|---|---|")
    for label, m in result.evaluation.items():
        print(f"| {label} | {m['accuracy']:.4f} | {m['spikes']:.1f} | {m['synops']:.0f} | {m['forward_steps']:.1f} |")
    if args.out:
        metrics = {"evaluation": result.evaluation, "history": result.history}
        path = save_model(result.model.cpu(), args.out, dt=result.network.dt if result.network else 1e-3,
                          config=config, metrics=metrics)
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
