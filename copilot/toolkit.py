"""The practitioner's toolkit in the chat: answers computed from the user's own numbers (copilot/calculate.py)
and sources compared side by side (copilot/compare.py). `Copilot.stream` asks `toolkit_answer` first; when it
returns None the question goes to the answer pipeline as usual."""

from __future__ import annotations

from . import calculate, compare
from .answer import Answer, History


def toolkit_answer(retriever_of, question: str, history: History | None = None) -> Answer | None:
    """A calculated or side-by-side answer to the question, or None when neither applies. `retriever_of` is
    called for the retriever only when one does (recognising the question needs no index)."""
    if calculate.might_apply(question):
        result = calculate.respond(retriever_of(), question, history)
        if result is not None:
            return result
    if compare.ask(question) is not None:
        return compare.respond(retriever_of(), question)
    return None
