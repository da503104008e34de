"""LLM answer backends: fluent answers from a chat model, still grounded in the cited passages.

The one adapter between the copilot and LangChain's chat-model integrations; nothing else in the package
imports them, and this module imports them only when a backend is first used.

Backends (`make_answerer(name)`; `COPILOT_BACKEND` picks the default, `configured_backends()` lists them):

- `extractive`: the default: no model; composes the passages' own sentences.
- `openai`: any OpenAI-compatible chat endpoint (OpenAI, vLLM, llama.cpp's server, LM Studio, ...) through
  `langchain_openai.ChatOpenAI`. COPILOT_OPENAI_BASE_URL, COPILOT_OPENAI_MODEL, and the key from
  COPILOT_OPENAI_API_KEY or OPENAI_API_KEY (a local server needs none). Extra: `cx-copilot[openai]`.
- `ollama`: an Ollama server through `langchain_ollama.ChatOllama`. COPILOT_OLLAMA_URL, COPILOT_OLLAMA_MODEL.
  Extra: `cx-copilot[ollama]`.
- `llamacpp`: a local GGUF file through llama-cpp-python. COPILOT_LLAMACPP_MODEL (the .gguf path),
  COPILOT_LLAMACPP_CTX. Extra: `cx-copilot[llamacpp]`.

COPILOT_LLM_TIMEOUT (seconds to wait for the model, default 60; connecting gives up after 3 s).

Whatever goes wrong (a missing extra, an unreachable endpoint, a timeout, an empty answer, an answer that
the grounding checks reject) the user still gets the extractive answer: `Answer.backend` says
"extractive (fallback from openai)" and `Answer.notes` says why and how to fix it.
"""

from __future__ import annotations

import logging
import os
import re
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from .answer import Answer, Answerer, ExtractiveAnswerer, History, Passage, Query, normalise_history
from .answer import condense as rule_condense
from .errors import BackendError, CopilotError, MissingDependencyError
from .grounding import Grounded, GroundingSettings, ground
from .prompts import escape_data, load_prompt, render_history, render_passages

log = logging.getLogger(__name__)

BACKENDS = ("extractive", "openai", "ollama", "llamacpp")
LLM_BACKENDS = ("openai", "ollama", "llamacpp")
_ALIASES = {"llama.cpp": "llamacpp", "llama-cpp": "llamacpp", "llama_cpp": "llamacpp", "none": "extractive",
            "openai-compatible": "openai"}

DEFAULT_OPENAI_MODEL = "gpt-4o-mini"
DEFAULT_OPENAI_URL = "https://api.openai.com/v1"
DEFAULT_OLLAMA_MODEL = "llama3.2"
DEFAULT_OLLAMA_URL = "http://127.0.0.1:11434"
DEFAULT_TIMEOUT = 60.0
CONNECT_TIMEOUT = 3.0


def _env(*names: str) -> str | None:
    for name in names:
        value = os.environ.get(name, "").strip()
        if value:
            return value
    return None


def normalise_backend(name: str | None) -> str:
    key = (name or "").strip().lower()
    key = _ALIASES.get(key, key)
    if key not in BACKENDS:
        raise CopilotError(f"Unknown answer backend {name!r}: choose one of {', '.join(BACKENDS)} "
                           "(with --backend or COPILOT_BACKEND).")
    return key


def default_backend() -> str:
    """The backend COPILOT_BACKEND names (default: extractive)."""
    return normalise_backend(_env("COPILOT_BACKEND") or "extractive")


def configured_backends() -> list[str]:
    """The backends the environment sets up, in a fixed order, `extractive` always first.

    `openai` counts as configured when COPILOT_OPENAI_BASE_URL, COPILOT_OPENAI_MODEL or COPILOT_OPENAI_API_KEY
    is set (a bare OPENAI_API_KEY is used as the key but does not by itself offer a hosted backend),
    `ollama` when COPILOT_OLLAMA_URL or COPILOT_OLLAMA_MODEL is, `llamacpp` when COPILOT_LLAMACPP_MODEL is;
    and whichever COPILOT_BACKEND names.
    """
    found = {"extractive"}
    if _env("COPILOT_OPENAI_BASE_URL", "COPILOT_OPENAI_MODEL", "COPILOT_OPENAI_API_KEY"):
        found.add("openai")
    if _env("COPILOT_OLLAMA_URL", "COPILOT_OLLAMA_MODEL"):
        found.add("ollama")
    if _env("COPILOT_LLAMACPP_MODEL"):
        found.add("llamacpp")
    found.add(default_backend())
    return [b for b in BACKENDS if b in found]


def make_answerer(name: str | None = None, **options: Any) -> Answerer:
    """An answerer by backend name (extractive, openai, ollama, llamacpp; default: COPILOT_BACKEND).
    Options go to `LLMAnswerer` (model, base_url, api_key, model_path, timeout, ...) or to
    `ExtractiveAnswerer` (settings). Nothing is contacted or loaded until the first question."""
    backend = normalise_backend(name) if name else default_backend()
    if backend == "extractive":
        return ExtractiveAnswerer(**options)
    return LLMAnswerer(backend, **options)


def default_answerer() -> Answerer:
    return make_answerer(default_backend())


def _text_of(content: Any) -> str:
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


class LLMAnswerer(Answerer):
    """Answers with a chat model from the numbered passages, then keeps only what the passages support.

    `chat_model` may be any LangChain chat model (for tests or for backends not listed here); otherwise it
    is built on first use from the backend name, the options and the environment.
    """

    def __init__(self, backend: str = "openai", *, model: str | None = None, base_url: str | None = None,
                 api_key: str | None = None, model_path: str | os.PathLike | None = None,
                 timeout: float | None = None, connect_timeout: float = CONNECT_TIMEOUT,
                 temperature: float = 0.0, max_tokens: int = 512, max_passages: int = 5,
                 max_passage_chars: int = 1800, n_ctx: int | None = None,
                 grounding: GroundingSettings = GroundingSettings(), fallback: Answerer | None = None,
                 chat_model: Any = None):
        self.backend = normalise_backend(backend)
        if self.backend == "extractive":
            raise CopilotError("LLMAnswerer needs an LLM backend (openai, ollama or llamacpp); "
                               "use ExtractiveAnswerer for the extractive one.")
        self.name = self.backend
        if self.backend == "openai":
            self.model = model or _env("COPILOT_OPENAI_MODEL") or DEFAULT_OPENAI_MODEL
            self.base_url = (base_url or _env("COPILOT_OPENAI_BASE_URL") or "").rstrip("/") or None
            self.api_key = api_key or _env("COPILOT_OPENAI_API_KEY", "OPENAI_API_KEY")
        elif self.backend == "ollama":
            self.model = model or _env("COPILOT_OLLAMA_MODEL") or DEFAULT_OLLAMA_MODEL
            self.base_url = (base_url or _env("COPILOT_OLLAMA_URL") or DEFAULT_OLLAMA_URL).rstrip("/")
            self.api_key = None
        else:
            path = model_path or model or _env("COPILOT_LLAMACPP_MODEL")
            self.model_path = Path(path).expanduser() if path else None
            self.model = self.model_path.name if self.model_path else ""
            self.base_url = None
            self.api_key = None
        if timeout is None:
            try:
                timeout = float(_env("COPILOT_LLM_TIMEOUT") or DEFAULT_TIMEOUT)
            except ValueError:
                timeout = DEFAULT_TIMEOUT
        self.timeout = timeout
        self.connect_timeout = min(connect_timeout, timeout)
        self.temperature = temperature
        self.max_tokens = max_tokens
        self.max_passages = max_passages
        self.max_passage_chars = max_passage_chars
        self.n_ctx = n_ctx or int(_env("COPILOT_LLAMACPP_CTX") or 4096)
        self.grounding = grounding
        self.fallback = fallback or ExtractiveAnswerer()
        self._chat_model = chat_model

    # ------------------------------------------------------------ description

    @property
    def endpoint(self) -> str:
        if self.backend == "openai":
            return self.base_url or DEFAULT_OPENAI_URL
        if self.backend == "ollama":
            return self.base_url
        return str(self.model_path or "(no model file)")

    def describe(self) -> str:
        return f"{self.backend}: {self.model} at {self.endpoint}"

    def __repr__(self) -> str:
        return f"LLMAnswerer({self.describe()})"

    # ------------------------------------------------------------ the chat model

    def chat_model(self) -> Any:
        """The LangChain chat model, built on first use. Raises MissingDependencyError for a missing extra
        and BackendError for missing configuration; nothing is contacted here."""
        if self._chat_model is None:
            build = {"openai": self._openai, "ollama": self._ollama, "llamacpp": self._llamacpp}[self.backend]
            self._chat_model = build()
        return self._chat_model

    def check(self) -> None:
        """Raise a CopilotError naming the fix if the backend cannot be set up (without contacting it)."""
        self.chat_model()

    def _timeout(self):
        import httpx

        return httpx.Timeout(self.timeout, connect=self.connect_timeout)

    def _openai(self):
        try:
            from langchain_openai import ChatOpenAI
        except ImportError as exc:
            raise MissingDependencyError("langchain-openai (needed by the openai backend)", "openai") from exc
        key = self.api_key
        if not key:
            if not self.base_url:
                raise BackendError("The openai backend has no API key: set OPENAI_API_KEY (or "
                                   "COPILOT_OPENAI_API_KEY), or set COPILOT_OPENAI_BASE_URL to a local "
                                   "OpenAI-compatible server.")
            key = "not-needed"  # local servers (vLLM, llama.cpp, LM Studio) accept any key
        return ChatOpenAI(model=self.model, base_url=self.base_url, api_key=key, timeout=self._timeout(),
                          max_retries=0, temperature=self.temperature, max_tokens=self.max_tokens,
                          use_responses_api=False)

    def _ollama(self):
        try:
            from langchain_ollama import ChatOllama
        except ImportError as exc:
            raise MissingDependencyError("langchain-ollama (needed by the ollama backend)", "ollama") from exc
        return ChatOllama(model=self.model, base_url=self.base_url, temperature=self.temperature,
                          num_predict=self.max_tokens, client_kwargs={"timeout": self._timeout()})

    def _llamacpp(self):
        try:
            import llama_cpp
        except ImportError as exc:
            raise MissingDependencyError("llama-cpp-python (needed by the llamacpp backend)", "llamacpp") from exc
        if self.model_path is None:
            raise BackendError("The llamacpp backend needs a model file: set COPILOT_LLAMACPP_MODEL to the path "
                               "of a .gguf file.")
        if not self.model_path.is_file():
            raise BackendError(f"No model file at {self.model_path}: set COPILOT_LLAMACPP_MODEL to the path of "
                               "a .gguf file.")
        try:
            llm = llama_cpp.Llama(model_path=str(self.model_path), n_ctx=self.n_ctx, verbose=False)
        except Exception as exc:  # noqa: BLE001 - llama.cpp reports a bad file as ValueError or RuntimeError
            raise BackendError(f"llama.cpp could not load {self.model_path} ({exc}): check that it is a GGUF "
                               "model file, or set COPILOT_LLAMACPP_MODEL to another one.") from exc
        return _llamacpp_chat_class()(client=llm, temperature=self.temperature, max_tokens=self.max_tokens)

    # ------------------------------------------------------------ prompts

    def messages(self, question: str, passages: Sequence[Passage]) -> list:
        """The chat messages for a question: the system rules, then the question with numbered passages."""
        from langchain_core.messages import HumanMessage, SystemMessage

        body = load_prompt("answer", passages=render_passages(passages, self.max_passage_chars),
                           question=escape_data(" ".join(question.split())))
        return [SystemMessage(content=load_prompt("system")), HumanMessage(content=body)]

    def condense(self, question: str, history: History | None) -> str:
        """A standalone question written by the model from the conversation (the condensing prompt);
        the rule-based `answering.condense` when there is no history or the model fails."""
        turns = normalise_history(history)
        if not turns:
            return question
        try:
            from langchain_core.messages import HumanMessage

            prompt = load_prompt("condense", history=render_history(turns),
                                 question=escape_data(" ".join(question.split())))
            reply = _text_of(self.chat_model().invoke([HumanMessage(content=prompt)]).content)
        except Exception as exc:  # noqa: BLE001 - any failure: the rule-based rewrite does the job
            log.warning("condensing with %s failed (%s); using the rule-based rewrite", self.backend,
                        self._explain(exc))
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
        hints = {"query": query}  # for the fallback answerer
        used = list(passages[: self.max_passages])
        if not used:
            return Answer(question, "", True, backend=self.name)
        try:
            reply = self.chat_model().invoke(self.messages(question, used))
            text = _text_of(reply.content)
        except Exception as exc:  # noqa: BLE001 - every failure falls back to the extractive answer
            return self._fall_back(question, passages, hints, self._explain(exc))
        return self._finish(question, passages, used, hints, text, t0)

    def stream(self, question: str, passages: Sequence[Passage], query: Query | None = None) -> Iterator[str | Answer]:
        """The model's tokens as they arrive, then the final grounded Answer (authoritative: grounding may
        drop sentences that were streamed, or fall back to the extractive answer)."""
        t0 = time.perf_counter()
        hints = {"query": query}
        used = list(passages[: self.max_passages])
        if not used:
            yield Answer(question, "", True, backend=self.name)
            return
        pieces: list[str] = []
        try:
            for chunk in self.chat_model().stream(self.messages(question, used)):
                piece = _text_of(getattr(chunk, "content", chunk))
                if piece:
                    pieces.append(piece)
                    yield piece
        except Exception as exc:  # noqa: BLE001 - every failure falls back to the extractive answer
            yield self._fall_back(question, passages, hints, self._explain(exc))
            return
        yield self._finish(question, passages, used, hints, "".join(pieces), t0)

    def _finish(self, question, passages, used, hints: dict, text: str, t0: float) -> Answer:
        text = _THINK.sub("", text or "").strip()
        g: Grounded = ground(text, used, self.grounding)
        if g.fallback:
            return self._fall_back(question, passages, hints,
                                   f"The {self.backend} answer was not used: {g.reason}.", g.dropped,
                                   g.notes())
        return Answer(question, g.text, False, g.citations, backend=self.name, dropped=g.dropped, notes=g.notes(),
                      timings={"llm_ms": round((time.perf_counter() - t0) * 1000, 1)})

    def _fall_back(self, question, passages, hints: dict, message: str, dropped: Sequence[str] = (),
                   more_notes: Sequence[str] = ()) -> Answer:
        log.warning("%s Answering with the %s answerer instead.", message, self.fallback.name)
        result = self.fallback.answer(question, passages, **hints)
        result.backend = f"{self.fallback.name} (fallback from {self.backend})"
        result.notes = [message, *more_notes, *result.notes]
        result.dropped = list(dropped)
        return result

    def _explain(self, exc: BaseException) -> str:
        """A message for a person: what failed and how to fix it."""
        if isinstance(exc, CopilotError):
            return str(exc)
        chain: list[BaseException] = []
        e: BaseException | None = exc
        while e is not None and e not in chain and len(chain) < 8:
            chain.append(e)
            e = e.__cause__ or e.__context__
        names = {cls.__name__ for err in chain for cls in type(err).__mro__}
        status = next((s for err in chain for s in [getattr(err, "status_code", None)] if isinstance(s, int)), None)
        url_var = {"openai": "COPILOT_OPENAI_BASE_URL", "ollama": "COPILOT_OLLAMA_URL"}.get(self.backend, "")
        where = self.endpoint
        if any("Timeout" in n for n in names):
            return (f"{where} did not answer within {self.timeout:g} s: check that the server is running and "
                    "the model is loaded, or raise COPILOT_LLM_TIMEOUT.")
        if names & {"APIConnectionError", "ConnectError", "ConnectionError", "ConnectionRefusedError",
                    "RemoteProtocolError", "NetworkError"}:
            return f"Could not reach {where}: start the server or set {url_var}."
        if status in (401, 403) or "AuthenticationError" in names or "PermissionDeniedError" in names:
            return f"{where} rejected the API key: set OPENAI_API_KEY or COPILOT_OPENAI_API_KEY."
        if status == 404 or "NotFoundError" in names:
            if self.backend == "ollama":
                return (f"Model {self.model!r} not found at {where}: run `ollama pull {self.model}` or set "
                        "COPILOT_OLLAMA_MODEL.")
            return (f"Model {self.model!r} not found at {where}: set COPILOT_OPENAI_MODEL to a model the "
                    f"server serves (or check COPILOT_OPENAI_BASE_URL, which usually ends in /v1).")
        detail = " ".join(str(exc).split())[:300]
        return f"The {self.backend} backend at {where} failed ({type(exc).__name__}: {detail})."


# ---------------------------------------------------------------- llama.cpp as a LangChain chat model

_LLAMACPP_CHAT = None


def _llamacpp_chat_class():
    """A minimal LangChain chat model over a `llama_cpp.Llama` (built once, when first needed)."""
    global _LLAMACPP_CHAT
    if _LLAMACPP_CHAT is not None:
        return _LLAMACPP_CHAT
    from langchain_core.language_models.chat_models import BaseChatModel
    from langchain_core.messages import AIMessage, AIMessageChunk
    from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult

    roles = {"system": "system", "human": "user", "ai": "assistant"}

    class LlamaCppChat(BaseChatModel):
        client: Any
        temperature: float = 0.0
        max_tokens: int = 512

        @property
        def _llm_type(self) -> str:
            return "llamacpp"

        def _dicts(self, messages) -> list[dict]:
            return [{"role": roles.get(m.type, "user"), "content": _text_of(m.content)} for m in messages]

        def _generate(self, messages, stop=None, run_manager=None, **kwargs):
            out = self.client.create_chat_completion(messages=self._dicts(messages), temperature=self.temperature,
                                                     max_tokens=self.max_tokens, stop=stop or [])
            text = out["choices"][0]["message"].get("content") or ""
            return ChatResult(generations=[ChatGeneration(message=AIMessage(content=text))])

        def _stream(self, messages, stop=None, run_manager=None, **kwargs):
            for part in self.client.create_chat_completion(messages=self._dicts(messages), stream=True,
                                                           temperature=self.temperature,
                                                           max_tokens=self.max_tokens, stop=stop or []):
                piece = part["choices"][0].get("delta", {}).get("content") or ""
                if piece:
                    chunk = ChatGenerationChunk(message=AIMessageChunk(content=piece))
                    if run_manager:
                        run_manager.on_llm_new_token(piece, chunk=chunk)
                    yield chunk

    _LLAMACPP_CHAT = LlamaCppChat
    return LlamaCppChat
