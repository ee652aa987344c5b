"""The neuroemu command: results equal the Python API's, errors are one line with exit code 2."""

from __future__ import annotations

import csv
import json
import subprocess
import sys

import numpy as np
import pytest
from click.testing import CliRunner

import neuroemu
from neuroemu import datasets
from neuroemu.cli import entry_point, main
from neuroemu.training import pretrained


def invoke(*args: str):
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def test_version():
    result = invoke("--version")
    assert result.exit_code == 0
    assert neuroemu.__version__ in result.output


def test_run_matches_the_python_api(tmp_path):
    out_json, out_csv = tmp_path / "r.json", tmp_path / "r.csv"
    result = invoke("run", "pretrained:digits_momentum_f4", "--samples", "40", "--schedule", "momentum",
                    "--group-size", "4", "--hardware", "loihi", "--json", str(out_json), "--csv", str(out_csv))
    assert result.exit_code == 0, result.output
    record = json.loads(out_json.read_text())["results"][0]

    data = datasets.digits(split="test")
    x, y = np.asarray(data.frames[:40], dtype=np.float64), data.labels[:40]
    batch = neuroemu.Emulator(pretrained("digits_momentum_f4"), schedule="momentum", group_size=4,
                              hardware="loihi").run_batch(x, y)
    assert record["accuracy"] == pytest.approx(batch.accuracy)
    assert record["spikes"] == pytest.approx(batch.total_spikes.mean())
    assert record["forward_steps"] == pytest.approx(batch.forward_steps.mean())
    assert record["energy_pj"]["total"] == pytest.approx(float(np.mean(batch.energy_pj.total)))
    assert record["samples"] == 40 and record["group_size"] == 4 and record["mode"] == "step"
    with out_csv.open() as f:
        rows = list(csv.DictReader(f))
    assert float(rows[0]["accuracy"]) == pytest.approx(batch.accuracy)
    assert float(rows[0]["energy_pj.total"]) == pytest.approx(record["energy_pj"]["total"])


def test_run_timed_reports_time_to_decision(tmp_path):
    out = tmp_path / "t.json"
    result = invoke("run", "pretrained:digits_sync", "--samples", "10", "--mode", "timed", "--hardware", "loihi",
                    "--json", str(out))
    assert result.exit_code == 0, result.output
    record = json.loads(out.read_text())["results"][0]
    assert record["time_to_decision_ns"] > 0
    assert record["energy_pj"]["total"] > 0
    assert record["energy_pj"]["static"] == 0.0  # the loihi preset states no static power (docs/hardware.md)


def test_run_on_an_npz_dataset_and_a_saved_network(tmp_path):
    net = pretrained("digits_sync")
    net.save(tmp_path / "net.neuroemu")
    data = datasets.digits(split="test")
    np.savez(tmp_path / "data.npz", frames=data.frames[:10], labels=data.labels[:10])
    result = invoke("run", str(tmp_path / "net.neuroemu"), "--data", str(tmp_path / "data.npz"))
    assert result.exit_code == 0, result.output
    assert "sync" in result.output


def test_info_reports_layers_and_mapping():
    result = invoke("info", "pretrained:digits_sync", "--hardware", "loihi")
    assert result.exit_code == 0, result.output
    assert "64 inputs" in result.output and "202 neurons" in result.output
    assert "loihi" in result.output


def test_demo_prints_both_tables_and_writes_a_figure(tmp_path):
    pytest.importorskip("matplotlib")
    figure = tmp_path / "demo.png"
    result = invoke("demo", "--samples", "20", "--figure", str(figure))
    assert result.exit_code == 0, result.output
    assert "Step model" in result.output and "Timed model" in result.output
    assert result.output.count("digits_momentum_f4") >= 2
    assert figure.stat().st_size > 1000


@pytest.mark.parametrize(
    "args, message",
    [
        (["run", "no-such-model.npz"], "neither a file"),
        (["run", "pretrained:nope"], "name"),
        (["run", "pretrained:digits_sync", "--group-size", "x"], "--group-size"),
        (["run", "pretrained:digits_sync", "--mode", "timed", "--group-size", "4", "--hardware", "loihi"],
         "no meaning in timed mode"),
        (["run", "pretrained:digits_sync", "--hardware", "nosuchchip"], "nosuchchip"),
        (["run", "pretrained:digits_sync", "--data", "missing.npz"], "missing.npz"),
    ],
)
def test_errors_are_one_line_with_exit_code_2(args, message, capsys):
    with pytest.raises(SystemExit) as exit_info:
        entry_point(args)
    assert exit_info.value.code == 2
    err = capsys.readouterr().err.strip()
    assert message in err
    assert "Traceback" not in err


def test_debug_shows_the_traceback(capsys):
    with pytest.raises(SystemExit):
        entry_point(["--debug", "run", "pretrained:nope"])
    assert "Traceback" in capsys.readouterr().err


def test_console_script_runs():
    result = subprocess.run([sys.executable, "-m", "neuroemu", "--version"], capture_output=True, text=True,
                            check=False)
    assert result.returncode == 0 and neuroemu.__version__ in result.stdout
