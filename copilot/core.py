"""The Copilot: answers questions with citations from an Index (copilot/index.py), which owns everything
about storing documents: the manifest, the catalog, loading, removing, rebuilding, locking and keeping every
process current.
"""

from __future__ import annotations

import os
import re
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from . import config
from .answer import (Answer, Answerer, AnswerSettings, ExtractiveAnswerer, History, Passage, Query, Topics, condense,
                     decline_text, is_follow_up, normalise_history)
from .answer.abstain import Verdict, judge
from .answer.candidates import passage_spans
from .answer.pipeline import Ranking, rank
from .chunking import ChunkSettings
from .embeddings import Embedder, make_embedder
from .errors import CopilotError
from .index import FileOutcome, Index, IngestReport
from .retrieval import Hit, RetrievalSettings, Retriever
from .sentences import from_metadata
from .stores import Backend, VectorStore
from .text import aspect, aspect_phrases, span_text, split_sentences, terms

__all__ = ["Copilot", "FileOutcome", "IngestReport", "Prepared", "answer", "default_copilot", "rebuild_index"]
Progress = Callable[[str, int, int], None]  # (stage, done, total)


@dataclass
class Prepared:
    """A question made ready to answer (`Copilot.prepare`)."""

    question: str
    standalone: str
    hits: list[Hit]
    passages: list[Passage]
    query: Query
    ranking: Ranking
    verdict: Verdict



class Copilot:
    """Cited answers from a CX knowledge base.

    >>> cp = Copilot()                       # the default index, built from corpus/ when missing
    >>> cp.answer("How is NPS calculated?").text

    `store` is where the index lives: a `copilot.stores.Backend` or a single `VectorStore`; by default embedded
    Chroma in `index_dir`, or the Chroma server that `chroma_url` (else COPILOT_CHROMA_URL) names.
    """

    def __init__(self, index_dir: str | os.PathLike | None = None, *, embedder: Embedder | None = None,
                 store: Backend | VectorStore | None = None, answerer: Answerer | None = None,
                 corpus: str | os.PathLike | None | bool = True, retrieval: RetrievalSettings | None = None,
                 chunking: ChunkSettings | None = None, progress: Progress | None = None,
                 chroma_url: str | None = None):
        self._configure(index_dir, embedder, answerer, retrieval, chunking)
        self.index = Index(self.index_dir, embedder=self.embedder, chunking=self.chunking, retrieval=self.retrieval,
                           backend=store, url=chroma_url, corpus=corpus, progress=progress)

    def _configure(self, index_dir, embedder, answerer, retrieval, chunking) -> None:
        config.quiet_third_parties()
        self.index_dir = Path(index_dir) if index_dir is not None else config.default_index_dir()
        self.embedder = embedder or make_embedder()
        self.chunking = chunking or ChunkSettings()
        self.retrieval = retrieval or RetrievalSettings()
        self.answer_settings = getattr(answerer, "settings", None) if isinstance(answerer, ExtractiveAnswerer) \
            else AnswerSettings.fitted()
        self.answerer = answerer or ExtractiveAnswerer(self.answer_settings)
        self._topics: tuple[str, Topics] | None = None

    # ------------------------------------------------------------ the index

    @property
    def retriever(self) -> Retriever:
        """The retriever over the index as it is now (other processes' changes included within a second or two)."""
        return self.index.retriever

    @property
    def store(self) -> VectorStore:
        return self.index.store

    @property
    def catalog(self) -> dict:
        return self.index.catalog

    @property
    def ingest_group(self) -> int:
        return self.index.ingest_group

    @ingest_group.setter
    def ingest_group(self, value: int) -> None:
        self.index.ingest_group = value

    def ingest(self, paths: Iterable[str | os.PathLike] | str | os.PathLike,
               progress: Progress | None = None) -> IngestReport:
        """Load files and folders. Each file succeeds or fails on its own; the report says which and why."""
        return self.index.ingest(paths, progress=progress)

    def remove(self, source: str) -> int:
        """Delete a source (its file name, or the path it was loaded from) completely. Returns chunks removed."""
        return self.index.remove(source)

    def sources(self) -> list[dict]:
        """Every loaded source: source, title, kind, chunks, pages, loaded_at, path, topic."""
        return self.index.sources()

    def close(self) -> None:
        self.index.close()

    # ------------------------------------------------------------ answering

    def search(self, question: str, history: History | None = None) -> list[Hit]:
        return self.retriever.search(condense(question, history, self.topics()))

    def answer(self, question: str, history: History | None = None, answerer: Answerer | None = None) -> Answer:
        """Answer a question (with the conversation so far, for follow-ups), citing the passages used."""
        result: Answer | None = None
        for item in self.stream(question, history, answerer):
            if isinstance(item, Answer):
                result = item
        assert result is not None
        return result

    def gather(self, question: str, history: History | None = None) -> tuple[str, list[Hit], list[Passage], Query]:
        """The standalone question, the passages retrieved for it and what is known about the question (term
        weights, embedding, what the conversation has already said)."""
        standalone = condense(question, history, self.topics())
        hits = self.retriever.search(standalone)
        return standalone, hits, self._passages(hits), self._query(standalone, question, history)

    def prepare(self, question: str, history: History | None = None) -> Prepared:
        """Everything up to the answer: `gather`, then the extractive pipeline's ranking and the abstention
        verdict."""
        standalone, hits, passages, query = self.gather(question, history)
        weights = self.answer_settings.weights()
        ranking = rank(standalone, passages, query, weights.sentence, self.answer_settings.passages_read,
                       weights.confidence)
        query.ranking = ranking
        verdict = judge(ranking, weights.abstain, weights.abstain_threshold)
        return Prepared(question, standalone, hits, passages, query, ranking, verdict)

    def stream(self, question: str, history: History | None = None,
               answerer: Answerer | None = None) -> Iterator[str | Answer]:
        """Yield the answer's text as it is produced, then the final Answer."""
        t0 = time.perf_counter()
        question = (question or "").strip()
        if not question:
            raise CopilotError("The question is empty: type a question about customer experience.")
        answerer = answerer or self.answerer
        from .toolkit import toolkit_answer  # here, not at import: `cx-copilot metrics` never needs it

        toolkit = toolkit_answer(lambda: self.retriever, question, history)  # calculations, sources side by side
        if toolkit is not None:
            toolkit.timings = {"total_ms": round((time.perf_counter() - t0) * 1000, 1)}
            yield toolkit.text
            yield toolkit
            return
        if not normalise_history(history) and is_follow_up(question) and len(terms(question)) <= 1:
            # "and how do I calculate it?" with nothing before it: ask rather than guess what "it" is
            result = Answer(question, "Which topic do you mean? Ask the whole question, for example \"How is NPS "
                            "calculated?\"", True, backend=answerer.name, standalone_question=question)
            yield result.text
            yield result
            return
        prep = self.prepare(question, history)
        t1 = time.perf_counter()
        if not prep.verdict.answerable:
            result = self._decline(question)
            result.backend = answerer.name
        else:
            result = None
            for item in answerer.stream(prep.standalone, prep.passages, prep.query):
                if isinstance(item, Answer):
                    result = item
                else:
                    yield item
            if result is None or (result.abstained and not result.text):
                result = self._decline(question)
        result.question = question
        result.standalone_question = prep.standalone
        result.timings = {**result.timings, "retrieval_ms": round((t1 - t0) * 1000, 1),
                          "total_ms": round((time.perf_counter() - t0) * 1000, 1),
                          "answerable": round(prep.verdict.probability, 3)}
        if result.abstained and result.text:
            yield result.text
        yield result

    def topics(self) -> Topics:
        """The index's topic vocabulary (document titles and acronyms), for follow-up questions."""
        revision = self.catalog.get("revision", "")
        cached = self._topics
        if cached is None or cached[0] != revision:
            titles = [v.get("title", "") for v in list(self.catalog["sources"].values())]
            cached = self._topics = (revision, Topics.from_titles(titles, self.retriever.acronyms))
        return cached[1]

    def _passages(self, hits: list[Hit]) -> list[Passage]:
        """Retrieved chunks as passages, with their sentences and sentence vectors. Chunks stored without
        sentence vectors (an index loaded before they were kept) get them now, in one batch."""
        out = []
        for h in hits:
            spans, vectors = from_metadata(h.chunk.metadata, self.embedder.dim)
            out.append(Passage(h.id, h.chunk.text, h.source, h.chunk.metadata.get("title", ""),
                               h.chunk.metadata.get("section", ""), h.chunk.metadata.get("page"), h.score, h.dense,
                               h.lexical, spans, vectors))
        lacking = [(p, passage_spans(p)) for p in out if p.vectors is None]
        texts = [span_text(p.text, span) for p, spans in lacking for span in spans]
        if texts:
            vectors = iter(self.embedder.embed(texts))
            for p, spans in lacking:
                p.spans = spans
                p.vectors = np.asarray([next(vectors) for _ in spans], dtype=np.float32)
        return out

    def _query(self, standalone: str, question: str, history: History | None) -> Query:
        said: list[str] = []
        opened: list[str] = []
        for role, text in normalise_history(history):
            if role == "assistant":
                shown = split_sentences(re.sub(r"\s*\[\d+\]", "", text))
                said.extend(shown)
                opened.extend(shown[:1])
        weights, unknown = self._term_weights(standalone, question)
        own = frozenset(terms(aspect_phrases(question))) if standalone != question else frozenset()
        return Query(weights, self.retriever.query_vector(standalone), self.retriever.acronyms, tuple(said), own,
                     unknown, opened=tuple(opened))

    def _term_weights(self, standalone: str, question: str) -> tuple[dict[str, float], frozenset[str]]:
        """IDF weights of the question's terms, and the terms the index has never seen (they weigh as much as
        the rarest term can: a question about something absent is not answered by the rest of its words).
        Words a follow-up borrowed from earlier turns count less, so "what is the formula?" after "what is
        AHT?" looks for the formula, not the definition."""
        lexical = self.retriever.lexical
        own = set(terms(aspect_phrases(question)))
        weights: dict[str, float] = {}
        unknown: set[str] = set()
        for t in terms(aspect_phrases(standalone)):
            idf = lexical.idf(t) or lexical.idf(aspect(t))
            if not idf:
                unknown.add(t)
                idf = lexical.max_idf()
            w = idf * (1.0 if t in own or standalone == question else 0.35)
            weights[t] = max(weights.get(t, 0.0), w)
        return weights, frozenset(unknown)

    def _decline(self, question: str) -> Answer:
        return Answer(question, decline_text(question, self.example_topics()), True, [])

    def example_topics(self, n: int = 4) -> list[str]:
        """A few document titles to suggest when a question is out of scope: the most substantial documents,
        leaving out reference material (glossaries, FAQs)."""
        rows = [v for v in list(self.catalog["sources"].values()) if v.get("topic") != "reference"]
        rows.sort(key=lambda v: (-v["chunks"], v["title"]))
        return [v["title"] for v in rows[:n]]


def rebuild_index(index_dir: str | os.PathLike, progress: Progress | None = None,
                  **options) -> tuple[Copilot, IngestReport | None, list[str]]:
    """Re-create an index with the current settings from the files it was loaded from (after a model or
    chunking change, or to repair it). It is built beside the old one, which keeps answering (in this and every
    other process) until the new one is complete and replaces it in one step; a failed rebuild leaves the old
    index as it was. Files kept beside the index (uploads, feedback) are not touched. Options are Copilot's
    keyword arguments. Returns the new Copilot, its load report and the paths that no longer exist (those
    documents are carried over from their stored passages, not dropped)."""
    cp = Copilot.__new__(Copilot)
    cp._configure(index_dir, options.get("embedder"), options.get("answerer"), options.get("retrieval"),
                  options.get("chunking"))
    cp.index = Index(cp.index_dir, embedder=cp.embedder, chunking=cp.chunking, retrieval=cp.retrieval,
                     backend=options.get("store"), url=options.get("chroma_url"), corpus=False, check=False)
    report, missing = cp.index.rebuild(progress)
    return cp, report, missing


_default: Copilot | None = None
_default_lock = threading.Lock()


def default_copilot() -> Copilot:
    global _default
    with _default_lock:
        if _default is None or _default.index_dir != config.default_index_dir():
            _default = Copilot()
        return _default


def answer(question: str, history: History | None = None) -> Answer:
    """Answer with the default settings and the default index (built from corpus/ on first use)."""
    return default_copilot().answer(question, history)
