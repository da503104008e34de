"""Helpers shared by the tests (and benchmarks/faults.py) that check an index from the outside."""

from __future__ import annotations

import time
from pathlib import Path


def handbook(folder: Path, name: str, topic: str, sentences: int = 3, verb: str = "applies to") -> Path:
    """A small Markdown document about `topic`: one section, `sentences` sentences (about 14 words each)."""
    folder.mkdir(parents=True, exist_ok=True)
    body = " ".join(f"The {topic} handbook says rule {i} about {topic} {verb} every {topic} case." for i in
                    range(sentences))
    path = folder / name
    path.write_text(f"# {topic.title()} handbook\n\n## What is {topic}?\n\n{body}\n", encoding="utf-8")
    return path


def stored_by_load(cp) -> tuple[dict[str, int], dict[str, int]]:
    """(chunks per load the catalog lists, chunks per load the store holds)."""
    listed = {e.get("load") or "": e["chunks"] for e in cp.catalog["sources"].values()}
    stored: dict[str, int] = {}
    for c in cp.store.all():
        stored[c.metadata.get("load", "")] = stored.get(c.metadata.get("load", ""), 0) + 1
    return listed, stored


def assert_agree(cp) -> dict[str, int]:
    """Catalog and store hold exactly the same chunks: each listed load's, nothing else. Returns chunks per
    source."""
    listed, stored = stored_by_load(cp)
    assert stored == listed, (stored, listed)
    return {name: e["chunks"] for name, e in cp.catalog["sources"].items()}


def wait_until(predicate, timeout: float = 5.0) -> float:
    """Seconds until `predicate()` held; fails after `timeout`."""
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        if predicate():
            return time.monotonic() - start
        time.sleep(0.05)
    raise AssertionError(f"not within {timeout} s")
