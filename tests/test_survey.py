"""Survey files: the score, its margin of error, the trend and segments (copilot/survey.py), the charts, the
`cx-copilot metrics` command, the Metrics tab's handlers, and clear messages for bad files."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest

from copilot import charts, metrics, survey
from copilot.cli import main
from copilot.ui import metrics as tab


def _responses(n: int = 2000, seed: int = 3) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    region = np.where(np.arange(n) % 2 == 0, "North", "South")
    high = rng.random(n) < np.where(region == "North", 0.7, 0.35)
    score = np.where(high, rng.integers(9, 11, n), rng.integers(0, 9, n))
    month = np.where(np.arange(n) < n // 2, "2026-01-15", "2026-02-15")
    return pd.DataFrame({"submitted": month, "region": region, "likelihood to recommend": score})


@pytest.fixture
def csv_file(tmp_path):
    path = tmp_path / "responses.csv"
    _responses().to_csv(path, index=False)
    return path


def test_score_margin_trend_and_segments_agree_with_the_calculators(csv_file):
    frame = survey.read_responses(csv_file)
    guess = survey.guess_columns(frame)
    assert (guess.score, guess.metric, guess.date, guess.segment) == ("likelihood to recommend", "nps", "submitted",
                                                                      "region")
    report = survey.analyse(frame, "nps", guess.score, date_column="submitted", period="month",
                            segment_column="region")
    values = frame["likelihood to recommend"].tolist()
    p, passive, d = metrics.nps_counts(values)
    assert report.overall.score == pytest.approx(metrics.nps(values))
    assert report.overall.margin == pytest.approx(metrics.margin_of_error(metrics.nps_standard_error(p, passive, d)))
    assert sum(c for _, c in report.distribution) == len(values) and len(report.distribution) == 11
    assert [g.name for g in report.trend] == ["2026-01", "2026-02"]
    assert report.trend[0].score == pytest.approx(metrics.nps(values[:1000]))
    north, south = sorted(report.segments, key=lambda s: s.group.name)
    assert north.group.name == "North" and north.significant and north.difference > 0  # 70% vs 35% promoters
    assert north.group.score == pytest.approx(metrics.nps(values[0::2]))
    assert "beyond the noise" in north.sentence("nps")
    assert "standard error of the difference of two proportions" in report.margin_formula


def test_a_difference_smaller_than_its_margin_is_called_noise():
    # the same answers in both teams but one: a 1-point difference on 100 answers each
    frame = pd.DataFrame({"score": [10, 9, 3, 8] * 50, "team": (["A"] * 4 + ["B"] * 4) * 25})
    frame.loc[4, "score"] = 6
    report = survey.analyse(frame, "nps", "score", segment_column="team")
    assert report.segments and not any(s.significant for s in report.segments)
    assert all("within the noise" in s.sentence("nps") for s in report.segments)


def test_csat_and_ces_from_files():
    csat = survey.analyse(pd.DataFrame({"rating": [5] * 90 + [4] * 60 + [3] * 20 + [2] * 18 + [1] * 12}), "csat",
                          "rating")
    assert csat.overall.score == pytest.approx(75.0)
    assert csat.overall.margin == pytest.approx(1.959964 * 100 * math.sqrt(0.75 * 0.25 / 200), rel=1e-5)
    ces_values = [7] * 90 + [6] * 75 + [5] * 45 + [4] * 30 + [3] * 25 + [2] * 20 + [1] * 15
    ces = survey.analyse(pd.DataFrame({"effort": ces_values}), "ces", "effort")
    assert ces.overall.score == pytest.approx(1555 / 300) and ces.extra["agree_pct"] == pytest.approx(70.0)


def test_charts_are_drawn(csv_file):
    report = survey.analyse_file(csv_file, date_column="submitted", segment_column="region")
    dist, trend, seg = charts.distribution(report), charts.trend(report), charts.segments(report)
    assert len(dist.axes[0].patches) == 11 and trend.axes[0].get_title().startswith("NPS by month")
    assert [t.get_text() for t in seg.axes[0].get_yticklabels()] == ["South", "North"]


@pytest.mark.parametrize("name, content, message", [
    ("empty.csv", b"", "is empty"),
    ("header.csv", b"score,region\n", "header row but no responses"),
    ("words.csv", b"name,comment\nann,great\nbob,slow\n", "no column of numbers"),
    ("binary.csv", b"\x00\x01\x02\xff\xfe\x00garbage" * 50, "not text in a known encoding"),
    ("zip.csv", b"PK\x03\x04" + b"\x00" * 40, "Excel or zip file"),
    ("broken.xlsx", b"this is no workbook", "not a readable Excel workbook"),
    ("old.xls", b"\xd0\xcf\x11\xe0", "Excel 97-2003"),
    ("scores.pdf", b"%PDF-1.4", "'.pdf' files are not survey data"),
])
def test_bad_files_get_a_message_naming_the_problem(tmp_path, name, content, message):
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(survey.SurveyError, match=message) as info:
        survey.analyse_file(path)
    assert name in str(info.value)


def test_scores_outside_the_scale_and_text_in_the_score_column_are_named(tmp_path):
    path = tmp_path / "nps.csv"
    path.write_text("score\n10\n11\n-1\n7\n", encoding="utf-8")
    with pytest.raises(survey.SurveyError, match=r"2 scores outside the 0-10 NPS scale.*11 in row 3, -1 in row 4"):
        survey.analyse_file(path, "nps", "score")
    path.write_text("score\n10\nten\n7\n\n", encoding="utf-8")
    with pytest.raises(survey.SurveyError, match=r"1 value that is not a number \('ten' in row 3\)"):
        survey.analyse_file(path, "nps", "score")
    frame = pd.DataFrame({"score": [5, 4, None, 5]})
    assert "1 row without a score was left out." in survey.analyse(frame, "csat", "score").notes


def test_legacy_encodings_excel_and_semicolons_are_read(tmp_path):
    latin = tmp_path / "latin.csv"
    latin.write_bytes("région;note\nÎle-de-France;9\nNîmes;6\nSète;10\n".encode("cp1252"))
    frame = survey.read_responses(latin)
    assert list(frame.columns) == ["région", "note"] and frame["région"][0] == "Île-de-France"
    xlsx = tmp_path / "scores.xlsx"
    pd.DataFrame({"csat": [5, 4, 2, 5]}).to_excel(xlsx, index=False)
    assert survey.analyse_file(xlsx).overall.score == pytest.approx(75.0)
    utf16 = tmp_path / "utf16.csv"
    utf16.write_bytes("score\n9\n10\n".encode("utf-16"))
    assert survey.analyse_file(utf16, "nps").overall.score == pytest.approx(100.0)


def test_the_metrics_command(csv_file, tmp_path, capsys):
    assert main(["metrics", str(csv_file), "--metric", "nps", "--column", "likelihood to recommend", "--by", "month",
                 "--charts", str(tmp_path / "charts")]) == 0
    out = capsys.readouterr().out
    assert out.startswith("NPS +") and "Trend by month (submitted): 2026-01" in out
    assert sorted(p.name for p in (tmp_path / "charts").iterdir()) == ["nps-distribution.png", "nps-trend.png"]
    assert main(["metrics", str(csv_file), "--by", "region", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["metric"] == "nps" and [s["name"] for s in data["segments"]] == ["North", "South"]
    assert data["segments"][0]["beyond_noise"] is True
    bad = tmp_path / "bad.csv"
    bad.write_text("name\nann\n", encoding="utf-8")
    assert main(["metrics", str(bad)]) == 2
    assert "bad.csv has no column of numbers" in capsys.readouterr().err
    assert main(["metrics", str(csv_file), "--by", "weekday"]) == 2
    assert "--by weekday: give a period" in capsys.readouterr().err


def test_the_metrics_tab_handlers_report_and_never_raise(csv_file, tmp_path):
    summary, column, metric, date, segment, dist, trend, seg = tab.open_survey(str(csv_file))
    assert 'id="cx-metric-score"' in summary and "NPS <b>+" in summary
    assert column["value"] == "likelihood to recommend" and date["value"] == "submitted"
    assert dist is not None and trend is not None and seg is not None
    summary, *plots = tab.analyse_survey(str(csv_file), "csat", "likelihood to recommend", "(none)", "month", "(none)")
    assert "outside the 1-5 CSAT scale" in summary and plots == [None, None, None]
    broken = tmp_path / "broken.csv"
    broken.write_bytes(b"\x00\xff" * 100)
    summary, *rest = tab.open_survey(str(broken))
    assert "not text in a known encoding" in summary and rest[-3:] == [None, None, None]
    hostile = tmp_path / "<img src=x onerror=alert(1)>.csv"
    hostile.write_text("<b>score</b>\n9\n", encoding="utf-8")
    summary, *_ = tab.open_survey(str(hostile))
    assert "<b>score</b>" not in summary and "&lt;b&gt;score&lt;/b&gt;" in summary
    assert "<img" not in summary
