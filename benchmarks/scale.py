"""An index of 10k, 30k and 100k real chunks, grown through the Index: load time, cold open, query latency,
memory and disk at each size, and a projection to 1M chunks.

    .venv/bin/python benchmarks/scale.py --out docs/scale.json [--sizes 10000,30000,100000] [--plots docs]

The documents are benchmarks/scale_corpus.py's generated handbooks (8,334 files, 12 chunks each), chunked by
our chunker and loaded with `Copilot.ingest` into embedded Chroma (or `--chroma-url`), with the stored vectors
handed over by `StoredVectors` (so no time goes to the model; see scale_corpus.py for what the vectors are).
Questions are the 120 golden questions, embedded live by the real model.

At each size a fresh process opens the index cold and reports: the model load (not the index's doing), the
open (Copilot(...): head, catalog, Chroma) and the first answer (which builds the BM25 index from the per-load
token caches), then 120 warm answers end to end (`cp.answer`) and, split out, the dense search
(`store.query`, k=30) and the BM25 scoring of every chunk; its RSS after all that; and the index's size on disk.
The 1M projection (`projection`) fits memory, disk, open time, first answer and BM25 time linearly against chunk
count, dense search time against log(chunks) (HNSW), and adds their growth to the measured answer time.
`--rows docs/scale.json --out docs/scale.json --plots docs` recomputes projection and plots from a finished run.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
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


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def pct(values: list[float], q: float) -> float:
    s = sorted(values)
    return round(s[min(len(s) - 1, max(0, int(round(q * len(s))) - 1))], 2)


def probe(index_dir: str, url: str) -> dict:
    """In a fresh process: open the index cold and time it, then answer the golden questions."""
    from copilot import Copilot
    from copilot.embeddings import make_embedder
    from copilot.evaluation import golden_files

    questions = [q["question"] for q in golden_files()["question"]]
    base = rss_mb()
    t0 = time.perf_counter()
    embedder = make_embedder()
    embedder.embed_query("warm up the model")
    model_s = time.perf_counter() - t0
    model_rss = rss_mb()
    t1 = time.perf_counter()
    cp = Copilot(index_dir, embedder=embedder, corpus=False, chroma_url=url or None)
    open_s = time.perf_counter() - t1
    t2 = time.perf_counter()
    first = cp.answer(questions[0])
    first_s = time.perf_counter() - t2
    answer_ms, dense_ms, bm25_ms, answered = [], [], [], 0
    store, lexical = cp.retriever.store, cp.retriever.lexical
    for q in questions:
        t = time.perf_counter()
        a = cp.answer(q)
        answer_ms.append((time.perf_counter() - t) * 1000)
        answered += not a.abstained
        v = embedder.embed_query(q)
        t = time.perf_counter()
        store.query(v, 30)
        dense_ms.append((time.perf_counter() - t) * 1000)
        t = time.perf_counter()
        scores = lexical.scores(q)
        if scores is not None:
            np.argpartition(-scores, 29)[:30]
        bm25_ms.append((time.perf_counter() - t) * 1000)
    current = currency(cp, index_dir, url)
    return {**current, "chunks": sum(s["chunks"] for s in cp.sources()), "sources": len(cp.sources()),
            "model_load_s": round(model_s, 2), "open_s": round(open_s, 2), "first_answer_s": round(first_s, 2),
            "first_answer_cited": bool(first.citations), "answered": f"{answered}/{len(questions)}",
            "answer_p50_ms": pct(answer_ms, 0.5), "answer_p95_ms": pct(answer_ms, 0.95),
            "dense_p50_ms": pct(dense_ms, 0.5), "dense_p95_ms": pct(dense_ms, 0.95),
            "bm25_p50_ms": pct(bm25_ms, 0.5), "bm25_p95_ms": pct(bm25_ms, 0.95),
            "rss_before_mb": round(base), "rss_model_mb": round(model_rss),
            "rss_mb": round(rss_mb()), "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
            "index_rss_mb": round(rss_mb() - model_rss)}


def currency(cp, index_dir: str, url: str) -> dict:
    """Another process loads one document; how long until this open index answers from it (the dense side, at
    once) and until its BM25 index covers it (rebuilt in the background)."""
    stamp = int(time.time())
    doc = Path(index_dir).parent / f"late-{stamp}.md"
    # a name of its own at each size: an earlier size's document, still in the index, must not answer for it
    charter = "Zephyrine " + "".join(chr(97 + int(d)) for d in str(stamp)[-6:]).title()
    question = f"What is the {charter} charter?"
    doc.write_text(f"# {charter} service charter\n\n## {question}\n\nThe {charter} charter promises "
                   "every caller a named agent and a reply within 17 minutes, day or night.\n", encoding="utf-8")
    env = {**os.environ}
    if url:
        env["COPILOT_CHROMA_URL"] = url
    out = subprocess.run([sys.executable, "-m", "copilot.cli", "ingest", str(doc), "--quiet", "--index-dir", index_dir],
                         capture_output=True, text=True, env=env)
    committed = time.perf_counter()
    if out.returncode:
        raise RuntimeError(out.stderr[-2000:])
    dense = bm25 = None
    while time.perf_counter() - committed < 120 and (dense is None or bm25 is None):
        if dense is None and any(c.source == doc.name for c in cp.answer(question).citations):
            dense = time.perf_counter() - committed
        view = cp.index._view
        if bm25 is None and any(name == doc.name for name, _ in view.lexical_key):
            bm25 = time.perf_counter() - committed
        time.sleep(0.05)
    return {"answers_new_doc_after_s": round(dense, 2) if dense is not None else None,
            "bm25_covers_it_after_s": round(bm25, 2) if bm25 is not None else None}


def disk_mb(folder: Path) -> float:
    return round(sum(f.stat().st_size for f in folder.rglob("*") if f.is_file()) / 1e6, 1)


def project(rows: list[dict], key: str, n: float, log: bool = False) -> float:
    x = np.array([r["chunks"] for r in rows], dtype=float)
    y = np.array([r[key] for r in rows], dtype=float)
    if log:
        x, n = np.log(x), np.log(n)
    slope, intercept = np.polyfit(x, y, 1)
    return round(float(slope * n + intercept), 2)


def projection(rows: list[dict], n: int = 1_000_000) -> dict:
    """Memory, disk, open time, first answer and BM25 scoring (which scores every chunk) linearly in the number
    of chunks; dense search against log(chunks) (HNSW). The end-to-end answer is the largest size's measured
    answer plus the projected growth of those two searches: the rest of it (the query embedding by the model,
    which is most of it, and the answer's assembly) does not depend on the index size, so a line through it
    would only fit the machine's load at each size."""
    projected: dict = {"chunks": n}
    if len(rows) < 2:
        return projected
    for key in ("index_rss_mb", "disk_mb", "open_s", "first_answer_s", "bm25_p95_ms"):
        projected[key] = project(rows, key, n)
    projected["dense_p95_ms"] = project(rows, "dense_p95_ms", n, log=True)
    last = rows[-1]
    projected["answer_p95_ms"] = round(last["answer_p95_ms"] + projected["bm25_p95_ms"] - last["bm25_p95_ms"]
                                       + projected["dense_p95_ms"] - last["dense_p95_ms"], 2)
    return projected


def plot(rows: list[dict], projected: dict, folder: Path) -> list[str]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    n = [r["chunks"] for r in rows]
    out = []
    for name, keys, ylabel, title in (
            ("scale-latency.png", [("answer_p95_ms", "answer p95 (end to end)"), ("dense_p95_ms", "dense search p95"),
                                   ("bm25_p95_ms", "BM25 scoring p95")], "ms", "Query latency vs index size (2 CPUs)"),
            ("scale-memory.png", [("index_rss_mb", "RSS of the open index (above the model)"),
                                  ("disk_mb", "index on disk")], "MB", "Memory and disk vs index size")):
        fig, ax = plt.subplots(figsize=(6.4, 4.2))
        for key, label in keys:
            ax.plot(n, [r[key] for r in rows], "o-", label=label)
            ax.plot([n[-1], 1_000_000], [rows[-1][key], projected[key]], ":", color=ax.lines[-1].get_color(),
                    label=f"{label}, projected")
        ax.set_xscale("log")
        ax.set_xlabel("chunks in the index")
        ax.set_ylabel(ylabel)
        ax.set_title(title)
        ax.legend(fontsize=7)
        ax.grid(True, alpha=0.3)
        fig.tight_layout()
        fig.savefig(folder / name, dpi=110)
        plt.close(fig)
        out.append(str(folder / name))
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="10000,30000,100000")
    ap.add_argument("--out", default="")
    ap.add_argument("--plots", default="", help="folder for scale-latency.png and scale-memory.png")
    ap.add_argument("--chroma-url", default="")
    ap.add_argument("--rows", default="", help="recompute the projection and plots from this result file's rows")
    ap.add_argument("--probe", nargs=2, metavar=("INDEX_DIR", "URL"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.probe:
        print(json.dumps(probe(*args.probe)))
        return 0
    if args.rows:
        result = json.loads(Path(args.rows).read_text())
        result["projected_1M"] = projection(result["rows"])
        print(json.dumps({"projected_1M": result["projected_1M"]}, indent=1))
        if args.out:
            Path(args.out).write_text(json.dumps(result, indent=2))
        if args.plots:
            print("plots:", ", ".join(plot(result["rows"], result["projected_1M"], Path(args.plots))))
        return 0
    from scale_corpus import StoredVectors, ensure

    from copilot import Copilot

    sizes = [int(s) for s in args.sizes.split(",")]
    folder, vectors = ensure(max(sizes))
    files = sorted(folder.glob("*.md"))
    embedder = StoredVectors(vectors)
    started = time.perf_counter()
    rows = []
    with tempfile.TemporaryDirectory(prefix="cx-scale-") as tmp:
        index_dir = Path(tmp) / "index"
        if args.chroma_url:
            os.environ.update(COPILOT_CHROMA_URL=args.chroma_url, COPILOT_CHROMA_INDEX=f"scale{os.getpid()}")
        cp = Copilot(index_dir, embedder=embedder, corpus=False)
        loaded = 0
        for size in sizes:
            todo = files[loaded // 12:size // 12]
            t0 = time.perf_counter()
            report = cp.ingest(todo)
            load_s = time.perf_counter() - t0
            loaded = sum(s["chunks"] for s in cp.sources())
            assert report.ok and embedder.misses == 0, (report.summary(), embedder.misses)
            out = subprocess.run([sys.executable, __file__, "--probe", str(index_dir), args.chroma_url],
                                 capture_output=True, text=True, env={**os.environ})
            if out.returncode:
                raise SystemExit(out.stderr[-3000:])
            row = {**json.loads(out.stdout.strip().splitlines()[-1]), "load_s": round(load_s, 1),
                   "load_chunks_per_s": round(sum(f.chunks for f in report.files) / load_s, 1),
                   "disk_mb": disk_mb(index_dir)}
            rows.append(row)
            print(json.dumps(row), flush=True)
        cp.close()
    projected = projection(rows)
    print(json.dumps({"projected_1M": projected}, indent=1))
    result = {"date": datetime.now(timezone.utc).replace(microsecond=0).isoformat(), "cpus": os.cpu_count(),
              "backend": args.chroma_url or "embedded chroma", "rows": rows, "projected_1M": projected,
              "seconds": round(time.perf_counter() - started)}
    if args.out:
        Path(args.out).write_text(json.dumps(result, indent=2))
    if args.plots and len(rows) >= 2:
        print("plots:", ", ".join(plot(rows, projected, Path(args.plots))))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
