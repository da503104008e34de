"""Judge fitted answer weights side by side before one ships: the development set's report split (both
format rotations), the golden set (with its test documents), the golden follow-ups, both held-out sets, and
the questions and conversations written as people chat (`benchmarks/data/corpus-train.jsonl`: a development
set for changes to the code; a fit with `--corpus-questions` has seen it).

    .venv/bin/python benchmarks/compare_weights.py --index-dir <built index> --weights new.json
    .venv/bin/python benchmarks/compare_weights.py --weights a.json b.json --out compare.json

The package's `copilot/answer/weights.json` is always the first row. A refit (`benchmarks/fit_answer.py
--out new.json`) should not ship unless it loses on none of these columns.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from copilot import Copilot, devset  # noqa: E402
from copilot.answer.extractive import ExtractiveAnswerer  # noqa: E402
from copilot.answer.settings import AnswerSettings  # noqa: E402
from copilot.evaluation import (Report, evaluate, format_table, golden_files, load_jsonl,  # noqa: E402
                                with_test_documents)

HERE = Path(__file__).resolve().parent
COLUMNS = ["weights", "report_in_answer", "report_first_sentence", "report_declined", "report_median_words",
           "golden", "offtopic_declined", "cx_declined", "golden_followups", "heldout", "heldout_followups", "chat_questions", "chat_followups"]


def supported(report) -> float:
    answerable = [j for j in report.judgements if j.kind != "offtopic"]
    return round(sum(j.supported for j in answerable) / len(answerable), 3) if answerable else 0.0


def judge(index_dir: Path, weights: str | None, work: Path) -> dict:
    print(f"judging {weights or 'the shipped weights'} ...", file=sys.stderr)
    settings = AnswerSettings.fitted(weights)
    cp = Copilot(index_dir, answerer=ExtractiveAnswerer(settings), corpus=False)
    golden = golden_files()
    row: dict[str, object] = {"weights": weights or "shipped (copilot/answer/weights.json)"}
    main = evaluate(cp, golden, kinds=("question", "offtopic", "conversation"))
    docs = evaluate(with_test_documents(cp, work / "docs"), golden, kinds=("document",))
    both = main.judgements + docs.judgements
    row["golden"] = supported(Report(both))
    row["offtopic_declined"] = round(main.metrics()["offtopic_declined"], 3)
    row["cx_declined"] = sum(not j.answered for j in both if j.kind != "offtopic")
    row["golden_followups"] = supported(evaluate(cp, golden, kinds=("followup",)))
    row["heldout"] = supported(evaluate(cp, {"question": load_jsonl(HERE / "heldout.jsonl")}, kinds=("question",)))
    row["heldout_followups"] = supported(evaluate(cp, {"followup": load_jsonl(HERE / "followups-heldout.jsonl")},
                                                  kinds=("followup",)))
    chat = load_jsonl(HERE / "data" / "corpus-train.jsonl")
    row["chat_questions"] = supported(evaluate(cp, {"question": [i for i in chat if "turns" not in i]},
                                               kinds=("question",)))
    row["chat_followups"] = supported(evaluate(cp, {"followup": [i for i in chat if "turns" in i]},
                                               kinds=("followup",)))
    articles = devset.load(None)
    per_rotation = []
    for offset in (0, 2):
        dev = devset.with_dev_documents(cp, work / f"dev-{offset}", articles, offset=offset)
        metrics, _ = devset.evaluate_dev(dev, devset.split(articles, "report"))
        per_rotation.append(metrics)
    for key, name in (("in_answer", "report_in_answer"), ("in_first_sentence", "report_first_sentence"),
                      ("declined", "report_declined"), ("median_words", "report_median_words")):
        row[name] = " / ".join(f"{m[key]:.3f}" if key != "median_words" else f"{m[key]:.0f}" for m in per_rotation)
    return row


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--index-dir", help="a built index of corpus/ (default: build one in a temporary folder)")
    ap.add_argument("--weights", nargs="*", default=[], help="weights files to judge beside the shipped one")
    ap.add_argument("--out", help="write the rows as JSON here")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="cx-compare-") as tmp:
        index_dir = Path(args.index_dir) if args.index_dir else Path(tmp) / "index"
        if not args.index_dir:
            Copilot(index_dir).close()
        rows = [judge(index_dir, w, Path(tmp) / f"run-{n}") for n, w in enumerate([None, *args.weights])]
    print(format_table(rows, COLUMNS))
    if args.out:
        Path(args.out).write_text(json.dumps(rows, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
