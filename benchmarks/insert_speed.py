"""Where loading chunks into embedded Chroma spends its time, and which settings cut it without losing recall.

    .venv/bin/python benchmarks/insert_speed.py --chunks 100000 --out docs/insert-speed.json

Each configuration inserts the same stored vectors (benchmarks/scale_corpus.py: 100k chunks of generated
handbooks, vectors in the real model's space) with their passages and metadata into a fresh collection, in
the batch size it names, and records wall time and CPU time (all threads; steadier than wall time on a shared
machine). Then, for 240 queries (the 120 golden questions embedded by the real model, and 120 of the chunks'
own vectors), recall@30 of Chroma's HNSW search against exact (brute-force numpy) search over the same
vectors, at several ef_search values (a setting of the collection that can change after the build), and the
query latency. Recall counts a returned neighbour as found when its similarity is at least the exact 30th
one's less 0.001 (as ann-benchmarks does), so near-ties at the boundary are not misses. The first
configuration is the one the index used before; ratios are against it, in the same run. The reopen column
times opening the collection in a fresh client and answering a first query (what a reader pays to see
another process's writes).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

# name: (HNSW settings, items per upsert call, where the passage goes: Chroma's document field, which embedded
# Chroma also indexes for full-text search, or a metadata value, which it does not)
# name: (HNSW settings, items per upsert call, where the passage goes: Chroma's document field, which embedded
# Chroma also indexes for full-text search, or a metadata value, which it does not)
CONFIGS = {
    "before: ef_c 200, M 32, 2000 per call, passage as document":
        ({"ef_construction": 200, "max_neighbors": 32}, 2000, "document"),
    "ef_c 200, M 32, 5000 per call, passage as metadata":
        ({"ef_construction": 200, "max_neighbors": 32}, 5000, "metadata"),
    "ef_c 128, M 24, 5000 per call, passage as metadata":
        ({"ef_construction": 128, "max_neighbors": 24}, 5000, "metadata"),
    "ef_c 100, M 16, 5000 per call, passage as metadata":
        ({"ef_construction": 100, "max_neighbors": 16}, 5000, "metadata"),
}
EF_SEARCH = (128, 256, 512)  # searched on each graph (a collection setting that can change after the build)


def load_data(n: int):
    from scale_corpus import chunks_with_vectors

    return chunks_with_vectors(n)


def _cpu() -> float:
    """CPU seconds of this process, all threads (Chroma inserts on its own threads): steadier than wall time on a
    machine shared with other jobs."""
    import resource

    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def exact_kth(matrix: np.ndarray, queries: np.ndarray, k: int) -> np.ndarray:
    """Cosine similarity of each query's k-th nearest vector, by exact search."""
    sims = queries @ matrix.T
    return np.partition(-sims, k - 1, axis=1)[:, k - 1] * -1


def recall(returned: list[float], kth: float, k: int, eps: float = 1e-3) -> int:
    """How many of the returned neighbours are within the exact top k: similarity at least the k-th exact one
    (less eps, as ann-benchmarks counts it, so near-ties at the boundary are not counted as misses)."""
    return sum(s >= kth - eps for s in returned[:k])


def run_config(name: str, hnsw: dict, step: int, text_in: str, ids, vectors, texts, metas, queries, truth,
               k: int) -> dict:
    import chromadb
    from chromadb.config import Settings

    with tempfile.TemporaryDirectory(prefix="cx-insert-") as tmp:
        client = chromadb.PersistentClient(path=tmp, settings=Settings(anonymized_telemetry=False))
        col = client.get_or_create_collection("cx_chunks", configuration={"hnsw": {"space": "cosine", **hnsw}},
                                              embedding_function=None)
        t0, c0 = time.perf_counter(), _cpu()
        for i in range(0, len(ids), step):
            if text_in == "document":
                col.upsert(ids=ids[i:i + step], embeddings=vectors[i:i + step], documents=texts[i:i + step],
                           metadatas=metas[i:i + step])
            else:
                col.upsert(ids=ids[i:i + step], embeddings=vectors[i:i + step],
                           metadatas=[{**m, "text": t} for m, t in zip(metas[i:i + step], texts[i:i + step])])
        insert_s, cpu_s = time.perf_counter() - t0, _cpu() - c0
        from chromadb.api.shared_system_client import SharedSystemClient

        search, reopen_s = {}, None
        for ef in EF_SEARCH:
            col.modify(configuration={"hnsw": {"ef_search": ef}})
            SharedSystemClient.clear_system_cache()  # a fresh client loads the graph with the new setting
            t1 = time.perf_counter()
            col = chromadb.PersistentClient(path=tmp, settings=Settings(anonymized_telemetry=False)).get_collection(
                "cx_chunks")
            col.query(query_embeddings=[queries[0]], n_results=k, include=[])
            reopen_s = reopen_s or time.perf_counter() - t1
            hits, lat = 0, []
            for q, kth in zip(queries, truth):
                t = time.perf_counter()
                res = col.query(query_embeddings=[q], n_results=k, include=["distances"])
                lat.append((time.perf_counter() - t) * 1000)
                hits += recall([1.0 - d for d in res["distances"][0]], kth, k)
            lat.sort()
            search[ef] = {f"recall@{k}": round(hits / (k * len(queries)), 4), "query_p50_ms": round(lat[len(lat) // 2], 2),
                          "query_p95_ms": round(lat[int(0.95 * (len(lat) - 1))], 2)}
        SharedSystemClient.clear_system_cache()
    row = {"config": name, "hnsw": hnsw, "batch": step, "passage": text_in, "chunks": len(ids), "insert_s": round(insert_s, 1),
           "chunks_per_s": round(len(ids) / insert_s, 1), "insert_cpu_s": round(cpu_s, 1), "search": search,
           "reopen_first_query_s": round(reopen_s, 2)}
    print(json.dumps(row), flush=True)
    return row


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--chunks", type=int, default=100_000)
    ap.add_argument("--k", type=int, default=30)
    ap.add_argument("--configs", default="", help="comma-separated indexes into the list (default: all)")
    ap.add_argument("--out", default="")
    args = ap.parse_args()
    from copilot.embeddings import make_embedder
    from copilot.evaluation import golden_files

    ids, vectors, texts, metas = load_data(args.chunks)
    questions = [q["question"] for q in golden_files()["question"]]
    # the golden questions, and as many chunks' own vectors (their neighbourhoods are the dense ones)
    picks = np.random.default_rng(3).choice(len(ids), size=len(questions), replace=False)
    queries = np.concatenate([make_embedder().embed(questions), vectors[picks]])
    truth = exact_kth(vectors, queries, args.k)
    chosen = list(CONFIGS.items())
    if args.configs:
        chosen = [chosen[int(i)] for i in args.configs.split(",")]
    started = time.perf_counter()
    rows = [run_config(name, hnsw, step, text_in, ids, vectors, texts, metas, queries, truth, args.k)
            for name, (hnsw, step, text_in) in chosen]
    base = rows[0]
    for row in rows:
        row["speed_vs_before"] = round(row["chunks_per_s"] / base["chunks_per_s"], 2)
        row["cpu_vs_before"] = round(base["insert_cpu_s"] / row["insert_cpu_s"], 2)
    efs = " | ".join(f"recall@{args.k}, p95 ms at ef_search {ef}" for ef in EF_SEARCH)
    print(f"\n| configuration | insert s (wall) | chunks/s | × before (wall) | insert CPU s | × before (CPU) | {efs} | "
          "reopen + first query s |")
    print("|---|" + "---:|" * (6 + len(EF_SEARCH)))
    for r in rows:
        cells = " | ".join(f"{r['search'][ef][f'recall@{args.k}']:.3f}, {r['search'][ef]['query_p95_ms']:.1f}"
                           for ef in EF_SEARCH)
        print(f"| {r['config']} | {r['insert_s']:.0f} | {r['chunks_per_s']:.0f} | {r['speed_vs_before']:.2f} | "
              f"{r['insert_cpu_s']:.0f} | {r['cpu_vs_before']:.2f} | {cells} | {r['reopen_first_query_s']:.2f} |")
    if args.out:
        Path(args.out).write_text(json.dumps({
            "date": datetime.now(timezone.utc).replace(microsecond=0).isoformat(), "cpus": os.cpu_count(),
            "chunks": len(ids), "queries": len(queries), "k": args.k, "rows": rows,
            "seconds": round(time.perf_counter() - started)}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
