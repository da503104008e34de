"""Where the extractive answerer loses facts: ranking or selection. On the fit script's training questions
(the fit split of the development set and the golden questions over the built-in corpus), with the shipped
sentence scorer:

    .venv/bin/python benchmarks/answer_ceiling.py --items <file>     # the file `fit_answer.py --items` keeps

- oracle: the share of questions for which some 1, 2 or 3 candidate sentences together hold every fact (and
  the median words of the shortest such set): what a perfect ranker could give;
- top-k: the answer is the k best-scored sentences;
- lead: the first N words of the best-scored sentence's passage, in reading order;
- shipped: the answer the pipeline composes (its selection stage).
A large gap between oracle and top-k is a ranking problem; between top-k and shipped, a selection one.
"""

from __future__ import annotations

import argparse
import itertools
import json
import pickle
import statistics
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

import fit_answer  # noqa: E402
from copilot.answer import features as F  # noqa: E402
from copilot.answer.extractive import ExtractiveAnswerer  # noqa: E402
from copilot.answer.settings import AnswerSettings  # noqa: E402


def facts_held(kind: str, text: str, truth) -> frozenset[int]:
    if kind == "dev":
        return frozenset({0}) if fit_answer.holds("dev", text, truth) else frozenset()
    return frozenset(k for k, f in enumerate(truth) if fit_answer.has_fact(text, f))


def oracle(item, n: int) -> int | None:
    """Words in the shortest set of at most `n` candidates that holds every fact, or None."""
    cands = item.ranking.cands
    cover = [facts_held(item.kind, c.text, item.truth) for c in cands]
    need = frozenset(range(1 if item.kind == "dev" else len(item.truth)))
    useful = [i for i in range(len(cands)) if cover[i]]
    best = None
    for size in range(1, n + 1):
        for combo in itertools.combinations(useful, min(size, len(useful))):
            if frozenset().union(*(cover[i] for i in combo)) >= need:
                words = sum(cands[i].words for i in combo)
                best = words if best is None else min(best, words)
    return best


def lead(item, budget: int) -> str:
    r = item.ranking
    top = r.cands[int(np.argmax(r.scores))]
    out, used = [], 0
    for c in sorted((c for c in r.cands if c.passage == top.passage), key=lambda c: c.position):
        if c.position < top.position:
            continue
        if used and used + c.words > budget:
            break
        out.append(c.text)
        used += c.words
    return " ".join(out)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--items", required=True, help="the collected training questions (`fit_answer.py --items`)")
    ap.add_argument("--out", help="write the figures as JSON here")
    args = ap.parse_args()
    sys.modules["__main__"].Item = fit_answer.Item  # the file was pickled by fit_answer run as a script
    with open(args.items, "rb") as fh:
        items = pickle.load(fh)
    settings = AnswerSettings.fitted()
    model = settings.weights().sentence
    answerer = ExtractiveAnswerer(settings)
    rows = {}
    for kind in ("dev", "golden"):
        chosen = [it for it in items if it.kind == kind and it.answerable and len(it.ranking.cands)]
        for it in chosen:
            r = it.ranking
            r.batch = F.batch(r.question, r.cands, r.passages)
            r.features = F.matrix(r.batch, model.features)
            r.scores = model.probability(r.features)
        row: dict[str, object] = {"questions": len(chosen)}
        for n in (1, 2, 3):
            found = [w for w in (oracle(it, n) for it in chosen) if w is not None]
            row[f"oracle_{n}"] = round(len(found) / len(chosen), 3)
            row[f"oracle_{n}_median_words"] = statistics.median(found) if found else 0
        for k in (1, 2, 3, 4):
            texts = [" ".join(it.ranking.cands[i].text for i in np.argsort(-it.ranking.scores)[:k]) for it in chosen]
            row[f"top_{k}"] = round(float(np.mean([fit_answer.answer_ok(it.kind, t, it.truth)
                                                   for it, t in zip(chosen, texts)])), 3)
        for budget in (60, 120):
            row[f"lead_{budget}"] = round(float(np.mean([fit_answer.answer_ok(it.kind, lead(it, budget), it.truth)
                                                        for it in chosen])), 3)
        shipped = [answerer.from_ranking(it.ranking.question.text, it.ranking).text for it in chosen]
        row["shipped"] = round(float(np.mean([fit_answer.answer_ok(it.kind, t, it.truth)
                                              for it, t in zip(chosen, shipped)])), 3)
        row["shipped_median_words"] = statistics.median(len(t.split()) for t in shipped)
        rows[kind] = row
    print(json.dumps(rows, indent=1))
    if args.out:
        Path(args.out).write_text(json.dumps(rows, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
