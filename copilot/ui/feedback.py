"""Feedback on answers: 👍/👎 with an optional comment, appended as JSON lines to `<index>/feedback.jsonl`.

A line is written each time an answer is rated and one more when a comment is added. Lines about the same
answer share its `id`; the last one is the current rating. Fields: id, timestamp, question, answer, abstained,
citations, rating (up/down), comment, backend (which answerer produced it, e.g. "openai" or
"extractive (fallback from openai)"), and `truncated` when a field was cut to its cap.

Anyone who can open the chat can write feedback, so what one client can write is bounded (`FeedbackLimits`,
each a COPILOT_FEEDBACK_* setting): every field is capped, each client may send so many lines an hour, and the
file rotates at a size (feedback.1.jsonl is the newest rotated file), keeping a fixed number of old files.
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections import deque
from dataclasses import dataclass, fields
from datetime import datetime, timezone
from pathlib import Path

from ..envvars import env_number

_lock = threading.Lock()  # one writer at a time for every feedback file of this process


@dataclass(frozen=True)
class FeedbackLimits:
    comment_chars: int = 2_000
    field_chars: int = 8_000  # the question, the answer, each citation's passage
    citations: int = 12
    per_client_per_hour: int = 120  # lines
    file_mb: float = 5.0  # rotate beyond this size
    files_kept: int = 5  # rotated files kept beside the current one

    ENV = {"comment_chars": "COPILOT_FEEDBACK_COMMENT_CHARS", "field_chars": "COPILOT_FEEDBACK_FIELD_CHARS",
           "citations": "COPILOT_FEEDBACK_CITATIONS", "per_client_per_hour": "COPILOT_FEEDBACK_PER_HOUR",
           "file_mb": "COPILOT_FEEDBACK_FILE_MB", "files_kept": "COPILOT_FEEDBACK_FILES_KEPT"}

    @classmethod
    def from_env(cls) -> FeedbackLimits:
        return cls(**{f.name: env_number(cls.ENV[f.name], f.default, type(f.default)) for f in fields(cls)})

    @property
    def most_bytes(self) -> int:
        """The most disk the feedback files can take, all clients together."""
        return int(self.file_mb * 1_000_000) * (self.files_kept + 1)


def now() -> str:
    return datetime.now(timezone.utc).replace(microsecond=0).isoformat()


class FeedbackLog:
    """The feedback file of one index, with its caps. `add(record, client)` writes one line, or returns why not."""

    def __init__(self, path: Path, limits: FeedbackLimits | None = None, clock=time.monotonic):
        self.path = Path(path)
        self.limits = limits or FeedbackLimits.from_env()
        self.clock = clock
        self._recent: dict[str, deque[float]] = {}

    def _cap(self, record: dict) -> dict:
        lim = self.limits
        cut = False

        def text(value, n):
            nonlocal cut
            value = "" if value is None else str(value)
            if len(value) > n:
                cut = True
                return value[:n]
            return value

        out = dict(record)
        for key in ("question", "answer"):
            if key in out:
                out[key] = text(out[key], lim.field_chars)
        out["comment"] = text(out.get("comment", ""), lim.comment_chars)
        for key in ("id", "rating", "backend", "timestamp"):
            if key in out:
                out[key] = text(out[key], 200)
        citations = list(out.get("citations") or [])
        if len(citations) > lim.citations:
            cut = True
        out["citations"] = [{k: text(v, lim.field_chars) if isinstance(v, str) else v for k, v in dict(c).items()}
                            for c in citations[: lim.citations] if isinstance(c, dict)]
        if cut:
            out["truncated"] = True
        return out

    def _allow(self, client: str) -> bool:
        t = self.clock()
        recent = self._recent.setdefault(client, deque())
        while recent and recent[0] <= t - 3600:
            recent.popleft()
        if len(recent) >= self.limits.per_client_per_hour:
            return False
        recent.append(t)
        if len(self._recent) > 10_000:  # many clients: forget those with nothing recent
            self._recent = {c: d for c, d in self._recent.items() if d and d[-1] > t - 3600}
        return True

    def _rotate(self) -> None:
        kept = self.limits.files_kept
        oldest = self.path.with_name(f"{self.path.stem}.{kept}{self.path.suffix}")
        oldest.unlink(missing_ok=True)
        for n in range(kept - 1, 0, -1):
            older = self.path.with_name(f"{self.path.stem}.{n}{self.path.suffix}")
            if older.exists():
                os.replace(older, self.path.with_name(f"{self.path.stem}.{n + 1}{self.path.suffix}"))
        if kept:
            os.replace(self.path, self.path.with_name(f"{self.path.stem}.1{self.path.suffix}"))
        else:
            self.path.unlink()

    def add(self, record: dict, client: str = "") -> str | None:
        """Append one capped line; None when written, else a message for the person who sent it."""
        line = (json.dumps(self._cap(record), ensure_ascii=False) + "\n").encode("utf-8")
        with _lock:
            if not self._allow(client):
                return "You have sent a lot of feedback in the last hour; thank you. Please try again later."
            self.path.parent.mkdir(parents=True, exist_ok=True)
            size = self.path.stat().st_size if self.path.exists() else 0
            if size and size + len(line) > self.limits.file_mb * 1_000_000:
                self._rotate()
            with open(self.path, "ab") as fh:
                fh.write(line)
        return None
