"""An in-memory backend: the test fake behind the same interfaces as Chroma, and a way to run two "replicas"
in one process (`memory://name` names a space that every Copilot opened on it shares)."""

from __future__ import annotations

import copy
import threading
from collections.abc import Mapping

import numpy as np

from .base import Backend, StateStore, StoredChunk, VectorStore, WriteLock

_SPACES: dict[str, MemoryBackend] = {}
_SPACES_LOCK = threading.Lock()


class MemoryStore(VectorStore):
    """Chunks in dicts, exact (brute-force) cosine search. `calls` records the size of every call, so tests can
    check that callers batch."""

    def __init__(self, batch_size: int = 1000):
        self.batch_size = batch_size
        self._rows: dict[str, tuple[np.ndarray, str, dict]] = {}
        self._lock = threading.RLock()
        self.calls: list[tuple[str, int]] = []

    def _record(self, op: str, n: int) -> None:
        self.calls.append((op, n))
        if n > self.batch_size:
            raise ValueError(f"{op} of {n} items is over this store's batch size of {self.batch_size}")

    def upsert(self, ids, vectors, texts, metadatas):
        vectors = np.asarray(vectors, dtype=np.float32)
        with self._lock:
            for start in range(0, len(ids), self.batch_size):
                part = slice(start, start + self.batch_size)
                self._record("upsert", len(ids[part]))
                for i, v, t, m in zip(ids[part], vectors[part], texts[part], metadatas[part]):
                    self._rows[i] = (np.array(v, dtype=np.float32), t, copy.deepcopy(dict(m)))

    def delete(self, ids):
        ids = list(ids)
        with self._lock:
            for start in range(0, len(ids), self.batch_size):
                self._record("delete", len(ids[start:start + self.batch_size]))
                for i in ids[start:start + self.batch_size]:
                    self._rows.pop(i, None)

    def delete_where(self, key, value):
        with self._lock:
            for i in [i for i, (_, _, m) in self._rows.items() if m.get(key) == value]:
                del self._rows[i]

    def get(self, ids, *, texts=True, vectors=False):
        ids = list(ids)
        out = []
        with self._lock:
            for start in range(0, len(ids), self.batch_size):
                part = ids[start:start + self.batch_size]
                self._record("get", len(part))
                for i in part:
                    row = self._rows.get(i)
                    if row is not None:
                        out.append(StoredChunk(i, row[1] if texts else "", copy.deepcopy(row[2]),
                                               row[0].copy() if vectors else None))
        return out

    def query_chunks(self, vector, k):
        with self._lock:
            if not self._rows or k <= 0:
                return []
            ids = list(self._rows)
            matrix = np.stack([self._rows[i][0] for i in ids])
            metas = [self._rows[i][2] for i in ids]
        q = np.asarray(vector, dtype=np.float32)
        norms = np.linalg.norm(matrix, axis=1) * (np.linalg.norm(q) or 1.0)
        sims = matrix @ q / np.where(norms == 0, 1.0, norms)
        top = np.argsort(-sims)[:k]
        return [(StoredChunk(ids[j], "", copy.deepcopy(metas[j])), float(sims[j])) for j in top]

    def scan(self, where=None, texts=True):
        with self._lock:
            rows = [(i, r) for i, r in self._rows.items()
                    if not where or all(r[2].get(k) == v for k, v in where.items())]
        for start in range(0, len(rows), self.batch_size):
            yield [StoredChunk(i, r[1] if texts else "", copy.deepcopy(r[2])) for i, r in rows[start:start + self.batch_size]]

    def count(self):
        return len(self._rows)


class MemoryState(StateStore):
    def __init__(self):
        self._records: dict[str, dict] = {}
        self._lock = threading.Lock()

    def get(self, key):
        with self._lock:
            value = self._records.get(key)
            return copy.deepcopy(value) if value is not None else None

    def scan(self, prefix):
        with self._lock:
            return {k: copy.deepcopy(v) for k, v in self._records.items() if k.startswith(prefix)}

    def put_many(self, records: Mapping[str, dict]):
        with self._lock:
            self._records.update({k: copy.deepcopy(dict(v)) for k, v in records.items()})

    def delete(self, keys):
        with self._lock:
            for k in keys:
                self._records.pop(k, None)


class MemoryLock(WriteLock):
    def __init__(self, where: str):
        self.where = where
        self._lock = threading.Lock()
        self._owner: dict | None = None
        self.poll = 0.02

    def try_acquire(self, owner):
        if self._lock.acquire(blocking=False):
            self._owner = owner
            return True
        return False

    def holder(self):
        return self._owner

    def release(self):
        self._owner = None
        self._lock.release()


class MemoryBackend(Backend):
    name = "memory"

    def __init__(self, space: str = "", batch_size: int = 1000):
        self.space = space
        self.batch_size = batch_size
        self.state = MemoryState()
        self.lock = MemoryLock(self.describe())
        self.collections: dict[str, MemoryStore] = {}

    @classmethod
    def named(cls, space: str) -> MemoryBackend:
        """The shared space of this name (made on first use): every index opened on it sees the same data."""
        with _SPACES_LOCK:
            if space not in _SPACES:
                _SPACES[space] = cls(space)
            return _SPACES[space]

    def open_collection(self, generation):
        if generation not in self.collections:
            self.collections[generation] = MemoryStore(self.batch_size)
        return self.collections[generation]

    def drop_collection(self, generation, loads=()):
        self.collections.pop(generation, None)

    def describe(self):
        return f"memory://{self.space}" if self.space else "an in-memory index"

    def close(self):
        pass


def _memory(url: str) -> MemoryBackend:
    """memory://name: the shared in-process space of that name."""
    return MemoryBackend.named(url.split("://", 1)[1].strip("/") or "default")
