"""The storage contract, the same for every backend: the in-memory fake, embedded Chroma and a Chroma server
(`chroma run`). Large calls are batched inside, metadata comes back as it went in, records scan by folder, and
the write lock lets exactly one holder in and names it to everyone else."""

from __future__ import annotations

import subprocess
import sys
import uuid

import numpy as np
import pytest

from copilot.stores import open_backend
from copilot.stores.memory import MemoryBackend

BACKENDS = ["memory", "chroma_local", pytest.param("chroma_server", marks=pytest.mark.integration)]


@pytest.fixture(params=BACKENDS)
def backend(request, tmp_path, monkeypatch):
    if request.param == "memory":
        yield MemoryBackend()
        return
    if request.param == "chroma_local":
        b = open_backend(tmp_path / "idx")
    else:
        url = request.getfixturevalue("chroma_server")
        b = open_backend(tmp_path / "idx", url, f"s{uuid.uuid4().hex[:8]}")
    yield b
    b.close()


def _vectors(n, dim=16, seed=0):
    v = np.random.default_rng(seed).standard_normal((n, dim)).astype(np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def test_large_calls_are_batched_and_metadata_passes_through(backend):
    store = backend.open_collection("")
    store.batch_size = 64  # far below the size of the calls below
    n = 300
    ids = [f"c{i}" for i in range(n)]
    metas = [{"source": f"s{i % 7}.md", "load": "L1" if i % 2 else "L2", "position": i, "weight": i / 10,
              "flag": i % 3 == 0, "note": f"ünïcode {i}"} for i in range(n)]
    vectors = _vectors(n)
    store.upsert(ids, vectors, [f"text {i}" for i in ids], metas)
    assert store.count() == n
    got = store.get(list(reversed(ids)) + ["missing"])
    assert [c.id for c in got] == list(reversed(ids))
    assert got[-1].metadata == metas[0] and got[-1].text == "text c0"
    vecs = store.vectors(ids)
    assert len(vecs) == n and np.allclose(vecs["c5"], vectors[5], atol=1e-6)
    best, score = store.query_chunks(vectors[42], 3)[0]
    assert best.id == "c42" and best.metadata == metas[42] and score > 0.99
    assert sorted(c.id for page in store.scan({"load": "L1"}) for c in page) == sorted(ids[1::2])
    assert sum(len(page) for page in store.scan()) == n
    store.delete_where("load", "L1")
    assert store.count() == n // 2
    store.delete(ids)
    assert store.count() == 0


def test_records_are_whole_json_documents_scanned_by_folder(backend):
    state = backend.state
    state.put_many({"head": {"revision": 1}, "source/g1/a.md": {"title": "A", "n": [1, 2]},
                    "source/g1/b.md": {"title": "B"}, "source/g2/a.md": {"title": "other"},
                    "journal/g1/x": {"load": "x"}, "journal//y": {"load": "y"}, "source//c.md": {"title": "C"}})
    assert state.get("head") == {"revision": 1} and state.get("nope") is None
    assert set(state.scan("source/g1/")) == {"source/g1/a.md", "source/g1/b.md"}
    assert state.scan("source/g1/")["source/g1/a.md"] == {"title": "A", "n": [1, 2]}
    assert set(state.scan("source//")) == {"source//c.md"}
    assert set(state.scan("journal/")) == {"journal/g1/x", "journal//y"}
    state.put("head", {"revision": 2})
    state.delete(["source/g1/a.md", "journal//y"])
    assert state.get("head") == {"revision": 2}
    assert set(state.scan("source/g1/")) == {"source/g1/b.md"} and set(state.scan("journal/")) == {"journal/g1/x"}


def _another_handle(lock):
    """The same lock as another process would open it."""
    from copilot.stores.files import FileLock
    from copilot.stores.memory import MemoryLock

    if isinstance(lock, MemoryLock):
        return lock  # one in-process lock: a second holder is refused just the same
    if isinstance(lock, FileLock):
        return FileLock(lock.path, lock.where)
    from copilot.stores.chroma_server import LeaseLock

    return LeaseLock(lock.client, lock.name, lock.where)


def test_one_writer_at_a_time_and_the_others_told_who(backend):
    from copilot.errors import IndexBusyError

    lock = backend.lock
    me = {"pid": 1, "host": "here", "what": "cx-copilot ingest", "since": "t0"}
    assert lock.try_acquire(me)
    other = _another_handle(lock)
    try:
        assert not other.try_acquire({"pid": 2, "host": "there", "what": "x", "since": "t1"})
        assert (other.holder() or {}).get("what") == "cx-copilot ingest"
        with pytest.raises(IndexBusyError, match="cx-copilot ingest"):
            other.acquire(0.2, {"pid": 2})
    finally:
        lock.release()
    assert other.try_acquire({"pid": 2, "host": "there", "what": "x", "since": "t1"})
    other.release()


HOLD = """
import sys, time
from copilot.stores.files import FileLock
lock = FileLock(sys.argv[1], "test")
assert lock.try_acquire({"pid": 1, "what": "holder"})
print("held", flush=True)
time.sleep(60)
"""


def test_the_file_lock_is_released_when_its_holder_is_killed(tmp_path):
    from copilot.stores.files import FileLock

    path = tmp_path / "write.lock"
    proc = subprocess.Popen([sys.executable, "-c", HOLD, str(path)], stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "held"
    lock = FileLock(path, "test")
    assert not lock.try_acquire({"what": "me"}) and lock.holder()["what"] == "holder"
    proc.kill()
    proc.wait()
    assert lock.try_acquire({"what": "me"})
    lock.release()
