"""What the embedded and the server Chroma backends share: the collection adapter, our HNSW settings and the
records collection. Chroma's default embedding function (which would download a model) is never used: we always
hand Chroma our own vectors. Telemetry is off."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping

import numpy as np

from .base import StateStore, StoreGoneError, StoredChunk, VectorStore

os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")

# Graph settings for new collections (existing ones keep what they were made with; see
# benchmarks/insert_speed.py for how they were chosen).
HNSW = {"space": "cosine", "ef_construction": 200, "max_neighbors": 32, "ef_search": 128}
# New collections keep each passage in this metadata key instead of Chroma's document field: Chroma indexes
# documents for full-text search, which this index never uses (BM25 is ours), and that index was a third of
# the cost of every insert. Collections made before keep their passages as documents; both are read.
PASSAGE = "cx_passage"


def batch_size(client, most: int = 5000) -> int:
    """Items per call: as many as the client takes, up to `most` (bigger calls insert faster; see
    benchmarks/insert_speed.py), and well under SQLite's 32,766 variables."""
    try:
        return max(1, min(most, int(client.get_max_batch_size())))
    except Exception:  # noqa: BLE001
        return 1000


def settings():
    from chromadb.config import Settings

    return Settings(anonymized_telemetry=False)


def chunk_collection(client, name: str):
    return client.get_or_create_collection(name, configuration={"hnsw": dict(HNSW)},
                                           metadata={"app": "cx-copilot", "passages": PASSAGE},
                                           embedding_function=None)


def _clean(meta: Mapping) -> dict:
    """Chroma refuses None values and empty dicts; everything else passes through unchanged."""
    return {k: v for k, v in meta.items() if v is not None}


def gone(exc: Exception) -> bool:
    return type(exc).__name__ == "NotFoundError" or "does not exist" in str(exc)


class _Guarded:
    """A Chroma collection whose calls raise StoreGoneError once the collection has been deleted."""

    def __init__(self, collection):
        self._collection = collection

    def __getattr__(self, name):
        attr = getattr(self._collection, name)
        if not callable(attr):
            return attr

        def call(*args, **kwargs):
            try:
                return attr(*args, **kwargs)
            except Exception as exc:
                if gone(exc):
                    raise StoreGoneError(str(exc)) from exc
                raise
        return call


class ChromaStore(VectorStore):
    """A Chroma collection (embedded or on a server) as a VectorStore."""

    def __init__(self, collection, batch_size: int = 1000, on_close=None):
        self.collection = _Guarded(collection)
        self.batch_size = batch_size
        self._on_close = on_close
        self.in_metadata = (collection.metadata or {}).get("passages") == PASSAGE

    def upsert(self, ids, vectors, texts, metadatas):
        vectors = np.asarray(vectors, dtype=np.float32)
        for i in range(0, len(ids), self.batch_size):
            part = slice(i, i + self.batch_size)
            metas = [_clean(m) for m in metadatas[part]]
            if self.in_metadata:
                for m, t in zip(metas, texts[part]):
                    m[PASSAGE] = t
                self.collection.upsert(ids=list(ids[part]), embeddings=vectors[part], metadatas=metas)
            else:
                self.collection.upsert(ids=list(ids[part]), embeddings=vectors[part], documents=list(texts[part]),
                                       metadatas=metas)

    def _include(self, texts: bool) -> list[str]:
        return ["metadatas"] + (["documents"] if texts and not self.in_metadata else [])

    def _chunk(self, cid: str, meta: dict | None, doc: str | None, texts: bool, vector=None) -> StoredChunk:
        meta = dict(meta or {})
        passage = meta.pop(PASSAGE, None)
        text = (passage if passage is not None else doc or "") if texts else ""
        return StoredChunk(cid, text, meta, np.asarray(vector, dtype=np.float32) if vector is not None else None)

    def delete(self, ids):
        ids = list(ids)
        for i in range(0, len(ids), self.batch_size):
            self.collection.delete(ids=ids[i:i + self.batch_size])

    def delete_where(self, key, value):
        while True:  # page through the matching ids, so no single call grows with the number of chunks
            res = self.collection.get(where={key: value}, limit=self.batch_size, include=[])
            if not res["ids"]:
                return
            self.collection.delete(ids=res["ids"])

    def get(self, ids, *, texts=True, vectors=False):
        ids = list(ids)
        include = self._include(texts) + (["embeddings"] if vectors else [])
        found: dict[str, StoredChunk] = {}
        for i in range(0, len(ids), self.batch_size):
            res = self.collection.get(ids=ids[i:i + self.batch_size], include=include)
            docs = res.get("documents") if "documents" in include else None
            embs = res.get("embeddings") if vectors else None
            for n, cid in enumerate(res["ids"]):
                found[cid] = self._chunk(cid, res["metadatas"][n], docs[n] if docs is not None else None, texts,
                                         embs[n] if embs is not None else None)
        return [found[i] for i in ids if i in found]

    def query(self, vector, k):
        if k <= 0:
            return []
        res = self.collection.query(query_embeddings=[np.asarray(vector, dtype=np.float32)], n_results=k,
                                    include=["distances"])
        if not res["ids"] or not res["ids"][0]:
            return []
        return [(i, 1.0 - float(d)) for i, d in zip(res["ids"][0], res["distances"][0])]

    def query_chunks(self, vector, k):
        if k <= 0:
            return []
        res = self.collection.query(query_embeddings=[np.asarray(vector, dtype=np.float32)], n_results=k,
                                    include=["metadatas", "distances"])
        if not res["ids"] or not res["ids"][0]:
            return []
        return [(self._chunk(i, m, None, False), 1.0 - float(d))
                for i, m, d in zip(res["ids"][0], res["metadatas"][0], res["distances"][0])]

    def scan(self, where=None, texts=True):
        include = self._include(texts)
        offset = 0
        while True:
            res = self.collection.get(where=dict(where) if where else None, limit=self.batch_size, offset=offset,
                                      include=include)
            if not res["ids"]:
                return
            docs = res.get("documents") if "documents" in include else None
            yield [self._chunk(i, res["metadatas"][n], docs[n] if docs is not None else None, texts)
                   for n, i in enumerate(res["ids"])]
            offset += len(res["ids"])

    def count(self):
        return self.collection.count()

    def close(self):
        on_close, self._on_close = self._on_close, None
        if on_close is not None:
            on_close()


class ChromaRecords(StateStore):
    """Small JSON records in a Chroma collection of their own (each with a placeholder 1-d vector), so every
    replica on a server reads the same state. Keys are paths ('source/<gen>/<name>'); `scan` takes a folder
    ('source/<gen>/', 'journal/')."""

    def __init__(self, collection, batch_size: int = 1000):
        self.collection = collection
        self.batch_size = batch_size

    @staticmethod
    def _groups(key: str) -> dict:
        """'journal/gen/load' -> {"g1": "journal", "g2": "journal/gen"}: what `scan` filters on, per level."""
        parts = key.split("/")[:-1]
        return {f"g{i}": "/".join(parts[:i]) for i in range(1, len(parts) + 1)} or {"g0": ""}

    def get(self, key):
        res = self.collection.get(ids=[key], include=["documents"])
        return json.loads(res["documents"][0]) if res["ids"] else None

    def scan(self, prefix):
        if not prefix.endswith("/"):
            raise ValueError("scan a group: the prefix must end with '/'")
        where = {f"g{prefix.count('/')}": prefix[:-1]}
        out: dict[str, dict] = {}
        offset = 0
        while True:
            res = self.collection.get(where=where, limit=self.batch_size, offset=offset, include=["documents"])
            if not res["ids"]:
                return out
            out.update({k: json.loads(d) for k, d in zip(res["ids"], res["documents"])})
            offset += len(res["ids"])

    def put_many(self, records):
        items = list(records.items())
        for i in range(0, len(items), self.batch_size):
            part = items[i:i + self.batch_size]
            self.collection.upsert(ids=[k for k, _ in part], embeddings=np.ones((len(part), 1), dtype=np.float32),
                                   documents=[json.dumps(v, ensure_ascii=False) for _, v in part],
                                   metadatas=[self._groups(k) for k, _ in part])

    def delete(self, keys):
        keys = list(keys)
        for i in range(0, len(keys), self.batch_size):
            self.collection.delete(ids=keys[i:i + self.batch_size])
