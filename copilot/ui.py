"""The web app: a chat that shows its evidence, and a library for managing documents (Gradio).

This is the only module that imports gradio. `build_app(cp)` returns the Blocks, `launch(app, ...)` starts it
with the settings it needs (theme, CSS, the citation script, no telemetry), and `serve(cp, host, port)` is what
`cx-copilot serve` calls.

Safety: everything that comes from documents (answers, passages, titles, file names, reasons) is HTML-escaped
here before it reaches any component that renders HTML or Markdown, and the chatbot's own sanitizer stays on.

Feedback (👍/👎 with an optional comment) is appended as JSON lines to `<index>/feedback.jsonl`: a line each time
an answer is rated and one more when a comment is added. Lines about the same answer share its `id`; the last
one is the current rating. Fields: id, timestamp, question, answer, abstained, citations, rating (up/down), comment,
backend (which answerer produced it, e.g. "openai" or "extractive (fallback from openai)").

Answer backends (copilot/llm.py): when the environment configures more than one, the chat shows an "Answer with"
control (default: COPILOT_BACKEND) and the `/ask` endpoint takes an optional third argument, `backend`. Each
backend's answerer is made once and shared by every session. LLM answers stream token by token; the final,
grounded answer then replaces the streamed text, with the backend that answered and any notes (a fallback,
dropped sentences) shown small under it.

Uploaded files are copied to `<index>/uploads/` before they are loaded, so `cx-copilot rebuild` can find them
again; removing such a source deletes its copy.
"""

import html
import hmac
import ipaddress
import json
import os
import re
import shutil
import threading
import time
import uuid
from collections.abc import Iterable
from datetime import datetime, timezone
from pathlib import Path

# Offline and private: set before gradio is imported, whatever the user's environment says.
os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")

import gradio as gr  # noqa: E402

from . import llm  # noqa: E402
from .answer import Answer, Answerer  # noqa: E402
from .errors import CopilotError  # noqa: E402

ADMIN_ENV = "COPILOT_ADMIN_PASSWORD"
UPLOAD_TYPES = [".pdf", ".md", ".markdown", ".txt", ".text", ".html", ".htm"]
EXAMPLES = [
    "How is NPS calculated?",
    "What is a customer journey map?",
    "When should I use CES instead of CSAT?",
    "How do I start a voice of the customer program?",
    "What is the difference between CSAT and NPS?",
    "What is the difference between CX and customer service?",
]
CHAT_CONCURRENCY = 8  # chat events answered at once; loading documents runs in its own queue lane
SOURCE_HEADERS = ["Title", "File", "Type", "Chunks", "Pages", "Loaded at"]

_feedback_lock = threading.Lock()


# ---------------------------------------------------------------- pure rendering helpers (tested)

def esc(text) -> str:
    """HTML-escape anything (quotes too)."""
    return html.escape("" if text is None else str(text), quote=True)


# Markdown (and the chatbot's LaTeX and autolink handling) must not interpret document text. Inline markup
# characters become decimal entities (hex entities are double-escaped by the chatbot), as do line-start block
# markers and the parts of URLs and e-mail addresses that autolinking looks for. The text still reads the same.
_MD_INLINE = re.compile(r"[\\`*_{}\[\]~$|]")
_MD_BLOCK = re.compile(r"(?m)^[ \t]*(?:([#>+\-=])|(\d+)([.)]))")
_AUTOLINK = re.compile(r"://|(?i:www)\.|@")


def _entity(ch: str) -> str:
    return f"&#{ord(ch)};"


def md_text(text) -> str:
    """Text for a Markdown component that is shown literally: HTML-escaped and Markdown-inert."""
    out = html.escape("" if text is None else str(text), quote=False)
    out = _MD_INLINE.sub(lambda m: _entity(m.group(0)), out)
    out = _AUTOLINK.sub(lambda m: m.group(0).replace(":", _entity(":")).replace(".", _entity("."))
                        .replace("@", _entity("@")), out)
    out = re.sub(r"(?m)^[ \t]+", "", out)  # no indented code blocks
    return _MD_BLOCK.sub(lambda m: _entity(m.group(1)) if m.group(1) else m.group(2) + _entity(m.group(3)), out)


_MARKER = re.compile(r"\[(\d{1,3})\]")


def cite_id(turn: int, n: int) -> str:
    return f"cx-src-{turn}-{n}"


def render_answer(text: str, turn: int, cited: Iterable[int] = (), abstained: bool = False) -> str:
    """An answer as chatbot content: literal text, with [n] markers of cited passages turned into links to
    the sources panel. A declined answer is shown in a muted box of its own."""
    cited = set(cited)
    out: list[str] = []
    pos = 0
    for m in _MARKER.finditer(text or ""):
        n = int(m.group(1))
        if n not in cited:
            continue
        out.append(md_text(text[pos:m.start()]))
        out.append(f'<a class="cx-cite" href="#{cite_id(turn, n)}" title="Show source {n}">{n}</a>')
        pos = m.end()
    out.append(md_text((text or "")[pos:]))
    body = "".join(out)
    if abstained:
        return ('<div class="cx-declined"><div class="cx-declined-label">Not in the knowledge base</div>'
                f"{body}</div>")
    return body


def render_meta(backend: str = "", notes: Iterable[str] = (), show_backend: bool = True) -> str:
    """The small print under an answer: notes (why a backend fell back, what was dropped) and which backend
    answered ("answered by openai", "extractive (fallback from openai)"). Empty when there is nothing to say."""
    parts = [f'<div class="cx-answer-note">{md_text(" ".join(str(n).split()))}</div>' for n in notes or [] if n]
    backend = " ".join((backend or "").split())
    if show_backend and backend:
        label = backend if "fallback" in backend else f"answered by {backend}"
        parts.append(f'<div class="cx-answer-backend">{md_text(label)}</div>')
    return f'<div class="cx-answer-meta">{"".join(parts)}</div>' if parts else ""


def backend_label(name: str, answerer=None) -> str:
    """A backend as the "Answer with" control names it: the backend and its model."""
    if name == "extractive":
        return "extractive (no model)"
    model = getattr(answerer, "model", "") or ""
    return f"{name} · {model}" if model else name


def render_error(message: str) -> str:
    return f'<div class="cx-error"><div class="cx-declined-label">Something went wrong</div>{md_text(message)}</div>'


def _sentence_pattern(sentence: str) -> re.Pattern | None:
    tokens = sentence.split()
    if not tokens:
        return None
    return re.compile(r"\s+".join(re.escape(t) for t in tokens))


def highlight(passage: str, sentences: Iterable[str]) -> str:
    """The passage as escaped HTML with the given sentences wrapped in <mark> (whitespace-insensitive)."""
    passage = passage or ""
    spans: list[tuple[int, int]] = []
    for sentence in sentences or []:
        pattern = _sentence_pattern(sentence)
        m = pattern.search(passage) if pattern else None
        if m:
            spans.append((m.start(), m.end()))
    spans.sort()
    merged: list[list[int]] = []
    for start, end in spans:
        if merged and start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    out: list[str] = []
    pos = 0
    for start, end in merged:
        out.append(esc(passage[pos:start]))
        out.append(f"<mark>{esc(passage[start:end])}</mark>")
        pos = end
    out.append(esc(passage[pos:]))
    return "".join(out)


def where(citation: dict) -> str:
    """'p. 3' for a page, the section path otherwise."""
    if citation.get("page"):
        return f"p. {citation['page']}"
    return citation.get("section") or ""


def render_citation(c: dict, turn: int, open_: bool = False) -> str:
    meta = " · ".join(esc(x) for x in (c.get("source"), where(c)) if x)
    return (f'<details class="cx-src" id="{cite_id(turn, int(c["n"]))}"{" open" if open_ else ""}>'
            f'<summary><span class="cx-n">{int(c["n"])}</span><span class="cx-src-head">'
            f'<span class="cx-src-title">{esc(c.get("title") or c.get("source"))}</span>'
            f'<span class="cx-src-meta">{meta}</span></span></summary>'
            f'<div class="cx-passage">{highlight(c.get("text", ""), c.get("sentences", []))}</div></details>')


_EMPTY_PANEL = ('<div class="cx-sources"><div class="cx-panel-title">Sources</div><p class="cx-muted">'
                "The passages behind each answer appear here. Select a citation number in an answer to open "
                "its passage; the sentences quoted in the answer are highlighted.</p></div>")


def render_sources(turns: list[dict], topics: Iterable[str] = ()) -> str:
    """The sources panel: the latest answer's citations, then earlier answers' (collapsed)."""
    answered = [(k, t) for k, t in enumerate(turns) if t.get("kind") in {"answer", "declined"}]
    if not answered:
        return _EMPTY_PANEL
    k, last = answered[-1]
    parts = ['<div class="cx-sources"><div class="cx-panel-title">Sources</div>',
             f'<div class="cx-question">{esc(last["question"])}</div>']
    if last["kind"] == "declined" or not last.get("citations"):
        parts.append('<p class="cx-muted">No passage in the knowledge base answers this question, so nothing '
                     "is cited.</p>")
        topics = list(topics)
        if topics:
            parts.append('<div class="cx-muted">The knowledge base covers, for example:</div><ul class="cx-topics">')
            parts.extend(f"<li>{esc(t)}</li>" for t in topics)
            parts.append("</ul>")
    else:
        parts.extend(render_citation(c, k) for c in last["citations"])
    earlier = [(j, t) for j, t in answered[:-1] if t.get("citations")]
    if earlier:
        parts.append('<details class="cx-earlier"><summary>Earlier answers</summary>')
        for j, t in reversed(earlier):
            parts.append(f'<div class="cx-question">{esc(t["question"])}</div>')
            parts.extend(render_citation(c, j) for c in t["citations"])
        parts.append("</details>")
    parts.append("</div>")
    return "".join(parts)


def render_outcomes(report) -> str:
    """The per-file outcome of a load as escaped HTML."""
    rows = []
    for f in report.files:
        name = Path(f.path).name
        if f.status in {"added", "replaced"}:
            detail = f"{f.chunks} chunk{'s' if f.chunks != 1 else ''}"
        elif f.status == "unchanged":
            detail = "already loaded, nothing to do"
        else:
            detail = f.reason
        rows.append(f'<tr><td class="cx-file">{esc(name)}</td><td><span class="cx-badge cx-{esc(f.status)}">'
                    f"{esc(f.status)}</span></td><td>{esc(detail)}</td></tr>")
    return (f'<div class="cx-outcome"><div class="cx-summary">{esc(report.summary())} in {report.seconds:.1f} s'
            f'</div><table class="cx-table"><tbody>{"".join(rows)}</tbody></table></div>')


def notice(text: str, kind: str = "info") -> str:
    return f'<div class="cx-notice cx-notice-{esc(kind)}">{esc(text)}</div>'


def source_rows(sources: list[dict]) -> list[list]:
    """Rows for the sources table, most recently loaded first."""
    rows = []
    for s in sorted(sources, key=lambda s: (s.get("loaded_at") or "", s.get("source") or ""), reverse=True):
        loaded = (s.get("loaded_at") or "").replace("T", " ").replace("+00:00", " UTC")
        rows.append([s.get("title") or "", s.get("source") or "", s.get("kind") or "", s.get("chunks") or 0,
                     s.get("pages") or "", loaded])
    return rows


def parse_history(history_json) -> list:
    """The `ask` endpoint's history: a JSON list of [role, text] pairs or {"role", "content"} dicts."""
    if history_json in (None, ""):
        return []
    data = json.loads(history_json) if isinstance(history_json, str) else history_json
    if not isinstance(data, list):
        raise ValueError("history must be a list")
    for turn in data:
        ok = (isinstance(turn, dict) and "role" in turn and "content" in turn) or (
            isinstance(turn, (list, tuple)) and len(turn) == 2)
        if not ok:
            raise ValueError("each turn must be [role, text] or {\"role\": ..., \"content\": ...}")
    return data


def is_loopback(host: str) -> bool:
    if host in {"localhost", "localhost.localdomain"}:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_host(host: str) -> None:
    """Refuse to listen beyond this machine unless the library is protected by an admin password."""
    if not is_loopback(host) and not os.environ.get(ADMIN_ENV):
        raise CopilotError(
            f"Refusing to serve on {host}: other machines could change the knowledge base. Set "
            f"{ADMIN_ENV} to protect the Library tab, or serve on 127.0.0.1 (the default).")


# ---------------------------------------------------------------- feedback

def save_feedback(path: Path, record: dict) -> None:
    line = json.dumps(record, ensure_ascii=False)
    with _feedback_lock:
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "a", encoding="utf-8") as fh:
            fh.write(line + "\n")


def _now() -> str:
    return datetime.now(timezone.utc).replace(microsecond=0).isoformat()


# ---------------------------------------------------------------- the app

def _turn_from(question: str, result: Answer, show_backend: bool = False) -> dict:
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
            "show_backend": bool(backend) and (show_backend or backend != "extractive")}


def _messages(turns: list[dict], partial: str | None = None, pending_question: str | None = None) -> list[dict]:
    msgs: list[dict] = []
    for k, t in enumerate(turns):
        msgs.append({"role": "user", "content": md_text(t["question"])})
        if t["kind"] == "error":
            content = render_error(t["answer"])
        else:
            content = render_answer(t["answer"], k, [c["n"] for c in t["citations"]], t["kind"] == "declined")
            meta = render_meta(t.get("backend", ""), t.get("notes", ()),
                               t.get("show_backend", False) and t["kind"] != "declined")
            if meta:
                content = f"{content}\n\n{meta}"
        msgs.append({"role": "assistant", "content": content})
    if pending_question is not None:
        msgs.append({"role": "user", "content": md_text(pending_question)})
        msgs.append({"role": "assistant", "content": md_text(partial) if partial else
                     '<span class="cx-thinking">Searching the knowledge base…</span>'})
    return msgs


def _history(turns: list[dict]) -> list[tuple[str, str]]:
    out = []
    for t in turns:
        if t["kind"] != "error":
            out += [("user", t["question"]), ("assistant", t["answer"])]
    return out


def _stats(cp) -> str:
    sources = cp.sources()
    chunks = sum(s.get("chunks") or 0 for s in sources)
    return (f'<div class="cx-header"><div><div class="cx-brand">CX Copilot</div><div class="cx-tagline">Answers '
            "from your customer-experience knowledge base, with the passages they rest on.</div></div>"
            f'<div class="cx-stats">{len(sources)} documents · {chunks} passages</div></div>')


def build_app(cp) -> gr.Blocks:
    """The Blocks app for a Copilot. Start it with `launch(app, ...)` (or `serve`)."""
    password = os.environ.get(ADMIN_ENV) or ""
    feedback_path = Path(cp.index_dir) / "feedback.jsonl"
    uploads = Path(cp.index_dir) / "uploads"

    # ------------------------------------------------ answer backends
    backends = llm.configured_backends()
    default_backend = llm.default_backend()
    choose_backend = len(backends) > 1
    answerers: dict[str, Answerer] = {}
    answerers_lock = threading.Lock()

    def answerer_for(name) -> Answerer | None:
        """The answerer for a backend name ("" for the default); None means the copilot's own answerer (the only
        backend, or the chosen one when the copilot was made with it). Raises CopilotError for a backend that is
        not configured here."""
        key = llm.normalise_backend(name) if str(name or "").strip() else default_backend
        if key not in backends:
            raise CopilotError(f"The {key} backend is not configured here: choose one of {', '.join(backends)}.")
        if not choose_backend or getattr(getattr(cp, "answerer", None), "name", None) == key:
            return None
        with answerers_lock:
            if key not in answerers:
                answerers[key] = llm.make_answerer(key)  # contacts nothing until the first question
            return answerers[key]

    def choice_label(name: str) -> str:
        try:
            return backend_label(name, answerer_for(name) or getattr(cp, "answerer", None))
        except Exception:  # noqa: BLE001 - a label is a nicety; asking with it will explain the problem
            return name

    def topics() -> list[str]:
        try:
            return cp.example_topics()
        except Exception:  # noqa: BLE001 - suggestions are a nicety
            return []

    # ------------------------------------------------ chat handlers
    def respond(question, turns, backend=""):
        question = (question or "").strip()
        turns = list(turns or [])
        if not question:
            yield gr.skip(), gr.skip(), gr.skip(), gr.skip(), gr.skip()
            return
        hide = gr.update(visible=False)
        yield "", _messages(turns, None, question), turns, gr.skip(), hide
        pieces: list[str] = []
        result = None
        last = time.monotonic()
        try:
            answerer = answerer_for(backend)
            for item in cp.stream(question, _history(turns), answerer=answerer):
                if isinstance(item, Answer):
                    result = item
                    continue
                pieces.append(item)
                if time.monotonic() - last > 0.05:
                    last = time.monotonic()
                    yield gr.skip(), _messages(turns, "".join(pieces), question), gr.skip(), gr.skip(), gr.skip()
        except CopilotError as exc:
            turn = {"question": question, "answer": str(exc), "kind": "error", "citations": []}
        except Exception as exc:  # noqa: BLE001 - the chat must survive anything the engine raises
            turn = {"question": question, "answer": f"The copilot failed to answer ({type(exc).__name__}: {exc}).",
                    "kind": "error", "citations": []}
        else:
            turn = _turn_from(question, result, choose_backend) if result is not None else {
                "question": question, "answer": "No answer was produced.", "kind": "error", "citations": []}
        turns = turns + [turn]
        yield "", _messages(turns), turns, render_sources(turns, topics()), hide

    def new_chat():
        return [], [], _EMPTY_PANEL, gr.update(visible=False), None, ""

    def pick_example(evt: gr.SelectData):
        value = evt.value
        return value.get("text", "") if isinstance(value, dict) else str(value or "")

    def on_like(turns, evt: gr.LikeData):
        index = evt.index[0] if isinstance(evt.index, (list, tuple)) else evt.index
        k = int(index) // 2
        if not turns or k >= len(turns) or turns[k]["kind"] == "error" or evt.liked not in (True, False):
            return gr.skip(), None
        t = turns[k]
        record = {"id": t.get("id") or uuid.uuid4().hex, "timestamp": _now(), "question": t["question"],
                  "answer": t["answer"], "abstained": t["kind"] == "declined",
                  "citations": [{key: c.get(key) for key in ("n", "source", "title", "page", "section", "text",
                                                             "score")} for c in t["citations"]],
                  "rating": "up" if evt.liked else "down", "comment": "", "backend": t.get("backend", "")}
        save_feedback(feedback_path, record)
        return gr.update(visible=True), record

    def send_comment(comment, pending):
        comment = (comment or "").strip()
        if pending and comment:
            save_feedback(feedback_path, {**pending, "timestamp": _now(), "comment": comment})
            gr.Info("Thanks, your comment was saved.")
        return gr.update(visible=False), None, ""

    # ------------------------------------------------ library handlers
    def require_admin(admin):
        if not admin:
            raise gr.Error("Sign in with the admin password to manage documents.")

    def library_view():
        sources = cp.sources()
        choices = [s["source"] for s in sources]
        return (source_rows(sources), gr.update(choices=choices, value=None), _stats(cp))

    def sign_in(pw, admin):
        if admin:
            return (gr.update(visible=False), gr.update(visible=True), True, "", *library_view())
        if password and hmac.compare_digest((pw or "").encode(), password.encode()):
            return (gr.update(visible=False), gr.update(visible=True), True, "", *library_view())
        time.sleep(1.0)  # slow down guessing
        return (gr.skip(), gr.skip(), False, notice("Wrong password.", "error"), gr.skip(), gr.skip(), gr.skip())

    def sign_out():
        return gr.update(visible=True), gr.update(visible=False), False, "", [], gr.update(choices=[], value=None)

    def on_load(admin):
        stats = _stats(cp)
        if admin:
            return (*library_view()[:2], stats)
        return gr.skip(), gr.skip(), stats

    def load_files(files, admin, progress=gr.Progress()):
        require_admin(admin)
        paths = [f if isinstance(f, str) else getattr(f, "name", str(f)) for f in (files or [])]
        if not paths:
            return notice("Choose one or more files first (PDF, Markdown, text or HTML).", "warning"), \
                gr.skip(), gr.skip(), gr.skip(), gr.skip()
        uploads.mkdir(parents=True, exist_ok=True)
        placed: list[tuple[Path, Path | None]] = []  # (copy in uploads/, backup of what it replaced)
        for p in paths:
            src = Path(p)
            dest = uploads / src.name
            if any(dest == d for d, _ in placed):  # two files of one name: the later one wins
                shutil.copyfile(src, dest)
                continue
            backup = None
            if dest.exists():
                backup = dest.with_name(f".{dest.name}.{uuid.uuid4().hex[:8]}.bak")
                shutil.copy2(dest, backup)
            shutil.copyfile(src, dest)
            placed.append((dest, backup))

        def tick(stage, done, total):
            if total:
                progress((done, total), desc=f"{stage.capitalize()}", unit="files" if stage == "reading" else "chunks")

        try:
            report = cp.ingest([d for d, _ in placed], progress=tick)
        except Exception:
            for dest, backup in placed:
                _restore(dest, backup)
            raise
        failed = {Path(f.path).resolve() for f in report.files if f.status in {"failed", "skipped"}}
        for dest, backup in placed:
            if dest.resolve() in failed:
                _restore(dest, backup)
            elif backup is not None:
                backup.unlink(missing_ok=True)
        rows, dropdown, stats = library_view()
        return render_outcomes(report), rows, dropdown, stats, None

    def remove_source(name, admin):
        require_admin(admin)
        if not name:
            return notice("Choose a document to remove.", "warning"), gr.skip(), gr.skip(), gr.skip()
        entry = next((s for s in cp.sources() if s["source"] == name), None)
        try:
            n = cp.remove(name)
        except CopilotError as exc:
            return notice(str(exc), "error"), gr.skip(), gr.skip(), gr.skip()
        if entry and entry.get("path"):
            stored = Path(entry["path"])
            try:
                if stored.resolve().parent == uploads.resolve():
                    stored.unlink(missing_ok=True)
            except OSError:
                pass
        rows, dropdown, stats = library_view()
        return notice(f"Removed {name} ({n} chunks).", "ok"), rows, dropdown, stats

    def pick_row(evt: gr.SelectData):
        row = getattr(evt, "row_value", None)
        if row and len(row) > 1:
            return gr.update(value=row[1])
        return gr.skip()

    # ------------------------------------------------ layout
    with gr.Blocks(title="CX Copilot", analytics_enabled=False, fill_width=True, delete_cache=(3600, 86400)) as app:
        turns = gr.State([])
        pending = gr.State(None)
        admin = gr.State(not password)
        header = gr.HTML(_stats(cp), elem_id="cx-header", js_on_load=None)
        with gr.Tabs():
            with gr.Tab("Ask", id="ask", elem_id="cx-ask-tab"):
                with gr.Row(equal_height=False):
                    with gr.Column(scale=3, min_width=420):
                        chatbot = gr.Chatbot(
                            elem_id="cx-chat", show_label=False, height=560, layout="bubble",
                            sanitize_html=True, render_markdown=True, allow_tags=False, latex_delimiters=[],
                            buttons=[], autoscroll=True, group_consecutive_messages=False,
                            placeholder=("<div class='cx-placeholder'><b>Ask a customer-experience question.</b>"
                                         "<br>Answers come only from the documents in the knowledge base, "
                                         "each claim marked with its source.</div>"),
                            examples=[{"text": q} for q in EXAMPLES])
                        with gr.Group(visible=False, elem_id="cx-feedback") as feedback_box:
                            comment = gr.Textbox(label="Thanks for rating. Anything to add? (optional)",
                                                 placeholder="What was wrong, missing or especially useful?",
                                                 lines=1, max_lines=4, elem_id="cx-comment")
                            with gr.Row():
                                send = gr.Button("Send comment", size="sm", variant="secondary",
                                                 elem_id="cx-send-comment")
                                skip = gr.Button("Dismiss", size="sm", variant="secondary")
                        with gr.Row(elem_id="cx-inputrow"):
                            question = gr.Textbox(show_label=False, placeholder="Ask about NPS, journey maps, VoC "
                                                  "programs…  (Enter to send)", scale=6, lines=1, max_lines=4,
                                                  autofocus=True, elem_id="cx-question", submit_btn=False)
                            ask_btn = gr.Button("Ask", variant="primary", scale=1, min_width=80, elem_id="cx-ask")
                            new_btn = gr.Button("New chat", variant="secondary", scale=1, min_width=100,
                                                elem_id="cx-new")
                        if choose_backend:
                            with gr.Row(elem_id="cx-settings"):
                                backend_choice = gr.Dropdown(
                                    choices=[(choice_label(b), b) for b in backends], value=default_backend,
                                    label="Answer with", elem_id="cx-backend", scale=0, min_width=240,
                                    filterable=False, allow_custom_value=False, interactive=True)
                        else:
                            backend_choice = gr.State("")
                    with gr.Column(scale=2, min_width=320):
                        sources_panel = gr.HTML(_EMPTY_PANEL, elem_id="cx-sources", js_on_load=None)
            with gr.Tab("Library", id="library", elem_id="cx-library-tab"):
                with gr.Column(visible=bool(password), elem_id="cx-login") as login_box:
                    gr.Markdown("### Admin sign-in\nManaging documents needs the admin password. Chatting does not.")
                    pw = gr.Textbox(label="Admin password", type="password", elem_id="cx-password", max_lines=1)
                    login_btn = gr.Button("Sign in", variant="primary", elem_id="cx-login-btn")
                    login_msg = gr.HTML("", js_on_load=None)
                with gr.Column(visible=not password, elem_id="cx-manage") as manage_box:
                    if password:
                        with gr.Row(elem_id="cx-admin-bar"):
                            gr.HTML('<span class="cx-muted">Signed in as admin.</span>', js_on_load=None)
                            logout_btn = gr.Button("Sign out", size="sm", variant="secondary", scale=0,
                                                   min_width=90)
                    gr.Markdown("### Add documents\nPDF, Markdown, text or HTML. Loading a file again replaces "
                                "the earlier version; unchanged files are skipped.")
                    files = gr.File(file_count="multiple", file_types=UPLOAD_TYPES, label="Files",
                                    elem_id="cx-upload", height=140)
                    load_btn = gr.Button("Load files", variant="primary", elem_id="cx-load")
                    outcome = gr.HTML("", elem_id="cx-outcome", js_on_load=None)
                    gr.Markdown("### Documents in the knowledge base")
                    table = gr.Dataframe(headers=SOURCE_HEADERS, value=source_rows(cp.sources()) if not password
                                         else [], interactive=False, wrap=True, max_height=420,
                                         datatype=["str", "str", "str", "number", "str", "str"],
                                         column_widths=["32%", "24%", "10%", "8%", "8%", "18%"],
                                         elem_id="cx-table")
                    with gr.Row(equal_height=False, elem_id="cx-remove-row"):
                        to_remove = gr.Dropdown(choices=[s["source"] for s in cp.sources()] if not password else [],
                                                label="Remove a document (or select its row above)", scale=4,
                                                elem_id="cx-remove-choice", allow_custom_value=False)
                        remove_btn = gr.Button("Remove", variant="stop", scale=1, min_width=120,
                                               elem_id="cx-remove")
                    remove_msg = gr.HTML("", elem_id="cx-remove-msg", js_on_load=None)

        chat_io = dict(inputs=[question, turns, backend_choice], outputs=[question, chatbot, turns, sources_panel, feedback_box],
                       concurrency_limit=CHAT_CONCURRENCY, concurrency_id="chat", api_visibility="private",
                       show_progress="hidden")
        question.submit(respond, **chat_io)
        ask_btn.click(respond, **chat_io)
        chatbot.example_select(pick_example, None, question, api_visibility="private", queue=False).then(
            respond, **chat_io)
        new_btn.click(new_chat, None, [chatbot, turns, sources_panel, feedback_box, pending, question],
                      api_visibility="private", queue=False)
        chatbot.clear(new_chat, None, [chatbot, turns, sources_panel, feedback_box, pending, question],
                      api_visibility="private", queue=False)
        chatbot.like(on_like, [turns], [feedback_box, pending], api_visibility="private", queue=False)
        send.click(send_comment, [comment, pending], [feedback_box, pending, comment], api_visibility="private",
                   queue=False)
        comment.submit(send_comment, [comment, pending], [feedback_box, pending, comment],
                       api_visibility="private", queue=False)
        skip.click(lambda: (gr.update(visible=False), None, ""), None, [feedback_box, pending, comment],
                   api_visibility="private", queue=False)

        library_out = [table, to_remove, header]
        login_btn.click(sign_in, [pw, admin], [login_box, manage_box, admin, login_msg, *library_out],
                        api_visibility="private", concurrency_limit=4, concurrency_id="login")
        pw.submit(sign_in, [pw, admin], [login_box, manage_box, admin, login_msg, *library_out],
                  api_visibility="private", concurrency_limit=4, concurrency_id="login")
        if password:
            logout_btn.click(sign_out, None, [login_box, manage_box, admin, pw, table, to_remove],
                             api_visibility="private", queue=False)
        # one load at a time, in its own lane: chat events keep flowing while a large file is embedded
        load_btn.click(load_files, [files, admin], [outcome, table, to_remove, header, files],
                       api_visibility="private", concurrency_limit=1, concurrency_id="library")
        remove_btn.click(remove_source, [to_remove, admin], [remove_msg, table, to_remove, header],
                         api_visibility="private", concurrency_limit=1, concurrency_id="library",
                         js="(name, admin) => (name && !window.confirm('Remove ' + name + ' from the knowledge "
                            "base?')) ? [null, admin] : [name, admin]")
        table.select(pick_row, None, to_remove, api_visibility="private", queue=False)
        app.load(on_load, [admin], [table, to_remove, header], api_visibility="private", queue=False)

        def ask(question: str, history_json: str = "", backend: str = "") -> dict:
            """Answer a question from the knowledge base, citing passages (same shape as `ask --json`).
            history_json: optional JSON list of earlier turns, [[role, text], ...].
            backend: optional answer backend (one of those the server configures; default: its default)."""
            try:
                history = parse_history(history_json)
            except ValueError as exc:
                raise gr.Error(f"history_json is not valid: {exc}") from exc
            try:
                return cp.answer(question, history, answerer=answerer_for(backend)).to_dict()
            except CopilotError as exc:
                raise gr.Error(str(exc)) from exc

        # no queue for the API: a direct request-response call, without the queue's event stream round trips
        gr.api(ask, api_name="ask", queue=False)
    return app


def _restore(dest: Path, backup: Path | None) -> None:
    """Put back what an upload replaced (or drop the copy) after a failed load."""
    try:
        if backup is not None and backup.exists():
            os.replace(backup, dest)
        else:
            dest.unlink(missing_ok=True)
    except OSError:
        pass


# ---------------------------------------------------------------- look, and starting the server

SYSTEM_SANS = ("ui-sans-serif", "system-ui", "-apple-system", "Segoe UI", "Roboto", "Helvetica Neue", "Arial",
               "sans-serif")
SYSTEM_MONO = ("ui-monospace", "SFMono-Regular", "Menlo", "Consolas", "Liberation Mono", "monospace")


def theme() -> gr.themes.Base:
    """System fonts only: nothing is fetched from the internet."""
    return gr.themes.Base(primary_hue="indigo", secondary_hue="slate", neutral_hue="slate",
                          radius_size="md", font=SYSTEM_SANS, font_mono=SYSTEM_MONO).set(
        body_background_fill="*neutral_50", block_border_width="1px", block_shadow="none",
        button_primary_background_fill="*primary_600", button_primary_background_fill_hover="*primary_700",
        button_cancel_background_fill="white", button_cancel_background_fill_hover="#fef2f2",
        button_cancel_text_color="#b91c1c", button_cancel_border_color="#fecaca")


CSS = """
.gradio-container { max-width: 1400px !important; margin: 0 auto !important; }
footer { opacity: .6; }
.cx-header { display: flex; justify-content: space-between; align-items: flex-end; gap: 1rem;
  padding: .4rem .2rem .2rem; }
.cx-brand { font-size: 1.45rem; font-weight: 700; letter-spacing: -.01em; color: var(--body-text-color); }
.cx-tagline { color: var(--body-text-color-subdued); font-size: .92rem; }
.cx-stats { color: var(--body-text-color-subdued); font-size: .85rem; white-space: nowrap; }
.cx-placeholder { text-align: center; color: var(--body-text-color-subdued); line-height: 1.6; }
#cx-chat a.cx-cite, a.cx-cite { display: inline-block; min-width: 1.25em; padding: 0 .3em; margin: 0 .1em;
  border-radius: 4px; font-size: .75em; line-height: 1.5; font-weight: 600; text-align: center;
  vertical-align: .15em; text-decoration: none !important; background: var(--primary-100);
  color: var(--primary-700) !important; border: 1px solid var(--primary-200); cursor: pointer; }
#cx-chat a.cx-cite:hover, a.cx-cite:hover { background: var(--primary-600); color: white !important; }
.cx-declined, .cx-error { border-left: 3px solid var(--neutral-400); padding: .1rem 0 .1rem .75rem;
  color: var(--body-text-color-subdued); font-style: italic; }
.cx-error { border-left-color: var(--error-border-color, #dc2626); }
.cx-declined-label { font-style: normal; font-size: .72rem; font-weight: 700; letter-spacing: .06em;
  text-transform: uppercase; color: var(--neutral-500); margin-bottom: .2rem; }
.cx-thinking { color: var(--body-text-color-subdued); font-style: italic; }
.cx-answer-meta { margin-top: .5rem; font-size: .76rem; line-height: 1.4; color: var(--body-text-color-subdued); }
.cx-answer-note { border-left: 2px solid var(--neutral-300); padding: .05rem 0 .05rem .5rem; margin-bottom: .25rem; }
.cx-answer-backend { opacity: .85; }
#cx-settings { justify-content: flex-end; }
#cx-backend { max-width: 340px; }
#cx-sources { max-height: 680px; overflow-y: auto; }
.cx-sources { padding: .25rem .1rem; }
.cx-panel-title { font-weight: 700; font-size: 1rem; margin-bottom: .35rem; }
.cx-question { font-size: .85rem; color: var(--body-text-color-subdued); margin: .2rem 0 .6rem;
  padding-bottom: .4rem; border-bottom: 1px solid var(--border-color-primary); }
.cx-muted { color: var(--body-text-color-subdued); font-size: .9rem; }
.cx-topics { margin: .3rem 0 0 1.1rem; font-size: .9rem; }
details.cx-src { border: 1px solid var(--border-color-primary); border-radius: 8px; margin: 0 0 .55rem;
  background: var(--background-fill-primary); transition: box-shadow .3s; }
details.cx-src > summary { display: flex; gap: .6rem; align-items: flex-start; padding: .55rem .7rem;
  cursor: pointer; list-style: none; }
details.cx-src > summary::-webkit-details-marker { display: none; }
details.cx-src[open] > summary { border-bottom: 1px solid var(--border-color-primary); }
.cx-n { flex: none; min-width: 1.5rem; height: 1.5rem; border-radius: 5px; background: var(--primary-100);
  color: var(--primary-700); font-weight: 700; font-size: .8rem; display: flex; align-items: center;
  justify-content: center; }
.cx-src-head { display: flex; flex-direction: column; min-width: 0; }
.cx-src-title { font-weight: 600; font-size: .92rem; }
.cx-src-meta { font-size: .78rem; color: var(--body-text-color-subdued); overflow-wrap: anywhere; }
.cx-passage { padding: .6rem .8rem .7rem; font-size: .88rem; line-height: 1.55; white-space: pre-wrap;
  overflow-wrap: anywhere; }
.cx-passage mark { background: #fdf0b5; color: inherit; padding: 0 .1em; border-radius: 2px; }
.dark .cx-passage mark { background: #6b5a12; }
details.cx-src.cx-flash { box-shadow: 0 0 0 3px var(--primary-300); }
details.cx-earlier { margin-top: 1rem; }
details.cx-earlier > summary { cursor: pointer; font-size: .85rem; color: var(--body-text-color-subdued);
  margin-bottom: .5rem; }
.cx-outcome { margin-top: .3rem; }
.cx-summary { font-weight: 600; margin-bottom: .3rem; }
.cx-table { width: 100%; border-collapse: collapse; font-size: .88rem; }
#cx-outcome table.cx-table, #cx-outcome .cx-table tr, #cx-outcome .cx-table td { border: none !important; }
#cx-outcome .cx-table td { padding: .3rem .5rem; border-bottom: 1px solid var(--border-color-primary) !important;
  vertical-align: top; }
#cx-table table, #cx-table table * { font-family: var(--font) !important; }
#cx-remove-row { align-items: flex-end; }
#cx-remove { align-self: flex-end; margin-bottom: 6px; }
#cx-admin-bar { align-items: center; justify-content: space-between; }
.cx-file { font-family: var(--font-mono); font-size: .82rem; overflow-wrap: anywhere; }
.cx-badge { display: inline-block; padding: 0 .45rem; border-radius: 999px; font-size: .75rem; font-weight: 600; }
.cx-added, .cx-replaced { background: #dcfce7; color: #166534; }
.cx-unchanged { background: var(--neutral-100); color: var(--neutral-600); }
.cx-failed, .cx-skipped { background: #fee2e2; color: #991b1b; }
.cx-notice { padding: .45rem .7rem; border-radius: 6px; font-size: .9rem; }
.cx-notice-ok { background: #dcfce7; color: #166534; }
.cx-notice-error { background: #fee2e2; color: #991b1b; }
.cx-notice-warning { background: #fef9c3; color: #854d0e; }
"""

# Citation markers open and reveal their passage in the sources panel (event delegation: the chat re-renders).
JS = """
() => {
  if (window.__cxCitations) return;
  window.__cxCitations = true;
  document.addEventListener('click', (event) => {
    const link = event.target.closest ? event.target.closest('a.cx-cite') : null;
    if (!link) return;
    event.preventDefault();
    event.stopPropagation();
    const target = document.getElementById((link.getAttribute('href') || '').slice(1));
    if (!target) return;
    for (let el = target; el; el = el.parentElement) { if (el.tagName === 'DETAILS') el.open = true; }
    target.scrollIntoView({behavior: 'smooth', block: 'nearest'});
    target.classList.remove('cx-flash');
    void target.offsetWidth;
    target.classList.add('cx-flash');
    setTimeout(() => target.classList.remove('cx-flash'), 1600);
  }, true);
}
"""


def launch(app: gr.Blocks, host: str = "127.0.0.1", port: int = 7860, block: bool = True, quiet: bool = False):
    """Start the app with the settings it needs. With block=False it returns once the server is up."""
    app.queue(default_concurrency_limit=2, max_size=256)
    return app.launch(server_name=host, server_port=port, prevent_thread_lock=not block, quiet=quiet,
                      theme=theme(), css=CSS, js=JS, footer_links=["api"], run_history=False, ssr_mode=False,
                      pwa=False, mcp_server=False, enable_monitoring=False, show_error=False, share=False,
                      max_file_size="200mb", inbrowser=False)


def serve(cp, host: str = "127.0.0.1", port: int = 7860) -> None:
    """`cx-copilot serve`: refuse non-local hosts without an admin password, then serve until interrupted."""
    check_host(host)
    app = build_app(cp)
    try:
        launch(app, host, port, block=False, quiet=True)
    except OSError as exc:
        raise CopilotError(f"Cannot listen on {host}:{port} ({exc}). Is another copilot running? Stop it or "
                           "choose another port with --port.") from exc
    shown = f"[{host}]" if ":" in host else host
    print(f"CX Copilot is running at http://{shown}:{port}/  (Ctrl+C to stop)", flush=True)
    if os.environ.get(ADMIN_ENV):
        print("The Library tab asks for the admin password (COPILOT_ADMIN_PASSWORD).", flush=True)
    app.block_thread()
