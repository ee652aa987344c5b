"""Sweeps (neuroemu.sweep): every executor gives the results of one serial run_batch over the whole dataset,
failed tasks are retried, a lost worker loses nothing, and a rerun resumes from the task files.

The reference is always an Emulator built by hand and run once over all samples (first_index 0); the
sweep splits the samples into shards that run elsewhere. Faults are injected through the testing hook of
neuroemu.sweep (FAULTS_ENV): a task that finds a ``fail-KEY`` marker raises once, one that finds
``kill-KEY`` kills its own worker process, and every execution leaves a ``ran-KEY-...`` file.
"""

from __future__ import annotations

import json
import os
import sys
from dataclasses import fields, is_dataclass
from pathlib import Path

import distributed  # the test extra installs it: these tests run in CI, never skipped
import numpy as np
import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

import neuroemu
from neuroemu.cli import main
from neuroemu.datasets import Dataset
from neuroemu.errors import ConfigError, InputError, SweepError
from neuroemu.reporting import summarize
from neuroemu.sweep import FAULTS_ENV, Grid, plan, sweep

posix_only = pytest.mark.skipif(sys.platform == "win32", reason="kills a worker with SIGKILL")


def _network(threshold: float = 1.0) -> neuroemu.Network:
    rng = np.random.default_rng(11)
    weights = [rng.normal(0.5, 0.7, size=(12, 10)), rng.normal(0.35, 0.6, size=(4, 12))]
    return neuroemu.Network.from_weights(weights, threshold=threshold, beta=0.85, dt=1e-3)


NET = _network()


def _dataset(samples: int = 26) -> Dataset:
    rng = np.random.default_rng(5)
    frames = (rng.random((samples, 6, 10)) < 0.45).astype(np.float32)
    return Dataset(frames, rng.integers(0, 4, samples), dt=1e-3, n_classes=4, name="toy")


DATA = _dataset()
GRID = {
    "models": {"toy": NET},
    "schedules": ["sync", "random", "momentum", "fifo"],
    "group_sizes": ["all", 2],
    "modes": ["step", "timed"],
    "hardware": ["loihi"],
    "shard_size": 7,
    "seed": 3,
}
SMALL_GRID = {"models": {"toy": NET}, "schedules": ["random", "momentum"], "group_sizes": [1, 3], "shard_size": 5}


def _reference(point, *, hardware="loihi", samples=None, seed=3):
    """One serial run over the whole dataset, the way a user would write it."""
    frames, labels = DATA.frames[:samples], DATA.labels[:samples]
    emulator = neuroemu.Emulator(NET, schedule=point.schedule, group_size=point.group_size, mode=point.mode,
                                 hardware=hardware if point.hardware else None, seed=seed)
    batch = emulator.run_batch(frames, labels)
    return batch, summarize(batch, emulator, model=point.model, dataset=DATA.name)


def _assert_same(got, ref, path="batch"):
    """Every array the sweep keeps equals the reference exactly; only event logs, traces and spikes per
    neuron may be left out."""
    for f in fields(got):
        a, b = getattr(got, f.name), getattr(ref, f.name)
        if a is None and b is not None:
            assert f.name in ("_spike_counts", "events", "trace"), f"{path}.{f.name} was dropped"
        elif isinstance(a, np.ndarray):
            assert a.dtype == b.dtype and np.array_equal(a, b, equal_nan=a.dtype.kind == "f"), f"{path}.{f.name}"
        elif is_dataclass(a):
            _assert_same(a, b, f"{path}.{f.name}")
        else:
            assert a == b, f"{path}.{f.name}"


def _check_against_reference(result, **kwargs):
    assert len(result.records) == len(result.points) > 0
    for index, point in enumerate(result.points):
        ref_batch, ref_record = _reference(point, **kwargs)
        assert result.records[index] == ref_record, point
        _assert_same(result.batch(index), ref_batch)


def _runs(folder: Path) -> list[str]:
    """The keys of the task executions logged by the fault hook (one entry per execution)."""
    return [p.name.split("-")[1] for p in folder.glob("ran-*")]


@pytest.fixture
def faults(tmp_path, monkeypatch):
    folder = tmp_path / "faults"
    folder.mkdir()
    monkeypatch.setenv(FAULTS_ENV, str(folder))
    return folder


# -- the grid ---------------------------------------------------------------------------------------------


def test_grid_from_toml_resolves_paths_and_skips_what_does_not_apply(tmp_path):
    folder = tmp_path / "study"
    folder.mkdir()
    NET.save(folder / "toy.net")
    np.savez(folder / "toy.npz", frames=DATA.frames[:9], labels=DATA.labels[:9])
    neuroemu.Hardware.preset("loihi").to_toml(folder / "chip.toml")
    (folder / "sweep.toml").write_text(
        'models = ["toy.net"]\nschedules = ["sync", "momentum"]\ngroup_sizes = ["all", 2]\n'
        'modes = ["step", "timed"]\nhardware = ["none", "chip.toml"]\nshard_size = 4\nout = "results"\n'
        '[dataset]\npath = "toy.npz"\n'
    )
    grid = Grid.from_toml(folder / "sweep.toml")
    assert grid.models == (("toy.net", str(folder / "toy.net")),)
    assert grid.group_sizes == (None, 2) and grid.out == str(folder / "results")
    the_plan = plan(grid)
    applied = {(p.schedule, p.group_size, p.mode, p.hardware) for p in the_plan.points}
    assert applied == {
        ("sync", None, "step", None), ("momentum", None, "step", None), ("momentum", 2, "step", None),
        ("sync", None, "step", "loihi"), ("momentum", None, "step", "loihi"), ("momentum", 2, "step", "loihi"),
        ("sync", None, "timed", "loihi"), ("momentum", None, "timed", "loihi"),
    }
    reasons = {(p.schedule, p.group_size, p.mode, p.hardware): why for p, why in the_plan.skipped}
    assert "asynchronous schedules only" in reasons[("sync", 2, "step", None)]
    assert "no group size" in reasons[("momentum", 2, "timed", "loihi")]
    assert "needs a hardware profile" in reasons[("sync", None, "timed", None)]
    assert len(reasons) == 2 * 2 * 2 * 2 - len(applied)
    assert [(t.start, t.stop) for t in the_plan.tasks if t.point == 0] == [(0, 4), (4, 8), (8, 9)]
    assert len({t.key for t in the_plan.tasks}) == len(the_plan.tasks)

    labelled = Grid.from_dict({"models": {"mine": "toy.net", "shipped": "pretrained:digits_sync"}}, base=folder)
    assert labelled.models == (("mine", str(folder / "toy.net")), ("shipped", "pretrained:digits_sync"))


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"schedule": ["sync"]}, "unknown sweep setting 'schedule'"),
        ({"schedules": ["lifo"]}, "schedules must be one of"),
        ({"group_sizes": [0]}, "group_sizes must be >= 1"),
        ({"modes": ["fast"]}, "modes must be one of"),
        ({"hardware": ["loihi", "loihi"]}, "hardware lists 'loihi' twice"),
        ({"shard_size": 0}, "shard_size must be >= 1"),
    ],
)
def test_grid_rejects_bad_settings_naming_them(change, message):
    with pytest.raises(ConfigError, match=message):
        Grid.from_dict({**SMALL_GRID, **change})


def test_unknown_names_are_errors_and_a_grid_without_a_valid_point_is_refused():
    with pytest.raises(ConfigError, match="unknown hardware preset 'loihi2'"):
        plan({**SMALL_GRID, "hardware": ["loihi2"]}, DATA)
    with pytest.raises(ConfigError, match="pretrained:nope"):
        plan({"models": ["pretrained:nope"]}, DATA)
    with pytest.raises(ConfigError, match="no grid point applies.*asynchronous schedules only"):
        plan({"models": {"toy": NET}, "schedules": ["sync"], "group_sizes": [4]}, DATA)
    with pytest.raises(ConfigError, match="samples=99"):
        plan({**SMALL_GRID, "samples": 99}, DATA)
    with pytest.raises(InputError, match="model 'toy' has 10 inputs, the dataset 'arrays' has 9 channels"):
        plan(SMALL_GRID, (DATA.frames[:, :, :9], DATA.labels))
    with pytest.raises(InputError, match=r"labels outside \[0, 4\)"):
        plan(SMALL_GRID, (DATA.frames, DATA.labels + 1))


def test_a_task_key_changes_with_anything_that_changes_its_result():
    base = {t.key for t in plan(SMALL_GRID, DATA).tasks}
    assert base == {t.key for t in plan(SMALL_GRID, DATA).tasks}
    other_data = _dataset()
    other_data.frames[3, 2, 1] = 1 - other_data.frames[3, 2, 1]  # shard 0 only
    changed = {t.key for t in plan(SMALL_GRID, other_data).tasks} - base
    assert len(changed) == 4  # one shard x 4 grid points
    assert not {t.key for t in plan({**SMALL_GRID, "seed": 1}, DATA).tasks} & base
    assert base == {t.key for t in plan({**SMALL_GRID, "models": {"toy": _network()}}, DATA).tasks}
    assert not {t.key for t in plan({**SMALL_GRID, "models": {"toy": _network(1.5)}}, DATA).tasks} & base
    assert not {t.key for t in plan({**SMALL_GRID, "hardware": ["generic45nm"]}, DATA).tasks} & base


# -- any split into shards gives the serial result -------------------------------------------------------


@settings(max_examples=20, deadline=None)
@given(samples=st.integers(1, 26), shard_size=st.integers(1, 30), group=st.sampled_from([1, 3, None]),
       seed=st.integers(0, 2**32))
def test_any_sharding_equals_one_serial_run(samples, shard_size, group, seed):
    grid = {"models": {"toy": NET}, "schedules": ["random"], "group_sizes": [group], "samples": samples,
            "shard_size": shard_size, "seed": seed, "keep_spike_counts": True}
    result = sweep(grid, DATA, executor="serial")
    assert result.tasks_run == -(-samples // shard_size)
    _check_against_reference(result, hardware=None, samples=samples, seed=seed)


# -- local process pool and serial executor --------------------------------------------------------------


def test_process_pool_equals_serial_and_resumes_only_deleted_tasks(tmp_path, faults):
    out = tmp_path / "out"
    result = sweep(GRID, DATA, out=out, workers=2)
    assert result.tasks_run == len(plan(GRID, DATA).tasks) == 11 * 4 and result.tasks_reused == 0
    _check_against_reference(result)
    assert sorted(_runs(faults)) == sorted(t.key for t in plan(GRID, DATA).tasks)
    table = json.loads((out / "results.json").read_text())["results"]
    assert table == json.loads(json.dumps(result.records))
    assert (out / "results.csv").read_text().count("\n") == 1 + len(result.records)

    files = sorted((out / "tasks").glob("*.npz"))
    removed = {files[i].stem for i in (0, 5, 17, 30)}
    for i in (0, 5, 17, 30):
        files[i].unlink()
    for leftover in faults.glob("ran-*"):
        leftover.unlink()
    again = sweep(GRID, DATA, out=out, executor="serial")
    assert set(_runs(faults)) == removed and len(_runs(faults)) == 4
    assert (again.tasks_run, again.tasks_reused) == (4, 40)
    assert again.records == result.records
    assert not list((out / "tasks").glob(".*"))  # no temporary files left behind


@posix_only
def test_process_pool_survives_a_killed_worker(tmp_path, faults):
    tasks = plan(SMALL_GRID, DATA).tasks
    victim = tasks[len(tasks) // 2].key
    (faults / f"kill-{victim}").touch()
    result = sweep(SMALL_GRID, DATA, out=tmp_path / "out", workers=2)
    assert not (faults / f"kill-{victim}").exists()  # the kill happened
    assert _runs(faults).count(victim) == 2
    assert result.tasks_run == len(tasks)
    _check_against_reference(result, hardware=None, seed=0)


def test_a_task_out_of_retries_stops_the_sweep_and_a_rerun_resumes(tmp_path, faults):
    out = tmp_path / "out"
    tasks = plan(SMALL_GRID, DATA).tasks
    broken = tasks[7].key
    (faults / f"fail-{broken}").touch()
    with pytest.raises(SweepError, match=f"task {broken}.*failed 1 times"):
        sweep(SMALL_GRID, DATA, out=out, executor="serial", retries=0)
    kept = {p.stem for p in (out / "tasks").glob("*.npz")}
    assert kept == {t.key for t in tasks[:7]}  # an interrupted sweep keeps what finished
    for leftover in faults.glob("ran-*"):
        leftover.unlink()
    result = sweep(SMALL_GRID, DATA, out=out, executor="serial", retries=0)
    assert sorted(_runs(faults)) == sorted(t.key for t in tasks[7:])
    _check_against_reference(result, hardware=None, seed=0)


def test_serial_executor_retries_a_failing_task(faults):
    tasks = plan(SMALL_GRID, DATA).tasks
    (faults / f"fail-{tasks[2].key}").touch()
    result = sweep(SMALL_GRID, DATA, executor="serial", retries=1)
    assert _runs(faults).count(tasks[2].key) == 2
    _check_against_reference(result, hardware=None, seed=0)


def test_a_corrupt_task_file_is_reported(tmp_path):
    out = tmp_path / "out"
    sweep(SMALL_GRID, DATA, out=out, executor="serial")
    victim = sorted((out / "tasks").glob("*.npz"))[3]
    victim.write_bytes(b"not a zip file")
    with pytest.raises(SweepError, match="delete it to run the task again"):
        sweep(SMALL_GRID, DATA, out=out, executor="serial")


# -- dask.distributed on a LocalCluster ---------------------------------------------------------------


@pytest.fixture(scope="module")
def dask_faults(tmp_path_factory):
    return tmp_path_factory.mktemp("dask-faults")


@pytest.fixture(scope="module")
def cluster(dask_faults):
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                                  dashboard_address=None, env={FAULTS_ENV: str(dask_faults)}) as local:
        yield local


@pytest.fixture
def client(cluster, dask_faults):
    for leftover in dask_faults.iterdir():
        leftover.unlink()
    with distributed.Client(cluster, set_as_default=False) as c:
        yield c


def test_dask_cluster_equals_serial_run(client, dask_faults, tmp_path):
    result = sweep(GRID, DATA, cluster=client, out=tmp_path / "out")
    _check_against_reference(result)
    assert result.tasks_run == 44
    assert sorted(_runs(dask_faults)) == sorted(t.key for t in plan(GRID, DATA).tasks)
    serial = sweep(GRID, DATA, executor="serial")
    assert serial.records == result.records


def test_dask_retries_a_failed_task(client, dask_faults):
    tasks = plan(SMALL_GRID, DATA).tasks
    (dask_faults / f"fail-{tasks[5].key}").touch()
    result = sweep(SMALL_GRID, DATA, cluster=client, retries=2)
    assert _runs(dask_faults).count(tasks[5].key) == 2
    _check_against_reference(result, hardware=None, seed=0)


def test_dask_without_retries_reports_the_task_and_a_rerun_resumes(client, dask_faults, tmp_path):
    out = tmp_path / "out"
    tasks = plan(SMALL_GRID, DATA).tasks
    (dask_faults / f"fail-{tasks[5].key}").touch()
    with pytest.raises(SweepError, match=f"task {tasks[5].key}.*injected failure"):
        sweep(SMALL_GRID, DATA, cluster=client, retries=0, out=out)
    kept = {p.stem for p in (out / "tasks").glob("*.npz")}
    assert tasks[5].key not in kept
    for leftover in dask_faults.glob("ran-*"):
        leftover.unlink()
    result = sweep(SMALL_GRID, DATA, cluster=client, out=out)
    assert sorted(_runs(dask_faults)) == sorted(t.key for t in tasks if t.key not in kept)
    _check_against_reference(result, hardware=None, seed=0)


def test_dask_resume_runs_only_missing_tasks(client, dask_faults, tmp_path):
    out = tmp_path / "out"
    first = sweep(SMALL_GRID, DATA, cluster=client, out=out)
    files = sorted((out / "tasks").glob("*.npz"))
    removed = {files[1].stem, files[8].stem, files[-1].stem}
    for f in files:
        if f.stem in removed:
            f.unlink()
    for leftover in dask_faults.glob("ran-*"):
        leftover.unlink()
    again = sweep(SMALL_GRID, DATA, cluster=client, out=out)
    assert sorted(_runs(dask_faults)) == sorted(removed)
    assert (again.tasks_run, again.tasks_reused) == (3, len(files) - 3)
    assert again.records == first.records


@posix_only
def test_dask_lost_worker_loses_no_results(client, dask_faults, tmp_path):
    pids_before = set(client.run(os.getpid).values())
    tasks = plan(GRID, DATA).tasks
    victim = tasks[len(tasks) // 2].key
    (dask_faults / f"kill-{victim}").touch()
    result = sweep(GRID, DATA, cluster=client, out=tmp_path / "out")
    assert not (dask_faults / f"kill-{victim}").exists()
    assert _runs(dask_faults).count(victim) == 2  # killed mid-task, then run again
    client.wait_for_workers(2, timeout=60)
    assert set(client.run(os.getpid).values()) != pids_before  # a worker process was replaced
    assert len(list((tmp_path / "out" / "tasks").glob("*.npz"))) == len(tasks)
    _check_against_reference(result)


def test_cli_sweep_on_a_cluster(cluster, tmp_path):
    config = tmp_path / "sweep.toml"
    config.write_text(
        'models = ["pretrained:digits_sync"]\nschedules = ["sync", "random"]\ngroup_sizes = ["all", 4]\n'
        'samples = 24\nshard_size = 10\n[dataset]\nname = "digits"\nsplit = "test"\n'
    )
    out = tmp_path / "out"
    runner = CliRunner()
    result = runner.invoke(main, ["sweep", str(config), "--cluster", cluster.scheduler_address, "--out", str(out)],
                           catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert "skipped" in result.output and "9 tasks: 9 run" in result.output
    records = json.loads((out / "results.json").read_text())["results"]
    expected = sweep(config, executor="serial").records
    assert records == json.loads(json.dumps(expected))
    again = runner.invoke(main, ["sweep", str(config), "--serial", "--out", str(out)], catch_exceptions=False)
    assert again.exit_code == 0 and "9 tasks: 0 run, 9 reused" in again.output
