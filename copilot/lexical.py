"""BM25 over chunk texts (bm25s), with our own tokenizer so acronyms and exact terms (NPS, FCR) match."""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from .text import terms


class LexicalIndex:
    def __init__(self, ids: Sequence[str], retriever=None):
        self.ids = list(ids)
        self._bm25 = retriever

    @classmethod
    def build(cls, ids: Sequence[str], texts: Sequence[str]) -> LexicalIndex:
        import bm25s

        logging.getLogger("bm25s").setLevel(logging.WARNING)
        if not ids:
            return cls([], None)
        retriever = bm25s.BM25(k1=1.2, b=0.75)
        tokens = [terms(t) or [""] for t in texts]
        retriever.index(tokens, show_progress=False)
        return cls(ids, retriever)

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

    def save(self, folder: Path, revision: str) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        if self._bm25 is not None:
            self._bm25.save(str(folder / "bm25"))
        (folder / "ids.json").write_text(json.dumps({"revision": revision, "ids": self.ids}))

    @classmethod
    def load(cls, folder: Path, revision: str) -> LexicalIndex | None:
        try:
            meta = json.loads((folder / "ids.json").read_text())
        except (OSError, ValueError):
            return None
        if meta.get("revision") != revision:
            return None
        if not meta["ids"]:
            return cls([], None)
        import bm25s

        try:
            retriever = bm25s.BM25.load(str(folder / "bm25"))
        except Exception:  # noqa: BLE001 - a damaged cache is rebuilt
            return None
        return cls(meta["ids"], retriever)
