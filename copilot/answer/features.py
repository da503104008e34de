"""Stage 2 of the extractive pipeline: what is known about each candidate sentence, as numbers.

Each feature is a named pure function `f(batch) -> array`, one value per candidate, over a `Batch`: the
`Question` (its terms, their weights, its embedding, the kind of answer it asks for), the candidates and
their passages. The
scorer (stage 3) combines them with fitted weights; nothing here is tuned by hand. `FEATURES` is the ordered
registry the fitted weights refer to by name.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from ..text import aspect, aspect_phrases, terms, words
from .candidates import Candidate
from .types import Passage, Query


# ---------------------------------------------------------------- acronyms

def acronym_terms(acronyms: Mapping[str, str] | None) -> dict[str, frozenset[str]]:
    """{"clv": {"custom", "lifetim", "valu"}}: each acronym's term with the terms of its long form."""
    table: dict[str, frozenset[str]] = {}
    for acro, long in (acronyms or {}).items():
        key, spelled = terms(acro), frozenset(term_set(long))
        if len(key) == 1 and len(spelled) > 1:
            table[key[0]] = spelled
    return table


def fold_acronyms(ts: set[str], table: Mapping[str, frozenset[str]]) -> set[str]:
    """Terms of a text that says "CLV" gain "customer lifetime value", and the other way round."""
    for acro, spelled in table.items():
        if acro in ts:
            ts |= spelled
        elif spelled <= ts:
            ts.add(acro)
    return ts


def term_set(text: str) -> set[str]:
    """Stemmed content terms with words for one aspect folded together ("formula" / "calculated")."""
    return {aspect(t) for t in terms(aspect_phrases(text))}


def term_list(text: str) -> list[str]:
    return [aspect(t) for t in terms(aspect_phrases(text))]


# ---------------------------------------------------------------- the kind of answer a question asks for

# (kind, the words that ask for it). The first match in the question wins; "other" when none does.
KINDS: list[tuple[str, re.Pattern]] = [
    ("duration", re.compile(r"\bhow (?:long|often|quickly|soon|fast|frequently)\b|\bwithin how\b", re.I)),
    ("date", re.compile(r"\bwhen\b|\bwhat (?:year|decade|century|date|month|day|time)\b|"
                        r"\bwhich (?:year|decade|century|date|month)\b|\bin what year\b", re.I)),
    ("number", re.compile(r"\bhow (?:many|much|large|big|high|tall|old|far|wide|deep)\b|"
                          r"\bwhat (?:percentage|percent|share|proportion|number|amount|fraction|rate|ratio|size)\b",
                          re.I)),
    ("person", re.compile(r"\bwho(?:m|se)?\b|\bwhich (?:person|people|man|woman|company|organi[sz]ation)\b", re.I)),
    ("place", re.compile(r"\bwhere\b|\b(?:what|which) (?:city|country|state|county|region|place|location|area|"
                         r"town|continent|island|river|street)\b", re.I)),
]
_NUMBER_WORDS = frozenset("""one two three four five six seven eight nine ten eleven twelve thirteen fourteen
    fifteen sixteen seventeen eighteen nineteen twenty thirty forty fifty sixty seventy eighty ninety hundred
    thousand million billion trillion dozen half quarter third percent""".split())
_MONTHS = frozenset("""january february march april may june july august september october november december""".split())
_UNITS = frozenset("""second seconds minute minutes hour hours day days week weeks month months quarter quarters
    year years decade decades century centuries""".split())
_FREQUENCY = frozenset("daily weekly monthly quarterly annually yearly hourly biweekly fortnightly".split())
_YEAR = re.compile(r"^(?:1[0-9]|20)\d\d(?:s)?$")
_CAPITALISED = re.compile(r"(?<![.!?]\s)(?<!^)\b[A-Z][\w'’-]*")


def question_kind(question: str) -> str:
    """The kind of answer a question asks for: duration, date, number, person, place or other."""
    for kind, pattern in KINDS:
        if pattern.search(question):
            return kind
    return "other"


def _tokens(text: str) -> list[str]:
    return re.findall(r"[A-Za-z0-9][\w'’%.-]*", text)


def kind_tokens(sentence: str, kind: str) -> set[str]:
    """The tokens of a sentence that could answer a question of `kind` (lower-cased)."""
    toks = _tokens(sentence)
    low = [t.lower().rstrip(".") for t in toks]
    if kind == "number":
        return {t for t in low if any(ch.isdigit() for ch in t) or t in _NUMBER_WORDS}
    if kind == "date":
        return {t for t in low if _YEAR.match(t) or t in _MONTHS}
    if kind == "duration":
        found = {t for t in low if t in _FREQUENCY}
        for a, b in zip(low, low[1:]):
            if (any(ch.isdigit() for ch in a) or a in _NUMBER_WORDS) and b in _UNITS:
                found.add(f"{a} {b}")
        return found
    if kind in {"person", "place"}:
        return {m.group(0).lower() for m in _CAPITALISED.finditer(sentence)}
    return set()


# ---------------------------------------------------------------- what the features see

@dataclass
class Question:
    """A question prepared for scoring: its weighted terms, embedding and answer kind."""

    text: str
    weights: dict[str, float]  # term -> share of the question's weight (sums to 1)
    own: dict[str, float]  # the same for the terms typed in this turn only
    bigrams: set[tuple[str, str]]
    vector: np.ndarray | None
    kind: str
    kind_in_question: set[str]
    acronyms: dict[str, frozenset[str]] = field(default_factory=dict)
    said: frozenset[str] = frozenset()
    unknown: frozenset[str] = frozenset()  # terms the index has never seen
    opened: frozenset[str] = frozenset()  # the sentences earlier answers opened with

    def coverage(self, ts: set[str], own: bool = False) -> float:
        weights = self.own if own else self.weights
        return sum(w for t, w in weights.items() if t in ts)


def _normalised(weights: Mapping[str, float]) -> dict[str, float]:
    total = sum(weights.values())
    return {t: w / total for t, w in weights.items()} if total > 0 else {}


def prepare(question: str, query: Query | None = None) -> Question:
    """The question as the features see it. Term weights default to 1 each (no index statistics)."""
    query = query or Query()
    table = acronym_terms(query.acronyms)
    raw: dict[str, float] = {}
    for t, w in (query.term_weights or {t: 1.0 for t in terms(aspect_phrases(question))}).items():
        key = aspect(t)
        raw[key] = max(raw.get(key, 0.0), float(w))
    # a term's acronym or long form counts as the term itself
    for acro, spelled in table.items():
        if acro in raw:
            for t in spelled:
                raw.setdefault(t, 0.0)
    weights = _normalised(raw)
    own_terms = {aspect(t) for t in query.own_terms} if query.own_terms else set(weights)
    own = _normalised({t: w for t, w in raw.items() if t in own_terms}) or weights
    seq = term_list(question)
    kind = question_kind(question)
    return Question(question, weights, own, set(zip(seq, seq[1:])), query.vector, kind,
                    kind_tokens(question, kind), table, frozenset(_key(s) for s in query.said),
                    frozenset(aspect(t) for t in query.unknown_terms), frozenset(_key(s) for s in query.opened))


def _key(sentence: str) -> str:
    """A sentence as compared with what the conversation said (citation markers and punctuation aside)."""
    return " ".join(words(re.sub(r"\[\d+\]", "", sentence)))


@dataclass
class Batch:
    """Per-candidate facts computed once and shared by the features."""

    question: Question
    cands: Sequence[Candidate]
    passages: Sequence[Passage]
    terms: list[set[str]]
    sequences: list[list[str]]  # each candidate's terms in order (for term pairs)
    heading_terms: list[set[str]]  # per passage: its title and section heading
    section_cover: list[float]  # per passage: coverage of the question by its section heading alone
    title_cover: list[float]  # per passage: coverage of the question by its document title alone
    semantic: np.ndarray  # cosine of each candidate with the question (0 when unknown)
    coverage: np.ndarray
    by_position: dict[tuple[int, int], int]  # (passage, position) -> candidate index


def batch(question: Question, cands: Sequence[Candidate], passages: Sequence[Passage]) -> Batch:
    table = question.acronyms
    sequences = [term_list(c.text) for c in cands]
    cand_terms = [fold_acronyms(set(seq), table) for seq in sequences]
    heads = [fold_acronyms(term_set(f"{p.title} {p.section}"), table) for p in passages]
    sem = np.zeros(len(cands), dtype=np.float32)
    if question.vector is not None:
        q = np.asarray(question.vector, dtype=np.float32)
        for i, c in enumerate(cands):
            if c.vector is not None:
                sem[i] = float(np.dot(c.vector, q))
    cov = np.array([question.coverage(ts) for ts in cand_terms], dtype=np.float32)
    sections = [question.coverage(fold_acronyms(term_set(p.section), table)) for p in passages]
    titles = [question.coverage(fold_acronyms(term_set(p.title), table)) for p in passages]
    return Batch(question, cands, passages, cand_terms, sequences, heads, sections, titles, sem, cov,
                 {(c.passage, c.position): i for i, c in enumerate(cands)})


Feature = Callable[[Batch], np.ndarray]


# ---------------------------------------------------------------- the features (one value per candidate)

def _per_passage(b: Batch, values: Sequence[float]) -> np.ndarray:
    return np.array([values[c.passage] for c in b.cands], dtype=np.float32)


def semantic(b: Batch) -> np.ndarray:
    """Cosine similarity of the sentence's embedding with the question's (all-MiniLM-L6-v2)."""
    return b.semantic


def semantic_gap(b: Batch) -> np.ndarray:
    """How far the sentence's semantic similarity falls short of the best candidate's (0 for the best)."""
    return b.semantic - b.semantic.max() if len(b.semantic) else b.semantic


def coverage(b: Batch) -> np.ndarray:
    """Share of the question's weight (IDF of each term in the index) carried by terms the sentence holds:
    rare, specific question terms count most."""
    return b.coverage


def coverage_gap(b: Batch) -> np.ndarray:
    """How far the sentence's coverage falls short of the best candidate's."""
    return b.coverage - b.coverage.max() if len(b.coverage) else b.coverage


def context_coverage(b: Batch) -> np.ndarray:
    """Coverage by the sentence together with the sentence before it: a sentence often names its subject
    only through "it" or "the region". The passage's title and heading are not part of it: they are
    `heading_match`'s evidence, weighed on their own (counted here as well, a heading on another comparison,
    "the difference between relational and transactional NPS", lent "difference" to every sentence of its
    section, and those sentences outranked the one that compares what was asked)."""
    out = np.zeros(len(b.cands), dtype=np.float32)
    for i, c in enumerate(b.cands):
        ts = b.terms[i]
        j = b.by_position.get((c.passage, c.position - 1))
        if j is not None:
            ts = ts | b.terms[j]
        out[i] = b.question.coverage(ts)
    return out


def own_coverage(b: Batch) -> np.ndarray:
    """Coverage of the terms typed in this turn only: a follow-up asks about its own words, not the earlier
    turns' topic it borrowed."""
    return np.array([b.question.coverage(ts, own=True) for ts in b.terms], dtype=np.float32)


def bigram_match(b: Batch) -> np.ndarray:
    """Share of the question's consecutive term pairs that the sentence also has side by side."""
    pairs = b.question.bigrams
    if not pairs:
        return np.zeros(len(b.cands), dtype=np.float32)
    return np.array([len(pairs & set(zip(seq, seq[1:]))) / len(pairs) for seq in b.sequences], dtype=np.float32)


def novelty(b: Batch) -> np.ndarray:
    """How much the sentence adds beyond the question's own words (log of its new content terms): a
    sentence that only restates the question answers nothing."""
    asked = set(b.question.weights)
    return np.log1p(np.array([len(ts - asked) for ts in b.terms], dtype=np.float32))


def answer_kind_fit(b: Batch) -> np.ndarray:
    """1 when the question asks for a kind of answer (a number, a date, a duration, a person, a place) and
    the sentence holds one that the question does not already state."""
    kind = b.question.kind
    if kind == "other":
        return np.zeros(len(b.cands), dtype=np.float32)
    given = b.question.kind_in_question
    return np.array([bool(kind_tokens(c.text, kind) - given) for c in b.cands], dtype=np.float32)


def passage_score(b: Batch) -> np.ndarray:
    """The retrieval score of the sentence's passage relative to the best passage."""
    top = max((p.score for p in b.passages), default=0.0) or 1.0
    return _per_passage(b, [p.score / top for p in b.passages])


def passage_rank(b: Batch) -> np.ndarray:
    """1 / (1 + the passage's place in the retrieval order)."""
    return np.array([1.0 / (1 + c.passage) for c in b.cands], dtype=np.float32)


def passage_dense(b: Batch) -> np.ndarray:
    """Cosine similarity of the whole passage with the question."""
    return _per_passage(b, [p.dense for p in b.passages])


def heading_match(b: Batch) -> np.ndarray:
    """Coverage of the question by the passage's title and section heading."""
    return _per_passage(b, [b.question.coverage(ts) for ts in b.heading_terms])


def section_match(b: Batch) -> np.ndarray:
    """Coverage of the question by the passage's section heading alone (0 for a passage with none)."""
    return _per_passage(b, b.section_cover)


def title_match(b: Batch) -> np.ndarray:
    """Coverage of the question by the title of the passage's document."""
    return _per_passage(b, b.title_cover)


def leads_matching_section(b: Batch) -> np.ndarray:
    """Section match for the first sentence of its passage, else 0: a section whose heading names the
    question usually opens with its point."""
    return section_match(b) * leads_passage(b)


def early(b: Batch) -> np.ndarray:
    """1 / (1 + the sentence's place in its passage)."""
    return np.array([1.0 / (1 + c.position) for c in b.cands], dtype=np.float32)


def leads_passage(b: Batch) -> np.ndarray:
    """1 for the first sentence of its passage."""
    return np.array([c.position == 0 for c in b.cands], dtype=np.float32)


def opens_paragraph(b: Batch) -> np.ndarray:
    """1 for the first sentence of a paragraph or list item."""
    return np.array([c.opens for c in b.cands], dtype=np.float32)


def length(b: Batch) -> np.ndarray:
    """log(1 + words in the sentence)."""
    return np.log1p(np.array([c.words for c in b.cands], dtype=np.float32))


def list_item(b: Batch) -> np.ndarray:
    """1 for a sentence that is (part of) a list item."""
    return np.array([c.item for c in b.cands], dtype=np.float32)


def introduces_list(b: Batch) -> np.ndarray:
    """1 for a sentence followed by a list (its heading: "The four components are:")."""
    return np.array([c.introduces for c in b.cands], dtype=np.float32)


def said_before(b: Batch) -> np.ndarray:
    """1 when the conversation has already shown this sentence: a follow-up wants something new."""
    said = b.question.said
    if not said:
        return np.zeros(len(b.cands), dtype=np.float32)
    return np.array([_key(c.text) in said for c in b.cands], dtype=np.float32)


FEATURES: dict[str, Feature] = {f.__name__: f for f in (
    semantic, semantic_gap, coverage, coverage_gap, context_coverage, own_coverage, bigram_match, novelty,
    answer_kind_fit, passage_score, passage_rank, passage_dense, heading_match, section_match, title_match,
    leads_matching_section, leads_passage, early, opens_paragraph, length, list_item, introduces_list, said_before,
)}


def matrix(b: Batch, names: Sequence[str] | None = None) -> np.ndarray:
    """The feature matrix of a batch: one row per candidate, one column per feature (registry order)."""
    fs = [FEATURES[n] for n in (names or FEATURES)]
    if not b.cands:
        return np.zeros((0, len(fs)), dtype=np.float32)
    return np.column_stack([np.asarray(f(b), dtype=np.float32) for f in fs])
