"""What a language model's replies became, over an evaluation run: kept after grounding, or replaced by the
extractive fallback (and why), and how many of their sentences the grounding checks dropped."""

from __future__ import annotations

import re
import statistics
import time
from collections import Counter
from collections.abc import Iterator, Sequence

from ..answer import Answer, Answerer, Passage, Query
from ..grounding import split_answer


class Tally(Answerer):
    """Wraps an answerer and keeps every final Answer it gives (questions the copilot declines never reach it)."""

    COLUMNS = ("llm_calls", "llm_kept", "llm_fell_back", "sentences_dropped", "llm_p50_s", "llm_p95_s")

    def __init__(self, inner: Answerer):
        self.inner = inner
        self.name = inner.name
        self.answers: list[Answer] = []
        self.seconds: list[float] = []  # each call, start to final answer

    def __getattr__(self, attr):  # settings, model, ...: those of the wrapped answerer
        if attr == "inner":
            raise AttributeError(attr)
        return getattr(self.inner, attr)

    def answer(self, question: str, passages: Sequence[Passage], query: Query | None = None) -> Answer:
        t0 = time.perf_counter()
        result = self.inner.answer(question, passages, query)
        self.seconds.append(time.perf_counter() - t0)
        self.answers.append(result)
        return result

    def stream(self, question: str, passages: Sequence[Passage], query: Query | None = None) -> Iterator[str | Answer]:
        t0 = time.perf_counter()
        for item in self.inner.stream(question, passages, query):
            if isinstance(item, Answer):
                self.seconds.append(time.perf_counter() - t0)
                self.answers.append(item)
            yield item

    def kept(self) -> list[Answer]:
        return [a for a in self.answers if a.backend == self.name and not a.abstained]

    def fell_back(self) -> list[Answer]:
        return [a for a in self.answers if "(fallback from" in (a.backend or "")]

    def reasons(self) -> Counter:
        """Why replies were replaced: the first note of each fallback, without its details (numbers, paths,
        what followed a colon): "only N of N sentences of the model's answer are supported by the passages they
        cite", "the model returned an empty answer", "The local model (...) did not finish within N s", ..."""
        out: Counter = Counter()
        for a in self.fell_back():
            note = a.notes[0] if a.notes else "?"
            note = note.split(" was not used: ", 1)[-1]
            while re.search(r"\([^()]*\)", note):  # innermost brackets first
                note = re.sub(r"\s*\([^()]*\)", "", note)
            note = note.split(":", 1)[0]
            out[re.sub(r"\d+(?:\.\d+)?", "N", note).strip(" .")] += 1
        return out

    def metrics(self) -> dict:
        """Nothing for the extractive answerer; for a language model: calls, the share kept, the share that fell
        back, the share of the kept replies' sentences that grounding dropped, and seconds per reply."""
        if self.name == "extractive" or not self.answers:
            return {}
        n = len(self.answers)
        kept = self.kept()
        shown = sum(len(split_answer(a.text)) for a in kept)
        dropped = sum(len(a.dropped) for a in kept)
        s = sorted(self.seconds)
        return {"llm_calls": n, "llm_kept": len(kept) / n, "llm_fell_back": len(self.fell_back()) / n,
                "sentences_dropped": dropped / (dropped + shown) if dropped + shown else 0.0,
                "llm_p50_s": statistics.median(s), "llm_p95_s": s[max(0, int(round(0.95 * len(s))) - 1)]}
