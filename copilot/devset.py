"""A development set written by others: encyclopedia articles with crowdworkers' questions and answer spans.

The data is SQuAD 2.0 (Rajpurkar, Jia and Liang, 2018, "Know What You Don't Know: Unanswerable Questions for
SQuAD"; text from Wikipedia; CC BY-SA 4.0). The shape of a file (`benchmarks/data/squad-dev-3-articles.json`):

    {"source": "...", "articles": [{"title", "paragraphs": [str], "questions": [{"id", "question",
     "paragraph", "answers": [str]}], "unanswerable": [{"id", "question", "paragraph"}]}]}

Each article is written to a file in one of several formats (Markdown, HTML with the clutter of a real web
page, plain text, a generated PDF), loaded into an index that also holds the built-in corpus, and every
question is asked. An answer is scored on whether a gold span (SQuAD normalisation: lower case, no
punctuation, no articles) is in the answer, in its first sentence, and in a passage it cites.

Articles are split by position: `fit` (the first article) is what answer weights are fitted on; `report`
(the rest) is only ever reported on.
"""

from __future__ import annotations

import html
import json
import re
import statistics
import string
import textwrap
import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from .config import PROJECT_DIR

ATTRIBUTION = ("SQuAD 2.0 development set (Rajpurkar, Jia and Liang, 2018); article text from Wikipedia; "
               "CC BY-SA 4.0")
DEFAULT_PATH = PROJECT_DIR / "benchmarks" / "data" / "squad-dev-3-articles.json"
SPLITS = {"fit": slice(0, 1), "report": slice(1, None), "all": slice(None)}
LAYOUT = ("markdown", "html", "pdf", "text")  # article i is written in LAYOUT[i % len(LAYOUT)]


def load(path: str | Path | None = None) -> list[dict]:
    """The articles of a dev-set file."""
    data = json.loads(Path(path or DEFAULT_PATH).read_text(encoding="utf-8"))
    return data["articles"]


def split(articles: list[dict], part: str) -> list[dict]:
    """`fit`: the first article; `report`: the others; `all`: every one."""
    if part not in SPLITS:
        raise ValueError(f"unknown split {part!r} (known: {', '.join(SPLITS)})")
    return articles[SPLITS[part]]


def slug(title: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-") or "article"


# ---------------------------------------------------------------- writing an article as a file

def as_markdown(article: dict) -> bytes:
    body = "\n\n".join(article["paragraphs"])
    return f"# {article['title']}\n\n{body}\n".encode()


def as_text(article: dict) -> bytes:
    body = "\n\n".join(article["paragraphs"])
    return f"{article['title']}\n\n{body}\n".encode()


def as_html(article: dict) -> bytes:
    """The article inside the clutter of a real web page: navigation, a cookie banner, a table of contents,
    a sidebar of related links, edit links and a footer. Only the article's own text should be loaded."""
    title = html.escape(article["title"])
    paras = "\n".join(f"<p>{html.escape(p)}<sup class=\"reference\"><a href=\"#cite-{n}\">[{n + 1}]</a></sup></p>"
                      for n, p in enumerate(article["paragraphs"]))
    related = "".join(f'<li><a href="/wiki/{n}">Related article {n}</a></li>' for n in range(1, 9))
    page = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{title} - Encyclopedia of Everything</title>
<style>body {{ font-family: sans-serif; }} .banner {{ position: fixed; }}</style>
<script>window.dataLayer = window.dataLayer || []; function track() {{ return "page view"; }}</script>
</head><body>
<div class="cookie-banner" id="cookie-consent">We use cookies to improve your experience. <button>Accept all</button>
<a href="/privacy">Privacy policy</a></div>
<header class="site-header"><a class="logo" href="/">Encyclopedia of Everything</a>
<nav class="main-nav"><ul><li><a href="/">Main page</a></li><li><a href="/contents">Contents</a></li>
<li><a href="/random">Random article</a></li><li><a href="/about">About</a></li><li><a href="/donate">Donate</a></li>
</ul></nav><form class="search"><input type="search" placeholder="Search the encyclopedia"></form></header>
<div class="layout"><aside class="sidebar"><h3>Related articles</h3><ul>{related}</ul>
<h3>Tools</h3><ul><li><a href="?action=print">Printable version</a></li><li><a href="?action=cite">Cite this page</a></li></ul></aside>
<main id="content"><div class="breadcrumbs"><a href="/">Home</a> &rsaquo; <a href="/geo">Places</a> &rsaquo; {title}</div>
<h1 class="page-title">{title}</h1>
<div class="toc" id="toc"><h2>Contents</h2><ol><li><a href="#overview">Overview</a></li><li><a href="#references">References</a></li></ol></div>
<div class="article-body">
{paras}
</div>
<div class="share-buttons"><a href="/share/twitter">Share on X</a> <a href="/share/facebook">Share on Facebook</a></div>
<div class="edit-links"><a href="?action=edit">Edit this page</a> &middot; <a href="?action=history">View history</a></div>
</main></div>
<footer class="site-footer"><p>Text is available under the Creative Commons Attribution-ShareAlike License.</p>
<p>&copy; Encyclopedia of Everything contributors. <a href="/terms">Terms of use</a> &middot; <a href="/privacy">Privacy</a></p></footer>
</body></html>
"""
    return page.encode("utf-8")


def _latin1(text: str) -> str:
    """Text a PDF's standard Type 1 fonts can show: characters outside Latin-1 folded to their closest ASCII."""
    out = []
    for ch in text:
        if ord(ch) < 256:
            out.append(ch)
        else:
            folded = unicodedata.normalize("NFKD", ch).encode("ascii", "ignore").decode()
            out.append(folded or {"\u2013": "-", "\u2014": "-", "\u2018": "'", "\u2019": "'", "\u201c": '"',
                                  "\u201d": '"', "\u2212": "-"}.get(ch, " "))
    return "".join(out)


def make_pdf(pages: list[str], title: str | None = None, width: int = 90) -> bytes:
    """A small, valid PDF with one text page per string (Helvetica, lines wrapped at `width` characters).
    A page's blank lines separate paragraphs; a long page flows onto further PDF pages."""
    lines_per_page = 52
    page_lines: list[list[str]] = []
    for text in pages:
        lines: list[str] = []
        for para in _latin1(text).split("\n"):
            lines.extend(textwrap.wrap(para, width) or [""])
        for start in range(0, max(1, len(lines)), lines_per_page):
            page_lines.append(lines[start:start + lines_per_page])
    objects: list[bytes] = []

    def add(obj: bytes) -> int:
        objects.append(obj)
        return len(objects)

    font = add(b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>")
    page_ids, content_ids = [], []
    for lines in page_lines:
        ops = ["BT", "/F1 11 Tf", "14 TL", "50 780 Td"]
        for line in lines:
            esc = line.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")
            ops.append(f"({esc}) Tj T*")
        ops.append("ET")
        stream = "\n".join(ops).encode("latin-1")
        content_ids.append(add(b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream"))
        page_ids.append(add(b""))  # filled in once the Pages object's number is known
    pages_id = add(b"")
    for pid, cid in zip(page_ids, content_ids):
        objects[pid - 1] = (b"<< /Type /Page /Parent %d 0 R /MediaBox [0 0 612 842] /Contents %d 0 R "
                            b"/Resources << /Font << /F1 %d 0 R >> >> >>" % (pages_id, cid, font))
    kids = b" ".join(b"%d 0 R" % p for p in page_ids)
    objects[pages_id - 1] = b"<< /Type /Pages /Kids [%s] /Count %d >>" % (kids, len(page_ids))
    catalog = add(b"<< /Type /Catalog /Pages %d 0 R >>" % pages_id)
    info = add(b"<< /Title (%s) >>" % _latin1(title).encode("latin-1")) if title else None
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for n, obj in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % n + obj + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    for off in offsets:
        out += b"%010d 00000 n \n" % off
    trailer = b"<< /Size %d /Root %d 0 R" % (len(objects) + 1, catalog)
    if info:
        trailer += b" /Info %d 0 R" % info
    out += b"trailer\n" + trailer + b" >>\nstartxref\n%d\n%%%%EOF\n" % xref
    return bytes(out)


def as_pdf(article: dict) -> bytes:
    return make_pdf([article["title"] + "\n\n" + "\n\n".join(article["paragraphs"])], title=article["title"])


WRITERS: dict[str, tuple[str, Callable[[dict], bytes]]] = {
    "markdown": (".md", as_markdown), "html": (".html", as_html), "text": (".txt", as_text), "pdf": (".pdf", as_pdf),
}


def write_articles(articles: list[dict], folder: Path, layout: Iterable[str] = LAYOUT,
                   offset: int = 0) -> dict[str, str]:
    """Write article i in format layout[(i + offset) % len(layout)]; returns {file name: article title}."""
    layout = list(layout)
    folder.mkdir(parents=True, exist_ok=True)
    names: dict[str, str] = {}
    for i, article in enumerate(articles):
        fmt = layout[(i + offset) % len(layout)]
        suffix, writer = WRITERS[fmt]
        name = slug(article["title"]) + suffix
        (folder / name).write_bytes(writer(article))
        names[name] = article["title"]
    return names


# ---------------------------------------------------------------- scoring spans

_ARTICLES = re.compile(r"\b(a|an|the)\b")
_PUNCT = set(string.punctuation) | {"–", "—", "‘", "’", "“", "”", "…", "−"}


def normalise_answer(text: str) -> str:
    """SQuAD's answer normalisation (lower case, punctuation and articles removed, whitespace collapsed), with
    citation markers removed and accents folded (a PDF's fonts may not carry them)."""
    text = re.sub(r"\s*\[\d+\]", "", text)
    text = unicodedata.normalize("NFKD", text)
    text = "".join(ch for ch in text if not unicodedata.combining(ch))
    text = "".join(" " if ch in _PUNCT else ch for ch in text.lower())
    return " ".join(_ARTICLES.sub(" ", text).split())


def holds_span(text: str, answers: Iterable[str]) -> bool:
    """Does `text` contain one of the gold answer spans, as whole words after normalisation?"""
    body = f" {normalise_answer(text)} "
    return any(f" {a} " in body for a in (normalise_answer(x) for x in answers) if a)


def first_sentence(text: str) -> str:
    from .text import split_sentences

    units = split_sentences(text)
    return units[0] if units else ""


def answer_words(text: str) -> int:
    return len(re.sub(r"\s*\[\d+\]", "", text).split())


@dataclass
class SpanJudgement:
    id: str
    question: str
    answerable: bool
    declined: bool
    in_answer: bool = False
    in_first: bool = False
    in_cited: bool = False  # in the answer and in a passage the answer cites
    retrieved: bool = False  # in one of the passages retrieved for the question
    words: int = 0
    ms: float = 0.0
    answer: str = ""
    answers: list[str] = field(default_factory=list)


def judge_span(item: dict, result, passages_text: list[str], ms: float, answerable: bool = True) -> SpanJudgement:
    answers = item.get("answers", [])
    j = SpanJudgement(item["id"], item["question"], answerable, result.abstained, ms=ms, answer=result.text,
                      answers=answers, words=0 if result.abstained else answer_words(result.text))
    if not answerable:
        return j
    j.retrieved = any(holds_span(t, answers) for t in passages_text)
    if result.abstained:
        return j
    j.in_answer = holds_span(result.text, answers)
    j.in_first = holds_span(first_sentence(result.text), answers)
    j.in_cited = j.in_answer and any(holds_span(c.text, answers) and holds_span(result.text, answers)
                                     for c in result.citations)
    return j


def summarise(judgements: list[SpanJudgement], label: str = "") -> dict:
    answerable = [j for j in judgements if j.answerable]
    unanswerable = [j for j in judgements if not j.answerable]
    out: dict = {"label": label, "questions": len(answerable)}
    if answerable:
        n = len(answerable)
        answered = [j for j in answerable if not j.declined]
        out.update({
            "in_answer": sum(j.in_answer for j in answerable) / n,
            "in_cited": sum(j.in_cited for j in answerable) / n,
            "in_first_sentence": sum(j.in_first for j in answerable) / n,
            "retrieved@5": sum(j.retrieved for j in answerable) / n,
            "declined": sum(j.declined for j in answerable) / n,
            "median_words": statistics.median([j.words for j in answered]) if answered else 0,
            "p50_ms": statistics.median([j.ms for j in answerable]),
        })
    if unanswerable:
        out["unanswerable"] = len(unanswerable)
        out["unanswerable_declined"] = sum(j.declined for j in unanswerable) / len(unanswerable)
    return out


def evaluate_dev(copilot, articles: list[dict], label: str = "", answerer=None,
                 unanswerable: bool = True) -> tuple[dict, list[SpanJudgement]]:
    """Ask every question of `articles` (already loaded into `copilot`) and score the answers."""
    import time

    judgements: list[SpanJudgement] = []
    for article in articles:
        items = [(q, True) for q in article["questions"]]
        if unanswerable:
            items += [(q, False) for q in article.get("unanswerable", [])]
        for item, answerable in items:
            t0 = time.perf_counter()
            result = copilot.answer(item["question"], answerer=answerer)
            ms = (time.perf_counter() - t0) * 1000
            texts = [h.chunk.text for h in copilot.search(item["question"])] if answerable else []
            judgements.append(judge_span(item, result, texts, ms, answerable))
    return summarise(judgements, label), judgements


def with_dev_documents(copilot, folder: Path, articles: list[dict], layout: Iterable[str] = LAYOUT, offset: int = 0):
    """A copy of `copilot`'s index in `folder / "index"` with `articles` written (in `layout`, rotated by
    `offset`) to `folder / "docs"` and loaded."""
    import shutil

    from .core import Copilot

    shutil.copytree(copilot.index_dir, folder / "index")
    write_articles(articles, folder / "docs", layout, offset)
    copy = Copilot(folder / "index", embedder=copilot.embedder, retrieval=copilot.retrieval,
                   answerer=copilot.answerer, chunking=copilot.chunking, corpus=False)
    report = copy.ingest([folder / "docs"])
    if report.failed:
        raise RuntimeError("dev articles failed to load: " + "; ".join(f.line() for f in report.failed))
    return copy


COLUMNS = ["label", "questions", "in_answer", "in_cited", "in_first_sentence", "retrieved@5", "declined",
           "median_words", "p50_ms", "unanswerable", "unanswerable_declined"]


def format_rows(rows: list[dict]) -> str:
    from .evaluation import format_table

    return format_table(rows, COLUMNS)
