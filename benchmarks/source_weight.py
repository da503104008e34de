"""Sweep the retrieval bonus for passages of a document the question names (`RetrievalSettings.source_weight`).

    .venv/bin/python benchmarks/source_weight.py [--index-dir indexes/default] [--weights 0,0.05,0.1,0.15,0.2]

Chosen on the golden set's questions (our corpus plus the test documents, which are the questions that name a
document: "what does Acme Bank's policy say ..."); the held-out questions (`benchmarks/heldout.jsonl`) are
printed beside them as the check, never used to choose. Prints recall@5 and MRR of the expected source.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from dataclasses import replace
from pathlib import Path

from copilot import Copilot
from copilot.evaluation import golden_files, with_test_documents

HERE = Path(__file__).resolve().parent


def rank_figures(cp: Copilot, items: list[dict], settings) -> tuple[float, float]:
    """recall@5 and MRR of the first retrieved passage from an expected source."""
    found, rr = [], []
    for it in items:
        sources = [h.source for h in cp.retriever.search(it["question"], settings)]
        rank = next((k for k, s in enumerate(sources, 1) if s in set(it["sources"])), None)
        found.append(rank is not None and rank <= 5)
        rr.append(1 / rank if rank else 0.0)
    return sum(found) / len(found), sum(rr) / len(rr)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--index-dir", default=None, help="index of the built-in corpus (default: indexes/default)")
    ap.add_argument("--weights", default="0,0.05,0.1,0.15,0.2")
    args = ap.parse_args()
    golden = golden_files()
    fit = golden["question"] + golden["document"]
    heldout = [json.loads(line) for line in (HERE / "heldout.jsonl").read_text().splitlines() if line.strip()]
    base = Copilot(args.index_dir)
    with tempfile.TemporaryDirectory() as tmp:
        cp = with_test_documents(base, Path(tmp) / "index")
        print(f"{'source_weight':>13} | golden recall@5 | golden MRR | held-out recall@5 | held-out MRR")
        for w in (float(x) for x in args.weights.split(",")):
            s = replace(cp.retrieval, source_weight=w)
            g = rank_figures(cp, fit, s)
            h = rank_figures(cp, heldout, s)
            print(f"{w:>13.2f} | {g[0]:>15.3f} | {g[1]:>10.3f} | {h[0]:>17.3f} | {h[1]:>12.3f}")


if __name__ == "__main__":
    main()
