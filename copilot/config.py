"""Where things live. One environment variable, COPILOT_INDEX_DIR, points at all user state (the index,
its catalog and the feedback file beside it). Read when asked, never at import time."""

from __future__ import annotations

import os
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent
PROJECT_DIR = PACKAGE_DIR.parent


def default_index_dir() -> Path:
    return Path(os.environ.get("COPILOT_INDEX_DIR") or "indexes/default")


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
