"""Scoring the copilot against a golden set: pure scoring functions plus a small runner.

Golden files (JSON Lines) live in `tests/golden/`:
- questions: {"id", "question", "facts": [...], "sources": [...]}: the answer must contain every fact and
  a cited passage must hold it (a fact may be a list of alternative phrasings);
- off-topic: {"id", "question"}: must be declined;
- conversations: {"id", "turns": [q1, q2, ...], "facts", "sources"}: judged on the last turn;
- documents (`documents.jsonl`): questions about the test documents in `tests/golden/docs/` (PDF, HTML and
  text, not part of the corpus), asked of a copy of the index with those documents loaded.
"""

from __future__ import annotations

import json
import re
import statistics
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from .answer import Answer
from .config import PROJECT_DIR

GOLDEN_DIR = PROJECT_DIR / "tests" / "golden"
DOCS_DIR = GOLDEN_DIR / "docs"
KINDS = ("question", "offtopic", "conversation", "document")
FOLLOWUPS = "followups"  # tests/golden/followups.jsonl: conversations scored on their own, not in the golden figures


def normalise(text: str) -> str:
    text = text.lower().replace("’", "'").replace("“", '"').replace("”", '"')
    text = re.sub(r"[‐‑‒–—−]", "-", text)
    text = re.sub(r"\s*\[\d+\]", "", text)  # citation markers do not split a fact
    return " ".join(text.split())


def has_fact(text: str, fact: str | list[str]) -> bool:
    """A fact is a phrase, or a list of equally good phrasings of which one must appear."""
    options = [fact] if isinstance(fact, str) else fact
    body = normalise(text)
    return any(normalise(option) in body for option in options)


@dataclass
class Judgement:
    id: str
    question: str
    kind: str  # question / offtopic / conversation
    answered: bool
    facts_found: bool = False
    supported: bool = False  # every fact in the answer and in a cited passage
    source_rank: int | None = None  # 1-based rank of the first expected source among retrieved passages
    cited_expected: bool = False
    citation_precision: float = 0.0
    ms: float = 0.0
    answer: str = ""
    repeated: bool = False  # a follow-up that opens with a sentence the previous answer already gave


def judge(item: dict, kind: str, result: Answer, retrieved_sources: list[str], ms: float) -> Judgement:
    j = Judgement(item["id"], item.get("question") or item["turns"][-1], kind, not result.abstained, ms=ms,
                  answer=result.text)
    if kind == "offtopic":
        return j
    facts = item.get("facts", [])
    cited = [c.text for c in result.citations]
    j.facts_found = not result.abstained and all(has_fact(result.text, f) for f in facts)
    j.supported = j.facts_found and all(any(has_fact(t, f) for t in cited) for f in facts)
    expected = set(item.get("sources", []))
    for rank, src in enumerate(retrieved_sources, 1):
        if src in expected:
            j.source_rank = rank
            break
    j.cited_expected = any(c.source in expected for c in result.citations)
    if result.citations:
        answer_text = normalise(result.text)
        used = 0
        for c in result.citations:
            sentences = c.sentences or [c.text]
            if any(normalise(s)[:60] in answer_text for s in sentences):
                used += 1
        j.citation_precision = used / len(result.citations)
    return j


def repeats(answer: str, previous: str) -> bool:
    """Does an answer open with a sentence (or all of the text) the previous answer already gave?"""
    from .text import split_sentences

    first = split_sentences(normalise(answer))[:1]
    return bool(first) and (normalise(answer) == normalise(previous) or first[0] in normalise(previous))


def load_jsonl(path: Path) -> list[dict]:
    with open(path, encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def golden_files(folder: Path = GOLDEN_DIR) -> dict[str, list[dict]]:
    """The golden items by kind; `followups.jsonl` comes under its own kind, "followup"."""
    out: dict[str, list[dict]] = {kind: [] for kind in (*KINDS, "followup")}
    for path in sorted(folder.glob("*.jsonl")):
        for item in load_jsonl(path):
            if path.stem == FOLLOWUPS:
                kind = "followup"
            elif path.stem == "documents":
                kind = "document"
            else:
                kind = "offtopic" if "facts" not in item else ("conversation" if "turns" in item else "question")
            out[kind].append(item)
    return out


@dataclass
class Report:
    judgements: list[Judgement] = field(default_factory=list)
    label: str = ""

    def of(self, kind: str) -> list[Judgement]:
        return [j for j in self.judgements if j.kind == kind]

    def metrics(self, k: int = 5) -> dict:
        answerable = self.of("question") + self.of("conversation") + self.of("document") + self.of("followup")
        off = self.of("offtopic")
        ms = [j.ms for j in self.judgements]
        out = {"label": self.label, "questions": len(answerable), "offtopic": len(off)}
        if answerable:
            n = len(answerable)
            out["supported"] = sum(j.supported for j in answerable) / n
            out["key_fact"] = sum(j.facts_found for j in answerable) / n
            out[f"recall@{k}"] = sum(1 for j in answerable if j.source_rank and j.source_rank <= k) / n
            out["mrr"] = sum(1 / j.source_rank for j in answerable if j.source_rank) / n
            out["cx_declined"] = sum(not j.answered for j in answerable)
            answered = [j for j in answerable if j.answered]
            out["citation_precision"] = (sum(j.citation_precision for j in answered) / len(answered)) if answered else 0.0
            followed = [j for j in answerable if j.kind in {"conversation", "followup"}]
            if followed:
                out["repeated"] = sum(j.repeated for j in followed)
        if off:
            declined = sum(not j.answered for j in off)
            out["offtopic_declined"] = declined / len(off)
            all_declined = declined + out.get("cx_declined", 0)
            out["decline_precision"] = declined / all_declined if all_declined else 1.0
        if ms:
            out["p50_ms"] = statistics.median(ms)
            out["p95_ms"] = sorted(ms)[max(0, int(round(0.95 * len(ms))) - 1)]
        return out

    def failures(self) -> list[Judgement]:
        return [j for j in self.judgements if (j.kind == "offtopic") == j.answered or
                (j.kind != "offtopic" and not j.supported)]


def with_test_documents(copilot, folder: Path):
    """A copy of `copilot`'s index in `folder` with the golden test documents loaded (for the "document" kind)."""
    import shutil

    from .core import Copilot

    shutil.copytree(copilot.index_dir, folder)
    copy = Copilot(folder, embedder=copilot.embedder, retrieval=copilot.retrieval, answerer=copilot.answerer,
                   chunking=copilot.chunking, corpus=False)
    report = copy.ingest([DOCS_DIR])
    if report.failed:
        raise RuntimeError("test documents failed to load: " + "; ".join(f.line() for f in report.failed))
    return copy


def evaluate(copilot, golden: dict[str, list[dict]] | None = None, label: str = "",
             kinds: Iterable[str] = ("question", "offtopic", "conversation"), answerer=None) -> Report:
    """Run every golden item of the given kinds through `copilot` and judge it. The "document" kind needs a
    copilot with the test documents loaded (`with_test_documents`)."""
    golden = golden or golden_files()
    report = Report(label=label)
    for kind in kinds:
        for item in golden.get(kind, []):
            history: list[tuple[str, str]] = []
            if "turns" in item:
                for turn in item["turns"][:-1]:
                    prev = copilot.answer(turn, history, answerer=answerer)
                    history += [("user", turn), ("assistant", prev.text)]
                question = item["turns"][-1]
            else:
                question = item["question"]
            t0 = time.perf_counter()
            result = copilot.answer(question, history, answerer=answerer)
            ms = (time.perf_counter() - t0) * 1000
            hits = copilot.retriever.search(result.standalone_question or question)
            j = judge(item, kind, result, [h.source for h in hits], ms)
            if history:
                j.repeated = repeats(result.text, history[-1][1])
            report.judgements.append(j)
    return report


GOLDEN_COLUMNS = ["label", "questions", "supported", "key_fact", "recall@5", "mrr", "citation_precision",
                  "cx_declined", "offtopic_declined", "decline_precision", "repeated", "p50_ms", "p95_ms"]


def format_table(rows: list[dict], columns: list[str] = GOLDEN_COLUMNS) -> str:
    """Rows of metrics as an aligned text table (only the columns some row has)."""
    cols = [c for c in columns if any(c in r for r in rows)]

    def fmt(v):
        return f"{v:.3f}" if isinstance(v, float) else str(v)

    widths = [max(len(c), *(len(fmt(r.get(c, ""))) for r in rows)) for c in cols]
    lines = ["  ".join(c.ljust(w) for c, w in zip(cols, widths))]
    lines += ["  ".join(fmt(r.get(c, "")).ljust(w) for c, w in zip(cols, widths)) for r in rows]
    return "\n".join(lines)
