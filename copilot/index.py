"""The Index: one knowledge base's chunks and catalog, shared by every process that opens it, and the only
place that writes them.

What is stored, in the backend's shared records (`copilot.stores`):

- `head`: the manifest (embedding model, chunking settings; other settings are refused), the current
  generation (a rebuild makes a new one and switches to it in one write), `revision` (bumped by every committed
  change: readers poll it) and `writes` (bumped before any chunk is written: embedded Chroma reopens when it
  moved), and `built` (recorded only once the built-in corpus is fully in).
- `source/<generation>/<name>`: one record per loaded source (title, path, digest, chunk count, load id). A
  writer changes only the records of the sources it loads or removes, re-read under the lock, so no process
  ever writes back a stale copy of the catalog.
- `journal/<generation>/<load>`: a write in progress. Chunks are stored as `<chunk id>.<load id>` with the load
  id in their metadata, before their source's record names that load. A kill at any moment leaves either the
  old record (and the new chunks are deleted by the next writer) or the new one (and the old chunks are), so a
  source is always served whole, old or new, never mixed.

Retrieval only ever sees chunks whose load the catalog lists (`CatalogView`), so nothing unlisted answers,
even in the moment between a write and its cleanup.

Writers are serialised by the backend's lock (a file lock, or a lease on a Chroma server), taken per group of
about `ingest_group` chunks, so a long load lets other writers in between groups. Readers never take it: every
open index polls `head` and swaps in the new state when it moved (a new retriever over the current catalog at
once, then a BM25 index rebuilt in the background from per-load token caches), without blocking questions.
"""

from __future__ import annotations

import hashlib
import logging
import os
import threading
import time
import uuid
import weakref
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from . import config
from .chunking import Chunk, ChunkSettings, chunk_document
from .documents import load_document, supported
from .embeddings import Embedder
from .errors import CopilotError, IndexBusyError, IndexMismatchError, LoadError, SourceNotFoundError
from .lexical import LexicalIndex, LoadTokens
from .retrieval import RetrievalSettings, Retriever, find_acronyms
from .sentences import SPANS_KEY, VECTORS_KEY, pack_vectors
from .stores import Backend, FixedBackend, StoredChunk, VectorStore, open_backend
from .stores.base import StoreGoneError, owner_record

FORMAT = 2
Progress = Callable[[str, int, int], None]  # (stage, done, total)
log = logging.getLogger("copilot.index")


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


def _now() -> str:
    return datetime.now(timezone.utc).replace(microsecond=0).isoformat()


def record_id(chunk_id: str, load: str) -> str:
    """A chunk's id in the store: its content id, tagged with the load that wrote it (none for indexes made
    before loads were tagged)."""
    return f"{chunk_id}.{load}" if load else chunk_id


def fingerprint(chunk_ids: Iterable[str]) -> str:
    return hashlib.sha1("\n".join(chunk_ids).encode()).hexdigest()


def file_digest(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def expand(paths: Iterable[str | os.PathLike]) -> list[tuple[Path, bool]]:
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


def _source_key(generation: str, name: str) -> str:
    return f"source/{generation}/{name}"


def _journal_key(generation: str, load: str) -> str:
    return f"journal/{generation}/{load}"


class CatalogView(VectorStore):
    """The store as the catalog sees it: a chunk is visible only when the catalog lists the load that wrote it
    (the load id ends the chunk's store id, so no metadata has to be fetched to tell). Dense search asks for
    more neighbours when some of the nearest are not (yet, or any more) listed."""

    def __init__(self, store: VectorStore, catalog: dict[str, dict], on_gone: Callable[[], VectorStore] | None = None):
        self.store = store
        self.loads = {e["load"] for e in catalog.values() if e.get("load")}
        self.legacy = {i for e in catalog.values() if not e.get("load") for i in e.get("chunk_ids", [])}
        self._on_gone = on_gone

    def visible(self, chunk_id: str) -> bool:
        _, dot, load = chunk_id.rpartition(".")
        return load in self.loads if dot else chunk_id in self.legacy

    def _call(self, fn):
        try:
            return fn(self.store)
        except StoreGoneError:
            if self._on_gone is None:
                raise
            return fn(self._on_gone())  # a rebuild dropped this generation: ask the current one

    def query(self, vector, k):
        def run(store):
            fetch = k
            while True:
                found = store.query(vector, fetch)
                ok = [(i, s) for i, s in found if self.visible(i)]
                if len(ok) >= k or len(found) < fetch or fetch >= 64 * k:
                    return ok[:k]
                fetch *= 4
        return self._call(run)

    def query_chunks(self, vector, k):
        hits = dict(self.query(vector, k))
        return [(c, hits[c.id]) for c in self.get(list(hits), texts=False)]

    def get(self, ids, *, texts=True, vectors=False):
        ids = [i for i in ids if self.visible(i)]
        return self._call(lambda s: s.get(ids, texts=texts, vectors=vectors))

    def count(self):
        return self._call(lambda s: s.count())


@dataclass
class _View:
    """One consistent state to answer from: published whole, replaced whole."""

    head: dict
    catalog: dict[str, dict]
    store: VectorStore
    retriever: Retriever
    lexical_key: tuple = ()  # which loads the BM25 index covers

    @property
    def key(self) -> tuple:
        return (self.head.get("generation", ""), self.head.get("revision", 0))


@dataclass
class _Session:
    head: dict
    catalog: dict[str, dict]
    store: VectorStore
    generation: str


class Index:
    """See the module docstring. `Copilot` answers from it; nothing else writes an index."""

    ingest_group = 256  # chunks embedded and committed together

    def __init__(self, index_dir: str | os.PathLike, *, embedder: Embedder, chunking: ChunkSettings | None = None,
                 retrieval: RetrievalSettings | None = None, backend: Backend | VectorStore | None = None,
                 url: str | None = None, corpus: str | os.PathLike | None | bool = True,
                 progress: Progress | None = None, check: bool = True):
        self.index_dir = Path(index_dir)
        self.embedder = embedder
        self.chunking = chunking or ChunkSettings()
        self.retrieval = retrieval or RetrievalSettings()
        self.lock_timeout = config.lock_timeout()
        self.poll_seconds = config.refresh_seconds()
        self.index_dir.mkdir(parents=True, exist_ok=True)
        if backend is None:
            backend = open_backend(self.index_dir, url if url is not None else config.chroma_url(),
                                   config.chroma_index())
        elif isinstance(backend, VectorStore):
            backend = FixedBackend(backend, self.index_dir)
        self.backend = backend
        self.cache_dir = self.index_dir / "cache"
        self._write_lock = threading.RLock()  # writers in this process, around the backend's lock
        self._session: _Session | None = None
        self._view_lock = threading.RLock()  # building and swapping views
        self._view: _View | None = None
        self._store: VectorStore | None = None  # the current generation's handle, shared by reads and writes
        self._store_generation: str | None = None
        self._store_writes = -1  # head["writes"] this handle has seen
        self._retired: list[tuple[float, VectorStore]] = []
        self._tokens: dict[str, LoadTokens] = {}  # BM25 tokens of each load, cached
        self._snapshot: dict[str, LoadTokens] = {}  # tokens read from this machine's cache files
        self._token_files: set[str] = set()  # the cache files read so far
        self._snapshot_saved = 0.0
        self._mismatch: str | None = None
        self._closed = threading.Event()
        self._lexical_wanted = threading.Event()
        self._lexical_done = threading.Condition()
        self._threads: list[threading.Thread] = []
        self._open(corpus, progress, check)

    # ------------------------------------------------------------ opening

    def manifest(self) -> dict:
        return {"embedding": self.embedder.describe(), "chunking": self.chunking.as_dict()}

    @property
    def head(self) -> dict:
        return dict(self._read_head() or {})

    def _read_head(self) -> dict | None:
        return self.backend.state.get("head")

    def _open(self, corpus, progress, check: bool) -> None:
        head = self._read_head()
        if head is None:
            with self._writing("create the index", built=not corpus):
                pass  # the session creates the head (or adopts an index in the old layout)
            head = self._read_head()
        if check:
            self._check_manifest(head)
        if self.backend.state.scan("journal/"):
            self._try_recover()
        if not head.get("built") and corpus:
            corpus_dir = config.builtin_corpus_dir() if corpus is True else Path(corpus)
            self._build(corpus_dir, progress)

    def _check_manifest(self, head: dict) -> None:
        wanted, found = self.manifest(), head.get("manifest", {})
        diffs = [k for k in ("embedding", "chunking") if found.get(k) != wanted[k]]
        if diffs:
            desc = "; ".join(f"{k}: index has {found.get(k)}, this copilot uses {wanted[k]}" for k in diffs)
            raise IndexMismatchError(
                f"The index at {self.backend.describe()} was built with other settings ({desc}). Rebuild it with "
                f"`cx-copilot rebuild --index-dir {self.index_dir}`, or open it with the settings it was built with.")

    def _build(self, corpus_dir: Path, progress: Progress | None) -> None:
        """Load the built-in corpus into a new index; `built` is recorded only when all of it is in, so an
        interrupted build is finished by whoever opens the index next."""
        with self._writing("build the index from the corpus") as s:
            if s.head.get("built"):
                return  # someone else finished it while we waited
            report = self.ingest([corpus_dir], progress=progress)
            if report.failed:
                raise CopilotError("could not build the index from the corpus:\n" +
                                   "\n".join(f.line() for f in report.failed))
            s.head["built"] = True
            self._put_head(s)

    def _new_head(self) -> dict:
        return {"format": FORMAT, "generation": "", "revision": 0, "writes": 0, "built": False,
                "manifest": self.manifest(), "created": _now(), "rebuilding": None}

    # ------------------------------------------------------------ writing: sessions, recovery

    @contextmanager
    def _writing(self, what: str, timeout: float | None = None, built: bool = False) -> Iterator[_Session]:
        """Hold the index's write lock: in this process (re-entrant) and across processes. On entry the head and
        the catalog are read fresh and any write a killed process left half done is finished or undone. A new
        index's head records `built` as given: True for an index started empty on purpose, False while the
        built-in corpus is still to be loaded (only a completed build sets it then)."""
        with self._write_lock:
            if self._session is not None:
                yield self._session
                return
            self.backend.lock.acquire(self.lock_timeout if timeout is None else timeout, owner_record(what),
                                      self._tell_waiting)
            try:
                head = self._read_head()
                if head is None:
                    head = self._adopt_legacy() or {**self._new_head(), "built": built}
                    self.backend.state.put("head", head)
                generation = head.get("generation", "")
                store = self._writer_store(head, generation)
                self._session = _Session(head, self._read_catalog(generation), store, generation)
                self._recover(self._session)
                yield self._session
            finally:
                self._session = None
                self.backend.lock.release()

    def _tell_waiting(self, holder: dict | None) -> None:
        from .stores.base import describe_owner

        log.warning("Waiting for %s to finish changing the index at %s ...", describe_owner(holder),
                    self.backend.describe())

    def _writer_store(self, head: dict, generation: str) -> VectorStore:
        """The handle to write through: a fresh one when another process wrote since ours was opened (embedded
        Chroma would otherwise write over what it cannot see)."""
        with self._view_lock:
            stale = self._store is None or self._store_generation != generation or (
                self.backend.reopen_to_see_changes and self._store_writes != head.get("writes", 0))
            if stale:
                self._swap_store(self.backend.open_collection(generation), generation, head.get("writes", 0))
            return self._store

    def _swap_store(self, store: VectorStore, generation: str, writes: int) -> None:
        old = self._store
        self._store, self._store_generation, self._store_writes = store, generation, writes
        if old is not None and old is not store:
            self._retired.append((time.monotonic(), old))

    def _reap(self, grace: float = 30.0) -> None:
        """Close retired store handles once no question can still be using them."""
        now = time.monotonic()
        keep = []
        for when, store in self._retired:
            if now - when > grace:
                store.close()
            else:
                keep.append((when, store))
        self._retired = keep

    def _put_head(self, s: _Session) -> None:
        s.head["updated"] = _now()
        self.backend.state.put("head", s.head)

    def _bump(self, s: _Session, revision: bool = True, writes: bool = False) -> None:
        """Move the head on. `writes` marks that the store changed (before the first write of a session, so a
        killed writer still warns the next one, and after the last); `revision` that the catalog changed."""
        if revision:
            s.head["revision"] = int(s.head.get("revision", 0)) + 1
        if writes:
            s.head["writes"] = int(s.head.get("writes", 0)) + 1
            with self._view_lock:
                if self._store is s.store:
                    self._store_writes = s.head["writes"]  # our handle holds our own writes
        self._put_head(s)

    def _read_catalog(self, generation: str) -> dict[str, dict]:
        prefix = f"source/{generation}/"
        return {k[len(prefix):]: v for k, v in self.backend.state.scan(prefix).items()}

    def _try_recover(self) -> None:
        """Clean up after a killed writer now if nobody is writing (otherwise the next writer does it)."""
        try:
            with self._writing("recover", timeout=0):
                pass
        except IndexBusyError:
            pass

    def _recover(self, s: _Session) -> None:
        """Finish or undo what killed writers left: every journal entry is stale when we hold the lock."""
        entries = self.backend.state.scan("journal/")
        rebuilding = (s.head.get("rebuilding") or {}).get("generation")
        if rebuilding and rebuilding != s.generation:
            log.warning("Dropping the unfinished rebuild %s of %s", rebuilding, self.backend.describe())
            self._drop_generation(rebuilding)
            s.head["rebuilding"] = None
        if not entries and not rebuilding:
            return
        for key, e in entries.items():
            gen = e.get("generation", "")
            if gen == s.generation:
                current = self.backend.state.get(_source_key(gen, e["source"]))
                if current and current.get("load") == e["load"]:
                    self._delete_load(s.store, e.get("replaces"), e.get("replaces_ids"))  # committed: finish
                else:
                    self._delete_load(s.store, e["load"], e.get("load_ids"))  # never committed: undo
            self.backend.state.delete([key])
        s.catalog = self._read_catalog(s.generation)
        self._bump(s, writes=True)
        log.info("Recovered %d interrupted write(s) in %s", len(entries), self.backend.describe())
        self._publish_catalog(s)

    def _delete_load(self, store: VectorStore, load: str | None, legacy_ids: list[str] | None = None) -> None:
        if legacy_ids:
            store.delete(legacy_ids)
        elif load:
            store.delete_where("load", load)

    def _drop_generation(self, generation: str) -> None:
        prefix = f"source/{generation}/"
        records = self.backend.state.scan(prefix)
        self.backend.drop_collection(generation, [r["load"] for r in records.values() if r.get("load")])
        self.backend.state.delete(list(records) + list(self.backend.state.scan(f"journal/{generation}/")))

    def _adopt_legacy(self) -> dict | None:
        """An index folder in the first layout (manifest.json, catalog.json, chroma/): take it over as it is."""
        import json

        manifest, catalog = self.index_dir / "manifest.json", self.index_dir / "catalog.json"
        if not manifest.exists() or isinstance(self.backend, FixedBackend) or self.backend.shared_state_is_remote:
            return None
        try:
            found = json.loads(manifest.read_text())
            sources = json.loads(catalog.read_text()).get("sources", {}) if catalog.exists() else {}
        except ValueError as exc:
            raise IndexMismatchError(f"{manifest} or {catalog} is damaged ({exc}). Remove the folder "
                                     f"{self.index_dir} and load the documents again.") from exc
        records = {}
        for name, e in sources.items():
            ids = list(e.get("chunk_ids", []))
            records[_source_key("", name)] = {**{k: v for k, v in e.items() if k != "chunk_ids"}, "load": "",
                                              "chunk_ids": ids, "fingerprint": fingerprint(ids)}
        self.backend.state.put_many(records)
        head = {**self._new_head(), "built": True,
                "manifest": {"embedding": found.get("embedding"), "chunking": found.get("chunking")}}
        legacy = self.index_dir / "legacy-v1"
        legacy.mkdir(exist_ok=True)
        for name in ("manifest.json", "catalog.json"):
            if (self.index_dir / name).exists():
                os.replace(self.index_dir / name, legacy / name)
        log.info("Adopted the index at %s (%d sources) into the shared-state layout", self.index_dir, len(records))
        return head

    # ------------------------------------------------------------ loading documents

    def ingest(self, paths: Iterable[str | os.PathLike] | str | os.PathLike,
               progress: Progress | None = None) -> IngestReport:
        """Load files and folders. Each file succeeds or fails on its own; the report says which and why.
        Files are read one at a time and written in groups of about `ingest_group` chunks (a big file in several
        batches under one load), so memory stays bounded whatever the size of the load."""
        if isinstance(paths, (str, os.PathLike)):
            paths = [paths]
        start = time.perf_counter()
        report = IngestReport()
        files = expand(paths)
        taken: dict[str, str] = {}
        group: list[tuple[FileOutcome, dict, list[Chunk]]] = []
        counts = {"done": 0, "total": 0}
        for n, (path, explicit) in enumerate(files, 1):
            if progress:
                progress("reading", n, len(files))
            outcome = FileOutcome(str(path), path.name, "failed")
            report.files.append(outcome)
            if not explicit and not supported(path):
                outcome.status, outcome.reason = "skipped", f"unsupported file type '{path.suffix or '(none)'}'"
                continue
            try:
                doc = load_document(path)
                if doc.source in taken and taken[doc.source] != str(path.resolve()):
                    raise LoadError(path, f"another file named {doc.source} is in this load "
                                          f"({taken[doc.source]}); rename one of them")
                taken[doc.source] = str(path.resolve())
                chunks = chunk_document(doc, self.chunking)
                digest = file_digest(path)
            except LoadError as exc:
                outcome.reason = exc.reason
                continue
            except OSError as exc:
                outcome.reason = f"cannot be read ({exc.strerror or exc})"
                continue
            outcome.chunks = len(chunks)
            info = {"source": doc.source, "path": str(Path(doc.path).resolve()), "title": doc.title,
                    "kind": doc.kind, "pages": doc.pages, "chunks": len(chunks), "digest": digest,
                    "fingerprint": fingerprint(c.id for c in chunks),
                    "topic": str(doc.metadata.get("topic", "")), "summary": str(doc.metadata.get("summary", "")),
                    "instructions": int(doc.metadata.get("instruction_sentences") or 0)}
            del doc
            group.append((outcome, info, chunks, None))
            if sum(len(item[2]) for item in group) >= self.ingest_group:
                report.embedded += self._write_group(group, progress, counts)
                group = []
        if group:
            report.embedded += self._write_group(group, progress, counts)
        self.wait_current()
        report.seconds = time.perf_counter() - start
        return report

    def _write_group(self, group, progress: Progress | None, counts: dict) -> int:
        """Write one group under the lock: unchanged files are skipped, the rest stored under new load ids, then
        committed together. Each item is (outcome, info, chunks, vectors_from): where to look for vectors of
        unchanged chunks, (store, catalog entry); by default the version being replaced. Returns how many
        chunks needed new vectors."""
        embedded = 0
        with self._writing("load documents") as s:
            todo, reuse = [], {}
            for outcome, info, chunks, vectors_from in group:
                known = s.catalog.get(info["source"])
                if known and known.get("digest") == info["digest"] and known.get("fingerprint") == info["fingerprint"]:
                    outcome.status = "unchanged"
                    continue
                outcome.status = "replaced" if known else "added"
                load = uuid.uuid4().hex[:12]
                todo.append((info, chunks, known, load))
                reuse[load] = vectors_from or ((s.store, known) if known else None)
            if not todo:
                return 0
            counts["total"] += sum(len(c) for _, c, _, _ in todo)
            self._bump(s, revision=False, writes=True)  # before the first chunk: nobody may trust an old handle
            self.backend.state.put_many({_journal_key(s.generation, load): {
                "load": load, "source": info["source"], "generation": s.generation, "started": _now(),
                "replaces": known.get("load") if known else None,
                "replaces_ids": known.get("chunk_ids") if known and not known.get("load") else None}
                for info, _, known, load in todo})
            tokens: dict[str, LoadTokens] = {}
            try:
                for info, chunks, known, load in todo:
                    parts = []
                    for start in range(0, len(chunks), max(1, self.ingest_group)):
                        batch = chunks[start:start + max(1, self.ingest_group)]
                        embedded += self._store_batch(s, batch, reuse[load], load, progress, counts)
                        parts.append(LoadTokens.from_chunks([record_id(c.id, load) for c in batch],
                                                            [_lexical_text(c.metadata(), c.text) for c in batch],
                                                            find_acronyms([c.text for c in batch])))
                    tokens[load] = LoadTokens.concat(parts)
                self.backend.lock.verify()
            except BaseException:
                self._undo(s, [load for _, _, _, load in todo])
                raise
            now = _now()
            self.backend.state.put_many({_source_key(s.generation, info["source"]): {
                **info, "load": load, "loaded_at": now} for info, _, _, load in todo})  # the commit
            for info, _, _, load in todo:
                s.catalog[info["source"]] = {**info, "load": load, "loaded_at": now}
            for info, _, known, load in todo:
                if known:
                    self._delete_load(s.store, known.get("load"), known.get("chunk_ids"))
            self._bump(s, writes=True)
            self.backend.state.delete([_journal_key(s.generation, load) for _, _, _, load in todo])
            self._tokens.update(tokens)
            LoadTokens.save_many(self._token_path(f"g-{uuid.uuid4().hex[:12]}"), tokens)
            self._publish_catalog(s)
        return embedded

    def _undo(self, s: _Session, loads: list[str]) -> None:
        """A load that failed before its commit (an error, Ctrl+C): delete what it stored, now rather than at
        the next open. Best effort: if this fails too, the journal still names it for the next writer."""
        try:
            for load in loads:
                self._delete_load(s.store, load)
            self._bump(s, revision=False, writes=True)
            self.backend.state.delete([_journal_key(s.generation, load) for load in loads])
        except Exception as exc:  # noqa: BLE001
            log.warning("Could not clean up the interrupted load right away (%s); the next write will", exc)

    def _store_batch(self, s: _Session, batch: list[Chunk], reuse: tuple[VectorStore, dict] | None, load: str,
                     progress: Progress | None, counts: dict) -> int:
        vectors: dict[str, np.ndarray] = {}
        sentence_vectors: dict[str, str] = {}
        if reuse:  # unchanged chunks keep their vectors and their sentences' vectors
            store, entry = reuse
            old = {record_id(c.id, entry.get("load", "")): c.id for c in batch}
            vectors = {old[i]: v for i, v in store.vectors(list(old)).items()}
            kept = store.get([i for i in old if old[i] in vectors], texts=False)
            sentence_vectors = {old[c.id]: c.metadata[VECTORS_KEY] for c in kept if c.metadata.get(VECTORS_KEY)}
        todo = [c for c in batch if c.id not in vectors or c.id not in sentence_vectors]
        base = counts["done"] + len(batch) - len(todo)
        seen = [0]

        def tick(n: int) -> None:
            seen[0] += n
            if progress:
                progress("embedding", base + seen[0], counts["total"])

        if todo:
            fresh, per_sentence = self.embedder.embed_with_spans([c.embedding_text() for c in todo],
                                                                 [c.sentence_offsets() for c in todo], tick)
            for c, v, sv in zip(todo, fresh, per_sentence):
                vectors[c.id] = v
                sentence_vectors[c.id] = pack_vectors(sv)
        self.backend.lock.verify()
        s.store.upsert([record_id(c.id, load) for c in batch], np.asarray([vectors[c.id] for c in batch]),
                       [c.text for c in batch],
                       [{**c.metadata(), "load": load, VECTORS_KEY: sentence_vectors[c.id]} for c in batch])
        counts["done"] += len(batch)
        if progress:
            progress("embedding", counts["done"], counts["total"])
        return len(todo)

    def remove(self, source: str) -> int:
        """Delete a source (its file name, or the path it was loaded from) completely. Returns chunks removed."""
        with self._writing("remove a document") as s:
            name = self._resolve_source(source, s.catalog)
            entry = s.catalog[name]
            key = _journal_key(s.generation, entry.get("load") or f"legacy-{uuid.uuid4().hex[:8]}")
            self._bump(s, revision=False, writes=True)
            self.backend.state.put(key, {"load": entry.get("load", ""), "source": name, "generation": s.generation,
                                         "started": _now(), "removing": True,
                                         "load_ids": entry.get("chunk_ids")})
            self.backend.lock.verify()
            self.backend.state.delete([_source_key(s.generation, name)])  # the commit
            del s.catalog[name]
            self._delete_load(s.store, entry.get("load"), entry.get("chunk_ids"))
            self._bump(s, writes=True)
            self.backend.state.delete([key])
            self._publish_catalog(s)
        self.wait_current()
        return int(entry.get("chunks", 0))

    def _resolve_source(self, source: str, catalog: dict[str, dict]) -> str:
        if source in catalog:
            return source
        name = Path(source).name
        if name in catalog:
            return name
        import difflib

        close = difflib.get_close_matches(name, list(catalog), n=3)
        hint = f" Did you mean {', '.join(close)}?" if close else " `cx-copilot sources` lists what is loaded."
        raise SourceNotFoundError(f"No source named {source!r} in the index at {self.backend.describe()}.{hint}")

    def rebuild(self, progress: Progress | None = None) -> tuple[IngestReport | None, list[str]]:
        """Re-create the index with this Index's settings from the files it was loaded from, into a new generation,
        then switch every reader to it in one write. The old generation stays whole until the switch and is
        dropped after it; a rebuild that fails or is killed leaves the old index as it was. Returns the load
        report and the paths that no longer exist: their documents are not dropped but carried over from their
        stored passages (re-embedded if the model changed; their chunking stays as it was)."""
        with self._writing("rebuild the index") as s:
            old_generation, old_catalog, old_store = s.generation, dict(s.catalog), s.store
            old_embedding = (s.head.get("manifest") or {}).get("embedding")
            gone = {name: e for name, e in old_catalog.items() if not Path(e["path"]).exists()}
            present = [e["path"] for name, e in old_catalog.items() if name not in gone]
            generation = uuid.uuid4().hex[:8]
            s.head["rebuilding"] = {"generation": generation, "since": _now()}
            self._put_head(s)
            s.generation, s.catalog, s.store = generation, {}, self.backend.open_collection(generation)
            try:
                report = None
                if present:
                    report = self.ingest(present, progress=progress)
                elif not old_catalog:
                    built = self.ingest([config.builtin_corpus_dir()], progress=progress)
                    if built.failed:
                        raise CopilotError("could not rebuild the index from the corpus:\n" +
                                           "\n".join(f.line() for f in built.failed))
                if gone:
                    same_model = old_embedding == self.manifest()["embedding"]
                    self._carry_over(gone, old_store, same_model, progress)
                s.head.update({"generation": generation, "manifest": self.manifest(), "built": True,
                               "rebuilding": None, "format": FORMAT})
                with self._view_lock:
                    self._swap_store(s.store, generation, s.head.get("writes", 0) + 1)
                self._bump(s, writes=True)  # the switch
            except BaseException:
                s.store.close()
                self._drop_generation(generation)
                s.head["rebuilding"] = None
                s.generation = old_generation
                self._put_head(s)
                raise
            self._publish_catalog(s)
            if self.backend.shared_state_is_remote:
                time.sleep(2 * self.poll_seconds)  # let the other replicas move over before the old one goes
            self._drop_generation(old_generation)
        self.wait_current()
        return report, [e["path"] for e in gone.values()]

    def _carry_over(self, entries: dict[str, dict], old_store: VectorStore, same_model: bool,
                    progress: Progress | None) -> None:
        """Documents whose files are gone, written into the generation being built from what the old one holds."""
        counts = {"done": 0, "total": 0}
        for name, entry in entries.items():
            kept = [_Kept(c, entry.get("load", "")) for c in self._chunks_of(entry, old_store)]
            info = {k: entry.get(k) for k in ("source", "path", "title", "kind", "pages", "digest", "topic", "summary")}
            info.update(chunks=len(kept), fingerprint=entry.get("fingerprint", ""), kept_from_store=True)
            outcome = FileOutcome(entry["path"], name, "failed")
            self._write_group([(outcome, info, kept, (old_store, entry) if same_model else None)], progress, counts)
            log.warning("%s no longer exists: %s was carried over from its %d stored passages", entry["path"], name,
                        len(kept))

    # ------------------------------------------------------------ reading: views, refresh, BM25

    @property
    def retriever(self) -> Retriever:
        """The retriever over the current state. Never blocks on a writer; the first call builds it."""
        view = self._view or self._first_view()
        if self._mismatch:
            raise IndexMismatchError(self._mismatch)
        return view.retriever

    @property
    def store(self) -> VectorStore:
        """The current generation's store, everything in it (tests look at it; answers go through the view)."""
        if self._view is not None:
            return self._view.store
        head = self._read_head() or {}
        return self._writer_store(head, head.get("generation", ""))

    @property
    def catalog(self) -> dict:
        """The sources as this process answers from them; read afresh by a process that has not answered yet
        (listing sources never needs the BM25 index)."""
        view = self._view
        head, catalog = (view.head, view.catalog) if view is not None else (self._read_head() or {}, None)
        if catalog is None:
            catalog = self._read_catalog(head.get("generation", ""))
        return {"revision": str(head.get("revision", 0)), "generation": head.get("generation", ""),
                "sources": catalog}

    def sources(self) -> list[dict]:
        keys = ("source", "title", "kind", "chunks", "pages", "loaded_at", "path", "topic", "summary", "instructions")
        return [{k: v.get(k) for k in keys} for v in sorted(self.catalog["sources"].values(), key=lambda v: v["source"])]

    def _first_view(self) -> _View:
        with self._view_lock:
            if self._view is None:
                self._refresh(initial=True)
                self._start_threads()
            return self._view

    def _start_threads(self) -> None:
        ref = weakref.ref(self)
        for target, name in ((_watch, "cx-index-watch"), (_lexical_worker, "cx-index-bm25")):
            t = threading.Thread(target=target, args=(ref, self._closed), daemon=True, name=name)
            t.start()
            self._threads.append(t)

    def _refresh(self, initial: bool = False) -> bool:
        """Read the head; when it moved, publish a view of the new state. Returns whether anything changed."""
        with self._view_lock:
            head = self._read_head() or {}
            view = self._view
            if view is not None and view.key == (head.get("generation", ""), head.get("revision", 0)):
                return False
            generation = head.get("generation", "")
            if view is not None and head.get("manifest") and head["manifest"] != self.manifest():
                self._mismatch = (f"The index at {self.backend.describe()} was rebuilt with other settings "
                                  f"({head['manifest'].get('embedding')}); restart with those settings to use it.")
                return False
            self._mismatch = None
            stale = self._store is None or self._store_generation != generation or (
                self.backend.reopen_to_see_changes and self._store_writes != head.get("writes", 0))
            if stale and not self._writing_here():
                self._swap_store(self.backend.open_collection(generation), generation, head.get("writes", 0))
            catalog = self._read_catalog(generation)
            self._publish(head, catalog, self._store, build_lexical=initial or view is None)
            self._reap()
            return True

    def _writing_here(self) -> bool:
        return self._session is not None

    def _publish_catalog(self, s: _Session) -> None:
        """After our own commit: answer from the new catalog right away; BM25 follows in the background. A
        process that has not answered anything yet has nothing to update; a rebuild publishes only its switch."""
        if self._view is None or s.generation != s.head.get("generation", ""):
            return
        with self._view_lock:
            self._publish(dict(s.head), dict(s.catalog), s.store, build_lexical=False)

    def _publish(self, head: dict, catalog: dict, store: VectorStore, build_lexical: bool) -> None:
        old = self._view
        visible = CatalogView(store, catalog, self._current_store)
        settings = old.retriever.settings if old else self.retrieval
        if build_lexical or old is None:
            lexical, acronyms, key = self._build_lexical(catalog, store)
        else:
            lexical, acronyms, key = old.retriever.lexical, old.retriever.acronyms, old.lexical_key
        retriever = Retriever(self.embedder, visible, lexical, settings, acronyms, catalog)
        self._view = _View(head, catalog, store, retriever, key)
        if key != _lexical_key(catalog):
            self._lexical_wanted.set()
        else:
            with self._lexical_done:
                self._lexical_done.notify_all()

    def _current_store(self) -> VectorStore:
        self._refresh()
        return self._view.store

    def _build_lexical(self, catalog: dict[str, dict], store: VectorStore):
        parts = []
        fresh = 0
        for name in sorted(catalog):
            entry = catalog[name]
            key = _token_key(entry)
            known = key in self._tokens or key in self._snapshot
            parts.append(self._load_tokens(entry, store))
            fresh += not known
        if fresh and time.monotonic() - self._snapshot_saved > 30:
            self._consolidate_tokens({_token_key(catalog[n]): p for n, p in zip(sorted(catalog), parts)})
        merged = LoadTokens.concat(parts)
        acronyms: dict[str, str] = {}
        for part in parts:
            for k, v in part.acronyms.items():
                acronyms.setdefault(k, v)
        return merged.to_lexical(), acronyms, _lexical_key(catalog)

    def _load_tokens(self, entry: dict, store: VectorStore) -> LoadTokens:
        key = _token_key(entry)
        cached = self._tokens.get(key)
        if cached is None:
            cached = self._snapshot.get(key)
        if cached is None:  # cache files written since we last looked (this machine's other processes)
            for path in sorted(self.cache_dir.glob("tokens/*.npz")) if self.cache_dir.exists() else []:
                if path.name not in self._token_files:
                    self._token_files.add(path.name)
                    self._snapshot.update(LoadTokens.load_many(path))
            cached = self._snapshot.get(key)
        if cached is None:  # not cached here (another machine loaded it): tokenize it from the store
            chunks = list(self._chunks_of(entry, store))
            cached = LoadTokens.from_chunks([c.id for c in chunks], [_lexical_text(c.metadata, c.text) for c in chunks],
                                            find_acronyms([c.text for c in chunks]))
        self._tokens[key] = cached
        return cached

    def _consolidate_tokens(self, parts: dict[str, LoadTokens]) -> None:
        """Write every current load's tokens into one cache file and delete the files it makes redundant (whose
        loads it holds, or that have been gone for a minute), so a start reads a few files, not one per load."""
        folder = self.cache_dir / "tokens"
        new = self._token_path(f"all-{uuid.uuid4().hex[:12]}")
        before = list(folder.glob("*.npz")) if folder.exists() else []
        LoadTokens.save_many(new, parts)
        self._snapshot_saved = time.monotonic()
        if not new.exists():
            return
        self._token_files.add(new.name)
        for path in before:
            try:
                held = LoadTokens.keys_in(path)
                old = time.time() - path.stat().st_mtime > 60
            except OSError:
                continue
            if held <= set(parts) or (old and not held & set(parts)):
                path.unlink(missing_ok=True)

    def _chunks_of(self, entry: dict, store: VectorStore) -> Iterator[StoredChunk]:
        if entry.get("load"):
            rows = [c for page in store.scan({"load": entry["load"]}) for c in page]
            rows.sort(key=lambda c: c.metadata.get("position", 0))
            yield from rows
        else:
            yield from store.get(entry.get("chunk_ids", []))

    def _token_path(self, key: str) -> Path:
        return self.cache_dir / "tokens" / f"{key}.npz"

    def _lexical_pass(self) -> None:
        """Bring the current view's BM25 index up to its catalog (in the background thread)."""
        view = self._view
        if view is None or view.lexical_key == _lexical_key(view.catalog):
            return
        lexical, acronyms, key = self._build_lexical(view.catalog, view.store)
        with self._view_lock:
            current = self._view
            if current is not view and current.lexical_key == _lexical_key(current.catalog):
                return
            settings = current.retriever.settings
            retriever = Retriever(self.embedder, CatalogView(current.store, current.catalog, self._current_store),
                                  lexical, settings, acronyms, current.catalog)
            self._view = _View(current.head, current.catalog, current.store, retriever, key)
            live = {_token_key(e) for e in current.catalog.values()}
            for k in [k for k in self._tokens if k not in live]:
                del self._tokens[k]
            self._snapshot = {}  # what it held is in _tokens now
        with self._lexical_done:
            self._lexical_done.notify_all()

    def wait_current(self, timeout: float = 600.0) -> None:
        """Block until this process answers from the latest state it knows of, BM25 included (used after a load,
        which is off the request path; questions never wait for this)."""
        if self._view is None:
            return
        deadline = time.monotonic() + timeout
        with self._lexical_done:
            while True:
                view = self._view
                if view.lexical_key == _lexical_key(view.catalog) or time.monotonic() > deadline:
                    return
                self._lexical_wanted.set()
                self._lexical_done.wait(0.2)

    def close(self) -> None:
        self._closed.set()
        self._lexical_wanted.set()
        with self._view_lock:
            for _, store in self._retired:
                store.close()
            self._retired = []
            if self._store is not None:
                self._store.close()
        self.backend.close()


class _Kept:
    """A stored chunk standing in for a Chunk (a rebuild carrying a document whose file is gone): the same id,
    passage and metadata, every key kept."""

    def __init__(self, stored: StoredChunk, load: str):
        self.id = stored.id[: -len(load) - 1] if load and stored.id.endswith("." + load) else stored.id
        self.text = stored.text
        self._meta = {k: v for k, v in stored.metadata.items() if k != "load"}
        m = self._meta
        self._chunk = Chunk(self.id, m.get("source", ""), m.get("title", ""), m.get("section", ""), m.get("page"),
                            self.text, int(m.get("position", 0)), m.get("kind", ""))

    def metadata(self) -> dict:
        return {**self._meta, SPANS_KEY: self._chunk.metadata()[SPANS_KEY]}  # spans as the vectors are made

    def embedding_text(self) -> str:
        return self._chunk.embedding_text()

    def sentence_offsets(self) -> list[tuple[int, int]]:
        return self._chunk.sentence_offsets()


def _token_key(entry: dict) -> str:
    return entry.get("load") or f"legacy-{entry.get('fingerprint', '')}"


def _lexical_text(meta: dict, text: str) -> str:
    return f"{meta.get('title', '')} {meta.get('section', '')} {text}"


def _lexical_key(catalog: dict[str, dict]) -> tuple:
    return tuple(sorted((name, e.get("load") or e.get("fingerprint", "")) for name, e in catalog.items()))


def _watch(ref, closed: threading.Event) -> None:
    """Poll the head every `poll_seconds`; swap in the new state when another process changed it."""
    failing = False
    while not closed.is_set():
        index = ref()
        if index is None:
            return
        interval = index.poll_seconds
        try:
            index._refresh()
            with index._view_lock:
                index._reap()
            if failing:
                log.warning("%s is reachable again", index.backend.describe())
            failing = False
        except Exception as exc:  # noqa: BLE001 - a blip (server restart); keep answering from what we have
            if not failing:
                log.warning("Could not check %s for changes (answering from what was loaded): %s",
                            index.backend.describe(), exc)
            failing = True
        del index
        if closed.wait(interval):
            return


def _lexical_worker(ref, closed: threading.Event) -> None:
    while not closed.is_set():
        index = ref()
        if index is None:
            return
        wanted = index._lexical_wanted
        del index
        if not wanted.wait(1.0):
            continue
        wanted.clear()
        index = ref()
        if index is None or closed.is_set():
            return
        try:
            index._lexical_pass()
        except Exception as exc:  # noqa: BLE001 - the dense side still answers; try again on the next change
            log.warning("Could not rebuild the BM25 index: %s", exc)
            with index._lexical_done:
                index._lexical_done.notify_all()
        del index
