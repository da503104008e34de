"""Talking to a running app the way its page does (or an attacker would): raw HTTP against Gradio's routes."""

from __future__ import annotations

import json
import uuid

import httpx


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
