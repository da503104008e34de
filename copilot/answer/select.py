"""Stage 4 of the extractive pipeline: which scored sentences make the answer, and in what order.

The best sentence opens the answer (a follow-up never opens with a sentence the conversation has already
shown, or one that says the same in other words (`extractive.restated`), while something new is available).
A sentence that is itself a question (a checklist's "Can leaders describe ...?", an FAQ's question line) never
opens or follows as prose while a statement is available: it asks, it does not answer.
What follows depends on where that sentence stands:
- a list the question asks for comes whole: the best sentence introduces a list, or it is an item of a list
  whose heading matches the question better than the item does;
- in a section whose heading names the question (section match at least `section_threshold`), the section
  was written to answer it: its other sentences follow in reading order, up to `section_words`; a list in it
  comes whole (up to `list_words` of its own: "six steps" with five of them answers wrongly) or not at all;
- elsewhere (a paragraph in running text) the next sentence of its paragraph follows when it scores at
  least `next_ratio` of the best (it is where the text goes on from its point), then sentences that score
  close to the best one (`context_ratio`, `context_min`), up to `max_words`.
When retrieval ranked another passage ahead of the opening sentence's and that passage's best sentence
scores nearly as well (at least `second_ratio` of the opening one's score), the two stages disagree about
where the answer is: that sentence follows too, so the reader sees both, each cited (a glossary entry and the
article's section often score within a few points of each other, and either may be the one that answers).
When the opening sentence's section answers the question and that other passage's heading names the question
as well, its section was written to answer it too: it goes on from that sentence in reading order, up to a
list or the end of the budget.
It must add something: not a sentence that restates a chosen one (`restated`). Last, when part of the
question is still uncovered (the other side of "X vs Y"), the sentence that covers most of it is added if
that part weighs at least `gain_min`; a list item may be that sentence (with its marker), since the other
side of a comparison is often the next item of the same list. The thresholds and budgets are fitted
(`benchmarks/fit_answer.py`); after the opening sentence the others go in reading order, its own passage
first.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ..text import jaccard
from .candidates import Candidate, list_block


@dataclass(frozen=True)
class Selection:
    opening: int  # index of the candidate that opens the answer
    chosen: list[int]  # indices in answer order (the opening first)


def prose(c: Candidate) -> bool:
    """Can the sentence follow the opening one on its own? Not a list item or a list's heading (those come
    with their list), not a question (it asks, it does not answer), not a fragment of under three words."""
    return not (c.item or c.introduces or c.asks or c.words < 3)


def opening(scores: np.ndarray, said: Sequence[bool]) -> int:
    """The best candidate, preferring one the conversation has not shown yet."""
    order = np.argsort(-scores, kind="stable")
    for i in order:
        if not said[i]:
            return int(i)
    return int(order[0])


def select(cands: Sequence[Candidate], scores: np.ndarray, terms: Sequence[set[str]], heading_cover: Sequence[float],
           item_cover: Sequence[float], said: Sequence[bool], settings, section_cover: Sequence[float] = (),
           weights: dict[str, float] | None = None, led: Sequence[bool] | None = None) -> Selection:
    """Choose the answer's sentences. `scores` are probabilities from the scorer; `heading_cover[i]` and
    `item_cover[i]` are how much of the question candidate i's passage heading and the candidate itself cover;
    `section_cover[p]` how much passage p's section heading alone covers."""
    if not len(cands):
        return Selection(-1, [])
    shown = said if led is None else led
    first = opening(scores, [s or c.asks for s, c in zip(shown, cands)])
    top = cands[first]
    head = [first]
    index = {id(c): i for i, c in enumerate(cands)}  # list_block returns candidates; their indices
    if top.introduces or (top.item and heading_cover[first] > item_cover[first]):
        block = sorted({first} | {index[id(c)] for c in list_block(cands, top)}, key=lambda i: cands[i].position)
        if sum(cands[i].words for i in block) <= settings.list_words:
            head = block
    words = sum(cands[i].words for i in head)
    in_section = bool(section_cover) and section_cover[top.passage] >= settings.section_threshold
    # the other passage's answer first, so that a long section leaves room for it
    rival = second_opinion(cands, scores, first, head, terms, said, settings, words)
    extras: list[int] = [] if rival is None else [rival]
    words += cands[rival].words if rival is not None else 0
    if in_section:  # the rest of the section, in reading order
        budget = max(settings.section_words, words)
        taken = set(head)
        for i in sorted((i for i, c in enumerate(cands) if c.passage == top.passage), key=lambda i: cands[i].position):
            if i in taken or said[i]:
                continue
            c = cands[i]
            if c.item or c.introduces:  # a list comes whole or not at all
                block = [j for j in (index[id(b)] for b in list_block(cands, c)) if j not in taken and not said[j]]
                size = sum(cands[j].words for j in block)
                taken.update(block)
                if size <= settings.list_words and words <= budget:
                    extras.extend(block)
                    words += size
                continue
            if words + c.words > budget:
                continue
            extras.append(i)
            taken.add(i)
            words += c.words
        # the other passage is a section written for the question too: it goes on from its sentence
        if rival is not None and section_cover[cands[rival].passage] >= settings.section_threshold:
            r = cands[rival]
            for i in sorted((i for i, c in enumerate(cands) if c.passage == r.passage and c.position > r.position),
                            key=lambda i: cands[i].position):
                c = cands[i]
                if i in taken or said[i] or not prose(c) or words + c.words > budget:
                    break
                extras.append(i)
                taken.add(i)
                words += c.words
    else:  # sentences that score close to the best, while the budget lasts
        floor = max(settings.context_min, settings.context_ratio * float(scores[first]))
        close = 0
        for anchor in [first, *extras]:  # the opening sentence and the other passage's go on in their own words
            after = continuation(cands, scores, anchor, head + extras, terms, said, settings, words)
            if after is not None:
                extras.append(after)
                close += 1
                words += cands[after].words
        for i in np.argsort(-scores, kind="stable"):
            i = int(i)
            if close + 1 >= settings.max_sentences:
                break
            c = cands[i]
            if i in head or i in extras or scores[i] < floor or said[i] or not prose(c):
                continue
            if words + c.words > settings.max_words:
                continue
            if any(jaccard(terms[i], terms[j]) > settings.redundancy for j in head + extras):
                continue
            extras.append(i)
            close += 1
            words += c.words
    # a part of the question nothing chosen covers yet ("X vs Y": the side the opening sentence leaves out)
    gain = missing_part(cands, head + extras, terms, weights, said, settings, words)
    if gain is not None:
        extras.append(gain)
    rest = sorted(extras, key=lambda i: (cands[i].passage != top.passage, cands[i].passage, cands[i].position))
    return Selection(first, head + rest)


def second_opinion(cands: Sequence[Candidate], scores: np.ndarray, first: int, chosen: list[int],
                   terms: Sequence[set[str]], said: Sequence[bool], settings, words: int) -> int | None:
    """The best sentence of a passage other than the opening sentence's (with `settings.second_ahead`, of one
    retrieved ahead of it), when it scores at least `settings.second_ratio` times the opening sentence's score
    (and `context_min`), says something new (not shown, neither sharing most of its terms with a chosen
    sentence nor restating one: cosine below `settings.restated`) and fits the budget (`max_words`, or what a
    list answer has already used, plus half the sentence). It is chosen before a section or close sentences
    fill the rest, and does not count against `max_sentences`. A ratio above 1 turns this off."""
    if settings.second_ratio > 1:
        return None
    floor = max(settings.context_min, settings.second_ratio * float(scores[first]))
    budget = max(settings.max_words, words)
    home = cands[first].passage
    for i in np.argsort(-scores, kind="stable"):
        i = int(i)
        if scores[i] < floor:
            return None
        c = cands[i]
        if c.passage == home or i in chosen or (settings.second_ahead and c.passage > home):
            continue
        if said[i] or not prose(c) or words + c.words > budget + c.words // 2:
            continue
        if any(jaccard(terms[i], terms[j]) > settings.redundancy or restates(c, cands[j], settings.restated)
               for j in chosen):
            continue
        return i
    return None


def continuation(cands: Sequence[Candidate], scores: np.ndarray, anchor: int, chosen: list[int],
                 terms: Sequence[set[str]], said: Sequence[bool], settings, words: int) -> int | None:
    """The sentence right after `anchor` (the opening sentence, or the other passage's) in its paragraph,
    when it scores at least `settings.next_ratio` times the anchor's score (and `context_min`), is new (not
    shown, not mostly the same terms as a chosen sentence) and fits `max_words`. Text goes on from its point: the next
    sentence is where a writer puts the qualification, the exception or the second half of an answer ("...
    within 8 weeks. Complaints about payment services ... within 35 business days."), so it needs less of
    the scorer's confidence than a sentence from anywhere else. It counts as one of the close sentences. A
    ratio above 1 turns this off."""
    if settings.next_ratio > 1:
        return None
    top = cands[anchor]
    floor = max(settings.context_min, settings.next_ratio * float(scores[anchor]))
    for i, c in enumerate(cands):
        if c.passage != top.passage or c.position != top.position + 1:
            continue
        if c.opens or i in chosen or said[i] or not prose(c) or scores[i] < floor:
            return None
        if words + c.words > settings.max_words:
            return None
        if any(jaccard(terms[i], terms[j]) > settings.redundancy for j in chosen):
            return None
        return i
    return None


def restates(a: Candidate, b: Candidate, threshold: float) -> bool:
    """Does `a` say what `b` says in other words (sentence-vector cosine at least `threshold`)?"""
    return a.vector is not None and b.vector is not None and float(a.vector @ b.vector) >= threshold


def missing_part(cands: Sequence[Candidate], chosen: list[int], terms: Sequence[set[str]], weights: dict[str, float],
                 said: Sequence[bool], settings, words: int) -> int | None:
    """The sentence that covers the most of the question's weight that the chosen sentences leave uncovered,
    when that is at least `settings.gain_min` and it fits the budget (`max_words`, or what a section answer
    has already used). Unlike the close sentences it may be a list item: covering the part of the question
    nothing else covers is its reason to be there, not closeness to the opening sentence. Never a list's
    heading sentence without its list, a question or a fragment."""
    if not weights:
        return None
    covered = set().union(*(terms[i] for i in chosen))
    best, best_gain = None, settings.gain_min
    budget = max(settings.max_words, words)
    for i, c in enumerate(cands):
        if i in chosen or said[i] or c.introduces or c.asks or c.words < 3 \
                or words + c.words > budget + c.words // 2:
            continue
        gain = sum(w for t, w in weights.items() if t in terms[i] and t not in covered)
        if gain >= best_gain:
            best, best_gain = i, gain
    return best
