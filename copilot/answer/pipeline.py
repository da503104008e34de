"""The extractive pipeline's shared front half: candidates -> features -> scores, for one question.

Both the answerer (which goes on to select and compose) and the abstention judgement use this ranking, so it
is computed once per question.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from . import features as F
from .candidates import Candidate, candidates
from .scorer import LinearModel
from .types import Passage, Query


@dataclass
class Ranking:
    question: F.Question
    passages: list[Passage]
    cands: list[Candidate]
    batch: F.Batch
    features: np.ndarray  # candidates x the scorer's features
    scores: np.ndarray  # the sentence scorer's probability that each candidate answers the question
    confidence: np.ndarray | None = None  # the confidence model's, where the weights have one (else `scores`)

    def best(self) -> int:
        return int(np.argmax(self.scores)) if len(self.scores) else -1

    def confidences(self) -> np.ndarray:
        return self.scores if self.confidence is None else self.confidence


def rank(question: str, passages: Sequence[Passage], query: Query | None, model: LinearModel,
         passages_read: int, confidence: LinearModel | None = None) -> Ranking:
    """Candidates, features and scores for one question; `confidence` (a model over the same features) adds
    the scores abstention reads."""
    read = list(passages[:passages_read])
    q = F.prepare(question, query)
    cands = candidates(read)
    b = F.batch(q, cands, read)
    x = F.matrix(b, model.features)
    scores = model.probability(x) if len(cands) else np.zeros(0)
    conf = None
    if confidence is not None:
        conf = confidence.probability(F.matrix(b, confidence.features)) if len(cands) else np.zeros(0)
    return Ranking(q, read, cands, b, x, scores, conf)
