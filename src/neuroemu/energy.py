"""Energy in pJ = operation counts x per-operation costs, plus static power x modelled time.

The engine counts operations and knows no energy units (docs/hardware.md); this module multiplies. Every
field is a float for one sample or a ``(B,)`` array for a batch.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

import numpy as np
from numpy.typing import NDArray

from .hardware import OperationCosts

__all__ = ["EnergyBreakdown", "HardwareCounters", "energy_breakdown"]

Number = Any  # float or a (B,) float array


@dataclass(frozen=True, eq=False)
class HardwareCounters:
    """The operation counts the cost model multiplies; ints for one sample or (B,) arrays for a batch.

    ``duration_ns`` is the modelled time of the sample (timed mode) or None (step mode: no static energy).
    ``cores`` is the number of cores the deployment uses (static power is paid per used core).
    """

    synops: Number
    active_updates: Number
    inactive_updates: Number
    spikes: Number
    messages: Number
    in_tile_messages: Number
    hops_east_west: Number
    hops_north_south: Number
    chip_crossings: Number
    barriers: Number
    cores: int
    duration_ns: Number | None = None

    def __getitem__(self, b: int) -> HardwareCounters:
        """Sample ``b`` of batch counters."""
        values = {}
        for f in fields(self):
            v = getattr(self, f.name)
            values[f.name] = v[b] if isinstance(v, np.ndarray) else v
        return HardwareCounters(**values)


@dataclass(frozen=True, eq=False)
class EnergyBreakdown:
    """Energy in pJ by kind of operation.

    - ``synaptic``: synaptic operations x ``synop``;
    - ``neuron_update``: active updates x ``neuron_active`` + inactive (per-bin leak) updates x
      ``neuron_inactive``;
    - ``spike_message``: spikes x ``spike_out`` + messages within a tile x ``message``;
    - ``routing``: east-west hops x ``hop_east_west`` + north-south hops x ``hop_north_south`` + chip
      crossings x ``chip_hop`` + barriers x ``barrier``;
    - ``static``: ``static_mw_per_core`` x used cores x modelled time (0 in step mode, which has no time).
    """

    synaptic: Number
    neuron_update: Number
    spike_message: Number
    routing: Number
    static: Number

    @property
    def total(self) -> Number:
        return self.synaptic + self.neuron_update + self.spike_message + self.routing + self.static

    @property
    def dynamic(self) -> Number:
        """Everything but static energy."""
        return self.synaptic + self.neuron_update + self.spike_message + self.routing

    def as_dict(self) -> dict[str, Number]:
        out = {f.name: getattr(self, f.name) for f in fields(self)}
        out["total"] = self.total
        return out

    def __getitem__(self, b: int) -> EnergyBreakdown:
        """Sample ``b`` of a batch breakdown."""
        return EnergyBreakdown(**{f.name: getattr(self, f.name)[b] for f in fields(self)})

    def __repr__(self) -> str:
        parts = ", ".join(f"{k}={_fmt(v)}" for k, v in self.as_dict().items())
        return f"EnergyBreakdown(pJ: {parts})"


def _fmt(value: Number) -> str:
    if isinstance(value, np.ndarray):
        return f"array(mean={float(np.mean(value)):.6g})" if value.size else "array([])"
    return f"{float(value):.6g}"


def _f(x: Number) -> NDArray[np.float64] | float:
    return np.asarray(x, dtype=np.float64) if isinstance(x, np.ndarray) else float(x)


def energy_breakdown(counters: HardwareCounters, costs: OperationCosts) -> EnergyBreakdown:
    """Energy of ``counters`` under ``costs``. Raises ConfigError naming any energy the profile lacks.

    An operation that never happened (count 0 everywhere) needs no energy figure.
    """

    def term(count: Number, op: str) -> Number:
        if not np.any(np.asarray(count)):
            return _f(count) * 0.0
        return _f(count) * costs.energy(op)

    synaptic = term(counters.synops, "synop")
    neuron = term(counters.active_updates, "neuron_active") + term(counters.inactive_updates, "neuron_inactive")
    spike = term(counters.spikes, "spike_out") + term(counters.in_tile_messages, "message")
    routing = (
        term(counters.hops_east_west, "hop_east_west")
        + term(counters.hops_north_south, "hop_north_south")
        + term(counters.chip_crossings, "chip_hop")
        + term(counters.barriers, "barrier")
    )
    if counters.duration_ns is None:
        static = _f(counters.synops) * 0.0
    else:
        power = costs.static_mw_per_core
        if power is None:
            from .errors import ConfigError

            raise ConfigError(
                "the hardware profile gives no static power (costs.static_mw_per_core); state 0.0 to leave "
                "static energy out"
            )
        static = _f(counters.duration_ns) * (power * counters.cores)  # mW x ns = pJ
    return EnergyBreakdown(synaptic, neuron, spike, routing, static)
