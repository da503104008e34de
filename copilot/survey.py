"""Survey metrics from a file of raw responses (CSV, TSV or Excel): the score with its margin of error, the
distribution of answers, the trend by period and a segment comparison that says when a difference is within
the noise. Used by `cx-copilot metrics` and the web app's Metrics tab; the charts are in copilot/charts.py.

Formulas (copilot/metrics.py has them with their corpus citations):
- NPS = % promoters (9-10) − % detractors (0-6); margin of error z × √((p + d − (p − d)²) ÷ n) × 100, the
  standard error of the difference of two proportions of one sample.
- CSAT = % of answers in the top two boxes; margin z × √(p (1 − p) ÷ n) × 100, the standard error of a
  proportion.
- CES = the mean score (CES 2.0, 1-7); margin z × s ÷ √n, the standard error of a mean.
Two groups (a segment and the rest, or two periods) differ beyond the noise when their difference is larger
than z × √(SE₁² + SE₂²).

Everything a bad file can do ends in a `SurveyError` that names the file or column and the problem.
"""

from __future__ import annotations

import csv
import io
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from . import metrics as m
from .errors import CopilotError

SCALES = {"nps": (0, 10), "csat": (1, 5), "ces": (1, 7)}
NAMES = {"nps": "NPS", "csat": "CSAT", "ces": "CES"}
PERIODS = {"day": "D", "week": "W", "month": "M", "quarter": "Q", "year": "Y"}
TEXT_SUFFIXES = {".csv", ".tsv", ".txt", ".tab"}
EXCEL_SUFFIXES = {".xlsx", ".xlsm"}
MAX_BYTES = 200 * 1024 * 1024
MAX_SEGMENTS = 30
FORMULAS = {
    "nps": "NPS = % promoters (9-10) − % detractors (0-6)",
    "csat": "CSAT = answers in the top two boxes ÷ all answers × 100",
    "ces": "CES = sum of all scores ÷ number of responses",
}
MARGINS = {
    "nps": "the standard error of the difference of two proportions of one sample: z × √((p + d − (p − d)²) ÷ n) "
           "× 100, with p and d the shares of promoters and detractors",
    "csat": "the standard error of a proportion: z × √(p (1 − p) ÷ n) × 100",
    "ces": "the standard error of a mean: z × s ÷ √n",
}


class SurveyError(CopilotError):
    """A survey file or choice of columns that cannot be analysed; the message says which and why."""


# ---------------------------------------------------------------- reading files

def read_responses(path: str | Path, name: str | None = None):
    """The responses in a CSV/TSV/text or Excel file as a DataFrame. `name` is how to call the file in messages
    (an upload's original name)."""
    import pandas as pd

    path = Path(path)
    shown = name or path.name
    suffix = Path(shown).suffix.lower() or path.suffix.lower()
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise SurveyError(f"{shown}: cannot be read ({exc.strerror or exc}).") from None
    if size == 0:
        raise SurveyError(f"{shown} is empty: it has no header and no responses.")
    if size > MAX_BYTES:
        raise SurveyError(f"{shown} is {size / 2**20:.0f} MB, more than the {MAX_BYTES // 2**20} MB a survey file "
                          "may have here.")
    if suffix in EXCEL_SUFFIXES:
        try:
            frame = pd.read_excel(path, engine="openpyxl")
        except Exception as exc:  # noqa: BLE001 - openpyxl raises many kinds for a broken workbook
            raise SurveyError(f"{shown} is not a readable Excel workbook ({type(exc).__name__}: "
                              f"{' '.join(str(exc).split())[:160]}). Save it again as .xlsx or as CSV.") from None
    elif suffix == ".xls":
        raise SurveyError(f"{shown} is an old Excel 97-2003 workbook (.xls): save it as .xlsx or as CSV.")
    elif suffix in TEXT_SUFFIXES or not suffix:
        frame = _read_text(path, shown, suffix)
    else:
        raise SurveyError(f"{shown}: '{suffix}' files are not survey data here; use CSV, TSV or Excel (.xlsx).")
    frame.columns = [str(c).strip() or f"column {i + 1}" for i, c in enumerate(frame.columns)]
    if frame.empty:
        raise SurveyError(f"{shown} has a header row but no responses.")
    return frame


def _read_text(path: Path, shown: str, suffix: str):
    import pandas as pd

    raw = path.read_bytes()
    if raw[:4] == b"PK\x03\x04":
        raise SurveyError(f"{shown} is an Excel or zip file, not text: save it as CSV, or upload it with the .xlsx "
                          "name.")
    text, encoding = _decode(raw, shown)
    if not text.strip():
        raise SurveyError(f"{shown} is empty: it has no header and no responses.")
    sample = text[:65536]
    if suffix in {".tsv", ".tab"}:
        sep = "\t"
    else:
        try:
            sep = csv.Sniffer().sniff(sample.split("\n", 50)[0] + "\n", delimiters=",;\t|").delimiter
        except csv.Error:
            sep = ","
    try:
        if encoding in {"utf-8", "utf-8-sig"}:  # straight from the file: faster than from a string
            return pd.read_csv(path, sep=sep, engine="c", encoding=encoding, skipinitialspace=True, low_memory=False)
        return pd.read_csv(io.StringIO(text), sep=sep, engine="c", skipinitialspace=True, low_memory=False)
    except pd.errors.EmptyDataError:
        raise SurveyError(f"{shown} is empty: it has no header and no responses.") from None
    except (pd.errors.ParserError, ValueError) as exc:
        raise SurveyError(f"{shown} is not a well-formed table ({' '.join(str(exc).split())[:160]}).") from None


def _decode(raw: bytes, shown: str) -> tuple[str, str]:
    """Text from bytes: UTF-8 (with or without a BOM), UTF-16/32 with a BOM, else the detected code page.
    Binary data, or text in no encoding that can be told, is refused."""
    for bom, enc in ((b"\xef\xbb\xbf", "utf-8-sig"), (b"\xff\xfe\x00\x00", "utf-32"), (b"\x00\x00\xfe\xff", "utf-32"),
                     (b"\xff\xfe", "utf-16"), (b"\xfe\xff", "utf-16")):
        if raw.startswith(bom):
            try:
                return raw.decode(enc), enc
            except UnicodeDecodeError:
                break
    try:
        return raw.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    if b"\x00" in raw[:65536]:
        raise SurveyError(f"{shown} is not text in a known encoding (it holds binary data). Save it as CSV "
                          "(UTF-8).")
    from charset_normalizer import from_bytes

    best = from_bytes(raw[:1_000_000]).best()
    if best is None or best.encoding is None:
        raise SurveyError(f"{shown} is not text in a known encoding. Save it as CSV (UTF-8).")
    try:
        return raw.decode(best.encoding), best.encoding
    except (UnicodeDecodeError, LookupError):
        raise SurveyError(f"{shown} is not text in a known encoding ({best.encoding} was tried). Save it as CSV "
                          "(UTF-8).") from None


# ---------------------------------------------------------------- choosing columns

@dataclass
class Guess:
    score: str | None
    metric: str | None
    date: str | None
    segment: str | None
    numeric: list[str]
    others: list[str]


def _numeric(series) -> np.ndarray:
    import pandas as pd

    return pd.to_numeric(series, errors="coerce").to_numpy(dtype=float)


def guess_columns(frame) -> Guess:
    """Which column holds the scores (a mostly numeric column of whole numbers within a survey scale, its name
    preferred when it says score, rating, nps, csat or ces), which metric its range suggests, a date column
    and a segment column (text with 2-30 distinct values)."""
    import pandas as pd

    numeric, others = [], []
    sample_frame = frame.head(5000)
    for col in frame.columns:
        values = _numeric(sample_frame[col])
        present = sample_frame[col].notna().sum()
        if present and np.isfinite(values).sum() >= 0.9 * present:
            numeric.append(col)
        else:
            others.append(col)

    def score_rank(col):
        v = _numeric(sample_frame[col])
        v = v[np.isfinite(v)]
        if not len(v):
            return (0, 0)
        whole = np.all(v == np.round(v))
        in_scale = v.min() >= 0 and v.max() <= 10
        name = col.lower()
        hint = any(h in name for h in ("score", "rating", "nps", "csat", "ces", "recommend", "satisf", "effort"))
        return (int(whole and in_scale) * 2 + int(hint), -frame.columns.get_loc(col))

    score = max(numeric, key=score_rank) if numeric else None
    metric = None
    if score is not None:
        name = score.lower()
        metric = next((k for k in ("nps", "csat", "ces") if k in name), None)
        if metric is None:
            v = _numeric(frame[score])
            v = v[np.isfinite(v)]
            if len(v):
                lo, hi = v.min(), v.max()
                metric = "nps" if lo >= 0 and hi > 7 else "ces" if lo >= 1 and hi > 5 else "csat" if lo >= 1 else "nps"
    date = None
    for col in others + numeric:
        if col == score:
            continue
        sample = frame[col].dropna().astype(str).head(200)
        if not len(sample) or sample.str.fullmatch(r"-?\d+(?:\.\d+)?").all():
            continue
        parsed = pd.to_datetime(sample, errors="coerce", format="mixed")
        if parsed.notna().mean() >= 0.9:
            date = col
            break
    segment = None
    for col in others:
        if col == date:
            continue
        distinct = frame[col].nunique(dropna=True)
        if 2 <= distinct <= MAX_SEGMENTS:
            segment = col
            break
    return Guess(score, metric, date, segment, numeric, others)


# ---------------------------------------------------------------- the analysis

@dataclass
class Group:
    """A score for some of the responses (a period, a segment) with its margin of error."""

    name: str
    n: int
    score: float
    margin: float
    se: float


@dataclass
class SegmentVerdict:
    group: Group
    difference: float  # the segment minus the rest of the respondents
    margin: float
    significant: bool

    def sentence(self, metric: str) -> str:
        unit = "points" if metric == "nps" else "percentage points" if metric == "csat" else ""
        gap = _fmt(abs(self.difference), metric)
        where = "above" if self.difference > 0 else "below"
        noise = "beyond the noise" if self.significant else "within the noise"
        return (f"{self.group.name}: {_show(self.group.score, metric)} ± {_fmt(self.group.margin, metric)} "
                f"(n = {self.group.n:,}), {gap}{' ' + unit if unit else ''} {where} the rest "
                f"(± {_fmt(self.margin, metric)}): {noise}.")


@dataclass
class Report:
    """What `analyse` found; `summary()` says it in a few lines."""

    file: str
    metric: str
    column: str
    scale: tuple[int, int]
    confidence: float
    overall: Group
    distribution: list[tuple[int, int]]  # (answer, count) for every point of the scale
    trend: list[Group] = field(default_factory=list)
    period: str = ""
    date_column: str = ""
    segments: list[SegmentVerdict] = field(default_factory=list)
    segment_column: str = ""
    notes: list[str] = field(default_factory=list)
    extra: dict = field(default_factory=dict)  # promoters/passives/detractors shares, % agree, ...

    @property
    def formula(self) -> str:
        return FORMULAS[self.metric]

    @property
    def margin_formula(self) -> str:
        return MARGINS[self.metric]

    def headline(self) -> str:
        o = self.overall
        return (f"{NAMES[self.metric]} {_show(o.score, self.metric)} ± {_fmt(o.margin, self.metric)} "
                f"({round(self.confidence * 100)}% confidence, n = {o.n:,})")

    def summary(self) -> list[str]:
        lines = [self.headline(), f"Formula: {self.formula}.",
                 f"Margin of error: {self.margin_formula}."]
        if self.extra.get("breakdown"):
            lines.append(self.extra["breakdown"])
        if self.trend:
            lines.append(f"Trend by {self.period} ({self.date_column}): " + "; ".join(
                f"{g.name} {_show(g.score, self.metric)} ± {_fmt(g.margin, self.metric)} (n = {g.n:,})"
                for g in self.trend))
            if len(self.trend) >= 2:
                lines.append(self.trend_sentence())
        if self.segments:
            lines.append(f"Segments ({self.segment_column}), each against the rest of the respondents:")
            lines.extend("  " + s.sentence(self.metric) for s in self.segments)
        lines.extend(self.notes)
        return lines

    def trend_sentence(self) -> str:
        first, last = self.trend[0], self.trend[-1]
        d = m.compare(last.score, last.se, first.score, first.se, self.confidence)
        noise = "beyond the noise" if d.significant else "within the noise"
        if not d.difference:
            return f"From {first.name} to {last.name} the score stayed level (± {_fmt(d.margin, self.metric)})."
        move = "rose" if d.difference > 0 else "fell"
        return (f"From {first.name} to {last.name} the score {move} by {_fmt(abs(d.difference), self.metric)} "
                f"(± {_fmt(d.margin, self.metric)}): {noise}.")

    def to_dict(self) -> dict:
        def g(x: Group) -> dict:
            return {"name": x.name, "n": x.n, "score": round(x.score, 4), "margin": round(x.margin, 4)}

        return {"file": self.file, "metric": self.metric, "column": self.column, "scale": list(self.scale),
                "confidence": self.confidence, "score": round(self.overall.score, 4),
                "margin": round(self.overall.margin, 4), "n": self.overall.n, "formula": self.formula,
                "margin_formula": self.margin_formula, "distribution": [list(x) for x in self.distribution],
                "period": self.period, "trend": [g(x) for x in self.trend],
                "segments": [{**g(s.group), "difference": round(s.difference, 4), "difference_margin":
                              round(s.margin, 4), "beyond_noise": s.significant} for s in self.segments],
                "notes": self.notes, **{k: v for k, v in self.extra.items() if k != "breakdown"}}


def _fmt(x: float, metric: str) -> str:
    dp = 2 if metric == "ces" else 1
    return f"{x:.{dp}f}"


def _show(x: float, metric: str) -> str:
    if metric == "nps":
        return f"{x:+.1f}"
    if metric == "csat":
        return f"{x:.1f}%"
    return f"{x:.2f}"


def _stats(metric: str, values: np.ndarray, scale: tuple[int, int]) -> tuple[float, float]:
    """(score, standard error) of some answers."""
    n = len(values)
    if metric == "nps":
        p, d = float(np.mean(values >= 9)), float(np.mean(values <= 6))
        return 100 * (p - d), 100 * math.sqrt(max(p + d - (p - d) ** 2, 0.0) / n)
    if metric == "csat":
        s = float(np.mean(values >= scale[1] - 1))
        return 100 * s, 100 * math.sqrt(s * (1 - s) / n)
    mean = float(values.mean())
    se = float(values.std(ddof=1) / math.sqrt(n)) if n > 1 else math.inf
    return mean, se


def _group(name: str, metric: str, values: np.ndarray, scale, z: float) -> Group:
    score, se = _stats(metric, values, scale)
    return Group(name, len(values), score, z * se, se)


def _scores(frame, column: str, metric: str, scale: tuple[int, int], shown: str) -> tuple[np.ndarray, np.ndarray, int]:
    """The valid answers of the score column, the mask of rows that have one, and how many rows were blank."""
    import pandas as pd

    if column not in frame.columns:
        raise SurveyError(f"{shown} has no column '{column}'. Its columns are: {', '.join(map(str, frame.columns))}.")
    raw = frame[column]
    values = pd.to_numeric(raw, errors="coerce").to_numpy(dtype=float)
    blank = raw.isna().to_numpy() | raw.astype(str).str.strip().eq("").to_numpy()
    bad = ~np.isfinite(values) & ~blank
    if bad.all() or (~blank).sum() == 0:
        raise SurveyError(f"Column '{column}' of {shown} has no numbers: choose the column that holds the scores.")
    if bad.any():
        rows = np.flatnonzero(bad)
        examples = ", ".join(f"{raw.iloc[i]!r} in row {i + 2}" for i in rows[:3])
        raise SurveyError(f"Column '{column}' of {shown} has {len(rows):,} value{'s' if len(rows) != 1 else ''} that "
                          f"{'are' if len(rows) != 1 else 'is'} not a number ({examples}).")
    ok = ~blank
    lo, hi = scale
    outside = ok & ((values < lo) | (values > hi) | (values != np.round(values)))
    if outside.any():
        rows = np.flatnonzero(outside)
        examples = ", ".join(f"{values[i]:g} in row {i + 2}" for i in rows[:3])
        raise SurveyError(f"Column '{column}' of {shown} has {len(rows):,} score{'s' if len(rows) != 1 else ''} "
                          f"outside the {lo}-{hi} {NAMES[metric]} scale, or not whole numbers ({examples}). Check "
                          "the column, the metric or the scale.")
    return values[ok], ok, int(blank.sum())


def analyse(frame, metric: str, column: str, *, file: str = "the file", scale: tuple[int, int] | None = None,
            date_column: str | None = None, period: str = "month", segment_column: str | None = None,
            confidence: float = 0.95) -> Report:
    """The score of `column` as `metric` (nps, csat or ces), with its margin of error, the distribution, the
    trend by `period` of `date_column` and the comparison of each segment of `segment_column` with the rest."""
    import pandas as pd

    metric = (metric or "").lower()
    if metric not in SCALES:
        raise SurveyError(f"metric must be one of nps, csat or ces, not {metric!r}.")
    if period not in PERIODS:
        raise SurveyError(f"period must be one of {', '.join(PERIODS)}, not {period!r}.")
    scale = tuple(scale) if scale else SCALES[metric]
    if metric == "nps" and scale != (0, 10):
        raise SurveyError("NPS is always asked on the 0-10 scale.")
    z = m.z_value(confidence)
    values, ok, blanks = _scores(frame, column, metric, scale, file)
    notes = []
    if blanks:
        notes.append(f"{blanks:,} row{'s' if blanks != 1 else ''} without a score {'were' if blanks != 1 else 'was'} "
                     "left out.")
    overall = _group("all responses", metric, values, scale, z)
    counts = np.bincount(values.astype(int) - scale[0], minlength=scale[1] - scale[0] + 1)
    distribution = [(scale[0] + i, int(c)) for i, c in enumerate(counts)]
    extra: dict = {}
    n = len(values)
    if metric == "nps":
        p, d = int((values >= 9).sum()), int((values <= 6).sum())
        extra = {"promoters": p, "passives": n - p - d, "detractors": d,
                 "breakdown": f"{p:,} promoters ({100 * p / n:.1f}%), {n - p - d:,} passives ({100 * (n - p - d) / n:.1f}%),"
                              f" {d:,} detractors ({100 * d / n:.1f}%)."}
    elif metric == "csat":
        s = int((values >= scale[1] - 1).sum())
        extra = {"satisfied": s, "mean": round(float(values.mean()), 4),
                 "breakdown": f"{s:,} of {n:,} answers are {scale[1] - 1} or {scale[1]} on the {scale[0]}-{scale[1]} "
                              f"scale; the mean score is {values.mean():.2f}."}
    else:
        agree_from = scale[1] - 2 if scale[1] >= 7 else scale[1] - 1
        a = int((values >= agree_from).sum())
        extra = {"agree": a, "agree_pct": round(100 * a / n, 4),
                 "breakdown": f"{a:,} of {n:,} answers ({100 * a / n:.1f}%) are {agree_from} or higher: the "
                              "percentage method."}
    report = Report(file, metric, column, scale, confidence, overall, distribution, notes=notes, extra=extra)
    if date_column:
        if date_column not in frame.columns:
            raise SurveyError(f"{file} has no column '{date_column}' for dates.")
        dates = pd.to_datetime(frame[date_column][ok], errors="coerce", format="mixed")
        good = dates.notna().to_numpy()
        if good.mean() < 0.5:
            raise SurveyError(f"Column '{date_column}' of {file} does not hold dates (fewer than half of its values "
                              "read as dates).")
        if not good.all():
            report.notes.append(f"{int((~good).sum()):,} responses with no readable date are left out of the trend.")
        kept = dates[good]
        if kept.dt.tz is not None:
            kept = kept.dt.tz_localize(None)
        ordinals = kept.dt.to_period(PERIODS[period]).array.asi8
        unique, inverse = np.unique(ordinals, return_inverse=True)
        names = [str(p) for p in pd.PeriodIndex.from_ordinals(unique, freq=PERIODS[period])]
        report.period, report.date_column = period, date_column
        dated = values[good]
        order = np.argsort(inverse, kind="stable")
        bounds = np.searchsorted(inverse[order], np.arange(len(unique) + 1))
        for k, label in enumerate(names):
            report.trend.append(_group(label, metric, dated[order[bounds[k]:bounds[k + 1]]], scale, z))
    if segment_column:
        if segment_column not in frame.columns:
            raise SurveyError(f"{file} has no column '{segment_column}' for segments.")
        names = frame[segment_column][ok].astype("string").fillna("(none)").str.strip().to_numpy()
        codes, uniques = pd.factorize(names, sort=False)
        sizes = np.bincount(codes)
        order = np.argsort(-sizes)
        if len(uniques) > MAX_SEGMENTS:
            report.notes.append(f"Column '{segment_column}' has {len(uniques):,} values: the {MAX_SEGMENTS} largest "
                                "segments are compared.")
            order = order[:MAX_SEGMENTS]
        if len(uniques) < 2:
            report.notes.append(f"Column '{segment_column}' has only one value, so there is nothing to compare.")
        else:
            for k in order:
                inside = codes == k
                if inside.sum() < 2 or (~inside).sum() < 2:
                    continue
                g = _group(str(uniques[k]), metric, values[inside], scale, z)
                rest_score, rest_se = _stats(metric, values[~inside], scale)
                d = m.compare(g.score, g.se, rest_score, rest_se, confidence)
                report.segments.append(SegmentVerdict(g, d.difference, d.margin, d.significant))
        report.segment_column = segment_column
    return report


def analyse_file(path: str | Path, metric: str | None = None, column: str | None = None, *, name: str | None = None,
                 **options) -> Report:
    """Read a file and analyse it, guessing the score column and the metric when they are not given."""
    frame = read_responses(path, name)
    shown = name or Path(path).name
    guess = guess_columns(frame)
    if column is None:
        if guess.score is None:
            raise SurveyError(f"{shown} has no column of numbers: the scores must be a column of numbers "
                              "(0-10 for NPS, 1-5 for CSAT, 1-7 for CES).")
        column = guess.score
    metric = metric or guess.metric or "nps"
    return analyse(frame, metric, column, file=shown, **options)
