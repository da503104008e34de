"""Shared state in a local folder: records in SQLite (`state.sqlite3`), the write lock as an OS file lock.

SQLite gives every write a transaction, so a kill at any moment leaves each record whole, and any number of
processes may read and write it at once (WAL mode). The lock is `flock` on `write.lock`: the operating system
releases it when its holder dies, however it dies, so a killed load never leaves the index locked.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
from pathlib import Path

from ..errors import IndexDamagedError
from .base import StateStore, WriteLock


class SqliteState(StateStore):
    def __init__(self, path: Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        try:
            self._db = sqlite3.connect(str(self.path), timeout=60, check_same_thread=False, isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")
            self._db.execute("CREATE TABLE IF NOT EXISTS records (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
        except sqlite3.DatabaseError as exc:
            raise IndexDamagedError(f"{self.path} cannot be read ({exc}). Move it away and run `cx-copilot rebuild` "
                                    "to re-create the index from its files.") from exc

    def _rows(self, sql: str, args: tuple) -> list[tuple[str, str]]:
        with self._lock:
            return self._db.execute(sql, args).fetchall()

    def get(self, key):
        rows = self._rows("SELECT key, value FROM records WHERE key = ?", (key,))
        return json.loads(rows[0][1]) if rows else None

    def scan(self, prefix):
        rows = self._rows("SELECT key, value FROM records WHERE key >= ? AND key < ?", (prefix, prefix + "\U0010ffff"))
        return {k: json.loads(v) for k, v in rows}

    def put_many(self, records):
        data = [(k, json.dumps(v, ensure_ascii=False)) for k, v in records.items()]
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                self._db.executemany("INSERT OR REPLACE INTO records (key, value) VALUES (?, ?)", data)
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def delete(self, keys):
        keys = list(keys)
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                for start in range(0, len(keys), 500):
                    part = keys[start:start + 500]
                    self._db.execute(f"DELETE FROM records WHERE key IN ({','.join('?' * len(part))})", part)
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def close(self):
        with self._lock:
            try:
                self._db.close()
            except sqlite3.Error:
                pass


try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None


class FileLock(WriteLock):
    """An exclusive OS lock on a file in the index folder; its holder's details are written into it."""

    def __init__(self, path: Path, where: str):
        self.path = Path(path)
        self.where = where
        self._fd: int | None = None

    def try_acquire(self, owner):
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            if fcntl is not None:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            else:  # pragma: no cover - Windows
                import msvcrt

                msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
        except OSError:
            os.close(fd)
            return False
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(owner).encode(), 0)
        self._fd = fd
        return True

    def holder(self):
        try:
            return json.loads(self.path.read_text() or "null")
        except (OSError, ValueError):
            return None

    def release(self):
        fd, self._fd = self._fd, None
        if fd is None:
            return
        try:
            os.ftruncate(fd, 0)
        except OSError:
            pass
        os.close(fd)  # closing the descriptor releases the lock
