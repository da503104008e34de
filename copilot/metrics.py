"""Pure CX metric calculators: NPS, CSAT, CES, churn, retention, CLV, FCR and AHT, and the margins of error
that say how far a survey score can be trusted.

Each function's docstring names the corpus document and section that defines its formula (corpus/*.md);
the tests work the corpus's own worked examples through them. Rates come back as percentages (0-100), NPS
as points (-100..+100). Bad input (a negative count, a part larger than its whole, a share above 100%) raises
`MetricInputError`, which names the input and the reason; nothing is guessed.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from statistics import NormalDist

from .errors import CopilotError

NPS_SCALE = (0, 10)
CSAT_SCALE = (1, 5)
CES_SCALE = (1, 7)


class MetricInputError(CopilotError, ValueError):
    """An input a calculator cannot use; `field` names it."""

    def __init__(self, field: str, reason: str):
        self.field = field
        self.reason = reason
        super().__init__(f"{field}: {reason}")


# ---------------------------------------------------------------- checks

def _number(field: str, value) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or math.isnan(value):
        raise MetricInputError(field, f"must be a number, not {value!r}")
    if math.isinf(value):
        raise MetricInputError(field, "must be a finite number")
    return float(value)


def _count(field: str, value) -> float:
    v = _number(field, value)
    if v < 0:
        raise MetricInputError(field, f"cannot be negative (got {value:g})")
    return v


def _fraction(field: str, value) -> float:
    v = _number(field, value)
    if not 0 <= v <= 1:
        hint = f"; give it as a fraction, e.g. {v / 100:g} for {v:g}%" if 1 < v <= 100 else ""
        raise MetricInputError(field, f"must be between 0 and 1 (got {value:g}){hint}")
    return v


def _part_of(part_field: str, part: float, whole_field: str, whole: float) -> None:
    if whole <= 0:
        raise MetricInputError(whole_field, "must be more than zero")
    if part > whole:
        raise MetricInputError(part_field, f"({part:g}) cannot be more than {whole_field} ({whole:g})")


def _scores(values: Iterable, scale: tuple[int, int], what: str) -> list[float]:
    out = []
    lo, hi = scale
    for n, v in enumerate(values):
        x = _number(f"{what}[{n}]", v)
        if not lo <= x <= hi:
            raise MetricInputError(f"{what}[{n}]", f"{x:g} is outside the {lo}-{hi} scale")
        out.append(x)
    if not out:
        raise MetricInputError(what, "no scores given")
    return out


# ---------------------------------------------------------------- survey metrics

def nps_group(score: float) -> str:
    """'promoter' (9-10), 'passive' (7-8) or 'detractor' (0-6) for a 0-10 answer
    (corpus/net-promoter-score.md, "How are promoters, passives and detractors defined?")."""
    return "promoter" if score >= 9 else "passive" if score >= 7 else "detractor"


def nps_counts(scores: Iterable[float]) -> tuple[int, int, int]:
    """(promoters, passives, detractors) among 0-10 answers."""
    groups = [nps_group(s) for s in _scores(scores, NPS_SCALE, "scores")]
    return groups.count("promoter"), groups.count("passive"), groups.count("detractor")


def nps(scores: Iterable[float] | None = None, *, promoters: float | None = None, passives: float | None = None,
        detractors: float | None = None) -> float:
    """Net Promoter Score: NPS = % promoters − % detractors, both over every respondent, passives included
    (corpus/net-promoter-score.md, "How is NPS calculated?"). From 0-10 answers or from the three counts.

    >>> nps(promoters=250, passives=150, detractors=100)  # the corpus's worked example
    30.0
    """
    if scores is not None:
        promoters, passives, detractors = nps_counts(scores)
    if promoters is None or passives is None or detractors is None:
        raise MetricInputError("nps", "give the 0-10 scores, or promoters, passives and detractors")
    p, m, d = _count("promoters", promoters), _count("passives", passives), _count("detractors", detractors)
    total = p + m + d
    if total <= 0:
        raise MetricInputError("nps", "there are no respondents")
    return 100.0 * (p - d) / total


def nps_from_shares(promoter_pct: float, detractor_pct: float, passive_pct: float | None = None) -> float:
    """NPS from the percentages of promoters and detractors (NPS = % promoters − % detractors). The shares
    (with passives, when given) cannot add up to more than 100%."""
    p, d = _count("promoters %", promoter_pct), _count("detractors %", detractor_pct)
    m = _count("passives %", passive_pct) if passive_pct is not None else 0.0
    if p + d + m > 100 + 1e-9:
        raise MetricInputError("shares", f"add up to {p + d + m:g}%, more than 100%")
    return p - d


def top_box(scores: Sequence[float], scale: tuple[int, int], boxes: int) -> tuple[int, int]:
    """(answers in the top `boxes` points of the scale, all answers)."""
    values = _scores(scores, scale, "scores")
    cut = scale[1] - boxes + 1
    return sum(1 for v in values if v >= cut), len(values)


def csat(scores: Sequence[float] | None = None, *, satisfied: float | None = None, total: float | None = None,
         scale: tuple[int, int] = CSAT_SCALE, boxes: int = 2) -> float:
    """Customer satisfaction score, top-two-box: CSAT = (number of 4 and 5 responses ÷ total responses) × 100
    on the five-point scale (corpus/customer-satisfaction-score.md, "How is CSAT calculated?"). From the
    answers (`boxes=1` is the stricter top-box CSAT) or from the satisfied count and the total.

    >>> csat(satisfied=90 + 60, total=200)  # the corpus's worked example
    75.0
    """
    if scores is not None:
        satisfied, total = top_box(scores, scale, boxes)
    if satisfied is None or total is None:
        raise MetricInputError("csat", "give the scores, or the satisfied count and the total")
    s, t = _count("satisfied", satisfied), _count("total", total)
    _part_of("satisfied", s, "total", t)
    return 100.0 * s / t


def mean_score(scores: Sequence[float], scale: tuple[int, int]) -> float:
    values = _scores(scores, scale, "scores")
    return sum(values) / len(values)


def ces(scores: Sequence[float], *, method: str = "mean", scale: tuple[int, int] = CES_SCALE,
        agree_from: int = 5) -> float:
    """Customer effort score on the CES 2.0 agreement scale (1-7), by the average method, CES = sum of all
    scores ÷ number of responses, or (`method="agree"`) the percentage method, CES = (number of responses
    of 5, 6 or 7 ÷ total responses) × 100 (corpus/customer-effort-score.md, "How do you calculate CES?").

    >>> round(ces([7] * 90 + [6] * 75 + [5] * 45 + [4] * 30 + [3] * 25 + [2] * 20 + [1] * 15), 2)
    5.18
    """
    if method == "mean":
        return mean_score(scores, scale)
    if method == "agree":
        values = _scores(scores, scale, "scores")
        return 100.0 * sum(1 for v in values if v >= agree_from) / len(values)
    raise MetricInputError("method", f"must be 'mean' or 'agree', not {method!r}")


# ---------------------------------------------------------------- customer base metrics

def churn_rate(start: float, lost: float) -> float:
    """Customer churn rate = (customers lost in period ÷ customers at start of period) × 100; customers won
    during the period are left out (corpus/churn-rate.md, "How is churn rate calculated?").

    >>> churn_rate(2000, 60)
    3.0
    """
    s, lost_ = _count("customers at the start", start), _count("customers lost", lost)
    _part_of("customers lost", lost_, "customers at the start", s)
    return 100.0 * lost_ / s


def retention_rate(start: float, end: float, new: float) -> float:
    """Customer retention rate = ((E − N) ÷ S) × 100, with S the customers at the start, E at the end and N
    the new customers won during the period (corpus/retention-rate.md, "How is customer retention rate
    calculated?").

    >>> retention_rate(1000, 1050, 200)
    85.0
    """
    s, e, n = _count("customers at the start", start), _count("customers at the end", end), _count("new customers", new)
    if s <= 0:
        raise MetricInputError("customers at the start", "must be more than zero")
    if n > e:
        raise MetricInputError("new customers", f"({n:g}) cannot be more than the customers at the end ({e:g})")
    if e - n > s:
        raise MetricInputError("customers at the end",
                               f"({e:g}) minus the new customers ({n:g}) is more than the customers at the start ({s:g})")
    return 100.0 * (e - n) / s


def clv(revenue_per_year: float | None = None, *, gross_margin: float, lifespan_years: float | None = None,
        retention: float | None = None, discount: float | None = None, average_order_value: float | None = None,
        purchases_per_year: float | None = None) -> float:
    """Customer lifetime value from the annual margin per customer, m = revenue per year × gross margin
    (revenue per year = average order value × purchases per year, when given that way), by one of the two
    formulas of corpus/customer-lifetime-value.md:

    - with `lifespan_years`, the simple formula ("What is the simple CLV formula?"):
      CLV = average order value × purchases per year × gross margin % × expected lifespan in years;
    - with `retention` and `discount`, the margin-based formula ("What is the margin-based CLV formula with
      retention and discount rates?"): CLV = m × r ÷ (1 + d − r).

    Margin, retention and discount are fractions (0.40 for 40%).

    >>> clv(average_order_value=50, purchases_per_year=4, gross_margin=0.40, lifespan_years=3)  # worked example
    240.0
    """
    if revenue_per_year is None:
        if average_order_value is None or purchases_per_year is None:
            raise MetricInputError("clv", "give the revenue per year, or the average order value and purchases per year")
        revenue_per_year = _count("average order value", average_order_value) * _count("purchases per year",
                                                                                       purchases_per_year)
    margin = _count("revenue per year", revenue_per_year) * _fraction("gross margin", gross_margin)
    if lifespan_years is not None:
        return margin * _count("lifespan in years", lifespan_years)
    if retention is None or discount is None:
        raise MetricInputError("clv", "give the lifespan in years, or the retention and discount rates")
    r, d = _fraction("retention", retention), _fraction("discount", discount)
    return margin * r / (1 + d - r)


# ---------------------------------------------------------------- contact-centre metrics

def fcr(resolved: float | None = None, total: float | None = None, *, repeat: float | None = None) -> float:
    """First contact resolution = (contacts resolved on first contact ÷ total contacts) × 100; with internal
    data, ((total first contacts − first contacts followed by a repeat contact) ÷ total first contacts) × 100
    (corpus/first-contact-resolution.md, "How is FCR calculated?").

    >>> fcr(292, 400)  # the survey figure of the worked example
    73.0
    >>> fcr(total=5000, repeat=1500)  # the internal figure
    70.0
    """
    if total is None:
        raise MetricInputError("total", "give the total number of contacts")
    t = _count("total contacts", total)
    if repeat is not None:
        if resolved is not None:
            raise MetricInputError("fcr", "give either the resolved contacts or the repeat contacts, not both")
        r = _count("repeat contacts", repeat)
        _part_of("repeat contacts", r, "total contacts", t)
        return 100.0 * (t - r) / t
    if resolved is None:
        raise MetricInputError("resolved", "give the contacts resolved on first contact (or the repeat contacts)")
    r = _count("resolved contacts", resolved)
    _part_of("resolved contacts", r, "total contacts", t)
    return 100.0 * r / t


def aht(talk: float, hold: float, wrap: float, contacts: float = 1) -> float:
    """Average handle time = (total talk time + total hold time + total after-call work) ÷ number of calls
    handled, in the unit the times are given in (corpus/average-handle-time.md, "How is AHT calculated?").
    With `contacts=1` the times are already per contact.

    >>> aht(2000, 240, 560, 400)  # minutes, the corpus's worked example
    7.0
    """
    t, h, w = _count("talk time", talk), _count("hold time", hold), _count("after-call work", wrap)
    c = _count("contacts", contacts)
    if c <= 0:
        raise MetricInputError("contacts", "must be more than zero")
    return (t + h + w) / c


# ---------------------------------------------------------------- margins of error

def z_value(confidence: float = 0.95) -> float:
    if not 0 < confidence < 1:
        raise MetricInputError("confidence", f"must be between 0 and 1 (got {confidence!r})")
    return NormalDist().inv_cdf(0.5 + confidence / 2)


def nps_standard_error(promoters: float, passives: float, detractors: float) -> float:
    """The standard error of NPS in points: NPS is the difference of two proportions of one sample
    (promoters p, detractors d, out of n), so SE = √((p + d − (p − d)²) ÷ n) × 100."""
    n = promoters + passives + detractors
    if n <= 0:
        raise MetricInputError("nps", "there are no respondents")
    p, d = promoters / n, detractors / n
    return 100.0 * math.sqrt(max(p + d - (p - d) ** 2, 0.0) / n)


def proportion_standard_error(part: float, total: float) -> float:
    """The standard error of a percentage (CSAT, FCR, CES agree): √(p (1 − p) ÷ n) × 100."""
    if total <= 0:
        raise MetricInputError("total", "must be more than zero")
    p = part / total
    return 100.0 * math.sqrt(p * (1 - p) / total)


def mean_standard_error(scores: Sequence[float]) -> float:
    """The standard error of a mean score: s ÷ √n, with s the sample standard deviation."""
    n = len(scores)
    if n < 2:
        return math.inf
    mean = sum(scores) / n
    var = sum((x - mean) ** 2 for x in scores) / (n - 1)
    return math.sqrt(var / n)


def margin_of_error(standard_error: float, confidence: float = 0.95) -> float:
    """Half the width of the confidence interval: z × SE (1.96 × SE at 95%)."""
    return z_value(confidence) * standard_error


@dataclass(frozen=True)
class Difference:
    """Two independent scores compared: their difference, its margin of error, and whether it is beyond the
    noise (the difference is larger than its margin)."""

    difference: float
    margin: float

    @property
    def significant(self) -> bool:
        return abs(self.difference) > self.margin


def compare(a: float, se_a: float, b: float, se_b: float, confidence: float = 0.95) -> Difference:
    """a − b for two independent samples, with margin z × √(SE_a² + SE_b²)."""
    return Difference(a - b, margin_of_error(math.hypot(se_a, se_b), confidence))
