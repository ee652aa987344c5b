"""Finds a network from what a user names on the command line: a shipped model, or a file of any kind
neuroemu reads (a trained-model file, a saved network, an NIR graph, a PyTorch checkpoint)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from .errors import ConfigError, ModelImportError
from .network import Network

__all__ = ["PRETRAINED_PREFIX", "load_network", "describe_model"]

PRETRAINED_PREFIX = "pretrained:"
_NETWORK_MAGIC = b"NEUROEMU"
_ZIP_MAGIC = b"PK"


def load_network(name: str | os.PathLike[str], *, dt: float | None = None) -> Network:
    """The network that ``name`` refers to.

    - ``pretrained:NAME``: a model shipped with neuroemu (see ``neuroemu.training.PRETRAINED``);
    - a trained-model file written by ``neuroemu train`` (``.npz``);
    - a network saved with :meth:`Network.save`;
    - an NIR graph (``.nir``; ``dt`` is the exporter's time step, 1e-4 for snnTorch);
    - a PyTorch checkpoint written by ``neuroemu train`` (``.pt``).
    """
    from . import training

    text = os.fspath(name)
    if text.startswith(PRETRAINED_PREFIX):
        return training.pretrained(text[len(PRETRAINED_PREFIX) :])
    path = Path(text)
    if not path.is_file():
        raise ConfigError(
            f"model {text!r} is neither a file nor one of "
            + ", ".join(PRETRAINED_PREFIX + p for p in training.PRETRAINED)
        )
    with path.open("rb") as f:
        head = f.read(8)
    if head.startswith(_NETWORK_MAGIC):
        return Network.load(path)
    if path.suffix == ".nir":
        if dt is None:
            raise ConfigError(f"{text}: an NIR graph needs --dt, the time step its exporter used (snnTorch: 1e-4)")
        return Network.from_nir(path, dt=dt)
    if head.startswith(_ZIP_MAGIC) and path.suffix == ".npz":
        return training.load_model(path)
    if path.suffix in (".pt", ".pth"):
        model = training.load_torch_model(path)
        return training.to_network(model, dt=1.0 if dt is None else dt)
    raise ModelImportError(
        f"{text}: unknown model file; expected a neuroemu model (.npz), a saved network, an NIR graph (.nir) "
        "or a PyTorch checkpoint (.pt)"
    )


def describe_model(network: Network) -> dict[str, Any]:
    """Layers, neurons and synapses of a network, as plain data."""
    layers = []
    for index, population in enumerate(network.populations):
        incoming = [p for p in network.projections if p.target == index]
        layers.append(
            {
                "layer": index,
                "name": population.name or f"layer {index}",
                "neurons": population.size,
                "shape": list(population.shape) if population.shape else None,
                "synapses_in": sum(p.n_synapses for p in incoming),
                "sources": [("input" if p.source < 0 else p.source) for p in incoming],
                "reset": population.reset,
                "refractory": population.refractory,
                "threshold_mean": float(population.threshold.mean()),
                "beta_mean": float(population.beta.mean()),
            }
        )
    return {
        "inputs": network.n_inputs,
        "neurons": network.n_neurons,
        "synapses": network.n_synapses,
        "dt": network.dt,
        "layers": layers,
    }
