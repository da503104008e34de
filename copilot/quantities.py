"""Quantities in a question, with the words that label them: "120 promoters", "lost 140", "ARPU $40 a month",
"3-year lifetime", "hold 1:30", "312 of 400 customers said satisfied", "scores: 5, 6, 7".

Pure and small: `parse(text)` reads numbers (thousands separators, decimals, k/m suffixes, signs),
percentages, money, durations (units, mm:ss), rates ("a month", "per call"), "X of Y" pairs, score bands
("answered 9 or 10") and lists of bare scores, and gives each quantity the words on either side of it up to
the next boundary (punctuation, a conjunction, another quantity). What the labels mean is decided by the
calculators' role tables (copilot/calculate.py), not here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache

from .text import stem

CURRENCIES = {"$": "$", "usd": "$", "us$": "$", "£": "£", "gbp": "£", "€": "€", "eur": "€", "¥": "¥", "jpy": "¥"}
MULTIPLIERS = {"k": 1e3, "thousand": 1e3, "m": 1e6, "mn": 1e6, "million": 1e6, "bn": 1e9, "billion": 1e9}
TIME_UNITS = {"second": 1, "sec": 1, "secs": 1, "s": 1, "minute": 60, "min": 60, "mins": 60, "m": 60,
              "hour": 3600, "hr": 3600, "hrs": 3600, "h": 3600, "day": 86400, "week": 7 * 86400,
              "month": 365.25 * 86400 / 12, "mo": 365.25 * 86400 / 12, "quarter": 365.25 * 86400 / 4,
              "year": 365.25 * 86400, "yr": 365.25 * 86400, "yrs": 365.25 * 86400}
PERIODS = {"day": "day", "daily": "day", "week": "week", "weekly": "week", "month": "month", "monthly": "month",
           "mo": "month", "quarter": "quarter", "quarterly": "quarter", "year": "year", "yearly": "year",
           "annual": "year", "annually": "year", "annum": "year", "yr": "year"}
BOUNDARY_WORDS = frozenset({"and", "but", "while", "whereas", "plus", "then", "so", "whilst"})
SCORE_VERBS = frozenset({"answered", "answering", "scored", "gave", "give", "gives", "giving", "rated", "chose",
                         "choose", "chooses", "choosing", "picked", "picks", "selected", "ticked"})
SCALE_NOUNS = frozenset({"stars", "star", "points", "ratings", "scores", "answers", "responses", "s"})
MONTHS = frozenset("""january february march april may june july august september october november december jan feb
                   mar apr jun jul aug sep sept oct nov dec""".split())
MONEY_WORDS = {"dollars": "$", "dollar": "$", "pounds": "£", "pound": "£", "euros": "€", "euro": "€"}

_NUMBER = (r"(?P<cur>[$£€¥]|\b(?:usd|us\$|gbp|eur|jpy)\s?)?"
           r"(?P<sign>(?<![\w.,])[-−+])?"
           r"(?P<num>\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?|\.\d+)"
           r"(?P<mult>\s?(?:k|m|mn|bn|thousand|million|billion)\b)?"
           r"(?P<pct>\s?(?:%|percent\b|per\s?cent\b|pct\b))?")
_TOKEN = re.compile(
    r"(?P<clock>\b\d{1,2}:[0-5]\d(?::[0-5]\d)?\b)"  # 4:30 (minutes:seconds) or 1:04:30
    rf"|{_NUMBER}"
    r"|(?P<word>[a-z]+(?:'[a-z]+)?)"
    r"|(?P<dash>\s[-–—]\s|[–—])"
    r"|(?P<punct>[,;:!?()\[\]=/]|\.(?!\d))",
    re.I)


@dataclass
class Quantity:
    """A number as written in a question, with its kind and the words around it."""

    value: float
    kind: str  # count, percent, money or duration (durations in seconds)
    text: str
    start: int
    end: int
    unit: str = ""  # the currency, or the time unit as written
    per: tuple[str, ...] = ()  # what the quantity is per: ("month",), ("call",)
    before: tuple[str, ...] = ()  # words before it, nearest last, back to a boundary
    after: tuple[str, ...] = ()  # words after it, nearest first, up to a boundary
    band: tuple[int, int] | None = None  # the score band that labels it ("answered 9 or 10")
    part_of: Quantity | None = field(default=None, repr=False)  # "312 of 400": 312.part_of is 400
    whole_of: Quantity | None = field(default=None, repr=False)
    listed: bool = False  # one of a list of bare scores

    @property
    def period(self) -> str:
        return next((PERIODS[w] for w in self.per if w in PERIODS), "")

    @property
    def integral(self) -> bool:
        return float(self.value).is_integer()


@dataclass
class Parsed:
    text: str
    quantities: list[Quantity]
    scores: list[float]  # a list of bare scores ("5, 6, 7, 4"), if the text holds one
    words: list[str]  # every word, lower case


@dataclass
class _Tok:
    kind: str  # num, clock, word, bound
    text: str
    start: int
    end: int
    m: re.Match | None = None


def _tokens(text: str) -> list[_Tok]:
    out = []
    for m in _TOKEN.finditer(text):
        if m.group("clock"):
            out.append(_Tok("clock", m.group(0), m.start(), m.end(), m))
        elif m.group("num") is not None:
            if not m.group("cur") and m.start() and text[m.start() - 1].isalpha():
                # glued to a word: a label such as Q3, H1, FY2025 or v2, not a quantity
                out.append(_Tok("word", m.group(0).lower(), m.start(), m.end()))
                continue
            out.append(_Tok("num", m.group(0), m.start(), m.end(), m))
        elif m.group("word"):
            out.append(_Tok("word", m.group("word").lower(), m.start(), m.end()))
        else:
            out.append(_Tok("bound", m.group(0).strip(), m.start(), m.end()))
    return out


def _value(m: re.Match) -> float:
    v = float(m.group("num").replace(",", ""))
    mult = (m.group("mult") or "").strip().lower()
    if mult:
        v *= MULTIPLIERS[mult]
    if m.group("sign") in {"-", "−"}:
        v = -v
    return v


def _small_score(t: _Tok) -> bool:
    """A bare whole number 0-10 (a point of a survey scale)."""
    m = t.m
    if m is None or m.group("pct") or m.group("cur") or m.group("mult"):
        return False
    v = abs(_value(m))
    return v.is_integer() and v <= 10


def _clock_seconds(text: str) -> float:
    parts = [int(p) for p in text.split(":")]
    return parts[0] * 60 + parts[1] if len(parts) == 2 else parts[0] * 3600 + parts[1] * 60 + parts[2]


def _time_unit(word: str) -> str | None:
    if word in TIME_UNITS:
        return word
    if word.endswith("s") and word[:-1] in TIME_UNITS:
        return word[:-1]
    return None


def parse(text: str) -> Parsed:
    text = (text or "").replace("\u2009", " ").replace("\u00a0", " ")
    toks = _tokens(text)
    words = [t.text for t in toks if t.kind == "word"]
    # score bands ("answered 9 or 10", "scored 0-6", "(9-10)") label counts; they are no quantities
    in_band: set[int] = set()
    verbs: dict[int, tuple[int, int]] = {}  # token index of a score verb -> the band it names
    for i, t in enumerate(toks):
        if t.kind == "word" and t.text in SCORE_VERBS:
            j = i + 1
            if j < len(toks) and toks[j].kind == "word" and toks[j].text in {"a", "an", "between"}:
                j += 1
            nums: list[int] = []
            while j < len(toks) and len(nums) < 4:
                if toks[j].kind == "num" and _small_score(toks[j]):
                    nums.append(int(abs(_value(toks[j].m))))
                    in_band.add(j)
                elif not (nums and toks[j].text in {"or", "to", "and", ","}):
                    break
                j += 1
            if nums:
                verbs[i] = (min(nums), max(nums))
    for i, t in enumerate(toks):  # "4 or 5", "4 and 5 stars": two points of the scale, a band
        if t.kind == "num" and _small_score(t) and i + 2 < len(toks) and toks[i + 2].kind == "num" \
                and _small_score(toks[i + 2]) and (toks[i + 1].text == "or" or (
                    toks[i + 1].text == "and" and i + 3 < len(toks) and toks[i + 3].text in SCALE_NOUNS)):
            in_band.update({i, i + 2})
            lo, hi = sorted((int(abs(_value(t.m))), int(abs(_value(toks[i + 2].m)))))
            verbs.setdefault(i, (lo, hi))
    for i, t in enumerate(toks):  # dates: "1 January", "March 31", "in 2025" are no quantities
        if t.kind != "num" or t.m.group("pct") or t.m.group("cur"):
            continue
        near = [toks[k].text for k in (i - 1, i + 1) if 0 <= k < len(toks) and toks[k].kind == "word"]
        v = abs(_value(t.m))
        if any(w in MONTHS for w in near) and v.is_integer() and (v <= 31 or 1900 <= v <= 2100):
            in_band.add(i)
        elif v.is_integer() and 1900 <= v <= 2100 and "," not in t.text and i and toks[i - 1].text in {"in", "since",
                                                                                                        "of", "during"}:
            in_band.add(i)
    for i, t in enumerate(toks):  # ranges: "0-6", "9 to 10"
        if t.kind != "num" or not _small_score(t):
            continue
        for k in (i + 1, i + 2):
            if k < len(toks) and toks[k].kind == "num" and _small_score(toks[k]) and \
                    text[t.end:toks[k].start].strip() in {"-", "–", "to"}:
                if abs(_value(t.m)) < abs(_value(toks[k].m)):
                    in_band.update({i, k})

    quantities: list[tuple[int, Quantity]] = []
    for i, t in enumerate(toks):
        if i in in_band or t.kind not in {"num", "clock"}:
            continue
        if t.kind == "clock":
            q = Quantity(_clock_seconds(t.text), "duration", t.text, t.start, t.end, unit="clock")
        else:
            m = t.m
            value = _value(m)
            cur = (m.group("cur") or "").strip().lower()
            if m.group("pct"):
                q = Quantity(value, "percent", t.text, t.start, t.end, unit="%")
            elif cur:
                q = Quantity(value, "money", t.text, t.start, t.end, unit=CURRENCIES.get(cur, cur))
            else:
                q = Quantity(value, "count", t.text, t.start, t.end)
            nxt = toks[i + 1] if i + 1 < len(toks) else None
            if q.kind == "count" and nxt is not None and nxt.kind == "word":
                if nxt.text in CURRENCIES or nxt.text in MONEY_WORDS:
                    q.kind, q.unit = "money", CURRENCIES.get(nxt.text) or MONEY_WORDS[nxt.text]
                else:
                    unit = _time_unit(nxt.text)
                    if unit is not None:
                        q.kind, q.unit, q.value = "duration", unit, value * TIME_UNITS[unit]
            prev = toks[i - 1] if i else None
            if q.kind == "count" and prev is not None and prev.kind == "word" and prev.text in {"a", "an"}:
                continue  # "gives us a 6": a score, not a count
        quantities.append((i, q))

    def transparent(j: int) -> bool:
        return j in in_band

    for i, q in quantities:
        # words after, up to a boundary or the next quantity; "a month", "per call" say what it is per
        after: list[str] = []
        j = i + 1
        while j < len(toks) and (transparent(j) or (toks[j].kind == "word" and toks[j].text not in BOUNDARY_WORDS)):
            if not transparent(j):
                after.append(toks[j].text)
            j += 1
        hi = j
        per = []
        for n, w in enumerate(after):
            if w in {"a", "an", "per", "each", "every"} and n + 1 < len(after):
                per.append(after[n + 1])
            elif w in PERIODS and (w.endswith("ly") or w in {"annual", "annually"}):
                per.append(w)
        if j + 1 < len(toks) and toks[j].text == "/" and toks[j + 1].kind == "word":  # "$40/month"
            per.append(toks[j + 1].text)
        if q.kind == "duration" and after and _time_unit(after[0]):
            after = after[1:]
        q.after, q.per = tuple(after), tuple(per)
        # words before, back to a boundary; "Promoters: 120" and "talk time = 6" reach past the colon
        before: list[str] = []
        j = i - 1
        if j >= 0 and toks[j].text in {":", "="}:
            j -= 1
        while j >= 0 and (transparent(j) or (toks[j].kind == "word" and toks[j].text not in BOUNDARY_WORDS)):
            if not transparent(j):
                before.insert(0, toks[j].text)
            j -= 1
        lo = j
        q.before = tuple(before)
        for v, band in verbs.items():
            if lo < v < hi:
                q.band = band
    # "312 of 400", "312 out of the 400", "312/400": a part and its whole
    qs = [q for _, q in quantities]
    for (i, q), (i2, q2) in zip(quantities, quantities[1:]):
        between = [t for t in toks[i + 1:i2]]
        link = [t.text for t in between]
        if (link and link[-1] in {"the", "our", "all", "those", "them"}):
            link = link[:-1]
        if q.kind == q2.kind == "count" and (link in (["of"], ["out", "of"], ["/"], ["from"]) or
                                             (len(link) <= 4 and link[-2:] in (["out", "of"],) and
                                              all(t.kind == "word" for t in between))):
            q.part_of, q2.whole_of = q2, q
            q.after = tuple(w for w in q.after if w not in {"of", "out", "the", "our", "all", "those", "them"}) \
                + q2.after
            if q2.band is not None and q.band is None:  # "312 of 400 gave 4 or 5": the band is what the part did
                q.band, q2.band = q2.band, None
    # a list of bare scores: three or more small whole numbers with only commas or spaces between them
    scores = _score_list(toks, in_band)
    if scores:
        for _, q in quantities:
            if q.start >= scores[0] and q.end <= scores[1]:
                q.listed = True
    listed = [q.value for q in qs if q.listed]
    return Parsed(text, [q for q in qs if not q.listed], listed, words)


def _score_list(toks: list[_Tok], skip: set[int]) -> tuple[int, int] | None:
    """(start, end) of the longest run of three or more bare whole numbers 0-10 separated by commas, spaces
    or a final 'and'."""
    best: tuple[int, int, int] | None = None
    run: list[_Tok] = []

    def close():
        nonlocal best
        if len(run) >= 3 and (best is None or len(run) > best[2]):
            best = (run[0].start, run[-1].end, len(run))

    for i, t in enumerate(toks):
        if t.kind == "num" and i not in skip and _small_score(t) and t.m.group("sign") is None:
            run.append(t)
        elif not (run and t.text in {",", "and", ";"} and i + 1 < len(toks) and toks[i + 1].kind == "num"):
            close()
            run = []
    close()
    return (best[0], best[1]) if best else None


@lru_cache(maxsize=512)
def stems_of(phrase: str) -> tuple[str, ...]:
    return tuple(stem(w) for w in re.findall(r"[a-z]+", phrase.lower()))
