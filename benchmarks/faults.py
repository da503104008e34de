"""kill -9 at every step of every kind of write, then check what is left and that a second run completes.

    .venv/bin/python benchmarks/faults.py --out docs/faults.json             # embedded Chroma
    .venv/bin/python benchmarks/faults.py --server --out docs/faults-server.json  # a `chroma run` it starts
    .venv/bin/python benchmarks/faults.py --timed-only                            # only the kills in time

Two families, each case on a fresh index of 3 documents (hash embedder: the model is not what is tested):

- at a named step (tests/fault_runner.py kills the process with SIGKILL right there) of a new load, a
  replacing load, a removal and the first build;
- at a point in time: a whole CLI load of 20 files is timed, then 17 such loads, each into a fresh index,
  are killed at 1/18, 2/18 ... 17/18 of that time, and each is run again to the end.

After each kill, before anyone cleans up: every chunk retrieval can return is in a load the catalog lists
("unlisted answered" counts the ones that are not), and a replaced document is either all old or all new.
Then the next writer opens the index: catalog and store must agree chunk for chunk, and the interrupted
command, run again, must complete. The recovery column is how long that first open took.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))
RUNNER = ROOT / "tests" / "fault_runner.py"

from index_helpers import handbook, stored_by_load  # noqa: E402

STEPS = ["embed", "upsert-before", "upsert-after", "journal-after", "commit-before", "commit-after",
         "cleanup-after", "head-before", "unjournal-before"]


def _env(url: str | None, index: str | None) -> dict:
    env = {**os.environ, "COPILOT_EMBEDDER": "hash", "HF_HUB_OFFLINE": "1", "ANONYMIZED_TELEMETRY": "False"}
    env.pop("COPILOT_CHROMA_URL", None)
    if url:
        env.update(COPILOT_CHROMA_URL=url, COPILOT_CHROMA_INDEX=index)
    return env




def _open(folder: Path, url: str | None):
    from copilot import Copilot
    from copilot.embeddings import HashEmbedder
    from copilot.retrieval import RetrievalSettings

    return Copilot(folder, embedder=HashEmbedder(), corpus=False, chroma_url=url,
                   retrieval=RetrievalSettings(min_dense=0.05, min_fused=0.05))


def _check(cp) -> tuple[bool, int]:
    """(catalog and store agree, stored chunks of unlisted loads)."""
    listed, stored = stored_by_load(cp)
    return stored == listed, sum(n for load, n in stored.items() if load not in listed)


def _unlisted_answers(cp) -> int:
    listed = {e["load"] for e in cp.catalog["sources"].values()}
    bad = 0
    for q in ("What is refunds?", "What is warranty?", "What is loyalty?", "rule 2 about warranty",
              "refund exceptions desk"):
        bad += sum(h.chunk.metadata.get("load", "") not in listed for h in cp.search(q))
    return bad


def step_case(work: Path, scenario: str, step: str, url: str | None, n: int) -> dict:
    folder, docs = work / "idx", work / "docs"
    index = f"f{n:03d}{os.getpid() % 1000}"
    env = _env(url, index)
    run = [sys.executable, "-m", "copilot.cli"]
    subprocess.run(run + ["ingest", str(handbook(docs, "keep.md", "loyalty")), str(handbook(docs, "policy.md", "refunds", 30)),
                          "--no-corpus", "--quiet", "--index-dir", str(folder)], env=env, check=True,
                   capture_output=True)
    old_texts = None
    if scenario == "new":
        command = ["ingest", str(handbook(docs, "new.md", "warranty", 30)), "--quiet"]
    elif scenario == "replacing":
        command = ["ingest", str(handbook(docs, "policy.md", "refunds", 30, "is waived for")), "--quiet"]
        old_texts = "applies to"
    elif scenario == "removal":
        command = ["remove", "policy.md"]
    else:  # the first build, of a 3-file corpus, one commit per file
        folder = work / "fresh"
        env = {**env, "COPILOT_CORPUS_DIR": str(docs), "CX_TEST_INGEST_GROUP": "2", "COPILOT_CHROMA_INDEX": index + "b"}
        command = ["sources"]
    t0 = time.perf_counter()
    out = subprocess.run([sys.executable, str(RUNNER), step, "1", "--", *command, "--index-dir", str(folder)],
                         env=env, capture_output=True, text=True)
    row = {"scenario": scenario, "step": step, "killed": out.returncode == -signal.SIGKILL,
           "ran_s": round(time.perf_counter() - t0, 2)}
    if not row["killed"]:
        row["note"] = "the step does not occur in this command" if out.returncode == 0 else out.stderr[-300:]
        return row
    os.environ.update({k: v for k, v in env.items() if k.startswith("COPILOT_")})
    try:
        from copilot.stores import open_backend

        backend = open_backend(folder, url, env.get("COPILOT_CHROMA_INDEX", "cx"))
        if backend.state.get("head") is None:
            row["note"] = "killed before the index's head was written: there was nothing to read yet"
        else:
            held = backend.lock.try_acquire({"pid": 0, "what": "benchmark reader"})  # keep cleanup away for now
            reader = _open(folder, url)
            row["unlisted_answered"] = _unlisted_answers(reader)
            if old_texts:
                texts = {c.text for c in reader.retriever.store.get([c.id for c in reader.store.all()])
                         if c.metadata.get("source") == "policy.md"}
                row["replaced_whole"] = all(old_texts in t for t in texts) or not any(old_texts in t for t in texts)
            reader.close()
            if held:
                backend.lock.release()
        backend.close()
        t1 = time.perf_counter()
        after = _open(folder, url)
        row["recovery_s"] = round(time.perf_counter() - t1, 2)
        row["agree_after"], row["orphans_after"] = _check(after)
        after.close()
        again = subprocess.run(run + [*command, "--index-dir", str(folder)], env=env, capture_output=True, text=True)
        final = _open(folder, url)
        row["second_run_ok"] = again.returncode == 0 or (scenario == "removal" and "No source named" in again.stderr)
        row["agree_final"], _ = _check(final)
        row["sources_final"] = sorted(final.catalog["sources"])
        final.close()
    finally:
        for k in [k for k in os.environ if k.startswith("COPILOT_CHROMA")]:
            del os.environ[k]
    return row


def timed_kills(work: Path, url: str | None, n: int = 17) -> list[dict]:
    """Time a whole CLI load of 20 files, then kill n loads, each into a fresh index, at n points spread over
    that time; after each kill the index must agree with itself and a second run must finish the load."""
    docs = work / "timed-docs"
    for i in range(20):
        handbook(docs, f"file-{i:02d}.md", f"topic {i}", 60)
    env = {**_env(url, f"timed{os.getpid() % 1000}"), "CX_TEST_INGEST_GROUP": "8"}
    load = [sys.executable, str(RUNNER), "none", "0", "--", "ingest", str(docs), "--no-corpus", "--quiet", "--index-dir"]
    t0 = time.perf_counter()
    subprocess.run(load + [str(work / "timed-whole")], env=env, check=True, capture_output=True)
    whole = time.perf_counter() - t0
    rows = []
    os.environ.update({k: v for k, v in env.items() if k.startswith("COPILOT_CHROMA")})
    try:
        for i in range(1, n + 1):
            folder = work / f"timed-{i:02d}"
            env["COPILOT_CHROMA_INDEX"] = f"timed{os.getpid() % 1000}x{i}"
            os.environ.update({k: v for k, v in env.items() if k.startswith("COPILOT_CHROMA")})
            delay = whole * i / (n + 1)
            p = subprocess.Popen(load + [str(folder)], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            time.sleep(delay)
            p.send_signal(signal.SIGKILL)
            p.wait()
            cp = _open(folder, url)
            agree, orphans = _check(cp)
            loaded = len(cp.catalog["sources"])
            cp.close()
            again = subprocess.run(load + [str(folder)], env=env, capture_output=True, text=True)
            cp = _open(folder, url)
            final_agree, _ = _check(cp)
            rows.append({"kill_after_s": round(delay, 2), "finished_before_the_kill": p.returncode == 0,
                         "sources_at_kill": loaded, "agree": agree, "orphans": orphans,
                         "second_run_ok": again.returncode == 0, "agree_final": final_agree,
                         "sources_final": len(cp.catalog["sources"])})
            cp.close()
            print(json.dumps(rows[-1]), flush=True)
    finally:
        for k in [k for k in os.environ if k.startswith("COPILOT_CHROMA")]:
            del os.environ[k]
    return [{"whole_load_s": round(whole, 2)}, *rows]


def start_server(folder: Path) -> tuple[subprocess.Popen, str]:
    import socket

    import httpx

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen([str(Path(sys.executable).with_name("chroma")), "run", "--path", str(folder), "--host",
                             "127.0.0.1", "--port", str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    for _ in range(300):
        try:
            if httpx.get(url + "/api/v2/heartbeat", timeout=1).status_code == 200:
                return proc, url
        except httpx.HTTPError:
            time.sleep(0.2)
    proc.kill()
    raise SystemExit("chroma run did not start")


def main() -> int:
    os.environ.setdefault("COPILOT_LOCK_TIMEOUT", "10")  # a case that would wait on the benchmark's own lock fails fast
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--server", action="store_true", help="run every case against a `chroma run` server")
    ap.add_argument("--out", default="")
    ap.add_argument("--timed-only", action="store_true", help="only the kills at points in time")
    args = ap.parse_args()
    started = time.perf_counter()
    server = None
    with tempfile.TemporaryDirectory(prefix="cx-faults-") as tmp:
        url = None
        if args.server:
            server, url = start_server(Path(tmp) / "server")
        try:
            rows, n = [], 0
            for scenario in ("new", "replacing", "removal", "first build") if not args.timed_only else ():
                for step in STEPS:
                    n += 1
                    row = step_case(Path(tmp) / f"case-{n}", scenario, step, url, n)
                    rows.append(row)
                    print(json.dumps(row), flush=True)
            timed = timed_kills(Path(tmp), url)
        finally:
            if server:
                server.terminate()
                server.wait()
    killed = [r for r in rows if r["killed"]]
    summary = {"step_kills": len(killed), "agree_after_every_kill": all(r["agree_after"] for r in killed),
               "unlisted_answered": sum(r.get("unlisted_answered", 0) for r in killed),
               "replaced_served_whole": all(r.get("replaced_whole", True) for r in killed),
               "second_run_completes": all(r["second_run_ok"] and r["agree_final"] for r in killed),
               "timed_kills": len(timed) - 1, "timed_interrupted_a_load": sum(not r["finished_before_the_kill"]
                                                                              for r in timed[1:]),
               "timed_agree": all(r["agree"] for r in timed[1:]),
               "timed_second_run_completes": all(r["second_run_ok"] and r["agree_final"] and r["sources_final"] == 20
                                                 for r in timed[1:]),
               "seconds": round(time.perf_counter() - started)}
    print(json.dumps(summary, indent=1))
    if args.out:
        Path(args.out).write_text(json.dumps({"date": datetime.now(timezone.utc).replace(microsecond=0).isoformat(),
                                              "backend": "chroma server" if args.server else "embedded chroma",
                                              "summary": summary, "steps": rows, "timed": timed}, indent=1))
    ok = summary["timed_agree"] and summary["timed_second_run_completes"]
    if rows:
        ok = ok and summary["agree_after_every_kill"] and summary["second_run_completes"]
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
