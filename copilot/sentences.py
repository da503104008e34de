"""Sentences of stored chunks: their spans and vectors, packed into the chunk's metadata at ingest.

Every chunk is stored with its sentence spans (offsets into its text, with list structure) and one vector per
sentence, pooled from the token embeddings of the pass that embeds the chunk, so the answerer can compare each
sentence with the question at no extra model cost. Vectors are kept as int8 (a cosine error below 0.01),
base64-encoded: about 0.5 KB a sentence.
"""

from __future__ import annotations

import base64

import numpy as np

from .text import Span

SPANS_KEY = "sentences"
VECTORS_KEY = "sentence_vectors"


def pack_spans(spans: list[Span]) -> str:
    """'0:54:p;55:120:i-;121:160:c' - start:end:kind(+marker) per sentence; kind p = opens a paragraph,
    c = continues one, i = opens a list item (its marker follows), j = continues an item."""
    out = []
    for s in spans:
        kind = ("i" if s.opens else "j") if s.item else ("p" if s.opens else "c")
        out.append(f"{s.start}:{s.end}:{kind}{s.marker}")
    return ";".join(out)


def unpack_spans(packed: str) -> list[Span]:
    spans = []
    for part in filter(None, (packed or "").split(";")):
        start, end, rest = part.split(":", 2)
        kind, marker = rest[:1], rest[1:]
        spans.append(Span(int(start), int(end), kind in "ij", kind in "ip", marker))
    return spans


def pack_vectors(vectors: np.ndarray) -> str:
    """Unit vectors as int8 (value * 127), base64."""
    q = np.clip(np.rint(np.asarray(vectors, dtype=np.float32) * 127), -127, 127).astype(np.int8)
    return base64.b64encode(q.tobytes()).decode("ascii")


def unpack_vectors(packed: str, dim: int) -> np.ndarray:
    raw = np.frombuffer(base64.b64decode(packed or ""), dtype=np.int8).astype(np.float32)
    if dim <= 0 or raw.size % dim:
        return np.zeros((0, dim), dtype=np.float32)
    v = raw.reshape(-1, dim)
    return v / np.maximum(np.linalg.norm(v, axis=1, keepdims=True), 1e-12)


def from_metadata(metadata: dict, dim: int) -> tuple[list[Span] | None, np.ndarray | None]:
    """A stored chunk's sentence spans and vectors (None for what it does not have)."""
    spans = unpack_spans(metadata[SPANS_KEY]) if metadata.get(SPANS_KEY) else None
    vectors = unpack_vectors(metadata[VECTORS_KEY], dim) if metadata.get(VECTORS_KEY) else None
    if spans is not None and vectors is not None and len(vectors) != len(spans):
        vectors = None
    return spans, vectors
