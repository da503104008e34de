"""CX Copilot vs the textbook LangChain baseline, measured in one run.

    .venv/bin/python benchmarks/run.py [--quick | --smoke] [--out docs/benchmarks.json]

Each side runs in its own child process (so peak RSS is its own): it loads the embedding model, then
ingests corpus/ into a fresh temporary index (timed), answers the golden questions twice (the first pass
warms caches; the second is timed) and scores support. Ours also runs the retrieval ablation
(dense / bm25 / rrf / weighted) from copilot.evaluation. The parent then times the cold start of one
question against each prebuilt index (`python -m copilot.cli ask ... --json --index-dir` for ours,
`python benchmarks/baseline.py ask ... --persist-dir` for the baseline) and reports every figure of ours
with its ratio to the baseline's.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

ENV = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "ANONYMIZED_TELEMETRY": "False",
       "TOKENIZERS_PARALLELISM": "false"}
os.environ.update(ENV)
COLD_QUESTION = "What is NPS?"
METHODS = ("dense", "bm25", "rrf", "weighted")


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


def du_mb(path: Path) -> float:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) / 1e6


def pct(values: list[float], q: float) -> float:
    s = sorted(values)
    return s[max(0, int(round(q * len(s))) - 1)]


SMOKE = os.environ.get("CX_BENCH_SMOKE") == "1"  # a tiny run that checks the harness works (make test)
SMOKE_DOCS = ("net-promoter-score.md", "customer-effort-score.md", "churn-rate.md")


def corpus_dir(workdir: Path) -> Path:
    from copilot.config import builtin_corpus_dir

    if not SMOKE:
        return builtin_corpus_dir()
    folder = workdir / "smoke-corpus"
    folder.mkdir(exist_ok=True)
    for name in SMOKE_DOCS:
        (folder / name).write_bytes((builtin_corpus_dir() / name).read_bytes())
    return folder


def golden(quick: bool) -> dict[str, list[dict]]:
    from copilot.evaluation import golden_files

    g = golden_files()
    g.pop("document", None)  # those need the test documents loaded; `cx-copilot eval` covers them
    if SMOKE:
        g = {k: [i for i in v if set(i.get("sources", SMOKE_DOCS)) <= set(SMOKE_DOCS)][:3] for k, v in g.items()}
    elif quick:  # a few of each kind: enough to smoke-test the harness
        g = {k: v[:8] for k, v in g.items()}
    return g


def supported(text: str, cited: list[str], facts: list) -> bool:
    """Every fact is in the answer AND in one of the cited passages."""
    from copilot.evaluation import has_fact

    return all(has_fact(text, f) for f in facts) and all(any(has_fact(c, f) for c in cited) for f in facts)


# ---------------------------------------------------------------- one side, in a child process

def side_ours(workdir: Path, quick: bool) -> dict:
    from copilot import Copilot
    from copilot.config import builtin_corpus_dir
    from copilot.embeddings import make_embedder
    from copilot.evaluation import evaluate

    t0 = time.perf_counter()
    embedder = make_embedder()  # $COPILOT_EMBEDDER, else minilm
    embedder.embed_query("warm up")  # model load is counted in cold start, not in ingestion
    model_s = time.perf_counter() - t0
    cp = Copilot(workdir / "ours", embedder=embedder, corpus=False)
    report = cp.ingest([corpus_dir(workdir)])
    assert report.ok, report.summary()
    chunks = sum(f.chunks for f in report.files)
    pages = sum(cp.catalog["sources"][f.source]["pages"] or 1 for f in report.files if f.status == "added")
    ingest = {"chunks": chunks, "documents": len(report.files), "pages": pages, "seconds": report.seconds}

    questions = golden(quick)["question"]
    cp.answer(questions[0]["question"])  # opens the retriever (BM25 cache) outside the timed loop
    for item in questions:  # warm-up pass
        cp.answer(item["question"])
    ms, ok, retrieved_ok = [], 0, 0
    for item in questions:
        t = time.perf_counter()
        a = cp.answer(item["question"])
        ms.append((time.perf_counter() - t) * 1000)
        ok += (not a.abstained) and supported(a.text, [c.text for c in a.citations], item["facts"])
        top4 = "\n\n".join(h.chunk.text for h in cp.search(item["question"])[:4])  # same footing as the baseline
        retrieved_ok += supported(top4, [top4], item["facts"])
    out = {"model_load_s": model_s, "ingest": ingest, "latency_ms": ms, "supported": ok / len(questions),
           "retrieval_supported": retrieved_ok / len(questions), "questions": len(questions)}

    rows = []
    g = golden(quick)
    base = cp.retriever.settings
    for method in METHODS:
        cp.retriever.settings = dataclasses.replace(cp.retrieval, method=method)
        rows.append(evaluate(cp, g, label=method).metrics())
    cp.retriever.settings = base
    out["ablation"] = rows
    out["peak_rss_mb"] = peak_rss_mb()
    return out


def side_baseline(workdir: Path, quick: bool) -> dict:
    from baseline import Baseline, MiniLMEmbeddings
    from copilot.config import builtin_corpus_dir

    t0 = time.perf_counter()
    emb = MiniLMEmbeddings()
    emb.embed_query("warm up")
    model_s = time.perf_counter() - t0
    b = Baseline(workdir / "baseline", emb)
    ingest = b.ingest(corpus_dir(workdir))
    ingest["pages"] = ingest["documents"]

    questions = golden(quick)["question"]
    for item in questions:
        b.answer(item["question"])
    ms, ok = [], 0
    for item in questions:
        t = time.perf_counter()
        text, docs = b.answer(item["question"])
        ms.append((time.perf_counter() - t) * 1000)
        ok += supported(text, [d.page_content for d in docs], item["facts"])
    # where the baseline's time goes: query embedding vs the Chroma search itself
    qs = [item["question"] for item in questions[:20]]
    t = time.perf_counter()
    vecs = [emb.embed_query(q) for q in qs]
    embed_ms = (time.perf_counter() - t) * 1000 / len(qs)
    t = time.perf_counter()
    for v in vecs:
        b.store.similarity_search_by_vector(v, k=4)
    search_ms = (time.perf_counter() - t) * 1000 / len(qs)
    return {"embed_ms": embed_ms, "search_ms": search_ms, "model_load_s": model_s, "ingest": ingest, "latency_ms": ms, "supported": ok / len(questions),
            "questions": len(questions), "peak_rss_mb": peak_rss_mb()}


# ---------------------------------------------------------------- the parent

def run_child(side: str, workdir: Path, quick: bool) -> dict:
    cmd = [sys.executable, __file__, "--side", side, "--workdir", str(workdir)] + (["--quick"] if quick else [])
    res = subprocess.run(cmd, cwd=ROOT, env=ENV, capture_output=True, text=True)
    if res.returncode != 0:
        raise SystemExit(f"{side} failed:\n{res.stderr[-3000:]}")
    return json.loads(res.stdout.strip().splitlines()[-1])


def cold_start_rss(cmd: list[str]) -> float:
    """Peak RSS of one fresh process (os.wait4 gives the child's own rusage)."""
    proc = subprocess.Popen(cmd, cwd=ROOT, env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, _, usage = os.wait4(proc.pid, 0)
    return usage.ru_maxrss / 1024


def summarise(r: dict) -> dict:
    ms = r["latency_ms"]
    ing = r["ingest"]
    return {
        "ingest_chunks": ing["chunks"], "ingest_seconds": ing["seconds"],
        "ingest_chunks_per_s": ing["chunks"] / ing["seconds"], "ingest_pages_per_s": ing["pages"] / ing["seconds"],
        "answer_p50_ms": statistics.median(ms), "answer_p95_ms": pct(ms, 0.95),
        "support_rate": r["supported"], "retrieval_support": r.get("retrieval_supported", r["supported"]),
        "peak_rss_mb": r["peak_rss_mb"], "model_load_s": r["model_load_s"],
    }


ROWS = [  # key, label, unit, better
    ("ingest_chunks", "chunks in the index", "", None),
    ("ingest_seconds", "ingestion wall time", "s", "lower"),
    ("ingest_chunks_per_s", "ingestion", "chunks/s", "higher"),
    ("ingest_pages_per_s", "ingestion", "pages/s", "higher"),
    ("answer_p50_ms", "warm answer p50", "ms", "lower"),
    ("answer_p95_ms", "warm answer p95", "ms", "lower"),
    ("retrieval_support", "facts in the top-4 retrieved passages", "", "higher"),
    ("support_rate", "support rate (fact in the answer and a cited passage)", "", "higher"),
    ("cold_start_s", "cold start (one question, new process)", "s", "lower"),
    ("cold_start_rss_mb", "cold start peak RSS", "MB", "lower"),
    ("peak_rss_mb", "peak RSS (ingest + all answers)", "MB", "lower"),
    ("index_mb", "index size on disk", "MB", "lower"),
]


def fmt(v) -> str:
    if isinstance(v, float):
        return f"{v:.3f}" if abs(v) < 10 else f"{v:.1f}"
    return str(v)


def comparison_table(ours: dict, base: dict) -> str:
    lines = ["| figure | ours | baseline | ours / baseline | better |", "|---|---:|---:|---:|---|"]
    for key, label, unit, better in ROWS:
        o, b = ours[key], base[key]
        ratio = f"{o / b:.2f}×" if b else "n/a"
        lines.append(f"| {label}{f' ({unit})' if unit else ''} | {fmt(o)} | {fmt(b)} | {ratio} | {better or ''} |")
    return "\n".join(lines)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="8 questions of each kind, one cold start each")
    ap.add_argument("--smoke", action="store_true", help="3 documents and 3 questions: checks the harness runs")
    ap.add_argument("--out", default=None, help="write the results as JSON here (e.g. docs/benchmarks.json)")
    ap.add_argument("--side", choices=["ours", "baseline"], help=argparse.SUPPRESS)
    ap.add_argument("--workdir", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.smoke:
        os.environ["CX_BENCH_SMOKE"] = ENV["CX_BENCH_SMOKE"] = "1"
        global SMOKE
        SMOKE = args.quick = True
    if args.side:  # child
        fn = side_ours if args.side == "ours" else side_baseline
        print(json.dumps(fn(Path(args.workdir), args.quick)))
        return 0

    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="cx-bench-") as tmp:
        work = Path(tmp)
        print("baseline: ingest + answers ...", flush=True)
        base_raw = run_child("baseline", work, args.quick)
        print("ours: ingest + answers + ablation ...", flush=True)
        ours_raw = run_child("ours", work, args.quick)
        ours, base = summarise(ours_raw), summarise(base_raw)
        ours["index_mb"], base["index_mb"] = du_mb(work / "ours"), du_mb(work / "baseline")

        runs = 1 if args.quick else 3
        print(f"cold start x{runs} each ...", flush=True)
        ours_cmd = [sys.executable, "-m", "copilot.cli", "ask", COLD_QUESTION, "--json", "--index-dir",
                    str(work / "ours")]
        base_cmd = [sys.executable, str(ROOT / "benchmarks" / "baseline.py"), "ask", COLD_QUESTION,
                    "--persist-dir", str(work / "baseline")]
        for cmd, d in ((ours_cmd, ours), (base_cmd, base)):
            walls, rss = [], []
            for _ in range(runs):
                t = time.perf_counter()
                rss.append(cold_start_rss(cmd))
                walls.append(time.perf_counter() - t)
            d["cold_start_s"], d["cold_start_rss_mb"] = statistics.median(walls), max(rss)

    result = {
        "date": datetime.now(timezone.utc).replace(microsecond=0).isoformat(),
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version()},
        "quick": args.quick, "questions": ours_raw["questions"],
        "ours": ours, "baseline": base,
        "ratio": {k: (ours[k] / base[k] if base[k] else None) for k, *_ in ROWS},
        "baseline_breakdown_ms": {"embed_query": base_raw["embed_ms"], "chroma_search": base_raw["search_ms"]},
        "ablation": ours_raw["ablation"], "seconds": time.perf_counter() - started,
    }
    from copilot.evaluation import format_table

    print(f"\nCX Copilot vs LangChain baseline ({result['questions']} golden questions, "
          f"{os.cpu_count()} CPUs, {result['date']})\n")
    print(comparison_table(ours, base))
    print("\nRetrieval ablation (copilot.evaluation, all golden kinds):\n")
    print(format_table(result["ablation"]))
    print(f"\nbaseline per answer: embed query {base_raw['embed_ms']:.1f} ms, Chroma search {base_raw['search_ms']:.1f} ms")
    print(f"\n(total {result['seconds']:.0f} s)")
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(json.dumps(result, indent=2))
        print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
