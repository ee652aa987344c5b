"""Hardware profiles: core limits and per-operation energy and latency, as data (docs/hardware.md).

A :class:`Hardware` profile is plain, frozen data: :class:`CoreLimits` (what fits on a core and how cores
sit on the mesh) and :class:`OperationCosts` (energy in pJ and latency in ns of each operation the engine
counts, and static power per core). Presets live in ``neuroemu/data/hardware/*.toml``, every number next to
a ``*_source`` string naming where it comes from. Users define their own in Python or in TOML.

A field left as ``None`` is *not given*: a capacity not given is unlimited; an energy not given is an error
when the energy is asked for (state ``0.0`` to ignore an operation); the timed model refuses a profile
whose latencies it needs are not given.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

import numpy as np

from ._toml import read_toml
from .errors import ConfigError, NeuroemuTypeError

__all__ = ["Cost", "CoreLimits", "OperationCosts", "Hardware", "PRESETS", "OPERATIONS"]

_PRESET_DIR = Path(__file__).parent / "data" / "hardware"
PRESETS = ("loihi", "seneca", "generic45nm")

# The operations of a profile, in the order of OperationCosts' fields, with what each one is.
OPERATIONS: dict[str, str] = {
    "synop": "one synaptic operation (a delivered spike x one synapse)",
    "neuron_active": "an active neuron update: integrate a current and check the threshold",
    "neuron_inactive": "an inactive neuron update: the per-bin leak of a mapped neuron",
    "spike_out": "a neuron generates a spike (before it is routed)",
    "message": "a spike message delivered to a core in the same tile",
    "hop_east_west": "one east-west hop between neighbouring tiles on the mesh",
    "hop_north_south": "one north-south hop between neighbouring tiles on the mesh",
    "chip_hop": "one crossing between neighbouring chips (on top of the mesh hops)",
    "barrier": "one barrier (end of a layer's phase, schedule='sync')",
}

# Latencies the timed model needs for every run; "barrier" is added for schedule="sync" and "chip_hop"
# where a deployment spans several chips.
TIMED_LATENCIES = ("synop", "neuron_active", "neuron_inactive", "spike_out", "message", "hop_east_west",
                   "hop_north_south")


def _number(value: Any, name: str, *, allow_none: bool = True) -> float | None:
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise NeuroemuTypeError(f"{name} must be a number, got {type(value).__name__}")
    if not math.isfinite(value) or value < 0:
        raise ConfigError(f"{name} must be finite and >= 0, got {value}")
    return float(value)


def _capacity(value: Any, name: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise NeuroemuTypeError(f"{name} must be a positive integer or None (unlimited), got {value!r}")
    if value < 1:
        raise ConfigError(f"{name} must be >= 1 (leave it out for unlimited), got {value}")
    return int(value)


@dataclass(frozen=True)
class Cost:
    """Energy (pJ) and latency (ns) of one operation; ``None`` = not given."""

    energy_pj: float | None = None
    latency_ns: float | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "energy_pj", _number(self.energy_pj, "energy_pj"))
        object.__setattr__(self, "latency_ns", _number(self.latency_ns, "latency_ns"))


@dataclass(frozen=True)
class OperationCosts:
    """Per-operation costs (see ``OPERATIONS``) and static power per used core in mW (= pJ/ns)."""

    synop: Cost = Cost()
    neuron_active: Cost = Cost()
    neuron_inactive: Cost = Cost()
    spike_out: Cost = Cost()
    message: Cost = Cost()
    hop_east_west: Cost = Cost()
    hop_north_south: Cost = Cost()
    chip_hop: Cost = Cost()
    barrier: Cost = Cost()
    static_mw_per_core: float | None = None

    def __post_init__(self) -> None:
        for name in OPERATIONS:
            cost = getattr(self, name)
            if isinstance(cost, Mapping):
                cost = Cost(**cost)
            if not isinstance(cost, Cost):
                raise NeuroemuTypeError(f"costs.{name} must be a neuroemu.Cost, got {type(cost).__name__}")
            object.__setattr__(self, name, cost)
        object.__setattr__(
            self, "static_mw_per_core", _number(self.static_mw_per_core, "costs.static_mw_per_core")
        )

    def energy(self, operation: str) -> float:
        """The energy of ``operation`` in pJ; ConfigError if the profile does not give it."""
        value = getattr(self, operation).energy_pj
        if value is None:
            raise ConfigError(
                f"the hardware profile gives no energy for {operation!r} (costs.{operation}.energy_pj); "
                "state 0.0 to leave the operation out of the energy"
            )
        return float(value)

    def latencies_ps(self) -> dict[str, int]:
        """Every given latency in integer picoseconds (the engine's unit), rounded to the nearest ps."""
        return {
            name: int(round(getattr(self, name).latency_ns * 1000.0))
            for name in OPERATIONS
            if getattr(self, name).latency_ns is not None
        }


@dataclass(frozen=True)
class CoreLimits:
    """What fits on one core and how cores are laid out; ``None`` = unlimited.

    Parameters
    ----------
    neurons_per_core : int or None
    synapses_per_core : int or None
        Synapses onto the neurons of one core (fan-in synapses stored in the core's memory).
    fan_in_per_core : int or None
        Distinct presynaptic sources (input channels or neurons) that may send to one core.
    cores_per_tile : int
        Cores that share a mesh router (a tile); messages between them cost the in-tile ``message``.
    mesh : (int, int) or None
        Tiles per chip along east-west (x) and north-south (y). ``None``: one chip with as many tiles
        as needed, laid out on a square grid.
    max_chips : int or None
        Chips available; chips sit side by side along x, and a message between chips also pays
        ``chip_hop`` per chip boundary crossed.
    """

    neurons_per_core: int | None = None
    synapses_per_core: int | None = None
    fan_in_per_core: int | None = None
    cores_per_tile: int = 1
    mesh: tuple[int, int] | None = None
    max_chips: int | None = None

    def __post_init__(self) -> None:
        for name in ("neurons_per_core", "synapses_per_core", "fan_in_per_core", "max_chips"):
            object.__setattr__(self, name, _capacity(getattr(self, name), f"limits.{name}"))
        tile = _capacity(self.cores_per_tile, "limits.cores_per_tile")
        if tile is None:
            raise ConfigError("limits.cores_per_tile must be a positive integer")
        object.__setattr__(self, "cores_per_tile", tile)
        if self.mesh is not None:
            if isinstance(self.mesh, (str, bytes)) or len(self.mesh) != 2:
                raise ConfigError(f"limits.mesh must be (tiles_x, tiles_y), got {self.mesh!r}")
            mesh = (_capacity(self.mesh[0], "limits.mesh[0]"), _capacity(self.mesh[1], "limits.mesh[1]"))
            object.__setattr__(self, "mesh", mesh)

    @property
    def cores_per_chip(self) -> int | None:
        """``tiles_x * tiles_y * cores_per_tile``; None without a mesh (unlimited)."""
        if self.mesh is None:
            return None
        return self.mesh[0] * self.mesh[1] * self.cores_per_tile


@dataclass(frozen=True)
class Hardware:
    """A hardware profile: core limits, per-operation costs and the source of every number.

    Parameters
    ----------
    name : str
    limits : CoreLimits
    costs : OperationCosts
    description : str
    sources : mapping of str to str
        Where each number comes from, keyed by its path, e.g. ``"costs.synop.energy_pj"`` or
        ``"limits.neurons_per_core"``.

    Examples
    --------
    >>> hw = Hardware.preset("loihi")
    >>> hw.costs.synop.energy_pj
    23.6
    >>> mine = Hardware("mine", CoreLimits(neurons_per_core=256),
    ...                 OperationCosts(synop=Cost(1.0, 2.0)))
    """

    name: str
    limits: CoreLimits = CoreLimits()
    costs: OperationCosts = OperationCosts()
    description: str = ""
    sources: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise NeuroemuTypeError(f"name must be a non-empty string, got {self.name!r}")
        if not isinstance(self.limits, CoreLimits):
            raise NeuroemuTypeError(f"limits must be a neuroemu.CoreLimits, got {type(self.limits).__name__}")
        if not isinstance(self.costs, OperationCosts):
            raise NeuroemuTypeError(f"costs must be a neuroemu.OperationCosts, got {type(self.costs).__name__}")
        if not isinstance(self.description, str):
            raise NeuroemuTypeError("description must be a string")
        sources = dict(self.sources)
        for key, value in sources.items():
            if not isinstance(key, str) or not isinstance(value, str):
                raise NeuroemuTypeError("sources must map field paths (str) to citations (str)")
        object.__setattr__(self, "sources", sources)

    # -- presets and files -------------------------------------------------------------------------------
    @classmethod
    def preset(cls, name: str) -> Hardware:
        """One of the built-in profiles: ``"loihi"``, ``"seneca"`` or ``"generic45nm"``."""
        if not isinstance(name, str):
            raise NeuroemuTypeError(f"preset name must be a string, got {type(name).__name__}")
        if name not in PRESETS:
            raise ConfigError(f"unknown hardware preset {name!r}; the presets are {PRESETS}")
        return cls.from_toml(_PRESET_DIR / f"{name}.toml")

    @classmethod
    def from_toml(cls, path: str | Path) -> Hardware:
        """Reads a profile written by :meth:`to_toml` (or by hand, in the same layout)."""
        path = Path(path)
        data = read_toml(path, "hardware profile")
        try:
            return cls.from_dict(data)
        except (ConfigError, NeuroemuTypeError) as exc:
            raise type(exc)(f"{path}: {exc}") from exc

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Hardware:
        """The inverse of :meth:`to_dict`: ``*_source`` keys sit next to the numbers they cite."""
        data = dict(data)
        sources: dict[str, str] = {}

        def split(table: Mapping[str, Any], prefix: str, allowed: set[str]) -> dict[str, Any]:
            values = {}
            for key, value in table.items():
                if key.endswith("_source") and key[: -len("_source")] in allowed:
                    if not isinstance(value, str):
                        raise NeuroemuTypeError(f"{prefix}{key} must be a string")
                    sources[prefix + key[: -len("_source")]] = value
                elif key in allowed:
                    values[key] = value
                else:
                    raise ConfigError(f"unknown key {prefix}{key} (expected one of {sorted(allowed)})")
            return values

        top = split({k: v for k, v in data.items() if k not in ("limits", "costs")}, "", {"name", "description"})
        limit_names = {f.name for f in fields(CoreLimits)}
        limits_table = data.get("limits", {})
        costs_table = data.get("costs", {})
        if not isinstance(limits_table, Mapping) or not isinstance(costs_table, Mapping):
            raise ConfigError("limits and costs must be tables")
        limit_values = split(limits_table, "limits.", limit_names)
        if "mesh" in limit_values and limit_values["mesh"] is not None:
            limit_values["mesh"] = tuple(limit_values["mesh"])
        cost_values: dict[str, Any] = {}
        plain = split({k: v for k, v in costs_table.items() if not isinstance(v, Mapping)}, "costs.",
                      {"static_mw_per_core"})
        cost_values.update(plain)
        for op, table in costs_table.items():
            if not isinstance(table, Mapping):
                continue
            if op not in OPERATIONS:
                raise ConfigError(f"unknown operation costs.{op} (expected one of {list(OPERATIONS)})")
            cost_values[op] = Cost(**split(table, f"costs.{op}.", {"energy_pj", "latency_ns"}))
        try:
            return cls(
                name=top.get("name", "unnamed"),
                description=top.get("description", ""),
                limits=CoreLimits(**limit_values),
                costs=OperationCosts(**cost_values),
                sources=sources,
            )
        except (ConfigError, NeuroemuTypeError) as exc:
            raise type(exc)(f"hardware profile {top.get('name', 'unnamed')!r}: {exc}") from exc

    def to_dict(self) -> dict[str, Any]:
        """Nested plain data (the TOML layout), with ``*_source`` keys next to the numbers; None is omitted."""
        out: dict[str, Any] = {"name": self.name}
        if self.description:
            out["description"] = self.description

        def put(table: dict[str, Any], key: str, value: Any, path: str) -> None:
            if value is not None:
                table[key] = list(value) if isinstance(value, tuple) else value
            if path in self.sources:
                table[key + "_source"] = self.sources[path]

        limits: dict[str, Any] = {}
        for f in fields(CoreLimits):
            put(limits, f.name, getattr(self.limits, f.name), f"limits.{f.name}")
        costs: dict[str, Any] = {}
        put(costs, "static_mw_per_core", self.costs.static_mw_per_core, "costs.static_mw_per_core")
        for op in OPERATIONS:
            cost = getattr(self.costs, op)
            table: dict[str, Any] = {}
            put(table, "energy_pj", cost.energy_pj, f"costs.{op}.energy_pj")
            put(table, "latency_ns", cost.latency_ns, f"costs.{op}.latency_ns")
            if table:
                costs[op] = table
        out["limits"] = limits
        out["costs"] = costs
        return out

    def to_toml(self, path: str | Path) -> None:
        """Writes the profile as TOML (``from_toml`` reads it back unchanged)."""
        Path(path).write_text(_dump_toml(self.to_dict()), encoding="utf-8")

    # -- what a run needs -------------------------------------------------------------------------------
    def missing_latencies(self, *, sync: bool = False, chips: int = 1) -> list[str]:
        """The operations whose latency the timed model needs but the profile does not give."""
        needed = list(TIMED_LATENCIES)
        if sync:
            needed.append("barrier")
        if chips > 1:
            needed.append("chip_hop")
        return [op for op in needed if getattr(self.costs, op).latency_ns is None]

    def replace(self, **changes: Any) -> Hardware:
        """A copy with some fields changed (``dataclasses.replace``)."""
        return replace(self, **changes)

    def __repr__(self) -> str:
        return f"Hardware({self.name!r}, {self.limits}, {self.costs})"


_TOML_ESCAPES = {"\\": "\\\\", '"': '\\"', "\n": "\\n", "\t": "\\t"}


# -- a tiny TOML writer for flat profile data ------------------------------------------------------------
def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    if isinstance(value, (float, np.floating)):
        text = repr(float(value))
        return text if any(c in text for c in ".e") else text + ".0"
    if isinstance(value, str):
        escaped = "".join(_TOML_ESCAPES.get(ch, f"\\u{ord(ch):04X}" if ord(ch) < 0x20 or ord(ch) == 0x7F else ch)
                          for ch in value)
        return f'"{escaped}"'
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    raise TypeError(f"cannot write {type(value).__name__} to TOML")


def _dump_toml(data: Mapping[str, Any], prefix: str = "") -> str:
    lines = [f"{key} = {_toml_value(value)}" for key, value in data.items() if not isinstance(value, Mapping)]
    text = "\n".join(lines) + ("\n" if lines else "")
    for key, value in data.items():
        if isinstance(value, Mapping):
            name = f"{prefix}{key}"
            text += f"\n[{name}]\n" + _dump_toml(value, name + ".")
    return text
