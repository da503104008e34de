"""Any LangChain chat model as a `ChatClient` (the openai and ollama backends, or one a caller brings).

The only module of the package that imports LangChain, and only when a backend that needs it is first used.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from .base import Message, text_of


def to_langchain(messages: list[Message]) -> list:
    from langchain_core.messages import AIMessage, HumanMessage, SystemMessage

    kinds = {"system": SystemMessage, "assistant": AIMessage}
    return [kinds.get(m["role"], HumanMessage)(content=m["content"]) for m in messages]


class LangChainChat:
    """Wraps a LangChain chat model (`BaseChatModel`: invoke and stream)."""

    def __init__(self, model: Any):
        self.model = model

    def complete(self, messages: list[Message]) -> str:
        return text_of(self.model.invoke(to_langchain(messages)).content)

    def stream(self, messages: list[Message]) -> Iterator[str]:
        for chunk in self.model.stream(to_langchain(messages)):
            piece = text_of(getattr(chunk, "content", chunk))
            if piece:
                yield piece
