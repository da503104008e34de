"""A large, realistic document set for the scale benchmarks, with vectors from the real model kept on disk.

    .venv/bin/python benchmarks/scale_corpus.py --chunks 100000            # write the documents and vectors

Documents are company handbooks written from the built-in corpus: each section takes a corpus section's
sentences (a random subset, shuffled), puts them in a company's words (its name) and adds one
company-specific sentence, so every chunk is distinct but reads like CX text and clusters the way real CX
passages do. Files go to `.benchmarks-cache/scale-corpus/` (git-ignored).

Vectors: embedding 100k passages with all-MiniLM-L6-v2 takes hours on 2 shared cores, so each chunk's
vector is the normalised mean of the real model's vectors of its heading and of the corpus sentences it was
written from (a few thousand distinct texts, embedded once), plus a little noise (sigma 0.01 per dimension)
so no two chunks coincide. They live in the model's own space and cluster by topic like real passages;
questions are embedded live by the real model. `StoredVectors` hands them to the index by chunk text.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import random
import re
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

CACHE = ROOT / ".benchmarks-cache"
COMPANIES = ["Acme", "Northwind", "Contoso", "Globex", "Initech", "Umbrella", "Stark", "Wayne", "Tyrell", "Cyberdyne",
             "Hooli", "Vandelay", "Wonka", "Soylent", "Gringotts", "Oscorp", "Monarch", "Aperture", "Duff", "Zorg"]
SUFFIXES = ["Bank", "Telecom", "Retail", "Airlines", "Insurance", "Health", "Energy", "Logistics", "Software", "Foods"]
CITIES = ["Leeds", "Lyon", "Porto", "Austin", "Osaka", "Pune", "Gdansk", "Cork", "Tampere", "Bilbao", "Denver", "Perth"]
TEAMS = ["service desk", "retention team", "CX office", "insights team", "contact centre", "field service team"]
METRICS = ["NPS", "CSAT", "CES", "first contact resolution", "average handle time", "churn", "retention rate"]


def corpus_sections() -> list[tuple[str, str, list[str]]]:
    """(document title, section heading, sentences) for every section of the built-in corpus."""
    from copilot.config import builtin_corpus_dir
    from copilot.documents import load_document
    from copilot.text import split_sentences

    out = []
    for path in sorted(builtin_corpus_dir().glob("*.md")):
        doc = load_document(path)
        for sec in doc.sections:
            sentences = [s for s in split_sentences(sec.text) if len(s.split()) >= 5]
            if len(sentences) >= 3:
                out.append((doc.title, sec.headings[-1] if sec.headings else doc.title, sentences))
    return out


def company(k: int) -> str:
    return f"{COMPANIES[k % len(COMPANIES)]} {SUFFIXES[(k // len(COMPANIES)) % len(SUFFIXES)]} {k // 200 + 1}"


def generate(folder: Path, chunks: int, seed: int = 11, sections_per_doc: int = 12) -> dict[str, list[list[str]]]:
    """Write about `chunks` chunks' worth of handbooks (one section is one chunk) into `folder`. Returns, per
    file name, for each section the corpus texts it was written from (heading first)."""
    rng = random.Random(seed)
    sections = corpus_sections()
    folder.mkdir(parents=True, exist_ok=True)
    origins: dict[str, list[list[str]]] = {}
    for k in range((chunks + sections_per_doc - 1) // sections_per_doc):
        name = company(k)
        parts = [f"# {name} customer experience handbook\n"]
        origin = []
        for title, heading, sentences in rng.sample(sections, sections_per_doc):
            pick = rng.sample(sentences, min(len(sentences), rng.randint(3, 6)))
            body = " ".join(re.sub(r"\b(a company|the company|companies|organisations?)\b", name, s, count=1)
                            for s in pick)
            extra = (f"At {name} the {rng.choice(TEAMS)} in {rng.choice(CITIES)} reviews {rng.choice(METRICS)} "
                     f"every {rng.randint(1, 12)} weeks against a target of {rng.randint(5, 95)}.")
            parts.append(f"## {heading} ({title}, {name} edition {rng.randint(1, 9)})\n\n{body} {extra}\n")
            origin.append([f"{title} — {heading}", *pick])
        file = f"handbook-{k:05d}.md"
        (folder / file).write_text("\n".join(parts), encoding="utf-8")
        origins[file] = origin
    return origins


def text_key(text: str) -> str:
    return hashlib.sha1(text.encode("utf-8")).hexdigest()


def build_vectors(folder: Path, origins: dict[str, list[list[str]]], out: Path, noise: float = 0.01,
                  seed: int = 5) -> int:
    """Vectors for every chunk of the generated files (see the module docstring), saved as one .npz keyed by
    the sha1 of the chunk's embedding text. Returns how many."""
    from copilot.chunking import chunk_document
    from copilot.documents import load_document
    from copilot.embeddings import make_embedder

    embedder = make_embedder()
    distinct = sorted({t for per_file in origins.values() for sec in per_file for t in sec})
    print(f"embedding {len(distinct)} distinct corpus texts with {embedder.name}", flush=True)
    t0 = time.perf_counter()
    table = dict(zip(distinct, embedder.embed(distinct)))
    print(f"  {time.perf_counter() - t0:.0f} s", flush=True)
    rng = np.random.default_rng(seed)
    keys, vectors = [], []
    for file, per_section in origins.items():
        chunks = chunk_document(load_document(folder / file))
        if len(chunks) != len(per_section):
            raise RuntimeError(f"{file}: {len(chunks)} chunks for {len(per_section)} sections")
        for chunk, texts in zip(chunks, per_section):
            v = np.mean([table[t] for t in texts], axis=0) + rng.normal(0, noise, embedder.dim)
            keys.append(text_key(chunk.embedding_text()))
            vectors.append(v / np.linalg.norm(v))
    out.parent.mkdir(parents=True, exist_ok=True)
    np.savez(out, keys=np.array(keys), vectors=np.asarray(vectors, dtype=np.float32),
             model=np.array(embedder.name))
    return len(keys)


class StoredVectors:
    """An embedder that hands back the stored vector of each chunk text (and embeds questions with the real
    model), so the index is built in minutes instead of hours. Describes itself as the real model."""

    def __init__(self, path: Path = CACHE / "scale-vectors.npz", inner=None):
        from copilot.embeddings import make_embedder

        self.inner = inner or make_embedder()
        self.name, self.dim = self.inner.name, self.inner.dim
        with np.load(path) as data:
            self.table = dict(zip(data["keys"].tolist(), data["vectors"]))
        self.misses = 0

    def describe(self) -> dict:
        return self.inner.describe()

    def embed_query(self, text: str) -> np.ndarray:
        return self.inner.embed_query(text)

    def embed(self, texts, progress=None) -> np.ndarray:
        out = []
        for t in texts:
            v = self.table.get(text_key(t))
            if v is None:
                self.misses += 1
                v = self.inner.embed([t])[0]
            out.append(v)
        if progress:
            progress(len(texts))
        return np.asarray(out, dtype=np.float32).reshape(len(texts), self.dim)

    def embed_batch(self, texts):
        return self.embed(texts)

    def embed_with_spans(self, texts, spans, progress=None):
        """The Index also stores a vector per sentence. Each sentence gets its chunk's stored vector: the same
        bytes in the store as real sentence vectors (so load time, disk and memory are what they would be),
        and no model call. The answer's choice of sentences is not what the scale run measures."""
        vectors = self.embed(texts, progress)
        return vectors, [np.repeat(v[None, :], len(ss), axis=0) for v, ss in zip(vectors, spans)]


def ensure(chunks: int = 100_000, folder: Path = CACHE / "scale-corpus") -> tuple[Path, Path]:
    """The document set and its vectors, made once (the marker file records how many chunks)."""
    vectors = CACHE / "scale-vectors.npz"
    marker = folder / ".complete"
    if not (marker.exists() and marker.read_text() == str(chunks) and vectors.exists()):
        import shutil

        shutil.rmtree(folder, ignore_errors=True)
        origins = generate(folder, chunks)
        n = build_vectors(folder, origins, vectors)
        marker.write_text(str(chunks))
        print(f"wrote {len(origins)} documents ({n} chunks) to {folder} and their vectors to {vectors}", flush=True)
    return folder, vectors


def chunks_with_vectors(n: int):
    """The first `n` chunks of the document set as the store sees them: ids, vectors, passages, metadata."""
    from copilot.chunking import chunk_document
    from copilot.documents import load_document

    folder, vectors_path = ensure(max(n, 100_000))
    with np.load(vectors_path) as data:
        table = dict(zip(data["keys"].tolist(), data["vectors"]))
    ids, vectors, texts, metas = [], [], [], []
    for path in sorted(folder.glob("*.md")):
        for c in chunk_document(load_document(path)):
            ids.append(c.id)
            vectors.append(table[text_key(c.embedding_text())])
            texts.append(c.text)
            metas.append({**c.metadata(), "load": "bench"})
            if len(ids) == n:
                return ids, np.asarray(vectors, dtype=np.float32), texts, metas
    return ids, np.asarray(vectors, dtype=np.float32), texts, metas


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--chunks", type=int, default=100_000)
    args = ap.parse_args()
    ensure(args.chunks)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
