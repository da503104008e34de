"""Cold start of one `cx-copilot ask`: a new process, from launch to the printed answer, with the question
embedded through ONNX Runtime (the default) against the torch path (COPILOT_EMBED_RUNTIME=torch, what `ask`
did before: import torch and sentence-transformers to embed one question), in the same run.

    .venv/bin/python benchmarks/cold_start.py                       # 5 rounds on a fresh index of corpus/
    .venv/bin/python benchmarks/cold_start.py --rounds 9 --out docs/cold_start.json

Each round runs both paths, in alternating order, so that what else the machine is doing weighs on both alike;
one untimed run of each first fills the page cache. It checks that both print the same answer and citations,
and reports the median and spread of each, their ratio, and the load average before and after.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
QUESTION = "How is NPS calculated?"
PATHS = {"onnx": "auto", "torch": "torch"}


def ask(index: Path, runtime: str, question: str) -> tuple[float, dict, float]:
    """Wall seconds from launch to exit, the printed answer, and the CPU seconds (user + system) it used."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("COPILOT_")}
    env.update({"COPILOT_EMBED_RUNTIME": runtime, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1",
                "ANONYMIZED_TELEMETRY": "False"})
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    out = subprocess.run([sys.executable, "-m", "copilot.cli", "ask", question, "--json", "--index-dir", str(index)],
                         capture_output=True, text=True, env=env, cwd=ROOT, timeout=600)
    seconds = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if out.returncode != 0:
        raise SystemExit(f"ask failed ({runtime}): {out.stderr}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return seconds, json.loads(out.stdout), cpu


def same(a: dict, b: dict) -> bool:
    def key(r):
        return r["answer"], [(c["source"], c["section"], c["text"]) for c in r["citations"]]
    return key(a) == key(b)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--index-dir", help="a built index (default: build one from corpus/ in a temp folder)")
    parser.add_argument("--question", default=QUESTION)
    parser.add_argument("--out", help="write the figures as JSON here")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        index = Path(args.index_dir) if args.index_dir else Path(tmp) / "index"
        if not index.exists():  # a new folder: the first ask builds it (untimed)
            print(f"building the index at {index} ...", file=sys.stderr)
            ask(index, "auto", args.question)
        load_before = os.getloadavg()
        answers = {name: ask(index, rt, args.question)[1] for name, rt in PATHS.items()}  # untimed: page cache
        times: dict[str, list[float]] = {name: [] for name in PATHS}
        cpu: dict[str, list[float]] = {name: [] for name in PATHS}
        for r in range(args.rounds):
            order = list(PATHS) if r % 2 == 0 else list(reversed(PATHS))
            for name in order:
                seconds, result, used = ask(index, PATHS[name], args.question)
                times[name].append(seconds)
                cpu[name].append(used)
                if not same(result, answers[name]):
                    raise SystemExit(f"{name}: a different answer in round {r + 1}")
        load_after = os.getloadavg()
    agree = same(answers["onnx"], answers["torch"])
    med = {name: statistics.median(t) for name, t in times.items()}
    figures = {
        "question": args.question, "rounds": args.rounds, "cpus": os.cpu_count(),
        "load_average_before": [round(x, 2) for x in load_before],
        "load_average_after": [round(x, 2) for x in load_after],
        "seconds": {name: [round(x, 3) for x in t] for name, t in times.items()},
        "median_s": {name: round(m, 3) for name, m in med.items()},
        "min_s": {name: round(min(t), 3) for name, t in times.items()},
        "onnx_over_torch": round(med["onnx"] / med["torch"], 3),
        "cpu_s": {name: [round(x, 3) for x in t] for name, t in cpu.items()},
        "median_cpu_s": {name: round(statistics.median(t), 3) for name, t in cpu.items()},
        "same_answer_and_citations": agree,
    }
    print(f"cold start of `cx-copilot ask {args.question!r}`, {args.rounds} rounds, {os.cpu_count()} CPUs, "
          f"load average {load_before[0]:.2f} -> {load_after[0]:.2f}")
    print("| path | median wall (s) | min (s) | max (s) | median CPU time (s) |\n|---|---:|---:|---:|---:|")
    for name, t in times.items():
        print(f"| {name} | {med[name]:.2f} | {min(t):.2f} | {max(t):.2f} | {statistics.median(cpu[name]):.2f} |")
    print(f"onnx / torch: {figures['onnx_over_torch']:.2f}x; same answer and citations: {agree}")
    if args.out:
        Path(args.out).write_text(json.dumps(figures, indent=2) + "\n")
    return 0 if agree else 1


if __name__ == "__main__":
    raise SystemExit(main())
