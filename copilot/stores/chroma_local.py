"""Embedded Chroma in the index folder, shared state in SQLite beside it, a file lock for writers.

    <index>/state.sqlite3     head, per-source catalog records, journal of pending writes (files.SqliteState)
    <index>/write.lock        the writers' lock (files.FileLock)
    <index>/chroma/           the vectors and passages of the first generation; a rebuild writes chroma-<gen>/

Embedded Chroma keeps a process's vector graph in memory and persists it from there: a process does not see
vectors another process added until it opens the collection afresh, and a process that wrote over a stale
graph would damage the one on disk. So every open here is a fresh Chroma system of its own (not the shared
per-path instance chromadb keeps), the index opens a new one whenever another process has written, and only
the holder of the write lock writes.
"""

from __future__ import annotations

import shutil
import threading
from pathlib import Path

from . import _chroma
from .base import Backend
from .files import FileLock, SqliteState

_OPEN_LOCK = threading.Lock()


def folder_for(root: Path, generation: str) -> Path:
    return root / ("chroma" if not generation else f"chroma-{generation}")


def open_private(path: Path):
    """A Chroma client on `path` that no later open in this process will share; returns (collection, close,
    batch size)."""
    import chromadb
    from chromadb.api.shared_system_client import SharedSystemClient

    with _OPEN_LOCK:
        client = chromadb.PersistentClient(path=str(path), settings=_chroma.settings())
        collection = _chroma.chunk_collection(client, "cx_chunks")
        batch = _chroma.batch_size(client)
        ident = getattr(client, "_identifier", None)
        system = SharedSystemClient._identifier_to_system.pop(ident, None) if ident else None
        SharedSystemClient._identifier_to_refcount.pop(ident, None)

    def close() -> None:
        if system is not None:
            try:
                system.stop()
            except Exception:  # noqa: BLE001 - closing is best effort
                pass

    return collection, close, batch


def release_clients() -> None:
    """Drop chromadb's in-process client cache (for code that opened clients the ordinary way)."""
    from chromadb.api.shared_system_client import SharedSystemClient

    SharedSystemClient.clear_system_cache()


class ChromaLocalBackend(Backend):
    name = "chroma_local"
    reopen_to_see_changes = True

    def __init__(self, index_dir: Path):
        self.root = Path(index_dir)
        self.root.mkdir(parents=True, exist_ok=True)
        self.state = SqliteState(self.root / "state.sqlite3")
        self.lock = FileLock(self.root / "write.lock", str(self.root))

    def open_collection(self, generation):
        collection, close, batch = open_private(folder_for(self.root, generation))
        return _chroma.ChromaStore(collection, batch, on_close=close)

    def drop_collection(self, generation, loads=()):
        shutil.rmtree(folder_for(self.root, generation), ignore_errors=True)

    def describe(self):
        return str(self.root)


def _local(index_dir: Path) -> ChromaLocalBackend:
    return ChromaLocalBackend(index_dir)
