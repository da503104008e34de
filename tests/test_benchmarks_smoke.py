"""A tiny run of the benchmark harness (3 documents, 3 questions): the full run lives in benchmarks/."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.integration
def test_benchmark_harness_smoke_run(tmp_path):
    out = tmp_path / "bench.json"
    res = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "run.py"), "--smoke", "--out", str(out)],
                         cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stderr[-2000:]
    assert "ours / baseline" in res.stdout
    data = json.loads(out.read_text())
    for side in ("ours", "baseline"):
        for key in ("ingest_chunks_per_s", "answer_p50_ms", "support_rate", "retrieval_support", "cold_start_s",
                    "peak_rss_mb", "index_mb"):
            assert data[side][key] > 0 or key.endswith("support"), (side, key)
    assert data["ratio"]["ingest_chunks_per_s"] > 0
    assert {row["label"] for row in data["ablation"]} == {"dense", "bm25", "rrf", "weighted"}
