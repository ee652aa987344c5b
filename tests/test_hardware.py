"""Hardware profiles: presets and their sources, TOML round trips, bad profiles."""

from __future__ import annotations

import math
from dataclasses import fields

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import neuroemu
from neuroemu import CoreLimits, Cost, Hardware, OperationCosts
from neuroemu.hardware import OPERATIONS, PRESETS


def test_loihi_preset_holds_the_published_numbers():
    hw = Hardware.preset("loihi")
    c = hw.costs
    # Davies et al., IEEE Micro 2018, Table 2 (SPEC section 4)
    assert (c.synop.energy_pj, c.synop.latency_ns) == (23.6, 3.5)
    assert (c.neuron_active.energy_pj, c.neuron_active.latency_ns) == (81.0, 8.4)
    assert (c.neuron_inactive.energy_pj, c.neuron_inactive.latency_ns) == (52.0, 5.3)
    assert (c.message.energy_pj, c.message.latency_ns) == (1.7, 2.1)
    assert (c.hop_east_west.energy_pj, c.hop_east_west.latency_ns) == (3.0, 4.1)
    assert (c.hop_north_south.energy_pj, c.hop_north_south.latency_ns) == (4.0, 6.5)
    assert 113.0 <= c.barrier.latency_ns <= 465.0
    assert hw.limits.neurons_per_core == 1024
    assert hw.limits.cores_per_tile == 4
    assert hw.limits.cores_per_chip == 128
    assert hw.missing_latencies(sync=True) == []
    assert hw.missing_latencies(chips=2) == ["chip_hop"]


def test_seneca_and_generic45nm_energies():
    seneca = Hardware.preset("seneca").costs
    assert seneca.synop.energy_pj == 2.8
    assert seneca.spike_out.energy_pj == 1.1
    assert seneca.message.energy_pj == 2.0
    assert seneca.neuron_active.energy_pj == pytest.approx(3.7 + 1.4 + 1.4 + 3.9)
    generic = Hardware.preset("generic45nm").costs
    assert generic.synop.energy_pj == 0.9
    assert generic.neuron_inactive.energy_pj == pytest.approx(3.7 + 0.9)
    # no latencies: the timed model refuses these presets
    assert "synop" in Hardware.preset("seneca").missing_latencies()
    assert "synop" in Hardware.preset("generic45nm").missing_latencies()


@pytest.mark.parametrize("name", PRESETS)
def test_every_preset_number_has_a_source(name):
    hw = Hardware.preset(name)
    data = hw.to_dict()
    numbers = []
    for key in data["limits"]:
        if not key.endswith("_source"):
            numbers.append(f"limits.{key}")
    for key, value in data["costs"].items():
        if isinstance(value, dict):
            numbers += [f"costs.{key}.{k}" for k in value if not k.endswith("_source")]
        elif not key.endswith("_source"):
            numbers.append(f"costs.{key}")
    assert numbers
    for path in numbers:
        assert hw.sources.get(path, "").strip(), f"{name}: {path} has no source"
    # every energy is given (possibly as an explicit zero), so energy never fails for a one-chip run
    for op in OPERATIONS:
        if op != "chip_hop" or name == "generic45nm":
            assert getattr(hw.costs, op).energy_pj is not None, f"{name}: {op}"
    assert hw.costs.static_mw_per_core is not None


@pytest.mark.parametrize("name", PRESETS)
def test_preset_toml_round_trip(tmp_path, name):
    hw = Hardware.preset(name)
    path = tmp_path / f"{name}.toml"
    hw.to_toml(path)
    again = Hardware.from_toml(path)
    assert again == hw
    assert again.sources == hw.sources


finite = st.floats(min_value=0.0, max_value=1e6, allow_nan=False, allow_infinity=False)
optional = st.none() | finite


@settings(max_examples=40, deadline=None)
@given(
    costs=st.lists(st.tuples(optional, optional), min_size=len(OPERATIONS), max_size=len(OPERATIONS)),
    static=optional,
    npc=st.none() | st.integers(1, 10**6),
    mesh=st.none() | st.tuples(st.integers(1, 64), st.integers(1, 64)),
    tile=st.integers(1, 8),
    text=st.text(max_size=30),
)
def test_any_profile_round_trips_through_toml(tmp_path_factory, costs, static, npc, mesh, tile, text):
    ops = {op: Cost(e, lat) for op, (e, lat) in zip(OPERATIONS, costs)}
    hw = Hardware(
        "custom \"quoted\" \\ name",
        CoreLimits(neurons_per_core=npc, cores_per_tile=tile, mesh=mesh),
        OperationCosts(**ops, static_mw_per_core=static),
        description=text,
        sources={"costs.synop.energy_pj": text + "\n\t'x'"},
    )
    path = tmp_path_factory.mktemp("toml") / "hw.toml"
    hw.to_toml(path)
    assert Hardware.from_toml(path) == hw


@pytest.mark.parametrize("bad", [-1.0, math.nan, math.inf, -0.5])
def test_negative_nan_or_infinite_costs_are_refused(bad):
    with pytest.raises(neuroemu.ConfigError, match="energy_pj"):
        Cost(energy_pj=bad)
    with pytest.raises(neuroemu.ConfigError, match="latency_ns"):
        Cost(latency_ns=bad)
    with pytest.raises(neuroemu.ConfigError, match="static_mw_per_core"):
        OperationCosts(static_mw_per_core=bad)


@pytest.mark.parametrize("name", ["neurons_per_core", "synapses_per_core", "fan_in_per_core", "max_chips",
                                  "cores_per_tile"])
def test_zero_capacities_are_refused(name):
    with pytest.raises(neuroemu.ConfigError, match=name):
        CoreLimits(**{name: 0})
    with pytest.raises(neuroemu.NeuroemuTypeError, match=name):
        CoreLimits(**{name: 2.5})


def test_bad_mesh_and_types():
    with pytest.raises(neuroemu.ConfigError, match="mesh"):
        CoreLimits(mesh=(4, 0))
    with pytest.raises(neuroemu.ConfigError, match="mesh"):
        CoreLimits(mesh=(4,))
    with pytest.raises(neuroemu.NeuroemuTypeError):
        Cost(energy_pj="1.0")
    with pytest.raises(neuroemu.NeuroemuTypeError):
        Hardware("x", costs=CoreLimits())


def test_unknown_preset_and_bad_files(tmp_path):
    with pytest.raises(neuroemu.ConfigError, match="loihi"):
        Hardware.preset("truenorth")
    bad = tmp_path / "bad.toml"
    bad.write_text("name = \n")
    with pytest.raises(neuroemu.ConfigError, match="TOML"):
        Hardware.from_toml(bad)
    bad.write_text('name = "x"\n[costs.synop]\nenergy_pj = -3.0\n')
    with pytest.raises(neuroemu.ConfigError, match="energy_pj"):
        Hardware.from_toml(bad)
    bad.write_text('name = "x"\n[costs.synapse]\nenergy_pj = 3.0\n')
    with pytest.raises(neuroemu.ConfigError, match="costs.synapse"):
        Hardware.from_toml(bad)
    bad.write_text('name = "x"\n[limits]\nneurons_per_cor = 3\n')
    with pytest.raises(neuroemu.ConfigError, match="neurons_per_cor"):
        Hardware.from_toml(bad)
    bad.write_text('name = "x"\n[limits]\nneurons_per_core = 0\n')
    with pytest.raises(neuroemu.ConfigError, match="neurons_per_core"):
        Hardware.from_toml(bad)
    with pytest.raises(neuroemu.ConfigError, match="cannot read"):
        Hardware.from_toml(tmp_path / "missing.toml")


def test_hand_written_toml_without_sources(tmp_path):
    path = tmp_path / "mine.toml"
    path.write_text(
        'name = "mine"\n[limits]\nneurons_per_core = 16\nmesh = [2, 3]\n'
        "[costs]\nstatic_mw_per_core = 0.5\n[costs.synop]\nenergy_pj = 1.5\nlatency_ns = 2\n"
    )
    hw = Hardware.from_toml(path)
    assert hw.limits.mesh == (2, 3) and hw.limits.cores_per_chip == 6
    assert hw.costs.synop == Cost(1.5, 2.0)
    assert hw.costs.static_mw_per_core == 0.5
    assert hw.costs.latencies_ps()["synop"] == 2000
    assert hw.sources == {}


def test_missing_energy_is_an_error_naming_the_field():
    costs = OperationCosts(synop=Cost(1.0))
    assert costs.energy("synop") == 1.0
    with pytest.raises(neuroemu.ConfigError, match="neuron_active"):
        costs.energy("neuron_active")


def test_replace_and_defaults():
    hw = Hardware.preset("loihi")
    faster = hw.replace(costs=OperationCosts(**{
        **{f.name: getattr(hw.costs, f.name) for f in fields(OperationCosts)},
        "synop": Cost(10.0, 1.0),
    }))
    assert faster.costs.synop.latency_ns == 1.0 and faster.limits == hw.limits
    assert CoreLimits().cores_per_chip is None
    assert np.isclose(hw.costs.latencies_ps()["neuron_active"], 8400)
