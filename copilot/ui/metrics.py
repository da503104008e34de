"""The Metrics tab's handlers: a file of survey responses in, the score with its margin of error, the
distribution, the trend by period and the segment comparison out (copilot/survey.py, copilot/charts.py).

The handlers are module-level functions of their inputs alone. The tab keeps no state: each call reads the
uploaded file again (fast), so nothing of one user's data is kept between requests. They never raise into the
page: a bad file or a bad choice of columns comes back as a message naming the problem, and anything unexpected
is logged and said in one line. Nothing is written anywhere: the upload stays in Gradio's own cache.
"""

from __future__ import annotations

import logging
from pathlib import Path

import gradio as gr

from .. import charts, survey
from .render import esc, notice

log = logging.getLogger(__name__)
NONE = "(none)"
METRIC_CHOICES = [("NPS (0-10)", "nps"), ("CSAT (1-5)", "csat"), ("CES (1-7)", "ces")]
PERIOD_CHOICES = ["week", "month", "quarter", "year"]
FILE_TYPES = [".csv", ".tsv", ".txt", ".xlsx", ".xlsm"]
EMPTY = ('<div class="cx-metrics-empty cx-muted">Upload a CSV or Excel file with one survey response per row. '
         "The score column, the metric and any date or segment column are guessed; change them below.</div>")


def _path(file) -> str | None:
    if file is None:
        return None
    return file if isinstance(file, str) else getattr(file, "name", None) or getattr(file, "path", None)


def _optional(value) -> str | None:
    return value if isinstance(value, str) and value and value != NONE else None


def render_report(report: survey.Report) -> str:
    """The score, the formulas, the trend and the segment table as escaped HTML."""
    o = report.overall
    metric = report.metric
    parts = ['<div class="cx-metrics-report">',
             f'<div class="cx-metric-score" id="cx-metric-score">{esc(survey.NAMES[metric])} '
             f'<b>{esc(survey._show(o.score, metric))}</b> <span class="cx-metric-margin">± '
             f'{esc(survey._fmt(o.margin, metric))}</span></div>',
             f'<div class="cx-muted">{round(report.confidence * 100)}% confidence · n = {o.n:,} · column '
             f'{esc(report.column)} · {esc(report.file)}</div>',
             f'<p><b>Formula:</b> {esc(report.formula)}. <b>Margin of error:</b> {esc(report.margin_formula)}.</p>']
    if report.extra.get("breakdown"):
        parts.append(f"<p>{esc(report.extra['breakdown'])}</p>")
    if len(report.trend) >= 2:
        parts.append(f'<p class="cx-metric-trend">{esc(report.trend_sentence())}</p>')
    if report.segments:
        parts.append(f'<table class="cx-table cx-segments"><thead><tr><th>{esc(report.segment_column)}</th>'
                     "<th>Score</th><th>n</th><th>Against the rest</th><th>Verdict</th></tr></thead><tbody>")
        for s in report.segments:
            sign = "+" if s.difference > 0 else "−" if s.difference < 0 else ""
            verdict = "beyond the noise" if s.significant else "within the noise"
            parts.append(f"<tr><td>{esc(s.group.name)}</td><td>{esc(survey._show(s.group.score, metric))} ± "
                         f"{esc(survey._fmt(s.group.margin, metric))}</td><td>{s.group.n:,}</td>"
                         f"<td>{sign}{esc(survey._fmt(abs(s.difference), metric))} ± "
                         f"{esc(survey._fmt(s.margin, metric))}</td><td class=\"cx-verdict-"
                         f"{'sig' if s.significant else 'noise'}\">{verdict}</td></tr>")
        parts.append("</tbody></table>")
    parts.extend(f'<p class="cx-muted">{esc(n)}</p>' for n in report.notes)
    parts.append("</div>")
    return "".join(parts)


def open_survey(file):
    """After an upload: the columns to choose from with the guesses selected, and the analysis of the
    guessed choice (summary, column, metric, date column, segment column, three charts)."""
    path = _path(file)
    none = gr.update(choices=[NONE], value=NONE)
    failed = (gr.update(choices=[], value=None), gr.skip(), none, none, None, None, None)
    if path is None:
        return (EMPTY, *failed)
    name = Path(path).name
    try:
        frame = survey.read_responses(path, name)
        guess = survey.guess_columns(frame)
    except survey.SurveyError as exc:
        return (notice(str(exc), "error"), *failed)
    except Exception:  # noqa: BLE001 - the tab must survive any file
        log.exception("reading survey file %s failed", path)
        return (notice(f"{name} could not be read as a table of responses.", "error"), *failed)
    if guess.score is None:
        return (notice(f"{name} has no column of numbers: the scores must be a column of numbers (0-10 for NPS, "
                       "1-5 for CSAT, 1-7 for CES).", "error"), *failed)
    columns = [str(c) for c in frame.columns]
    choices = (gr.update(choices=guess.numeric, value=guess.score), gr.update(value=guess.metric or "nps"),
               gr.update(choices=[NONE, *columns], value=guess.date or NONE),
               gr.update(choices=[NONE, *columns], value=guess.segment or NONE))
    summary, *plots = _report(frame, name, guess.metric or "nps", guess.score, guess.date, "month", guess.segment)
    return (summary, *choices, *plots)


def analyse_survey(file, metric, column, date_column, period, segment_column):
    """The report and its three charts (None where there is nothing to draw)."""
    path = _path(file)
    nothing = (None, None, None)
    if path is None:
        return EMPTY, *nothing
    if not isinstance(column, str) or not column:
        return notice("Choose the column that holds the scores.", "warning"), *nothing
    try:
        frame = survey.read_responses(path, Path(path).name)
    except survey.SurveyError as exc:
        return notice(str(exc), "error"), *nothing
    except Exception:  # noqa: BLE001 - the tab must survive any file
        log.exception("reading survey file %s failed", path)
        return notice(f"{Path(path).name} could not be read as a table of responses.", "error"), *nothing
    return _report(frame, Path(path).name, metric if isinstance(metric, str) else "nps", column,
                   _optional(date_column), period if period in survey.PERIODS else "month", _optional(segment_column))


def _report(frame, name: str, metric: str, column: str, date_column, period: str, segment_column):
    try:
        report = survey.analyse(frame, metric, column, file=name, date_column=date_column, period=period,
                                segment_column=segment_column)
        return render_report(report), charts.distribution(report), charts.trend(report), charts.segments(report)
    except survey.SurveyError as exc:
        return notice(str(exc), "error"), None, None, None
    except Exception:  # noqa: BLE001 - the tab must survive any file
        log.exception("analysing survey file %s failed", name)
        return notice(f"{name} could not be analysed because of an internal error; the server log has the "
                      "details.", "error"), None, None, None


def clear_survey():
    return EMPTY, None, None, None
