"""Answering: the data answerers exchange, and the extractive pipeline.

- `types`: Passage, Citation, Answer, Query and the one-method `Answerer` interface.
- `candidates` -> `features` -> `scorer` -> `select` -> `compose`: the extractive pipeline's stages
  (`pipeline.rank` runs the first three, `extractive.ExtractiveAnswerer` all five).
- `abstain`: whether the index answers a question at all; `followups`: standalone follow-up questions.
- `settings.AnswerSettings`: the one settings object, with the fitted values from `weights.json`.
"""

from .compose import compose, with_marker
from .extractive import ExtractiveAnswerer
from .followups import Topics, condense, is_follow_up
from .settings import AnswerSettings
from .types import Answer, Answerer, Citation, History, Passage, Query, normalise_history


def decline_text(question: str, topics) -> str:
    """The reply to a question the knowledge base does not cover, suggesting topics it does cover."""
    text = "I can't answer that from the knowledge base: none of its documents covers this question."
    topics = list(topics)
    if topics:
        listed = ", ".join(topics[:-1]) + (" or " if len(topics) > 1 else "") + topics[-1]
        text += f" Try asking about {listed}."
    return text


__all__ = ["Answer", "AnswerSettings", "Answerer", "Citation", "ExtractiveAnswerer", "History", "Passage", "Query",
           "Topics", "compose", "condense", "decline_text", "is_follow_up", "normalise_history", "with_marker"]
