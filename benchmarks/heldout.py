"""Score the copilot on held-out questions that were never used for tuning.

    .venv/bin/python benchmarks/heldout.py [--index-dir indexes/default]

`benchmarks/heldout.jsonl` holds 30 questions written after the answerer was tuned on `tests/golden/`,
in the same format. Keep it out of tuning: its worth is that nobody looked at it while choosing settings.
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
    items = [json.loads(line) for line in (HERE / "heldout.jsonl").read_text().splitlines() if line.strip()]
    report = evaluate(Copilot(args.index_dir), {"question": items}, label="held-out", kinds=("question",))
    print(format_table([report.metrics()]))
    for j in report.failures():
        print(f"not supported: {j.id}: {j.question}")


if __name__ == "__main__":
    main()
