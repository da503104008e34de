"""The vector store: a thin adapter over a persistent Chroma collection. The only module that imports chromadb.

We always hand Chroma our own embeddings, so its default embedding function (which would download a model)
is never used; telemetry is off.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

COLLECTION = "cx_chunks"
# Chroma's HNSW defaults lose recall on large collections; these keep recall high at 100k vectors.
HNSW = {"space": "cosine", "ef_construction": 200, "max_neighbors": 32, "ef_search": 128}


@dataclass
class StoredChunk:
    id: str
    text: str
    metadata: dict


def release_clients() -> None:
    """Drop Chroma's in-process client cache, so an index folder that was moved or deleted can be re-created
    at the same path in this process."""
    from chromadb.api.shared_system_client import SharedSystemClient

    SharedSystemClient.clear_system_cache()


class VectorStore:
    """Chunks with their vectors. Implemented by ChromaStore; small enough to fake."""

    def upsert(self, ids: Sequence[str], vectors: np.ndarray, texts: Sequence[str], metadatas: Sequence[dict]) -> None:
        raise NotImplementedError

    def delete(self, ids: Sequence[str]) -> None:
        raise NotImplementedError

    def get(self, ids: Sequence[str]) -> list[StoredChunk]:
        raise NotImplementedError

    def vectors(self, ids: Sequence[str]) -> dict[str, np.ndarray]:
        raise NotImplementedError

    def query(self, vector: np.ndarray, k: int) -> list[tuple[str, float]]:
        """The k nearest chunks as (id, cosine similarity), best first."""
        raise NotImplementedError

    def all(self) -> list[StoredChunk]:
        raise NotImplementedError

    def count(self) -> int:
        raise NotImplementedError


class ChromaStore(VectorStore):
    def __init__(self, path: str | Path | None = None, client=None, collection: str = COLLECTION):
        os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
        import chromadb
        from chromadb.config import Settings

        if client is None:
            client = chromadb.PersistentClient(path=str(path), settings=Settings(anonymized_telemetry=False))
        self.client = client
        self.collection = client.get_or_create_collection(
            collection, configuration={"hnsw": dict(HNSW)}, metadata={"app": "cx-copilot"},
            embedding_function=None)

    def upsert(self, ids, vectors, texts, metadatas):
        step = 2000  # stay under Chroma's maximum batch size
        for i in range(0, len(ids), step):
            self.collection.upsert(ids=list(ids[i:i + step]), embeddings=np.asarray(vectors[i:i + step]),
                                   documents=list(texts[i:i + step]), metadatas=list(metadatas[i:i + step]))

    def delete(self, ids):
        ids = list(ids)
        for i in range(0, len(ids), 2000):
            self.collection.delete(ids=ids[i:i + 2000])

    def get(self, ids):
        if not ids:
            return []
        res = self.collection.get(ids=list(ids), include=["documents", "metadatas"])
        by_id = {i: StoredChunk(i, d, m or {}) for i, d, m in zip(res["ids"], res["documents"], res["metadatas"])}
        return [by_id[i] for i in ids if i in by_id]

    def vectors(self, ids):
        if not ids:
            return {}
        res = self.collection.get(ids=list(ids), include=["embeddings"])
        return {i: np.asarray(v, dtype=np.float32) for i, v in zip(res["ids"], res["embeddings"])}

    def query(self, vector, k):
        n = self.count()
        if n == 0:
            return []
        res = self.collection.query(query_embeddings=[np.asarray(vector, dtype=np.float32)], n_results=min(k, n),
                                    include=["distances"])
        return [(i, 1.0 - float(d)) for i, d in zip(res["ids"][0], res["distances"][0])]

    def all(self):
        out: list[StoredChunk] = []
        total = self.count()
        step = 5000
        for offset in range(0, total, step):
            res = self.collection.get(include=["documents", "metadatas"], limit=step, offset=offset)
            out.extend(StoredChunk(i, d, m or {}) for i, d, m in zip(res["ids"], res["documents"], res["metadatas"]))
        return out

    def count(self):
        return self.collection.count()
