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


@pytest.mark.integration
def test_metrics_benchmark_smoke_run(tmp_path):
    """The survey-metrics benchmark on 2,000 responses, once: every row timed, ratios against its baseline."""
    out = tmp_path / "metrics.json"
    res = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "metrics_speed.py"), "--rows", "2000",
                          "--repeat", "1", "--output", str(out)], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr[-2000:]
    data = json.loads(out.read_text())
    assert data["rows"] == 2000 and data["bytes"] > 0 and len(data["figures"]) == 5
    baseline = data["figures"]["baseline: python -c 'import pandas; read_csv'"]
    assert baseline["ratio"] == 1.0
    for row in data["figures"].values():
        assert row["wall_s"] > 0 and row["ratio"] == pytest.approx(row["wall_s"] / baseline["wall_s"], abs=0.01)
