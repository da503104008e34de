"""The interfaces behind an index's storage: chunks with vectors, small shared records, and the write lock.

A `Backend` is where one index lives. It hands out `VectorStore`s (one collection of chunks per index
generation), a `StateStore` (the head, per-source catalog records and the journal of pending writes, as small
JSON records) and a `WriteLock` that serialises writers across processes, and for a server across machines.
Only `copilot.index` writes through them; nothing here knows what a catalog is.

Every VectorStore call takes any number of items and batches them itself, so no caller meets a backend's
limits (Chroma's maximum batch size, SQLite's variable limit). Metadata is passed through unchanged: any
string, number or boolean value a chunk carries comes back as it went in.
"""

from __future__ import annotations

import os
import socket
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone

import numpy as np

from ..errors import IndexBusyError

DEFAULT_BATCH = 1000


class StoreGoneError(Exception):
    """The collection behind a store handle no longer exists (a rebuild switched to a new one)."""


@dataclass
class StoredChunk:
    id: str
    text: str
    metadata: dict
    vector: np.ndarray | None = None


def batches(items: Sequence, size: int) -> Iterator[Sequence]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


class VectorStore:
    """One collection of chunks with their vectors (cosine similarity)."""

    batch_size: int = DEFAULT_BATCH

    def upsert(self, ids: Sequence[str], vectors: np.ndarray, texts: Sequence[str],
               metadatas: Sequence[dict]) -> None:
        raise NotImplementedError

    def delete(self, ids: Sequence[str]) -> None:
        raise NotImplementedError

    def delete_where(self, key: str, value: str) -> None:
        """Delete every chunk whose metadata[key] == value."""
        raise NotImplementedError

    def get(self, ids: Sequence[str], *, texts: bool = True, vectors: bool = False) -> list[StoredChunk]:
        """The chunks with these ids, in the order asked, missing ones left out."""
        raise NotImplementedError

    def vectors(self, ids: Sequence[str]) -> dict[str, np.ndarray]:
        return {c.id: c.vector for c in self.get(ids, texts=False, vectors=True)}

    def query(self, vector: np.ndarray, k: int) -> list[tuple[str, float]]:
        """The k nearest chunks as (id, cosine similarity), best first."""
        return [(c.id, s) for c, s in self.query_chunks(vector, k)]

    def query_chunks(self, vector: np.ndarray, k: int) -> list[tuple[StoredChunk, float]]:
        """The k nearest chunks with their metadata (not their text), best first."""
        raise NotImplementedError

    def scan(self, where: Mapping[str, str] | None = None, texts: bool = True) -> Iterator[list[StoredChunk]]:
        """Every chunk (or those whose metadata matches `where`), a page at a time."""
        raise NotImplementedError

    def all(self) -> list[StoredChunk]:
        return [c for page in self.scan() for c in page]

    def count(self) -> int:
        raise NotImplementedError

    def close(self) -> None:
        """Let go of what this handle holds (files, memory). Safe to call twice."""


class StateStore:
    """Small JSON-compatible records under string keys. Writing one record is atomic; `put_many` is atomic
    where the backend allows it, and the index is written so that it never depends on that."""

    def get(self, key: str) -> dict | None:
        raise NotImplementedError

    def scan(self, prefix: str) -> dict[str, dict]:
        raise NotImplementedError

    def put_many(self, records: Mapping[str, dict]) -> None:
        raise NotImplementedError

    def put(self, key: str, value: dict) -> None:
        self.put_many({key: value})

    def delete(self, keys: Sequence[str]) -> None:
        raise NotImplementedError

    def close(self) -> None:
        pass


def owner_record(what: str = "") -> dict:
    """Who is writing, for a message to whoever has to wait: process, machine, command, since when."""
    return {"pid": os.getpid(), "host": socket.gethostname(), "what": what or " ".join(sys.argv[:3]) or "python",
            "since": datetime.now(timezone.utc).replace(microsecond=0).isoformat()}


def describe_owner(owner: dict | None) -> str:
    if not owner:
        return "another process"
    return (f"process {owner.get('pid', '?')} on {owner.get('host', '?')} ({owner.get('what', '?')}, "
            f"since {owner.get('since', '?')})")


class WriteLock:
    """Serialises the writers of one index. `acquire` waits up to `timeout` seconds, then raises
    IndexBusyError naming who holds it. Not re-entrant: the index keeps its own in-process lock around it."""

    poll = 0.1

    def try_acquire(self, owner: dict) -> bool:
        raise NotImplementedError

    def holder(self) -> dict | None:
        raise NotImplementedError

    def release(self) -> None:
        raise NotImplementedError

    def verify(self) -> None:
        """Raise IndexBusyError if this process no longer holds the lock (a lease that ran out)."""

    def acquire(self, timeout: float, owner: dict, waiting=None) -> None:
        deadline = time.monotonic() + max(0.0, timeout)
        told = False
        while not self.try_acquire(owner):
            if time.monotonic() >= deadline:
                raise IndexBusyError(
                    f"The index at {self.where} is being changed by {describe_owner(self.holder())}. Nothing was "
                    f"changed; try again when it has finished (waited {timeout:.0f} s; COPILOT_LOCK_TIMEOUT sets "
                    "how long to wait).")
            if waiting and not told:
                waiting(self.holder())
                told = True
            time.sleep(self.poll)

    where: str = "this index"


class Backend:
    """Where one index lives: its collections (one per generation), its shared records and its write lock."""

    name = ""
    # embedded Chroma keeps each process's vector index in memory: a process sees (and may write over) the
    # others' changes only after opening the collection afresh
    reopen_to_see_changes = False
    # a server holds the shared state, so the local folder only caches
    shared_state_is_remote = False
    state: StateStore
    lock: WriteLock

    def open_collection(self, generation: str) -> VectorStore:
        raise NotImplementedError

    def drop_collection(self, generation: str, loads: Sequence[str] = ()) -> None:
        """Delete a generation's collection (`loads` are the load ids it held, for backends that keep every
        generation in one collection)."""
        raise NotImplementedError

    def describe(self) -> str:
        raise NotImplementedError

    def close(self) -> None:
        self.state.close()
