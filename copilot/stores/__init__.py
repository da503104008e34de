"""Where an index lives, chosen by URL through one small registry.

    (no URL)            embedded Chroma in the index folder          stores/chroma_local.py
    http(s)://host:port a Chroma server shared by every replica      stores/chroma_server.py
    memory://name       in memory, for tests (shared by name)        stores/memory.py

A new backend is one module with a `Backend` subclass plus one line in BACKENDS.
"""

from __future__ import annotations

import importlib
import re
from pathlib import Path
from urllib.parse import urlparse

from ..errors import CopilotError
from .base import Backend, StateStore, StoredChunk, VectorStore, WriteLock, batches

__all__ = ["Backend", "StateStore", "StoredChunk", "VectorStore", "WriteLock", "batches", "open_backend",
           "FixedBackend", "BACKENDS"]

# URL scheme -> "module:factory"; the factory takes (index_dir, url, index_name)
BACKENDS = {
    "": "copilot.stores.chroma_local:_local",
    "http": "copilot.stores.chroma_server:ChromaServerBackend",
    "https": "copilot.stores.chroma_server:ChromaServerBackend",
    "memory": "copilot.stores.memory:_memory",
}

_INDEX_NAME = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9._-]{0,58}[A-Za-z0-9])?$")


def open_backend(index_dir: Path, url: str | None = None, index_name: str = "cx") -> Backend:
    """The backend for an index: embedded Chroma in `index_dir`, or the server/space that `url` names."""
    scheme = urlparse(url).scheme if url else ""
    target = BACKENDS.get(scheme)
    if target is None:
        raise CopilotError(f"Unknown store URL {url!r}: use http://host:port for a Chroma server "
                           f"(known schemes: {', '.join(s for s in BACKENDS if s)}).")
    if not _INDEX_NAME.match(index_name or ""):
        raise CopilotError(f"COPILOT_CHROMA_INDEX {index_name!r} is not a valid name: up to 60 letters, digits, '.', "
                           "'_' or '-', starting and ending with a letter or digit.")
    module, factory = target.split(":")
    make = getattr(importlib.import_module(module), factory)
    if scheme in {"http", "https"}:
        return make(url, index_name)
    if scheme == "memory":
        return make(url)
    return make(Path(index_dir))


class FixedBackend(Backend):
    """An index over one given VectorStore (`Copilot(store=...)`), with its records and lock in the index folder.
    Every generation lives in that one store; dropping one deletes its loads."""

    name = "fixed"

    def __init__(self, store: VectorStore, index_dir: Path):
        from .files import FileLock, SqliteState

        self.store = store
        self.root = Path(index_dir)
        self.state = SqliteState(self.root / "state.sqlite3")
        self.lock = FileLock(self.root / "write.lock", str(self.root))

    def open_collection(self, generation):
        return self.store

    def drop_collection(self, generation, loads=()):
        for load in loads:
            self.store.delete_where("load", load)

    def describe(self):
        return str(self.root)
