"""SANA-FE (PyPI ``sanafe``, a C++ time-step simulator of neuromorphic chips) on a workload's network.

SANA-FE is installed only in the benchmark environment (``pip install sanafe``), never vendored; without
it ``available()`` says why and ``run_all.py`` leaves it out.

The matching network: one neuron group per layer with SANA-FE's ``leaky_integrate_fire`` soma (a Loihi-like
LIF: ``threshold``, hard ``reset`` to 0, ``leak_decay = beta``, ``input_decay = 0`` so that a time step's
synaptic current is not carried over) and the workload's exact synapses (``connect_neurons_sparse`` with
the weights of every fan-out list). The architecture is SANA-FE's own Loihi description
(``sanafe/examples/loihi.yaml``: the same energies and latencies) reduced to one LIF soma, one input soma,
one current-based synapse unit and an accumulator dendrite per core, on as many 4-core tiles as the
network needs (at most 1,024 neurons per core; every layer starts on a fresh core, as in neuroemu's
deployment). Input: every input channel is an ``input`` neuron firing as a Bernoulli process with the
workload's probability per time step (SANA-FE's ``poisson`` input), so the input has the same statistics
as the engine's but not the same samples.

Differences that remain (SANA-FE's model, not a choice of this benchmark): a spike reaches the next layer
one time step later, so a sample of T bins is simulated for T + L steps (the last L with the input off);
the potential is rounded to 1/64 every step (Loihi fixed point); the leak is skipped in a neuron's first
update. Spike counts are therefore close to, not equal to, the engine's.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import sys
import tempfile
import time
from collections.abc import Iterator
from typing import Any

import numpy as np

NEURONS_PER_CORE = 1024
CORES_PER_TILE = 4

_ARCH = """\
architecture:
  name: neuroemu_bench_loihi
  attributes:
    topology: mesh
    width: {width}
    height: {height}
    link_buffer_size: 16
    sync_model: fixed
    latency_sync: 0.0
  tile:
    - name: tile[0..{last_tile}]
      attributes:
        energy_north_hop: 4.2e-12
        latency_north_hop: 6.5e-9
        energy_east_hop: 3.0e-12
        latency_east_hop: 4.1e-9
        energy_south_hop: 4.2e-12
        latency_south_hop: 6.5e-9
        energy_west_hop: 3.0e-12
        latency_west_hop: 4.1e-9
      core:
        - name: core[0..{last_core}]
          attributes:
            buffer_position: soma
            buffer_inside_unit: false
            max_neurons_supported: {neurons_per_core}
          axon_in:
            - name: axon_in
              attributes:
                energy_message_in: 0.0
                latency_message_in: 16.0e-9
          soma:
            - name: lif
              attributes:
                model: leaky_integrate_fire
                energy_access_neuron: 51.2e-12
                latency_access_neuron: 6.0e-9
                energy_update_neuron: 21.6e-12
                latency_update_neuron: 3.7e-9
                energy_spike_out: 69.3e-12
                latency_spike_out: 30.0e-9
            - name: input
              attributes:
                model: input
                energy_access_neuron: 0.0
                latency_access_neuron: 0.0
                energy_update_neuron: 0.0
                latency_update_neuron: 0.0
                energy_spike_out: 0.0
                latency_spike_out: 0.0
          dendrite:
            - name: dendrite
              attributes:
                model: accumulator
                energy_update: 0.0
                latency_update: 0.0
          synapse:
            - name: synapse
              attributes:
                model: current_based
                energy_process_spike: 35.5e-12
                latency_process_spike: 3.8e-9
          axon_out:
            - name: axon_out
              attributes:
                energy_message_out: 111.0e-12
                latency_message_out: 5.1e-9
"""


@contextlib.contextmanager
def _quiet_stdout() -> Iterator[None]:
    """SANA-FE's C++ kernel prints progress ("Executed steps: ...") on the process's stdout: silence it."""
    sys.stdout.flush()
    try:
        libc: Any = ctypes.CDLL(None)
    except OSError:
        libc = None
    saved = os.dup(1)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 1)
        yield
    finally:
        if libc is not None:
            libc.fflush(None)
        os.dup2(saved, 1)
        os.close(saved)
        os.close(devnull)


def available() -> tuple[Any, str]:
    """(the sanafe module or None, its version or why it is missing)."""
    try:
        import sanafe
    except Exception as exc:  # ImportError, or a broken binary wheel
        return None, f"sanafe not importable ({type(exc).__name__}: {exc}); install it with  pip install sanafe"
    try:
        from importlib.metadata import version

        return sanafe, version("sanafe")
    except Exception:
        return sanafe, "?"


def _cores_needed(sizes: list[int]) -> int:
    return sum(-(-s // NEURONS_PER_CORE) for s in sizes)


class SanaFeRunner:
    """Builds the workload on a SANA-FE chip once; ``run`` simulates samples one at a time."""

    def __init__(self, sanafe: Any, workload: Any, timing_model: str = "simple") -> None:
        self.sanafe = sanafe
        self.workload = workload
        self.timing_model = timing_model
        sizes = [workload.n_inputs, *workload.layer_sizes]
        cores = _cores_needed(sizes)
        tiles = -(-cores // CORES_PER_TILE)
        width = max(1, int(np.ceil(np.sqrt(tiles))))
        height = -(-tiles // width)
        text = _ARCH.format(
            width=width,
            height=height,
            last_tile=width * height - 1,
            last_core=CORES_PER_TILE - 1,
            neurons_per_core=NEURONS_PER_CORE,
        )
        t0 = time.perf_counter()
        fd, path = tempfile.mkstemp(suffix=".yaml", prefix="neuroemu-sanafe-")
        try:
            with os.fdopen(fd, "w") as f:
                f.write(text)
            arch = sanafe.load_arch(path)
        finally:
            os.unlink(path)
        core_list = arch.cores()
        net = sanafe.Network()
        groups = []
        next_core = 0
        inp = net.create_neuron_group("in", workload.n_inputs, model_attributes={"poisson": 0.0}, soma_hw_name="input")
        self.input_cores_first = []
        for i in range(workload.n_inputs):
            if i % NEURONS_PER_CORE == 0:
                self.input_cores_first.append(i)
            inp[i].map_to_core(core_list[next_core + i // NEURONS_PER_CORE])
        next_core += -(-workload.n_inputs // NEURONS_PER_CORE)
        prev = inp
        attrs = {
            "threshold": float(workload.threshold),
            "reset": 0.0,
            "reset_mode": "hard",
            "leak_decay": float(workload.beta),
            "input_decay": 0.0,
        }
        for k, (size, matrix) in enumerate(zip(workload.layer_sizes, workload.sparse)):
            g = net.create_neuron_group(f"l{k}", int(size), model_attributes=attrs, soma_hw_name="lif")
            fan_out = matrix.tocsc()  # column j = the synapses of source j
            src = np.repeat(np.arange(fan_out.shape[1]), np.diff(fan_out.indptr))
            pairs = list(zip(src.tolist(), fan_out.indices.tolist()))
            prev.connect_neurons_sparse(g, {"weight": fan_out.data.tolist()}, pairs)
            for j in range(size):
                g[j].map_to_core(core_list[next_core + j // NEURONS_PER_CORE])
            next_core += -(-size // NEURONS_PER_CORE)
            groups.append(g)
            prev = g
        self.build_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        self.chip = sanafe.SpikingChip(arch)
        self.chip.load(net)
        self.load_s = time.perf_counter() - t0
        self.n_layers = len(workload.layer_sizes)
        self.cores = cores

    def _set_input(self, p: float) -> None:
        # The input model's probability is an attribute of the core's input unit: one neuron per core sets it.
        mapped = self.chip.mapped_neuron_groups["in"]
        for i in self.input_cores_first:
            mapped[i].set_attributes(model_attributes={"poisson": float(p)})

    def run_one(self, p: float, threads: int) -> dict[str, float]:
        """One sample: T steps of input with probability p, then L steps to flush the layers."""
        chip = self.chip
        t0 = time.perf_counter()
        with _quiet_stdout():
            chip.reset()
            self._set_input(p)
            a = chip.sim(self.workload.bins, timing_model=self.timing_model, processing_threads=threads)
            self._set_input(0.0)
            b = chip.sim(self.n_layers, timing_model=self.timing_model, processing_threads=threads)
        sec = time.perf_counter() - t0
        return {
            "seconds": sec,
            "synops": float(a["spikes"] + b["spikes"]),  # SANA-FE's "spikes": synaptic events processed
            "fired": float(a["neurons_fired"] + b["neurons_fired"]),  # input neurons included
        }

    def run(self, p: float, samples: int, threads: int) -> dict[str, float]:
        rows = [self.run_one(p, threads) for _ in range(samples)]
        return {k: float(np.sum([r[k] for r in rows])) for k in rows[0]}
