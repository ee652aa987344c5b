"""Deployment: neurons onto cores, cores onto the mesh, optional weight quantisation (docs/hardware.md).

:func:`deploy` maps a :class:`~neuroemu.Network` onto a :class:`~neuroemu.Hardware` profile:

- layer by layer (population by population), each layer filling cores in neuron order up to every
  capacity (neurons, synapses and distinct sources per core); a layer larger than a core spans several
  cores and a core never holds two layers;
- core ``k`` goes to chip ``k // cores_per_chip`` and, inside it, to tile ``(k % cores_per_chip) //
  cores_per_tile``, tiles numbered row by row (x first) over the chip's mesh; chips sit side by side along x;
- input events enter at the input port, tile (0, 0) of chip 0;
- a neuron's spike costs one message per destination core (the cores holding its targets).

A violated limit raises :class:`~neuroemu.CapacityError` naming the layer and the limit before anything runs.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from . import _core
from .errors import CapacityError, ConfigError, NeuroemuTypeError
from .hardware import OPERATIONS, Hardware
from .network import Network, Projection

__all__ = ["Deployment", "deploy", "INPUT_PORT"]

INPUT_PORT = (0, 0, 0)  # (chip, x, y): where input events enter the mesh

IntArray = NDArray[np.int64]


def _hardware(hardware: Any) -> Hardware:
    if isinstance(hardware, str):
        return Hardware.preset(hardware)
    if not isinstance(hardware, Hardware):
        raise NeuroemuTypeError(f"hardware must be a preset name or a neuroemu.Hardware, got {type(hardware).__name__}")
    return hardware


def _quantize(network: Network, bits: int) -> tuple[Network, tuple[float, ...]]:
    """Symmetric uniform quantisation per projection: w -> round(w / s) * s, s = max|w| / (2^(bits-1) - 1)."""
    levels = 2 ** (bits - 1) - 1
    projections = []
    scales = []
    for proj in network.projections:
        peak = float(np.max(np.abs(proj.weights))) if proj.weights.size else 0.0
        scale = peak / levels if peak > 0 else 1.0
        q = np.round(proj.weights / scale) * scale
        keep = q != 0.0  # a weight that rounds to zero is no synapse any more
        sources = np.repeat(np.arange(proj.indptr.size - 1), np.diff(proj.indptr))[keep]
        indptr = np.zeros_like(proj.indptr)
        np.cumsum(np.bincount(sources, minlength=proj.indptr.size - 1), out=indptr[1:])
        projections.append(Projection(proj.source, proj.target, indptr, proj.indices[keep].copy(), q[keep]))
        scales.append(scale)
    return Network(network.n_inputs, network.populations, projections, dt=network.dt), tuple(scales)


def _distinct(values: IntArray) -> IntArray:
    """np.unique of a 1-D integer array (sorted, each value once) by a sort: numpy 2.4's np.unique hashes
    instead, which took 19 s on the 10 million synapses of a large network where sorting takes 0.3 s."""
    ordered = np.sort(values)
    if ordered.size == 0:
        return ordered
    keep = np.empty(ordered.size, bool)
    keep[0] = True
    np.not_equal(ordered[1:], ordered[:-1], out=keep[1:])
    return ordered[keep]


def _fan_in(network: Network) -> tuple[IntArray, IntArray, IntArray]:
    """Incoming synapses per neuron and, as CSR (indptr, entries), the distinct sources of each neuron.

    Source entries: input channel c is c, neuron j is n_inputs + j.
    """
    offsets = [s.start for s in network.layer_slices]
    n = network.n_neurons
    targets, sources = [], []
    for proj in network.projections:
        n_src = proj.indptr.size - 1
        first = 0 if proj.source < 0 else network.n_inputs + offsets[proj.source]
        src = first + np.repeat(np.arange(n_src, dtype=np.int64), np.diff(proj.indptr))
        nonzero = proj.weights != 0.0
        targets.append(offsets[proj.target] + proj.indices.astype(np.int64)[nonzero])
        sources.append(src[nonzero])
    tgt = np.concatenate(targets) if targets else np.zeros(0, np.int64)
    src = np.concatenate(sources) if sources else np.zeros(0, np.int64)
    synapses_in = np.bincount(tgt, minlength=n).astype(np.int64)
    pairs = _distinct(tgt * (network.n_inputs + n) + src)
    ptgt, psrc = pairs // (network.n_inputs + n), pairs % (network.n_inputs + n)
    indptr = np.zeros(n + 1, np.int64)
    np.cumsum(np.bincount(ptgt, minlength=n), out=indptr[1:])
    return synapses_in, indptr, psrc


@dataclass(frozen=True, eq=False)
class Deployment:
    """A network mapped onto a hardware profile. Build it with :func:`deploy`.

    Attributes
    ----------
    network : Network
        The network the hardware runs (the quantised one when ``quantize_bits`` is set).
    source_network : Network
        The network as given to :func:`deploy`.
    hardware : Hardware
    quantize_bits : int or None
    weight_scales : tuple of float or None
        Per projection (layer): the weight of one quantisation step.
    core_first_neuron : (cores + 1,) int array
        Core ``c`` holds neurons ``core_first_neuron[c] .. core_first_neuron[c+1] - 1``.
    core_of_neuron : (n_neurons,) int array
    core_layer : (cores,) int array
        The layer (population) of each core.
    core_coords : (cores, 3) int array
        ``(chip, x, y)`` of each core's tile, x and y within its chip.
    neurons_per_core, synapses_per_core, fan_in_per_core : (cores,) int arrays
        Neurons, incoming synapses and distinct presynaptic sources of each core.
    destinations, in_tile_destinations, hops_east_west, hops_north_south, chip_crossings : int arrays
        Per source entry (input channel ``c`` is entry ``c``, neuron ``i`` entry ``n_inputs + i``): the
        destination cores of one of its spikes, how many of them are in its own tile, and the hops and chip
        crossings summed over them.
    """

    network: Network
    source_network: Network
    hardware: Hardware
    quantize_bits: int | None
    weight_scales: tuple[float, ...] | None
    core_first_neuron: IntArray
    core_of_neuron: IntArray
    core_layer: IntArray
    core_coords: IntArray
    neurons_per_core: IntArray
    synapses_per_core: IntArray
    fan_in_per_core: IntArray
    destinations: IntArray
    in_tile_destinations: IntArray
    hops_east_west: IntArray
    hops_north_south: IntArray
    chip_crossings: IntArray

    @property
    def n_cores(self) -> int:
        return int(self.core_layer.size)

    @property
    def n_chips(self) -> int:
        return int(self.core_coords[:, 0].max()) + 1

    @property
    def messages_per_spike(self) -> IntArray:
        """Messages one spike of each neuron sends (its destination cores)."""
        return self.destinations[self.network.n_inputs:]

    def global_tiles(self) -> IntArray:
        """``(chip, global x, y)`` per core: chips side by side along x."""
        out = self.core_coords.copy()
        mesh = self.hardware.limits.mesh
        if mesh is not None:
            out[:, 1] += out[:, 0] * mesh[0]
        return out

    def report(self) -> dict[str, Any]:
        """The mapping as plain data: totals, one row per layer and one row per core."""
        layers = []
        for layer, sl in enumerate(self.network.layer_slices):
            cores = np.flatnonzero(self.core_layer == layer)
            mps = self.messages_per_spike[sl]
            layers.append({
                "layer": layer,
                "neurons": sl.stop - sl.start,
                "cores": int(cores.size),
                "max_neurons_per_core": int(self.neurons_per_core[cores].max()),
                "max_synapses_per_core": int(self.synapses_per_core[cores].max()),
                "max_fan_in_per_core": int(self.fan_in_per_core[cores].max()),
                "mean_messages_per_spike": float(mps.mean()),
                "max_messages_per_spike": int(mps.max()),
            })
        per_core = [
            {
                "core": c,
                "layer": int(self.core_layer[c]),
                "chip": int(self.core_coords[c, 0]),
                "x": int(self.core_coords[c, 1]),
                "y": int(self.core_coords[c, 2]),
                "neurons": int(self.neurons_per_core[c]),
                "synapses": int(self.synapses_per_core[c]),
                "fan_in": int(self.fan_in_per_core[c]),
            }
            for c in range(self.n_cores)
        ]
        return {
            "hardware": self.hardware.name,
            "cores": self.n_cores,
            "chips": self.n_chips,
            "synapses": self.network.n_synapses,
            "quantize_bits": self.quantize_bits,
            "weight_scales": None if self.weight_scales is None else list(self.weight_scales),
            "layers": layers,
            "per_core": per_core,
        }

    def _core_model(self) -> Any:
        """The engine's view (latencies in ps); built on first use. Needs every timed latency."""
        cached = self.__dict__.get("_model")
        if cached is None:
            lat = self.hardware.costs.latencies_ps()
            table = np.array([lat.get(op, 0) for op in OPERATIONS], dtype=np.int64)
            dt_ps = int(round(self.network.dt * 1e12))
            if dt_ps < 1:
                raise ConfigError(f"dt={self.network.dt} s is below one picosecond, the timed model's tick")
            cached = _core.HardwareModel(
                self.network._core(),
                self.core_first_neuron.astype(np.int32),
                self.global_tiles().astype(np.int32),
                table,
                dt_ps,
                np.array(INPUT_PORT, dtype=np.int32),
            )
            object.__setattr__(self, "_model", cached)
        return cached

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state.pop("_model", None)
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)

    def __repr__(self) -> str:
        return f"Deployment({self.network!r} on {self.hardware.name!r}: {self.n_cores} cores, {self.n_chips} chips)"


def deploy(network: Network, hardware: Hardware | str, *, quantize_bits: int | None = None) -> Deployment:
    """Maps ``network`` onto ``hardware`` (a profile or a preset name).

    Parameters
    ----------
    network : Network
    hardware : Hardware or str
    quantize_bits : int, optional
        Quantise every projection's weights to this many bits (2 to 32, sign included) with one scale per
        projection: ``w -> round(w / s) * s``, ``s = max|w| / (2**(bits-1) - 1)``. Weights that round to
        zero stop being synapses.

    Raises
    ------
    CapacityError
        A neuron needs more synapses or sources than a core holds, or the cores do not fit the chips;
        the message names the layer and the limit.
    """
    if not isinstance(network, Network):
        raise NeuroemuTypeError(f"network must be a neuroemu.Network, got {type(network).__name__}")
    hw = _hardware(hardware)
    scales = None
    run_network = network
    if quantize_bits is not None:
        if isinstance(quantize_bits, bool) or not isinstance(quantize_bits, (int, np.integer)):
            raise NeuroemuTypeError(f"quantize_bits must be an integer, got {type(quantize_bits).__name__}")
        if not 2 <= quantize_bits <= 32:
            raise ConfigError(f"quantize_bits must lie in [2, 32], got {quantize_bits}")
        run_network, scales = _quantize(network, int(quantize_bits))
        quantize_bits = int(quantize_bits)

    limits = hw.limits
    synapses_in, src_ptr, src_entries = _fan_in(run_network)
    n_entries = run_network.n_inputs + run_network.n_neurons

    # -- neurons onto cores, layer by layer --------------------------------------------------------------
    firsts: list[int] = []
    core_layer: list[int] = []
    core_synapses: list[int] = []
    core_fan_in: list[int] = []
    seen = np.zeros(n_entries, dtype=np.int64)  # stamp: the core (+1) that last counted a source
    for layer, sl in enumerate(run_network.layer_slices):
        for name, per_neuron, limit in (
            ("synapses_per_core", synapses_in[sl], limits.synapses_per_core),
            ("fan_in_per_core", np.diff(src_ptr)[sl], limits.fan_in_per_core),
        ):
            if limit is not None and per_neuron.size and per_neuron.max() > limit:
                worst = int(np.argmax(per_neuron))
                raise CapacityError(
                    f"layer {layer}: neuron {worst} has {int(per_neuron[worst])} incoming "
                    f"{'synapses' if name == 'synapses_per_core' else 'sources'}, more than "
                    f"{name}={limit} of {hw.name!r}"
                )
        if limits.synapses_per_core is None and limits.fan_in_per_core is None:
            step = limits.neurons_per_core or (sl.stop - sl.start)
            for first in range(sl.start, sl.stop, step):
                last = min(first + step, sl.stop)
                firsts.append(first)
                core_layer.append(layer)
                core_synapses.append(int(synapses_in[first:last].sum()))
                core_fan_in.append(int(_distinct(src_entries[src_ptr[first]:src_ptr[last]]).size))
            continue
        count = syn = fan = 0
        for i in range(sl.start, sl.stop):
            srcs = src_entries[src_ptr[i]:src_ptr[i + 1]]
            stamp = len(firsts)  # the current core's index + 1 once it is opened
            new = int(np.count_nonzero(seen[srcs] != stamp)) if count else srcs.size
            fits = count > 0 and (
                (limits.neurons_per_core is None or count + 1 <= limits.neurons_per_core)
                and (limits.synapses_per_core is None or syn + synapses_in[i] <= limits.synapses_per_core)
                and (limits.fan_in_per_core is None or fan + new <= limits.fan_in_per_core)
            )
            if not fits:
                if count:
                    core_synapses.append(syn)
                    core_fan_in.append(fan)
                firsts.append(i)
                core_layer.append(layer)
                count = syn = fan = 0
                stamp = len(firsts)
                new = srcs.size
            seen[srcs] = stamp
            count += 1
            syn += int(synapses_in[i])
            fan += new
        core_synapses.append(syn)
        core_fan_in.append(fan)
    n_cores = len(firsts)
    core_first = np.array([*firsts, run_network.n_neurons], dtype=np.int64)
    layer_of_core = np.array(core_layer, dtype=np.int64)

    # -- cores onto chips and tiles --------------------------------------------------------------------
    per_chip = limits.cores_per_chip
    if per_chip is None:
        tiles = np.arange(n_cores) // limits.cores_per_tile
        width = max(1, math.ceil(math.sqrt(int(tiles[-1]) + 1)))
        coords = np.stack([np.zeros(n_cores, np.int64), tiles % width, tiles // width], axis=1)
    else:
        assert limits.mesh is not None
        chips_needed = -(-n_cores // per_chip)
        if limits.max_chips is not None and chips_needed > limits.max_chips:
            first_out = int(layer_of_core[limits.max_chips * per_chip])
            raise CapacityError(
                f"layer {first_out} does not fit: the network needs {n_cores} cores, but {hw.name!r} has "
                f"max_chips={limits.max_chips} x {per_chip} cores per chip"
            )
        if chips_needed > 1 and hw.costs.chip_hop.energy_pj is None and hw.costs.chip_hop.latency_ns is None:
            first_out = int(layer_of_core[per_chip])
            raise CapacityError(
                f"layer {first_out} does not fit on one chip: the network needs {n_cores} cores, one "
                f"{hw.name!r} chip holds {per_chip} (limits.mesh x limits.cores_per_tile), and the profile "
                "gives no chip-to-chip cost (costs.chip_hop) to span several chips"
            )
        k = np.arange(n_cores)
        local = k % per_chip
        tile = local // limits.cores_per_tile
        coords = np.stack([k // per_chip, tile % limits.mesh[0], tile // limits.mesh[0]], axis=1)
    coords = coords.astype(np.int64)
    core_of_neuron = np.repeat(np.arange(n_cores), np.diff(core_first)).astype(np.int64)

    # -- routes: destination cores of every source entry -------------------------------------------------
    glob = coords.copy()
    if limits.mesh is not None:
        glob[:, 1] += glob[:, 0] * limits.mesh[0]
    dest_src, dest_core = [], []
    offsets = [s.start for s in run_network.layer_slices]
    for proj in run_network.projections:
        n_src = proj.indptr.size - 1
        first = 0 if proj.source < 0 else run_network.n_inputs + offsets[proj.source]
        nonzero = proj.weights != 0.0
        dest_src.append((first + np.repeat(np.arange(n_src, dtype=np.int64), np.diff(proj.indptr)))[nonzero])
        dest_core.append(core_of_neuron[offsets[proj.target] + proj.indices.astype(np.int64)[nonzero]])
    pairs = np.zeros(0, np.int64)
    if dest_src:
        pairs = _distinct(np.concatenate(dest_src) * n_cores + np.concatenate(dest_core))
    p_src, p_core = pairs // n_cores, pairs % n_cores
    origin = np.empty((n_entries, 3), np.int64)
    origin[: run_network.n_inputs] = INPUT_PORT
    origin[run_network.n_inputs:] = glob[core_of_neuron]
    delta = np.abs(glob[p_core] - origin[p_src])
    in_tile = (delta == 0).all(axis=1)
    hops_ew = np.where(in_tile, 0, delta[:, 1])
    hops_ns = np.where(in_tile, 0, delta[:, 2])
    chips = np.where(in_tile, 0, delta[:, 0])

    def per_entry(values: NDArray[Any]) -> IntArray:
        return np.bincount(p_src, weights=values, minlength=n_entries).astype(np.int64)

    return Deployment(
        network=run_network,
        source_network=network,
        hardware=hw,
        quantize_bits=quantize_bits,
        weight_scales=scales,
        core_first_neuron=core_first,
        core_of_neuron=core_of_neuron,
        core_layer=layer_of_core,
        core_coords=coords,
        neurons_per_core=np.diff(core_first),
        synapses_per_core=np.array(core_synapses, dtype=np.int64),
        fan_in_per_core=np.array(core_fan_in, dtype=np.int64),
        destinations=per_entry(np.ones(p_src.size)),
        in_tile_destinations=per_entry(in_tile.astype(np.float64)),
        hops_east_west=per_entry(hops_ew.astype(np.float64)),
        hops_north_south=per_entry(hops_ns.astype(np.float64)),
        chip_crossings=per_entry(chips.astype(np.float64)),
    )
