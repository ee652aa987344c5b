"""Tables, figures, the comparison with the paper's claims, and the results page of a study.

Everything here is computed from the records of :func:`neuroemu.study.run_study` (or
:func:`neuroemu.study.load_study`): the page's verdicts are phrased from the measured numbers by the
rules in :data:`CLAIMS`, never written by hand. See docs/study.md.
"""

from __future__ import annotations

import datetime as _dt
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .reporting import format_table, write_csv
from .study import StudyResult, aggregate, get_metric, mean_std

__all__ = [
    "CLAIMS",
    "Claim",
    "compare_with_paper",
    "comparisons",
    "figure_against_group_size",
    "figure_timed",
    "figures",
    "markdown_tables",
    "paired",
    "write_results_page",
]

#: The asynchronous schedulers the paper trains and evaluates with.
PAPER_SCHEDULES = ("random", "momentum")


@dataclass(frozen=True)
class Claim:
    """One claim of the paper and how a measured effect is judged against it.

    An effect ``m`` (oriented so that a positive value is in the paper's direction: the fraction of
    spikes saved, the speed-up minus one, the accuracy gain in points as a fraction) with seed spread
    ``s`` (std of the paired per-seed effects) earns: *reproduces* if ``m >= threshold`` (half the
    claimed effect) and ``m - s > 0``; *partly* if ``m - s > 0`` (the direction holds, the size does
    not); *no effect beyond the spread* if ``|m| <= s`` (for accuracy, whose claim is "equal or
    better": *partly*, equal without the gain); otherwise *the opposite direction*. The verdict of a
    claim is the best grade any compared case earns (the paper's "up to").
    """

    key: str
    paper: str
    metric: str
    kind: str  # "reduction" (1 - x/ref), "speedup" (ref/x), "gain" (x - ref)
    claimed: float
    threshold: float
    mode: str = "step"  # the model the claim is measured in


CLAIMS = (
    Claim("spikes", "up to 50% fewer spikes", "spikes", "reduction", 0.5, 0.25),
    Claim("decision", "a correct decision up to 2x sooner (spikes to the correct output)",
          "spikes_to_correct_output", "speedup", 2.0, 1.5),
    Claim("decision_timed", "a correct decision up to 2x sooner (timed model: time to decision)",
          "time_to_decision_ns", "speedup", 2.0, 1.5, mode="timed"),
    Claim("accuracy", "accuracy equal or up to 10% higher", "accuracy", "gain", 0.10, 0.05),
)
ENERGY = Claim("energy", "(energy follows spikes)", "energy_pj.total", "reduction", 0.5, 0.25)


# ------------------------------------------------------------------------------------------------------
# paired comparisons with the sync-trained model
# ------------------------------------------------------------------------------------------------------
def _index(records: Sequence[dict[str, Any]]) -> dict[tuple[Any, ...], dict[str, Any]]:
    return {(r["dataset"], r["regime"], r["mode"], r["schedule"], r["group_size"], r["seed"]): r for r in records}


def _effect(kind: str, value: float, reference: float) -> float | None:
    if kind == "reduction":
        return None if reference == 0 else 1.0 - value / reference
    if kind == "speedup":
        return None if value == 0 else reference / value
    return value - reference


def paired(
    records: Sequence[dict[str, Any]],
    *,
    dataset: str,
    regime: str,
    mode: str,
    schedule: str,
    group_size: int | None,
    metric: str,
    kind: str,
    reference: str = "sync",
    index: dict[tuple[Any, ...], dict[str, Any]] | None = None,
) -> tuple[float | None, float | None, int]:
    """Effect of a training regime against the ``reference`` regime under the same execution.

    Per seed ``s``, the model of ``regime`` trained with seed ``s`` is compared with the reference
    model of seed ``s`` (both evaluated identically): ``kind="reduction"`` gives ``1 - x / x_ref``,
    ``"speedup"`` ``x_ref / x``, ``"gain"`` ``x - x_ref``. Returns the mean and sample std (ddof=1)
    over seeds and the number of seeds where both values exist.
    """
    index = index if index is not None else _index(records)
    seeds = sorted({r["seed"] for r in records if r["dataset"] == dataset and r["regime"] == regime})
    effects = []
    for seed in seeds:
        mine = index.get((dataset, regime, mode, schedule, group_size, seed))
        ref = index.get((dataset, reference, mode, schedule, group_size, seed))
        if mine is None or ref is None:
            continue
        x, x_ref = get_metric(mine, metric), get_metric(ref, metric)
        if x is None or x_ref is None:
            continue
        effects.append(_effect(kind, x, x_ref))
    return mean_std(effects)


def _regime_parts(label: str) -> tuple[str, int | None]:
    if label == "sync":
        return "sync", None
    schedule, _, group = label.partition(" F=")
    return schedule, None if group == "all" else int(group)


def comparisons(result: StudyResult) -> list[dict[str, Any]]:
    """Every paired comparison of an asynchronous-aware regime with the sync-trained model.

    One row per dataset, regime and evaluation (mode, schedule, F): for each claim (and energy) the
    mean, std and seed count of the effect, and ``matched`` (the evaluation is the regime's own
    schedule and F; in timed mode its own schedule).
    """
    records = result.records
    index = _index(records)
    cells = []
    seen = set()
    for r in records:
        key = (r["dataset"], r["regime"], r["mode"], r["schedule"], r["group_size"])
        if r["regime"] != "sync" and key not in seen:
            seen.add(key)
            cells.append(key)
    rows = []
    for dataset, regime, mode, schedule, group in cells:
        train_schedule, train_group = _regime_parts(regime)
        matched = schedule == train_schedule and (mode == "timed" or group == train_group)
        row: dict[str, Any] = {"dataset": dataset, "regime": regime, "mode": mode, "schedule": schedule,
                               "group_size": group, "matched": matched}
        for claim in (*CLAIMS, ENERGY):
            mean, std, n = paired(records, dataset=dataset, regime=regime, mode=mode, schedule=schedule,
                                  group_size=group, metric=claim.metric, kind=claim.kind, index=index)
            row[claim.key], row[f"{claim.key}_std"], row[f"{claim.key}_n"] = mean, std, n
        rows.append(row)
    return rows


def _oriented(claim: Claim, value: float) -> float:
    """The effect with 0 meaning 'no difference' (a speed-up of 1.3 becomes 0.3)."""
    return value - 1.0 if claim.kind == "speedup" else value


_RANK = ("reproduces", "partly", "partly_equal", "no_effect", "opposite")
_VERDICTS = {
    "reproduces": "reproduces",
    "partly": "partly: the direction holds, the size does not",
    "partly_equal": "partly: equal within the spread, no gain",
    "no_effect": "does not reproduce: no effect beyond the spread",
    "opposite": "does not reproduce: the opposite direction",
}


def _grade(claim: Claim, mean: float, std: float | None) -> str:
    m = _oriented(claim, mean)
    s = std or 0.0
    if m >= _oriented(claim, claim.threshold) and m - s > 0:
        return "reproduces"
    if m - s > 0:
        return "partly"
    if abs(m) <= s:
        return "partly_equal" if claim.kind == "gain" else "no_effect"
    return "opposite"


def _judge(claim: Claim, candidates: Sequence[dict[str, Any]]) -> tuple[str, dict[str, Any] | None]:
    """The verdict and the comparison it rests on: the best grade any candidate earns (see
    :class:`Claim`), and among the candidates with that grade the one with the largest effect."""
    graded = [(_RANK.index(_grade(claim, r[claim.key], r[f"{claim.key}_std"])), r) for r in candidates]
    if not graded:
        return "not measured", None
    rank = min(g for g, _ in graded)
    basis = max((r for g, r in graded if g == rank), key=lambda r: r[claim.key])
    return _VERDICTS[_RANK[rank]], basis


def compare_with_paper(result: StudyResult) -> list[dict[str, Any]]:
    """The paper's claims against the measurements, per dataset.

    For each claim and dataset: the best case over every asynchronous-aware regime, paper schedule
    (random, momentum) and test F (the paper's "up to"), in the claim's model (step, or timed for the
    time to decision); the value at each regime's own schedule and F (``matched``); the value under
    layer-synchronous execution (what the weights alone change); and the verdict of the best case by
    the rule of :class:`Claim`.
    """
    rows = comparisons(result)
    out = []
    for dataset in result.config.datasets:
        mine = [r for r in rows if r["dataset"] == dataset]
        for claim in CLAIMS:
            measured = [r for r in mine if r["mode"] == claim.mode and r[claim.key] is not None]
            candidates = [r for r in measured if r["schedule"] in PAPER_SCHEDULES]
            entry: dict[str, Any] = {"dataset": dataset, "claim": claim.key, "paper": claim.paper, "mode": claim.mode,
                                     "best": None, "basis": None, "matched": [], "weights_alone": [],
                                     "verdict": "not measured"}
            if candidates:
                entry["best"] = max(candidates, key=lambda r: r[claim.key])
                entry["verdict"], entry["basis"] = _judge(claim, candidates)
            entry["matched"] = [r for r in measured if r["matched"]]
            entry["weights_alone"] = [r for r in measured if r["schedule"] == "sync"]
            if claim.mode in result.config.modes:
                out.append(entry)
    return out


# ------------------------------------------------------------------------------------------------------
# formatting
# ------------------------------------------------------------------------------------------------------
def _f(group: int | None, mode: str = "step") -> str:
    if mode == "timed":
        return "-"
    return "all" if group is None else str(group)


def _pm(mean: float | None, std: float | None, fmt: str, scale: float = 1.0) -> str:
    if mean is None:
        return "-"
    text = format(mean * scale, fmt)
    if std is not None:
        text += " ± " + format(std * scale, fmt)
    return text


def _effect_text(claim: Claim, mean: float | None, std: float | None) -> str:
    """``"12.3% ± 2.0% fewer"``, ``"1.42x ± 0.10x sooner"``, ``"+3.1 ± 0.8 points"``."""
    if mean is None:
        return "-"
    s = std if std is not None else None
    if claim.kind == "reduction":
        word = "fewer" if mean >= 0 else "more"
        spread = "" if s is None else f" ± {100 * s:.1f}%"
        return f"{100 * abs(mean):.1f}%{spread} {word}"
    if claim.kind == "speedup":
        spread = "" if s is None else f" ± {s:.2f}"
        word = "sooner" if mean >= 1 else "later"
        return f"{mean:.2f}x{spread} ({word})"
    spread = "" if s is None else f" ± {100 * s:.1f}"
    return f"{100 * mean:+.1f}{spread} points"


def _where(row: dict[str, Any]) -> str:
    if row["mode"] == "timed":
        return f"{row['regime']}-trained, timed {row['schedule']}"
    if row["schedule"] == "sync":
        return f"{row['regime']}-trained, sync execution"
    return f"{row['regime']}-trained under {row['schedule']} F={_f(row['group_size'])}"


STEP_COLUMNS: list[tuple[str, str, str, float]] = [
    ("accuracy", "accuracy (%)", ".1f", 100.0),
    ("spikes", "spikes", ".0f", 1.0),
    ("spike_density", "density", ".4f", 1.0),
    ("synops", "synops", ".0f", 1.0),
    ("forward_steps", "fwd steps", ".1f", 1.0),
    ("spikes_to_correct_output", "spikes→correct", ".1f", 1.0),
    ("energy_pj.total", "energy (nJ)", ".1f", 1e-3),
]
TIMED_COLUMNS: list[tuple[str, str, str, float]] = [
    ("accuracy", "accuracy (%)", ".1f", 100.0),
    ("spikes", "spikes", ".0f", 1.0),
    ("synops", "synops", ".0f", 1.0),
    ("time_to_first_output_ns", "first output (ns)", ".0f", 1.0),
    ("time_to_decision_ns", "decision (ns)", ".0f", 1.0),
    ("energy_pj.total", "energy (nJ)", ".1f", 1e-3),
]


def _table(rows: Sequence[dict[str, Any]], keys: Sequence[tuple[str, str]],
           columns: Sequence[tuple[str, str, str, float]]) -> str:
    formatted = []
    seeds = max((row.get("seeds", 0) for row in rows), default=0)
    for row in rows:
        cells = {key: str(row[key]) for key, _ in keys}
        for metric, _, fmt, scale in columns:
            text = _pm(row.get(metric), row.get(f"{metric}_std"), fmt, scale)
            n = row.get(f"{metric}_n", seeds)
            if row.get(metric) is not None and n < seeds:
                text += f" ({n} of {seeds} seeds)"
            cells[metric.replace(".", "_")] = text
        formatted.append(cells)
    spec = [(key, header, "") for key, header in keys] + [(m.replace(".", "_"), h, "") for m, h, _, _ in columns]
    return format_table(formatted, spec)


def _cells(summary: Sequence[dict[str, Any]], **match: Any) -> list[dict[str, Any]]:
    return [row for row in summary if all(row.get(k) == v for k, v in match.items())]


def markdown_tables(result: StudyResult) -> str:
    """Every aggregated evaluation as markdown tables (mean ± std over seeds), per dataset and mode."""
    summary = aggregate(result.records)
    parts = [f"# Study tables ({result.config.name}): mean ± std over seeds {list(result.config.seeds)}\n",
             "Generated by `neuroemu study`; accuracy in %, energy in nJ per inference (step mode: dynamic energy; "
             "timed mode: plus the profile's static power over the modelled time). F: test group size (`all`: "
             "unlimited).\n"]
    for dataset in result.config.datasets:
        step = [dict(r, F=_f(r["group_size"])) for r in _cells(summary, dataset=dataset, mode="step")]
        if step:
            parts.append(f"## {dataset}: step model\n")
            parts.append(_table(step, [("regime", "trained"), ("schedule", "run under"), ("F", "F")], STEP_COLUMNS))
            parts.append("")
        timed = _cells(summary, dataset=dataset, mode="timed")
        if timed:
            parts.append(f"## {dataset}: timed model ({result.config.hardware})\n")
            parts.append(_table(timed, [("regime", "trained"), ("schedule", "run under")], TIMED_COLUMNS))
            parts.append("")
    return "\n".join(parts) + "\n"


def _matrix(summary: Sequence[dict[str, Any]], result: StudyResult, dataset: str, schedule: str, metric: str,
            fmt: str, scale: float) -> str:
    groups = list(result.config.test_group_sizes)
    rows = []
    for regime in (r.label for r in result.config.regimes):
        row: dict[str, Any] = {"regime": regime}
        sync = _cells(summary, dataset=dataset, regime=regime, mode="step", schedule="sync")
        row["sync"] = _pm(sync[0][metric], sync[0][f"{metric}_std"], fmt, scale) if sync else "-"
        for group in groups:
            cell = _cells(summary, dataset=dataset, regime=regime, mode="step", schedule=schedule, group_size=group)
            row[_f(group)] = _pm(cell[0][metric], cell[0][f"{metric}_std"], fmt, scale) if cell else "-"
        rows.append(row)
    spec = [("regime", "trained \\ run at F", "")] + [(_f(g), _f(g), "") for g in groups] + [("sync", "sync exec.", "")]
    return format_table(rows, spec)


# ------------------------------------------------------------------------------------------------------
# figures
# ------------------------------------------------------------------------------------------------------
FIGURE_PANELS: list[tuple[str, str, float]] = [
    ("accuracy", "accuracy (%)", 100.0),
    ("spikes", "spikes per inference", 1.0),
    ("spikes_to_correct_output", "spikes to the correct output", 1.0),
    ("energy_pj.total", "energy per inference (nJ)", 1e-3),
]
TIMED_PANELS: list[tuple[str, str, float]] = [
    ("accuracy", "accuracy (%)", 100.0),
    ("spikes", "spikes per inference", 1.0),
    ("time_to_decision_ns", "time to decision (µs)", 1e-3),
    ("energy_pj.total", "energy per inference (nJ)", 1e-3),
]


def _pyplot() -> Any:
    from .plots import _pyplot as pyplot  # noqa: PLC0415

    return pyplot()


def _x_positions(groups: Sequence[int | None]) -> tuple[list[float], list[str]]:
    """Evenly spaced positions (the test F are powers of two: a log axis without its tick machinery)."""
    return [float(i) for i in range(len(groups))], [_f(g) for g in groups]


def _layout(fig: Any, ax: Any, title: str) -> None:
    """Title on the left and the regimes' legend on the right of a band above the panels; a fixed layout
    (tight_layout measures every tick label and costs seconds per figure)."""
    fig.suptitle(title, fontsize=9, x=0.01, ha="left")
    handles, labels = ax.get_legend_handles_labels()
    fig.legend(handles, labels, loc="upper right", ncol=len(labels), fontsize=7, frameon=False,
               bbox_to_anchor=(0.995, 0.93))
    fig.subplots_adjust(left=0.05, right=0.99, bottom=0.15, top=0.76, wspace=0.28)


def figure_against_group_size(result: StudyResult, dataset: str, schedule: str, path: str | os.PathLike[str]) -> Path:
    """Accuracy, spikes, spikes to the correct output and energy against the test F under one
    schedule; one line per training regime (mean over seeds, error bars: std)."""
    plt = _pyplot()
    summary = aggregate(result.records)
    groups = list(result.config.test_group_sizes)
    xs, labels = _x_positions(groups)
    fig, axes = plt.subplots(1, len(FIGURE_PANELS), figsize=(13, 3.4))
    for regime in (r.label for r in result.config.regimes):
        for ax, (metric, _, scale) in zip(axes, FIGURE_PANELS):
            means, stds = [], []
            for group in groups:
                cell = _cells(summary, dataset=dataset, regime=regime, mode="step", schedule=schedule, group_size=group)
                mean = cell[0][metric] if cell else None
                std = cell[0][f"{metric}_std"] if cell else None
                means.append(np.nan if mean is None else mean * scale)
                stds.append(0.0 if std is None else std * scale)
            style = {"color": "k", "lw": 2.0} if regime == "sync" else {"lw": 1.3}
            ax.errorbar(xs, means, yerr=stds, marker="o", ms=3, capsize=2, label=f"{regime}-trained", **style)
    for ax, (_, title, _) in zip(axes, FIGURE_PANELS):
        ax.set_xticks(xs, labels, fontsize=7)
        ax.set_xlabel(f"F under {schedule}", fontsize=8)
        ax.set_title(title, fontsize=9)
        ax.tick_params(labelsize=7)
        ax.grid(alpha=0.3)
    _layout(fig, axes[0], f"{dataset}: models run under the {schedule} schedule (mean ± std over "
            f"{len(result.config.seeds)} seeds)")
    return _save(fig, plt, path)


def figure_timed(result: StudyResult, dataset: str, path: str | os.PathLike[str]) -> Path:
    """Timed model: accuracy, spikes, time to decision and energy per schedule, one bar per regime."""
    plt = _pyplot()
    summary = aggregate(result.records)
    schedules = list(result.config.schedules)
    regimes = [r.label for r in result.config.regimes]
    fig, axes = plt.subplots(1, len(TIMED_PANELS), figsize=(13, 3.4))
    width = 0.8 / max(len(regimes), 1)
    for k, regime in enumerate(regimes):
        for ax, (metric, _, scale) in zip(axes, TIMED_PANELS):
            means, stds = [], []
            for schedule in schedules:
                cell = _cells(summary, dataset=dataset, regime=regime, mode="timed", schedule=schedule)
                mean = cell[0][metric] if cell else None
                std = cell[0][f"{metric}_std"] if cell else None
                means.append(np.nan if mean is None else mean * scale)
                stds.append(0.0 if std is None else std * scale)
            color = "k" if regime == "sync" else None
            ax.bar(np.arange(len(schedules)) + k * width, means, width, yerr=stds, capsize=1.5,
                   label=f"{regime}-trained", color=color, error_kw={"lw": 0.8})
    for ax, (_, title, _) in zip(axes, TIMED_PANELS):
        ax.set_xticks(np.arange(len(schedules)) + 0.4 - width / 2, schedules, fontsize=7)
        ax.set_title(title, fontsize=9)
        ax.tick_params(labelsize=7)
        ax.grid(alpha=0.3, axis="y")
    _layout(fig, axes[0], f"{dataset}: timed model on {result.config.hardware} (mean ± std over "
            f"{len(result.config.seeds)} seeds)")
    return _save(fig, plt, path)


def _save(fig: Any, plt: Any, path: str | os.PathLike[str]) -> Path:
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=80)
    plt.close(fig)
    return out


def figures(result: StudyResult, folder: str | os.PathLike[str]) -> list[Path]:
    """Writes every figure of the study to ``folder``: ``study-<dataset>-<schedule>.png`` (step model,
    against F) and ``study-<dataset>-timed.png``; returns the paths."""
    folder = Path(folder)
    paths = []
    modes = set(result.config.modes)
    for dataset in result.config.datasets:
        if "step" in modes:
            for schedule in (s for s in result.config.schedules if s != "sync"):
                paths.append(figure_against_group_size(result, dataset, schedule,
                                                       folder / f"study-{dataset}-{schedule}.png"))
        if "timed" in modes:
            paths.append(figure_timed(result, dataset, folder / f"study-{dataset}-timed.png"))
    return paths


# ------------------------------------------------------------------------------------------------------
# the page
# ------------------------------------------------------------------------------------------------------
def _claims_section(result: StudyResult, claims: list[dict[str, Any]]) -> list[str]:
    by_key = {c.key: c for c in CLAIMS}
    lines = [
        "| claim (paper) | dataset | best case | at the trained schedule and F | "
        "weights alone (sync execution) | verdict |",
        "|---|---|---|---|---|---|",
    ]
    for entry in claims:
        claim = by_key[entry["claim"]]
        best = entry["best"]
        best_text = "-" if best is None else (
            f"{_effect_text(claim, best[claim.key], best[f'{claim.key}_std'])}: {_where(best)}")
        matched = "; ".join(f"{r['regime']}: {_effect_text(claim, r[claim.key], r[f'{claim.key}_std'])}"
                            for r in entry["matched"]) or "-"
        alone = "; ".join(f"{r['regime']}: {_effect_text(claim, r[claim.key], r[f'{claim.key}_std'])}"
                          for r in entry["weights_alone"]) or "-"
        verdict = f"**{entry['verdict']}**"
        basis = entry.get("basis")
        if basis is not None and basis is not best:
            verdict += (f" (on {_where(basis)}: "
                        f"{_effect_text(claim, basis[claim.key], basis[f'{claim.key}_std'])})")
        lines.append(f"| {claim.paper} | {entry['dataset']} | {best_text} | {matched} | {alone} | {verdict} |")
    lines.append("")
    lines.append(
        "Each effect compares a model trained inside an asynchronous schedule with the sync-trained model of the "
        "same seed, both run under the same execution; mean ± std over the seeds of the paired differences. "
        "Spikes: fraction fewer (step model); decision: the sync-trained model's spikes to the first spike of the "
        "correct class (step model), or its time to decision (timed model: the first spike of the class that finally "
        "wins, right or wrong), divided by the async-trained one's (>1: sooner); accuracy: difference in percentage "
        "points (step model). Best case: the most favourable of every async-trained regime under the paper's two "
        "schedulers (random, momentum) at every test F (timed model: no F), the same kind of number as the paper's "
        "\"up to\" (and as optimistic: in the step model it is a maximum over "
        f"{_count_best_candidates(result)} comparisons per dataset with {len(result.config.seeds)} seeds). "
        "Verdict: the best grade any of those comparisons earns (named when it is not the best case): "
        "*reproduces* if the effect reaches half the claimed one (25% fewer spikes, 1.5x sooner, +5 points) and "
        "exceeds the seed spread; *partly* if it is in the claimed direction beyond the spread but smaller (for "
        "accuracy also when equal within the spread, since the claim is \"equal or better\"); otherwise *does not "
        "reproduce* (no effect beyond the spread, or the opposite direction)."
    )
    lines.append("")
    return lines


def _count_best_candidates(result: StudyResult) -> int:
    asynchronous = [r for r in result.config.regimes if r.schedule != "sync"]
    schedules = [s for s in result.config.schedules if s in PAPER_SCHEDULES]
    return len(asynchronous) * len(schedules) * len(result.config.test_group_sizes)


def _findings(result: StudyResult, claims: list[dict[str, Any]]) -> list[str]:
    """Sentences phrased from the numbers: what reproduces, what does not, and the likely why."""
    summary = aggregate(result.records)
    rows = comparisons(result)
    lines = []
    by_key = {c.key: c for c in CLAIMS}
    for dataset in result.config.datasets:
        sync_sync = _cells(summary, dataset=dataset, regime="sync", mode="step", schedule="sync")
        parts = []
        energy_text = _execution_energy(result, summary, dataset)
        if sync_sync:
            base = sync_sync[0]
            worst = [r for r in _cells(summary, dataset=dataset, regime="sync", mode="step")
                     if r["schedule"] in PAPER_SCHEDULES and r["accuracy"] is not None]
            if worst:
                low = min(worst, key=lambda r: r["accuracy"])
                spikes_up = max(worst, key=lambda r: r["spikes"] or 0)
                falls = low["accuracy"] < base["accuracy"]
                rises = (spikes_up["spikes"] or 0) > (base["spikes"] or 0)
                parts.append(
                    f"The sync-trained model reaches {100 * base['accuracy']:.1f}% with {base['spikes']:.0f} spikes "
                    f"per inference when run layer-synchronously; run asynchronously its accuracy "
                    f"{'falls to' if falls else 'is at least'} {100 * low['accuracy']:.1f}% ({low['schedule']} "
                    f"F={_f(low['group_size'])}) and its spikes {'rise to' if rises else 'stay at or below'} "
                    f"{spikes_up['spikes']:.0f} ({spikes_up['schedule']} F={_f(spikes_up['group_size'])}): the "
                    "mismatch the paper describes"
                    + (" reproduces." if falls and rises else " shows only in part." if falls or rises
                       else " does not show here.")
                )
        if energy_text:
            parts.append(energy_text)
        for entry in (e for e in claims if e["dataset"] == dataset):
            claim = by_key[entry["claim"]]
            best = entry["best"]
            if best is None:
                continue
            alone = entry["weights_alone"]
            matched = entry["matched"]
            if claim.key == "spikes":
                matched_values = [r[claim.key] for r in matched]
                alone_values = [r[claim.key] for r in alone]
                text = (f"Spikes: the best case is {_effect_text(claim, best[claim.key], best['spikes_std'])} "
                        f"({_where(best)}; paper: up to 50% fewer)")
                if matched_values:
                    text += (f"; at their own schedule and F the async-trained models use "
                             f"{_range_text(claim, matched_values)} spikes than the sync-trained model")
                if alone_values:
                    text += (f", and under layer-synchronous execution, where only the weights differ, "
                             f"{_range_text(claim, alone_values)}")
                parts.append(text + ".")
            elif claim.key == "decision":
                effect = _effect_text(claim, best[claim.key], best["decision_std"])
                text = f"Decision, in spikes to the correct output: {effect} at best ({_where(best)}; paper: up to 2x)"
                if matched:
                    text += f"; at their own schedule and F, {_range_text(claim, [r[claim.key] for r in matched])}"
                parts.append(text + ".")
            elif claim.key == "decision_timed":
                text = (f"Decision in the timed model, in ns to the first spike of the winning class: "
                        f"{_effect_text(claim, best[claim.key], best['decision_timed_std'])} at best ({_where(best)})")
                if matched:
                    text += "; at their own schedule, " + "; ".join(
                        f"{r['regime']}: {_effect_text(claim, r[claim.key], r['decision_timed_std'])}"
                        for r in matched)
                if alone:
                    text += (", and under the layer-synchronous timed run "
                             f"{_range_text(claim, [r[claim.key] for r in alone])}")
                parts.append(text + ".")
            else:
                matched_values = [r[claim.key] for r in matched]
                energy = [r["energy"] for r in rows if r["dataset"] == dataset and r["matched"]
                          and r["mode"] == "step" and r["energy"] is not None]
                energy_timed = [r["energy"] for r in rows if r["dataset"] == dataset
                                and r["matched"] and r["mode"] == "timed" and r["energy"] is not None]
                if energy:
                    parts.append(
                        f"Energy ({result.config.hardware} profile) at the trained schedule and F: the async-trained "
                        f"models use {_range_text(ENERGY, energy, 'less')} energy than the sync-trained model in the "
                        "step model (dynamic energy)"
                        + (f", {_range_text(ENERGY, energy_timed, 'less')} in the timed model"
                           if energy_timed else "") + "."
                    )
                text = (f"Accuracy: best case {_effect_text(claim, best[claim.key], best['accuracy_std'])} "
                        f"({_where(best)}; paper: equal or up to ~10% higher)")
                if matched_values:
                    text += f"; at their own schedule and F, {_range_text(claim, matched_values)}"
                parts.append(text + ".")
        if parts:
            lines.append(f"**{dataset}.** " + " ".join(parts))
            lines.append("")
    return lines


def _range_text(claim: Claim, values: Sequence[float], fewer: str = "fewer") -> str:
    """``"between 3.1% fewer and 12.0% fewer"`` (one value: ``"3.1% fewer"``); speed-ups as ``1.10x``."""
    lo, hi = min(values), max(values)
    if claim.kind == "reduction":
        def word(v: float) -> str:
            return f"{100 * abs(v):.1f}% {fewer if v >= 0 else 'more'}"

        return word(lo) if math.isclose(lo, hi) else f"between {word(lo)} and {word(hi)}"
    if claim.kind == "gain":
        return f"{100 * lo:+.1f} points" if math.isclose(lo, hi) else f"{100 * lo:+.1f} to {100 * hi:+.1f} points"
    return f"{lo:.2f}x" if math.isclose(lo, hi) else f"{lo:.2f}x to {hi:.2f}x"


def _why(result: StudyResult, claims: list[dict[str, Any]]) -> list[str]:
    """Reasons for differences from the paper that follow from this setup (stated with its numbers)."""
    cfg = result.config
    summary = aggregate(result.records)
    rows_alone = [r for r in comparisons(result) if r["mode"] == "step" and r["schedule"] == "sync"
                  and r["spikes"] is not None]
    lines = ["Why the numbers can differ from the paper's:", ""]
    lines.append(
        f"- Scale: {cfg.epochs} epoch{'s' if cfg.epochs != 1 else ''} of training (learning rate "
        + ", ".join(f"{d}: {cfg.learning_rate(d):g}" for d in cfg.datasets)
        + f", cosine decay) and {len(cfg.seeds)} seeds on a 2-core CPU budget, a 64-128-64-10 network and the "
        "built-in 8x8 digits; the paper's networks and datasets are larger. `--full` trains 30 epochs with 5 seeds."
    )
    for dataset in cfg.datasets:
        alone = [r for r in rows_alone if r["dataset"] == dataset]
        sync = _cells(summary, dataset=dataset, regime="sync", mode="step", schedule="sync")
        if alone and sync and sync[0]["spike_density"] is not None:
            values = [r["spikes"] for r in alone]
            more = sum(v < 0 for v in values)
            lines.append(
                f"- {dataset}: already under layer-synchronous execution the async-trained models emit "
                f"{_range_text(CLAIMS[0], values)} spikes than the sync-trained model (spike density "
                f"{100 * sync[0]['spike_density']:.1f}% per neuron and bin)"
                + (": training inside the schedule moved the weights toward more activity (the paper, too, finds its "
                   "async-trained neurons more reactive), and nothing in the loss pushes the total back down."
                   if more == len(values) else
                   ": the saving is in the weights, it shows without asynchronous execution too." if more == 0
                   else ".")
            )
    lines.append(
        "- The loss is cross-entropy on output spike counts with no spike penalty in any regime; a saving can "
        "only come from the schedule in the training loop. The decision latency is measured in spikes per bin up to "
        "the first spike of the correct class (step model) and in ns from the sample's start to the first spike of "
        "the winning class (timed model); the paper's latency measure is not identical."
    )
    lines.append(
        "- Time to decision (timed model) is a mean over the samples that decide; a sample whose winning class "
        "first spikes in a later bin adds whole bins (dt apart) to it, so the mean follows the fraction of late "
        "samples, and its seed spread is large."
    )
    lines.append(
        "- Execution details that change numbers: refractory neurons until the next bin, prioritised input "
        "(each bin's frame delivered at once in step 0), momentum ranking by the pre-spike potential "
        "(docs/semantics.md)."
    )
    lines.append("")
    return lines


def write_results_page(
    result: StudyResult,
    path: str | os.PathLike[str] = "docs/results.md",
    *,
    figures_dir: str | os.PathLike[str] | None = None,
) -> Path:
    """Writes the results page (markdown) with its figures, tables and the comparison with the paper.

    Parameters
    ----------
    result : StudyResult
    path : path
        The page; default ``docs/results.md``.
    figures_dir : path, optional
        Default ``figures/`` beside the page. The summary over seeds (CSV) and all tables (markdown)
        go to ``<page stem>/`` beside the page (``docs/results/summary.csv``, ``.../tables.md``).
    """
    page = Path(path)
    page.parent.mkdir(parents=True, exist_ok=True)
    fig_dir = Path(figures_dir) if figures_dir is not None else page.parent / "figures"
    data_dir = page.parent / page.stem
    data_dir.mkdir(parents=True, exist_ok=True)
    write_csv(data_dir / "summary.csv", aggregate(result.records))
    (data_dir / "tables.md").write_text(markdown_tables(result), encoding="utf-8")
    try:
        figure_paths = figures(result, fig_dir)
    except ImportError:  # matplotlib missing: the page without figures
        figure_paths = []
    cfg = result.config
    summary = aggregate(result.records)
    claims = compare_with_paper(result)

    def rel(p: Path) -> str:
        return Path(os.path.relpath(p, page.parent)).as_posix()

    lines = [
        "# Results: layer-synchronous versus asynchronous-aware training",
        "",
        f"<!-- generated by `neuroemu study` ({cfg.name} variant) on "
        f"{_dt.datetime.now().strftime('%Y-%m-%d %H:%M')}; do not edit: re-run the study (docs/study.md) -->",
        "",
        "The question of Koopman et al., *Exploring the Limitations of Layer Synchronization in Spiking Neural "
        "Networks* (TMLR 2025, arXiv 2408.05098): a spiking network trained with layer synchronisation, run "
        "without it, loses accuracy and saves no spikes; a network trained inside an asynchronous schedule "
        "(\"unlayered backprop\") is claimed to use up to 50% fewer spikes, reach a correct decision up to 2x "
        "sooner, and be as accurate or up to ~10% more. This page measures those claims with neuroemu: models "
        "trained layer-synchronously (BPTT) and inside the random and momentum schedules, every one evaluated "
        "under every schedule and group size F, in the step model and in the timed model of the "
        f"{cfg.hardware} profile. All numbers below are computed by `neuroemu study` from its runs.",
        "",
        "## Setup",
        "",
        f"- Datasets: {', '.join(cfg.datasets)} (docs/datasets.md): test split, "
        f"{_samples_text(result)}; network 64-128-64-10 LIF (SPEC section 7: no bias, threshold 1, "
        "beta = exp(-1/6), reset to zero, refractory until the next bin).",
        f"- Training regimes: {', '.join(r.label for r in cfg.regimes)} (`sync`: BPTT; the others trained inside "
        f"that schedule with group size F, neuroemu.training); {cfg.epochs} epoch{'s' if cfg.epochs != 1 else ''}, "
        "Adam with cosine decay, "
        "learning rate " + ", ".join(f"{cfg.learning_rate(d):g} ({d})" for d in cfg.datasets)
        + f", batch 64, cross-entropy on output spike counts; seeds {list(cfg.seeds)}"
        + ("" if cfg.train_limit is None else f"; only the first {cfg.train_limit} training samples") + ".",
        f"- Evaluation: step model under sync and under {', '.join(s for s in cfg.schedules if s != 'sync')} at "
        f"F in {{{', '.join(_f(g) for g in cfg.test_group_sizes)}}}; timed model on {cfg.hardware} once per "
        "schedule (it has no group size: its parallelism is the number of cores), prioritised input. The random "
        "schedule's stream is seeded with the model's seed. Energy: dynamic energy on the "
        f"{cfg.hardware} profile in the step model; the timed model adds static power over the modelled time"
        + (" (zero here: the profile states none)." if not _has_static(result) else "."),
        "- Every model is also run layer-synchronously (`sync` execution): a difference there comes from the "
        "weights alone; the rest of a difference under asynchronous execution comes from how the weights meet "
        "the schedule.",
        "- Spread: ± is the sample standard deviation over seeds (ddof = 1).",
        "",
        "## The paper's claims against these measurements",
        "",
        *_claims_section(result, claims),
        "### What reproduces, what does not, and why",
        "",
        *_findings(result, claims),
        *_why(result, claims),
    ]
    for dataset in cfg.datasets:
        lines += [f"## {dataset}", ""]
        lines += ["### Under layer-synchronous execution (what training changed)", ""]
        rows = _cells(summary, dataset=dataset, mode="step", schedule="sync")
        if rows:
            lines += [_table(rows, [("regime", "trained")], STEP_COLUMNS), ""]
        lines += _decomposition(result, dataset)
        for schedule in (s for s in cfg.schedules if s != "sync"):
            if "step" not in cfg.modes:
                break
            lines += [f"### Under the {schedule} schedule, against F", ""]
            figure = fig_dir / f"study-{dataset}-{schedule}.png"
            if figure in figure_paths:
                lines += [f"![{dataset} under {schedule}]({rel(figure)})", ""]
            if schedule in PAPER_SCHEDULES:
                lines += ["Accuracy (%):", "", _matrix(summary, result, dataset, schedule, "accuracy", ".1f", 100.0),
                          "", "Spikes per inference:", "",
                          _matrix(summary, result, dataset, schedule, "spikes", ".0f", 1.0), "",
                          "Spikes to the correct output:", "",
                          _matrix(summary, result, dataset, schedule, "spikes_to_correct_output", ".1f", 1.0), ""]
        if "timed" in cfg.modes:
            lines += [f"### Timed model ({cfg.hardware})", ""]
            figure = fig_dir / f"study-{dataset}-timed.png"
            if figure in figure_paths:
                lines += [f"![{dataset} timed]({rel(figure)})", ""]
            timed = _cells(summary, dataset=dataset, mode="timed")
            if timed:
                lines += [_table(timed, [("regime", "trained"), ("schedule", "run under")], TIMED_COLUMNS), ""]
    lines += [
        "## All numbers",
        "",
        f"Every evaluation (mean ± std over seeds, all metrics): [{rel(data_dir / 'tables.md')}]"
        f"({rel(data_dir / 'tables.md')}); as CSV: [{rel(data_dir / 'summary.csv')}]({rel(data_dir / 'summary.csv')}) "
        "(columns `m`, `m_std`, `m_n` per metric; the record fields of docs/cli.md). Per seed: `records.csv` in "
        "the study's output folder.",
        "",
        *_runtime_section(result),
    ]
    page.write_text("\n".join(lines).rstrip() + "\n", encoding="utf-8")
    return page


def _has_static(result: StudyResult) -> bool:
    return any((get_metric(r, "energy_pj.static") or 0.0) > 0 for r in result.records)


def _execution_energy(result: StudyResult, summary: Sequence[dict[str, Any]], dataset: str) -> str | None:
    """What asynchronous execution itself costs in energy, for the sync-trained model."""
    base = _cells(summary, dataset=dataset, regime="sync", mode="step", schedule="sync")
    timed = [r for r in _cells(summary, dataset=dataset, regime="sync", mode="timed")
             if r["schedule"] in PAPER_SCHEDULES and r["energy_pj.total"]]
    step_f1 = [r for r in _cells(summary, dataset=dataset, regime="sync", mode="step")
               if r["schedule"] in PAPER_SCHEDULES and r["group_size"] == min(
                   (g for g in result.config.test_group_sizes if g is not None), default=None)]
    if not base or not base[0]["energy_pj.total"] or not (timed or step_f1):
        return None
    ref = base[0]["energy_pj.total"]
    parts = []
    for row, where in [(r, f"timed {r['schedule']}") for r in timed] + [
            (r, f"step {r['schedule']} F={_f(r['group_size'])}") for r in step_f1]:
        share = (row.get("energy_pj.neuron_update") or 0.0) / row["energy_pj.total"]
        parts.append(f"{row['energy_pj.total'] / ref:.2f}x under {where} ({100 * share:.0f}% neuron updates)")
    ref_share = (base[0].get("energy_pj.neuron_update") or 0.0) / ref
    return (f"Asynchronous execution itself costs energy: against its layer-synchronous run "
            f"({ref / 1e3:.0f} nJ per inference, {100 * ref_share:.0f}% neuron updates), the sync-trained model needs "
            + "; ".join(parts) + ". In the timed model every spike message updates each neuron it reaches, and "
            "in the step model every delivery re-checks its targets, where layer-synchronous execution updates "
            "each neuron once per layer phase.")


def _samples_text(result: StudyResult) -> str:
    counts = sorted({r["samples"] for r in result.records})
    return f"{', '.join(str(c) for c in counts)} samples per evaluation"


def _decomposition(result: StudyResult, dataset: str) -> list[str]:
    """Spikes and accuracy of each async-trained regime at its own schedule and F, split into what the
    weights change (sync execution) and what the execution then changes, against the sync-trained model."""
    summary = aggregate(result.records)

    def cell(regime: str, schedule: str, group: int | None) -> dict[str, Any] | None:
        found = _cells(summary, dataset=dataset, regime=regime, mode="step", schedule=schedule, group_size=group)
        return found[0] if found else None

    rows = []
    ref_sync = cell("sync", "sync", None)
    for regime in (r for r in result.config.regimes if r.schedule != "sync"):
        mine_sync = cell(regime.label, "sync", None)
        mine_own = cell(regime.label, regime.schedule, regime.group_size)
        ref_own = cell("sync", regime.schedule, regime.group_size)
        if None in (ref_sync, mine_sync, mine_own, ref_own):
            continue
        assert ref_sync is not None and mine_sync is not None and mine_own is not None and ref_own is not None
        rows.append({
            "regime": regime.label,
            "ref_sync": _pm(ref_sync["spikes"], ref_sync["spikes_std"], ".0f"),
            "mine_sync": _pm(mine_sync["spikes"], mine_sync["spikes_std"], ".0f"),
            "ref_own": _pm(ref_own["spikes"], ref_own["spikes_std"], ".0f"),
            "mine_own": _pm(mine_own["spikes"], mine_own["spikes_std"], ".0f"),
            "weights": _pct(mine_sync["spikes"], ref_sync["spikes"]),
            "total": _pct(mine_own["spikes"], ref_own["spikes"]),
            "acc_ref": _pm(ref_own["accuracy"], ref_own["accuracy_std"], ".1f", 100.0),
            "acc_mine": _pm(mine_own["accuracy"], mine_own["accuracy_std"], ".1f", 100.0),
        })
    if not rows:
        return []
    spec = [("regime", "async-trained (A)", ""), ("ref_sync", "S, sync exec.", ""), ("mine_sync", "A, sync exec.", ""),
            ("weights", "A vs S, sync exec. (weights)", ""), ("ref_own", "S at A's schedule", ""),
            ("mine_own", "A at A's schedule", ""), ("total", "A vs S at A's schedule", ""),
            ("acc_ref", "accuracy S (%)", ""), ("acc_mine", "accuracy A (%)", "")]
    return [
        "### What training changed and what execution changed (spikes per inference)",
        "",
        "S: the sync-trained model; A: the async-trained one. \"sync exec.\": both run layer-synchronously, so the "
        "difference is the weights' alone; \"at A's schedule\": both run under the schedule and F that A was "
        "trained in. The change between the two columns of one model is what asynchronous execution does to it.",
        "",
        format_table(rows, spec),
        "",
    ]


def _pct(value: float | None, reference: float | None) -> str:
    if value is None or reference in (None, 0):
        return "-"
    assert reference is not None
    change = value / reference - 1.0
    return f"{100 * change:+.1f}%"


def _runtime_section(result: StudyResult) -> list[str]:
    t = result.timings
    m = result.machine
    cfg = result.config
    n_models = len(result.models) or len({r["model"] for r in result.records})
    lines = ["## Runtime and machine", ""]
    complete = [run for run in t.get("runs", []) if run.get("trained_now") == n_models]
    if complete:
        run = complete[-1]
        cpu = run.get("cpu_s")
        workers = run.get("workers", cfg.workers)
        lines.append(
            f"- The last run that trained every model ({n_models} models, {workers} worker process(es)) took "
            f"**{run['wall_s'] / 60:.1f} minutes** wall-clock, started {run.get('started', '?')} (load average "
            f"then {_load(run.get('load_average'))})"
            + ("." if cpu is None else
               f"; its training and evaluation took {cpu / 60:.1f} CPU-minutes (all processes), so on {workers} "
               f"otherwise idle core{'s' if workers != 1 else ''} it needs about "
               f"{cpu / 60 / max(workers, 1):.1f} minutes plus the tables and figures.")
        )
    if t and t.get("trained_now") != n_models:
        lines.append(
            f"- This run: {t.get('wall_s', 0) / 60:.1f} minutes wall-clock, {t.get('trained_now', 0)} of {n_models} "
            f"models trained in it (the others from the cache). Training time of all {n_models} models "
            f"{t.get('train_s', 0) / 60:.1f} minutes and evaluation {t.get('eval_s', 0) / 60:.1f} minutes "
            "(summed over worker processes)."
        )
    if m:
        lines.append(
            f"- Machine: {m.get('cpu')}, {m.get('cores')} cores"
            + (f", GPU {m['gpu']}" if m.get("gpu") else "")
            + f"; load average at the start {_load(m.get('load_average'))}"
            + (" (above the number of cores: other work shared the machine)"
               if (m.get("load_average") or [0])[0] > (m.get("cores") or 1) else "")
            + "; "
            f"Python {m.get('python')}, numpy {m.get('numpy')}, torch {m.get('torch')}, neuroemu {m.get('neuroemu')} "
            f"with a {m.get('engine_build')} build of the engine."
        )
    lines += [
        "",
        "Reproduce: `neuroemu study --page docs/results.md` (or `python benchmarks/study.py`); trained models are "
        "cached in the output folder, so a second run only re-evaluates. `neuroemu study --full` is the larger "
        "variant (docs/study.md).",
    ]
    return lines


def _load(value: Any) -> str:
    if not value:
        return "unknown"
    return " / ".join(f"{v:.1f}" for v in value)
