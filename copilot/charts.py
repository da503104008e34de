"""The Metrics charts as matplotlib figures (the Agg backend, no pyplot state): the distribution of answers,
the trend by period with error bars, and the segments with error bars. `cx-copilot metrics --charts DIR`
saves them as PNG files; the Metrics tab shows them."""

from __future__ import annotations

from pathlib import Path

from .survey import NAMES, Report

GOOD, MIDDLE, BAD, LINE = "#16a34a", "#94a3b8", "#dc2626", "#4f46e5"
DPI = 100
# Margins are set from the labels' lengths rather than by a layout engine: with one, every save draws the figure
# twice (a layout pass, then the picture), which doubles the cost of each chart. Sizes in pixels at DPI, for
# 10-point DejaVu Sans (matplotlib's default): a digit is 0.64 em wide, a mixed-case letter about 0.55 em.
EM = 10 * DPI / 72
DIGIT, LETTER = 0.64 * EM, 0.55 * EM
TITLE_PX, XAXIS_PX, YLABEL_PX, PAD_PX = 34, 42, 24, 14
MAX_LABEL = 28  # segment names longer than this are shortened on the chart (the table has them whole)


def _figure(width: float, height: float, left_px: float, bottom_px: float):
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=DPI)
    w, h = width * DPI, height * DPI
    fig.subplots_adjust(left=min(0.45, left_px / w), right=1 - PAD_PX / w, bottom=min(0.45, bottom_px / h),
                        top=1 - TITLE_PX / h)
    return fig, fig.add_subplot()


def _short(label: str) -> str:
    return label if len(label) <= MAX_LABEL else label[:MAX_LABEL - 1] + "…"


def _colour(report: Report, answer: int) -> str:
    hi = report.scale[1]
    if report.metric == "nps":
        return GOOD if answer >= 9 else MIDDLE if answer >= 7 else BAD
    if report.metric == "csat":
        return GOOD if answer >= hi - 1 else MIDDLE if answer == hi - 2 else BAD
    agree_from = hi - 2 if hi >= 7 else hi - 1
    return GOOD if answer >= agree_from else MIDDLE if answer == agree_from - 1 else BAD


def distribution(report: Report):
    answers = [a for a, _ in report.distribution]
    counts = [c for _, c in report.distribution]
    digits = len(f"{max(counts, default=0):,}")
    fig, ax = _figure(6.4, 3.4, YLABEL_PX + digits * DIGIT + PAD_PX, XAXIS_PX)
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
    xs = list(range(len(report.trend)))
    labels = [g.name.split("/")[0] for g in report.trend]  # a week is named by its first day
    tilted = len(xs) > 6
    longest = max(len(t) for t in labels)
    bottom = (longest * DIGIT * 0.71 + 2 * PAD_PX) if tilted else XAXIS_PX - 14
    fig, ax = _figure(6.4, 3.4, YLABEL_PX + 5 * DIGIT + PAD_PX, bottom)
    ax.errorbar(xs, [g.score for g in report.trend], yerr=[g.margin for g in report.trend], color=LINE, marker="o",
                capsize=4, linewidth=2)
    step = -(-len(xs) // 12)  # at most 12 labels: weeks of a year would overlap
    ax.set_xticks(xs[::step], labels[::step], rotation=45 if tilted else 0, ha="right" if tilted else "center",
                  rotation_mode="anchor" if tilted else "default")
    ax.set_ylabel(NAMES[report.metric])
    ax.set_title(f"{NAMES[report.metric]} by {report.period} (error bars: {round(report.confidence * 100)}% margin)")
    ax.grid(axis="y", alpha=0.3)
    ax.spines[["top", "right"]].set_visible(False)
    return fig


def segments(report: Report):
    if not report.segments:
        return None
    rows = list(reversed(report.segments))
    labels = [_short(str(s.group.name)) for s in rows]
    fig, ax = _figure(6.4, max(2.4, 0.45 * len(rows) + 1.2), max(len(t) for t in labels) * LETTER + 2 * PAD_PX,
                      XAXIS_PX + 18)
    ys = list(range(len(rows)))
    ax.barh(ys, [s.group.score for s in rows], xerr=[s.group.margin for s in rows], capsize=4,
            color=[LINE if s.significant else MIDDLE for s in rows])
    ax.axvline(report.overall.score, color="#0f172a", linewidth=1, linestyle="--")
    ax.set_yticks(ys, labels)
    ax.set_xlabel(NAMES[report.metric])
    fig.text(0.01, 0.015, "dashed line: all responses · coloured bars: beyond the noise", fontsize=8.5,
             color="#475569")
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
