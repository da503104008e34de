"""Structure-aware chunking: sections stay whole when they fit, long ones split on paragraphs, then sentences.

Pure functions on plain data. A chunk's id is derived from its source and content, so re-loading an
unchanged file produces the same ids, and a changed file's chunks differ only where its text changed.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from .documents import Document, Section
from .sentences import SPANS_KEY, pack_spans
from .text import Span, count_words, sentence_spans, split_sentences

DEFAULT_MAX_WORDS = 170  # all-MiniLM-L6-v2 reads 256 word pieces; title + heading + 170 words fit
DEFAULT_MIN_WORDS = 25


@dataclass(frozen=True)
class ChunkSettings:
    max_words: int = DEFAULT_MAX_WORDS
    min_words: int = DEFAULT_MIN_WORDS

    def as_dict(self) -> dict:
        # version 2: chunks store their sentence spans and sentence vectors
        return {"max_words": self.max_words, "min_words": self.min_words, "version": 2}


@dataclass
class Chunk:
    id: str
    source: str
    title: str
    section: str
    page: int | None
    text: str
    position: int
    kind: str = ""

    def embedding_text(self) -> str:
        """What the embedder reads: the passage in the context of its document title and section."""
        return f"{self.head()}\n{self.text}"

    def head(self) -> str:
        return self.title if not self.section else f"{self.title} — {self.section}"

    def sentences(self) -> list[Span]:
        return sentence_spans(self.text)

    def sentence_offsets(self) -> list[tuple[int, int]]:
        """The sentences' character spans in `embedding_text()`."""
        shift = len(self.head()) + 1
        return [(s.start + shift, s.end + shift) for s in self.sentences()]

    def metadata(self) -> dict:
        meta = {"source": self.source, "title": self.title, "section": self.section, "position": self.position,
                "kind": self.kind, SPANS_KEY: pack_spans(self.sentences())}
        if self.page is not None:
            meta["page"] = self.page
        return meta


def chunk_id(source: str, section: str, page: int | None, text: str) -> str:
    digest = hashlib.sha256(f"{source}\x1f{section}\x1f{page}\x1f{text}".encode()).hexdigest()
    return digest[:24]


def _pieces(text: str, max_words: int) -> list[str]:
    """Split a section body into pieces of at most `max_words`, on paragraph then sentence boundaries."""
    if count_words(text) <= max_words:
        return [text.strip()]
    units: list[str] = []
    for para in [p.strip() for p in text.split("\n\n") if p.strip()]:
        if count_words(para) <= max_words:
            units.append(para)
        else:
            units.extend(_split_long(para, max_words))
    pieces: list[str] = []
    cur: list[str] = []
    cur_words = 0
    for unit in units:
        n = count_words(unit)
        if cur and cur_words + n > max_words:
            pieces.append("\n\n".join(cur))
            cur, cur_words = [], 0
        cur.append(unit)
        cur_words += n
    if cur:
        pieces.append("\n\n".join(cur))
    # avoid a tiny last piece: rebalance it with the one before
    if len(pieces) > 1 and count_words(pieces[-1]) < max_words // 4:
        tail = pieces.pop()
        pieces[-1] = pieces[-1] + "\n\n" + tail
    return pieces


def _split_long(para: str, max_words: int) -> list[str]:
    out: list[str] = []
    cur: list[str] = []
    n = 0
    for sentence in split_sentences(para):
        words = sentence.split()
        while len(words) > max_words:  # a "sentence" longer than a chunk (tables, run-on text)
            if cur:
                out.append(" ".join(cur))
                cur, n = [], 0
            out.append(" ".join(words[:max_words]))
            words = words[max_words:]
        if cur and n + len(words) > max_words:
            out.append(" ".join(cur))
            cur, n = [], 0
        cur.append(" ".join(words))
        n += len(words)
    if cur:
        out.append(" ".join(cur))
    return out


def _merge_small(sections: list[Section], min_words: int, max_words: int) -> list[Section]:
    """Fold a tiny section into the next one of the same page when both fit, so no chunk is a stub."""
    merged: list[Section] = []
    for sec in sections:
        prev = merged[-1] if merged else None
        if (prev is not None and count_words(prev.text) < min_words and prev.page == sec.page
                and not prev.headings[:-1] != sec.headings[:-1]
                and count_words(prev.text) + count_words(sec.text) <= max_words):
            heading = prev.headings if prev.headings == sec.headings else sec.headings
            merged[-1] = Section(prev.text + "\n\n" + sec.text, heading, sec.page)
        else:
            merged.append(sec)
    return merged


def chunk_document(doc: Document, settings: ChunkSettings = ChunkSettings()) -> list[Chunk]:
    """Cut a document into chunks; every chunk carries title, section path and page."""
    chunks: list[Chunk] = []
    seen: set[str] = set()
    sections = doc.sections if doc.kind == "pdf" else _merge_small(doc.sections, settings.min_words, settings.max_words)
    for sec in sections:
        for piece in _pieces(sec.text, settings.max_words):
            if not piece:
                continue
            cid = chunk_id(doc.source, sec.path, sec.page, piece)
            if cid in seen:  # the very same passage twice in one document
                continue
            seen.add(cid)
            chunks.append(Chunk(cid, doc.source, doc.title, sec.path, sec.page, piece, len(chunks), doc.kind))
    return chunks
