"""What every language-model backend shares: the prompt, streaming, the grounding checks and the fallback.

A backend is a subclass of `LLMAnswerer` that says how to reach its model (`make_client`, returning a
`ChatClient`) and, if it can, explains its own failures (`explain_failure`). Everything else is here:

    question + passages -> prompt (prompts/) -> the model's reply, streamed -> grounding -> Answer
                                                      \\-> any failure -> the extractive answer, with a note

Whatever goes wrong (a missing extra, an unreachable endpoint, a timeout, an empty answer, an answer the
grounding checks reject) the user still gets the extractive answer: `Answer.backend` says
"extractive (fallback from openai)" and `Answer.notes` says why and how to fix it.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Iterator, Sequence
from typing import Any, Protocol

from ..answer import Answer, Answerer, ExtractiveAnswerer, History, Passage, Query, normalise_history
from ..answer import condense as rule_condense
from ..envvars import env_int, env_number
from ..errors import CopilotError
from ..grounding import Grounded, GroundingSettings, ground
from ..prompts import escape_data, load_prompt, render_history, render_passages

log = logging.getLogger("copilot.backends")

DEFAULT_TIMEOUT = 60.0
DEFAULT_MAX_TOKENS = 512  # the longest reply, in tokens (COPILOT_LLM_MAX_TOKENS)
CONNECT_TIMEOUT = 3.0
Message = dict  # {"role": "system" | "user" | "assistant", "content": str}


class ChatClient(Protocol):
    """How a backend talks to its model: plain chat messages in, text out."""

    def complete(self, messages: list[Message]) -> str: ...

    def stream(self, messages: list[Message]) -> Iterator[str]: ...


def text_of(content: Any) -> str:
    """A chat message's content as text (a string, or a list of content blocks)."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        out = []
        for block in content:
            if isinstance(block, str):
                out.append(block)
            elif isinstance(block, dict) and block.get("type", "text") == "text":
                out.append(str(block.get("text", "")))
        return "".join(out)
    return ""


_THINK = re.compile(r"<think>.*?(?:</think>|$)", re.S | re.I)


def exception_chain(exc: BaseException) -> list[BaseException]:
    chain: list[BaseException] = []
    e: BaseException | None = exc
    while e is not None and e not in chain and len(chain) < 8:
        chain.append(e)
        e = e.__cause__ or e.__context__
    return chain


class LLMAnswerer(Answerer):
    """Answers with a chat model from the numbered passages, then keeps only what the passages support.

    Subclasses set `name` and implement `make_client` (build the client; raise MissingDependencyError for a
    missing extra and BackendError for missing configuration; contact nothing). `client` may be given
    directly (any `ChatClient`, or a LangChain chat model through `chat_model`) for tests or for models
    no backend names.
    """

    name = "llm"

    def __init__(self, *, model: str | None = None, timeout: float | None = None,
                 connect_timeout: float = CONNECT_TIMEOUT, temperature: float = 0.0, max_tokens: int | None = None,
                 max_passages: int = 5, max_passage_chars: int = 1800,
                 grounding: GroundingSettings = GroundingSettings(), fallback: Answerer | None = None,
                 client: ChatClient | None = None, chat_model: Any = None):
        self.model = model or ""
        self.timeout = float(timeout) if timeout is not None else env_number("COPILOT_LLM_TIMEOUT", DEFAULT_TIMEOUT)
        self.connect_timeout = min(connect_timeout, self.timeout)
        self.temperature = temperature
        self.max_tokens = max_tokens or env_int("COPILOT_LLM_MAX_TOKENS", DEFAULT_MAX_TOKENS)
        self.max_passages = max_passages
        self.max_passage_chars = max_passage_chars
        self.grounding = grounding
        self.fallback = fallback or ExtractiveAnswerer()
        if chat_model is not None and client is None:
            from .langchain import LangChainChat

            client = LangChainChat(chat_model)
        self._client = client

    # ------------------------------------------------------------ description

    @property
    def endpoint(self) -> str:
        return ""

    def describe(self) -> str:
        return f"{self.name}: {self.model} at {self.endpoint}"

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.describe()})"

    # ------------------------------------------------------------ the model

    def make_client(self) -> ChatClient:  # pragma: no cover - interface
        raise NotImplementedError

    def client(self) -> ChatClient:
        """The chat client, built on first use (nothing is contacted here)."""
        if self._client is None:
            self._client = self.make_client()
        return self._client

    def check(self) -> None:
        """Raise a CopilotError naming the fix if the backend cannot be set up."""
        self.client()

    # ------------------------------------------------------------ prompts

    def messages(self, question: str, passages: Sequence[Passage]) -> list[Message]:
        """The chat messages for a question: the system rules, then the question with numbered passages."""
        body = load_prompt("answer", passages=render_passages(passages, self.max_passage_chars),
                           question=escape_data(" ".join(question.split())))
        return [{"role": "system", "content": load_prompt("system")}, {"role": "user", "content": body}]

    def condense(self, question: str, history: History | None) -> str:
        """A standalone question written by the model from the conversation (the condensing prompt);
        the rule-based rewrite when there is no history or the model fails."""
        turns = normalise_history(history)
        if not turns:
            return question
        try:
            prompt = load_prompt("condense", history=render_history(turns),
                                 question=escape_data(" ".join(question.split())))
            reply = self.client().complete([{"role": "user", "content": prompt}])
        except Exception as exc:  # noqa: BLE001 - any failure: the rule-based rewrite does the job
            log.warning("condensing with %s failed (%s); using the rule-based rewrite", self.name, self.explain(exc))
            return rule_condense(question, history)
        reply = _THINK.sub("", reply).strip()
        line = next((ln.strip() for ln in reply.splitlines() if ln.strip()), "")
        line = re.sub(r"^(?:standalone question|question)\s*:\s*", "", line, flags=re.I).strip().strip('"“”')
        if not line or len(line) > 3 * len(question) + 200:
            return rule_condense(question, history)
        return line

    # ------------------------------------------------------------ answering

    def answer(self, question: str, passages: Sequence[Passage], query: Query | None = None) -> Answer:
        t0 = time.perf_counter()
        used = list(passages[: self.max_passages])
        if not used:
            return Answer(question, "", True, backend=self.name)
        try:
            text = self.client().complete(self.messages(question, used))
        except Exception as exc:  # noqa: BLE001 - every failure falls back to the extractive answer
            return self._fall_back(question, passages, query, self.explain(exc))
        return self._finish(question, passages, used, query, text, t0)

    def stream(self, question: str, passages: Sequence[Passage], query: Query | None = None) -> Iterator[str | Answer]:
        """The model's tokens as they arrive, then the final grounded Answer (authoritative: grounding may
        drop sentences that were streamed, or fall back to the extractive answer)."""
        t0 = time.perf_counter()
        used = list(passages[: self.max_passages])
        if not used:
            yield Answer(question, "", True, backend=self.name)
            return
        pieces: list[str] = []
        try:
            for piece in self.client().stream(self.messages(question, used)):
                if piece:
                    pieces.append(piece)
                    yield piece
        except Exception as exc:  # noqa: BLE001 - every failure falls back to the extractive answer
            yield self._fall_back(question, passages, query, self.explain(exc))
            return
        yield self._finish(question, passages, used, query, "".join(pieces), t0)

    def _finish(self, question, passages, used, query, text: str, t0: float) -> Answer:
        text = _THINK.sub("", text or "").strip()
        g: Grounded = ground(text, used, self.grounding)
        if g.fallback:
            return self._fall_back(question, passages, query, f"The {self.name} answer was not used: {g.reason}.",
                                   g.dropped, g.notes())
        return Answer(question, g.text, False, g.citations, backend=self.name, dropped=g.dropped, notes=g.notes(),
                      timings={"llm_ms": round((time.perf_counter() - t0) * 1000, 1)})

    def _fall_back(self, question, passages, query, message: str, dropped: Sequence[str] = (),
                   more_notes: Sequence[str] = ()) -> Answer:
        log.warning("%s Answering with the %s answerer instead.", message, self.fallback.name)
        result = self.fallback.answer(question, passages, query=query)
        result.backend = f"{self.fallback.name} (fallback from {self.name})"
        result.notes = [message, *more_notes, *result.notes]
        result.dropped = list(dropped)
        return result

    # ------------------------------------------------------------ failures, for a person

    def explain_failure(self, exc: BaseException, names: set[str], status: int | None) -> str | None:
        """A backend's own explanation of a failure (None: the generic one). `names`: the class names in the
        exception's chain; `status`: an HTTP status found in it."""
        return None

    def explain(self, exc: BaseException) -> str:
        """A message for a person: what failed and how to fix it."""
        if isinstance(exc, CopilotError):
            return str(exc)
        chain = exception_chain(exc)
        names = {cls.__name__ for err in chain for cls in type(err).__mro__}
        status = next((s for err in chain for s in [getattr(err, "status_code", None)] if isinstance(s, int)), None)
        own = self.explain_failure(exc, names, status)
        if own:
            return own
        if any("Timeout" in n for n in names):
            return (f"{self.endpoint} did not answer within {self.timeout:g} s: check that the server is running "
                    "and the model is loaded, or raise COPILOT_LLM_TIMEOUT.")
        detail = " ".join(str(exc).split())[:300]
        return f"The {self.name} backend at {self.endpoint} failed ({type(exc).__name__}: {detail})."
