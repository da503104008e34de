"""The CX metric calculators (copilot/metrics.py) against hand-worked examples, most of them the corpus's own
worked examples, and their refusals of impossible input."""

from __future__ import annotations

import math

import pytest

from copilot import metrics as m


def test_nps_matches_the_corpus_worked_example_from_counts_and_from_scores():
    assert m.nps(promoters=250, passives=150, detractors=100) == pytest.approx(30.0)  # net-promoter-score.md
    scores = [10] * 125 + [9] * 125 + [8] * 75 + [7] * 75 + [6] * 50 + [0] * 50
    assert m.nps_counts(scores) == (250, 150, 100)
    assert m.nps(scores) == pytest.approx(30.0)
    assert m.nps_from_shares(40, 10, 50) == pytest.approx(30.0)  # the second company of the example
    assert m.nps(promoters=0, passives=0, detractors=7) == -100.0


def test_nps_groups_follow_the_cut_offs():
    assert [m.nps_group(s) for s in (0, 6, 7, 8, 9, 10)] == ["detractor"] * 2 + ["passive"] * 2 + ["promoter"] * 2


def test_csat_top_two_box_top_box_and_mean_match_the_worked_example():
    scores = [5] * 90 + [4] * 60 + [3] * 20 + [2] * 18 + [1] * 12  # customer-satisfaction-score.md
    assert m.csat(scores) == pytest.approx(75.0)
    assert m.csat(scores, boxes=1) == pytest.approx(45.0)
    assert m.mean_score(scores, m.CSAT_SCALE) == pytest.approx(3.99)
    assert m.csat(satisfied=312, total=400) == pytest.approx(78.0)


def test_ces_mean_and_percentage_methods_match_the_worked_example():
    scores = [7] * 90 + [6] * 75 + [5] * 45 + [4] * 30 + [3] * 25 + [2] * 20 + [1] * 15  # customer-effort-score.md
    assert m.ces(scores) == pytest.approx(1555 / 300)
    assert m.ces(scores, method="agree") == pytest.approx(70.0)


def test_churn_and_retention_match_the_worked_examples():
    assert m.churn_rate(2000, 60) == pytest.approx(3.0)  # churn-rate.md
    assert m.retention_rate(1000, 1050, 200) == pytest.approx(85.0)  # retention-rate.md
    # one base, both rates: they add up to 100%
    assert m.churn_rate(2000, 140) + m.retention_rate(2000, 2000 - 140 + 300, 300) == pytest.approx(100.0)


def test_clv_both_formulas_match_the_worked_example():
    simple = m.clv(average_order_value=50, purchases_per_year=4, gross_margin=0.40, lifespan_years=3)
    assert simple == pytest.approx(240.0)  # customer-lifetime-value.md
    assert m.clv(80, gross_margin=1.0, retention=0.80, discount=0.10) == pytest.approx(64 / 0.30)
    assert m.clv(80, gross_margin=1.0, retention=0.85, discount=0.10) == pytest.approx(272.0)
    assert m.clv(40 * 12, gross_margin=0.70, lifespan_years=3) == pytest.approx(1008.0)


def test_fcr_survey_and_internal_methods_match_the_worked_example():
    assert m.fcr(292, 400) == pytest.approx(73.0)  # first-contact-resolution.md
    assert m.fcr(total=5000, repeat=1500) == pytest.approx(70.0)


def test_aht_matches_the_worked_example():
    assert m.aht(2000, 240, 560, 400) == pytest.approx(7.0)  # average-handle-time.md
    assert m.aht(6, 1.5, 2) == pytest.approx(9.5)


def test_nps_margin_of_error_is_the_standard_error_of_a_difference_of_proportions():
    # p = 0.6, d = 0.15, n = 200: SE = sqrt((0.75 - 0.45^2) / 200)
    se = m.nps_standard_error(120, 50, 30)
    assert se == pytest.approx(100 * math.sqrt((0.75 - 0.45 ** 2) / 200))
    assert m.margin_of_error(se) == pytest.approx(1.959964 * se, rel=1e-5)
    # the margin shrinks with the square root of the sample
    assert m.nps_standard_error(1200, 500, 300) == pytest.approx(m.nps_standard_error(120, 50, 30) / math.sqrt(10))
    assert m.proportion_standard_error(312, 400) == pytest.approx(100 * math.sqrt(0.78 * 0.22 / 400))


def test_differences_within_the_noise_are_told_apart_from_real_ones():
    small = m.compare(32.0, 3.0, 30.0, 3.0)
    assert small.difference == 2.0 and not small.significant
    big = m.compare(40.0, 1.0, 30.0, 1.0)
    assert big.significant and big.margin == pytest.approx(1.959964 * math.sqrt(2), rel=1e-5)


@pytest.mark.parametrize("call, field", [
    (lambda: m.nps(promoters=-1, passives=5, detractors=5), "promoters"),
    (lambda: m.csat(satisfied=450, total=400), "satisfied"),
    (lambda: m.churn_rate(100, 120), "customers lost"),
    (lambda: m.retention_rate(100, 80, 90), "new customers"),
    (lambda: m.clv(100, gross_margin=70, lifespan_years=3), "gross margin"),
    (lambda: m.fcr(10, 0), "total contacts"),
    (lambda: m.aht(1, 1, 1, 0), "contacts"),
    (lambda: m.nps([11, 9]), "scores[0]"),
    (lambda: m.nps_from_shares(60, 20, 30), "shares"),
    (lambda: m.ces([5], method="median"), "method"),
])
def test_impossible_input_is_refused_naming_the_field(call, field):
    with pytest.raises(m.MetricInputError) as info:
        call()
    assert info.value.field == field and str(info.value).startswith(field)
