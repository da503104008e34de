"""Stage 5 of the extractive pipeline: the chosen sentences as text with citation markers.

Markers `[n]` are numbered by the first appearance of each passage. A list item is written on a line of its
own with its marker ("- Promoters answer 9 or 10 [1]."); the sentence that introduces a list ends with a
colon and carries no marker of its own: its items do.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from .types import Citation, Passage


def with_marker(sentence: str, n: int) -> str:
    """'NPS ranges from -100 to +100.' -> 'NPS ranges from -100 to +100 [1].' A list's introduction
    ('... as follows:') carries no marker of its own: its items do."""
    s = sentence.rstrip()
    if s.endswith(":"):
        return s
    m = re.search(r"(?<![.!?])([.!]+)$", s)
    if m:
        return f"{s[:m.start()]} [{n}]{m.group(1)}"
    return f"{s} [{n}]"


def compose(picked: Sequence[tuple], passages: Sequence[Passage]) -> tuple[str, list[Citation]]:
    """Join (sentence, passage index[, item marker, in a list item]) tuples into text with [n] markers numbered
    by first appearance. A sentence with a marker starts a list item on a new line; a further sentence of the
    same item follows it on that line; prose after a list starts a new paragraph."""
    numbers: dict[int, int] = {}
    citations: list[Citation] = []
    text = ""
    in_list = False
    for sentence, idx, *rest in picked:
        marker = rest[0] if rest else ""
        item = rest[1] if len(rest) > 1 else bool(marker)
        if idx not in numbers:
            p = passages[idx]
            numbers[idx] = len(numbers) + 1
            citations.append(Citation(numbers[idx], p.source, p.title, p.page, p.section, p.text, p.score, [], p.id))
        citations[numbers[idx] - 1].sentences.append(sentence)
        piece = with_marker(sentence, numbers[idx])
        if marker:
            text += ("\n" if text else "") + f"{marker} {piece}"
        elif item and in_list:
            text += " " + piece
        else:
            text += ("\n\n" if in_list else " " if text else "") + piece
        in_list = bool(marker) or (item and in_list)
    return text, citations
