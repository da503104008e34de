"""Loading, re-loading, replacing and removing documents, with a fake embedder and a real Chroma store."""

import pytest

from copilot import Copilot, IndexMismatchError, SourceNotFoundError
from copilot.embeddings import HashEmbedder
from copilot.retrieval import RetrievalSettings

GATE = RetrievalSettings(min_dense=0.05, min_fused=0.05)


def _open(path, **kw):
    kw.setdefault("embedder", HashEmbedder())
    return Copilot(path, corpus=False, retrieval=GATE, **kw)


def _chunk_count(cp):
    return cp.store.count()


def test_missing_index_is_built_from_the_corpus(fake_copilot):
    assert {s["source"] for s in fake_copilot.sources()} == {"nps.md", "ces.md", "journeys.md"}
    row = next(s for s in fake_copilot.sources() if s["source"] == "nps.md")
    assert row["title"] == "Net Promoter Score (NPS)" and row["kind"] == "markdown" and row["chunks"] == 2
    assert row["loaded_at"] and row["topic"] == "metrics"


def test_reloading_an_unchanged_file_is_a_no_op(fake_copilot, small_corpus):
    before = _chunk_count(fake_copilot)
    report = fake_copilot.ingest([small_corpus])
    assert [f.status for f in report.files] == ["unchanged"] * 3
    assert report.embedded == 0 and _chunk_count(fake_copilot) == before


def test_a_changed_file_replaces_its_old_chunks(fake_copilot, small_corpus):
    path = small_corpus / "ces.md"
    path.write_text(path.read_text().replace("seven-point agreement scale", "five-point effort scale"))
    report = fake_copilot.ingest([path])
    assert report.files[0].status == "replaced"
    assert report.embedded == 1  # only the changed section needed a new vector
    texts = [c.text for c in fake_copilot.store.all()]
    assert any("five-point effort scale" in t for t in texts)
    assert not any("seven-point agreement scale" in t for t in texts)
    assert _chunk_count(fake_copilot) == sum(s["chunks"] for s in fake_copilot.sources())


def test_remove_deletes_a_source_completely(fake_copilot):
    removed = fake_copilot.remove("journeys.md")
    assert removed == 2
    assert "journeys.md" not in {s["source"] for s in fake_copilot.sources()}
    assert not any(c.metadata["source"] == "journeys.md" for c in fake_copilot.store.all())
    hits = fake_copilot.search("customer journey map persona stages")
    assert all(h.source != "journeys.md" for h in hits)
    with pytest.raises(SourceNotFoundError, match="journeys.md"):
        fake_copilot.remove("journeys.md")


def test_remove_accepts_the_loaded_path_and_suggests_close_names(fake_copilot, small_corpus):
    fake_copilot.remove(str(small_corpus / "ces.md"))
    with pytest.raises(SourceNotFoundError, match="Did you mean nps.md"):
        fake_copilot.remove("nsp.md")


def test_a_bad_file_fails_alone_and_the_others_load(tmp_path, pdf_factory):
    folder = tmp_path / "upload"
    folder.mkdir()
    (folder / "good.md").write_text("# Good\n\n## What is CSAT?\n\nCSAT measures satisfaction with one interaction.\n")
    (folder / "fake.pdf").write_text("not a pdf at all")
    (folder / "nested").mkdir()
    (folder / "nested" / "more.txt").write_text("First contact resolution is the share of issues solved at once.\n")
    (folder / "picture.png").write_bytes(b"\x89PNG....")
    cp = _open(tmp_path / "idx")
    report = cp.ingest([folder, tmp_path / "missing.html"])
    status = {f.source: (f.status, f.reason) for f in report.files}
    assert status["good.md"][0] == "added" and status["more.txt"][0] == "added"
    assert status["fake.pdf"] == ("failed", "not a PDF file (its content does not start with %PDF)")
    assert status["picture.png"][0] == "skipped"
    assert status["missing.html"] == ("failed", "file not found")
    assert not report.ok and "2 added" in report.summary() and "2 failed" in report.summary()
    assert {s["source"] for s in cp.sources()} == {"good.md", "more.txt"}


def test_crash_mid_ingest_leaves_a_consistent_resumable_index(tmp_path, small_corpus):
    class Crashing(HashEmbedder):
        calls = 0

        def embed_with_spans(self, texts, spans, progress=None):  # one call per group of chunks
            Crashing.calls += 1
            if Crashing.calls == 2:
                raise RuntimeError("power cut")
            return super().embed_with_spans(texts, spans, progress)

    cp = _open(tmp_path / "idx", embedder=Crashing())
    cp.ingest_group = 2  # commit after every two chunks
    with pytest.raises(RuntimeError, match="power cut"):
        cp.ingest([small_corpus])
    reopened = _open(tmp_path / "idx")
    assert [s["chunks"] for s in reopened.sources()] == [2]  # the first group was committed, the second not
    assert reopened.store.count() == 2  # and the second's chunks are gone
    report = reopened.ingest([small_corpus])
    assert sorted(f.status for f in report.files) == ["added", "added", "unchanged"]
    assert reopened.store.count() == sum(s["chunks"] for s in reopened.sources()) == 6


def test_opening_an_index_with_other_settings_is_a_clear_error(fake_copilot, tmp_path):
    class Other(HashEmbedder):
        name = "another-model"

    with pytest.raises(IndexMismatchError, match="cx-copilot rebuild"):
        Copilot(tmp_path / "fake-index", embedder=Other(), corpus=False)


def test_two_files_with_one_name_in_one_load(tmp_path):
    for sub in ("a", "b"):
        (tmp_path / sub).mkdir()
        (tmp_path / sub / "faq.md").write_text(f"# FAQ {sub}\n\nAnswers about churn from team {sub}.\n")
    report = _open(tmp_path / "idx").ingest([tmp_path / "a", tmp_path / "b"])
    assert [f.status for f in report.files] == ["added", "failed"]
    assert "another file named faq.md" in report.files[1].reason


def test_answers_cite_loaded_passages_and_off_topic_is_declined(fake_copilot):
    a = fake_copilot.answer("How is NPS calculated?")
    assert not a.abstained and a.citations[0].source == "nps.md"
    assert "percentage of detractors" in a.text
    assert a.citations[0].section == "How is NPS calculated?" and a.citations[0].title == "Net Promoter Score (NPS)"
    off = fake_copilot.answer("Who painted the Mona Lisa?")
    assert off.abstained and off.citations == [] and "knowledge base" in off.text


def test_follow_up_is_answered_from_the_conversation(fake_copilot):
    history = [("user", "What is CES?"), ("assistant", "CES measures effort [1].")]
    a = fake_copilot.answer("When is it best used?", history)
    assert a.standalone_question == "When is CES best used?"
    assert a.citations[0].source == "ces.md"
    assert "right after a service interaction" in a.text


def test_rebuild_reindexes_from_the_loaded_files_and_keeps_uploads(tmp_path, small_corpus):
    from copilot.core import rebuild_index

    index = tmp_path / "idx"
    cp = _open(index)
    cp.ingest([small_corpus / "nps.md"])
    uploads = index / "uploads"
    uploads.mkdir()
    upload = uploads / "policy.md"
    upload.write_text("# Policy\n\n## Refunds\n\nRefunds are paid within five business days of the return.\n")
    cp.ingest([upload])
    (index / "feedback.jsonl").write_text('{"rating": "up"}\n')

    class Other(HashEmbedder):
        name = "another-model"

    with pytest.raises(IndexMismatchError):
        Copilot(index, embedder=Other(), corpus=False)
    rebuilt, report, missing = rebuild_index(index, embedder=Other(), retrieval=GATE)
    assert missing == [] and report.ok
    assert {s["source"] for s in rebuilt.sources()} == {"nps.md", "policy.md"}
    assert (index / "uploads" / "policy.md").exists() and (index / "feedback.jsonl").read_text()
    assert rebuilt.index.head["manifest"]["embedding"]["name"] == "another-model"
    assert sorted(p.name for p in index.glob("chroma*")) == [f"chroma-{rebuilt.index.head['generation']}"]
    assert "five business days" in rebuilt.answer("How fast are refunds paid?").text


def test_a_follow_up_with_no_conversation_asks_which_topic(fake_copilot):
    a = fake_copilot.answer("and how do I calculate it?")
    assert a.abstained and a.citations == [] and "Which topic do you mean?" in a.text
    assert not fake_copilot.answer("How is NPS calculated?", []).abstained

