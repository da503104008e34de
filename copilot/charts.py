"""The Metrics charts as matplotlib figures (the Agg backend, no pyplot state): the distribution of answers,
the trend by period with error bars, and the segments with error bars. `cx-copilot metrics --charts DIR`
saves them as PNG files; the Metrics tab shows them."""

from __future__ import annotations

from pathlib import Path

from .survey import NAMES, Report

GOOD, MIDDLE, BAD, LINE = "#16a34a", "#94a3b8", "#dc2626", "#4f46e5"


def _figure(width: float = 6.4, height: float = 3.4):
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=100, layout="constrained")
    return fig, fig.add_subplot()


def _colour(report: Report, answer: int) -> str:
    hi = report.scale[1]
    if report.metric == "nps":
        return GOOD if answer >= 9 else MIDDLE if answer >= 7 else BAD
    if report.metric == "csat":
        return GOOD if answer >= hi - 1 else MIDDLE if answer == hi - 2 else BAD
    agree_from = hi - 2 if hi >= 7 else hi - 1
    return GOOD if answer >= agree_from else MIDDLE if answer == agree_from - 1 else BAD


def distribution(report: Report):
    fig, ax = _figure()
    answers = [a for a, _ in report.distribution]
    counts = [c for _, c in report.distribution]
    ax.bar(answers, counts, color=[_colour(report, a) for a in answers])
    ax.set_xticks(answers)
    ax.set_xlabel(f"Answer ({report.column})")
    ax.set_ylabel("Responses")
    ax.set_title(f"{NAMES[report.metric]} answers (n = {report.overall.n:,})")
    ax.spines[["top", "right"]].set_visible(False)
    return fig


def trend(report: Report):
    if not report.trend:
        return None
    fig, ax = _figure()
    xs = list(range(len(report.trend)))
    ax.errorbar(xs, [g.score for g in report.trend], yerr=[g.margin for g in report.trend], color=LINE, marker="o",
                capsize=4, linewidth=2)
    ax.set_xticks(xs, [g.name for g in report.trend], rotation=45 if len(xs) > 6 else 0, ha="right" if len(xs) > 6
                  else "center")
    ax.set_ylabel(NAMES[report.metric])
    ax.set_title(f"{NAMES[report.metric]} by {report.period} (error bars: {round(report.confidence * 100)}% margin)")
    ax.grid(axis="y", alpha=0.3)
    ax.spines[["top", "right"]].set_visible(False)
    return fig


def segments(report: Report):
    if not report.segments:
        return None
    fig, ax = _figure(6.4, max(2.4, 0.45 * len(report.segments) + 1.2))
    rows = list(reversed(report.segments))
    ys = list(range(len(rows)))
    ax.barh(ys, [s.group.score for s in rows], xerr=[s.group.margin for s in rows], capsize=4,
            color=[LINE if s.significant else MIDDLE for s in rows])
    ax.axvline(report.overall.score, color="#0f172a", linewidth=1, linestyle="--")
    ax.set_yticks(ys, [s.group.name for s in rows])
    ax.set_xlabel(f"{NAMES[report.metric]} (dashed: all responses; coloured: beyond the noise)")
    ax.set_title(f"{NAMES[report.metric]} by {report.segment_column}")
    ax.spines[["top", "right"]].set_visible(False)
    return fig


def save_all(report: Report, folder: str | Path) -> list[Path]:
    """Write the charts there is data for as PNG files; returns their paths."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    out = []
    for name, make in (("distribution", distribution), ("trend", trend), ("segments", segments)):
        fig = make(report)
        if fig is not None:
            path = folder / f"{report.metric}-{name}.png"
            fig.savefig(path)
            out.append(path)
    return out
