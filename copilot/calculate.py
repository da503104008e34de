"""Questions that carry the user's own numbers get a computed answer: "We had 120 promoters, 50 passives and 30
detractors: what's our NPS?".

`analyse(question)` reads the quantities (copilot/quantities.py), decides which metric is asked for (named in
the question, or implied by the labels) and binds each quantity to one of the metric's inputs through a small
role table: cue words on either side of the number, its kind (count, percentage, money, duration), score
bands ("answered 9 or 10") and "X of Y" structure. Each metric's solver then either computes the result with
the formula and the user's numbers substituted (copilot/metrics.py does the arithmetic), or asks one plain
question when an input is missing or the numbers contradict each other. Nothing is assumed silently: an
assumption the answer relies on (times given per call) is said in the answer.

`respond(retriever, question, history)` turns that into an Answer citing the passage of the knowledge base that
defines the formula, found through the copilot's own retriever.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from . import metrics as m
from .answer import Answer, Citation, History, normalise_history
from .quantities import TIME_UNITS, Parsed, Quantity, parse, stems_of
from .text import split_sentences, stem, terms

YEAR = TIME_UNITS["year"]
PER_YEAR = {"day": 365.0, "week": 52.0, "month": 12.0, "quarter": 4.0, "year": 1.0}
NEGATIONS = frozenset({"not", "no", "never", "un", "non", "without"})
CALC_WORDS = re.compile(r"\b(?:calculat\w*|comput\w*|work(?:ed|ing|s)? out|figure(?:d|s)? out|what(?:'s| is| are) "
                        r"(?:our|my|the)\b|how (?:much|many|high|low)|give me)", re.I)
ABOUT_EXAMPLE = re.compile(r"\b(?:worked|the|this|that|corpus'?s?|document'?s?) examples?\b", re.I)


@dataclass(frozen=True)
class Role:
    """One input of a metric: the kinds of quantity it takes, the words that name it, and the score band or
    place in an "X of Y" pair that implies it."""

    name: str
    kinds: frozenset[str]
    cues: tuple[str, ...] = ()
    band: tuple[int, int] | None = None
    part: bool = False
    whole: bool = False

    def cue_stems(self) -> list[tuple[str, ...]]:
        return [stems_of(c) for c in self.cues]


COUNT, PCT, MONEY, TIME = frozenset({"count"}), frozenset({"percent"}), frozenset({"money"}), frozenset({"duration"})
RESPONDENTS = ("response", "respondent", "answer", "survey", "customer", "people", "total", "in total", "overall",
               "replies", "user", "client", "sample")


@dataclass
class Bound:
    """The quantities bound to a metric's roles, and what could not be bound cleanly."""

    values: dict[str, Quantity] = field(default_factory=dict)
    duplicates: list[tuple[str, Quantity, Quantity]] = field(default_factory=list)

    def get(self, role: str) -> Quantity | None:
        return self.values.get(role)

    def __contains__(self, role: str) -> bool:
        return role in self.values

    def __len__(self) -> int:
        return len(self.values)


@dataclass
class Result:
    """A computed metric: its value as shown, the formula with the numbers in, and what to say beside it."""

    metric: str
    value: float
    shown: str
    formula: str
    working: str
    notes: list[str] = field(default_factory=list)


@dataclass
class Clarify:
    """A plain question back: which input is missing, or which numbers disagree."""

    metric: str
    text: str


@dataclass(frozen=True)
class Metric:
    key: str
    title: str
    names: re.Pattern
    roles: tuple[Role, ...]
    solve: Callable[[Bound, Parsed], list[Result] | Clarify]
    query: str  # what to search the knowledge base for, to cite the passage that defines the formula
    family: str = ""  # metrics computed together when a question implies them without naming one


# ---------------------------------------------------------------- formatting

def fmt(x: float, dp: int = 1) -> str:
    """1008 -> '1,008'; 80.434 -> '80.4'; 5.1833 (dp=2) -> '5.18'."""
    if abs(x - round(x)) < 1e-9:
        return f"{round(x):,}"
    text = f"{x:,.{dp}f}".rstrip("0").rstrip(".")
    return text


def pct(x: float, dp: int = 1) -> str:
    return f"{fmt(x, dp)}%"


def signed(x: float, dp: int = 1) -> str:
    text = fmt(abs(x), dp)
    return f"+{text}" if x > 0 else f"−{text}" if x < 0 else "0"


def money(x: float, unit: str) -> str:
    return f"{unit}{fmt(x, 2)}" if abs(x - round(x)) >= 0.005 else f"{unit}{round(x):,}"


def duration(seconds: float) -> str:
    """Seconds as a person says them: '7 min', '9 min 30 s', '45 s', '1 h 5 min'."""
    s = round(seconds)
    if s < 60:
        return f"{fmt(seconds)} s"
    h, rest = divmod(s, 3600)
    mins, secs = divmod(rest, 60)
    parts = ([f"{h} h"] if h else []) + ([f"{mins} min"] if mins else []) + ([f"{secs} s"] if secs else [])
    return " ".join(parts)


def minutes(seconds: float) -> str:
    return fmt(seconds / 60, 2)


# ---------------------------------------------------------------- binding quantities to roles

def _find(seq: Sequence[str], cue: tuple[str, ...]) -> list[int]:
    n = len(cue)
    return [i for i in range(len(seq) - n + 1) if tuple(seq[i:i + n]) == cue]


def _negated(words: Sequence[str], i: int) -> bool:
    return any(w in NEGATIONS or w.endswith("n't") for w in words[max(0, i - 2):i])


def affinity(q: Quantity, role: Role) -> float:
    """How strongly the words and shape of a quantity say it is this input (0: not at all)."""
    if q.kind not in role.kinds:
        return 0.0
    after = [stem(w) for w in q.after]
    before = [stem(w) for w in q.before]
    best = 0.0
    for cue in role.cue_stems():
        for i in _find(after, cue):
            if not _negated(q.after, i):
                best = max(best, 2.0 / (1 + 0.3 * i))
        for i in _find(before, cue):
            distance = len(before) - (i + len(cue))
            if not _negated(q.before, i):
                best = max(best, 1.5 / (1 + 0.3 * distance))
    if role.band and q.band:
        lo, hi = role.band
        best = best + 3.0 if lo <= q.band[0] and q.band[1] <= hi else 0.0
    if role.part:
        best += 0.5 if q.part_of is not None else -1.0 if q.whole_of is not None else 0.0
    if role.whole:
        best += 0.5 if q.whole_of is not None else -1.0 if q.part_of is not None else 0.0
    return max(best, 0.0)


def bind(quantities: Sequence[Quantity], roles: Sequence[Role]) -> Bound:
    """Each quantity to at most one role and each role to at most one quantity, strongest evidence first.
    A quantity that names a role already taken (and no free one) is a duplicate: the numbers disagree."""
    scored = sorted(((affinity(q, r), n, r.name) for n, q in enumerate(quantities) for r in roles), reverse=True)
    bound = Bound()
    used: set[int] = set()
    for score, n, role in scored:
        if score <= 0 or n in used or role in bound.values:
            continue
        bound.values[role] = quantities[n]
        used.add(n)
    for n, q in enumerate(quantities):
        if n in used:
            continue
        strong = [(affinity(q, r), r.name) for r in roles]
        score, role = max(strong)
        if score >= 1.0 and role in bound.values and bound.values[role].value != q.value:
            bound.duplicates.append((role, bound.values[role], q))
    return bound


# ---------------------------------------------------------------- shared checks

def _negative(bound: Bound, names: dict[str, str], metric: str) -> Clarify | None:
    for role, label in names.items():
        q = bound.get(role)
        if q is not None and q.value < 0:
            return Clarify(metric, f"The number of {label} can't be negative (you wrote {q.text.strip()}). "
                                   f"What is the right number of {label}?")
    return None


def _duplicate(bound: Bound, names: dict[str, str], metric: str) -> Clarify | None:
    if bound.duplicates:
        role, a, b = bound.duplicates[0]
        label = names.get(role, role)
        return Clarify(metric, f"I see two different numbers for {label} ({a.text.strip()} and {b.text.strip()}). "
                               f"Which one is right?")
    return None


def _over_100(bound: Bound, names: dict[str, str], metric: str) -> Clarify | None:
    for role, label in names.items():
        q = bound.get(role)
        if q is not None and q.kind == "percent" and not 0 <= q.value <= 100:
            return Clarify(metric, f"{q.text.strip()} {label} is not a share between 0% and 100%. What is the "
                                   f"right figure?")
    return None


# ---------------------------------------------------------------- NPS

NPS_ROLES = (
    Role("promoters", COUNT | PCT, ("promoter", "nine or ten", "9s", "10s"), band=(9, 10)),
    Role("passives", COUNT | PCT, ("passive", "neutral"), band=(7, 8)),
    Role("detractors", COUNT | PCT, ("detractor",), band=(0, 6)),
    Role("total", COUNT, RESPONDENTS, whole=True),
)
NPS_NAMES = {"promoters": "promoters", "passives": "passives", "detractors": "detractors", "total": "responses"}
NPS_MARGIN = ("the standard error of the difference of two proportions of one sample, SE = √((p + d − (p − d)²) "
              "÷ n), with p and d the shares of promoters and detractors")


def _nps_margin(p: float, passive: float, d: float) -> str:
    se = m.nps_standard_error(p, passive, d)
    return f"Margin of error: ±{fmt(m.margin_of_error(se), 1)} points at 95% confidence ({NPS_MARGIN})."


def solve_nps(bound: Bound, parsed: Parsed) -> list[Result] | Clarify:
    if parsed.scores and not any(r in bound for r in ("promoters", "passives", "detractors")):
        bad = [s for s in parsed.scores if not 0 <= s <= 10]
        if bad:
            return Clarify("nps", f"NPS answers run from 0 to 10, and {fmt(bad[0])} is outside that scale. Which "
                                  "scores did you mean?")
        p, passive, d = m.nps_counts(parsed.scores)
        n = len(parsed.scores)
        value = m.nps(parsed.scores)
        working = (f"{fmt(p)} of the {n} scores are 9-10 (promoters), {fmt(passive)} are 7-8 (passives) and "
                   f"{fmt(d)} are 0-6 (detractors): NPS = {fmt(p)} ÷ {n} × 100 − {fmt(d)} ÷ {n} × 100 = "
                   f"{fmt(100 * p / n)} − {fmt(100 * d / n)} = {signed(value)}")
        return [Result("nps", value, signed(value), "NPS = % promoters − % detractors", working,
                       [_nps_margin(p, passive, d)])]
    problem = (_negative(bound, NPS_NAMES, "nps") or _duplicate(bound, NPS_NAMES, "nps")
               or _over_100(bound, NPS_NAMES, "nps"))
    if problem:
        return problem
    P, M, D, T = (bound.get(r) for r in ("promoters", "passives", "detractors", "total"))
    given = [q for q in (P, M, D) if q is not None]
    if any(q.kind == "percent" for q in given):
        if not all(q.kind == "percent" for q in given):
            return Clarify("nps", "Some of the groups are given as counts and some as percentages. Could you give "
                                  "all three as counts, or all as percentages?")
        if P is None or D is None:
            missing = "promoters" if P is None else "detractors"
            return Clarify("nps", f"What percentage of respondents were {missing}? NPS = % promoters − % detractors "
                                  "needs both.")
        total = sum(q.value for q in given)
        if total > 100.05:
            parts = " + ".join(pct(q.value) for q in given)
            return Clarify("nps", f"Those shares add up to {pct(total)} ({parts}), which is more than 100%. Which "
                                  "figures are right?")
        if M is not None and abs(total - 100) > 0.5:
            return Clarify("nps", f"Promoters, passives and detractors should add up to 100%, but these add up to "
                                  f"{pct(total)}. Which figures are right?")
        value = P.value - D.value
        return [Result("nps", value, signed(value), "NPS = % promoters − % detractors",
                       f"NPS = {pct(P.value)} − {pct(D.value)} = {signed(value)}",
                       ["Without the number of responses, the margin of error cannot be worked out."])]
    if P is None or D is None:
        missing = [label for q, label in ((P, "promoters (9-10)"), (D, "detractors (0-6)")) if q is None]
        return Clarify("nps", f"How many {' and '.join(missing)} were there? NPS = % promoters − % detractors needs "
                              "both groups.")
    if M is None and T is None:
        return Clarify("nps", f"How many passives (7-8) were there, or how many responses in total? NPS uses every "
                              f"respondent as the denominator, so {fmt(P.value)} promoters and {fmt(D.value)} "
                              "detractors alone don't give the percentages.")
    p, d = P.value, D.value
    if T is not None:
        n = T.value
        if M is not None and abs(p + M.value + d - n) > 1e-9:
            return Clarify("nps", f"The groups don't add up: {fmt(p)} promoters + {fmt(M.value)} passives + "
                                  f"{fmt(d)} detractors = {fmt(p + M.value + d)}, but you said {fmt(n)} responses. "
                                  "Which numbers are right?")
        if p + d > n:
            return Clarify("nps", f"{fmt(p)} promoters and {fmt(d)} detractors are more than the {fmt(n)} responses "
                                  "you mentioned. Which numbers are right?")
        passive = n - p - d
    else:
        passive = M.value
        n = p + passive + d
    if n <= 0:
        return Clarify("nps", "There are no responses in those numbers. How many promoters, passives and "
                              "detractors were there?")
    value = m.nps(promoters=p, passives=passive, detractors=d)
    working = (f"NPS = {fmt(p)} ÷ {fmt(n)} × 100 − {fmt(d)} ÷ {fmt(n)} × 100 = {fmt(100 * p / n)} − "
               f"{fmt(100 * d / n)} = {signed(value)}")
    groups = (f"{fmt(n)} responses: {fmt(p)} promoters, {fmt(passive)} passives and {fmt(d)} detractors"
              + (" (passives worked out from the total)" if M is None else "")
              + ". Passives count in the total but not in the formula.")
    return [Result("nps", value, signed(value), "NPS = % promoters − % detractors", working,
                   [groups, _nps_margin(p, passive, d)])]


# ---------------------------------------------------------------- CSAT

CSAT_ROLES = (
    Role("satisfied", COUNT | PCT, ("satisfied", "happy", "positive", "very satisfied", "top two", "top box",
                                    "4 or 5", "good"), band=(4, 5), part=True),
    Role("total", COUNT, RESPONDENTS + ("rating", "score"), whole=True),
)
CSAT_NAMES = {"satisfied": "satisfied customers", "total": "responses"}


def _scale(parsed: Parsed, default: tuple[int, int]) -> tuple[tuple[int, int], bool]:
    """The scale the question states ("on a 1-7 scale", "7-point", "out of 10"), or the default."""
    text = parsed.text.lower()
    m_ = re.search(r"\b([01])\s*(?:-|–|to)\s*(\d{1,2})\b(?=[^.?!]{0,12}\b(?:scale|point|points)\b)", text) or \
        re.search(r"\bscale\s+(?:of\s+|from\s+)?([01])\s*(?:-|–|to)\s*(\d{1,2})\b", text)
    if m_:
        return (int(m_.group(1)), int(m_.group(2))), True
    m_ = re.search(r"\b(\d{1,2})-point\b", text) or re.search(r"\bout of (\d{1,2})\b", text)
    if m_:
        hi = int(m_.group(1))
        return ((0, 10) if hi == 11 else (1, hi)), True
    return default, False


def solve_csat(bound: Bound, parsed: Parsed) -> list[Result] | Clarify:
    if parsed.scores and "satisfied" not in bound:
        scale, stated = _scale(parsed, m.CSAT_SCALE)
        bad = [s for s in parsed.scores if not scale[0] <= s <= scale[1]]
        if bad:
            return Clarify("csat", f"{fmt(bad[0])} is outside the {scale[0]}-{scale[1]} scale CSAT usually uses. "
                                   "Which scale do these scores use (for example \"on a 1-10 scale\")?")
        s, n = m.top_box(parsed.scores, scale, 2)
        value = 100.0 * s / n
        top = f"{scale[1] - 1} or {scale[1]}"
        return [Result("csat", value, pct(value), f"CSAT = (number of {top} responses ÷ total responses) × 100",
                       f"CSAT = {s} ÷ {n} × 100 = {pct(value)}",
                       [f"Top-two-box on the {scale[0]}-{scale[1]} scale"
                        + ("" if stated else " (the usual CSAT scale; say if yours differs)")
                        + f"; the mean score is {fmt(sum(parsed.scores) / n, 2)}.", _proportion_margin(s, n)])]
    problem = _negative(bound, CSAT_NAMES, "csat") or _duplicate(bound, CSAT_NAMES, "csat") or \
        _over_100(bound, CSAT_NAMES, "csat")
    if problem:
        return problem
    S, T = bound.get("satisfied"), bound.get("total")
    if S is not None and S.kind == "percent":
        return [Result("csat", S.value, pct(S.value), "CSAT = (number of 4 and 5 responses ÷ total responses) × 100",
                       f"CSAT = {pct(S.value)} of respondents satisfied or very satisfied = {pct(S.value)}")]
    if S is None:
        return Clarify("csat", "How many of the respondents said they were satisfied or very satisfied (4 or 5 on a "
                               "five-point scale)?")
    if T is None:
        return Clarify("csat", f"Out of how many responses were the {fmt(S.value)} satisfied customers? CSAT divides "
                               "the satisfied responses by all responses.")
    if S.value > T.value:
        return Clarify("csat", f"{fmt(S.value)} satisfied responses is more than the {fmt(T.value)} responses in "
                               "total. Which number is right?")
    if T.value <= 0:
        return Clarify("csat", "How many responses were there in total? It can't be zero.")
    value = m.csat(satisfied=S.value, total=T.value)
    return [Result("csat", value, pct(value), "CSAT = (number of 4 and 5 responses ÷ total responses) × 100",
                   f"CSAT = {fmt(S.value)} ÷ {fmt(T.value)} × 100 = {pct(value)}",
                   [_proportion_margin(S.value, T.value)])]


def _proportion_margin(part: float, total: float) -> str:
    se = m.proportion_standard_error(part, total)
    return (f"Margin of error: ±{fmt(m.margin_of_error(se), 1)} percentage points at 95% confidence (the standard "
            "error of a proportion, √(p (1 − p) ÷ n)).")


# ---------------------------------------------------------------- CES

CES_ROLES = (
    Role("agree", COUNT | PCT, ("agree", "agreed", "easy", "made it easy", "low effort"), part=True),
    Role("total", COUNT, RESPONDENTS, whole=True),
)


def solve_ces(bound: Bound, parsed: Parsed) -> list[Result] | Clarify:
    scores = list(parsed.scores)
    A, T = bound.get("agree"), bound.get("total")
    if not scores and A is not None:
        if A.kind == "percent":
            if not 0 <= A.value <= 100:
                return Clarify("ces", f"{A.text.strip()} is not a share between 0% and 100%. What is the right figure?")
            return [Result("ces", A.value, pct(A.value), "CES = (number of responses of 5, 6 or 7 ÷ total responses) "
                           "× 100", f"CES = {pct(A.value)} of customers agree the company made it easy")]
        if T is None:
            return Clarify("ces", f"Out of how many responses did {fmt(A.value)} customers agree? The percentage "
                                  "method divides them by all responses.")
        if A.value < 0 or A.value > T.value or T.value <= 0:
            return Clarify("ces", f"{fmt(A.value)} agreeing out of {fmt(T.value)} responses can't be right. Which "
                                  "numbers are right?")
        value = 100.0 * A.value / T.value
        return [Result("ces", value, pct(value), "CES = (number of responses of 5, 6 or 7 ÷ total responses) × 100",
                       f"CES = {fmt(A.value)} ÷ {fmt(T.value)} × 100 = {pct(value)}",
                       [_proportion_margin(A.value, T.value)])]
    if not scores:
        return Clarify("ces", "Which scores did customers give? List them (for example \"5, 6, 7, 3\") or say how many "
                              "answered each point of the 1-7 scale.")
    scale, stated = _scale(parsed, m.CES_SCALE)
    bad = [s for s in scores if not scale[0] <= s <= scale[1]]
    if bad:
        return Clarify("ces", f"{fmt(bad[0])} is outside the {scale[0]}-{scale[1]} scale of CES 2.0. Which scale do "
                              "these scores use (for example \"on a 1-5 scale\")?")
    n = len(scores)
    mean = sum(scores) / n
    agree_from = scale[1] - 2 if scale[1] >= 7 else scale[1] - 1
    easy = sum(1 for s in scores if s >= agree_from)
    se = m.mean_standard_error(scores)
    listed = " + ".join(fmt(s) for s in scores) if n <= 12 else f"the {n} scores"
    notes = [f"{easy} of {n} responses are {agree_from} or higher, so {pct(100 * easy / n)} of customers agree the "
             f"company made it easy (the percentage method, on the {scale[0]}-{scale[1]} scale"
             + ("" if stated else " of CES 2.0") + ")."]
    if math.isfinite(se):
        notes.append(f"Margin of error: ±{fmt(m.margin_of_error(se), 2)} at 95% confidence (the standard error of a "
                     "mean, s ÷ √n).")
    return [Result("ces", mean, fmt(mean, 2), "CES = sum of all scores ÷ number of responses",
                   f"CES = ({listed}) ÷ {n} = {fmt(sum(scores))} ÷ {n} = {fmt(mean, 2)}", notes)]


# ---------------------------------------------------------------- churn and retention

BASE_ROLES = (
    Role("start", COUNT, ("start", "started", "begin", "began", "beginning", "opening", "had", "with", "first day",
                          "start of"), whole=True),
    Role("end", COUNT, ("end", "ended", "finish", "finished", "closing", "close", "now", "left with",
                        "at the end", "remaining", "remain")),
    Role("lost", COUNT, ("lost", "lose", "churned", "churn", "cancel", "cancelled", "left", "leave", "quit",
                         "defected", "stopped", "gone", "attrition", "departed"), part=True),
    Role("new", COUNT, ("gained", "gain", "new", "acquired", "added", "won", "signed up", "joined", "join",
                        "sign up", "onboarded", "got")),
    Role("kept", COUNT, ("kept", "keep", "retained", "retain", "stayed", "stay", "renewed", "renew", "still with",
                         "held on to", "held onto"), part=True),
)
BASE_NAMES = {"start": "customers at the start", "end": "customers at the end", "lost": "customers lost",
              "new": "new customers", "kept": "customers kept"}


def _period_word(parsed: Parsed) -> str:
    for w in parsed.words:
        if w in {"month", "quarter", "year", "week"}:
            return w
    return "period"


def _base(bound: Bound) -> tuple[float | None, float | None, float | None, float | None, float | None]:
    return tuple(q.value if q is not None else None
                 for q in (bound.get(r) for r in ("start", "end", "lost", "new", "kept")))


def solve_churn(bound: Bound, parsed: Parsed) -> list[Result] | Clarify:
    return _solve_base(bound, parsed, want=("churn",))


def solve_retention(bound: Bound, parsed: Parsed) -> list[Result] | Clarify:
    return _solve_base(bound, parsed, want=("retention",))


def _solve_base(bound: Bound, parsed: Parsed, want: tuple[str, ...]) -> list[Result] | Clarify:
    problem = _negative(bound, BASE_NAMES, want[0]) or _duplicate(bound, BASE_NAMES, want[0])
    if problem:
        return problem
    S, E, L, N, K = _base(bound)
    period = _period_word(parsed)
    if E is None and L is None and S is not None:
        # "5,000 on 1 January and 4,600 on 31 March": a second head count with no other label is the end count
        start = bound.get("start")
        later = [q for q in parsed.quantities if q.kind == "count" and q.start > start.start
                 and all(q is not v for v in bound.values.values()) and not any(affinity(q, r) for r in BASE_ROLES)]
        if len(later) == 1:
            E = later[0].value
    if S is None:
        return Clarify(want[0], f"How many customers did you have at the start of the {period}? Churn and retention "
                                "are measured against the customers you started with.")
    if S <= 0:
        return Clarify(want[0], "The number of customers at the start has to be more than zero. How many were there?")
    if L is not None and L > S:
        return Clarify(want[0], f"You lost {fmt(L)} customers but started with {fmt(S)}: you can't lose more "
                                "customers than you started with. Which number is right?")
    derived: list[str] = []
    kept_only = False
    if K is not None:  # customers of the starting base still there: E − N in the formula, and S − K lost
        if K > S:
            return Clarify(want[0], f"You kept {fmt(K)} customers but started with {fmt(S)}: you can't keep more "
                                    "customers than you started with. Which number is right?")
        if L is not None and abs(S - K - L) > 1e-9:
            return Clarify(want[0], f"The numbers don't add up: {fmt(S)} at the start − {fmt(K)} kept = {fmt(S - K)} "
                                    f"lost, but you said {fmt(L)} lost. Which numbers are right?")
        if E is not None and N is not None and abs(E - N - K) > 1e-9:
            return Clarify(want[0], f"The numbers don't add up: {fmt(E)} at the end − {fmt(N)} new = {fmt(E - N)}, "
                                    f"but you said {fmt(K)} kept. Which numbers are right?")
        if L is None:
            L = S - K
            derived.append(f"customers lost = {fmt(S)} − {fmt(K)} kept = {fmt(L)}")
        if E is None or N is None:
            E, N = K, 0.0
            derived.append(f"E − N, the starting customers still there at the end, = {fmt(K)}")
            kept_only = True
    if E is not None and L is not None and N is not None and abs(S - L + N - E) > 1e-9:
        return Clarify(want[0], f"The numbers don't add up: {fmt(S)} − {fmt(L)} lost + {fmt(N)} new = "
                                f"{fmt(S - L + N)}, but you said {fmt(E)} at the end. Which numbers are right?")
    if E is None and L is not None and N is not None:
        E = S - L + N
        derived.append(f"customers at the end E = {fmt(S)} − {fmt(L)} + {fmt(N)} = {fmt(E)}")
    if L is None and E is not None and N is not None:
        L = S + N - E
        if L < 0 or L > S:
            return Clarify(want[0], f"Those numbers imply {fmt(L)} customers lost ({fmt(S)} + {fmt(N)} new − "
                                    f"{fmt(E)} at the end), which can't be right. Which numbers are right?")
        derived.append(f"customers lost = {fmt(S)} + {fmt(N)} − {fmt(E)} = {fmt(L)}")
    out: list[Result] = []
    for metric in want:
        if metric == "churn":
            if L is None:
                return Clarify("churn", f"How many of the {fmt(S)} customers you started with left during the "
                                        f"{period}? (Or give the customers at the end and the new ones.)")
            value = m.churn_rate(S, L)
            out.append(Result("churn", value, pct(value),
                              "churn rate = (customers lost in period ÷ customers at start of period) × 100",
                              f"churn = {fmt(L)} ÷ {fmt(S)} × 100 = {pct(value)}",
                              ["New customers won during the period are left out of the churn formula."]
                              if N else []))
        else:
            if E is None or N is None:
                missing = "how many new customers you won" if N is None else "how many customers you had at the end"
                return Clarify("retention", f"To work out retention I need {missing} in the {period}: "
                                            "retention = ((E − N) ÷ S) × 100.")
            if N > E or E - N > S:
                return Clarify("retention", f"Those numbers can't all be right: {fmt(E)} at the end minus {fmt(N)} "
                                            f"new is {fmt(E - N)}, against {fmt(S)} at the start. Which are right?")
            value = m.retention_rate(S, E, N)
            working = (f"retention = ({fmt(E)} kept ÷ {fmt(S)}) × 100 = {pct(value)}" if kept_only else
                       f"retention = (({fmt(E)} − {fmt(N)}) ÷ {fmt(S)}) × 100 = {pct(value)}")
            out.append(Result("retention", value, pct(value), "retention = ((E − N) ÷ S) × 100", working))
    if derived:
        out[0].notes.insert(0, "From your numbers: " + "; ".join(derived) + ".")
    if len(out) == 2:
        out[-1].notes.append("Churn and retention add up to 100% because both are measured on the same starting "
                             "customers.")
    return out


# ---------------------------------------------------------------- CLV

CLV_ROLES = (
    Role("revenue", MONEY, ("arpu", "arpa", "revenue", "spend", "spends", "pays", "pay", "paying", "bill", "billing",
                            "subscription", "fee", "price", "per customer", "per user", "income", "mrr", "worth")),
    Role("order", MONEY, ("order", "basket", "purchase", "aov", "transaction", "order value")),
    Role("purchases", COUNT, ("time", "times", "order", "orders", "purchase", "purchases", "visit", "visits",
                              "buy")),
    Role("margin", PCT, ("margin", "gross margin", "profit", "profit margin")),
    Role("lifespan", TIME | COUNT, ("lifetime", "lifespan", "life", "stay", "stays", "tenure", "relationship",
                                    "remain", "retained for", "keep", "last", "churn after", "customer for")),
    Role("retention", PCT, ("retention", "retain", "retained", "renew", "renewal")),
    Role("discount", PCT, ("discount", "discount rate", "cost of capital", "wacc")),
)
CLV_NAMES = {"margin": "gross margin", "retention": "retention", "discount": "discount rate"}


def _per_year(q: Quantity) -> float | None:
    period = q.period
    return PER_YEAR.get(period) if period else None


def solve_clv(bound: Bound, parsed: Parsed) -> list[Result] | Clarify:
    problem = _duplicate(bound, {r.name: r.name for r in CLV_ROLES}, "clv") or _over_100(bound, CLV_NAMES, "clv")
    if problem:
        return problem
    for role in ("revenue", "order", "purchases", "lifespan"):
        q = bound.get(role)
        if q is not None and q.value < 0:
            return Clarify("clv", f"{q.text.strip()} can't be negative. What is the right figure?")
    R, O, F = bound.get("revenue"), bound.get("order"), bound.get("purchases")
    G, L, r, d = bound.get("margin"), bound.get("lifespan"), bound.get("retention"), bound.get("discount")
    unit = (R or O).unit if (R or O) is not None else "$"
    if R is None and O is None:
        return Clarify("clv", "How much does a customer spend (the revenue per customer a month or a year, or the "
                              "average order value and the orders a year)?")
    if R is not None:
        times = _per_year(R)
        if times is None:
            return Clarify("clv", f"Is {R.text.strip()} per month or per year? CLV needs the revenue per customer per "
                                  "year.")
        yearly = R.value * times
        revenue_text = f"{money(R.value, unit)} × {fmt(times)}" if times != 1 else money(R.value, unit)
        revenue_label = f"{money(R.value, unit)} a {R.period}"
    else:
        if F is None:
            return Clarify("clv", f"How many times a year does a customer order? With {O.text.strip()} per order, "
                                  "CLV needs the purchases per year.")
        times = _per_year(F) or (1.0 if "year" in F.per or "annually" in F.per else None)
        if times is None:
            return Clarify("clv", f"Is that {fmt(F.value)} purchases a month or a year?")
        yearly = O.value * F.value * times
        revenue_text = f"{money(O.value, unit)} × {fmt(F.value * times)}"
        revenue_label = f"{money(O.value, unit)} per order, {fmt(F.value * times)} orders a year"
    if G is None:
        return Clarify("clv", "What gross margin do you earn on that revenue? CLV counts the profit a customer brings, "
                              "so it needs the gross margin as a percentage; a revenue-only CLV would "
                              "overstate what a customer is worth.")
    margin = G.value / 100
    annual = yearly * margin
    if L is not None:
        years = L.value / YEAR if L.kind == "duration" else L.value
        if L.kind == "count" and not any(w.startswith(("year", "yr")) for w in L.after + L.before):
            return Clarify("clv", f"Is the lifetime of {fmt(L.value)} in years or months?")
        value = m.clv(yearly, gross_margin=margin, lifespan_years=years)
        working = (f"CLV = {revenue_text} × {fmt(G.value)}% × {fmt(years, 2)} = {money(annual, unit)} a year × "
                   f"{fmt(years, 2)} years = {money(value, unit)}")
        return [Result("clv", value, money(value, unit),
                       "CLV = average revenue per year × gross margin % × expected lifespan in years", working,
                       [f"Inputs: {revenue_label}, {pct(G.value)} gross margin, a lifetime of {fmt(years, 2)} years. "
                        "The simple formula ignores the time value of money."])]
    if r is not None and d is not None:
        value = m.clv(yearly, gross_margin=margin, retention=r.value / 100, discount=d.value / 100)
        rr, dd = r.value / 100, d.value / 100
        working = (f"CLV = m × r ÷ (1 + d − r) = {money(annual, unit)} × {fmt(rr, 2)} ÷ (1 + {fmt(dd, 2)} − "
                   f"{fmt(rr, 2)}) = {money(annual * rr, unit)} ÷ {fmt(1 + dd - rr, 2)} = {money(value, unit)}")
        return [Result("clv", value, money(value, unit), "CLV = m × r ÷ (1 + d − r)", working,
                       [f"m is the annual margin per customer ({revenue_text} × {pct(G.value)} = "
                        f"{money(annual, unit)}), r the annual retention rate and d the annual discount rate."])]
    if r is not None:
        return Clarify("clv", "What discount rate should I use with that retention rate? Or give "
                              "the expected customer lifetime in years instead.")
    return Clarify("clv", "How many years does a customer stay? Or give the annual "
                          "retention and discount rates for the margin-based formula.")


# ---------------------------------------------------------------- FCR

FCR_ROLES = (
    Role("resolved", COUNT | PCT, ("resolved", "resolve", "fixed", "solved", "first time", "first contact",
                                   "first call", "one touch", "yes"), part=True),
    Role("repeat", COUNT, ("repeat", "again", "called back", "call back", "came back", "recontact", "contacted again",
                           "follow up", "second contact")),
    Role("total", COUNT, ("contact", "contacts", "call", "calls", "ticket", "tickets", "case", "cases", "chat",
                          "chats", "interaction", "interactions", "total", "handled", "enquiries", "inquiries",
                          "survey", "answers", "responses"), whole=True),
)
FCR_NAMES = {"resolved": "resolved contacts", "repeat": "repeat contacts", "total": "contacts"}


def solve_fcr(bound: Bound, parsed: Parsed) -> list[Result] | Clarify:
    problem = _negative(bound, FCR_NAMES, "fcr") or _duplicate(bound, FCR_NAMES, "fcr") or \
        _over_100(bound, FCR_NAMES, "fcr")
    if problem:
        return problem
    R, X, T = bound.get("resolved"), bound.get("repeat"), bound.get("total")
    formula = "FCR = (contacts resolved on first contact ÷ total contacts) × 100"
    if R is not None and R.kind == "percent":
        return [Result("fcr", R.value, pct(R.value), formula, f"FCR = {pct(R.value)}")]
    if T is None:
        what = f"the {fmt(R.value)} resolved contacts" if R is not None else "those"
        return Clarify("fcr", f"Out of how many contacts in total were {what}? FCR divides the contacts resolved on "
                              "first contact by all contacts.")
    if T.value <= 0:
        return Clarify("fcr", "How many contacts were there in total? It can't be zero.")
    if R is not None:
        if R.value > T.value:
            return Clarify("fcr", f"{fmt(R.value)} resolved contacts is more than the {fmt(T.value)} contacts in "
                                  "total. Which number is right?")
        value = m.fcr(R.value, T.value)
        return [Result("fcr", value, pct(value), formula, f"FCR = {fmt(R.value)} ÷ {fmt(T.value)} × 100 = {pct(value)}",
                       [_proportion_margin(R.value, T.value)])]
    if X is not None:
        if X.value > T.value:
            return Clarify("fcr", f"{fmt(X.value)} repeat contacts is more than the {fmt(T.value)} first contacts. "
                                  "Which number is right?")
        value = m.fcr(total=T.value, repeat=X.value)
        return [Result("fcr", value, pct(value),
                       "FCR = ((total first contacts − first contacts followed by a repeat contact) ÷ total first "
                       "contacts) × 100",
                       f"FCR = (({fmt(T.value)} − {fmt(X.value)}) ÷ {fmt(T.value)}) × 100 = {pct(value)}")]
    return Clarify("fcr", f"How many of the {fmt(T.value)} contacts were resolved on the first contact?")


# ---------------------------------------------------------------- AHT

AHT_ROLES = (
    Role("talk", TIME | COUNT, ("talk", "talking", "talk time", "conversation", "speaking", "speak", "on the phone")),
    Role("hold", TIME | COUNT, ("hold", "on hold", "holding", "hold time")),
    Role("wrap", TIME | COUNT, ("wrap", "wrap up", "after call", "after call work", "acw", "follow up", "post call",
                                "admin", "notes", "wrapping")),
    Role("contacts", COUNT, ("call", "calls", "contact", "contacts", "chat", "chats", "ticket", "tickets", "handled",
                             "interaction", "interactions")),
)


def solve_aht(bound: Bound, parsed: Parsed) -> list[Result] | Clarify:
    problem = _duplicate(bound, {"talk": "talk time", "hold": "hold time", "wrap": "after-call work",
                                 "contacts": "calls"}, "aht")
    if problem:
        return problem
    times = {r: bound.get(r) for r in ("talk", "hold", "wrap")}
    C = bound.get("contacts")
    if C is not None and C.kind == "count" and any(q is C for q in times.values()):
        C = None
    units = [q for q in times.values() if q is not None and q.kind == "duration"]
    if not units:
        return Clarify("aht", "In what unit are those times (seconds or minutes)?")
    seconds: dict[str, float] = {}
    for role, q in times.items():
        if q is None:
            continue
        if q.value < 0:
            return Clarify("aht", f"A time can't be negative (you wrote {q.text.strip()}). What is the right figure?")
        if q.kind == "count":  # "240 on hold" beside "2,000 minutes of talk": the unit carries over
            nearest = min(units, key=lambda u: abs(u.start - q.start))
            seconds[role] = q.value * (TIME_UNITS.get(nearest.unit, 1) if nearest.unit != "clock" else 60)
        else:
            seconds[role] = q.value
    missing = [label for role, label in (("talk", "talk time"), ("hold", "hold time"), ("wrap", "after-call work"))
               if role not in seconds]
    if missing:
        return Clarify("aht", f"How much {' and '.join(missing)} was there (say 0 if there was none)? AHT = (talk time "
                              "+ hold time + after-call work) ÷ calls handled.")
    total_words = {"total", "totals", "altogether", "overall", "across", "combined"}
    totals = total_words & set(parsed.words)
    if C is not None and (C.value <= 0 or not C.integral):
        return Clarify("aht", f"{C.text.strip()} is not a number of calls. How many calls were handled?")
    if C is None and totals:
        return Clarify("aht", "How many calls (or contacts) were handled in that time? AHT divides the total handle "
                              "time by the number of calls.")
    t, h, w = seconds["talk"], seconds["hold"], seconds["wrap"]
    contacts = C.value if C is not None else 1
    value = m.aht(t, h, w, contacts)
    in_minutes = max(t, h, w) >= 60 or any(u.unit not in {"s", "sec", "second"} for u in units)
    show = (lambda s: f"{minutes(s)} min") if in_minutes else (lambda s: f"{fmt(s)} s")
    if C is not None:
        working = (f"AHT = ({show(t)} + {show(h)} + {show(w)}) ÷ {fmt(contacts)} = {show(t + h + w)} ÷ "
                   f"{fmt(contacts)} = {show(value)} per call")
        notes = []
    else:
        working = f"AHT = {show(t)} + {show(h)} + {show(w)} = {show(value)} per call"
        notes = ["The times were read as averages per call; for totals, say how many calls were handled."]
    shown = duration(value) + " per call"
    return [Result("aht", value, shown, "AHT = (total talk time + total hold time + total after-call work) ÷ number "
                                        "of calls handled", working, notes)]


# ---------------------------------------------------------------- the metrics

METRICS: tuple[Metric, ...] = (
    Metric("nps", "NPS", re.compile(r"\bnps\b|\bnet promoter", re.I), NPS_ROLES, solve_nps,
           "How is the Net Promoter Score (NPS) calculated? formula promoters detractors", "survey"),
    Metric("csat", "CSAT", re.compile(r"\bcsat\b|\bcustomer satisfaction\b|\bsatisfaction (?:score|rate)", re.I),
           CSAT_ROLES, solve_csat, "How is the customer satisfaction score (CSAT) calculated? formula", "survey"),
    Metric("ces", "CES", re.compile(r"\bces\b|\bcustomer effort\b|\beffort score", re.I), CES_ROLES, solve_ces,
           "How do you calculate the customer effort score (CES)? formula average", "survey"),
    Metric("churn", "Churn rate", re.compile(r"\bchurn|\battrition\b", re.I), BASE_ROLES, solve_churn,
           "How is customer churn rate calculated? formula", "base"),
    Metric("retention", "Retention rate", re.compile(r"\bretention\b|\bretained\b", re.I), BASE_ROLES,
           solve_retention, "How is customer retention rate calculated? formula", "base"),
    Metric("clv", "CLV", re.compile(r"\b(?:clv|cltv|ltv)\b|\blifetime value\b", re.I), CLV_ROLES, solve_clv,
           "What is the simple customer lifetime value (CLV) formula?", "clv"),
    Metric("fcr", "FCR", re.compile(r"\bfcr\b|\bfirst[- ](?:contact|call|time) resolution\b|\bone[- ]touch "
                                    r"resolution\b", re.I), FCR_ROLES, solve_fcr,
           "How is first contact resolution (FCR) calculated? formula", "fcr"),
    Metric("aht", "AHT", re.compile(r"\baht\b|\bhandl(?:e|ing) time\b", re.I), AHT_ROLES, solve_aht,
           "How is average handle time (AHT) calculated? formula", "aht"),
)
BY_KEY = {mt.key: mt for mt in METRICS}


@dataclass
class Analysis:
    """What a question asks to calculate: the metrics and, for each, its results or a question back."""

    question: str
    parsed: Parsed
    outcomes: list[tuple[Metric, list[Result] | Clarify]]

    @property
    def clarifying(self) -> Clarify | None:
        return next((o for _, o in self.outcomes if isinstance(o, Clarify)), None)


def _named(text: str) -> list[Metric]:
    """The metrics a question names, in the order it names them."""
    found = [(mt.names.search(text), mt) for mt in METRICS]
    return [mt for hit, mt in sorted((f for f in found if f[0]), key=lambda f: f[0].start())]


def _implied(parsed: Parsed) -> list[Metric]:
    """Metrics a question's labels imply without naming one: two or more quantities cued to one metric's inputs
    (structure alone is not enough). Churn and retention come together."""
    best: list[tuple[int, Metric]] = []
    for mt in METRICS:
        cued = sum(1 for q in parsed.quantities if any(_cue_only(q, r) >= 1.0 for r in mt.roles))
        if cued >= 2:
            best.append((cued, mt))
    if not best:
        return []
    top = max(n for n, _ in best)
    chosen = [mt for n, mt in best if n == top]
    families = {mt.family for mt in chosen}
    return chosen if len(families) == 1 else []


def _cue_only(q: Quantity, role: Role) -> float:
    return affinity(q, Role(role.name, role.kinds, role.cues, role.band))


def _distribution(parsed: Parsed) -> Parsed:
    """Counts that each name one point of the scale ("90 answered 7, 75 answered 6, ...") are the scores
    themselves: they become the list of scores."""
    points = [q for q in parsed.quantities if q.kind == "count" and q.band and q.band[0] == q.band[1]]
    if len(points) < 2 or parsed.scores or any(q.value < 0 or not q.integral or q.value > 1e6 for q in points):
        return parsed
    scores = [float(q.band[0]) for q in points for _ in range(int(q.value))]
    rest = [q for q in parsed.quantities if q not in points]
    return Parsed(parsed.text, rest, scores, parsed.words)


def analyse(question: str, previous: str | None = None) -> Analysis | None:
    """The calculation a question asks for, or None when it asks none. `previous` is the user's last question
    when the copilot answered it with a clarifying question: the new numbers complete or correct it."""
    question = question or ""
    if ABOUT_EXAMPLE.search(question):
        return None
    parsed = _distribution(parse(question))
    if not parsed.quantities and not parsed.scores:
        return None
    if previous:
        merged = _merge(previous, question, parsed)
        if merged is not None:
            return merged
    metrics = _named(question) or _implied(parsed)
    if not metrics:
        return None
    return _outcomes(question, parsed, metrics, require_intent=True)


def _outcomes(question: str, parsed: Parsed, metrics: list[Metric], require_intent: bool,
              base: dict[str, Bound] | None = None) -> Analysis | None:
    chosen: list[tuple[Metric, Bound]] = []
    for mt in metrics:
        bound = bind(parsed.quantities, mt.roles)
        if base and mt.key in base:
            merged = Bound(dict(base[mt.key].values))
            merged.values.update(bound.values)
            merged.duplicates = bound.duplicates
            bound = merged
        uses_scores = bool(parsed.scores) and mt.key in {"nps", "csat", "ces"}
        # a total alone ("400 calls") is not a calculation of this metric: one of its own inputs must be there
        if uses_scores or any(r.name in bound.values and not r.whole and r.name not in {"contacts", "total"}
                              for r in mt.roles):
            chosen.append((mt, bound))
    if not chosen:
        return None
    if require_intent:
        bound_count = max(len(b) + (3 if parsed.scores and mt.key in {"nps", "csat", "ces"} else 0)
                          for mt, b in chosen)
        if bound_count < 2 and not CALC_WORDS.search(question):
            return None
    keys = [mt.key for mt, _ in chosen]
    outcomes: list[tuple[Metric, list[Result] | Clarify]] = []
    if "churn" in keys and "retention" in keys:  # one customer base, both rates: solved together
        bound = dict(chosen)[BY_KEY["churn"]]
        both = _solve_base(bound, parsed, want=("churn", "retention"))
        for mt, _ in chosen:
            if mt.key in {"churn", "retention"}:
                outcomes.append((mt, both if isinstance(both, Clarify) else [r for r in both if r.metric == mt.key]))
                if isinstance(both, Clarify):
                    break
            else:
                outcomes.append((mt, mt.solve(dict(chosen)[mt], parsed)))
        return Analysis(question, parsed, outcomes)
    return Analysis(question, parsed, [(mt, mt.solve(b, parsed)) for mt, b in chosen])


def _merge(previous: str, question: str, parsed: Parsed) -> Analysis | None:
    """A reply to a clarifying question: the previous question's inputs, completed or corrected by this one."""
    before = analyse(previous)
    if before is None or before.clarifying is None or _named(question):
        return None
    metrics = [mt for mt, _ in before.outcomes]
    base = {mt.key: bind(before.parsed.quantities, mt.roles) for mt in metrics}
    # correcting one group removes the duplicate the first question had
    for b in base.values():
        b.duplicates = []
    if not any(len(bind(parsed.quantities, mt.roles)) for mt in metrics) and not parsed.scores:
        return None
    combined = Parsed(f"{previous} {question}", parsed.quantities, parsed.scores or before.parsed.scores,
                      before.parsed.words + parsed.words)
    return _outcomes(question, combined, metrics, require_intent=False, base=base)


# ---------------------------------------------------------------- the answer, cited

FORMULA_MARKS = re.compile(r"=|÷|\bformula\b|\bcalculated\b|\bdivided by\b", re.I)


def _defines(sentence: str, metric: Metric) -> int:
    """+1 when the metric is what the sentence's formula defines (the last metric named before its "=" or
    "calculated"), -1 when another metric is, 0 when none is named there."""
    mark = FORMULA_MARKS.search(sentence)
    head = sentence[:mark.start()] if mark else sentence
    named = [(hit.end(), mt.key) for mt in METRICS for hit in mt.names.finditer(head)]
    if not named:
        return 0
    return 1 if max(named)[1] == metric.key else -1


def formula_citation(retriever, metric: Metric, n: int) -> Citation | None:
    """The passage of the knowledge base that defines the metric's formula: the retrieved passage with the
    sentence that best states it (it names the metric and writes the formula out), or None when no passage
    does."""
    hits = retriever.search(metric.query)
    role_terms = {t for r in metric.roles for c in r.cues for t in terms(c)}
    best: tuple[float, object, list[str]] | None = None
    for rank, hit in enumerate(hits):
        chunk = hit.chunk
        if chunk is None:
            continue
        scored = []
        for sentence in split_sentences(chunk.text):
            if not metric.names.search(sentence) or not FORMULA_MARKS.search(sentence):
                continue
            s = 2.0 * ("=" in sentence) + 1.0 * bool(re.search(r"\bformula\b", sentence, re.I)) \
                + 0.5 * bool(re.search(r"calculat", sentence, re.I)) + 3.0 * _defines(sentence, metric)
            s += len(role_terms & set(terms(sentence))) * 0.25
            scored.append((s, sentence))
        if not scored:
            continue
        scored.sort(key=lambda x: -x[0])
        score = scored[0][0] + 2.0 * hit.score - 0.1 * rank
        if best is None or score > best[0]:
            best = (score, hit, [s for _, s in scored[:2]])
    if best is None:
        return None
    _, hit, sentences = best
    meta = hit.chunk.metadata
    return Citation(n, meta.get("source", ""), meta.get("title", ""), meta.get("page"), meta.get("section", ""),
                    hit.chunk.text, hit.score, sentences, hit.id)


def _previous_question(history: History | None) -> str | None:
    turns = normalise_history(history)
    for role, text in reversed(turns):
        if role == "user":
            return text
    return None


def might_apply(question: str) -> bool:
    """Cheap first check: the question holds a digit."""
    return any(ch.isdigit() for ch in question or "")


def respond(retriever, question: str, history: History | None = None) -> Answer | None:
    """The computed answer to a question that carries the user's numbers, or None when it carries none."""
    analysis = analyse(question, _previous_question(history))
    if analysis is None:
        return None
    clarify = analysis.clarifying
    if clarify is not None:
        return Answer(question, clarify.text, False, [], backend="calculator", standalone_question=question,
                      notes=[])
    citations: list[Citation] = []
    paragraphs: list[str] = []
    uncited: list[str] = []
    for metric, results in analysis.outcomes:
        cite = formula_citation(retriever, metric, len(citations) + 1)
        if cite is not None and not any(c.id == cite.id for c in citations):
            citations.append(cite)
        number = next((c.n for c in citations if cite is not None and c.id == cite.id), None)
        marker = f" [{number}]" if number else ""
        if number is None:
            uncited.append(metric.title)
        for r in results:
            label = {"churn": "churn rate", "retention": "retention rate", "aht": "AHT"}.get(r.metric, metric.title)
            lead = f"Your {label} is {r.shown}." if r.metric != "aht" else f"Your AHT is {r.shown}."
            paragraphs.append(f"{lead}\n\nFormula{marker}: {r.formula}\n\n{r.working}")
            paragraphs.extend(r.notes)
    if uncited:
        paragraphs.append(f"No document in the knowledge base states the formula for {', '.join(uncited)}; the "
                          "standard formula was used.")
    text = "\n\n".join(paragraphs)
    return Answer(question, text, False, citations, backend="calculator", standalone_question=question)
