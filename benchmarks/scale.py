"""How query latency and memory grow with the collection: 1k, 10k, 100k synthetic chunks.

    .venv/bin/python benchmarks/scale.py [--sizes 1000,10000,100000] [--budget 900] [--out docs/scale.json]

One Chroma collection (copilot.store.ChromaStore, so our HNSW settings) in a temporary folder grows step by
step. Chunks are synthetic: random unit vectors (384-d, like all-MiniLM-L6-v2) and short random texts drawn
from the corpus vocabulary; nothing is embedded with the model (100k texts would take hours on 2 cores). At
each size we time, per query: the Chroma k-NN query (k=30, our candidate count), BM25 scoring of every chunk
with copilot.lexical.LexicalIndex (queries are the golden questions' text), and the two together; and we
record the process RSS. Plots: docs/scale-latency.png and docs/scale-memory.png. When inserting the next size
would overrun --budget seconds, the run stops there and says so.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import resource
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

DIM = 384
K = 30


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def pct(values: list[float], q: float) -> float:
    s = sorted(values)
    return s[max(0, int(round(q * len(s))) - 1)]


def vocabulary() -> list[str]:
    from copilot.config import builtin_corpus_dir

    words: list[str] = []
    for p in sorted(builtin_corpus_dir().glob("*.md")):
        words += re.findall(r"[A-Za-z][A-Za-z'-]+", p.read_text(encoding="utf-8"))
    return words  # with repeats, so sampled texts keep the corpus' word frequencies


def synthetic(start: int, n: int, words: list[str], rng: random.Random, nrng: np.random.Generator):
    ids = [f"syn-{i:07d}" for i in range(start, start + n)]
    texts = [" ".join(rng.choices(words, k=rng.randint(40, 120))) for _ in range(n)]
    vecs = nrng.standard_normal((n, DIM)).astype(np.float32)
    vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
    metas = [{"source": f"synthetic-{i % 500}.md", "title": "synthetic", "section": ""} for i in range(start, start + n)]
    return ids, vecs, texts, metas


def queries(n: int) -> list[str]:
    from copilot.evaluation import golden_files

    qs = [q["question"] for q in golden_files()["question"]]
    return (qs * (n // max(1, len(qs)) + 1))[:n]


def measure(store, lexical, qtexts: list[str], nrng: np.random.Generator) -> dict:
    dense_ms, bm25_ms, both_ms = [], [], []
    for text in qtexts:
        q = nrng.standard_normal(DIM).astype(np.float32)
        q /= np.linalg.norm(q)
        t0 = time.perf_counter()
        store.query(q, K)
        t1 = time.perf_counter()
        scores = lexical.scores(text)
        if scores is not None:
            k = min(K, len(scores))
            np.argpartition(-scores, k - 1)[:k]
        t2 = time.perf_counter()
        dense_ms.append((t1 - t0) * 1000)
        bm25_ms.append((t2 - t1) * 1000)
        both_ms.append((t2 - t0) * 1000)
    return {f"{name}_{p}_ms": pct(v, q) for name, v in (("dense", dense_ms), ("bm25", bm25_ms), ("total", both_ms))
            for p, q in (("p50", 0.5), ("p95", 0.95))}


def plot(rows: list[dict], docs: Path) -> list[str]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    n = [r["chunks"] for r in rows]
    def save(ax_setup, ylabel: str, title: str, legend_size: int, name: str) -> str:
        fig, ax = plt.subplots(figsize=(6.4, 4.2))
        ax_setup(ax)
        ax.set_xscale("log")
        ax.set_xlabel("chunks in the collection")
        ax.set_ylabel(ylabel)
        ax.set_title(title)
        ax.legend(fontsize=legend_size)
        ax.grid(True, alpha=0.3)
        fig.tight_layout()
        path = docs / name
        fig.savefig(path, dpi=110)
        plt.close(fig)
        return path

    def latency(ax):
        for key, label, style, color in (("dense", "Chroma HNSW query (k=30)", "o-", "C0"),
                                         ("bm25", "BM25 scoring", "s-", "C1"), ("total", "dense + BM25", "^-", "C2")):
            ax.plot(n, [r[f"{key}_p50_ms"] for r in rows], style, color=color, label=f"{label} p50")
            ax.plot(n, [r[f"{key}_p95_ms"] for r in rows], style[0] + "--", color=color, alpha=0.5,
                    label=f"{label} p95")
        ax.axhline(150, color="grey", linewidth=0.8, linestyle=":", label="target: p95 ≤ 150 ms at 100k")

    def memory(ax):
        ax.plot(n, [r["rss_mb"] for r in rows], "o-", label="RSS after insert + BM25 build")
        ax.plot(n, [r["peak_rss_mb"] for r in rows], "s--", label="peak RSS so far")

    lat = save(latency, "query latency (ms)", "Query latency vs collection size (2 CPUs)", 7, "scale-latency.png")
    mem = save(memory, "memory (MB)", "Process memory vs collection size", 8, "scale-memory.png")
    return [str(lat), str(mem)]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="1000,10000,100000")
    ap.add_argument("--queries", type=int, default=100)
    ap.add_argument("--budget", type=float, default=900, help="stop before a size whose insert would overrun this")
    ap.add_argument("--out", default=str(ROOT / "docs" / "scale.json"))
    ap.add_argument("--plots", default=str(ROOT / "docs"), help="folder for the PNG plots ('' for none)")
    ap.add_argument("--seed", type=int, default=7)
    args = ap.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]

    from copilot.lexical import LexicalIndex
    from copilot.store import HNSW, ChromaStore

    rng, nrng = random.Random(args.seed), np.random.default_rng(args.seed)
    words = vocabulary()
    qtexts = queries(args.queries)
    rows, note = [], ""
    started = time.perf_counter()
    base_rss = rss_mb()
    with tempfile.TemporaryDirectory(prefix="cx-scale-") as tmp:
        store = ChromaStore(Path(tmp) / "chroma")
        all_ids: list[str] = []
        all_texts: list[str] = []
        insert_rate = None  # chunks/s seen so far, to predict the next step
        for size in sizes:
            todo = size - len(all_ids)
            elapsed = time.perf_counter() - started
            if insert_rate and elapsed + todo / insert_rate > args.budget:
                note = (f"stopped before {size} chunks: at {insert_rate:.0f} chunks/s the insert would take "
                        f"~{todo / insert_rate:.0f} s more, past the {args.budget:.0f} s budget")
                print(note, flush=True)
                break
            t0 = time.perf_counter()
            step = 5000
            for start in range(len(all_ids), size, step):
                if time.perf_counter() - started > args.budget:  # slower than predicted: measure what we have
                    note = (f"stopped inserting at {len(all_ids)} of {size} chunks: the {args.budget:.0f} s budget "
                            "ran out; that row is measured at the size reached")
                    print(note, flush=True)
                    break
                ids, vecs, texts, metas = synthetic(start, min(step, size - start), words, rng, nrng)
                store.upsert(ids, vecs, texts, metas)
                all_ids += ids
                all_texts += texts
            insert_s = time.perf_counter() - t0
            insert_rate = (len(all_ids) - (size - todo)) / insert_s
            size = len(all_ids)
            t1 = time.perf_counter()
            lexical = LexicalIndex.build(all_ids, all_texts)
            bm25_build_s = time.perf_counter() - t1
            measure(store, lexical, qtexts[:10], nrng)  # warm
            row = {"chunks": size, "insert_s": insert_s, "insert_chunks_per_s": insert_rate,
                   "bm25_build_s": bm25_build_s, **measure(store, lexical, qtexts, nrng),
                   "rss_mb": rss_mb(), "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                   "disk_mb": sum(f.stat().st_size for f in Path(tmp).rglob("*") if f.is_file()) / 1e6}
            rows.append(row)
            print(f"{size:>7} chunks: insert {insert_s:6.1f} s ({insert_rate:5.0f}/s), BM25 build {bm25_build_s:5.1f} s | "
                  f"dense p50/p95 {row['dense_p50_ms']:.1f}/{row['dense_p95_ms']:.1f} ms, "
                  f"BM25 {row['bm25_p50_ms']:.1f}/{row['bm25_p95_ms']:.1f} ms, "
                  f"total {row['total_p50_ms']:.1f}/{row['total_p95_ms']:.1f} ms | RSS {row['rss_mb']:.0f} MB, "
                  f"disk {row['disk_mb']:.0f} MB", flush=True)
            del lexical
            save(args, rows, note, qtexts, base_rss, started)  # after every size, so a killed run keeps its rows
            if note:
                break
    save(args, rows, note, qtexts, base_rss, started)
    return 0


def save(args, rows: list[dict], note: str, qtexts: list[str], base_rss: float, started: float) -> None:
    from copilot.store import HNSW

    result = {"date": datetime.now(timezone.utc).replace(microsecond=0).isoformat(), "cpus": os.cpu_count(),
              "hnsw": HNSW, "k": K, "queries": len(qtexts), "baseline_rss_mb": base_rss, "rows": rows,
              "note": note, "seconds": time.perf_counter() - started}
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(json.dumps(result, indent=2))
        print(f"wrote {args.out}")
    if args.plots and rows:
        print("plots:", ", ".join(plot(rows, Path(args.plots))), flush=True)


if __name__ == "__main__":
    raise SystemExit(main())
