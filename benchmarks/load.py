"""50 clients asking through the app's /ask for 60 s while 20 files are loaded through the app's Library.

    .venv/bin/python benchmarks/load.py --out docs/load.json [--clients 50] [--seconds 60] [--chroma-url URL]

The app is `cx-copilot serve` in its own process on a fresh index built from the built-in corpus with the real
model. Each client is a thread with its own gradio_client, asking in a loop: golden-set questions (their key
fact must be in the answer and a cited passage, before, during and after the load) and questions about the
documents being loaded (generated handbooks with unique company names: they must be answered from those
documents once the load has committed, and never from a half-loaded one). After 10 s the 20 files are uploaded
through the Library tab's own endpoint (as the browser does), so the app embeds and commits them while it
answers. Reported: errors, p50/p95/max latency overall and in each phase (a request is "before" or "during" the
load by when it finished, "after" the commit if it started after it, "across" if it started before the commit
and finished after), throughput, the correctness counts, and the golden questions answered without support.
The clock starts once every client has connected. The machine's CPUs are shared by the app, the embedding of
the load and the 50 clients.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))
os.environ.setdefault("HF_HUB_OFFLINE", "1")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def pct(values: list[float], q: float) -> float:
    s = sorted(values)
    return round(s[min(len(s) - 1, max(0, int(round(q * len(s))) - 1))], 1) if s else 0.0


def new_documents(folder: Path, n: int = 20) -> list[tuple[Path, str, str]]:
    """n handbooks, each with a unique made-up programme name and one fact about it."""
    folder.mkdir(parents=True, exist_ok=True)
    out = []
    for k in range(n):
        name = f"Quorvex-{k:02d}"
        path = folder / f"programme-{k:02d}.md"
        sections = [f"# The {name} loyalty programme\n",
                    f"## What is the {name} programme?\n\nThe {name} programme rewards customers who renew for "
                    f"{k + 2} years with a dedicated service desk and a callback within {k + 5} minutes.\n"]
        for s in range(10):
            sections.append(f"## {name} rule {s}\n\nUnder {name} rule {s}, members in tier {s} earn {s + k} points "
                            f"per purchase and may transfer points to family members once per quarter.\n")
        path.write_text("\n".join(sections), encoding="utf-8")
        out.append((path, f"What is the {name} programme?", f"{k + 5} minutes"))
    return out


def supported(res: dict, item: dict) -> bool:
    """Every key fact in the answer and in a cited passage (copilot.evaluation's `supported`)."""
    from copilot.evaluation import has_fact

    cited = [c["text"] for c in res["citations"]]
    return not res["abstained"] and all(has_fact(res["answer"], f) and any(has_fact(t, f) for t in cited)
                                        for f in item["facts"])


def upload(url: str, paths: list[Path]) -> float:
    """Load files through the Library tab's endpoint, as the browser does; returns when the load is committed."""
    import httpx

    config = httpx.get(url + "config").json()
    elem = {c["id"]: c.get("props", {}).get("elem_id") for c in config["components"]}
    load = next(d for d in config["dependencies"] if d["inputs"] and elem.get(d["inputs"][0]) == "cx-upload")
    handles = [("files", (p.name, p.read_bytes())) for p in paths]
    uploaded = httpx.post(url + "gradio_api/upload", files=handles, timeout=120).json()
    data = [[{"path": u, "orig_name": p.name, "meta": {"_type": "gradio.FileData"}} for u, p in zip(uploaded, paths)],
            True]
    session = "load-benchmark"
    assert httpx.post(url + "gradio_api/queue/join", json={"data": data, "fn_index": load["id"],
                                                          "session_hash": session}).status_code == 200
    with httpx.stream("GET", url + "gradio_api/queue/data", params={"session_hash": session}, timeout=900) as stream:
        for line in stream.iter_lines():
            if line.startswith("data:"):
                msg = json.loads(line[5:])
                if msg.get("msg") == "process_completed":
                    if not msg.get("success"):
                        raise RuntimeError(f"the upload failed: {msg}")
                    return time.monotonic()
    raise RuntimeError("the upload stream ended early")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--clients", type=int, default=50)
    ap.add_argument("--seconds", type=float, default=60)
    ap.add_argument("--load-at", type=float, default=10)
    ap.add_argument("--chroma-url", default="")
    ap.add_argument("--out", default="")
    args = ap.parse_args()

    from gradio_client import Client

    from copilot.evaluation import golden_files

    candidates = golden_files()["question"][:60]
    tmp = Path(tempfile.mkdtemp(prefix="cx-load-"))
    env = {**os.environ, "COPILOT_INDEX_DIR": str(tmp / "index")}
    env.pop("COPILOT_ADMIN_PASSWORD", None)
    if args.chroma_url:
        env.update(COPILOT_CHROMA_URL=args.chroma_url, COPILOT_CHROMA_INDEX=f"load{os.getpid()}")
    print("building the index from the corpus ...", flush=True)
    subprocess.run([sys.executable, "-m", "copilot.cli", "sources", "--quiet"], env=env, check=True,
                   capture_output=True)
    port = free_port()
    url = f"http://127.0.0.1:{port}/"
    app = subprocess.Popen([sys.executable, "-m", "copilot.cli", "serve", "--port", str(port)], env=env,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    docs = new_documents(tmp / "new")
    records: list[dict] = []
    lock = threading.Lock()
    try:
        for _ in range(240):
            try:
                Client(url, verbose=False).predict("What is NPS?", api_name="/ask")
                break
            except Exception:  # noqa: BLE001 - not up yet
                time.sleep(0.5)
        warm = Client(url, verbose=False)
        # the golden questions this app answers with support when idle: each must stay answered so under load
        golden = [item for item in candidates if supported(warm.predict(item["question"], api_name="/ask"), item)]
        golden = golden[:40]
        print(f"{len(golden)} golden questions answered with support when idle", flush=True)
        # every client connects first (each fetches the app's config), so the clock starts with 50 clients asking
        clients = [Client(url, verbose=False) for _ in range(args.clients)]
        t0 = time.monotonic()
        commit = {"at": None, "started": None}
        stop = time.monotonic() + args.seconds

        def client_loop(n: int) -> None:
            c = clients[n]
            i = n
            while time.monotonic() < stop:
                if i % 3 == 2:
                    path, question, fact = docs[i % len(docs)]
                    kind, source = "new", path.name
                else:
                    item = golden[i % len(golden)]
                    question, kind, source, fact = item["question"], "golden", None, None
                start = time.monotonic()
                row = {"t": start - t0, "kind": kind, "question": question}
                try:
                    res = c.predict(question, api_name="/ask")
                    row["ms"] = (time.monotonic() - start) * 1000
                    cited = [x["source"] for x in res["citations"]]
                    if kind == "golden":
                        row["correct"] = supported(res, item)
                    else:
                        row["from_new"] = source in cited and fact in res["answer"]
                        row["cited_new_doc"] = source in cited
                except Exception as exc:  # noqa: BLE001 - every failure is counted
                    row["ms"] = (time.monotonic() - start) * 1000
                    row["error"] = f"{type(exc).__name__}: {exc}"[:200]
                with lock:
                    records.append(row)
                i += args.clients

        def loader() -> None:
            time.sleep(args.load_at)
            commit["started"] = time.monotonic() - t0
            commit["at"] = upload(url, [p for p, _, _ in docs]) - t0

        threads = [threading.Thread(target=client_loop, args=(n,)) for n in range(args.clients)]
        load_thread = threading.Thread(target=loader)
        for t in threads:
            t.start()
        load_thread.start()
        for t in threads:
            t.join()
        load_thread.join()
    finally:
        app.terminate()
        app.wait(timeout=60)

    def phase(rows):
        ms = [r["ms"] for r in rows if "error" not in r]
        return {"requests": len(rows), "errors": sum("error" in r for r in rows), "p50_ms": pct(ms, 0.5),
                "p95_ms": pct(ms, 0.95), "max_ms": round(max(ms), 1) if ms else 0}

    start, end = commit["started"], commit["at"] or args.seconds
    before = [r for r in records if r["t"] + r["ms"] / 1000 < start]
    during = [r for r in records if start <= r["t"] + r["ms"] / 1000 < end]
    across = [r for r in records if r["t"] < end <= r["t"] + r["ms"] / 1000]
    after = [r for r in records if r["t"] >= end]
    golden_rows = [r for r in records if r["kind"] == "golden" and "error" not in r]
    new_after = [r for r in after if r["kind"] == "new" and "error" not in r]
    new_before = [r for r in before if r["kind"] == "new" and "error" not in r]
    result = {
        "date": datetime.now(timezone.utc).replace(microsecond=0).isoformat(), "cpus": os.cpu_count(),
        "clients": args.clients, "seconds": args.seconds, "backend": args.chroma_url or "embedded chroma",
        "load": {"files": len(docs), "started_s": round(start, 1), "committed_s": round(end, 1)},
        "all": phase(records), "before_load": phase(before), "during_load": phase(during),
        "across_commit": phase(across), "after_commit": phase(after),
        "throughput_per_s": round(len(records) / args.seconds, 1),
        "golden_correct": f"{sum(r['correct'] for r in golden_rows)}/{len(golden_rows)}",
        "golden_correct_by_phase": {name: f"{sum(r['correct'] for r in rows if r['kind'] == 'golden' and 'error' not in r)}/"
                                          f"{sum(1 for r in rows if r['kind'] == 'golden' and 'error' not in r)}"
                                    for name, rows in (("before", before), ("during", during), ("across", across),
                                                       ("after", after))},
        "golden_wrong": [{"question": r["question"], "t_s": round(r["t"], 1), "ms": round(r["ms"])}
                         for r in golden_rows if not r["correct"]][:10],
        "new_docs_cited_before_commit": sum(r["cited_new_doc"] for r in new_before),
        # the app commits a big load in groups of files, so a file may answer before the last group is in
        "new_docs_cited_during_load": sum(r.get("cited_new_doc", False) for r in during if r["kind"] == "new"),
        "new_docs_answered_after_commit": f"{sum(r['from_new'] for r in new_after)}/{len(new_after)}",
        "error_samples": sorted({r["error"] for r in records if "error" in r})[:5],
    }
    print(json.dumps(result, indent=1))
    if args.out:
        Path(args.out).write_text(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
