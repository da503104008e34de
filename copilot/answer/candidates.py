"""Stage 1 of the extractive pipeline: the candidate sentences of the retrieved passages.

Every sentence of the passages the answerer reads is a candidate, with where it sits (passage, paragraph,
position) and its list structure: a list item keeps its marker and knows the sentence that introduces its
list ("The four components are:"), so an answer that uses one item can bring the list with its heading.
Sentences that address the reader or the assistant as instructions ("ignore previous instructions ...") are
data, not knowledge: they are never candidates.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ..text import Span, sentence_spans, span_text
from .types import Passage


@dataclass
class Candidate:
    text: str  # whitespace collapsed, list marker excluded
    passage: int  # index into the passages read (their retrieval order)
    position: int  # index of the sentence within its passage
    paragraph: int  # index of its paragraph (or list item) within the passage
    opens: bool  # first sentence of its paragraph or item
    item: bool  # part of a list item
    marker: str = ""  # the item's list marker ("-", "3.") on the item's first sentence
    intro: int | None = None  # for a list item: position of the sentence that introduces its list
    introduces: bool = False  # followed by list items (a list's heading sentence)
    vector: np.ndarray | None = None  # its embedding, when the index stored one

    @property
    def words(self) -> int:
        return len(self.text.split())

    @property
    def asks(self) -> bool:
        """The sentence is itself a question ("Can leaders describe the experience in one sentence?"): a
        checklist's or an FAQ's question, never an answer."""
        return self.text.rstrip().endswith("?")

    def display(self) -> str:
        """The sentence as shown in an answer: a list item keeps its marker."""
        return f"{self.marker} {self.text}" if self.marker else self.text


def passage_spans(passage: Passage) -> list[Span]:
    """The passage's sentence spans: stored at ingest when available, else split now."""
    if passage.spans:
        return list(passage.spans)
    return sentence_spans(passage.text)


def knowledge_filter(passage: Passage):
    """Which of a passage's sentences are knowledge: those that do not address the assistant (and not an
    imperative that follows such a sentence), as the grounding checks judge it."""
    from ..grounding import instruction_like, knowledge_sentences

    if not instruction_like(passage.text.replace("\n", " ")):
        return lambda sentence: True
    kept = set(knowledge_sentences(passage.text))
    return lambda sentence: sentence in kept


def candidates(passages: Sequence[Passage], keep=knowledge_filter) -> list[Candidate]:
    """All candidate sentences of `passages`, in passage then reading order. `keep(passage)` gives each
    passage's filter (by default: sentences that read as instructions to the assistant are left out)."""
    out: list[Candidate] = []
    for pi, p in enumerate(passages):
        allowed = keep(p)
        spans = passage_spans(p)
        vectors = p.vectors if p.vectors is not None and len(p.vectors) == len(spans) else None
        paragraph = -1
        last_intro: int | None = None
        mine: list[Candidate] = []
        for j, span in enumerate(spans):
            if span.opens:
                paragraph += 1
            text = span_text(p.text, span)
            if span.item and span.opens and j > 0 and not spans[j - 1].item:
                last_intro = j - 1  # the sentence just before a list introduces it
            elif span.item and span.opens and j == 0:
                last_intro = None
            elif not span.item:
                last_intro = None
            cand = Candidate(text, pi, j, paragraph, span.opens, span.item, span.marker,
                             intro=last_intro if span.item else None,
                             vector=vectors[j] if vectors is not None else None)
            mine.append(cand)
        for k, cand in enumerate(mine):
            nxt = mine[k + 1] if k + 1 < len(mine) else None
            cand.introduces = not cand.item and nxt is not None and nxt.item and nxt.opens
        out.extend(c for c in mine if c.text and allowed(c.text))
    return out


def list_block(cands: Sequence[Candidate], anchor: Candidate) -> list[Candidate]:
    """The list an item or a list's heading sentence belongs to: its heading sentence (if any) and all its
    items, in reading order."""
    same = [c for c in cands if c.passage == anchor.passage]
    by_pos = {c.position: c for c in same}
    head = anchor.position if anchor.introduces else anchor.intro
    if head is None:  # an item with no heading sentence: the run of items around it
        start = anchor.position
        while start - 1 in by_pos and by_pos[start - 1].item:
            start -= 1
    else:
        start = head + 1
    block = [by_pos[head]] if head is not None and head in by_pos else []
    j = start
    while j in by_pos and by_pos[j].item:
        block.append(by_pos[j])
        j += 1
    return block
