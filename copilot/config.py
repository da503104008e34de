"""Where things live. One environment variable, COPILOT_INDEX_DIR, points at all user state (the index,
its catalog and the feedback file beside it). With COPILOT_CHROMA_URL the index itself lives on a Chroma
server and COPILOT_INDEX_DIR keeps only this machine's caches and the app's own files. Read when asked, never
at import time."""

from __future__ import annotations

import os
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent
PROJECT_DIR = PACKAGE_DIR.parent


def default_index_dir() -> Path:
    return Path(os.environ.get("COPILOT_INDEX_DIR") or "indexes/default")


def chroma_url() -> str | None:
    """A Chroma server for the index (http://host:port), shared by every replica; None for the embedded store."""
    return os.environ.get("COPILOT_CHROMA_URL", "").strip() or None


def chroma_index() -> str:
    """The index's name on the Chroma server (its collections are named after it), so one server can hold several."""
    return os.environ.get("COPILOT_CHROMA_INDEX", "").strip() or "cx"


def _seconds(name: str, default: float) -> float:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if value < 0:
        from .errors import CopilotError

        raise CopilotError(f"{name} must be a number of seconds, not {raw!r}")
    return value


def lock_timeout() -> float:
    """How long a write waits for another process's write to finish before it gives up (COPILOT_LOCK_TIMEOUT)."""
    return _seconds("COPILOT_LOCK_TIMEOUT", 120.0)


def refresh_seconds() -> float:
    """How often an open index checks whether another process changed it (COPILOT_REFRESH_SECONDS)."""
    return max(0.05, _seconds("COPILOT_REFRESH_SECONDS", 1.0))


def builtin_corpus_dir() -> Path:
    """The built-in corpus: COPILOT_CORPUS_DIR, else the `corpus/` folder of the project."""
    return Path(os.environ.get("COPILOT_CORPUS_DIR") or PROJECT_DIR / "corpus")


def prompts_dir() -> Path:
    return Path(os.environ.get("COPILOT_PROMPTS_DIR") or PROJECT_DIR / "prompts")


def quiet_third_parties() -> None:
    """Offline and no telemetry, whatever the user's environment says."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
    os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
