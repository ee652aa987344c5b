"""The study (neuroemu.study, neuroemu.study_report) on its --quick configuration.

One quick study runs once for the module (2 datasets x {sync, momentum F=4} x 2 seeds, 1 epoch on 64
training samples, 16 test samples). Its cells are recomputed independently: with direct Emulator runs
of the cached model files, with the pure-numpy oracle of the step model read from the raw .npz arrays,
and the spread and paired effects with numpy from the per-seed records. The verdict rules are checked
on synthetic records with known effects.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("torch")
pytest.importorskip("matplotlib")

import oracle  # noqa: E402
from neuroemu import (  # noqa: E402
    ConfigError,
    Emulator,
    datasets,
    study_report,  # noqa: E402
    training,
)
from neuroemu import study as study_module  # noqa: E402
from neuroemu.study import (  # noqa: E402
    METRICS,
    Regime,
    StudyConfig,
    StudyResult,
    aggregate,
    config_from_options,
    load_study,
    run_study,
)
from neuroemu.study_report import compare_with_paper, comparisons, paired  # noqa: E402

QUICK_SAMPLES = 16


@pytest.fixture(scope="module")
def quick(tmp_path_factory: pytest.TempPathFactory) -> StudyResult:
    out = tmp_path_factory.mktemp("study")
    config = StudyConfig.quick(out=str(out), page=str(out / "docs" / "results.md"))
    return run_study(config, progress=False)


def _test_frames(dataset: str) -> tuple[np.ndarray, np.ndarray]:
    if dataset == "digits":
        data = datasets.digits(encoding="rate", bins=10, seed=0, split="test")
    else:
        data = datasets.digits_rows(split="test")
    return np.asarray(data.frames[:QUICK_SAMPLES], dtype=np.float64), np.asarray(data.labels[:QUICK_SAMPLES])


def _record(result: StudyResult, **match: object) -> dict:
    found = [r for r in result.records if all(r[k] == v for k, v in match.items())]
    assert len(found) == 1, match
    return found[0]


# ------------------------------------------------------------------------------------------------------
# what the run writes
# ------------------------------------------------------------------------------------------------------
def test_writes_records_tables_page_and_figures(quick: StudyResult) -> None:
    out = Path(quick.config.out)
    for name in ("records.json", "records.csv", "summary.csv", "tables.md", "study.json"):
        assert (out / name).stat().st_size > 0, name
    page = Path(quick.config.page_path)
    text = page.read_text(encoding="utf-8")
    links = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", text)
    # step model: one figure per dataset and asynchronous schedule; timed model: one per dataset
    assert len(links) == 2 * 3 + 2
    for link in links:
        png = page.parent / link
        data = png.read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n"
        assert len(data) < 200_000, link
    assert (page.parent / "results" / "summary.csv").exists()
    assert (page.parent / "results" / "tables.md").exists()
    for model in quick.models.values():
        assert model.exists()
        assert not model.with_name(model.stem + ".ckpt.pt").exists()  # checkpoint removed after saving


def test_records_cover_every_model_and_evaluation(quick: StudyResult) -> None:
    cfg = quick.config
    per_model = (1 + 3 * len(cfg.test_group_sizes)) + 4  # step: sync + 3 schedules x F; timed: 4 schedules
    assert len(quick.records) == len(cfg.datasets) * len(cfg.regimes) * len(cfg.seeds) * per_model
    keys = {(r["dataset"], r["regime"], r["seed"], r["mode"], r["schedule"], r["group_size"]) for r in quick.records}
    assert len(keys) == len(quick.records)
    assert all(r["group_size"] is None for r in quick.records if r["mode"] == "timed")
    assert all(r["samples"] == QUICK_SAMPLES and r["hardware"] == "loihi" for r in quick.records)
    on_disk = json.loads((Path(cfg.out) / "records.json").read_text())["results"]
    assert on_disk == json.loads(json.dumps(quick.records))


# ------------------------------------------------------------------------------------------------------
# cells recomputed independently
# ------------------------------------------------------------------------------------------------------
def test_step_cell_equals_a_direct_emulator_run_of_the_cached_model(quick: StudyResult) -> None:
    record = _record(quick, dataset="digits", regime="momentum F=4", seed=1, mode="step", schedule="random",
                     group_size=4)
    net = training.load_model(quick.models[record["model"]])
    x, y = _test_frames("digits")
    batch = Emulator(net, schedule="random", group_size=4, seed=1, hardware="loihi").run_batch(x, y)
    assert record["accuracy"] == pytest.approx(np.mean(batch.predictions == y), abs=0)
    assert record["spikes"] == pytest.approx(np.mean(batch.total_spikes), rel=1e-12)
    assert record["synops"] == pytest.approx(np.mean(batch.synops), rel=1e-12)
    reached = batch.spikes_to_correct_output[batch.spikes_to_correct_output >= 0]
    assert record["spikes_to_correct_output"] == pytest.approx(reached.mean(), rel=1e-12)
    assert record["energy_pj"]["total"] == pytest.approx(np.mean(batch.energy_pj.total), rel=1e-12)


def test_timed_cell_equals_a_direct_emulator_run_of_the_cached_model(quick: StudyResult) -> None:
    record = _record(quick, dataset="digits_rows", regime="sync", seed=0, mode="timed", schedule="momentum")
    net = training.load_model(quick.models[record["model"]])
    x, y = _test_frames("digits_rows")
    batch = Emulator(net, schedule="momentum", mode="timed", hardware="loihi").run_batch(x, y)
    decided = batch.time_to_decision_ns[np.isfinite(batch.time_to_decision_ns)]
    assert record["time_to_decision_ns"] == (pytest.approx(decided.mean(), rel=1e-12) if decided.size else None)
    assert record["spikes"] == pytest.approx(np.mean(batch.total_spikes), rel=1e-12)
    assert record["energy_pj"]["total"] == pytest.approx(np.mean(batch.energy_pj.total), rel=1e-12)


def test_momentum_cell_equals_the_numpy_oracle_on_the_raw_model_file(quick: StudyResult) -> None:
    """Spikes, synops, forward steps and accuracy of one cell from tests/oracle, reading the weights
    straight from the .npz arrays: independent of the engine, the Network class and the study code."""
    record = _record(quick, dataset="digits_rows", regime="momentum F=4", seed=0, mode="step", schedule="momentum",
                     group_size=4)
    with np.load(quick.models[record["model"]], allow_pickle=False) as f:
        layers = int(f["n_layers"])
        weights = [f[f"weight_{i}"] for i in range(layers)]
        threshold = [f[f"threshold_{i}"] for i in range(layers)]
        beta = [f[f"beta_{i}"] for i in range(layers)]
    x, y = _test_frames("digits_rows")
    spikes, synops, steps, correct = [], [], [], []
    for frames, label in zip(x, y):
        out = oracle.simulate(weights, frames, threshold=threshold, beta=beta, schedule="momentum", group_size=4)
        counts = out["spike_counts"]
        spikes.append(counts.sum())
        synops.append(out["synops"].sum())
        steps.append(out["forward_steps"].sum())
        totals = counts[:, -weights[-1].shape[0]:].sum(axis=0)
        winner = int(np.argmax(totals)) if np.sum(totals == totals.max()) == 1 else -1
        correct.append(winner == label)
    assert record["spikes"] == pytest.approx(np.mean(spikes), rel=1e-12)
    assert record["synops"] == pytest.approx(np.mean(synops), rel=1e-12)
    assert record["forward_steps"] == pytest.approx(np.mean(steps), rel=1e-12)
    assert record["accuracy"] == pytest.approx(np.mean(correct), abs=0)


def test_summary_is_mean_and_sample_std_over_seeds(quick: StudyResult) -> None:
    summary = aggregate(quick.records)
    assert len(summary) == len(quick.records) // len(quick.config.seeds)
    for row in summary:
        members = [r for r in quick.records if all(r[k] == row[k] for k in
                   ("dataset", "regime", "mode", "schedule", "group_size"))]
        assert row["seeds"] == len(members) == 2
        for metric in METRICS:
            values = [study_module.get_metric(r, metric) for r in members]
            values = np.array([v for v in values if v is not None], dtype=float)
            assert row[f"{metric}_n"] == values.size
            if values.size == 0:
                assert row[metric] is None
                continue
            assert row[metric] == pytest.approx(values.mean(), rel=1e-12)
            if values.size > 1:
                assert row[f"{metric}_std"] == pytest.approx(values.std(ddof=1), rel=1e-12, abs=1e-12)
            else:
                assert row[f"{metric}_std"] is None


def test_paired_effects_against_the_sync_trained_model_of_the_same_seed(quick: StudyResult) -> None:
    cell = dict(dataset="digits", mode="step", schedule="momentum", group_size=1)
    reductions, gains = [], []
    for seed in quick.config.seeds:
        mine = _record(quick, regime="momentum F=4", seed=seed, **cell)
        ref = _record(quick, regime="sync", seed=seed, **cell)
        reductions.append(1 - mine["spikes"] / ref["spikes"])
        gains.append(mine["accuracy"] - ref["accuracy"])
    mean, std, n = paired(quick.records, regime="momentum F=4", metric="spikes", kind="reduction", **cell)
    assert (mean, std, n) == (pytest.approx(np.mean(reductions)), pytest.approx(np.std(reductions, ddof=1)), 2)
    mean, std, n = paired(quick.records, regime="momentum F=4", metric="accuracy", kind="gain", **cell)
    assert mean == pytest.approx(np.mean(gains)) and std == pytest.approx(np.std(gains, ddof=1), abs=1e-15)
    rows = [r for r in comparisons(quick) if r["dataset"] == "digits" and r["mode"] == "step"]
    assert {r["matched"] for r in rows if r["schedule"] == "momentum" and r["group_size"] == 4} == {True}
    assert not any(r["matched"] for r in rows if r["schedule"] != "momentum" or r["group_size"] != 4)


def test_page_states_the_measured_best_case(quick: StudyResult) -> None:
    text = Path(quick.config.page_path).read_text(encoding="utf-8")
    for entry in compare_with_paper(quick):
        if entry["claim"] != "spikes":
            continue
        best = entry["best"]
        # recomputed from the records: the best spike saving over every async-trained cell
        candidates = []
        for r in quick.records:
            if r["dataset"] == entry["dataset"] and r["regime"] != "sync" and r["mode"] == "step" \
                    and r["schedule"] in ("random", "momentum"):
                candidates.append((r["regime"], r["schedule"], r["group_size"]))
        values = {c: paired(quick.records, dataset=entry["dataset"], regime=c[0], mode="step", schedule=c[1],
                            group_size=c[2], metric="spikes", kind="reduction")[0] for c in set(candidates)}
        assert best["spikes"] == pytest.approx(max(values.values()))
        word = "fewer" if best["spikes"] >= 0 else "more"
        assert f"{100 * abs(best['spikes']):.1f}% ± {100 * best['spikes_std']:.1f}% {word}" in text
        assert f"**{entry['verdict']}**" in text


# ------------------------------------------------------------------------------------------------------
# verdicts on synthetic records with known effects
# ------------------------------------------------------------------------------------------------------
def _synthetic(cells: dict[int, tuple[float, float, float]]) -> StudyResult:
    """Records of a sync-trained and a momentum F=4-trained model over 3 seeds, run under sync and under
    momentum at each F of ``cells``: F -> (spike factor, accuracy gain, spread). Seed s of the
    async-trained model has ``factor + (s - 1) * spread`` times the sync-trained model's spikes, its
    accuracy ``gain + (s - 1) * spread`` higher, and ``1 / factor + (s - 1) * spread`` times fewer spikes
    to the correct output; under sync execution the first cell's effects hold."""
    groups = tuple(cells)
    config = StudyConfig(datasets=("digits",), regimes=(Regime("sync"), Regime("momentum", 4)), seeds=(0, 1, 2),
                         test_group_sizes=groups, schedules=("sync", "momentum"), modes=("step",), out="unused",
                         page="").check()
    records = []
    for seed in config.seeds:
        for regime in config.regimes:
            trained = regime.schedule != "sync"
            for schedule, group in [("sync", None)] + [("momentum", g) for g in groups]:
                factor, gain, spread = cells[groups[0] if group is None else group]
                jitter = (seed - 1) * spread
                records.append({
                    "dataset": "digits", "regime": regime.label, "train_schedule": regime.schedule,
                    "train_group_size": regime.group_size, "mode": "step", "schedule": schedule,
                    "group_size": group, "seed": seed, "model": f"{regime.slug}-{seed}",
                    "samples": 10, "accuracy": 0.5 + (gain + jitter if trained else 0.0),
                    "spikes": 1000.0 * ((factor + jitter) if trained else 1.0),
                    "spikes_to_correct_output": 100.0 / ((1 / factor + jitter) if trained else 1.0),
                })
    return StudyResult(config=config, records=records)


@pytest.mark.parametrize(
    ("factor", "gain", "spread", "spikes_verdict", "accuracy_verdict"),
    [
        (0.6, 0.08, 0.01, "reproduces", "reproduces"),  # 40% fewer spikes, +8 points
        (0.9, 0.02, 0.01, "partly", "partly"),  # 10% fewer, +2 points: direction only
        (1.0, 0.0, 0.01, "does not reproduce: no effect", "partly: equal"),  # no difference
        (1.2, -0.1, 0.01, "does not reproduce: the opposite", "does not reproduce: the opposite"),
        (0.9, 0.02, 0.2, "does not reproduce: no effect", "partly: equal"),  # effects inside the seed spread
    ],
)
def test_verdict_rules(factor: float, gain: float, spread: float, spikes_verdict: str, accuracy_verdict: str) -> None:
    result = _synthetic({4: (factor, gain, spread)})
    claims = {c["claim"]: c for c in compare_with_paper(result)}
    assert set(claims) == {"spikes", "decision", "accuracy"}  # no timed runs, no timed claim
    assert claims["spikes"]["best"]["spikes"] == pytest.approx(1 - factor)
    assert claims["spikes"]["verdict"].startswith(spikes_verdict)
    assert claims["accuracy"]["verdict"].startswith(accuracy_verdict)
    assert claims["decision"]["best"]["decision"] == pytest.approx(1 / factor)
    # under sync execution the synthetic weights differ in the same way: the weights-alone column shows it
    assert claims["spikes"]["weights_alone"][0]["spikes"] == pytest.approx(1 - factor)


def test_verdict_rests_on_the_best_reliable_case() -> None:
    # F=4: 50% fewer spikes on average but spread over seeds by +-60%; F=16: a steady 10% fewer
    result = _synthetic({4: (0.5, 0.0, 0.6), 16: (0.9, 0.0, 0.01)})
    spikes = {c["claim"]: c for c in compare_with_paper(result)}["spikes"]
    assert spikes["best"]["group_size"] == 4 and spikes["best"]["spikes"] == pytest.approx(0.5)
    assert spikes["verdict"].startswith("partly") and spikes["basis"]["group_size"] == 16
    assert "(on momentum F=4-trained under momentum F=16: 10.0% ± 1.0% fewer)" in "\n".join(
        study_report._claims_section(result, compare_with_paper(result)))


# ------------------------------------------------------------------------------------------------------
# cache, resume, report-only, configuration
# ------------------------------------------------------------------------------------------------------
def test_rerun_takes_every_model_from_the_cache(quick: StudyResult, monkeypatch: pytest.MonkeyPatch) -> None:
    def no_training(*args: object, **kwargs: object) -> float:
        raise AssertionError("a cached model was trained again")

    monkeypatch.setattr(study_module, "_train", no_training)
    config = StudyConfig.quick(out=quick.config.out, page="", datasets=("digits",))  # half of it, to stay fast
    again = run_study(config, progress=False)
    assert again.trained == []
    # the engine is deterministic: the same numbers
    assert again.records == [r for r in quick.records if r["dataset"] == "digits"]
    runs = json.loads((Path(config.out) / "study.json").read_text())["timings"]["runs"]
    assert [(r["models"], r["trained_now"]) for r in runs] == [(len(quick.models), len(quick.models)), (4, 0)]


def test_an_interrupted_training_resumes_from_its_checkpoint(tmp_path: Path) -> None:
    config = StudyConfig.quick(out=str(tmp_path), page="", datasets=("digits",), regimes=(Regime("sync"),),
                               seeds=(3,), epochs=2, test_group_sizes=(4,), modes=("step",))
    stem = config.model_stem("digits", Regime("sync"), 3)
    checkpoint = tmp_path / "models" / f"{stem}.ckpt.pt"
    common = dict(dataset="digits", schedule="sync", epochs=2, seed=3, lr=config.learning_rate("digits"),
                  limit=config.train_limit, progress=False, evaluate_schedules=[])
    training.train(checkpoint=checkpoint, callback=lambda record: False, **common)  # stops after epoch 1
    assert checkpoint.exists()
    result = run_study(config, progress=False)
    assert result.trained == [stem]
    uninterrupted = training.to_network(training.train(**common).model, dt=1e-3)
    resumed = training.load_model(result.models[stem])
    for a, b in zip(resumed.weights(), uninterrupted.weights()):
        np.testing.assert_array_equal(a, b)
    assert not checkpoint.exists()


def test_report_only_rewrites_the_page_from_the_records(quick: StudyResult, tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    from click.testing import CliRunner

    from neuroemu.cli import main

    monkeypatch.setattr(study_report, "figures", lambda result, folder: [])  # drawn and checked above
    page = tmp_path / "elsewhere" / "results.md"
    res = CliRunner().invoke(main, ["study", "--report-only", "--out", quick.config.out, "--page", str(page)])
    assert res.exit_code == 0, res.output
    assert "## The paper's claims against these measurements" in page.read_text(encoding="utf-8")
    again = load_study(quick.config.out)
    assert again.config.regimes == quick.config.regimes


def test_configuration_is_checked() -> None:
    assert Regime.parse("momentum:4") == Regime("momentum", 4)
    assert Regime.parse("random F=all") == Regime("random", None)
    assert Regime.parse("sync") == Regime("sync")
    with pytest.raises(ConfigError, match="sync takes no group size"):
        Regime("sync", 4)
    with pytest.raises(ConfigError, match="regime schedule"):
        Regime("lifo", 4)
    with pytest.raises(ConfigError, match="must include Regime"):
        StudyConfig(regimes=(Regime("momentum", 4),)).check()
    with pytest.raises(ConfigError, match="schedules must include 'sync'"):
        StudyConfig(schedules=("momentum",)).check()
    with pytest.raises(ConfigError, match="datasets"):
        StudyConfig(datasets=("mnist",)).check()
    with pytest.raises(ConfigError, match="lr"):
        StudyConfig(lr=-1.0).check()
    config = config_from_options(variant="quick", seeds=3, datasets=["digits-rows"], regimes=["sync", "random:16"])
    assert config.seeds == (0, 1, 2) and config.datasets == ("digits_rows",)
    assert config.regimes == (Regime("sync"), Regime("random", 16))
    assert StudyConfig.full().epochs == 30 and len(StudyConfig.full().seeds) == 5
    default = StudyConfig.default()
    assert default.test_group_sizes == (1, 2, 4, 8, 16, 64, None)
    assert set(default.schedules) == {"sync", "random", "momentum", "fifo"} and default.modes == ("step", "timed")
    assert default.model_stem("digits", Regime("momentum", 4), 2) == "digits-momentum-f4-e8-lr0.005-s2"
