"""A Chroma server (`chroma run`, or any deployment that speaks its HTTP API) holds everything every replica
needs: the chunks, the shared records and the write lock. The local index folder then only caches (BM25).

Collections on the server, for an index named N (COPILOT_CHROMA_INDEX, default "cx"):

    N-chunks, N-chunks-<gen>   the vectors and passages of each generation (a rebuild makes a new one)
    N-state                    the head, the per-source catalog records, the journal of pending writes
    N-lock                     exists while a writer holds the lock; its metadata names the holder

Creating a collection is atomic on the server (names are unique), so whoever creates N-lock holds the lock. The
holder renews a lease on it every few seconds; a lock whose lease ran out (its holder died) is taken over by
renaming it away first, so two writers can never both break it and both win.
"""

from __future__ import annotations

import os
import socket
import threading
import time
import uuid
from urllib.parse import urlparse

from ..errors import CopilotError, IndexBusyError
from . import _chroma
from .base import Backend, WriteLock, describe_owner

LEASE_SECONDS = 60.0
RENEW_SECONDS = 10.0


def connect(url: str):
    import chromadb

    parsed = urlparse(url)
    if parsed.scheme not in {"http", "https"} or not parsed.hostname:
        raise CopilotError(f"COPILOT_CHROMA_URL must look like http://host:port, not {url!r}")
    port = parsed.port or (443 if parsed.scheme == "https" else 8000)
    try:
        return chromadb.HttpClient(host=parsed.hostname, port=port, ssl=parsed.scheme == "https",
                                   settings=_chroma.settings())
    except Exception as exc:  # noqa: BLE001 - chromadb raises ValueError, httpx errors, ...
        raise CopilotError(f"Cannot reach the Chroma server at {url} ({exc}). Start it with `chroma run --path "
                           f"<folder> --port {port}` or check COPILOT_CHROMA_URL / --chroma-url.") from exc


def _missing(exc: Exception) -> bool:
    return "does not exist" in str(exc) or type(exc).__name__ == "NotFoundError"


def _dead_here(owner: dict) -> bool:
    """Is the holder a process on this machine that no longer exists? Then its lease need not run out."""
    if owner.get("host") != socket.gethostname():
        return False
    try:
        pid = int(owner.get("pid", 0))
    except (TypeError, ValueError):
        return False
    if pid <= 0 or pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except OSError:
        return False
    return False


class LeaseLock(WriteLock):
    def __init__(self, client, name: str, where: str):
        self.client = client
        self.name = name
        self.where = where
        self.poll = 0.25
        self._token: str | None = None
        self._stop = threading.Event()
        self._lost = False

    def _metadata(self) -> dict | None:
        try:
            return dict(self.client.get_collection(self.name).metadata or {})
        except Exception as exc:  # noqa: BLE001
            if _missing(exc):
                return None
            raise

    def try_acquire(self, owner):
        token = uuid.uuid4().hex
        meta = {**{k: str(v) for k, v in owner.items()}, "token": token, "expires": time.time() + LEASE_SECONDS}
        for attempt in range(2):
            try:
                self.client.create_collection(self.name, metadata=meta, embedding_function=None)
                break
            except Exception as exc:  # noqa: BLE001
                if "already exists" not in str(exc):
                    raise
                if attempt or not self._break_if_expired():
                    return False
        self._token, self._lost = token, False
        self._stop = threading.Event()
        threading.Thread(target=self._renew, args=(meta, self._stop), daemon=True, name="cx-lock-lease").start()
        return True

    def _break_if_expired(self) -> bool:
        """Take away a lock whose holder is gone. Returns whether it is gone now (so acquiring may be retried)."""
        try:
            col = self.client.get_collection(self.name)
        except Exception as exc:  # noqa: BLE001
            if _missing(exc):
                return True
            raise
        meta = col.metadata or {}
        if float(meta.get("expires", 0)) >= time.time() and not _dead_here(meta):
            return False
        # rename this very collection (by id) out of the way, then delete it: a lock created since is untouched
        broken = f"{self.name}-expired-{uuid.uuid4().hex[:8]}"
        try:
            col.modify(name=broken)
            self.client.delete_collection(broken)
        except Exception:  # noqa: BLE001 - someone else broke it first
            pass
        return True

    def _renew(self, meta: dict, stop: threading.Event) -> None:
        while not stop.wait(RENEW_SECONDS):
            try:
                col = self.client.get_collection(self.name)
                if (col.metadata or {}).get("token") != meta["token"]:
                    self._lost = True
                    return
                col.modify(metadata={**meta, "expires": time.time() + LEASE_SECONDS})
            except Exception:  # noqa: BLE001 - a blip; verify() tells the writer if the lease really ran out
                continue

    def holder(self):
        meta = self._metadata()
        return {k: v for k, v in meta.items() if k not in {"token", "expires"}} if meta else None

    def verify(self):
        meta = self._metadata()
        if self._lost or not meta or meta.get("token") != self._token:
            raise IndexBusyError(f"This process lost the write lock on {self.where} (its lease ran out; now held by "
                                 f"{describe_owner(self.holder())}). The change in progress was not committed.")

    def release(self):
        self._stop.set()
        token, self._token = self._token, None
        meta = self._metadata()
        if meta and meta.get("token") == token:
            try:
                self.client.delete_collection(self.name)
            except Exception:  # noqa: BLE001
                pass


class ChromaServerBackend(Backend):
    name = "chroma_server"
    shared_state_is_remote = True

    def __init__(self, url: str, index: str = "cx"):
        self.url = url
        self.index = index
        self.client = connect(url)
        self.batch_size = _chroma.batch_size(self.client)
        records = self.client.get_or_create_collection(f"{index}-state", metadata={"app": "cx-copilot"},
                                                       embedding_function=None)
        self.state = _chroma.ChromaRecords(records, self.batch_size)
        self.lock = LeaseLock(self.client, f"{index}-lock", self.describe())

    def _name(self, generation: str) -> str:
        return f"{self.index}-chunks" if not generation else f"{self.index}-chunks-{generation}"

    def open_collection(self, generation):
        return _chroma.ChromaStore(_chroma.chunk_collection(self.client, self._name(generation)), self.batch_size)

    def drop_collection(self, generation, loads=()):
        try:
            self.client.delete_collection(self._name(generation))
        except Exception as exc:  # noqa: BLE001
            if not _missing(exc):
                raise

    def describe(self):
        return f"{self.url} (index {self.index!r})"
