"""Figures: each one renders and writes a PNG from real results."""

from __future__ import annotations

import numpy as np
import pytest

import neuroemu
from neuroemu.reporting import summarize

plots = pytest.importorskip("neuroemu.plots")
pytest.importorskip("matplotlib")


def _png(path) -> bool:
    return path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_every_figure_writes_a_png(small_network, small_inputs, tmp_path):
    em = neuroemu.Emulator(small_network, schedule="momentum", group_size=2, record="spikes", hardware="loihi")
    batch = em.run_batch(small_inputs, np.zeros(len(small_inputs), dtype=int))
    record = summarize(batch, em, model="small")
    plots.raster(batch[0], small_network.layer_sizes, tmp_path / "raster.png")
    plots.spikes_per_layer(["small"], [record["spikes_per_layer"]], tmp_path / "layers.png")
    plots.energy_breakdown(["small"], [record["energy_pj"]], tmp_path / "energy.png")
    plots.metric_against_group_size({"small": ([1, 2, 4], [3.0, 2.0, 1.0])}, "spikes", tmp_path / "f.png")
    plots.comparison([record | {"time_to_decision_ns": 1.0}], tmp_path / "cmp.png")
    for name in ("raster", "layers", "energy", "f", "cmp"):
        assert _png(tmp_path / f"{name}.png"), name


def test_a_raster_needs_the_event_log(small_network, small_inputs):
    res = neuroemu.Emulator(small_network).run(small_inputs[0])
    with pytest.raises(ValueError, match="record"):
        plots.raster(res, small_network.layer_sizes)
