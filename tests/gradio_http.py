"""Running the app for a test, and talking to it the way its page does (or an attacker would): raw HTTP
against Gradio's routes."""

from __future__ import annotations

import json
import socket
import uuid
from pathlib import Path

import httpx
import pytest


def small_copilot(folder: Path):
    """A Copilot over conftest's small corpus with the hash embedder (fast; for tests about the app itself)."""
    from conftest import SMALL_CORPUS

    from copilot import Copilot
    from copilot.embeddings import HashEmbedder
    from copilot.retrieval import RetrievalSettings

    corpus = folder / "corpus"
    corpus.mkdir(parents=True)
    for name, text in SMALL_CORPUS.items():
        (corpus / name).write_text(text, encoding="utf-8")
    return Copilot(folder / "index", embedder=HashEmbedder(), corpus=corpus,
                   retrieval=RetrievalSettings(min_dense=0.05, min_fused=0.05))


def start_app(cp, password: str = ""):
    """The web app for `cp` on a free loopback port, with that admin password (none: open): (app, url, port)."""
    from copilot import ui

    mp = pytest.MonkeyPatch()
    if password:
        mp.setenv(ui.ADMIN_ENV, password)
    else:
        mp.delenv(ui.ADMIN_ENV, raising=False)
    try:
        app = ui.build_app(cp)
    finally:
        mp.undo()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    _, url, _ = ui.launch(app, "127.0.0.1", port, block=False, quiet=True)
    return app, url, port


def config(url: str) -> dict:
    return httpx.get(url + "config").json()


def fn_index(cfg: dict, name: str) -> int:
    """The id of the event handler whose function is `name` (the page addresses handlers by id)."""
    return next(d["id"] for d in cfg["dependencies"] if d.get("api_name") == name)


def join(url: str, fn: int, data: list, session: str | None = None, headers: dict | None = None,
         timeout: float = 30) -> tuple[int, list[dict]]:
    """Join the queue for handler `fn` and read its event stream to the end: (join status, messages)."""
    session = session or uuid.uuid4().hex
    r = httpx.post(url + "gradio_api/queue/join", json={"data": data, "fn_index": fn, "session_hash": session},
                   headers=headers or {}, timeout=timeout)
    if r.status_code != 200:
        return r.status_code, []
    messages: list[dict] = []
    with httpx.stream("GET", url + "gradio_api/queue/data", params={"session_hash": session}, headers=headers or {},
                      timeout=timeout) as stream:
        for line in stream.iter_lines():
            if line.startswith("data:"):
                messages.append(json.loads(line[5:]))
                if messages[-1].get("msg") == "process_completed":
                    break
    return 200, messages


def outcome(messages: list[dict]) -> dict:
    """The final message of an event stream ({} when there is none)."""
    return messages[-1] if messages else {}
