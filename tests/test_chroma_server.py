"""Client/server mode against a real `chroma run` on a free loopback port: the index (chunks, catalog, head,
lock) lives on the server, each replica's --index-dir only caches. Two `cx-copilot serve` replicas answer from
documents loaded by the CLI or by another replica; writers are serialised by the server-side lease; a kill -9
is cleaned up by the next writer; a rebuild switches the replicas over."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from copilot import Copilot
from copilot.embeddings import HashEmbedder
from copilot.errors import IndexBusyError
from copilot.retrieval import RetrievalSettings
from index_helpers import assert_agree, handbook, wait_until

from conftest import free_port

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[1]
GATE = RetrievalSettings(min_dense=0.05, min_fused=0.05)


@pytest.fixture
def server_index(chroma_server, monkeypatch):
    """A fresh index name on the shared server for each test, set in the environment for subprocesses too."""
    name = f"t{uuid.uuid4().hex[:10]}"
    monkeypatch.setenv("COPILOT_CHROMA_URL", chroma_server)
    monkeypatch.setenv("COPILOT_CHROMA_INDEX", name)
    return chroma_server


def _replica(folder, **kw) -> Copilot:
    kw.setdefault("corpus", False)
    return Copilot(folder, embedder=HashEmbedder(), retrieval=GATE, **kw)








def _env() -> dict:
    return {**os.environ, "COPILOT_EMBEDDER": "hash", "HF_HUB_OFFLINE": "1"}


def test_replicas_with_their_own_folders_share_one_index_on_the_server(server_index, tmp_path, small_corpus):
    a = _replica(tmp_path / "a")
    a.ingest([small_corpus])
    b = _replica(tmp_path / "b")
    assert {s["source"] for s in b.sources()} == {"nps.md", "ces.md", "journeys.md"}
    assert b.answer("How is NPS calculated?").citations[0].source == "nps.md"
    b.ingest([handbook(tmp_path / "d", "zephyr.md", "zephyr")])
    wait_until(lambda: any(c.source == "zephyr.md" for c in a.answer("What is zephyr?").citations))
    a.remove("journeys.md")
    wait_until(lambda: "journeys.md" not in {s["source"] for s in b.sources()})
    assert set(assert_agree(a)) == set(assert_agree(b)) == {"nps.md", "ces.md", "zephyr.md"}
    # the folders only cache: no vectors, no catalog of their own
    for folder in (tmp_path / "a", tmp_path / "b"):
        assert not (folder / "state.sqlite3").exists() and not list(folder.glob("chroma*"))


def test_two_serve_replicas_answer_from_documents_loaded_by_the_cli_and_by_another_replica(server_index, tmp_path):
    from gradio_client import Client

    env = _env()
    seed = handbook(tmp_path / "d", "zephyr.md", "zephyr")
    out = subprocess.run([sys.executable, "-m", "copilot.cli", "ingest", str(seed), "--no-corpus", "--quiet",
                          "--index-dir", str(tmp_path / "cli")], env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    procs, urls = [], []
    for name in ("r1", "r2"):
        port = free_port()
        procs.append(subprocess.Popen([sys.executable, "-m", "copilot.cli", "serve", "--port", str(port),
                                       "--index-dir", str(tmp_path / name)], env=env, stdout=subprocess.PIPE,
                                      stderr=subprocess.STDOUT, text=True))
        urls.append(f"http://127.0.0.1:{port}/")
    try:
        clients = []
        for url, proc in zip(urls, procs):
            deadline = time.monotonic() + 120
            while True:
                try:
                    clients.append(Client(url, verbose=False))
                    break
                except Exception:  # noqa: BLE001 - not up yet
                    if proc.poll() is not None or time.monotonic() > deadline:
                        raise AssertionError(proc.stdout.read() if proc.poll() is not None else "serve did not start")
                    time.sleep(0.5)

        def cites(client, question, source):
            return any(c["source"] == source for c in client.predict(question, api_name="/ask")["citations"])

        for client in clients:
            assert cites(client, "What is zephyr?", "zephyr.md")
        # a third replica (this process) loads a document; both serving replicas answer from it
        mine = _replica(tmp_path / "r3")
        mine.ingest([handbook(tmp_path / "d", "mistral.md", "mistral wind")])
        for client in clients:
            assert wait_until(lambda: cites(client, "What is mistral wind?", "mistral.md")) < 5.0
        # the CLI loads another while they serve
        out = subprocess.run([sys.executable, "-m", "copilot.cli", "ingest", str(handbook(tmp_path / "d", "sirocco.md",
                              "sirocco wind")), "--quiet", "--index-dir", str(tmp_path / "cli")], env=env,
                             capture_output=True, text=True, timeout=120)
        assert out.returncode == 0, out.stderr
        for client in clients:
            assert wait_until(lambda: cites(client, "What is sirocco wind?", "sirocco.md")) < 5.0
    finally:
        for proc in procs:
            proc.terminate()
            proc.wait(timeout=30)


def test_writers_on_two_machines_are_serialised_by_the_servers_lock(server_index, tmp_path, monkeypatch):
    from copilot.stores import chroma_server

    a = _replica(tmp_path / "a")
    a.ingest([handbook(tmp_path / "d", "one.md", "one")])
    lock = a.index.backend.lock
    other = chroma_server.LeaseLock(a.index.backend.client, lock.name, lock.where)
    assert other.try_acquire({"pid": 77, "host": "machine-b", "what": "cx-copilot ingest", "since": "now"})
    try:
        a.index.lock_timeout = 0.5
        with pytest.raises(IndexBusyError, match="process 77 on machine-b"):
            a.ingest([handbook(tmp_path / "d", "two.md", "two")])
    finally:
        other.release()
    assert [s["source"] for s in a.sources()] == ["one.md"]
    # a holder that died: its lease runs out and the next writer takes the lock over
    monkeypatch.setattr(chroma_server, "LEASE_SECONDS", 0.5)
    dead = chroma_server.LeaseLock(a.index.backend.client, lock.name, lock.where)
    assert dead.try_acquire({"pid": 78, "host": "machine-c", "what": "killed", "since": "then"})
    dead._stop.set()  # it stops renewing: the process is gone
    time.sleep(1.0)
    a.index.lock_timeout = 10
    assert a.ingest([handbook(tmp_path / "d", "two.md", "two")]).ok
    assert set(assert_agree(a)) == {"one.md", "two.md"}


def test_a_load_killed_in_the_store_then_catalog_window_is_undone_on_the_server(server_index, tmp_path):
    a = _replica(tmp_path / "a")
    a.ingest([handbook(tmp_path / "d", "keep.md", "loyalty")])
    target = handbook(tmp_path / "d", "new.md", "warranty", 30)
    out = subprocess.run([sys.executable, str(ROOT / "tests" / "fault_runner.py"), "upsert-after", "1", "--", "ingest",
                          str(target), "--quiet", "--index-dir", str(tmp_path / "cli")], env=_env(),
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == -9, out.stderr[-2000:]
    assert all(h.source != "new.md" for h in a.search("What is warranty?"))  # stored but not listed: never answers
    b = _replica(tmp_path / "b")  # the next opener cleans up
    assert set(assert_agree(b)) == {"keep.md"}
    assert b.ingest([target]).ok and set(assert_agree(b)) == {"keep.md", "new.md"}


def test_rebuild_on_the_server_switches_a_serving_replica(server_index, tmp_path, small_corpus):
    from copilot.core import rebuild_index

    app = _replica(tmp_path / "app")
    app.ingest([small_corpus])
    assert not app.answer("How is NPS calculated?").abstained
    generation = app.catalog["generation"]
    rebuilt, report, missing = rebuild_index(tmp_path / "admin", embedder=HashEmbedder(), retrieval=GATE)
    assert report.ok and not missing
    wait_until(lambda: app.catalog["generation"] != generation)
    assert app.answer("How is NPS calculated?").citations[0].source == "nps.md"
    assert app.ingest([handbook(tmp_path / "d", "after.md", "aftercare")]).ok
    assert set(assert_agree(app)) == {"nps.md", "ces.md", "journeys.md", "after.md"}
    names = {c.name for c in app.index.backend.client.list_collections()}
    assert f"{os.environ['COPILOT_CHROMA_INDEX']}-chunks" not in names  # the old generation is gone
