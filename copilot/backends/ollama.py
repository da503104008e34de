"""The `ollama` backend: an Ollama server through `langchain_ollama.ChatOllama`. Extra: `cx-copilot[ollama]`.

COPILOT_OLLAMA_URL (default http://127.0.0.1:11434), COPILOT_OLLAMA_MODEL (default llama3.2).
"""

from __future__ import annotations

from .base import LLMAnswerer
from .http import HTTPBackend, env

DEFAULT_MODEL = "llama3.2"
DEFAULT_URL = "http://127.0.0.1:11434"


class OllamaAnswerer(HTTPBackend, LLMAnswerer):
    name = "ollama"
    url_variable = "COPILOT_OLLAMA_URL"

    def __init__(self, *, model: str | None = None, base_url: str | None = None, **options):
        super().__init__(model=model or env("COPILOT_OLLAMA_MODEL") or DEFAULT_MODEL, **options)
        self.base_url = (base_url or env("COPILOT_OLLAMA_URL") or DEFAULT_URL).rstrip("/")

    @property
    def endpoint(self) -> str:
        return self.base_url

    def make_client(self):
        from ..errors import MissingDependencyError
        from .langchain import LangChainChat

        try:
            from langchain_ollama import ChatOllama
        except ImportError as exc:
            raise MissingDependencyError("langchain-ollama (needed by the ollama backend)", "ollama") from exc
        return LangChainChat(ChatOllama(model=self.model, base_url=self.base_url, temperature=self.temperature,
                                        num_predict=self.max_tokens,
                                        client_kwargs={"timeout": self.http_timeout()}))

    def explain_failure(self, exc, names, status):
        if status == 404 or "NotFoundError" in names:
            return (f"Model {self.model!r} not found at {self.endpoint}: run `ollama pull {self.model}` or set "
                    "COPILOT_OLLAMA_MODEL.")
        return super().explain_failure(exc, names, status)
