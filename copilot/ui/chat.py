"""The Ask tab's handlers: the chat, feedback on answers, and the `/ask` API endpoint.

Handlers are methods of `Chat`, whose fields are the whole of their state (the copilot, the answer backends,
the input limits, the feedback log); `app.py` wires them to components. Chat turns live in each browser
session's gr.State. Whatever a user sends is checked (`copilot.inputs`) before the engine sees it, and every
problem comes back as one line saying what is wrong; an unexpected failure is logged, not shown.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid

import gradio as gr

from .. import Answer, Answerer, backends
from ..errors import CopilotError
from ..inputs import InputError, InputLimits, check_question, parse_history
from .feedback import FeedbackLog, now
from .render import EMPTY_PANEL, backend_label, messages, render_sources
from .security import client_of

log = logging.getLogger(__name__)


class Backends:
    """The answer backends this server offers. Each backend's answerer is made once and shared by every
    session; `None` means the copilot's own answerer."""

    def __init__(self, cp):
        self.cp = cp
        self.names = backends.configured_backends()
        self.default = backends.default_backend()
        self.choice = len(self.names) > 1  # show an "Answer with" control
        self._answerers: dict[str, Answerer] = {}
        self._lock = threading.Lock()

    def answerer_for(self, name) -> Answerer | None:
        """The answerer for a backend name ("" for the default); None means the copilot's own answerer (the only
        backend, or the chosen one when the copilot was made with it). Raises CopilotError for a backend that is
        not configured here."""
        key = backends.normalise_backend(name) if str(name or "").strip() else self.default
        if key not in self.names:
            raise CopilotError(f"The {key} backend is not configured here: choose one of {', '.join(self.names)}.")
        if not self.choice or getattr(getattr(self.cp, "answerer", None), "name", None) == key:
            return None
        with self._lock:
            if key not in self._answerers:
                self._answerers[key] = backends.make_answerer(key)  # contacts nothing until the first question
            return self._answerers[key]

    def label(self, name: str) -> str:
        try:
            return backend_label(name, self.answerer_for(name) or getattr(self.cp, "answerer", None))
        except Exception:  # noqa: BLE001 - a label is a nicety; asking with it will explain the problem
            return name


def turn_from(question: str, result: Answer, show_backend: bool = False) -> dict:
    """A chat turn from an Answer. The backend is shown when there was a choice of backends or it is not the
    plain extractive one; notes are always shown."""
    cits = []
    for c in result.citations:
        d = c.to_dict()
        d["sentences"] = list(c.sentences)
        cits.append(d)
    backend = result.backend or ""
    return {"id": uuid.uuid4().hex, "question": question, "answer": result.text,
            "kind": "declined" if result.abstained else "answer", "citations": cits, "backend": backend,
            "notes": [str(n) for n in result.notes or []],
            "show_backend": bool(backend) and (show_backend or backend != "extractive"),
            "table": list(getattr(result, "table", None) or []), "summary": getattr(result, "summary", "")}


def history_of(turns: list[dict]) -> list[tuple[str, str]]:
    out = []
    for t in turns:
        if t["kind"] != "error":
            out += [("user", t["question"]), ("assistant", t["answer"])]
    return out


def error_turn(question: str, message: str) -> dict:
    return {"question": question, "answer": message, "kind": "error", "citations": []}


class Chat:
    """Handlers of the Ask tab over explicit state: the copilot, its backends, input limits, the feedback log."""

    def __init__(self, cp, backends: Backends, feedback: FeedbackLog, limits: InputLimits | None = None):
        self.cp = cp
        self.backends = backends
        self.feedback = feedback
        self.limits = limits or InputLimits.from_env()

    def topics(self) -> list[str]:
        try:
            return self.cp.example_topics()
        except Exception:  # noqa: BLE001 - suggestions are a nicety
            return []

    def respond(self, question, turns, backend=""):
        turns = list(turns or [])
        hide = gr.update(visible=False)
        try:
            question = check_question(question, self.limits)
        except InputError as exc:
            shown = str(question)[:200] + "…"
            turns = turns + [error_turn(shown, str(exc))]
            yield "", messages(turns), turns, gr.skip(), hide
            return
        if not question:
            yield gr.skip(), gr.skip(), gr.skip(), gr.skip(), gr.skip()
            return
        yield "", messages(turns, None, question), turns, gr.skip(), hide
        pieces: list[str] = []
        result = None
        last = time.monotonic()
        try:
            answerer = self.backends.answerer_for(backend)
            for item in self.cp.stream(question, history_of(turns), answerer=answerer):
                if isinstance(item, Answer):
                    result = item
                    continue
                pieces.append(item)
                if time.monotonic() - last > 0.05:
                    last = time.monotonic()
                    yield gr.skip(), messages(turns, "".join(pieces), question), gr.skip(), gr.skip(), gr.skip()
        except CopilotError as exc:
            turn = error_turn(question, str(exc))
        except Exception:  # noqa: BLE001 - the chat must survive anything the engine raises
            log.exception("answering %r failed", question[:200])
            turn = error_turn(question, "The copilot failed to answer this question because of an internal error; "
                                        "the server log has the details. Try again, or rephrase the question.")
        else:
            turn = turn_from(question, result, self.backends.choice) if result is not None else error_turn(
                question, "No answer was produced.")
        turns = turns + [turn]
        yield "", messages(turns), turns, render_sources(turns, self.topics()), hide

    def new_chat(self):
        return [], [], EMPTY_PANEL, gr.update(visible=False), None, ""

    def pick_example(self, evt: gr.SelectData):
        value = evt.value
        return value.get("text", "") if isinstance(value, dict) else str(value or "")

    def on_like(self, turns, evt: gr.LikeData, request: gr.Request = None):
        index = evt.index[0] if isinstance(evt.index, (list, tuple)) else evt.index
        k = int(index) // 2
        if not turns or k >= len(turns) or turns[k]["kind"] == "error" or evt.liked not in (True, False):
            return gr.skip(), None
        t = turns[k]
        record = {"id": t.get("id") or uuid.uuid4().hex, "timestamp": now(), "question": t["question"],
                  "answer": t["answer"], "abstained": t["kind"] == "declined",
                  "citations": [{key: c.get(key) for key in ("n", "source", "title", "page", "section", "text",
                                                             "score")} for c in t["citations"]],
                  "rating": "up" if evt.liked else "down", "comment": "", "backend": t.get("backend", "")}
        refused = self.feedback.add(record, client_of(request))
        if refused:
            gr.Warning(refused)
            return gr.update(visible=False), None
        return gr.update(visible=True), record

    def send_comment(self, comment, pending, request: gr.Request = None):
        comment = (comment if isinstance(comment, str) else "").strip()
        if pending and comment:
            cap = self.feedback.limits.comment_chars
            refused = self.feedback.add({**pending, "timestamp": now(), "comment": comment}, client_of(request))
            if refused:
                gr.Warning(refused)
            elif len(comment) > cap:
                gr.Info(f"Thanks, your comment was saved (its first {cap:,} characters).")
            else:
                gr.Info("Thanks, your comment was saved.")
        return gr.update(visible=False), None, ""

    def dismiss(self):
        return gr.update(visible=False), None, ""

    def ask(self, question: str, history_json: str = "", backend: str = "") -> dict:
        """Answer a question from the knowledge base, citing passages (same shape as `ask --json`).
        history_json: optional JSON list of earlier turns, [[role, text], ...].
        backend: optional answer backend (one of those the server configures; default: its default)."""
        try:
            question = check_question(question, self.limits)
            history = parse_history(history_json, self.limits, what="history_json")
        except InputError as exc:
            raise gr.Error(str(exc)) from None
        if backend is not None and not isinstance(backend, str):
            raise gr.Error("backend must be the name of an answer backend (text).")
        try:
            return self.cp.answer(question, history, answerer=self.backends.answerer_for(backend)).to_dict()
        except CopilotError as exc:
            raise gr.Error(str(exc)) from None
        except Exception:  # noqa: BLE001 - the API must answer with a message, not a stack trace
            log.exception("/ask failed for %r", question[:200])
            raise gr.Error("The copilot failed to answer because of an internal error; the server log has the "
                           "details.") from None
