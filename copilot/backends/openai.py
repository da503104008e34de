"""The `openai` backend: any OpenAI-compatible chat endpoint (OpenAI, vLLM, llama.cpp's server, LM Studio, ...)
through `langchain_openai.ChatOpenAI`. Extra: `cx-copilot[openai]`.

COPILOT_OPENAI_BASE_URL, COPILOT_OPENAI_MODEL, and the key from COPILOT_OPENAI_API_KEY or OPENAI_API_KEY (a local
server needs none).
"""

from __future__ import annotations

from .base import LLMAnswerer
from .http import HTTPBackend, env

DEFAULT_MODEL = "gpt-4o-mini"
DEFAULT_URL = "https://api.openai.com/v1"


class OpenAIAnswerer(HTTPBackend, LLMAnswerer):
    name = "openai"
    url_variable = "COPILOT_OPENAI_BASE_URL"

    def __init__(self, *, model: str | None = None, base_url: str | None = None, api_key: str | None = None,
                 **options):
        super().__init__(model=model or env("COPILOT_OPENAI_MODEL") or DEFAULT_MODEL, **options)
        self.base_url = (base_url or env("COPILOT_OPENAI_BASE_URL") or "").rstrip("/") or None
        self.api_key = api_key or env("COPILOT_OPENAI_API_KEY", "OPENAI_API_KEY")

    @property
    def endpoint(self) -> str:
        return self.base_url or DEFAULT_URL

    def make_client(self):
        from ..errors import BackendError, MissingDependencyError
        from .langchain import LangChainChat

        try:
            from langchain_openai import ChatOpenAI
            from openai import Timeout
        except ImportError as exc:
            raise MissingDependencyError("langchain-openai (needed by the openai backend)", "openai") from exc
        key = self.api_key
        if not key:
            if not self.base_url:
                raise BackendError("The openai backend has no API key: set OPENAI_API_KEY (or "
                                   "COPILOT_OPENAI_API_KEY), or set COPILOT_OPENAI_BASE_URL to a local "
                                   "OpenAI-compatible server.")
            key = "not-needed"  # local servers (vLLM, llama.cpp, LM Studio) accept any key
        return LangChainChat(ChatOpenAI(model=self.model, base_url=self.base_url, api_key=key,
                                        timeout=self.http_timeout(Timeout), max_retries=0, temperature=self.temperature,
                                        max_tokens=self.max_tokens, use_responses_api=False))

    def explain_failure(self, exc, names, status):
        if status in (401, 403) or "AuthenticationError" in names or "PermissionDeniedError" in names:
            return f"{self.endpoint} rejected the API key: set OPENAI_API_KEY or COPILOT_OPENAI_API_KEY."
        if status == 404 or "NotFoundError" in names:
            return (f"Model {self.model!r} not found at {self.endpoint}: set COPILOT_OPENAI_MODEL to a model the "
                    f"server serves (or check COPILOT_OPENAI_BASE_URL, which usually ends in /v1).")
        return super().explain_failure(exc, names, status)
