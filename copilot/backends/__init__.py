"""Answer backends by name, through one registry: a new backend is one module plus one line in `REGISTRY`.

- `extractive`: the default: no model; composes the passages' own sentences.
- `openai`: any OpenAI-compatible chat endpoint (`backends/openai.py`). Extra: `cx-copilot[openai]`.
- `ollama`: an Ollama server (`backends/ollama.py`). Extra: `cx-copilot[ollama]`.
- `local`: a GGUF model in this process through xllamacpp (`backends/local.py`). Extra: `cx-copilot[local]`.
  `llamacpp`, the name of the former llama-cpp-python backend, is another name for it.

`make_answerer(name)` builds one (`COPILOT_BACKEND` picks the default); nothing is loaded or contacted until
the first question. `configured_backends()` lists those the environment sets up. Backend modules are imported
only when their backend is made, and LangChain only by the backends that use it.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any

from ..answer import Answerer
from ..errors import CopilotError
from ..envvars import env
from .tally import Tally


@dataclass(frozen=True)
class Backend:
    name: str
    target: str  # "module:class", imported when the backend is first made
    settings: tuple[str, ...] = ()  # environment variables whose presence means the backend is set up
    extra: str = ""  # the pip extra it needs
    summary: str = ""


REGISTRY: dict[str, Backend] = {b.name: b for b in (
    Backend("extractive", "copilot.answer:ExtractiveAnswerer", summary="no model: the passages' own sentences"),
    Backend("openai", "copilot.backends.openai:OpenAIAnswerer",
            ("COPILOT_OPENAI_BASE_URL", "COPILOT_OPENAI_MODEL", "COPILOT_OPENAI_API_KEY"), "openai",
            "any OpenAI-compatible endpoint"),
    Backend("ollama", "copilot.backends.ollama:OllamaAnswerer", ("COPILOT_OLLAMA_URL", "COPILOT_OLLAMA_MODEL"),
            "ollama", "an Ollama server"),
    Backend("local", "copilot.backends.local:LocalAnswerer", ("COPILOT_LOCAL_MODEL", "COPILOT_LLAMACPP_MODEL"),
            "local", "a GGUF model in this process (llama.cpp through xllamacpp)"),
)}
ALIASES = {"llamacpp": "local", "llama.cpp": "local", "llama-cpp": "local", "llama_cpp": "local",
           "xllamacpp": "local", "none": "extractive", "openai-compatible": "openai"}
BACKENDS = tuple(REGISTRY)
LLM_BACKENDS = tuple(n for n in BACKENDS if n != "extractive")


def normalise_backend(name: str | None) -> str:
    key = (name or "").strip().lower()
    key = ALIASES.get(key, key)
    if key not in REGISTRY:
        raise CopilotError(f"Unknown answer backend {name!r}: choose one of {', '.join(BACKENDS)} "
                           "(with --backend or COPILOT_BACKEND).")
    return key


def default_backend() -> str:
    """The backend COPILOT_BACKEND names (default: extractive)."""
    return normalise_backend(env("COPILOT_BACKEND") or "extractive")


def configured_backends() -> list[str]:
    """The backends the environment sets up, in registry order, `extractive` always first: each whose
    settings are present (a bare OPENAI_API_KEY is used as the key but does not by itself offer a hosted
    backend; the local backend counts once COPILOT_LOCAL_MODEL names a model), and whichever COPILOT_BACKEND
    names."""
    found = {"extractive", default_backend()}
    found.update(b.name for b in REGISTRY.values() if b.settings and env(*b.settings))
    return [b for b in BACKENDS if b in found]


def backend_class(name: str) -> type:
    module, _, attr = REGISTRY[normalise_backend(name)].target.partition(":")
    return getattr(importlib.import_module(module), attr)


def make_answerer(name: str | None = None, **options: Any) -> Answerer:
    """An answerer by backend name (default: COPILOT_BACKEND). Options go to the backend's class: model,
    base_url, api_key, model_path, timeout, max_tokens, ... for a language model; settings for extractive.
    Nothing is contacted or loaded until the first question."""
    return backend_class(normalise_backend(name) if name else default_backend())(**options)


def default_answerer() -> Answerer:
    return make_answerer(default_backend())


__all__ = ["ALIASES", "BACKENDS", "Backend", "LLM_BACKENDS", "REGISTRY", "Tally", "backend_class", "configured_backends",
           "default_answerer", "default_backend", "make_answerer", "normalise_backend"]
