"""Run a `cx-copilot` command in this process and SIGKILL it (kill -9: no cleanup, no atexit) at a chosen point.

    python tests/fault_runner.py POINT N -- ingest docs/ --index-dir X --no-corpus

POINT names where to die, N which occurrence (1 = the first):

    embed           inside the embedder, before it returns vectors
    upsert-before   just before chunks are written to the store
    upsert-after    just after chunks are written, before their catalog record (the store-then-catalog window)
    journal-after   just after the journal of pending loads is written
    commit-before   just before the catalog records are written (the window, for every chunk of the group)
    commit-after    just after the catalog records, before the replaced chunks are deleted
    cleanup-after   just after the replaced (or removed) chunks are deleted, before the head moves
    head-before     just before the head record (revision) is written
    unjournal-before just before the journal entries are deleted
    none            run to the end

Used by tests/test_processes.py and benchmarks/faults.py. The embedder is the hash embedder unless
COPILOT_EMBEDDER says otherwise.
"""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("COPILOT_EMBEDDER", "hash")


def die() -> None:
    sys.stdout.flush()
    sys.stderr.flush()
    os.kill(os.getpid(), signal.SIGKILL)


def _classes(*names: str) -> list:
    """The classes these dotted names point at, skipping any this version of the code does not have."""
    import importlib

    out = []
    for name in names:
        module, _, attr = name.rpartition(".")
        try:
            out.append(getattr(importlib.import_module(module), attr))
        except (ImportError, AttributeError):
            pass
    return out


def arm(point: str, nth: int) -> None:
    seen = [0]

    def hit() -> bool:
        seen[0] += 1
        return seen[0] == nth

    def wrap(cls, name, when, kind=None):
        real = getattr(cls, name)

        def patched(self, *args, **kwargs):
            matches = kind is None or kind(args)
            if matches and when == "before" and hit():
                die()
            out = real(self, *args, **kwargs)
            if matches and when == "after" and hit():
                die()
            return out
        setattr(cls, name, patched)

    def keys(prefix):
        return lambda args: any(k.startswith(prefix) for k in (args[0] if args else {}))

    stores = _classes("copilot.stores._chroma.ChromaStore", "copilot.stores.memory.MemoryStore")
    states = _classes("copilot.stores.files.SqliteState", "copilot.stores._chroma.ChromaRecords",
                      "copilot.stores.memory.MemoryState")
    if point == "embed":
        for cls in _classes("copilot.embeddings.HashEmbedder", "copilot.embeddings.MiniLMEmbedder"):
            wrap(cls, "embed_batch", "before")
    elif point in {"upsert-before", "upsert-after"}:
        for cls in stores:
            wrap(cls, "upsert", point.split("-")[1])
    elif point == "journal-after":
        for cls in states:
            wrap(cls, "put_many", "after", keys("journal/"))
    elif point in {"commit-before", "commit-after"}:
        for cls in states:
            wrap(cls, "put_many", point.split("-")[1], keys("source/"))
    elif point == "cleanup-after":
        for cls in stores:
            for name in ("delete_where", "delete"):
                if hasattr(cls, name):
                    wrap(cls, name, "after")
    elif point == "head-before":
        for cls in states:
            wrap(cls, "put_many", "before", keys("head"))
    elif point == "unjournal-before":
        for cls in states:
            wrap(cls, "delete", "before", lambda args: any(str(k).startswith("journal/") for k in args[0]))
    elif point != "none":
        raise SystemExit(f"unknown point {point}")


def main() -> int:
    point, nth = sys.argv[1], int(sys.argv[2])
    rest = sys.argv[sys.argv.index("--") + 1:]
    arm(point, nth)
    if os.environ.get("CX_TEST_INGEST_GROUP"):  # small groups: several commits in a small load
        from copilot.index import Index

        Index.ingest_group = int(os.environ["CX_TEST_INGEST_GROUP"])
    from copilot.cli import main as cli

    return cli(rest)


if __name__ == "__main__":
    raise SystemExit(main())
