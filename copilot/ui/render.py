"""Pure rendering: everything the web app shows, as escaped HTML (no gradio here, all of it tested).

Everything that comes from documents (answers, passages, titles, file names, reasons) is HTML-escaped here
before it reaches any component that renders HTML or Markdown, and the chatbot's own sanitizer stays on.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable
from pathlib import Path

SOURCE_HEADERS = ["Title", "File", "Type", "Chunks", "Pages", "Loaded at", "Flags"]


def instruction_flag(count) -> str:
    """What the Library says of a document with sentences addressed to an AI assistant ("" for none)."""
    n = int(count or 0)
    if not n:
        return ""
    return (f"⚠ {n} sentence{'s' if n != 1 else ''} addressed to an AI assistant (prompt injection?): never used "
            "as knowledge")


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


def render_table_answer(text: str, rows: list[dict], summary: str, turn: int, cited: Iterable[int] = ()) -> str:
    """A sources-side-by-side answer: its first line, a table with one row per source (the extract, its
    citation linked to the sources panel), then the sentence on differences. Everything escaped."""
    cited = set(cited)
    head = (text or "").split("\n", 1)[0]
    body = []
    for r in rows:
        n = int(r.get("n") or 0)
        link = (f'<a class="cx-cite" href="#{cite_id(turn, n)}" title="Show source {n}">{n}</a>' if n in cited
                else "")
        doc = f'<div class="cx-muted">{esc(r.get("document"))}</div>' if r.get("attributed") else ""
        body.append(f'<tr><td class="cx-compare-source">{esc(r.get("source"))}{doc}</td>'
                    f'<td class="cx-compare-extract">{esc(r.get("extract"))}</td><td>{link}</td></tr>')
    table = ('<table class="cx-compare"><thead><tr><th>Source</th><th>Definition (extract)</th><th></th></tr>'
             f'</thead><tbody>{"".join(body)}</tbody></table>')
    tail = f'<p class="cx-compare-summary">{esc(summary)}</p>' if summary else ""
    return f"<p>{esc(head)}</p>{table}{tail}"


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


EMPTY_PANEL = ('<div class="cx-sources"><div class="cx-panel-title">Sources</div><p class="cx-muted">'
                "The passages behind each answer appear here. Select a citation number in an answer to open "
                "its passage; the sentences quoted in the answer are highlighted.</p></div>")


def render_sources(turns: list[dict], topics: Iterable[str] = ()) -> str:
    """The sources panel: the latest answer's citations, then earlier answers' (collapsed)."""
    answered = [(k, t) for k, t in enumerate(turns) if t.get("kind") in {"answer", "declined"}]
    if not answered:
        return EMPTY_PANEL
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


def render_outcomes(report, flags: dict | None = None) -> str:
    """The per-file outcome of a load as escaped HTML; `flags` maps a source to its count of sentences
    addressed to an AI assistant."""
    rows = []
    for f in report.files:
        name = Path(f.path).name
        if f.status in {"added", "replaced"}:
            detail = f"{f.chunks} chunk{'s' if f.chunks != 1 else ''}"
            flag = instruction_flag((flags or {}).get(f.source))
            if flag:
                detail = f"{detail}. {flag}"
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
                     s.get("pages") or "", loaded, instruction_flag(s.get("instructions"))])
    return rows


def messages(turns: list[dict], partial: str | None = None, pending_question: str | None = None) -> list[dict]:
    msgs: list[dict] = []
    for k, t in enumerate(turns):
        msgs.append({"role": "user", "content": md_text(t["question"])})
        if t["kind"] == "error":
            content = render_error(t["answer"])
        elif t.get("table"):
            content = render_table_answer(t["answer"], t["table"], t.get("summary", ""), k,
                                          [c["n"] for c in t["citations"]])
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


def header(sources: list[dict]) -> str:
    """The page header: name, tagline and the size of the knowledge base."""
    chunks = sum(s.get("chunks") or 0 for s in sources)
    return (f'<div class="cx-header"><div><div class="cx-brand">CX Copilot</div><div class="cx-tagline">Answers '
            "from your customer-experience knowledge base, with the passages they rest on.</div></div>"
            f'<div class="cx-stats">{len(sources)} documents · {chunks} passages</div></div>')
