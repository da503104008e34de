"""Loading files into plain `Document` objects: PDF, Markdown, plain text and HTML.

Every loader returns the same shape: a title, metadata and a list of `Section`s, each with its heading
path and (for PDFs) its page number. Anything wrong with a file raises `LoadError(path, reason)` with a
reason a person can act on; nothing here touches the index. Sentences that address an AI assistant are
counted in `metadata["instruction_sentences"]` so that the Library can flag the document.
"""

from __future__ import annotations

import codecs
import io
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path

from .errors import LoadError
from .injection import count_instructions
from .text import clean_markdown

SUPPORTED = {".pdf": "pdf", ".md": "markdown", ".markdown": "markdown", ".txt": "text", ".text": "text",
             ".html": "html", ".htm": "html"}


@dataclass
class Section:
    text: str
    headings: tuple[str, ...] = ()
    page: int | None = None

    @property
    def path(self) -> str:
        return " > ".join(self.headings)


@dataclass
class Document:
    source: str  # the file name: how users refer to a document
    path: str
    kind: str  # pdf / markdown / text / html
    title: str
    sections: list[Section]
    metadata: dict = field(default_factory=dict)
    pages: int | None = None


def supported(path: Path) -> bool:
    return path.suffix.lower() in SUPPORTED


def load_document(path: str | Path) -> Document:
    """Read one file into a Document, or raise LoadError naming the file and the reason."""
    path = Path(path)
    if not path.exists():
        raise LoadError(path, "file not found")
    if path.is_dir():
        raise LoadError(path, "is a folder; pass its path to ingest to load the files in it")
    kind = SUPPORTED.get(path.suffix.lower())
    if kind is None:
        allowed = ", ".join(sorted({s for s in SUPPORTED if len(s) <= 5}))
        raise LoadError(path, f"unsupported file type '{path.suffix or '(none)'}' (supported: {allowed})")
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise LoadError(path, f"cannot be read ({exc.strerror or exc})") from exc
    if not data.strip():
        raise LoadError(path, "the file is empty")
    doc = _LOADERS[kind](path, data)
    doc.sections = [s for s in doc.sections if s.text.strip()]
    if not doc.sections:
        raise LoadError(path, "no text could be extracted from it")
    doc.metadata["instruction_sentences"] = count_instructions(s.text for s in doc.sections)  # after front matter
    return doc


# ---------------------------------------------------------------- text decoding

def decode_text(path: Path, data: bytes) -> str:
    """Decode bytes of a text file in whatever common encoding it uses; refuse binary content."""
    for bom, enc in ((codecs.BOM_UTF8, "utf-8-sig"), (codecs.BOM_UTF32_LE, "utf-32"),
                     (codecs.BOM_UTF32_BE, "utf-32"), (codecs.BOM_UTF16_LE, "utf-16"),
                     (codecs.BOM_UTF16_BE, "utf-16")):
        if data.startswith(bom):
            try:
                return data.decode(enc)
            except UnicodeDecodeError as exc:
                raise LoadError(path, f"not valid {enc} text ({exc.reason})") from exc
    if b"\x00" in data[:8192]:
        raise LoadError(path, "binary content, not text")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        try:
            text = data.decode("cp1252")
        except UnicodeDecodeError:
            text = data.decode("latin-1")
    sample = text[:8192]
    controls = sum(1 for ch in sample if ord(ch) < 32 and ch not in "\t\n\r\f")
    if controls > max(8, len(sample) // 50):
        raise LoadError(path, "binary content, not text")
    return text


# ---------------------------------------------------------------- headings to sections

class _Outline:
    """Builds sections from a stream of headings (with levels) and body text. The first level-1 heading,
    met before any text, is the document's title rather than part of the heading path."""

    def __init__(self, body: Callable[[list[str]], str]):
        self.body = body  # joins the buffered pieces of one section into its text
        self.title: str | None = None
        self.sections: list[Section] = []
        self.stack: list[tuple[int, str]] = []
        self.buf: list[str] = []

    def flush(self) -> None:
        text = self.body(self.buf).strip() if self.buf else ""
        if text:
            self.sections.append(Section(text, tuple(h for _, h in self.stack)))
        self.buf = []

    def heading(self, level: int, text: str) -> None:
        self.flush()
        if level == 1 and self.title is None and not self.sections and not self.stack:
            self.title = text
            return
        while self.stack and self.stack[-1][0] >= level:
            self.stack.pop()
        self.stack.append((level, text))

    def text(self, piece: str) -> None:
        self.buf.append(piece)

    def result(self) -> tuple[str | None, list[Section]]:
        self.flush()
        return self.title, self.sections


# ---------------------------------------------------------------- markdown

_FRONT_MATTER = re.compile(r"\A---\s*\n(.*?)\n---\s*(?:\n|\Z)", re.S)
_HEADING = re.compile(r"^(#{1,6})\s+(.+?)\s*#*\s*$")


def split_markdown(text: str) -> tuple[str | None, list[Section]]:
    """Markdown body to (title, sections); the heading path excludes the `#` title."""
    outline = _Outline(lambda lines: clean_markdown("\n".join(lines)))
    in_code = False
    for line in text.splitlines():
        if line.strip().startswith("```"):
            in_code = not in_code
            continue
        m = None if in_code else _HEADING.match(line)
        if m:
            outline.heading(len(m.group(1)), clean_markdown(m.group(2)).strip())
        else:
            outline.text(line)
    return outline.result()


def _load_markdown(path: Path, data: bytes) -> Document:
    text = decode_text(path, data)
    meta: dict = {}
    m = _FRONT_MATTER.match(text)
    if m:
        import yaml

        try:
            meta = yaml.safe_load(m.group(1)) or {}
        except yaml.YAMLError as exc:
            where = getattr(exc, "problem_mark", None)
            line = f" (line {where.line + 2})" if where is not None else ""
            raise LoadError(path, f"front matter is not valid YAML{line}") from exc
        if not isinstance(meta, dict):
            raise LoadError(path, "front matter must be a mapping of fields (title: ..., topic: ...)")
        text = text[m.end():]
    title, sections = split_markdown(text)
    meta = {k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in meta.items()}
    return Document(path.name, str(path), "markdown", str(meta.get("title") or title or _title_from_name(path)),
                    sections, meta)


# ---------------------------------------------------------------- plain text

def _load_text(path: Path, data: bytes) -> Document:
    text = decode_text(path, data).replace("\r\n", "\n").replace("\r", "\n")
    lines = text.split("\n")
    sections: list[Section] = []
    heading: tuple[str, ...] = ()
    buf: list[str] = []
    title = None

    def flush():
        body = "\n".join(buf).strip()
        if body:
            sections.append(Section(body, heading))
        buf.clear()

    i = 0
    while i < len(lines):
        line = lines[i].strip()
        nxt = lines[i + 1].strip() if i + 1 < len(lines) else ""
        underlined = bool(line) and bool(re.fullmatch(r"(=+|-+)", nxt)) and len(nxt) >= 3
        prev_blank = i == 0 or not lines[i - 1].strip()
        next_blank = not nxt
        looks_heading = (prev_blank and next_blank and 0 < len(line) <= 80 and not line.endswith((".", ",", ";", ":"))
                         and len(line.split()) <= 12 and line[:1].isupper())
        if underlined or (looks_heading and i + 2 < len(lines)):
            flush()
            if title is None and not sections:
                title = line
                heading = ()
            else:
                heading = (line,)
            i += 2 if underlined else 1
            continue
        buf.append(lines[i])
        i += 1
    flush()
    return Document(path.name, str(path), "text", title or _title_from_name(path), sections)


# ---------------------------------------------------------------- HTML

_SKIP_TAGS = {"script", "style", "nav", "header", "footer", "aside", "noscript", "form", "template", "svg",
              "iframe", "button", "select", "object", "canvas", "dialog", "menu"}
_VOID = {"br", "hr", "img", "input", "meta", "link", "area", "base", "col", "embed", "param", "source",
         "track", "wbr"}
_BLOCK = {"p", "div", "li", "ul", "ol", "br", "tr", "table", "section", "article", "main", "blockquote",
          "pre", "dd", "dt", "figcaption", "h1", "h2", "h3", "h4", "h5", "h6", "hr"}
_BOILERPLATE = re.compile(r"(^|[-_ ])(nav|navbar|menu|footer|sidebar|breadcrumbs?|cookie|banner|advert|ads|"
                          r"share|social|skip-link|masthead)([-_ ]|$)", re.I)


class _HTMLText(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.stack: list[tuple[str, bool]] = []  # (tag, skipped)
        self.skip_depth = 0
        self.title = ""
        self.in_title = False
        self.blocks: list[tuple[str, str]] = []  # (kind, text): kind is "h1".."h6" or "p"
        self.buf: list[str] = []
        self.heading_tag: str | None = None
        self.main_seen = False
        self.main_blocks: list[tuple[str, str]] | None = None
        self.main_depth = 0

    def _flush(self, kind="p"):
        text = " ".join("".join(self.buf).split())
        self.buf = []
        if text:
            target = self.main_blocks if self.main_depth and self.main_blocks is not None else self.blocks
            target.append((kind, text))
            if self.main_depth and self.main_blocks is not None:
                pass

    def handle_starttag(self, tag, attrs):
        if tag == "title":
            self.in_title = True
            return
        if tag in _VOID:
            if tag in _BLOCK and not self.skip_depth:
                self._flush()
            return
        a = dict(attrs)
        marker = " ".join(filter(None, [a.get("class"), a.get("id"), a.get("role")]))
        skip = (tag in _SKIP_TAGS or "hidden" in a or a.get("aria-hidden") == "true"
                or (tag in {"div", "section", "ul", "p", "span"} and bool(_BOILERPLATE.search(marker)))
                or a.get("role") in {"navigation", "banner", "contentinfo", "complementary"})
        self.stack.append((tag, skip))
        if skip:
            self.skip_depth += 1
            return
        if self.skip_depth:
            return
        if tag in _BLOCK:
            self._flush()
        if tag in {"main", "article"} or a.get("role") == "main":
            if self.main_blocks is None:
                self.main_blocks = []
            self.main_depth += 1
        if tag in {"h1", "h2", "h3", "h4", "h5", "h6"}:
            self.heading_tag = tag

    def handle_endtag(self, tag):
        if tag == "title":
            self.in_title = False
            return
        if tag in _VOID:
            return
        # pop to the matching tag (tolerates unclosed tags)
        for i in range(len(self.stack) - 1, -1, -1):
            if self.stack[i][0] == tag:
                for t, skipped in self.stack[i:][::-1]:
                    if skipped:
                        self.skip_depth -= 1
                    elif not self.skip_depth:
                        if t == self.heading_tag:
                            self._flush(t)
                            self.heading_tag = None
                        elif t in _BLOCK:
                            self._flush()
                        if t in {"main", "article"} and self.main_depth:
                            self.main_depth -= 1
                del self.stack[i:]
                break

    def handle_data(self, data):
        if self.in_title:
            self.title += data
        elif not self.skip_depth:
            self.buf.append(data)

    def result(self) -> tuple[str, list[tuple[str, str]]]:
        self._flush()
        return " ".join(self.title.split()), (self.main_blocks if self.main_blocks else self.blocks)


def html_to_sections(html: str) -> tuple[str, list[Section]]:
    parser = _HTMLText()
    parser.feed(html)
    parser.close()
    page_title, blocks = parser.result()
    outline = _Outline("\n\n".join)
    for kind, text in blocks:
        if kind.startswith("h"):
            outline.heading(int(kind[1]), text)
        else:
            outline.text(text)
    h1, sections = outline.result()
    return page_title or h1 or "", sections


def _load_html(path: Path, data: bytes) -> Document:
    text = decode_text(path, data)
    m = re.search(rb'<meta[^>]+charset=["\']?([\w-]+)', data[:4096], re.I)
    if m:
        try:
            text = data.decode(m.group(1).decode("ascii"))
        except (LookupError, UnicodeDecodeError):
            pass
    title, sections = html_to_sections(text)
    return Document(path.name, str(path), "html", title or _title_from_name(path), sections)


# ---------------------------------------------------------------- PDF

def _load_pdf(path: Path, data: bytes) -> Document:
    if not data.lstrip()[:5].startswith(b"%PDF-"):
        raise LoadError(path, "not a PDF file (its content does not start with %PDF)")
    import logging

    from pypdf import PdfReader
    from pypdf.errors import FileNotDecryptedError, PdfReadError, PdfStreamError

    logging.getLogger("pypdf").setLevel(logging.ERROR)
    try:
        reader = PdfReader(io.BytesIO(data), strict=False)
        if reader.is_encrypted:
            try:
                ok = reader.decrypt("")
            except Exception:  # noqa: BLE001 - pypdf raises several kinds here
                ok = 0
            if not ok:
                raise LoadError(path, "the PDF is encrypted (password-protected); save an unprotected copy first")
        n_pages = len(reader.pages)
        sections: list[Section] = []
        for number, page in enumerate(reader.pages, start=1):
            text = page.extract_text() or ""
            sections.extend(_pdf_sections(_tidy_pdf_text(text), number))
        info = reader.metadata or {}
        meta_title = (info.get("/Title") or "").strip() if hasattr(info, "get") else ""
    except LoadError:
        raise
    except FileNotDecryptedError as exc:
        raise LoadError(path, "the PDF is encrypted (password-protected); save an unprotected copy first") from exc
    except (PdfReadError, PdfStreamError, ValueError, KeyError, TypeError, AttributeError, IndexError,
            AssertionError, RecursionError, OSError) as exc:
        raise LoadError(path, f"the PDF is damaged or truncated ({type(exc).__name__})") from exc
    if not sections:
        raise LoadError(path, f"no extractable text in its {n_pages} page(s) (a scanned PDF needs OCR first)")
    first_line = (sections[0].headings or (sections[0].text.strip().split("\n", 1)[0].strip(),))[0]
    title = meta_title or (first_line if 0 < len(first_line) <= 100 else _title_from_name(path))
    return Document(path.name, str(path), "pdf", title, sections, pages=n_pages)


def _tidy_pdf_text(text: str) -> str:
    """Rejoin lines that a PDF wrapped; a line that ends well short of the page's usual width ends its
    paragraph (so headings and paragraph ends survive even when the PDF has no blank lines)."""
    text = re.sub(r"-\n(?=[a-z])", "", text)  # words hyphenated across lines
    lines = [line.strip() for line in text.splitlines()]
    full = sorted((len(x) for x in lines if x), reverse=True)
    width = full[len(full) // 10] if full else 0  # a typical full line, ignoring the odd long one
    out: list[str] = []
    prev_full = False
    for line in lines:
        if not line:
            out.append("")
            prev_full = False
            continue
        item = bool(re.match(r"([-•*]|\d+[.)])\s", line))
        if out and out[-1] and prev_full and not item:
            out[-1] += " " + line
        else:
            if out and out[-1]:
                out.append("")
            out.append(line)
        prev_full = len(line) >= 0.75 * width and not line.endswith((":",))
    return re.sub(r"\n{3,}", "\n\n", "\n".join(out)).strip()


def _pdf_sections(text: str, page: int) -> list[Section]:
    """A page's paragraphs grouped under the short title-like lines (headings) found on it."""
    sections: list[Section] = []
    heading: tuple[str, ...] = ()
    buf: list[str] = []
    for para in [p.strip() for p in text.split("\n\n") if p.strip()]:
        looks_heading = (len(para) <= 80 and len(para.split()) <= 12 and "\n" not in para
                         and not para.endswith((".", ",", ";", "?", "!")) and para[:1].isupper())
        if looks_heading:
            if buf:
                sections.append(Section("\n\n".join(buf), heading, page))
                buf = []
            heading = (para,)
        else:
            buf.append(para)
    if buf:
        sections.append(Section("\n\n".join(buf), heading, page))
    return sections


def _title_from_name(path: Path) -> str:
    return re.sub(r"[-_]+", " ", path.stem).strip().capitalize() or path.name


_LOADERS = {"pdf": _load_pdf, "markdown": _load_markdown, "text": _load_text, "html": _load_html}
