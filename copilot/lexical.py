"""BM25 over chunk texts (bm25s scores the queries), with our own tokenizer so acronyms and exact terms
(NPS, FCR) match.

The index is assembled from `LoadTokens`: one load's chunks, tokenized once and kept as term counts (in memory,
and in cache files that hold many loads each). A load id is never reused, so a cache entry never goes stale:
when the catalog changes, only new loads are tokenized, and the BM25 matrix for the whole catalog is put
together from the counts with a few vectorised numpy steps (the same Lucene formulas bm25s uses, into bm25s'
own score layout), instead of re-tokenizing every chunk.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from .text import terms

K1, B = 1.2, 0.75


class LoadTokens:
    """Term counts of a run of chunks: for chunk i, the (term, count) pairs rows == i, over a local vocabulary."""

    def __init__(self, ids: list[str], doc_len: np.ndarray, rows: np.ndarray, cols: np.ndarray, tf: np.ndarray,
                 vocab: list[str], acronyms: dict[str, str] | None = None):
        self.ids, self.doc_len, self.rows, self.cols, self.tf = ids, doc_len, rows, cols, tf
        self.vocab = vocab
        self.acronyms = acronyms or {}

    @classmethod
    def from_chunks(cls, ids: Sequence[str], texts: Sequence[str], acronyms: dict[str, str] | None = None) -> LoadTokens:
        vocab: dict[str, int] = {}
        rows, cols, tf, doc_len = [], [], [], []
        for n, text in enumerate(texts):
            toks = terms(text) or [""]
            doc_len.append(len(toks))
            counts: dict[int, int] = {}
            for t in toks:
                j = vocab.setdefault(t, len(vocab))
                counts[j] = counts.get(j, 0) + 1
            rows.extend([n] * len(counts))
            cols.extend(counts)
            tf.extend(counts.values())
        return cls(list(ids), np.asarray(doc_len, dtype=np.int32), np.asarray(rows, dtype=np.int32),
                   np.asarray(cols, dtype=np.int32), np.asarray(tf, dtype=np.int32), list(vocab), acronyms)

    @classmethod
    def concat(cls, parts: Sequence[LoadTokens]) -> LoadTokens:
        """One LoadTokens for several, in order, over a merged vocabulary (acronyms: the first definition wins).
        Parts that share one vocabulary list (cut from one snapshot) are mapped once."""
        if len(parts) == 1:
            return parts[0]
        vocab: dict[str, int] = {}
        mappings: dict[int, np.ndarray] = {}
        ids: list[str] = []
        rows, cols, tf, lens = [], [], [], []
        acronyms: dict[str, str] = {}
        offset = 0
        for p in parts:
            mapping = mappings.get(id(p.vocab))
            if mapping is None:
                mapping = mappings[id(p.vocab)] = np.asarray([vocab.setdefault(t, len(vocab)) for t in p.vocab],
                                                             dtype=np.int32)
            ids.extend(p.ids)
            rows.append(p.rows + offset)
            cols.append(mapping[p.cols] if len(p.cols) else p.cols)
            tf.append(p.tf)
            lens.append(p.doc_len)
            offset += len(p.ids)
            for k, v in p.acronyms.items():
                acronyms.setdefault(k, v)
        cat = (lambda xs: np.concatenate(xs) if xs else np.zeros(0, dtype=np.int32))
        return cls(ids, cat(lens), cat(rows), cat(cols), cat(tf), list(vocab), acronyms)

    @staticmethod
    def save_many(path: Path, parts: dict[str, LoadTokens]) -> None:
        """Several loads' tokens in one cache file (written atomically: a reader never sees half of one), each
        load's rows findable again by its key. Best effort: a read-only folder only means the tokens are
        computed again next time."""
        keys = list(parts)
        merged = LoadTokens.concat([parts[k] for k in keys]) if keys else LoadTokens([], np.zeros(0, np.int32),
                                                                                     *(np.zeros(0, np.int32),) * 3, [])
        bounds = np.cumsum([0] + [len(parts[k].ids) for k in keys]).astype(np.int64)
        acronyms = [parts[k].acronyms for k in keys]
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_name(f".{path.stem}.{os.getpid()}.tmp.npz")
            np.savez(tmp, ids=np.asarray(merged.ids, dtype=str), doc_len=merged.doc_len, rows=merged.rows,
                     cols=merged.cols, tf=merged.tf, vocab=np.asarray(merged.vocab, dtype=str),
                     keys=np.asarray(keys, dtype=str), bounds=bounds, acronyms=np.asarray(json.dumps(acronyms)))
            os.replace(tmp, path)
        except OSError:
            pass

    @staticmethod
    def keys_in(path: Path) -> set[str]:
        """Which loads a cache file holds (without reading their tokens)."""
        try:
            with np.load(path, allow_pickle=False) as data:
                return set(data["keys"].tolist())
        except (OSError, ValueError, KeyError):
            return set()

    @classmethod
    def load_many(cls, path: Path) -> dict[str, LoadTokens]:
        """The loads of a cache file, as views of its arrays sharing one vocabulary ({} if it cannot be read)."""
        try:
            with np.load(path, allow_pickle=False) as data:
                ids, doc_len, rows, cols, tf = (data["ids"].tolist(), data["doc_len"], data["rows"], data["cols"],
                                                data["tf"])
                vocab, keys, bounds = data["vocab"].tolist(), data["keys"].tolist(), data["bounds"]
                acronyms = json.loads(str(data["acronyms"]))
        except (OSError, ValueError, KeyError):
            return {}
        starts = np.searchsorted(rows, bounds)  # rows are in document order
        out = {}
        for n, key in enumerate(keys):
            a, b = int(bounds[n]), int(bounds[n + 1])
            lo, hi = int(starts[n]), int(starts[n + 1])
            out[key] = cls(ids[a:b], doc_len[a:b], rows[lo:hi] - a, cols[lo:hi], tf[lo:hi], vocab, acronyms[n])
        return out

    def to_lexical(self) -> LexicalIndex:
        return LexicalIndex.from_counts(self)


def bm25_scores(counts: LoadTokens, k1: float = K1, b: float = B) -> dict:
    """bm25s' score matrix (column-compressed: per term, the documents it occurs in and their scores) from term
    counts, with its Lucene idf and term-frequency formulas."""
    n_docs, n_vocab = len(counts.ids), len(counts.vocab)
    doc_len = counts.doc_len.astype(np.float32)
    avg = float(doc_len.mean()) if n_docs else 1.0
    df = np.bincount(counts.cols, minlength=n_vocab)
    idf = np.log(1 + (n_docs - df + 0.5) / (df + 0.5)).astype(np.float32)
    tf = counts.tf.astype(np.float32)
    tfc = tf / (k1 * ((1 - b) + b * doc_len[counts.rows] / avg) + tf)
    order = np.argsort(counts.cols, kind="stable")
    data = (idf[counts.cols] * tfc)[order].astype(np.float32)
    indices = counts.rows[order].astype(np.int32)
    indptr = np.zeros(n_vocab + 1, dtype=np.int64)
    np.cumsum(df, out=indptr[1:])
    return {"data": data, "indices": indices, "indptr": indptr, "num_docs": n_docs}


class LexicalIndex:
    def __init__(self, ids: Sequence[str], retriever=None):
        self.ids = list(ids)
        self._bm25 = retriever

    @classmethod
    def build(cls, ids: Sequence[str], texts: Sequence[str]) -> LexicalIndex:
        return LoadTokens.from_chunks(ids, texts).to_lexical()

    @classmethod
    def from_counts(cls, counts: LoadTokens) -> LexicalIndex:
        import bm25s

        logging.getLogger("bm25s").setLevel(logging.WARNING)
        if not counts.ids:
            return cls([], None)
        retriever = bm25s.BM25(k1=K1, b=B)
        retriever.scores = bm25_scores(counts)
        retriever.vocab_dict = {t: i for i, t in enumerate(counts.vocab)}
        retriever.unique_token_ids_set = set(retriever.vocab_dict.values())
        retriever.nonoccurrence_array = None
        return cls(counts.ids, retriever)

    def scores(self, query: str) -> np.ndarray | None:
        """BM25 score of every chunk (aligned with `ids`), or None when no query term is in the index."""
        if self._bm25 is None:
            return None
        q = [t for t in terms(query) if t in self._bm25.vocab_dict]
        if not q:
            return None
        return self._bm25.get_scores(q)

    def idf(self, term: str) -> float:
        """Inverse document frequency of a stemmed term (0 when unknown): used to weigh query words."""
        if self._bm25 is None or term not in self._bm25.vocab_dict:
            return 0.0
        n = len(self.ids)
        col = self._bm25.vocab_dict[term]
        df = self._df().get(col, 0)
        return float(np.log(1 + (n - df + 0.5) / (df + 0.5)))

    def max_idf(self) -> float:
        """The IDF a term found in no chunk would have: the rarest a term can be."""
        n = len(self.ids)
        return float(np.log(1 + (n + 0.5) / 0.5)) if n else 1.0

    def _df(self) -> dict[int, int]:
        if not hasattr(self, "_df_cache"):
            ptr = self._bm25.scores["indptr"]
            counts = np.diff(ptr)
            self._df_cache = {i: int(c) for i, c in enumerate(counts)}
        return self._df_cache
