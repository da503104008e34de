"""Checks of what users type or send: questions and conversation history, shared by the CLI and the web app.

Each check either returns clean data or raises `InputError` with one line saying what is wrong and how to fix
it. Sizes are capped (`InputLimits`, overridable through the environment) so that a single request cannot make
the server parse or embed megabytes of text.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, fields

from .envvars import env_int
from .errors import CopilotError

HISTORY_SHAPE = 'a JSON list of earlier turns such as [["user", "What is NPS?"], ["assistant", "NPS is ..."]]'
ROLES = ("user", "assistant")


class InputError(CopilotError, ValueError):
    """A question or history the copilot cannot take; the message says what is wrong and how to fix it."""


@dataclass(frozen=True)
class InputLimits:
    question_chars: int = 2_000  # a question longer than this is refused
    history_chars: int = 200_000  # the history as sent (JSON text)
    history_turns: int = 100
    turn_chars: int = 20_000

    ENV = {"question_chars": "COPILOT_MAX_QUESTION_CHARS", "history_chars": "COPILOT_MAX_HISTORY_CHARS",
           "history_turns": "COPILOT_MAX_HISTORY_TURNS", "turn_chars": "COPILOT_MAX_TURN_CHARS"}

    @classmethod
    def from_env(cls) -> InputLimits:
        return cls(**{f.name: env_int(cls.ENV[f.name], f.default) for f in fields(cls)})


def check_question(question, limits: InputLimits | None = None) -> str:
    """The question, stripped; refuses what is not text or is too long (empty questions are the copilot's
    business: it explains them itself)."""
    limits = limits or InputLimits.from_env()
    if question is None:
        return ""
    if not isinstance(question, str):
        raise InputError(f"The question must be text, not {_kind(question)}.")
    question = question.strip()
    if len(question) > limits.question_chars:
        raise InputError(f"The question is too long ({len(question):,} characters; the limit is "
                         f"{limits.question_chars:,}). Ask a shorter question; put background in a document instead.")
    return question


def parse_history(history, limits: InputLimits | None = None, what: str = "history") -> list:
    """Earlier turns from JSON text (or already-decoded data): a list of [role, text] pairs or
    {"role": ..., "content": ...} dicts, role "user" or "assistant". Raises InputError naming the problem."""
    limits = limits or InputLimits.from_env()
    if history is None or (isinstance(history, str) and not history.strip()):
        return []
    if isinstance(history, (bytes, bytearray)):
        try:
            history = history.decode("utf-8")
        except UnicodeDecodeError:
            raise InputError(f"{what} is not UTF-8 text; save it as UTF-8: {HISTORY_SHAPE}.") from None
    if isinstance(history, str):
        if len(history) > limits.history_chars:
            raise InputError(f"{what} is too long ({len(history):,} characters; the limit is "
                             f"{limits.history_chars:,}). Send only the last few turns.")
        try:
            data = json.loads(history)
        except RecursionError:
            raise InputError(f"{what} is nested too deeply to be a list of turns; it should be "
                             f"{HISTORY_SHAPE}.") from None
        except ValueError as exc:
            where = f" (line {exc.lineno}, column {exc.colno}: {exc.msg})" if hasattr(exc, "lineno") else ""
            raise InputError(f"{what} is not valid JSON{where}; it should be {HISTORY_SHAPE}.") from None
    else:
        data = history
    if not isinstance(data, (list, tuple)):
        raise InputError(f"{what} must be a list of turns, not {_kind(data)}; it should be {HISTORY_SHAPE}.")
    if len(data) > limits.history_turns:
        raise InputError(f"{what} has {len(data):,} turns; the limit is {limits.history_turns:,}. "
                         "Send only the last few turns.")
    for n, turn in enumerate(data, 1):
        if isinstance(turn, dict):
            if "role" not in turn or "content" not in turn:
                raise InputError(f"{what}: turn {n} needs both \"role\" and \"content\"; it should be "
                                 f"{HISTORY_SHAPE}.")
            role, content = turn["role"], turn["content"]
        elif isinstance(turn, (list, tuple)) and len(turn) == 2:
            role, content = turn
        else:
            raise InputError(f"{what}: turn {n} must be [role, text] or {{\"role\": ..., \"content\": ...}}, "
                             f"not {_kind(turn)}; it should be {HISTORY_SHAPE}.")
        if role not in ROLES:
            raise InputError(f"{what}: turn {n} has role {_short(role)}; use \"user\" or \"assistant\".")
        if not isinstance(content, str):
            raise InputError(f"{what}: the text of turn {n} must be a string, not {_kind(content)}.")
        if len(content) > limits.turn_chars:
            raise InputError(f"{what}: turn {n} is too long ({len(content):,} characters; the limit is "
                             f"{limits.turn_chars:,}).")
    return list(data)


def _kind(value) -> str:
    names = {dict: "an object", list: "a list", tuple: "a list", str: "text", int: "a number", float: "a number",
             bool: "true/false", type(None): "null"}
    return names.get(type(value), type(value).__name__)


def _short(value) -> str:
    text = json.dumps(value, ensure_ascii=True, default=str) if not isinstance(value, str) else json.dumps(value)
    return text if len(text) <= 40 else text[:37] + "..."
