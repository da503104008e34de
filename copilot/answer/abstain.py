"""Abstention: does the knowledge base answer this question? Judged on the evidence, not on the domain.

A question about a user's own document is answered whatever its subject; a question nothing in the index
covers is declined, however it is phrased. The evidence is a handful of named pure functions over the ranking
(how much of the question's specific content the best sentence and passage cover, how similar they are to
it, the scorer's confidence, the share of the question the index has never seen); a logistic model fitted by
`benchmarks/fit_answer.py` turns them into the probability that the question is answerable, and the fitted
threshold decides.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from .pipeline import Ranking
from .scorer import LinearModel

Evidence = Callable[[Ranking], float]


def best_probability(r: Ranking) -> float:
    """The highest probability that one sentence answers the question, from the confidence model (fitted
    across questions) where the weights have one, else from the sentence scorer."""
    conf = r.confidences()
    return float(conf.max()) if len(conf) else 0.0


def best_coverage(r: Ranking) -> float:
    """The largest share of the question's weight that one sentence covers."""
    return float(r.batch.coverage.max()) if len(r.cands) else 0.0


def best_passage_coverage(r: Ranking) -> float:
    """The largest share of the question's weight that one passage covers, with its title and heading."""
    best = 0.0
    for pi in range(len(r.passages)):
        ts = set(r.batch.heading_terms[pi])
        for i, c in enumerate(r.cands):
            if c.passage == pi:
                ts |= r.batch.terms[i]
        best = max(best, r.question.coverage(ts))
    return best


def best_semantic(r: Ranking) -> float:
    """The highest cosine similarity between the question and one sentence."""
    return float(r.batch.semantic.max()) if len(r.cands) else 0.0


def best_dense(r: Ranking) -> float:
    """The highest cosine similarity between the question and one passage."""
    return max((p.dense for p in r.passages), default=0.0)


def best_lexical(r: Ranking) -> float:
    """The highest saturated BM25 score of one passage."""
    return max((p.lexical for p in r.passages), default=0.0)


def dense_margin(r: Ranking) -> float:
    """How far the best passage's similarity to the question stands above the average retrieved passage's:
    a question nothing answers finds every passage about equally (dis)similar."""
    dense = [p.dense for p in r.passages]
    return max(dense) - sum(dense) / len(dense) if dense else 0.0


def score_margin(r: Ranking) -> float:
    """The best passage's retrieval score relative to the weakest one read."""
    scores = [p.score for p in r.passages]
    return (max(scores) - min(scores)) / (max(scores) or 1.0) if scores else 0.0


def unknown_share(r: Ranking) -> float:
    """The share of the question's weight on terms that no passage in the index contains."""
    return sum(w for t, w in r.question.weights.items() if t in r.question.unknown)


EVIDENCE: dict[str, Evidence] = {f.__name__: f for f in (
    best_probability, best_coverage, best_passage_coverage, best_semantic, best_dense, best_lexical, dense_margin,
    score_margin, unknown_share,
)}


def evidence(r: Ranking, names=None) -> np.ndarray:
    return np.array([EVIDENCE[n](r) for n in (names or EVIDENCE)], dtype=np.float64)


@dataclass(frozen=True)
class Verdict:
    answerable: bool
    probability: float


def judge(r: Ranking, model: LinearModel, threshold: float) -> Verdict:
    """Answer, or decline: the fitted model's probability that the index answers the question."""
    if not r.cands:
        return Verdict(False, 0.0)
    p = float(model.probability(evidence(r, model.features))[0])
    return Verdict(p >= threshold, p)
