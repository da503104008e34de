"""Hybrid retrieval: dense (vector store) + BM25, fused, with diversity across sources.

The fusion and selection steps are pure functions on plain lists so they can be tested and tuned alone.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from .embeddings import Embedder
from .lexical import LexicalIndex
from .stores import StoredChunk, VectorStore
from .text import terms


@dataclass(frozen=True)
class RetrievalSettings:
    method: str = "weighted"  # weighted | rrf | dense | bm25
    dense_weight: float = 0.7  # weight of the dense similarity in the weighted fusion
    bm25_saturation: float = 8.0  # BM25 score mapped to s / (s + saturation)
    rrf_k: int = 60
    candidates: int = 30  # from each retriever before fusion
    top_k: int = 5  # passages handed to the answerer
    source_decay: float = 0.9  # each further passage from one source is worth this much less
    heading_weight: float = 0.05  # bonus for a section heading that names the question's terms
    source_weight: float = 0.1  # bonus for the passages of a document the question names ("our returns policy");
    # chosen by benchmarks/source_weight.py on the golden questions
    named_passages: int = 3  # passages of a named document that always compete, however the corpus ranks
    min_dense: float = 0.36  # below this best cosine similarity the question is out of scope ...
    min_fused: float = 0.30  # ... or below this fused score


@dataclass
class Hit:
    id: str
    score: float  # fused score used for ranking
    dense: float = 0.0  # cosine similarity to the question
    lexical: float = 0.0  # saturated BM25 in 0..1
    chunk: StoredChunk | None = None

    @property
    def source(self) -> str:
        return self.chunk.metadata.get("source", "") if self.chunk else ""


# ---------------------------------------------------------------- pure functions

def saturate(bm25: float, k: float) -> float:
    return bm25 / (bm25 + k) if bm25 > 0 else 0.0


def fuse_weighted(dense: dict[str, float], lexical: dict[str, float], dense_weight: float) -> dict[str, float]:
    """Convex combination of cosine similarity and saturated BM25 (both in 0..1); missing scores count as 0."""
    ids = dense.keys() | lexical.keys()
    return {i: dense_weight * dense.get(i, 0.0) + (1 - dense_weight) * lexical.get(i, 0.0) for i in ids}


def fuse_rrf(rankings: list[list[str]], k: int = 60) -> dict[str, float]:
    """Reciprocal rank fusion of several rankings (best first)."""
    out: dict[str, float] = {}
    for ranking in rankings:
        for rank, i in enumerate(ranking):
            out[i] = out.get(i, 0.0) + 1.0 / (k + rank + 1)
    return out


def diversify(ranked: list[tuple[str, float, str]], k: int, decay: float) -> list[tuple[str, float]]:
    """Greedy top-k where each further passage from an already-chosen source is discounted by `decay`.

    `ranked` holds (id, score, source). Returns (id, score) in selection order.
    """
    remaining = list(ranked)
    chosen: list[tuple[str, float]] = []
    per_source: dict[str, int] = {}
    while remaining and len(chosen) < k:
        best = max(range(len(remaining)),
                   key=lambda j: remaining[j][1] * decay ** per_source.get(remaining[j][2], 0))
        i, score, source = remaining.pop(best)
        chosen.append((i, score))
        per_source[source] = per_source.get(source, 0) + 1
    return chosen


_ACRONYM_DEF = re.compile(r"\b([A-Za-z][\w'-]*(?:[ -]+[\w'-]+){0,5})\s+\(([A-Z][A-Za-z0-9&]{1,7})\)")


def _spells(acronym: str, phrase: str) -> bool:
    """Schwartz-Hearst style check: the acronym's letters appear in order in the phrase, the first one
    starting a word (so 'CCXP' fits 'Certified Customer Experience Professional')."""
    letters = [c for c in acronym.lower() if c.isalnum()]
    text = phrase.lower()
    i = len(text) - 1
    for n, ch in enumerate(reversed(letters)):
        first = n == len(letters) - 1
        while i >= 0 and (text[i] != ch or (first and i > 0 and text[i - 1].isalnum())):
            i -= 1
        if i < 0:
            return False
        i -= 1
    return True


def find_acronyms(texts: list[str]) -> dict[str, str]:
    """Acronyms defined in the corpus as 'Long form (LF)', keyed by the lower-cased acronym."""
    found: dict[str, str] = {}
    for text in texts:
        for phrase, acro in _ACRONYM_DEF.findall(text):
            words = phrase.split()
            for n in range(1, len(words) + 1):
                cand = " ".join(words[-n:])
                if n >= min(len(acro), 2) and _spells(acro, cand) and cand[0].lower() == acro[0].lower():
                    found.setdefault(acro.lower(), cand)
                    break
    return found


def expand_acronyms(query: str, acronyms: dict[str, str]) -> str:
    """Spell out acronyms and add acronyms for spelled-out terms, so both retrievers see both forms:
    'What is FCR?' -> 'What is FCR (first contact resolution)?'."""
    def repl(m: re.Match) -> str:
        word = m.group(0)
        long = acronyms.get(word.lower())
        if long and long.lower() not in query.lower():
            return f"{word} ({long})"
        return word
    expanded = re.sub(r"\b[A-Z][A-Za-z0-9&]{1,7}\b", repl, query)
    lowered = query.lower()
    extra = [acro.upper() for acro, long in acronyms.items()
             if len(long.split()) > 1 and long.lower() in lowered and not re.search(rf"\b{re.escape(acro)}\b", lowered)]
    return expanded + (f" ({', '.join(extra)})" if extra else "")


def source_names(titles: dict[str, str]) -> dict[str, frozenset[str]]:
    """{source: the terms that name it}: the words of its title and file name that at most two sources share
    (so "Northwind returns and exchanges" is named by "northwind" or "returns", not by "customer")."""
    own: dict[str, set[str]] = {}
    for source, title in titles.items():
        stem_words = re.sub(r"[-_.]+", " ", source.rsplit(".", 1)[0])
        own[source] = set(terms(f"{title} {stem_words}"))
    counts: dict[str, int] = {}
    for ts in own.values():
        for t in ts:
            counts[t] = counts.get(t, 0) + 1
    return {source: frozenset(t for t in ts if counts[t] <= 2) for source, ts in own.items()}


def named_sources(query: str, names: dict[str, frozenset[str]], idf) -> dict[str, float]:
    """The sources a query names, each with the share of its naming weight (IDF) the query holds: "according
    to the Northwind returns policy" names "Northwind Outfitters returns and exchanges" with most of it."""
    q = set(terms(query))
    out: dict[str, float] = {}
    for source, name in names.items():
        hit = q & name
        if hit:
            out[source] = sum(idf(t) or 1.0 for t in hit) / sum(idf(t) or 1.0 for t in name)
    return out


# ---------------------------------------------------------------- the retriever

class Retriever:
    def __init__(self, embedder: Embedder, store: VectorStore, lexical: LexicalIndex,
                 settings: RetrievalSettings = RetrievalSettings(), acronyms: dict[str, str] | None = None,
                 sources: dict[str, dict] | None = None):
        """`sources`: the index's catalog, {source: {"title", and "load" (the tag ending its passages' ids) or
        "chunk_ids"}}, for questions that name a document."""
        self.embedder = embedder
        self.store = store
        self.lexical = lexical
        self.settings = settings
        self.acronyms = acronyms or {}
        self.sources = sources or {}
        self.names = source_names({k: v.get("title", "") for k, v in self.sources.items()})
        self._positions = {i: n for n, i in enumerate(lexical.ids)}
        self._vectors: dict[str, np.ndarray] = {}  # recent query embeddings
        self._by_load: dict[str, list[str]] | None = None

    def source_ids(self, source: str) -> list[str]:
        """The ids of a source's passages in the lexical index (grouped by load tag on first use, so opening a
        retriever over a big index costs nothing until a question names a document)."""
        entry = self.sources.get(source, {})
        if not entry.get("load"):
            return list(entry.get("chunk_ids", []))
        if self._by_load is None:
            by_load: dict[str, list[str]] = {}
            for i in self.lexical.ids:
                head, dot, load = i.rpartition(".")
                if dot:
                    by_load.setdefault(load, []).append(i)
            self._by_load = by_load
        return self._by_load.get(entry["load"], [])

    def query_vector(self, query: str) -> np.ndarray:
        """The embedding retrieval uses for `query` (acronyms spelled out)."""
        return self.embed_query(expand_acronyms(query, self.acronyms))

    def embed_query(self, text: str) -> np.ndarray:
        """The embedding of a text (the last few are kept: retrieval and the answerer both need them)."""
        vec = self._vectors.get(text)
        if vec is None:
            if len(self._vectors) >= 64:
                self._vectors.pop(next(iter(self._vectors)))
            vec = self._vectors[text] = self.embedder.embed_query(text)
        return vec

    def search(self, query: str, settings: RetrievalSettings | None = None) -> list[Hit]:
        """Best passages for `query`, fused and diversified, with their chunks loaded."""
        s = settings or self.settings
        expanded = expand_acronyms(query, self.acronyms)
        qvec = self.embed_query(expanded)
        dense = dict(self.store.query(qvec, s.candidates)) if s.method != "bm25" else {}
        bm25_all = self.lexical.scores(expanded)
        lexical: dict[str, float] = {}
        if bm25_all is not None and s.method != "dense":
            k = min(s.candidates, len(bm25_all))
            top = np.argpartition(-bm25_all, k - 1)[:k]
            lexical = {self.lexical.ids[j]: saturate(float(bm25_all[j]), s.bm25_saturation)
                       for j in top if bm25_all[j] > 0}
        # a document the question names competes with its best passages, however the rest of the index ranks
        named = named_sources(expanded, self.names, self.lexical.idf) if s.source_weight else {}
        if named and bm25_all is not None and s.method != "dense":
            for source in named:
                own = [(float(bm25_all[j]), i) for i in self.source_ids(source)
                       if (j := self._positions.get(i)) is not None]
                for score, i in sorted(own, reverse=True)[: s.named_passages]:
                    lexical.setdefault(i, saturate(score, s.bm25_saturation))
        # complete both views for every candidate, so fusion never compares a score with a gap
        missing = [i for i in lexical if i not in dense]
        if missing:
            for i, vec in self.store.vectors(missing).items():
                dense[i] = float(np.dot(vec, qvec))
        if bm25_all is not None:
            for i in dense:
                j = self._positions.get(i)
                if j is not None and i not in lexical:
                    lexical[i] = saturate(float(bm25_all[j]), s.bm25_saturation)
        if s.method == "rrf":
            fused = fuse_rrf([sorted(dense, key=dense.get, reverse=True),
                              sorted(lexical, key=lexical.get, reverse=True)], s.rrf_k)
        elif s.method == "dense":
            fused = dict(dense)
        elif s.method == "bm25":
            fused = dict(lexical)
        else:
            fused = fuse_weighted(dense, lexical, s.dense_weight)
        if not fused:
            return []
        if named:
            of_source = {i: source for source in named for i in self.source_ids(source)}
            for i in fused:
                if i in of_source:
                    fused[i] += s.source_weight * named[of_source[i]]
        ranked_ids = sorted(fused, key=fused.get, reverse=True)[: s.candidates]
        chunks = {c.id: c for c in self.store.get(ranked_ids)}
        if s.heading_weight and s.method not in {"dense", "bm25", "rrf"}:
            q_terms = {t: self.lexical.idf(t) for t in terms(expanded)}
            total = sum(q_terms.values()) or 1.0
            for i in ranked_ids:
                if i in chunks:
                    head = set(terms(chunks[i].metadata.get("section", "")))
                    fused[i] += s.heading_weight * sum(w for t, w in q_terms.items() if t in head) / total
            ranked_ids = sorted(ranked_ids, key=fused.get, reverse=True)
        ranked = [(i, fused[i], chunks[i].metadata.get("source", "")) for i in ranked_ids if i in chunks]
        chosen = diversify(ranked, s.top_k, s.source_decay)
        return [Hit(i, score, dense.get(i, 0.0), lexical.get(i, 0.0), chunks[i]) for i, score in chosen]

    def relevant(self, hits: list[Hit], settings: RetrievalSettings | None = None) -> bool:
        """Does the knowledge base support an answer? Judged on the best dense and fused evidence."""
        s = settings or self.settings
        if not hits:
            return False
        best_dense = max(h.dense for h in hits)
        best_fused = max(s.dense_weight * h.dense + (1 - s.dense_weight) * h.lexical for h in hits)
        return best_dense >= s.min_dense and best_fused >= s.min_fused
