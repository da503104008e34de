"""No size cliff: an index of more than 32,766 chunks (where one SQLite statement runs out of variables) loads
and answers, and so does a single file of that many chunks. Real embedded Chroma, a small hash embedder so the
vectors are cheap; the 100k-chunk figures with the real model are in benchmarks/scale.py."""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
from pathlib import Path

import pytest

from copilot import Copilot
from copilot.embeddings import HashEmbedder
from copilot.retrieval import RetrievalSettings

ROOT = Path(__file__).resolve().parents[1]
GATE = RetrievalSettings(min_dense=0.05, min_fused=0.05)
SQLITE_LIMIT = 32_766


def _handbook(path: Path, sections: int, tag: str) -> Path:
    """A Markdown file with `sections` sections of ~30 words: one chunk each."""
    lines = [f"# Service rules {tag}\n"]
    for i in range(sections):
        lines.append(f"## Rule {tag}-{i}\n\nRule {tag}-{i} says customers on plan {i % 97} of region {tag} get "
                     f"{i % 13 + 1} days to return goods, {i % 7 + 2} free calls per month and a reply from the "
                     f"service desk within {i % 11 + 1} hours, whatever channel they choose.\n")
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


def test_an_index_of_more_than_32766_chunks_answers(tmp_path):
    folder = tmp_path / "docs"
    folder.mkdir()
    for n in range(17):
        _handbook(folder / f"copy-{n:02d}.md", 2_000, f"c{n}")
    cp = Copilot(tmp_path / "idx", embedder=HashEmbedder(dim=16), corpus=False, retrieval=GATE)
    report = cp.ingest([folder])
    assert report.ok and sum(f.chunks for f in report.files) == 34_000 > SQLITE_LIMIT
    for question in ("How many days do customers of region c3 get to return goods?", "What is rule c16-1999?"):
        a = cp.answer(question)
        assert not a.abstained and a.citations
    assert cp.answer("What is rule c16-1999?").citations[0].source == "copy-16.md"
    fresh = Copilot(tmp_path / "idx", embedder=HashEmbedder(dim=16), corpus=False, retrieval=GATE)  # a cold open
    assert len(fresh.sources()) == 17 and not fresh.answer("What is rule c0-7?").abstained


SINGLE = """
import json, resource, sys
from copilot import Copilot
from copilot.embeddings import HashEmbedder
from copilot.retrieval import RetrievalSettings
cp = Copilot(sys.argv[1], embedder=HashEmbedder(dim=16), corpus=False,
             retrieval=RetrievalSettings(min_dense=0.05, min_fused=0.05))
report = cp.ingest([sys.argv[2]])
a = cp.answer("What is rule big-32999?")
# this process's own peak: ru_maxrss keeps the parent's peak across the exec that started it (a test session
# that has loaded the model would be counted), VmHWM is the peak of this program's memory alone
try:
    peak = next(int(l.split()[1]) for l in open("/proc/self/status") if l.startswith("VmHWM:")) / 1024
except OSError:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({"ok": report.ok, "chunks": report.files[0].chunks, "status": report.files[0].status,
                  "cited": [c.source for c in a.citations], "rss_mb": peak}))
"""


def test_a_single_file_of_more_than_32766_chunks_loads_in_bounded_memory(tmp_path):
    big = _handbook(tmp_path / "big.md", 33_000, "big")
    out = subprocess.run([sys.executable, "-c", SINGLE, str(tmp_path / "idx"), str(big)], capture_output=True,
                         text=True, timeout=900, cwd=ROOT, env={**os.environ})
    assert out.returncode == 0, out.stderr[-3000:]
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["ok"] and result["status"] == "added" and result["chunks"] == 33_000 > SQLITE_LIMIT
    assert result["cited"] and result["cited"][0] == "big.md"
    # the text is 7 MB; everything else streams through in groups (the old loader held every vector at once)
    assert result["rss_mb"] < 600, result
