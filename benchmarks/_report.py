"""Tables (markdown, printed and written) and figures of ``run_all.py``."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any


def fmt_ms(x: float | None) -> str:
    if x is None or not math.isfinite(x):
        return "-"
    if x >= 100:
        return f"{x:,.0f}"
    if x >= 10:
        return f"{x:.1f}"
    if x >= 1:
        return f"{x:.2f}"
    return f"{x:.3f}"


def fmt_count(x: float | None) -> str:
    if x is None or not math.isfinite(x):
        return "-"
    return f"{x:,.0f}"


def fmt_rate(x: float | None) -> str:
    if x is None or not math.isfinite(x) or x <= 0:
        return "-"
    if x >= 1e9:
        return f"{x / 1e9:.2f} G"
    if x >= 1e6:
        return f"{x / 1e6:.1f} M"
    return f"{x / 1e3:.1f} k"


def fmt_ratio(x: float | None) -> str:
    if x is None or not math.isfinite(x):
        return "-"
    if x >= 100:
        return f"{x:,.0f}x"
    if x >= 10:
        return f"{x:.1f}x"
    return f"{x:.2f}x"


def markdown_table(header: Sequence[str], rows: Sequence[Sequence[str]], align: str | None = None) -> str:
    align = align or ("l" * len(header))
    marks = {"l": "---", "r": "---:", "c": ":---:"}
    lines = ["| " + " | ".join(header) + " |", "| " + " | ".join(marks[a] for a in align) + " |"]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


MAIN_HEADER = (
    "workload",
    "input p",
    "schedule",
    "implementation",
    "threads",
    "samples x runs",
    "ms / inference (wall)",
    "ms / inference (CPU)",
    "synaptic events / inference",
    "events / s (wall)",
    "spikes / inference",
    "neuroemu speed-up (wall)",
    "neuroemu speed-up (CPU)",
    "compared with",
    "other load (cores)",
)


def main_rows(rows: list[dict[str, Any]]) -> list[list[str]]:
    out = []
    for r in rows:
        if r.get("skipped"):
            out.append(
                [r["workload"], f"{r['p']:g}", r["config"], r["impl"], str(r.get("threads", "-")), "-", "-", "-", "-",
                 "-", "-", "-", "-", r["skipped"]]
            )
            continue
        rate = r["synops"] / (r["ms_wall"] / 1e3) if r.get("synops") and r.get("ms_wall") else None
        out.append(
            [
                r["workload"],
                f"{r['p']:g}",
                r["config"],
                r["impl"],
                str(r["threads"]),
                f"{r['samples']} x {r['repeats']}",
                fmt_ms(r["ms_wall"]),
                fmt_ms(r["ms_cpu"]),
                fmt_count(r.get("synops")),
                fmt_rate(rate),
                fmt_count(r.get("spikes")),
                fmt_ratio(r.get("ratio_wall")),
                fmt_ratio(r.get("ratio_cpu")),
                r.get("ref_label", ""),
                f"{r['other']:.1f}" if r.get("other") is not None and math.isfinite(r["other"]) else "-",
            ]
        )
    return out


# -- figures ---------------------------------------------------------------------------------------------
def _plt() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def figure_events(curve: dict, path: str) -> None:
    plt = _plt()
    fig, ax = plt.subplots(figsize=(5.5, 3.8))
    for label, marker in (("sync", "o"), ("F=4", "s")):
        pts = [p for p in curve["points"] if p["schedule"] == label]
        if not pts:
            continue
        x = [p["synops"] / 1e6 for p in pts]
        y = [p["ms_cpu"] for p in pts]
        fit = curve["fits"][label]
        line = ax.plot(x, y, marker, label=f"{label}: {1e6 * fit['b']:.1f} ns/event, R$^2$ = {fit['r2']:.4f}")[0]
        xs = [0, max(x)]
        ax.plot(xs, [fit["a"] + fit["b"] * 1e6 * v for v in xs], "-", color=line.get_color(), lw=1)
    ax.set_xlabel("synaptic events per inference (millions)")
    ax.set_ylabel("CPU ms per inference (1 thread)")
    ax.set_title("time against events", fontsize=10)
    ax.legend(fontsize=8)
    ax.set_xlim(left=0)
    ax.set_ylim(bottom=0)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def figure_neurons(curve: dict, path: str) -> None:
    plt = _plt()
    fig, ax = plt.subplots(figsize=(5.5, 3.8))
    for label, marker in (("sync", "o"), ("F=4", "s")):
        pts = [p for p in curve["points"] if p["schedule"] == label]
        if pts:
            ax.plot([p["neurons"] for p in pts], [p["ms_cpu"] for p in pts], marker + "-", label=label)
    ax.set_xscale("log")
    ax.set_xlabel("neurons in the network (events fixed)")
    ax.set_ylabel("CPU ms per inference (1 thread)")
    ax.set_title("time against neurons at a fixed number of events", fontsize=10)
    ax.set_ylim(bottom=0)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def figure_memory(curve: dict, path: str) -> None:
    plt = _plt()
    pts = curve["points"]
    fig, ax = plt.subplots(figsize=(5.5, 3.8))
    if pts:
        s = [p["synapses"] for p in pts]
        ax.plot(s, [p["bytes_per_synapse"] for p in pts], "o-", label="Network: Python arrays + engine copy")
        ax.plot(s, [p["engine_bytes_per_synapse"] for p in pts], "s-", label="engine copy alone")
        if all("timed_bytes_per_synapse" in p for p in pts):
            ax.plot(s, [p["timed_bytes_per_synapse"] for p in pts], "^-", label="timed deployment (loihi), added")
    ax.set_xscale("log")
    ax.set_xlabel("synapses")
    ax.set_ylabel("resident bytes per synapse")
    ax.set_ylim(bottom=0)
    ax.set_title("memory per synapse", fontsize=10)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def figure_ratios(ratios: list[tuple[str, float]], path: str) -> None:
    plt = _plt()
    fig, ax = plt.subplots(figsize=(8.0, 0.3 * len(ratios) + 1.4))
    labels = [r[0] for r in ratios]
    values = [r[1] for r in ratios]
    ax.barh(range(len(ratios)), values, color="tab:blue")
    ax.set_yticks(range(len(ratios)))
    ax.set_yticklabels(labels, fontsize=7)
    ax.set_xscale("log")
    ax.axvline(1.0, color="k", lw=0.8)
    ax.invert_yaxis()
    ax.set_xlabel("peer CPU time / neuroemu CPU time per inference, 1 thread (> 1: neuroemu faster)", fontsize=8)
    ax.set_title("neuroemu speed-up over each peer", fontsize=10)
    fig.subplots_adjust(left=0.4, right=0.97, top=1 - 0.5 / (0.3 * len(ratios) + 1.4),
                        bottom=0.7 / (0.3 * len(ratios) + 1.4))
    fig.savefig(path, dpi=110)
    plt.close(fig)
