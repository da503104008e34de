"""The extractive answerer: the passages' own sentences, best first, each with its citation. No model needed.

candidates (stage 1) -> features (2) -> fitted scorer (3) -> selection (4) -> composition (5).
"""

from __future__ import annotations

from collections.abc import Sequence

from .compose import compose
from .features import _key, said_before
from .pipeline import Ranking, rank
from .select import restates, select
from .settings import AnswerSettings
from .types import Answer, Answerer, Passage, Query


def restated(cands, said: list[bool], threshold: float) -> list[bool]:
    """`said`, widened to the sentences that say what a shown one said in other words: embedding cosine with
    a shown candidate of at least `threshold` (a glossary's definition and the article's own)."""
    shown = [c for c, s in zip(cands, said) if s and c.vector is not None]
    if not shown or threshold > 1:
        return said
    return [s or any(restates(c, d, threshold) for d in shown) for c, s in zip(cands, said)]


class ExtractiveAnswerer(Answerer):
    """Answers with the sentence that best answers the question first, then the sentences that come close
    to it, from the retrieved passages; every sentence is cited."""

    name = "extractive"

    def __init__(self, settings: AnswerSettings | None = None):
        self.settings = settings or AnswerSettings.fitted()

    def rank(self, question: str, passages: Sequence[Passage], query: Query | None = None) -> Ranking:
        cached = getattr(query, "ranking", None) if query is not None else None
        if isinstance(cached, Ranking) and [p.id for p in cached.passages] == \
                [p.id for p in passages[: self.settings.passages_read]] and cached.question.text == question:
            return cached
        w = self.settings.weights()
        return rank(question, passages, query, w.sentence, self.settings.passages_read, w.confidence)

    def answer(self, question: str, passages: Sequence[Passage], query: Query | None = None) -> Answer:
        return self.from_ranking(question, self.rank(question, passages, query))

    def from_ranking(self, question: str, r: Ranking) -> Answer:
        """Select and compose the answer from a ranking of the candidate sentences."""
        if not r.cands:
            return Answer(question, "", True, backend=self.name)
        b = r.batch
        heading = [b.question.coverage(b.heading_terms[c.passage]) for c in r.cands]
        said = restated(r.cands, [bool(x) for x in said_before(b)], self.settings.restated)
        led = restated(r.cands, [_key(c.text) in b.question.opened for c in r.cands], self.settings.restated)
        sel = select(r.cands, r.scores, b.terms, heading, list(b.coverage), said, self.settings, b.section_cover,
                     b.question.weights, led)
        picked = [(r.cands[i].text, r.cands[i].passage, r.cands[i].marker, r.cands[i].item) for i in sel.chosen]
        text, citations = compose(picked, r.passages)
        return Answer(question, text, False, citations, backend=self.name)
