"""Score the copilot on held-out questions that were never used for tuning.

    .venv/bin/python benchmarks/heldout.py [--index-dir indexes/default]

`benchmarks/heldout.jsonl` holds 30 questions written after the answerer was tuned on `tests/golden/`,
in the same format; `benchmarks/followups-heldout.jsonl` holds 40 follow-up conversations (other aspects,
sibling topics, "we/our/they") about other topic-and-aspect pairs than `tests/golden/followups.jsonl`. Keep
both out of tuning: their worth is that no shipped weight or setting was chosen on them.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from copilot import Copilot
from copilot.evaluation import evaluate, format_table

HERE = Path(__file__).resolve().parent


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--index-dir", default=None, help="index to ask (default: $COPILOT_INDEX_DIR or indexes/default)")
    args = ap.parse_args()
    copilot = Copilot(args.index_dir)
    reports = [evaluate(copilot, {"question": _items("heldout.jsonl")}, label="held-out", kinds=("question",)),
               evaluate(copilot, {"followup": _items("followups-heldout.jsonl")}, label="held-out follow-ups",
                        kinds=("followup",))]
    print(format_table([r.metrics() for r in reports]))
    for r in reports:
        for j in r.failures():
            print(f"not supported: {j.id}: {j.question}")


def _items(name: str) -> list[dict]:
    return [json.loads(line) for line in (HERE / name).read_text().splitlines() if line.strip()]


if __name__ == "__main__":
    main()
