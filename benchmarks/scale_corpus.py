"""A large, realistic document set for the scale benchmarks, and its vectors computed once and kept.

    .venv/bin/python benchmarks/scale_corpus.py --chunks 100000            # write the documents, embed them
    .venv/bin/python benchmarks/scale_corpus.py --chunks 100000 --no-embed # documents only

Documents are company handbooks written from the built-in corpus: each section takes a corpus section's
sentences (a random subset, shuffled), puts them in a company's words (its name, team, city and figures) and
adds one company-specific sentence, so every chunk is distinct but reads like CX text and clusters the way
real CX passages do. The files go to `.benchmarks-cache/scale-corpus/` (git-ignored).

Embedding 100k chunks with all-MiniLM-L6-v2 takes about an hour on 2 cores, so the vectors are computed once
by the real model and kept in `.benchmarks-cache/vectors/` (one .npz shard per batch, so an interrupted run
resumes). `CachedEmbedder` hands them back by text and falls back to the model for anything not cached: the
index it builds is the real model's index, and questions are embedded live.
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


def generate(folder: Path, chunks: int, seed: int = 11, sections_per_doc: int = 12) -> list[Path]:
    """Write about `chunks` chunks' worth of handbooks (one section is one chunk) into `folder`."""
    rng = random.Random(seed)
    sections = corpus_sections()
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for k in range((chunks + sections_per_doc - 1) // sections_per_doc):
        name = company(k)
        parts = [f"# {name} customer experience handbook\n"]
        for title, heading, sentences in rng.sample(sections, sections_per_doc):
            pick = rng.sample(sentences, min(len(sentences), rng.randint(3, 6)))
            body = " ".join(re.sub(r"\b(a company|the company|companies|organisations?)\b", name, s, count=1)
                            for s in pick)
            extra = (f"At {name} the {rng.choice(TEAMS)} in {rng.choice(CITIES)} reviews {rng.choice(METRICS)} "
                     f"every {rng.randint(1, 12)} weeks against a target of {rng.randint(5, 95)}.")
            parts.append(f"## {heading} ({title}, {name} edition {rng.randint(1, 9)})\n\n{body} {extra}\n")
        path = folder / f"handbook-{k:05d}.md"
        path.write_text("\n".join(parts), encoding="utf-8")
        paths.append(path)
    return paths


def text_key(text: str) -> str:
    return hashlib.sha1(text.encode("utf-8")).hexdigest()


class CachedEmbedder:
    """The real embedder, handing back vectors computed earlier for the same texts (see `embed_all`)."""

    def __init__(self, inner=None, folder: Path = CACHE / "vectors"):
        from copilot.embeddings import make_embedder

        self.inner = inner or make_embedder()
        self.name, self.dim = self.inner.name, self.inner.dim
        self.folder = folder / self.inner.name
        self.vectors: dict[str, np.ndarray] = {}
        for shard in sorted(self.folder.glob("*.npz")) if self.folder.exists() else []:
            data = np.load(shard)
            self.vectors.update(zip(data["keys"].tolist(), data["vectors"]))
        self.hits = self.misses = 0

    def describe(self) -> dict:
        return self.inner.describe()

    def embed_query(self, text: str) -> np.ndarray:
        return self.inner.embed_query(text)

    def embed(self, texts, progress=None) -> np.ndarray:
        keys = [text_key(t) for t in texts]
        todo = [t for t, k in zip(texts, keys) if k not in self.vectors]
        if todo:
            fresh = self.inner.embed(todo)
            self.vectors.update(zip([text_key(t) for t in todo], fresh))
        self.misses += len(todo)
        self.hits += len(texts) - len(todo)
        if progress:
            progress(len(texts))
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        return np.stack([self.vectors[k] for k in keys]).astype(np.float32)

    def embed_batch(self, texts):
        return self.embed(texts)


def embed_all(paths: list[Path], batch: int = 2048) -> None:
    """Embed every chunk of `paths` with the real model, a shard at a time; already cached texts are skipped."""
    from copilot.chunking import chunk_document
    from copilot.documents import load_document

    cache = CachedEmbedder()
    cache.folder.mkdir(parents=True, exist_ok=True)
    texts = []
    for p in paths:
        texts += [c.embedding_text() for c in chunk_document(load_document(p))]
    todo = list(dict.fromkeys(t for t in texts if text_key(t) not in cache.vectors))
    print(f"{len(texts)} chunks, {len(todo)} to embed", flush=True)
    start = time.perf_counter()
    shard = len(list(cache.folder.glob("*.npz")))
    for i in range(0, len(todo), batch):
        part = todo[i:i + batch]
        vectors = cache.inner.embed(part)
        np.savez(cache.folder / f"shard-{shard:05d}.npz", keys=np.array([text_key(t) for t in part]),
                 vectors=vectors.astype(np.float32))
        shard += 1
        done = i + len(part)
        rate = done / (time.perf_counter() - start)
        print(f"embedded {done}/{len(todo)} ({rate:.0f} chunks/s, ~{(len(todo) - done) / rate / 60:.0f} min left)",
              flush=True)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--chunks", type=int, default=100_000)
    ap.add_argument("--folder", default=str(CACHE / "scale-corpus"))
    ap.add_argument("--no-embed", action="store_true")
    args = ap.parse_args()
    paths = generate(Path(args.folder), args.chunks)
    print(f"wrote {len(paths)} documents to {args.folder}", flush=True)
    if not args.no_embed:
        embed_all(paths)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
