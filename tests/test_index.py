"""The Index's promises, in one process: every store call batched, nothing unlisted answers, a replaced
document served whole, no lost update between two openers, everyone current without blocking questions,
writers refused plainly when the index stays busy, a first build finished by the next start, indexes in the
first layout adopted. Fast: the hash embedder and the in-memory backend, or embedded Chroma where it matters."""

from __future__ import annotations

import threading
import time

import pytest

from copilot import Copilot
from copilot.embeddings import HashEmbedder
from copilot.errors import IndexBusyError
from copilot.index import record_id
from copilot.retrieval import RetrievalSettings
from copilot.stores.memory import MemoryBackend

GATE = RetrievalSettings(min_dense=0.05, min_fused=0.05)


def _open(path, backend=None, **kw):
    kw.setdefault("embedder", HashEmbedder())
    kw.setdefault("corpus", False)
    return Copilot(path, store=backend, retrieval=GATE, **kw)


def _doc(folder, name, heading, body):
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(f"# {heading}\n\n## What is {heading}?\n\n{body}\n", encoding="utf-8")
    return path


def _agree(cp) -> None:
    """The catalog and the store hold the same chunks: each listed load's chunks, nothing else."""
    listed = {}
    for e in cp.catalog["sources"].values():
        listed[e["load"]] = e["chunks"]
    stored = {}
    for c in cp.store.all():
        stored[c.metadata.get("load", "")] = stored.get(c.metadata.get("load", ""), 0) + 1
    assert stored == listed


def _wait(predicate, timeout=5.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return time.monotonic() - (deadline - timeout)
        time.sleep(0.05)
    raise AssertionError("not within %.1f s" % timeout)


def test_every_store_call_is_batched(tmp_path):
    backend = MemoryBackend(batch_size=40)  # any call over 40 items raises
    folder = tmp_path / "docs"
    body = " ".join(f"Sentence {i} is about customer churn and loyalty programmes." for i in range(1000))
    for n in range(3):
        _doc(folder, f"big-{n}.md", f"Topic {n}", body)
    cp = _open(tmp_path / "idx", backend)
    cp.ingest_group = 100
    report = cp.ingest([folder])
    assert report.ok and sum(f.chunks for f in report.files) > 120
    sizes = [n for _, n in cp.store.calls]
    assert sizes and max(sizes) <= 40
    cp.answer("What is churn?")
    cp.ingest([folder])  # unchanged: vectors looked up, batched too
    for f in folder.iterdir():
        f.write_text(f.read_text() + "\n\nOne more line about retention.\n")
    cp.ingest([folder])  # replaced: old vectors re-used, old chunks deleted, all batched
    assert max(n for _, n in cp.store.calls) <= 40
    _agree(cp)


def test_metadata_passes_through_the_store_unchanged(tmp_path):
    backend = MemoryBackend()
    cp = _open(tmp_path / "idx", backend)
    store = cp.index.backend.open_collection("")
    meta = {"source": "x.md", "title": "T", "score_hint": 0.25, "rank": 3, "flag": True, "tag": "é ✓"}
    store.upsert(["a"], HashEmbedder().embed(["hello"]), ["hello"], [meta])
    assert store.get(["a"])[0].metadata == meta


def test_nothing_the_catalog_does_not_list_answers(tmp_path, small_corpus):
    cp = _open(tmp_path / "idx", MemoryBackend())
    cp.ingest([small_corpus])
    # chunks a killed writer left behind: stored, tagged with a load no catalog record names
    rogue = "Promoters of the rogue document answer 11 on a ten-point NPS scale, calculated by magic."
    cp.store.upsert([record_id("deadbeef", "orphan")], HashEmbedder().embed([rogue]), [rogue],
                    [{"source": "rogue.md", "title": "Rogue", "section": "NPS", "load": "orphan"}])
    cp.store.upsert([record_id("cafe", "stale")], HashEmbedder().embed([rogue]), [rogue],
                    [{"source": "nps.md", "title": "NPS", "section": "NPS", "load": "stale"}])
    for q in ("How is NPS calculated?", "rogue document promoters answer 11 magic"):
        hits = cp.search(q)
        assert hits and all("rogue" not in h.chunk.text for h in hits)
        assert all("rogue" not in c.text for c in cp.answer(q).citations)


def test_a_replacing_load_that_dies_before_its_commit_leaves_the_old_version_whole(tmp_path, small_corpus):
    class Dies(HashEmbedder):
        armed = False

        def embed_batch(self, texts):
            if self.armed:
                raise KeyboardInterrupt  # Ctrl+C in the middle of embedding the new version
            return super().embed_batch(texts)

    embedder = Dies()
    cp = _open(tmp_path / "idx", MemoryBackend(), embedder=embedder)
    cp.ingest([small_corpus])
    before = {c.text for c in cp.store.all() if c.metadata["source"] == "ces.md"}
    path = small_corpus / "ces.md"
    path.write_text(path.read_text().replace("seven-point agreement scale", "five-point effort scale") +
                    "\n## Extra\n\nA brand new section about effort.\n")
    embedder.armed = True
    with pytest.raises(KeyboardInterrupt):
        cp.ingest([path])
    embedder.armed = False
    assert {c.text for c in cp.store.all() if c.metadata["source"] == "ces.md"} == before
    answer = cp.answer("What scale do CES surveys use?")
    assert "seven-point" in answer.text and "five-point" not in answer.text
    _agree(cp)
    assert cp.ingest([path]).files[0].status == "replaced"
    assert "five-point" in cp.answer("What scale do CES surveys use?").text
    _agree(cp)


def test_two_openers_never_lose_each_others_documents(tmp_path):
    backend = MemoryBackend()
    a = _open(tmp_path / "a", backend)
    b = _open(tmp_path / "b", backend)
    a.ingest([_doc(tmp_path / "d", "churn.md", "churn", "Churn is the share of customers who leave.")])
    b.ingest([_doc(tmp_path / "d", "csat.md", "CSAT", "CSAT measures satisfaction with one interaction.")])
    a.ingest([_doc(tmp_path / "d", "fcr.md", "FCR", "FCR counts issues solved in the first contact.")])
    assert {s["source"] for s in b.sources()} >= {"churn.md", "csat.md"}
    _wait(lambda: {s["source"] for s in b.sources()} == {"churn.md", "csat.md", "fcr.md"})
    assert {s["source"] for s in a.sources()} == {"churn.md", "csat.md", "fcr.md"}
    _agree(a)


def test_an_open_index_answers_from_another_openers_load_within_seconds(tmp_path):
    backend = MemoryBackend()
    app = _open(tmp_path / "app", backend)
    app.ingest([_doc(tmp_path / "d", "churn.md", "churn", "Churn is the share of customers who leave.")])
    assert app.answer("What is a zephyr score?").abstained
    cli = _open(tmp_path / "cli", backend)
    cli.ingest([_doc(tmp_path / "d", "zephyr.md", "zephyr score", "The zephyr score counts gusts per hour.")])
    waited = _wait(lambda: any(c.source == "zephyr.md" for c in app.answer("What is the zephyr score?").citations))
    assert waited < 5.0
    cli.remove("zephyr.md")
    _wait(lambda: app.answer("What is the zephyr score?").abstained)


def test_bm25_is_rebuilt_off_the_request_path(tmp_path, monkeypatch):
    from copilot.index import Index

    builds = []
    real = Index._build_lexical

    def spy(self, catalog, store):
        builds.append(threading.current_thread().name)
        return real(self, catalog, store)

    monkeypatch.setattr(Index, "_build_lexical", spy)
    backend = MemoryBackend()
    app = _open(tmp_path / "app", backend)
    app.answer("What is churn?")  # the first view is built when first asked for
    builds.clear()
    _open(tmp_path / "cli", backend).ingest([_doc(tmp_path / "d", "x.md", "zephyr", "The zephyr blows.")])
    _wait(lambda: any(c.source == "x.md" for c in app.answer("What is zephyr?").citations))
    _wait(lambda: builds)
    assert set(builds) == {"cx-index-bm25"}
    _wait(lambda: app.index._view.lexical_key == app.index._view.lexical_key.__class__(
        sorted((n, e["load"]) for n, e in app.catalog["sources"].items())))
    assert "x.md" in {h.source for h in app.search("zephyr blows") if h.lexical > 0}


def test_a_busy_index_refuses_a_write_plainly_and_changes_nothing(tmp_path, small_corpus):
    backend = MemoryBackend()
    cp = _open(tmp_path / "idx", backend)
    cp.ingest([small_corpus / "nps.md"])
    cp.index.lock_timeout = 0.3
    holder = {"pid": 4242, "host": "elsewhere", "what": "cx-copilot ingest big/", "since": "2026-12-01T10:00:00"}
    assert backend.lock.try_acquire(holder)
    try:
        with pytest.raises(IndexBusyError, match="process 4242 on elsewhere .cx-copilot ingest big/"):
            cp.ingest([small_corpus / "ces.md"])
        with pytest.raises(IndexBusyError, match="Nothing was changed"):
            cp.remove("nps.md")
    finally:
        backend.lock.release()
    assert [s["source"] for s in cp.sources()] == ["nps.md"]
    _agree(cp)


def test_an_interrupted_first_build_is_finished_by_the_next_start(tmp_path, small_corpus, monkeypatch):
    from copilot.index import Index

    class Dies(HashEmbedder):
        def embed_batch(self, texts):
            if any("journey" in t.lower() for t in texts):
                raise RuntimeError("killed")
            return super().embed_batch(texts)

    monkeypatch.setattr(Index, "ingest_group", 2)  # a commit per file
    folder = tmp_path / "idx"
    with pytest.raises(RuntimeError):
        Copilot(folder, embedder=Dies(), corpus=small_corpus, retrieval=GATE)
    # the first group went in; the index is not "built" yet, so the next start goes on loading the corpus
    half = Copilot(folder, embedder=HashEmbedder(), corpus=False, retrieval=GATE)
    assert not half.index.head["built"] and len(half.sources()) < 3
    whole = Copilot(folder, embedder=HashEmbedder(), corpus=small_corpus, retrieval=GATE)
    assert whole.index.head["built"] and {s["source"] for s in whole.sources()} == {"nps.md", "ces.md", "journeys.md"}
    _agree(whole)


def test_an_index_in_the_first_layout_is_adopted(tmp_path, small_corpus):
    """An index written before shared state existed (manifest.json, catalog.json, plain chunk ids) keeps
    working: listed, answered, replaced and removed."""
    import json

    from copilot.chunking import ChunkSettings, chunk_document
    from copilot.documents import load_document
    import chromadb
    from chromadb.api.shared_system_client import SharedSystemClient

    folder = tmp_path / "old"
    folder.mkdir()
    embedder = HashEmbedder()
    # written as the first layout did: its collection settings, passages as documents, plain chunk ids
    client = chromadb.PersistentClient(path=str(folder / "chroma"))
    collection = client.get_or_create_collection("cx_chunks", configuration={"hnsw": {"space": "cosine"}},
                                                 metadata={"app": "cx-copilot"}, embedding_function=None)
    sources = {}
    for path in sorted(small_corpus.glob("*.md")):
        doc = load_document(path)
        chunks = chunk_document(doc)
        collection.upsert(ids=[c.id for c in chunks], embeddings=embedder.embed([c.embedding_text() for c in chunks]),
                          documents=[c.text for c in chunks], metadatas=[c.metadata() for c in chunks])
        import hashlib

        sources[doc.source] = {"source": doc.source, "path": str(path), "title": doc.title, "kind": doc.kind,
                               "pages": None, "chunks": len(chunks), "chunk_ids": [c.id for c in chunks],
                               "digest": hashlib.sha256(path.read_bytes()).hexdigest(), "loaded_at": "2026-11-01",
                               "topic": "", "summary": ""}
    SharedSystemClient.clear_system_cache()
    (folder / "manifest.json").write_text(json.dumps({"format": 1, "embedding": embedder.describe(),
                                                      "chunking": ChunkSettings().as_dict()}))
    (folder / "catalog.json").write_text(json.dumps({"revision": "x", "sources": sources}))
    cp = Copilot(folder, embedder=HashEmbedder(), retrieval=GATE)  # corpus=True: it is built, nothing loads
    assert {s["source"] for s in cp.sources()} == set(sources)
    assert cp.answer("How is NPS calculated?").citations[0].source == "nps.md"
    assert [f.status for f in cp.ingest([small_corpus]).files] == ["unchanged"] * 3
    path = small_corpus / "ces.md"
    path.write_text(path.read_text().replace("seven-point agreement scale", "five-point effort scale"))
    assert cp.ingest([path]).files[0].status == "replaced"
    assert "five-point" in cp.answer("What scale do CES surveys use?").text
    cp.remove("journeys.md")
    texts = [c.metadata["source"] for c in cp.store.all()]
    assert texts.count("journeys.md") == 0 and texts.count("ces.md") == 2
    assert not (folder / "catalog.json").exists() and (folder / "legacy-v1" / "catalog.json").exists()


def test_rebuild_switches_every_open_copilot_and_their_next_upload_works(tmp_path, small_corpus):
    from copilot.core import rebuild_index

    folder = tmp_path / "idx"
    app = _open(folder)
    app.ingest([small_corpus])
    assert not app.answer("How is NPS calculated?").abstained
    generation = app.index.head["generation"]
    rebuilt, report, missing = rebuild_index(folder, embedder=HashEmbedder(), retrieval=GATE)
    assert report.ok and not missing and rebuilt.index.head["generation"] != generation
    _wait(lambda: app.catalog["generation"] == rebuilt.index.head["generation"])
    assert app.answer("How is NPS calculated?").citations[0].source == "nps.md"
    report = app.ingest([_doc(tmp_path / "d", "zephyr.md", "zephyr score", "The zephyr score counts gusts.")])
    assert report.ok and "zephyr.md" in {s["source"] for s in rebuilt.sources()} | {
        s["source"] for s in _open(folder).sources()}
    _agree(app)


def test_a_failed_rebuild_leaves_the_index_as_it_was(tmp_path, small_corpus):
    from copilot.core import rebuild_index

    folder = tmp_path / "idx"
    cp = _open(folder)
    cp.ingest([small_corpus])
    head = cp.index.head

    class Broken(HashEmbedder):
        def embed_batch(self, texts):
            raise RuntimeError("model crashed")

    with pytest.raises(RuntimeError, match="model crashed"):
        rebuild_index(folder, embedder=Broken(), retrieval=GATE)
    again = _open(folder)
    assert again.index.head["generation"] == head["generation"] and len(again.sources()) == 3
    assert sorted(p.name for p in folder.glob("chroma*")) == ["chroma"]
    assert not again.answer("How is NPS calculated?").abstained
    _agree(again)


def test_rebuild_keeps_documents_whose_files_are_gone(tmp_path, small_corpus):
    """On a replica that never had the uploaded file, or after the file was deleted: the rebuild carries the
    document over from its stored passages (re-embedded with the new model) instead of dropping it."""
    from copilot.core import rebuild_index

    folder = tmp_path / "idx"
    cp = _open(folder)
    doomed = _doc(tmp_path / "elsewhere", "zephyr.md", "zephyr score", "The zephyr score counts gusts per hour.")
    cp.ingest([small_corpus, doomed])
    doomed.unlink()

    class Other(HashEmbedder):
        name = "another-model"

    rebuilt, report, missing = rebuild_index(folder, embedder=Other(), retrieval=GATE)
    assert missing == [str(doomed.resolve())] and report.ok
    assert {s["source"] for s in rebuilt.sources()} == {"nps.md", "ces.md", "journeys.md", "zephyr.md"}
    assert any(c.source == "zephyr.md" for c in rebuilt.answer("What is the zephyr score?").citations)
    _agree(rebuilt)
