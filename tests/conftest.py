"""Shared fixtures: every test gets its own index directory; PDFs are generated here, not stored."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

from copilot import devset  # noqa: E402  (after the offline settings)

PROJECT = Path(__file__).resolve().parents[1]
CORPUS = PROJECT / "corpus"


@pytest.fixture(autouse=True)
def isolated_state(tmp_path, monkeypatch):
    """All user state (COPILOT_INDEX_DIR) points into the test's own temporary folder."""
    monkeypatch.setenv("COPILOT_INDEX_DIR", str(tmp_path / "state" / "index"))
    for name in ("COPILOT_EMBEDDER", "COPILOT_BACKEND", "COPILOT_CORPUS_DIR", "COPILOT_ADMIN_PASSWORD"):
        monkeypatch.delenv(name, raising=False)
    yield


def make_pdf(path: Path, pages: list[str], title: str | None = None) -> Path:
    """Write a small, valid PDF with one text page per string (the development set's PDF writer)."""
    path.write_bytes(devset.make_pdf(pages, title))
    return path


@pytest.fixture
def pdf_factory(tmp_path):
    def factory(name: str, pages: list[str], title: str | None = None) -> Path:
        return make_pdf(tmp_path / name, pages, title)
    return factory


SMALL_CORPUS = {
    "nps.md": """---
title: Net Promoter Score (NPS)
topic: metrics
summary: How NPS works.
sources:
  - name: Bain & Company
    url: https://www.netpromotersystem.com/
last_reviewed: 2026-11-01
---

# Net Promoter Score (NPS)

## What is NPS?

The Net Promoter Score (NPS) measures how likely customers are to recommend a company on a scale from 0 to 10.
NPS is reported as a number between -100 and +100.

## How is NPS calculated?

NPS is calculated by subtracting the percentage of detractors from the percentage of promoters.
Promoters answer 9 or 10, passives answer 7 or 8 and detractors answer 0 to 6.
""",
    "ces.md": """---
title: Customer Effort Score (CES)
topic: metrics
---

# Customer Effort Score (CES)

## What is CES?

Customer effort score (CES) measures how easy it was for a customer to get an issue resolved.
CES surveys use a seven-point agreement scale in the CES 2.0 version.

## When should you use CES?

CES is best used right after a service interaction such as a support call or a returns process.
""",
    "journeys.md": """# Journey mapping

## What is a customer journey map?

A customer journey map is a visual story of the steps a customer takes to reach a goal with a company.
Journey maps show touchpoints, actions, emotions and pain points at each stage.

## How do you create a journey map?

Creating a journey map starts with choosing a persona and a scenario.
The team then gathers research, lists the stages and marks the moments of truth.
""",
}


@pytest.fixture
def small_corpus(tmp_path) -> Path:
    folder = tmp_path / "small-corpus"
    folder.mkdir()
    for name, text in SMALL_CORPUS.items():
        (folder / name).write_text(text, encoding="utf-8")
    return folder


@pytest.fixture
def fake_copilot(tmp_path, small_corpus):
    """A Copilot over the small corpus with the deterministic hash embedder and a real Chroma store."""
    from copilot import Copilot
    from copilot.embeddings import HashEmbedder
    from copilot.retrieval import RetrievalSettings

    # the hash embedder's similarities run lower than a real model's: scale the out-of-scope gate to it
    settings = RetrievalSettings(min_dense=0.05, min_fused=0.05)
    return Copilot(tmp_path / "fake-index", embedder=HashEmbedder(), corpus=small_corpus, retrieval=settings)


@pytest.fixture(scope="session")
def real_index(tmp_path_factory) -> Path:
    """The built-in corpus indexed once per test session with the real model and real Chroma."""
    from copilot import Copilot

    folder = tmp_path_factory.mktemp("real") / "index"
    Copilot(folder)
    return folder


@pytest.fixture(scope="session")
def real_copilot(real_index):
    from copilot import Copilot

    cp = Copilot(real_index)
    cp.answer("What is customer experience?")  # load the model once
    return cp


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def chroma_server(tmp_path_factory):
    """`chroma run` (shipped with chromadb) on a free port, for the whole session; stopped afterwards."""
    import httpx

    exe = Path(sys.executable).with_name("chroma")
    if not exe.exists():
        pytest.fail(f"{exe} is missing: the chromadb package ships it")
    port = free_port()
    folder = tmp_path_factory.mktemp("chroma-server")
    log = open(folder / "server.log", "w")
    proc = subprocess.Popen([str(exe), "run", "--path", str(folder / "data"), "--host", "127.0.0.1", "--port", str(port)],
                            stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            if httpx.get(f"{url}/api/v2/heartbeat", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            pytest.fail("chroma run did not start: " + (folder / "server.log").read_text()[-2000:])
        time.sleep(0.2)
    yield url
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
    log.close()
