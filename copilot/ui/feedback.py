"""Feedback on answers: 👍/👎 with an optional comment, appended as JSON lines to `<index>/feedback.jsonl`.

A line is written each time an answer is rated and one more when a comment is added. Lines about the same
answer share its `id`; the last one is the current rating. Fields: id, timestamp, question, answer, abstained,
citations, rating (up/down), comment, backend (which answerer produced it, e.g. "openai" or
"extractive (fallback from openai)").
"""

from __future__ import annotations

import json
import threading
from datetime import datetime, timezone
from pathlib import Path

_lock = threading.Lock()


def save_feedback(path: Path, record: dict) -> None:
    line = json.dumps(record, ensure_ascii=False)
    with _lock:
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "a", encoding="utf-8") as fh:
            fh.write(line + "\n")


def now() -> str:
    return datetime.now(timezone.utc).replace(microsecond=0).isoformat()
