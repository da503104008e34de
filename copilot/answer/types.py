"""What answerers take and give: passages in, an Answer with citations out, and the interface they implement."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np


@dataclass
class Passage:
    """A retrieved chunk as the answerer sees it, with the retrieval evidence that chose it."""

    id: str
    text: str
    source: str
    title: str
    section: str = ""
    page: int | None = None
    score: float = 0.0  # fused retrieval score
    dense: float = 0.0  # cosine similarity of the chunk to the question
    lexical: float = 0.0  # saturated BM25 of the chunk for the question
    spans: list | None = None  # sentence spans (copilot.text.Span) computed at ingest, if stored
    vectors: np.ndarray | None = None  # one unit vector per span, if stored


@dataclass
class Citation:
    n: int
    source: str
    title: str
    page: int | None
    section: str
    text: str
    score: float
    sentences: list[str] = field(default_factory=list)  # the passage's sentences the answer used
    id: str = ""

    def to_dict(self) -> dict:
        return {"n": self.n, "source": self.source, "title": self.title, "page": self.page,
                "section": self.section, "text": self.text, "score": round(float(self.score), 4)}


@dataclass
class Answer:
    question: str
    text: str
    abstained: bool
    citations: list[Citation] = field(default_factory=list)
    backend: str = "extractive"
    standalone_question: str = ""
    dropped: list[str] = field(default_factory=list)  # sentences removed as unsupported (LLM backends)
    notes: list[str] = field(default_factory=list)  # e.g. why a backend fell back
    timings: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        """The stable JSON shape (`cx-copilot ask --json`, the web API)."""
        return {"answer": self.text, "abstained": self.abstained,
                "citations": [c.to_dict() for c in self.citations]}


@dataclass
class Query:
    """What is known about a question besides its text: how much each of its terms matters (IDF), its
    embedding, the index's acronyms, and the sentences the conversation has already shown."""

    term_weights: dict[str, float] | None = None
    vector: np.ndarray | None = None
    acronyms: Mapping[str, str] | None = None
    said: tuple[str, ...] = ()  # sentences of earlier answers in this conversation
    own_terms: frozenset[str] = frozenset()  # terms the user typed in this turn (not borrowed from earlier)
    unknown_terms: frozenset[str] = frozenset()  # question terms no passage of the index contains
    ranking: object | None = None  # the extractive pipeline's ranking, when the copilot computed it already
    opened: tuple[str, ...] = ()  # the first sentence of each earlier answer (what each answer led with)


History = Sequence  # of (role, text) pairs or {"role": ..., "content": ...} dicts


def normalise_history(history: History | None) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    for turn in history or []:
        if isinstance(turn, dict):
            role, content = turn.get("role", ""), turn.get("content", "")
        else:
            role, content = turn[0], turn[1]
        if isinstance(content, str) and content.strip():
            out.append((str(role), content.strip()))
    return out


class Answerer:
    """Turns a question and retrieved passages into an Answer. Implement `answer`."""

    name = "answerer"

    def answer(self, question: str, passages: Sequence[Passage], query: Query | None = None) -> Answer:
        raise NotImplementedError  # pragma: no cover - interface

    def stream(self, question: str, passages: Sequence[Passage], query: Query | None = None) -> Iterator[str | Answer]:
        """Text pieces as they are produced, then the final Answer. Default: the whole answer, word by word."""
        result = self.answer(question, passages, query)
        for piece in re.findall(r"\S+\s*", result.text):
            yield piece
        yield result
