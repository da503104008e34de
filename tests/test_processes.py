"""Several processes on one embedded index, as operators run them: the app with a CLI load beside it, two
loads at once, `rebuild` under a running app, and kill -9 at every step of a load, a replacement, a removal
and the first build. Real embedded Chroma, the hash embedder (no model), real subprocesses."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from copilot import Copilot
from copilot.embeddings import HashEmbedder
from copilot.retrieval import RetrievalSettings
from index_helpers import assert_agree, handbook, wait_until

ROOT = Path(__file__).resolve().parents[1]
RUNNER = ROOT / "tests" / "fault_runner.py"
GATE = RetrievalSettings(min_dense=0.05, min_fused=0.05)


def _env(**extra) -> dict:
    env = {**os.environ, "COPILOT_EMBEDDER": "hash", "COPILOT_LOCK_TIMEOUT": "60", **extra}
    env.pop("COPILOT_CHROMA_URL", None)
    return env


def cli(*args, env=None, timeout=120) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "copilot.cli", *args], capture_output=True, text=True,
                          env=env or _env(), timeout=timeout, cwd=ROOT)


def killed(point: str, nth: int, *args, env=None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(RUNNER), point, str(nth), "--", *args], capture_output=True,
                          text=True, env=env or _env(), timeout=120, cwd=ROOT)


def _new_version(path: Path, verb: str) -> Path:
    """Change every sentence of a handbook and add a section: no chunk is shared with the old version."""
    path.write_text(path.read_text().replace("applies to", verb) +
                    "\n## Exceptions\n\nRefund exceptions are granted by the refunds desk.\n")
    return path


def _open(folder, **kw) -> Copilot:
    kw.setdefault("corpus", False)
    return Copilot(folder, embedder=HashEmbedder(), retrieval=GATE, **kw)








# ---------------------------------------------------------------- the table of the issue, row by row

def test_the_app_sees_a_cli_load_within_seconds_and_its_next_upload_keeps_it(tmp_path):
    folder = tmp_path / "idx"
    app = _open(folder)
    app.ingest([handbook(tmp_path / "a", "churn.md", "churn")])
    assert app.answer("What is zephyr?").abstained
    out = cli("ingest", str(handbook(tmp_path / "b", "zephyr.md", "zephyr")), "--index-dir", str(folder), "--quiet")
    assert out.returncode == 0, out.stderr
    waited = wait_until(lambda: any(c.source == "zephyr.md" for c in app.answer("What is zephyr?").citations))
    assert waited < 5.0
    app.ingest([handbook(tmp_path / "a", "upload.md", "refunds")])  # the app's next upload
    assert {s["source"] for s in app.sources()} == {"churn.md", "zephyr.md", "upload.md"}
    rows = json.loads(cli("sources", "--json", "--index-dir", str(folder)).stdout)
    assert {r["source"] for r in rows} == {"churn.md", "zephyr.md", "upload.md"}
    assert_agree(_open(folder))


REPLICA = """
import sys, time
from copilot import Copilot
from copilot.embeddings import HashEmbedder
cp = Copilot(sys.argv[1], embedder=HashEmbedder(), corpus=False)
cp.sources()
open(sys.argv[3], "w").close()                      # opened: tell the test
while not __import__("os").path.exists(sys.argv[4]):  # wait until the other one has opened too
    time.sleep(0.05)
print(cp.ingest([sys.argv[2]]).summary(), flush=True)
"""


def test_two_app_processes_on_one_index_keep_each_others_uploads(tmp_path):
    folder = tmp_path / "idx"
    _open(folder).ingest([handbook(tmp_path / "d", "base.md", "base")])
    script = tmp_path / "replica.py"
    script.write_text(REPLICA)
    go = tmp_path / "go"
    procs = []
    for name in ("one", "two"):
        doc = handbook(tmp_path / name, f"{name}.md", name)
        procs.append(subprocess.Popen([sys.executable, str(script), str(folder), str(doc), str(tmp_path / name / "ready"),
                                       str(go)], env=_env(), cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                      text=True))
    wait_until(lambda: all((tmp_path / n / "ready").exists() for n in ("one", "two")), 60)
    go.touch()
    for p in procs:
        out, err = p.communicate(timeout=120)
        assert p.returncode == 0, err
        assert "1 added" in out
    final = _open(folder)
    assert {s["source"] for s in final.sources()} == {"base.md", "one.md", "two.md"}
    assert_agree(final)


def test_two_loads_of_different_folders_at_once_both_complete(tmp_path):
    folder = tmp_path / "idx"
    _open(folder).ingest([handbook(tmp_path / "seed", "seed.md", "seed")])
    names = {}
    for side in ("left", "right"):
        names[side] = [handbook(tmp_path / side, f"{side}-{n:02d}.md", f"{side} topic {n}", 40).name for n in range(12)]
    procs = [subprocess.Popen([sys.executable, "-m", "copilot.cli", "ingest", str(tmp_path / side), "--index-dir",
                               str(folder), "--quiet"], env=_env(), cwd=ROOT, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for side in ("left", "right")]
    for p in procs:
        out, err = p.communicate(timeout=300)
        assert p.returncode == 0, err
        assert "12 added" in out
    final = _open(folder)
    assert {s["source"] for s in final.sources()} == {"seed.md", *names["left"], *names["right"]}
    assert_agree(final)


def test_rebuild_while_the_app_runs(tmp_path):
    folder = tmp_path / "idx"
    app = _open(folder)
    app.ingest([handbook(tmp_path / "d", "churn.md", "churn"), handbook(tmp_path / "d", "nps.md", "promoters")])
    assert not app.answer("What is churn?").abstained
    out = cli("rebuild", "--index-dir", str(folder), "--quiet")
    assert out.returncode == 0, out.stderr
    time.sleep(2)  # the app notices within a second or two
    report = app.ingest([handbook(tmp_path / "d", "after.md", "aftercare")])  # was: "attempt to write a readonly database"
    assert report.ok
    assert app.answer("What is churn?").citations[0].source == "churn.md"
    assert any(c.source == "after.md" for c in app.answer("What is aftercare?").citations)
    final = _open(folder)
    assert {s["source"] for s in final.sources()} == {"churn.md", "nps.md", "after.md"}
    assert_agree(final)


def test_a_first_build_stopped_by_kill_is_finished_by_the_next_start(tmp_path, small_corpus):
    folder = tmp_path / "idx"
    env = _env(COPILOT_CORPUS_DIR=str(small_corpus))
    out = killed("embed", 1, "sources", "--index-dir", str(folder), env=env)  # dies inside the first build
    assert out.returncode == -9
    # a command that does not build (remove) finds nothing, and must not take the empty index as finished
    assert cli("remove", "nps.md", "--index-dir", str(folder), env=env).returncode == 2
    out = cli("sources", "--json", "--index-dir", str(folder), env=env)  # was: an empty index forever
    assert out.returncode == 0, out.stderr
    assert {r["source"] for r in json.loads(out.stdout)} == {"nps.md", "ces.md", "journeys.md"}
    out = cli("ask", "How is NPS calculated?", "--json", "--index-dir", str(folder), env=env)
    assert json.loads(out.stdout)["citations"][0]["source"] == "nps.md"


@pytest.mark.parametrize("point, nth", [("upsert-after", 2), ("commit-before", 2), ("commit-after", 2),
                                        ("head-before", 4)])
def test_kill_9_during_the_first_build_resumes_where_it_stopped(tmp_path, small_corpus, point, nth):
    folder = tmp_path / "idx"
    env = _env(COPILOT_CORPUS_DIR=str(small_corpus), CX_TEST_INGEST_GROUP="2")  # a commit per file
    out = killed(point, nth, "sources", "--index-dir", str(folder), env=env)
    assert out.returncode == -9, out.stderr[-2000:]
    half = _open(folder)
    assert not half.index.head["built"] and 0 < len(half.sources()) < 3  # the files committed so far
    assert_agree(half)
    half.close()
    out = cli("sources", "--json", "--index-dir", str(folder), env=env)
    assert out.returncode == 0, out.stderr
    assert {r["source"] for r in json.loads(out.stdout)} == {"nps.md", "ces.md", "journeys.md"}
    done = _open(folder)
    assert done.index.head["built"]
    assert_agree(done)


@pytest.mark.parametrize("replacing", [False, True], ids=["new", "replacing"])
def test_kill_9_between_the_store_and_the_catalog(tmp_path, replacing):
    """The window where chunks are written and their catalog entry is not: afterwards `sources` and the answers
    agree, a replaced document is whole, and `remove` works."""
    folder = tmp_path / "idx"
    docs = tmp_path / "docs"
    seed = cli("ingest", str(handbook(docs, "keep.md", "loyalty")), str(handbook(docs, "policy.md", "refunds", 30)),
               "--no-corpus", "--quiet", "--index-dir", str(folder))
    assert seed.returncode == 0, seed.stderr
    if replacing:
        target = _new_version(docs / "policy.md", "is waived for")
    else:
        target = handbook(docs, "new.md", "warranty", 30)
    out = killed("upsert-after", 1, "ingest", str(target), "--index-dir", str(folder), "--quiet")
    assert out.returncode == -9, out.stderr[-2000:]
    rows = json.loads(cli("sources", "--json", "--index-dir", str(folder)).stdout)
    listed = {r["source"] for r in rows}
    assert listed == {"keep.md", "policy.md"}
    for q in ("What is warranty?", "Who grants refund exceptions?", "What is refunds?"):
        cited = json.loads(cli("ask", q, "--json", "--index-dir", str(folder)).stdout)["citations"]
        assert {c["source"] for c in cited} <= listed
        texts = " ".join(c["text"] for c in cited)
        assert "is waived for" not in texts and "refunds desk" not in texts  # the old version, whole
    assert cli("remove", "policy.md", "--index-dir", str(folder)).returncode == 0
    cited = json.loads(cli("ask", "What is refunds?", "--json", "--index-dir", str(folder)).stdout)["citations"]
    assert all(c["source"] != "policy.md" for c in cited)


# ---------------------------------------------------------------- kill -9 at every step

POINTS = [("embed", 1), ("upsert-before", 1), ("upsert-after", 1), ("journal-after", 1), ("commit-before", 1),
          ("commit-after", 1), ("head-before", 2), ("unjournal-before", 1)]


def _visible_texts(cp, source: str) -> set[str]:
    view = cp.retriever.store  # the catalog's view of the store: what retrieval can ever return
    rows = [c for c in cp.store.all() if c.metadata.get("source") == source]
    return {c.text for c in view.get([c.id for c in rows])}


def _kill_case(tmp_path, point, nth, replacing):
    folder = tmp_path / "idx"
    docs = tmp_path / "docs"
    seed = _open(folder)
    seed.ingest([handbook(docs, "keep.md", "loyalty"), handbook(docs, "policy.md", "refunds", 30)])
    old = {c.text for c in seed.store.all() if c.metadata["source"] == "policy.md"}
    seed.close()
    if replacing:
        target = _new_version(docs / "policy.md", "no longer applies to")
    else:
        target = handbook(docs, "new.md", "warranty", 30)
    out = killed(point, nth, "ingest", str(target), "--index-dir", str(folder), "--no-corpus", "--quiet")
    assert out.returncode == -9, (point, out.stdout, out.stderr[-2000:])
    # before anyone cleans up (we hold the lock, so this reader cannot): nothing unlisted answers, and the
    # replaced document is whole, old or new
    from copilot.stores.files import FileLock

    lock = FileLock(folder / "write.lock", str(folder))
    assert lock.try_acquire({"pid": 0, "what": "test"})
    try:
        reader = _open(folder)
        listed = {e["load"] for e in reader.catalog["sources"].values()}
        for q in ("What is refunds?", "What is warranty?", "refund exceptions desk", "rule 3 about warranty"):
            for h in reader.search(q):
                assert h.chunk.metadata.get("load", "") in listed
        if replacing:
            seen = _visible_texts(reader, "policy.md")
            assert seen == old or (seen and not seen & old) and "no longer applies" in " ".join(seen), point
        reader.close()
    finally:
        lock.release()
    # the next writer (here: opening the index) finishes or undoes what the killed one left
    after = _open(folder)
    sources = assert_agree(after)
    assert "keep.md" in sources and "policy.md" in sources
    # and a second run completes
    assert after.ingest([target]).ok
    after.close()
    final = _open(folder)
    sources = assert_agree(final)
    assert set(sources) == {"keep.md", "policy.md"} | (set() if replacing else {"new.md"})
    if replacing:
        texts = _visible_texts(final, "policy.md")
        assert any("refunds desk" in t for t in texts) and not texts & old
        assert "refunds desk" in final.answer("Who grants refund exceptions?").text


@pytest.mark.parametrize("point, nth", POINTS)
def test_kill_9_during_a_new_load(tmp_path, point, nth):
    _kill_case(tmp_path, point, nth, replacing=False)


@pytest.mark.parametrize("point, nth", POINTS + [("cleanup-after", 1)])
def test_kill_9_during_a_replacing_load(tmp_path, point, nth):
    _kill_case(tmp_path, point, nth, replacing=True)


@pytest.mark.parametrize("point, nth", [("journal-after", 1), ("cleanup-after", 1), ("head-before", 2)])
def test_kill_9_during_a_removal(tmp_path, point, nth):
    folder = tmp_path / "idx"
    seed = _open(folder)
    seed.ingest([handbook(tmp_path / "d", "keep.md", "loyalty"), handbook(tmp_path / "d", "gone.md", "warranty", 30)])
    seed.close()
    out = killed(point, nth, "remove", "gone.md", "--index-dir", str(folder))
    assert out.returncode == -9, out.stderr[-2000:]
    after = _open(folder)
    sources = assert_agree(after)
    assert "keep.md" in sources
    if "gone.md" in sources:  # killed before the commit: removing it again works
        assert cli("remove", "gone.md", "--index-dir", str(folder)).returncode == 0
    assert set(assert_agree(_open(folder))) == {"keep.md"}
    assert cli("remove", "gone.md", "--index-dir", str(folder)).returncode == 2  # a plain "no source named"


@pytest.mark.integration
def test_the_running_app_answers_from_a_cli_loaded_document_within_5_s(tmp_path):
    """`cx-copilot serve` keeps running; `cx-copilot ingest` loads a document beside it; the app's /ask cites it
    within 5 s, with no restart."""
    from gradio_client import Client

    from conftest import free_port

    folder = tmp_path / "idx"
    env = _env()
    assert cli("ingest", str(handbook(tmp_path / "d", "churn.md", "churn")), "--no-corpus", "--quiet", "--index-dir",
               str(folder), env=env).returncode == 0
    port = free_port()
    app = subprocess.Popen([sys.executable, "-m", "copilot.cli", "serve", "--port", str(port), "--index-dir",
                            str(folder)], env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                client = Client(f"http://127.0.0.1:{port}/", verbose=False)
                break
            except Exception:  # noqa: BLE001 - not up yet
                assert app.poll() is None and time.monotonic() < deadline, "serve did not start"
                time.sleep(0.5)

        def cited(question, source):
            return any(c["source"] == source for c in client.predict(question, api_name="/ask")["citations"])

        assert cited("What is churn?", "churn.md") and not cited("What is zephyr?", "zephyr.md")
        out = cli("ingest", str(handbook(tmp_path / "d", "zephyr.md", "zephyr")), "--quiet", "--index-dir", str(folder),
                  env=env)
        assert out.returncode == 0, out.stderr
        assert wait_until(lambda: cited("What is zephyr?", "zephyr.md"), timeout=10) < 5.0
    finally:
        app.terminate()
        app.wait(timeout=30)


def test_a_load_that_cannot_get_the_lock_says_who_holds_it_and_changes_nothing(tmp_path):
    from copilot.stores.files import FileLock

    folder = tmp_path / "idx"
    _open(folder).ingest([handbook(tmp_path / "d", "keep.md", "loyalty")])
    lock = FileLock(folder / "write.lock", str(folder))
    assert lock.try_acquire({"pid": 4321, "host": "ops-box", "what": "cx-copilot rebuild", "since": "09:00"})
    try:
        out = cli("ingest", str(handbook(tmp_path / "d", "new.md", "warranty")), "--index-dir", str(folder),
                  env=_env(COPILOT_LOCK_TIMEOUT="1"))
    finally:
        lock.release()
    assert out.returncode == 2
    assert "Waiting for process 4321 on ops-box (cx-copilot rebuild" in out.stderr
    assert "error: The index at" in out.stderr and "Nothing was changed" in out.stderr
    assert "Traceback" not in out.stderr
    assert set(assert_agree(_open(folder))) == {"keep.md"}


def test_an_unreachable_chroma_server_is_a_plain_error(tmp_path):
    from conftest import free_port

    out = cli("sources", "--chroma-url", f"http://127.0.0.1:{free_port()}", "--index-dir", str(tmp_path / "c"))
    assert out.returncode == 2 and "Cannot reach the Chroma server at http://127.0.0.1:" in out.stderr
    assert "Traceback" not in out.stderr
