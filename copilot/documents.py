"""Loading files into plain `Document` objects: PDF, Markdown, plain text and HTML.

Every loader returns the same shape: a title, metadata and a list of `Section`s, each with its heading
path and (for PDFs) its page number. Anything wrong with a file raises `LoadError(path, reason)` with a
reason a person can act on; nothing here touches the index.

Hostile files fail alone: `load_document` turns anything that goes wrong inside one file (a parser's own
exception, a recursion or memory error, a pypdf limit, the per-file time limit) into that file's LoadError.
`LoadLimits` bounds what one file may cost (size, decompressed PDF streams, pages, text, seconds); each limit
is a setting with a safe default (environment variables, see `LoadLimits.ENV`). Text is decoded in whatever
encoding it uses (charset-normalizer detects UTF-16/32 without a BOM and legacy code pages), and control
characters are removed from everything a loader returns. Sentences that address an AI assistant are counted
in `metadata["instruction_sentences"]` so that the Library can flag the document.
"""

from __future__ import annotations

import codecs
import functools
import io
import re
from collections.abc import Callable
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field, fields
from html.parser import HTMLParser
from pathlib import Path

from .deadline import TimeLimitExceeded, time_limit
from .envvars import env_number
from .errors import LoadError
from .injection import count_instructions

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


@dataclass(frozen=True)
class LoadLimits:
    """What loading one file may cost. Beyond a limit the file fails with a reason naming the setting."""

    file_mb: float = 200.0  # the file itself
    decompressed_mb: float = 100.0  # any one PDF stream or image, once decompressed
    pages: int = 5_000  # pages of a PDF
    text_chars: int = 20_000_000  # text extracted from the file
    seconds: float = 120.0  # reading and parsing it

    ENV = {"file_mb": "COPILOT_MAX_FILE_MB", "decompressed_mb": "COPILOT_MAX_DECOMPRESSED_MB",
           "pages": "COPILOT_MAX_PAGES", "text_chars": "COPILOT_MAX_TEXT_CHARS", "seconds": "COPILOT_LOAD_SECONDS"}

    @classmethod
    def from_env(cls) -> LoadLimits:
        """The defaults, each overridden by its environment variable when set."""
        return cls(**{f.name: env_number(cls.ENV[f.name], f.default, type(f.default)) for f in fields(cls)})


_LIMITS: ContextVar[LoadLimits] = ContextVar("copilot_load_limits", default=LoadLimits())


def current_limits() -> LoadLimits:
    """The limits of the load in progress (for the loaders)."""
    return _LIMITS.get()


def load_document(path: str | Path, limits: LoadLimits | None = None) -> Document:
    """Read one file into a Document, or raise LoadError naming the file and the reason. Whatever goes wrong
    inside the file's parsing is its own LoadError; `limits` defaults to `LoadLimits.from_env()`."""
    path = Path(path)
    limits = limits or LoadLimits.from_env()
    if not path.exists():
        raise LoadError(path, "file not found")
    if path.is_dir():
        raise LoadError(path, "is a folder; pass its path to ingest to load the files in it")
    if not path.is_file():
        raise LoadError(path, "is not a regular file (a device, pipe or socket)")
    kind = SUPPORTED.get(path.suffix.lower())
    if kind is None:
        allowed = ", ".join(sorted({s for s in SUPPORTED if len(s) <= 5}))
        raise LoadError(path, f"unsupported file type '{path.suffix or '(none)'}' (supported: {allowed})")
    try:
        size = path.stat().st_size
        if size > limits.file_mb * 1_000_000:
            raise LoadError(path, f"the file is {size / 1e6:,.1f} MB; the limit is {limits.file_mb:g} MB "
                                  f"({LoadLimits.ENV['file_mb']})")
        data = path.read_bytes()
    except OSError as exc:
        raise LoadError(path, f"cannot be read ({exc.strerror or exc})") from exc
    if not data.strip():
        raise LoadError(path, "the file is empty")
    token = _LIMITS.set(limits)
    try:
        with time_limit(limits.seconds), _pdf_limits(limits):
            doc = _LOADERS[kind](path, data)
            _finish(path, doc, limits)
    except LoadError:
        raise
    except TimeLimitExceeded:
        raise LoadError(path, f"reading it took longer than {limits.seconds:g} s ({LoadLimits.ENV['seconds']}); "
                              "it may be damaged, or much larger inside than it looks") from None
    except Exception as exc:  # noqa: BLE001 - whatever one file does, it fails alone, with a reason
        raise LoadError(path, _reason(kind, exc, limits)) from exc
    finally:
        _LIMITS.reset(token)
    return doc


_KIND_NAMES = {"pdf": "a PDF", "markdown": "Markdown", "text": "text", "html": "HTML"}


def _reason(kind: str, exc: Exception, limits: LoadLimits) -> str:
    """A person's reason for an exception raised while parsing a file of this kind."""
    name = type(exc).__name__
    if name == "LimitReachedError":  # pypdf refused to decompress or parse beyond its configured limits
        return (f"its content expands beyond the loading limits ({_short(exc)}); a small file that grows this "
                f"much is likely a decompression bomb. If it is trusted, raise {LoadLimits.ENV['decompressed_mb']} "
                f"(now {limits.decompressed_mb:g} MB)")
    if isinstance(exc, MemoryError):
        return "it needs more memory than this machine has to be read (it may be damaged or hostile)"
    if isinstance(exc, RecursionError):
        return "it is nested too deeply to be read (it may be damaged or hostile)"
    detail = _short(exc)
    return f"it could not be read as {_KIND_NAMES.get(kind, kind)} ({name}{': ' + detail if detail else ''})"


def _short(exc: BaseException, limit: int = 160) -> str:
    text = " ".join(str(exc).split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


@contextmanager
def _pdf_limits(limits: LoadLimits):
    """pypdf's own resource limits (decompressed sizes) set from ours, for the current context only."""
    import pypdf

    cap = int(limits.decompressed_mb * 1_000_000)
    with pypdf.apply_configuration(
            maximum_declared_stream_length=cap, array_based_stream_maximum_output_length=cap,
            jbig2_maximum_output_length=cap, lzw_maximum_output_length=cap, run_length_maximum_output_length=cap,
            zlib_maximum_output_length=cap, brotli_maximum_output_length=cap, image_maximum_buffer_size=cap,
            stream_decoding_work_maximum_length=4 * cap):
        yield


def _finish(path: Path, doc: Document, limits: LoadLimits) -> None:
    """What every loader's result goes through: clean text, no empty sections, bounded size and metadata,
    and the count of sentences that address the assistant (set last: front matter cannot preset it)."""
    doc.title = clean_text(doc.title).strip()
    total = 0
    for section in doc.sections:
        section.text = clean_text(section.text)
        section.headings = tuple(clean_text(h).strip() for h in section.headings)
        total += len(section.text)
        if total > limits.text_chars:
            raise LoadError(path, f"it holds more than {limits.text_chars:,} characters of text "
                                  f"({LoadLimits.ENV['text_chars']}); split it into smaller files")
    doc.sections = [s for s in doc.sections if s.text.strip()]
    if not doc.sections:
        raise LoadError(path, "no text could be extracted from it")
    doc.metadata = _bounded_metadata(path, doc.metadata)
    doc.metadata["instruction_sentences"] = count_instructions(s.text for s in doc.sections)


def _bounded_metadata(path: Path, meta: dict, budget: int = 10_000) -> dict:
    """Front matter as plain data of bounded size: YAML aliases can make a few lines expand into billions of
    values, and everything downstream (the catalog, the UI) would walk them."""
    left = [budget]

    def walk(value, depth):
        left[0] -= 1
        if left[0] < 0 or depth > 20:
            raise LoadError(path, "its front matter is too large or nested too deeply (over 10,000 values or "
                                  "20 levels); keep it to a few fields")
        if isinstance(value, dict):
            return {str(walk(k, depth + 1)): walk(v, depth + 1) for k, v in value.items()}
        if isinstance(value, (list, tuple, set)):
            return [walk(v, depth + 1) for v in value]
        if isinstance(value, str):
            left[0] -= len(value) // 100
            return clean_text(value)
        return value

    return walk(meta or {}, 0)


# ---------------------------------------------------------------- text decoding

_BOMS = ((codecs.BOM_UTF8, "utf-8-sig"), (codecs.BOM_UTF32_LE, "utf-32"), (codecs.BOM_UTF32_BE, "utf-32"),
         (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16"))
_WIDE = ["utf_16_le", "utf_16_be", "utf_32_le", "utf_32_be"]
# Control characters (C0 but tab, newlines and form feed; DEL; C1), non-characters, lone surrogates and the
# invisible Unicode tag characters: never part of a document's text.
_CONTROL = re.compile("[\x00-\x08\x0e-\x1f\x7f-\x9f\ufffe\uffff\ud800-\udfff\U000e0000-\U000e007f]")
_UNREADABLE = re.compile("[\x00-\x08\x0e-\x1f\x7f\ufffd]")
BINARY_SHARE = 0.05  # more unreadable characters than this share of the text: binary, not text


def clean_text(text: str) -> str:
    """Text with control characters removed (vertical tab and form feed become line breaks)."""
    if not text:
        return text or ""
    return _CONTROL.sub("", text.replace("\x0b", "\n").replace("\x0c", "\n"))


def decode_text(path: Path, data: bytes) -> str:
    """Decode the bytes of a text file in whatever common encoding it uses (a BOM, UTF-8, UTF-16/32 without a
    BOM, a legacy code page) and remove control characters; refuse content that is mostly binary."""
    text = _decode(path, data)
    sample = text[:1_000_000]
    unreadable = len(sample) - len(_UNREADABLE.sub("", sample))
    if unreadable > max(8, BINARY_SHARE * len(sample)):
        raise LoadError(path, f"binary content, not text ({unreadable / max(len(sample), 1):.0%} of it is "
                              "unreadable characters); save it as plain text, or load the original document")
    return clean_text(text)


def _decode(path: Path, data: bytes) -> str:
    for bom, enc in _BOMS:
        if data.startswith(bom):
            try:
                return data.decode(enc)
            except UnicodeDecodeError as exc:
                raise LoadError(path, f"not valid {enc} text ({exc.reason})") from exc
    head = data[:65536]
    if head.count(0) > len(head) // 5:  # many NUL bytes: UTF-16 or UTF-32 without a BOM, or binary
        wide = _detect(data, _WIDE)
        if wide:
            return data.decode(wide, errors="replace")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    guess = _detect(data)
    if guess:
        return data.decode(guess, errors="replace")
    try:
        return data.decode("cp1252")
    except UnicodeDecodeError:
        return data.decode("latin-1")


# single-byte code pages of Latin script, between which short samples cannot tell: cp1252 (Western) wins
# unless the detector rules it out
_LATIN = {"cp1250", "cp1252", "cp1254", "cp1257", "cp1258", "latin_1", "iso8859_2", "iso8859_3", "iso8859_4",
          "iso8859_9", "iso8859_10", "iso8859_13", "iso8859_14", "iso8859_15", "iso8859_16", "mac_latin2",
          "mac_roman", "mac_iceland", "mac_turkish", "cp775", "cp850", "cp852", "cp857", "cp858", "hp_roman8"}


def _detect(data: bytes, only: list[str] | None = None) -> str | None:
    """The encoding charset-normalizer finds most plausible (None: nothing plausible, i.e. binary)."""
    from charset_normalizer import from_bytes

    matches = list(from_bytes(data, cp_isolation=only) if only else from_bytes(data))
    if not matches:
        return None
    best = matches[0]
    if best.encoding in _LATIN:
        if "cp1252" in best.could_be_from_charset:
            return "cp1252"
        western = next((m for m in matches if m.encoding == "cp1252"), None)
        if western is not None and western.chaos <= best.chaos + 0.2:
            return "cp1252"
    return best.encoding


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


def _inline(token) -> str:
    """The plain text of a markdown-it inline token: emphasis marks and link targets go; link labels, code,
    image descriptions and inline HTML (as the literal text it is) stay."""
    out: list[str] = []
    for child in token.children or []:
        if child.type in {"text", "code_inline", "html_inline"}:
            out.append(child.content)
        elif child.type == "softbreak":
            out.append(" ")
        elif child.type == "hardbreak":
            out.append("\n")
        elif child.type == "image":
            out.append(child.content or "")
    return " ".join("".join(out).split(" ")).strip()


def _join_blocks(blocks: list[tuple[str, str]]) -> str:
    """Blocks of a section as text: paragraphs apart by a blank line, a list's items on consecutive lines."""
    text = ""
    prev = ""
    for kind, piece in blocks:
        if text:
            text += "\n" if kind == "item" and prev == "item" else "\n\n"
        text += piece
        prev = kind
    return text


def split_markdown(text: str) -> tuple[str | None, list[Section]]:
    """Markdown to (title, sections), parsed with markdown-it-py (CommonMark and tables): headings make the
    heading path (the first `#` heading before any text is the title), list items keep their markers ("-",
    "1."), table rows become lines of "header: value" pairs, blocks of raw HTML keep only their text."""
    from markdown_it import MarkdownIt

    tokens = MarkdownIt("commonmark").enable("table").parse(text)
    outline = _Outline(_join_blocks)
    lists: list[list] = []  # [kind, next number] per open list
    item_parts: list[list[str]] = []  # text of the items being read, innermost last
    header: list[str] = []
    row: list[str] = []
    in_head = False
    for i, tok in enumerate(tokens):
        t = tok.type
        if t == "heading_open":
            outline.heading(int(tok.tag[1]), _inline(tokens[i + 1]))
        elif t in {"bullet_list_open", "ordered_list_open"}:
            start = int(tok.attrGet("start") or 1) if t == "ordered_list_open" else 0
            lists.append(["ol" if t == "ordered_list_open" else "ul", start])
        elif t in {"bullet_list_close", "ordered_list_close"}:
            lists.pop()
        elif t == "list_item_open":
            item_parts.append([])
        elif t == "list_item_close":
            parts = item_parts.pop()
            kind = lists[-1] if lists else ["ul", 0]
            marker = f"{kind[1]}." if kind[0] == "ol" else "-"
            if kind[0] == "ol":
                kind[1] += 1
            if parts:
                outline.text(("item", f"{marker} {' '.join(parts)}"))
        elif t == "inline" and tokens[i - 1].type == "paragraph_open":
            piece = _inline(tok)
            if item_parts:
                item_parts[-1].append(piece)
            elif piece:
                outline.text(("para", piece))
        elif t in {"fence", "code_block"} and tok.content.strip():
            outline.text(("para", tok.content.strip()))
        elif t == "html_block":  # a block of raw HTML: its text, without the tags
            piece = " ".join(re.sub(r"<[^>]*>", " ", tok.content).split())
            if piece:
                outline.text(("para", piece))
        elif t == "thead_open":
            in_head, header = True, []
        elif t == "thead_close":
            in_head = False
        elif t == "tr_open":
            row = []
        elif t in {"th_open", "td_open"}:
            cell = _inline(tokens[i + 1]) if tokens[i + 1].type == "inline" else ""
            (header if in_head else row).append(cell)
        elif t == "tr_close" and not in_head and any(row):
            pairs = [f"{h}: {c}" if h else c for h, c in zip(header + [""] * len(row), row) if c]
            outline.text(("para", "; ".join(pairs) + "."))
    return outline.result()


def _load_markdown(path: Path, data: bytes) -> Document:
    text = decode_text(path, data)
    meta: dict = {}
    m = _FRONT_MATTER.match(text)
    if m:
        import yaml

        try:
            loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml: fast, and caps the nesting depth
            meta = yaml.load(m.group(1), Loader=loader) or {}
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


_TITLE_SEPARATORS = re.compile(r"\s+(?:[|·•»–—]|-{1,2}|::)\s+")


_EDITOR_PREFIX = re.compile(r"^(?:Microsoft\s+(?:Word|PowerPoint|Excel)|Untitled)\s*-\s*", re.I)
_FILE_SUFFIX = re.compile(r"\.(?:docx?|pptx?|xlsx?|pdf|odt|rtf|pages|key|html?|md|txt)$", re.I)


def readable_title(title: str, site: str | None = None) -> str:
    """A title as a person would name the document: without the site's name ("Returns policy | Acme Outdoor -
    Help" -> "Returns policy"), or the editor and file name a PDF export adds ("Microsoft Word - plan.docx")."""
    title = _FILE_SUFFIX.sub("", _EDITOR_PREFIX.sub("", " ".join((title or "").split())))
    parts = [p.strip() for p in _TITLE_SEPARATORS.split(title) if p.strip()]
    if site:
        parts = [p for p in parts if p.lower() != site.strip().lower()] or parts
    return parts[0] if parts else ""


_REFERENCE_MARK = re.compile(r"<sup>.*?</sup>|\\?\[\d{1,3}\\?\]")
_MD_ESCAPE = re.compile(r"\\([\\`*_{}\[\]()#+\-.!|>~<])")


@functools.lru_cache(maxsize=1)
def _trafilatura_config():
    """trafilatura's settings for documents rather than crawled pages: a short page (a policy, a help
    article) is still a page worth reading, and the loader's own time limit applies instead of a signal."""
    from copy import deepcopy

    from trafilatura.settings import DEFAULT_CONFIG

    config = deepcopy(DEFAULT_CONFIG)
    config["DEFAULT"]["MIN_EXTRACTED_SIZE"] = "1"
    config["DEFAULT"]["EXTRACTION_TIMEOUT"] = "0"
    return config


def html_main_markdown(html: str) -> tuple[str, str]:
    """(main content as Markdown, page title) by trafilatura: navigation, cookie banners, sidebars, share
    buttons and footers go; headings, paragraphs, lists and tables stay. Reference marks ("[12]") go too:
    they would read as the copilot's own citation markers."""
    import logging

    import trafilatura

    logging.getLogger("trafilatura").setLevel(logging.ERROR)
    body = trafilatura.extract(html, output_format="markdown", include_formatting=True, include_links=False,
                               include_images=False, include_tables=True, include_comments=False,
                               favor_recall=True, deduplicate=False, config=_trafilatura_config()) or ""
    meta = trafilatura.extract_metadata(html)
    body = _REFERENCE_MARK.sub("", body)
    body = re.sub(r"</?[a-zA-Z][^>]*>", "", body)  # any HTML left in the Markdown
    body = _MD_ESCAPE.sub(r"\1", body)
    title = readable_title(getattr(meta, "title", "") or "", getattr(meta, "sitename", None))
    return body, title


def _load_html(path: Path, data: bytes) -> Document:
    text = decode_text(path, data)
    m = re.search(rb'<meta[^>]+charset=["\']?([\w-]+)', data[:4096], re.I)
    if m:
        try:
            text = data.decode(m.group(1).decode("ascii"))
        except (LookupError, UnicodeDecodeError):
            pass
    body, title = html_main_markdown(text)
    h1, sections = split_markdown(body) if body.strip() else (None, [])
    if not sections:  # trafilatura found no main content (a page of links, a fragment): read it all
        page_title, sections = html_to_sections(text)
        title = title or readable_title(page_title)
    return Document(path.name, str(path), "html", title or h1 or _title_from_name(path), sections)


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
        if n_pages > current_limits().pages:
            raise LoadError(path, f"it has {n_pages:,} pages; the limit is {current_limits().pages:,} "
                                  f"({LoadLimits.ENV['pages']})")
        sections: list[Section] = []
        for number, page in enumerate(reader.pages, start=1):
            text = page.extract_text() or ""
            sections.extend(_pdf_sections(_tidy_pdf_text(text), number))
        info = reader.metadata or {}
        meta_title = readable_title(str(info.get("/Title") or "")) if hasattr(info, "get") else ""
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
                         and not para.endswith((".", ",", ";", "?", "!", ":")) and para[:1].isupper())
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
