"""all-MiniLM-L6-v2 on ONNX Runtime: the same vectors as torch, made from the packaged model (at install or on
first use, never downloaded), torch when it cannot be had, and a `cx-copilot ask` that loads neither torch nor
sentence-transformers nor Gradio nor LangChain, with the same answer as the torch path."""

from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from copilot import embeddings
from copilot.embeddings import CHECK_SENTENCES, MIN_COSINE, MiniLMEmbedder, OnnxMiniLM, TorchMiniLM
from copilot.errors import CopilotError

from conftest import CORPUS, PROJECT, SMALL_CORPUS

pytestmark = pytest.mark.integration

# a fixed set apart from the one the export is checked on: the first lines of the corpus's answers
CORPUS_SENTENCES = [
    next(line for line in (CORPUS / name).read_text(encoding="utf-8").splitlines()
         if len(line.split()) > 8 and not line.startswith(("#", "-", "|", "title", "summary")))
    for name in sorted(p.name for p in CORPUS.glob("*.md"))[:12]
]
HEAVY = ("torch", "sentence_transformers", "transformers", "gradio", "langchain_core", "langchain_openai",
         "langchain_chroma", "xllamacpp")


@pytest.fixture(scope="module")
def torch_model() -> TorchMiniLM:
    return TorchMiniLM()


@pytest.fixture(scope="module")
def onnx_model() -> OnnxMiniLM:
    path = embeddings.find_onnx()
    assert path is not None, "the ONNX form is made at install: `cx-copilot export-onnx`"
    return OnnxMiniLM(path)


def lowest_cosine(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.min(np.sum(a * b, axis=1)))


def test_the_onnx_form_gives_the_torch_vectors(onnx_model, torch_model):
    from sentence_transformers import SentenceTransformer

    sentences = [*CHECK_SENTENCES, *CORPUS_SENTENCES]
    reference = SentenceTransformer(str(embeddings.model_dir()), device="cpu").encode(
        sentences, normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=False)
    ours = onnx_model.embed(sentences)
    assert ours.shape == reference.shape == (len(sentences), 384)
    assert lowest_cosine(ours, reference) >= MIN_COSINE
    assert np.allclose(np.linalg.norm(ours, axis=1), 1.0, atol=1e-5)
    assert lowest_cosine(onnx_model.embed_query("How is NPS calculated?")[None],
                         torch_model.embed_query("How is NPS calculated?")[None]) >= MIN_COSINE


def test_sentence_vectors_match_too(onnx_model, torch_model):
    """The span vectors pooled at ingest (one per sentence of a chunk) agree across runtimes, including a
    span past the model's 256-token limit, which each embeds on its own."""
    long = " ".join(CORPUS_SENTENCES)
    texts = [CORPUS_SENTENCES[0] + " " + CORPUS_SENTENCES[1], long + " " + long]
    spans = [[(0, len(CORPUS_SENTENCES[0])), (len(CORPUS_SENTENCES[0]) + 1, len(texts[0]))],
             [(0, 40), (len(texts[1]) - len(CORPUS_SENTENCES[-1]), len(texts[1]))]]
    v_onnx, s_onnx = onnx_model.embed_with_spans(texts, spans)
    v_torch, s_torch = torch_model.embed_with_spans(texts, spans)
    assert lowest_cosine(v_onnx, v_torch) >= MIN_COSINE
    for a, b in zip(s_onnx, s_torch):
        assert a.shape == b.shape and lowest_cosine(a, b) >= MIN_COSINE


def test_made_on_first_use_when_missing_then_found(tmp_path, monkeypatch):
    folder = tmp_path / "onnx"
    monkeypatch.setenv("COPILOT_ONNX_DIR", str(folder))
    embedder = MiniLMEmbedder()
    vector = embedder.embed_query("What is CES?")
    made = folder / embeddings.ONNX_FILE
    meta = json.loads(made.with_suffix(".json").read_text())
    assert isinstance(embedder.for_questions(), OnnxMiniLM) and embedder.for_questions().path == made
    assert meta["min_cosine"] >= MIN_COSINE and meta["sentences"] == len(CHECK_SENTENCES)
    assert not list(folder.glob(".*tmp"))  # written atomically: no leftovers
    stamp = made.stat().st_mtime_ns
    again = MiniLMEmbedder()
    assert lowest_cosine(again.embed_query("What is CES?")[None], vector[None]) >= 0.999999
    assert made.stat().st_mtime_ns == stamp  # found, not made again


def test_a_form_from_another_model_file_or_unchecked_is_not_used(tmp_path, monkeypatch, onnx_model):
    folder = tmp_path / "onnx"
    folder.mkdir()
    shutil.copy(onnx_model.path, folder / embeddings.ONNX_FILE)
    sidecar = json.loads(onnx_model.path.with_suffix(".json").read_text())
    monkeypatch.setenv("COPILOT_ONNX_DIR", str(folder))
    side = folder / embeddings.ONNX_FILE.replace(".onnx", ".json")
    side.write_text(json.dumps({**sidecar, "source": {**sidecar["source"], "size": 1}}))
    assert embeddings.find_onnx() is None  # made from other weights
    side.write_text(json.dumps({**sidecar, "min_cosine": 0.99}))
    assert embeddings.find_onnx() is None  # failed its check
    side.write_text("{broken")
    assert embeddings.find_onnx() is None
    side.write_text(json.dumps(sidecar))
    assert embeddings.find_onnx() == folder / embeddings.ONNX_FILE


def test_torch_does_the_work_when_onnx_cannot_be_had(tmp_path, monkeypatch, caplog, onnx_model):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    monkeypatch.setenv("COPILOT_ONNX_DIR", str(blocker / "onnx"))  # cannot be created
    embedder = MiniLMEmbedder()
    with caplog.at_level(logging.WARNING, logger="copilot.embeddings"):
        vector = embedder.embed_query("How is NPS calculated?")
    assert isinstance(embedder.for_questions(), TorchMiniLM)
    assert any("Embedding with torch" in r.message and "COPILOT_ONNX_DIR" in r.message for r in caplog.records)
    assert lowest_cosine(vector[None], onnx_model.embed_query("How is NPS calculated?")[None]) >= MIN_COSINE
    with pytest.raises(CopilotError, match="COPILOT_EMBED_RUNTIME=onnx.*COPILOT_ONNX_DIR"):
        MiniLMEmbedder("onnx").embed_query("How is NPS calculated?")
    with pytest.raises(CopilotError, match="COPILOT_EMBED_RUNTIME='gpu'"):
        MiniLMEmbedder("gpu")


@pytest.fixture(scope="module")
def real_index(tmp_path_factory) -> Path:
    from copilot.core import Copilot

    folder = tmp_path_factory.mktemp("onnx-corpus")
    for name, text in SMALL_CORPUS.items():
        (folder / name).write_text(text, encoding="utf-8")
    index = tmp_path_factory.mktemp("onnx-index") / "index"
    Copilot(index, corpus=folder)
    return index


def ask(index: Path, runtime: str) -> tuple[dict, list[str]]:
    """`cx-copilot ask --json` in a fresh process: its output, and which heavy modules it imported."""
    code = ("import json, sys\nfrom copilot.cli import main\n"
            f"rc = main(['ask', 'How is NPS calculated?', '--json', '--index-dir', {str(index)!r}])\n"
            f"print(json.dumps(sorted({{m.split('.')[0] for m in sys.modules}} & {set(HEAVY)!r})), file=sys.stderr)\n"
            "sys.exit(rc)")
    env = {k: v for k, v in os.environ.items() if not k.startswith("COPILOT_")}
    env["COPILOT_EMBED_RUNTIME"] = runtime
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, cwd=PROJECT,
                         env=env)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout), json.loads(out.stderr.strip().splitlines()[-1])


def test_ask_loads_no_torch_and_answers_as_the_torch_path(real_index):
    fast, loaded = ask(real_index, "auto")
    assert loaded == []  # neither torch, sentence-transformers, Gradio, LangChain nor the local runtime
    slow, loaded_torch = ask(real_index, "torch")
    assert "torch" in loaded_torch and "gradio" not in loaded_torch
    assert fast["answer"] == slow["answer"] and "percentage of detractors" in fast["answer"]
    assert fast["abstained"] is slow["abstained"] is False
    strip = [{k: v for k, v in c.items() if k != "score"} for c in fast["citations"]]
    assert strip == [{k: v for k, v in c.items() if k != "score"} for c in slow["citations"]]
    assert all(abs(a["score"] - b["score"]) < 1e-3 for a, b in zip(fast["citations"], slow["citations"]))
    assert fast["backend"] == slow["backend"] == "extractive" and fast["notes"] == []


def test_embedders_by_name(monkeypatch):
    from copilot.embeddings import HashEmbedder, make_embedder

    for name, runtime in (("minilm", "auto"), ("all-MiniLM-L6-v2", "auto"), ("minilm-onnx", "onnx"),
                          ("minilm-torch", "torch")):
        e = make_embedder(name)
        assert isinstance(e, MiniLMEmbedder) and e.runtime == runtime and e.name == "all-MiniLM-L6-v2"
    assert make_embedder("minilm-int8").name == "all-MiniLM-L6-v2-int8"  # other vectors: another index
    assert isinstance(make_embedder("hash"), HashEmbedder)
    monkeypatch.setenv("COPILOT_EMBED_RUNTIME", "torch")
    assert make_embedder().runtime == "torch"
    with pytest.raises(CopilotError, match="Unknown embedder 'bert'.*minilm, minilm-onnx"):
        make_embedder("bert")


def test_export_onnx_command_finds_the_checked_form(capsys, onnx_model):
    from copilot.cli import main

    assert main(["export-onnx"]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"found {onnx_model.path} (lowest cosine to torch ") and float(
        out.rsplit(" ", 1)[1].rstrip(")\n")) >= MIN_COSINE
