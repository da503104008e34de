"""The Copilot: loads documents into an index and answers questions from it with citations.

An index directory holds:
- `manifest.json`: what built it (embedding model, chunking settings); other settings are refused.
- `catalog.json`: every loaded source with its content hash and chunk ids (written atomically).
- `chroma/`: the vectors and passages; `lexical/`: the BM25 index, rebuilt from the catalog when stale.
Chunk ids come from content, so loading an unchanged file again does nothing and a crash mid-load is
repaired by loading again.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from . import config
from .answer import (Answer, Answerer, AnswerSettings, ExtractiveAnswerer, History, Passage, Query, Topics, condense,
                     decline_text, is_follow_up, normalise_history)
from .answer.abstain import Verdict, judge
from .answer.pipeline import Ranking, rank
from .chunking import Chunk, ChunkSettings, chunk_document
from .documents import Document, load_document, supported
from .embeddings import Embedder, make_embedder
from .errors import CopilotError, IndexMismatchError, LoadError, SourceNotFoundError
from .lexical import LexicalIndex
from .retrieval import Hit, RetrievalSettings, Retriever, find_acronyms
from .store import VectorStore
from .sentences import VECTORS_KEY, from_metadata, pack_vectors
from .text import aspect, aspect_phrases, split_sentences, terms

FORMAT = 1
Progress = Callable[[str, int, int], None]  # (stage, done, total)


@dataclass
class Prepared:
    """A question made ready to answer (`Copilot.prepare`)."""

    question: str
    standalone: str
    hits: list[Hit]
    passages: list[Passage]
    query: Query
    ranking: Ranking
    verdict: Verdict


@dataclass
class FileOutcome:
    path: str
    source: str
    status: str  # added / unchanged / replaced / failed / skipped
    chunks: int = 0
    reason: str = ""

    def line(self) -> str:
        if self.status in {"failed", "skipped"}:
            return f"{self.status}: {self.path}: {self.reason}"
        return f"{self.status}: {self.path} ({self.chunks} chunks)"


@dataclass
class IngestReport:
    files: list[FileOutcome] = field(default_factory=list)
    seconds: float = 0.0
    embedded: int = 0  # chunks that needed new vectors

    def by_status(self, status: str) -> list[FileOutcome]:
        return [f for f in self.files if f.status == status]

    @property
    def failed(self) -> list[FileOutcome]:
        return self.by_status("failed")

    @property
    def ok(self) -> bool:
        return not self.failed

    def summary(self) -> str:
        counts = {s: len(self.by_status(s)) for s in ("added", "replaced", "unchanged", "failed", "skipped")}
        parts = [f"{n} {s}" for s, n in counts.items() if n]
        return ", ".join(parts) or "nothing to load"

    def to_dict(self) -> dict:
        return {"files": [f.__dict__ for f in self.files], "summary": self.summary(), "seconds": round(self.seconds, 3)}


def _atomic_write(path: Path, data: str) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(data, encoding="utf-8")
    with open(tmp, "rb") as fh:
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def _groups(planned: list, size: int) -> Iterator[list]:
    """Consecutive planned files in groups of about `size` chunks (a big file is a group of its own)."""
    group: list = []
    for item in planned:
        group.append(item)
        if sum(len(chunks) for _, _, chunks, _ in group) >= size:
            yield group
            group = []
    if group:
        yield group


def _expand(paths: Iterable[str | os.PathLike]) -> list[tuple[Path, bool]]:
    """Files to load, with whether each was named explicitly (folders are walked recursively). A file named
    twice (or named and inside a named folder) is loaded once."""
    out: list[tuple[Path, bool]] = []
    for raw in paths:
        p = Path(raw)
        if p.is_dir():
            for f in sorted(p.rglob("*")):
                rel = f.relative_to(p)
                if f.is_file() and not any(part.startswith(".") for part in rel.parts):
                    out.append((f, False))
        else:
            out.append((p, True))
    once: dict[str, tuple[Path, bool]] = {}
    for f, explicit in out:
        key = os.path.realpath(f)  # unlike Path.resolve, never raises (symlink loops)
        once[key] = (once[key][0], once[key][1] or explicit) if key in once else (f, explicit)
    return list(once.values())


class Copilot:
    """Cited answers from a CX knowledge base.

    >>> cp = Copilot()                       # the default index, built from corpus/ when missing
    >>> cp.answer("How is NPS calculated?").text
    """

    def __init__(self, index_dir: str | os.PathLike | None = None, *, embedder: Embedder | None = None,
                 store: VectorStore | None = None, answerer: Answerer | None = None,
                 corpus: str | os.PathLike | None | bool = True, retrieval: RetrievalSettings | None = None,
                 chunking: ChunkSettings | None = None, progress: Progress | None = None):
        config.quiet_third_parties()
        self.index_dir = Path(index_dir) if index_dir is not None else config.default_index_dir()
        self.embedder = embedder or make_embedder()
        self.chunking = chunking or ChunkSettings()
        self.retrieval = retrieval or RetrievalSettings()
        self.answer_settings = getattr(answerer, "settings", None) if isinstance(answerer, ExtractiveAnswerer) \
            else AnswerSettings.fitted()
        self.answerer = answerer or ExtractiveAnswerer(self.answer_settings)
        self._topics: tuple[str, Topics] | None = None
        self._lock = threading.RLock()
        self.ingest_group = 256  # chunks embedded and committed together
        self._retriever: Retriever | None = None
        self._previous_retriever: Retriever | None = None
        fresh = not (self.index_dir / "manifest.json").exists()
        self.index_dir.mkdir(parents=True, exist_ok=True)
        self._check_manifest()
        if store is None:
            from .store import ChromaStore

            store = ChromaStore(self.index_dir / "chroma")
        self.store = store
        self.catalog = self._read_catalog()
        if fresh and corpus:
            corpus_dir = config.builtin_corpus_dir() if corpus is True else Path(corpus)
            report = self.ingest([corpus_dir], progress=progress)
            if report.failed:
                raise CopilotError("could not build the index from the corpus:\n" +
                                   "\n".join(f.line() for f in report.failed))

    # ------------------------------------------------------------ index bookkeeping

    def _manifest(self) -> dict:
        return {"format": FORMAT, "embedding": self.embedder.describe(), "chunking": self.chunking.as_dict()}

    def _check_manifest(self) -> None:
        path = self.index_dir / "manifest.json"
        wanted = self._manifest()
        if not path.exists():
            _atomic_write(path, json.dumps({**wanted, "created": _now()}, indent=2))
            return
        try:
            found = json.loads(path.read_text())
        except ValueError as exc:
            raise IndexMismatchError(f"{path} is damaged ({exc}). Remove the folder {self.index_dir} and load "
                                     "the documents again to rebuild it.") from exc
        diffs = [k for k in ("format", "embedding", "chunking") if found.get(k) != wanted[k]]
        if diffs:
            desc = "; ".join(f"{k}: index has {found.get(k)}, this copilot uses {wanted[k]}" for k in diffs)
            raise IndexMismatchError(
                f"The index at {self.index_dir} was built with other settings ({desc}). Rebuild it with "
                f"`cx-copilot rebuild --index-dir {self.index_dir}`, or open it with the settings it was built with.")

    def _read_catalog(self) -> dict:
        path = self.index_dir / "catalog.json"
        if not path.exists():
            return {"revision": "", "sources": {}}
        try:
            return json.loads(path.read_text(encoding="utf-8"))
        except ValueError as exc:
            raise CopilotError(f"{path} is damaged ({exc}). Rebuild the index with "
                               f"`cx-copilot rebuild --index-dir {self.index_dir}`.") from exc

    def _write_catalog(self) -> None:
        self.catalog["revision"] = uuid.uuid4().hex
        _atomic_write(self.index_dir / "catalog.json", json.dumps(self.catalog, indent=1, ensure_ascii=False))
        self._previous_retriever = self._retriever or self._previous_retriever
        self._retriever = None

    @property
    def retriever(self) -> Retriever:
        """The retriever over the current index. While a load holds the write lock, questions are answered
        from the index as it was before the load (passages deleted since are skipped), never blocked."""
        current = self._retriever
        if current is not None:
            return current
        previous = self._previous_retriever
        if not self._lock.acquire(blocking=previous is None):
            return previous
        try:
            if self._retriever is None:
                self._retriever = self._open_retriever()
                self._previous_retriever = None
            return self._retriever
        finally:
            self._lock.release()

    def _open_retriever(self) -> Retriever:
        revision = self.catalog.get("revision", "")
        folder = self.index_dir / "lexical"
        lexical = LexicalIndex.load(folder, revision)
        acronyms_path = folder / "acronyms.json"
        acronyms = None
        if lexical is not None:
            try:
                acronyms = json.loads(acronyms_path.read_text())
            except (OSError, ValueError):
                lexical = None
        if lexical is None:
            ids = [i for src in self.catalog["sources"].values() for i in src["chunk_ids"]]
            chunks = self.store.get(ids)
            texts = [f"{c.metadata.get('title', '')} {c.metadata.get('section', '')} {c.text}" for c in chunks]
            lexical = LexicalIndex.build([c.id for c in chunks], texts)
            acronyms = find_acronyms([c.text for c in chunks])
            try:
                lexical.save(folder, revision)
                _atomic_write(acronyms_path, json.dumps(acronyms))
            except OSError:
                pass  # a read-only index still answers; the BM25 cache is rebuilt next time
        return Retriever(self.embedder, self.store, lexical, self.retrieval, acronyms, self.catalog["sources"])

    # ------------------------------------------------------------ loading documents

    def ingest(self, paths: Iterable[str | os.PathLike] | str | os.PathLike,
               progress: Progress | None = None) -> IngestReport:
        """Load files and folders. Each file succeeds or fails on its own; the report says which and why."""
        if isinstance(paths, (str, os.PathLike)):
            paths = [paths]
        start = time.perf_counter()
        report = IngestReport()
        with self._lock:
            planned: list[tuple[FileOutcome, Document, list[Chunk], str]] = []
            taken: dict[str, str] = {}
            files = _expand(paths)
            for n, (path, explicit) in enumerate(files, 1):
                if progress:
                    progress("reading", n, len(files))
                outcome = FileOutcome(str(path), path.name, "failed")
                if not explicit and not supported(path):
                    outcome.status, outcome.reason = "skipped", f"unsupported file type '{path.suffix or '(none)'}'"
                    report.files.append(outcome)
                    continue
                try:
                    doc = load_document(path)
                    if doc.source in taken and taken[doc.source] != str(path.resolve()):
                        raise LoadError(path, f"another file named {doc.source} is in this load "
                                              f"({taken[doc.source]}); rename one of them")
                    taken[doc.source] = str(path.resolve())
                    chunks = chunk_document(doc, self.chunking)
                except LoadError as exc:
                    outcome.reason = exc.reason
                    report.files.append(outcome)
                    continue
                digest = hashlib.sha256(path.read_bytes()).hexdigest()
                known = self.catalog["sources"].get(doc.source)
                outcome.chunks = len(chunks)
                if known and known.get("digest") == digest and known.get("chunk_ids") == [c.id for c in chunks]:
                    outcome.status = "unchanged"
                    report.files.append(outcome)
                    continue
                outcome.status = "replaced" if known else "added"
                report.files.append(outcome)
                planned.append((outcome, doc, chunks, digest))
            report.embedded = self._write(planned, progress)
            if planned:
                self._write_catalog()
        report.seconds = time.perf_counter() - start
        return report

    def _write(self, planned, progress: Progress | None) -> int:
        """Embed and store planned files a group at a time; the catalog is saved after each group, so a
        crash loses at most the group in flight. Returns how many chunks needed new vectors."""
        total = sum(len(chunks) for _, _, chunks, _ in planned)
        done = embedded = 0
        for group in _groups(planned, self.ingest_group):
            chunks = [c for _, _, cs, _ in group for c in cs]
            # unchanged chunks keep their vectors and sentence vectors
            vectors = self.store.vectors([c.id for c in chunks])
            kept = {c.id: c.metadata.get(VECTORS_KEY) for c in self.store.get(list(vectors))}
            sentence_vectors = {i: v for i, v in kept.items() if v}
            todo = [c for c in chunks if c.id not in vectors or c.id not in sentence_vectors]
            base = done + len(chunks) - len(todo)
            counted = 0

            def tick(n: int) -> None:
                nonlocal counted
                counted += n
                if progress:
                    progress("embedding", base + counted, total)

            new, per_sentence = self.embedder.embed_with_spans([c.embedding_text() for c in todo],
                                                               [c.sentence_offsets() for c in todo], tick)
            for c, v, sv in zip(todo, new, per_sentence):
                vectors[c.id] = v
                sentence_vectors[c.id] = pack_vectors(sv)
            embedded += len(todo)
            for _, doc, cs, digest in group:
                self.store.upsert([c.id for c in cs], np.asarray([vectors[c.id] for c in cs]), [c.text for c in cs],
                                  [{**c.metadata(), VECTORS_KEY: sentence_vectors[c.id]} for c in cs])
                keep = {c.id for c in cs}
                stale = [i for i in self.catalog["sources"].get(doc.source, {}).get("chunk_ids", []) if i not in keep]
                if stale:
                    self.store.delete(stale)
                self.catalog["sources"][doc.source] = {
                    "source": doc.source, "path": str(Path(doc.path).resolve()), "title": doc.title,
                    "kind": doc.kind, "pages": doc.pages, "chunks": len(cs), "chunk_ids": [c.id for c in cs],
                    "digest": digest, "loaded_at": _now(),
                    "topic": str(doc.metadata.get("topic", "")), "summary": str(doc.metadata.get("summary", "")),
                    "instructions": int(doc.metadata.get("instruction_sentences") or 0),
                }
            done += len(chunks)
            self._write_catalog()
            if progress:
                progress("embedding", done, total)
        return embedded

    def remove(self, source: str) -> int:
        """Delete a source (its file name, or the path it was loaded from) completely. Returns chunks removed."""
        with self._lock:
            name = self._resolve_source(source)
            entry = self.catalog["sources"].pop(name)
            self.store.delete(entry["chunk_ids"])
            self._write_catalog()
            return len(entry["chunk_ids"])

    def _resolve_source(self, source: str) -> str:
        sources = self.catalog["sources"]
        if source in sources:
            return source
        name = Path(source).name
        if name in sources:
            return name
        import difflib

        close = difflib.get_close_matches(name, list(sources), n=3)
        hint = f" Did you mean {', '.join(close)}?" if close else " `cx-copilot sources` lists what is loaded."
        raise SourceNotFoundError(f"No source named {source!r} in the index at {self.index_dir}.{hint}")

    def sources(self) -> list[dict]:
        """Every loaded source: source, title, kind, chunks, pages, loaded_at, path, topic, summary, and
        instructions (how many of its sentences address the assistant: such text is never used as knowledge)."""
        keys = ("source", "title", "kind", "chunks", "pages", "loaded_at", "path", "topic", "summary", "instructions")
        return [{k: v.get(k) for k in keys} for v in sorted(list(self.catalog["sources"].values()),
                                                             key=lambda v: v["source"])]

    # ------------------------------------------------------------ answering

    def search(self, question: str, history: History | None = None) -> list[Hit]:
        return self.retriever.search(condense(question, history, self.topics()))

    def answer(self, question: str, history: History | None = None, answerer: Answerer | None = None) -> Answer:
        """Answer a question (with the conversation so far, for follow-ups), citing the passages used."""
        result: Answer | None = None
        for item in self.stream(question, history, answerer):
            if isinstance(item, Answer):
                result = item
        assert result is not None
        return result

    def gather(self, question: str, history: History | None = None) -> tuple[str, list[Hit], list[Passage], Query]:
        """The standalone question, the passages retrieved for it and what is known about the question (term
        weights, embedding, what the conversation has already said)."""
        standalone = condense(question, history, self.topics())
        hits = self.retriever.search(standalone)
        return standalone, hits, self._passages(hits), self._query(standalone, question, history)

    def prepare(self, question: str, history: History | None = None) -> Prepared:
        """Everything up to the answer: `gather`, then the extractive pipeline's ranking and the abstention
        verdict."""
        standalone, hits, passages, query = self.gather(question, history)
        weights = self.answer_settings.weights()
        ranking = rank(standalone, passages, query, weights.sentence, self.answer_settings.passages_read)
        query.ranking = ranking
        verdict = judge(ranking, weights.abstain, weights.abstain_threshold)
        return Prepared(question, standalone, hits, passages, query, ranking, verdict)

    def stream(self, question: str, history: History | None = None,
               answerer: Answerer | None = None) -> Iterator[str | Answer]:
        """Yield the answer's text as it is produced, then the final Answer."""
        t0 = time.perf_counter()
        question = (question or "").strip()
        if not question:
            raise CopilotError("The question is empty: type a question about customer experience.")
        answerer = answerer or self.answerer
        from .toolkit import toolkit_answer  # here, not at import: `cx-copilot metrics` never needs it

        toolkit = toolkit_answer(lambda: self.retriever, question, history)  # calculations, sources side by side
        if toolkit is not None:
            toolkit.timings = {"total_ms": round((time.perf_counter() - t0) * 1000, 1)}
            yield toolkit.text
            yield toolkit
            return
        if not normalise_history(history) and is_follow_up(question) and len(terms(question)) <= 1:
            # "and how do I calculate it?" with nothing before it: ask rather than guess what "it" is
            result = Answer(question, "Which topic do you mean? Ask the whole question, for example \"How is NPS "
                            "calculated?\"", True, backend=answerer.name, standalone_question=question)
            yield result.text
            yield result
            return
        prep = self.prepare(question, history)
        t1 = time.perf_counter()
        if not prep.verdict.answerable:
            result = self._decline(question)
            result.backend = answerer.name
        else:
            result = None
            for item in answerer.stream(prep.standalone, prep.passages, prep.query):
                if isinstance(item, Answer):
                    result = item
                else:
                    yield item
            if result is None or (result.abstained and not result.text):
                result = self._decline(question)
        result.question = question
        result.standalone_question = prep.standalone
        result.timings = {**result.timings, "retrieval_ms": round((t1 - t0) * 1000, 1),
                          "total_ms": round((time.perf_counter() - t0) * 1000, 1),
                          "answerable": round(prep.verdict.probability, 3)}
        if result.abstained and result.text:
            yield result.text
        yield result

    def topics(self) -> Topics:
        """The index's topic vocabulary (document titles and acronyms), for follow-up questions."""
        revision = self.catalog.get("revision", "")
        cached = self._topics
        if cached is None or cached[0] != revision:
            titles = [v.get("title", "") for v in list(self.catalog["sources"].values())]
            cached = self._topics = (revision, Topics.from_titles(titles, self.retriever.acronyms))
        return cached[1]

    def _passages(self, hits: list[Hit]) -> list[Passage]:
        """Retrieved chunks as passages, with their sentences and sentence vectors."""
        out = []
        for h in hits:
            spans, vectors = from_metadata(h.chunk.metadata, self.embedder.dim)
            out.append(Passage(h.id, h.chunk.text, h.source, h.chunk.metadata.get("title", ""),
                               h.chunk.metadata.get("section", ""), h.chunk.metadata.get("page"), h.score, h.dense,
                               h.lexical, spans, vectors))
        return out

    def _query(self, standalone: str, question: str, history: History | None) -> Query:
        said: list[str] = []
        for role, text in normalise_history(history):
            if role == "assistant":
                said.extend(split_sentences(re.sub(r"\s*\[\d+\]", "", text)))
        weights, unknown = self._term_weights(standalone, question)
        own = frozenset(terms(aspect_phrases(question))) if standalone != question else frozenset()
        return Query(weights, self.retriever.query_vector(standalone), self.retriever.acronyms, tuple(said), own,
                     unknown)

    def _term_weights(self, standalone: str, question: str) -> tuple[dict[str, float], frozenset[str]]:
        """IDF weights of the question's terms, and the terms the index has never seen (they weigh as much as
        the rarest term can: a question about something absent is not answered by the rest of its words).
        Words a follow-up borrowed from earlier turns count less, so "what is the formula?" after "what is
        AHT?" looks for the formula, not the definition."""
        lexical = self.retriever.lexical
        own = set(terms(aspect_phrases(question)))
        weights: dict[str, float] = {}
        unknown: set[str] = set()
        for t in terms(aspect_phrases(standalone)):
            idf = lexical.idf(t) or lexical.idf(aspect(t))
            if not idf:
                unknown.add(t)
                idf = lexical.max_idf()
            w = idf * (1.0 if t in own or standalone == question else 0.35)
            weights[t] = max(weights.get(t, 0.0), w)
        return weights, frozenset(unknown)

    def _decline(self, question: str) -> Answer:
        return Answer(question, decline_text(question, self.example_topics()), True, [])

    def example_topics(self, n: int = 4) -> list[str]:
        """A few document titles to suggest when a question is out of scope: the most substantial documents,
        leaving out reference material (glossaries, FAQs)."""
        rows = [v for v in list(self.catalog["sources"].values()) if v.get("topic") != "reference"]
        rows.sort(key=lambda v: (-v["chunks"], v["title"]))
        return [v["title"] for v in rows[:n]]


def rebuild_index(index_dir: str | os.PathLike, progress: Progress | None = None,
                  **options) -> tuple[Copilot, IngestReport | None, list[str]]:
    """Re-create an index with the current settings from the files it was loaded from (after a model or
    chunking change). Uploaded copies and feedback kept beside the index are carried over. The old index is
    set aside and restored if the rebuild fails. Returns the new Copilot, its load report and the paths that
    no longer exist."""
    import shutil

    index_dir = Path(index_dir)
    catalog = index_dir / "catalog.json"
    paths = [v["path"] for v in json.loads(catalog.read_text()).get("sources", {}).values()] if catalog.exists() else []
    old = index_dir.with_name(f"{index_dir.name}.old-{uuid.uuid4().hex[:8]}")
    if index_dir.exists():
        from .store import release_clients

        release_clients()
        index_dir.rename(old)
    try:
        index_dir.mkdir(parents=True)
        for keep in ("uploads", *sorted(p.name for p in old.glob("feedback*.jsonl"))):  # rotated feedback too
            if (old / keep).is_dir():
                shutil.copytree(old / keep, index_dir / keep)
            elif (old / keep).exists():
                shutil.copy2(old / keep, index_dir / keep)
        # uploads kept inside the index are back at their old paths now
        missing = [p for p in paths if not Path(p).exists()]
        cp = Copilot(index_dir, corpus=not paths, progress=progress, **options)
        present = [p for p in paths if Path(p).exists()]
        report = cp.ingest(present, progress=progress) if present else None
    except BaseException:
        shutil.rmtree(index_dir, ignore_errors=True)
        if old.exists():
            old.rename(index_dir)
        raise
    shutil.rmtree(old, ignore_errors=True)
    return cp, report, missing


def _now() -> str:
    return datetime.now(timezone.utc).replace(microsecond=0).isoformat()


_default: Copilot | None = None
_default_lock = threading.Lock()


def default_copilot() -> Copilot:
    global _default
    with _default_lock:
        if _default is None or _default.index_dir != config.default_index_dir():
            _default = Copilot()
        return _default


def answer(question: str, history: History | None = None) -> Answer:
    """Answer with the default settings and the default index (built from corpus/ on first use)."""
    return default_copilot().answer(question, history)
