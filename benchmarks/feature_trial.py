"""Try a candidate sentence feature out of fold before it goes into the registry and a full fit.

For each trial (the shipped features, then the shipped features plus each named trial feature), the
sentence scorer is fitted pointwise on four folds of the training questions (`fit_answer.fold_splits`,
grouped by question) and scores the fifth; answers are then composed from those out-of-fold scores with the
shipped selection settings. It prints out-of-fold sentence top-1 and, at the answer level, the share of
fit-split answers holding the span and of golden answers holding every fact. A feature that wins here still
needs the full fit and `compare_weights.py` (report split, held-out sets) before it ships.

    .venv/bin/python benchmarks/fit_answer.py --items fit-items.pkl --check     # collect once (kept)
    .venv/bin/python benchmarks/feature_trial.py --items fit-items.pkl --add heading_gap
"""

from __future__ import annotations

import argparse
import json
import pickle
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import fit_answer as FA  # noqa: E402
from copilot.answer import features as F  # noqa: E402
from copilot.answer.settings import AnswerSettings  # noqa: E402


def heading_gap(b: F.Batch) -> np.ndarray:
    """How far the passage's heading match falls short of the best heading match among the candidates'
    passages (0 for the best), as `semantic_gap` and `coverage_gap` compare sentences. Tried 2026-12-03: it
    gained on the golden set only (docs/benchmarks.md)."""
    v = F.heading_match(b)
    return v - v.max() if len(v) else v


def section_gap(b: F.Batch) -> np.ndarray:
    """The same for the section heading alone."""
    v = F.section_match(b)
    return v - v.max() if len(v) else v


TRIALS: dict[str, F.Feature] = {f.__name__: f for f in (heading_gap, section_gap)}


def out_of_fold(items: list, columns: list[str], names: list[str], golden_weight: float,
                c: float) -> dict[int, np.ndarray]:
    """Each item's sentence probabilities from a scorer over `names` (of the items' feature `columns`)
    fitted without its fold."""
    cols = [columns.index(n) for n in names]
    scores: dict[int, np.ndarray] = {}
    for train, test in FA.fold_splits(items):
        x, y, w = FA.sentence_rows(train, golden_weight)
        model = FA.fit_linear(x[:, cols], y, names, c, weight=w)
        for it in test:
            scores[id(it)] = model.probability(it.x[:, cols])
    return scores


def judge(items: list, scores: dict[int, np.ndarray], settings: AnswerSettings) -> dict:
    out = {}
    for kind in ("dev", *FA.CORPUS_KINDS):
        chosen = [it for it in items if it.kind == kind]
        if not chosen:
            continue
        for it in chosen:
            it.ranking.scores = scores[id(it)]
        top1 = np.mean([bool(it.labels[int(np.argmax(scores[id(it)]))]) for it in chosen if it.labels.any()])
        ok, words = FA.simulate(chosen, settings)
        out[kind] = {"top1": round(float(top1), 4), "in_answer": round(ok, 4), "median_words": words}
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--items", required=True, help="training questions kept by `fit_answer.py --items FILE`")
    ap.add_argument("--add", default=",".join(TRIALS),
                    help=f"trial features to add, one at a time, comma-separated (known: {', '.join(TRIALS)})")
    ap.add_argument("--golden-weight", type=float, default=1.0)
    ap.add_argument("--c", type=float, default=1.0)
    args = ap.parse_args()
    trials = [t for t in args.add.split(",") if t]
    unknown = [t for t in trials if t not in TRIALS]
    if unknown:
        ap.error(f"--add: unknown trial feature {', '.join(unknown)} (known: {', '.join(TRIALS)})")
    path = Path(args.items)
    if not path.is_file():
        ap.error(f"--items: {path} does not exist (write it with fit_answer.py --items {path} --check)")
    with open(path, "rb") as fh:
        items = pickle.load(fh)
    shipped = list(F.FEATURES)
    registry = {**F.FEATURES, **{t: TRIALS[t] for t in trials}}
    for it in items:
        r = it.ranking
        r.batch = F.batch(r.question, r.cands, r.passages)
        it.x = np.column_stack([np.asarray(f(r.batch), dtype=np.float32) for f in registry.values()]) \
            if len(r.cands) else np.zeros((0, len(registry)))
    answerable = [it for it in items if it.answerable and len(it.labels)]
    settings = AnswerSettings.fitted()
    columns = list(registry)
    for label, names in [("shipped features", shipped), *((f"+ {t}", shipped + [t]) for t in trials)]:
        scores = out_of_fold(answerable, columns, names, args.golden_weight, args.c)
        print(json.dumps({"trial": label, **judge(answerable, scores, settings)}), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
