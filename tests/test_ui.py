"""The web app: pure rendering helpers (escaping above all), and the running app driven with gradio_client."""

from __future__ import annotations

import json
import os
import shutil
import socket
import sys
import threading
import time
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

from copilot import ui  # noqa: E402
from copilot.errors import CopilotError  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from fake_llm_server import FakeLLMServer, number_of  # noqa: E402

EVIL = "<script>window.cxPwned=1</script><img src=x onerror=\"window.cxPwned=2\"> [x](javascript:alert(1)) *b*"


# ---------------------------------------------------------------- pure helpers

def test_md_text_is_inert_html_and_markdown():
    out = ui.md_text(EVIL + "\n# heading\n- item\n1. one\n    code $$x$$ http://a.example www.b.example c@d.example")
    assert "<" not in out and ">" not in out
    for ch in "[]*#$`_|~":
        assert ch not in out.replace("&#", "")  # only as numeric entities
    assert "://" not in out and "www." not in out and "@" not in out
    assert "&#x" not in out  # the chatbot double-escapes hex entities; decimal ones are used
    assert "\n    " not in out  # no indented code blocks


def test_render_answer_links_cited_markers_only():
    out = ui.render_answer("NPS is promoters minus detractors [1]. Also [2] and [7].", 3, cited=[1, 2])
    assert out.count('class="cx-cite"') == 2
    assert 'href="#cx-src-3-1"' in out and 'href="#cx-src-3-2"' in out
    assert "cx-src-3-7" not in out and "&#91;7&#93;" in out  # an unknown marker stays literal text
    assert "cx-declined" not in out


def test_render_answer_escapes_document_text():
    out = ui.render_answer(EVIL + " [1].", 0, cited=[1])
    assert "<script" not in out and "<img" not in out and "](" not in out  # no tag, no markdown link
    assert "&lt;script&gt;" in out


def test_declined_answer_looks_different():
    out = ui.render_answer("I can't answer that <b>from</b> the knowledge base.", 0, abstained=True)
    assert out.startswith('<div class="cx-declined">') and "Not in the knowledge base" in out
    assert "<b>" not in out


def test_highlight_marks_used_sentences_and_escapes():
    passage = "Intro <b>bold</b>.\nNPS is   calculated\nby subtracting detractors. <script>x()</script> End."
    out = ui.highlight(passage, ["NPS is calculated by subtracting detractors.", "not in the passage"])
    assert "<mark>NPS is   calculated\nby subtracting detractors.</mark>" in out
    assert "<script>" not in out and "&lt;script&gt;" in out and "&lt;b&gt;bold&lt;/b&gt;" in out
    assert out.count("<mark>") == 1


def test_highlight_merges_overlaps_and_escapes_inside_marks():
    out = ui.highlight("A <b> B. C D.", ["A <b> B.", "<b> B. C D."])
    assert out == "<mark>A &lt;b&gt; B. C D.</mark>"


def _turn(question, citations, kind="answer"):
    return {"question": question, "answer": "text [1].", "kind": kind, "citations": citations}


def test_sources_panel_escapes_every_field():
    cit = {"n": 1, "source": "<img src=x onerror=alert(1)>.md", "title": "<script>alert(1)</script>",
           "page": None, "section": "<b>Section</b>", "text": f"Before. {EVIL} After.", "score": 0.9,
           "sentences": [EVIL]}
    out = ui.render_sources([_turn("<i>q</i>", [cit])])
    assert "<script" not in out and "<img" not in out and "<b>" not in out and "<i>" not in out
    assert 'id="cx-src-0-1"' in out and "<mark>" in out
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in out


def test_sources_panel_shows_page_and_latest_answer_first():
    first = {"n": 1, "source": "guide.pdf", "title": "Guide", "page": 4, "section": "", "text": "T.", "score": 1,
             "sentences": []}
    second = {"n": 1, "source": "nps.md", "title": "NPS", "page": None, "section": "How is NPS calculated?",
              "text": "T.", "score": 1, "sentences": []}
    out = ui.render_sources([_turn("first?", [first]), _turn("second?", [second])])
    assert "p. 4" in out and "How is NPS calculated?" in out
    assert out.index('id="cx-src-1-1"') < out.index("Earlier answers") < out.index('id="cx-src-0-1"')


def test_sources_panel_for_a_declined_question_suggests_topics():
    out = ui.render_sources([_turn("pizza?", [], kind="declined")], topics=["Net Promoter Score <NPS>"])
    assert "No passage" in out and "Net Promoter Score &lt;NPS&gt;" in out


def test_outcomes_are_escaped_per_file():
    from copilot.core import FileOutcome, IngestReport

    report = IngestReport([FileOutcome("/tmp/a.md", "a.md", "added", 3),
                           FileOutcome("/tmp/<img src=x onerror=alert(1)>.txt", "x", "failed", 0,
                                       "cannot be read <script>")], seconds=0.5)
    out = ui.render_outcomes(report)
    assert "1 added, 1 failed" in out and "3 chunks" in out
    assert "<img" not in out and "<script" not in out


def test_answer_meta_shows_notes_and_backend_escaped():
    out = ui.render_meta("extractive (fallback from openai)",
                         ["Could not reach http://127.0.0.1:9/v1: start the server <b>now</b>."])
    assert out.startswith('<div class="cx-answer-meta">') and 'class="cx-answer-note"' in out
    assert "Could not reach" in out and "<b>" not in out and "://" not in out
    assert "extractive (fallback from openai)" in out and "answered by" not in out
    assert "answered by openai" in ui.render_meta("openai")
    assert ui.render_meta("openai", show_backend=False) == "" and ui.render_meta("", []) == ""


def test_parse_history_accepts_pairs_and_dicts():
    assert ui.parse_history("") == []
    assert ui.parse_history('[["user", "What is NPS?"], ["assistant", "A score."]]')[0] == ["user", "What is NPS?"]
    assert ui.parse_history('[{"role": "user", "content": "hi"}]') == [{"role": "user", "content": "hi"}]
    for bad in ('{"a": 1}', '[["only one"]]', "[1, 2]", "not json"):
        with pytest.raises(ValueError):
            ui.parse_history(bad)


def test_serving_beyond_localhost_needs_an_admin_password(monkeypatch):
    monkeypatch.delenv(ui.ADMIN_ENV, raising=False)
    for host in ("127.0.0.1", "localhost", "::1", "127.0.0.2"):
        ui.check_host(host)
    for host in ("0.0.0.0", "192.168.1.10", "example.org", "::"):
        with pytest.raises(CopilotError, match="COPILOT_ADMIN_PASSWORD"):
            ui.check_host(host)
    monkeypatch.setenv(ui.ADMIN_ENV, "secret")
    ui.check_host("0.0.0.0")


def test_serve_cli_refuses_before_building_anything(monkeypatch, tmp_path, capsys):
    from copilot.cli import main

    monkeypatch.delenv(ui.ADMIN_ENV, raising=False)
    index = tmp_path / "never-built"
    assert main(["serve", "--host", "0.0.0.0", "--index-dir", str(index)]) == 2
    assert "COPILOT_ADMIN_PASSWORD" in capsys.readouterr().err
    assert not index.exists()


def test_feedback_lines_are_appended(tmp_path):
    path = tmp_path / "index" / "feedback.jsonl"
    log = ui.FeedbackLog(path)
    assert log.add({"question": "q", "rating": "up", "comment": ""}, "127.0.0.1") is None
    assert log.add({"question": "q", "rating": "up", "comment": "<b>good</b>"}, "127.0.0.1") is None
    lines = [json.loads(x) for x in path.read_text().splitlines()]
    assert [x["comment"] for x in lines] == ["", "<b>good</b>"]


def test_source_rows_newest_first():
    rows = ui.source_rows([{"source": "a.md", "title": "A", "kind": "markdown", "chunks": 2, "pages": None,
                            "loaded_at": "2026-01-01T10:00:00+00:00"},
                           {"source": "b.pdf", "title": "B", "kind": "pdf", "chunks": 5, "pages": 3,
                            "loaded_at": "2026-02-01T10:00:00+00:00"}])
    assert rows[0] == ["B", "b.pdf", "pdf", 5, 3, "2026-02-01 10:00:00 UTC", ""]
    assert rows[1][4] == ""


def test_documents_with_text_addressed_to_the_assistant_are_flagged():
    rows = ui.source_rows([{"source": "tips.md", "title": "Tips", "kind": "markdown", "chunks": 2, "instructions": 2},
                           {"source": "one.md", "title": "One", "kind": "markdown", "chunks": 1, "instructions": 1},
                           {"source": "ok.md", "title": "OK", "kind": "markdown", "chunks": 1, "instructions": 0}])
    flags = {r[1]: r[6] for r in rows}
    assert flags["tips.md"].startswith("⚠ 2 sentences addressed to an AI assistant")
    assert "never used as knowledge" in flags["tips.md"] and flags["one.md"].startswith("⚠ 1 sentence ")
    assert flags["ok.md"] == "" and len(ui.SOURCE_HEADERS) == len(rows[0])
    from copilot.core import FileOutcome, IngestReport

    report = IngestReport([FileOutcome("/tmp/tips.md", "tips.md", "added", 2), FileOutcome("/tmp/ok.md", "ok.md",
                                                                                          "added", 1)])
    out = ui.render_outcomes(report, {"tips.md": 2, "ok.md": 0})
    assert out.count("addressed to an AI assistant") == 1 and "2 chunks. ⚠ 2 sentences" in out


# ---------------------------------------------------------------- the running app

def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_app(cp):
    app = ui.build_app(cp)
    _, url, _ = ui.launch(app, "127.0.0.1", free_port(), block=False, quiet=True)
    return app, url


@pytest.fixture(scope="module")
def app_url(real_copilot):
    app, url = start_app(real_copilot)
    yield url
    app.close()


@pytest.fixture(scope="module")
def client(app_url):
    from gradio_client import Client

    return Client(app_url, verbose=False)


@pytest.mark.integration
def test_only_the_ask_endpoint_is_public(client):
    endpoints = client.view_api(return_format="dict", print_info=False)["named_endpoints"]
    assert list(endpoints) == ["/ask"]


@pytest.mark.integration
def test_ask_returns_the_ask_json_shape(client, real_copilot):
    result = client.predict("How is NPS calculated?", api_name="/ask")
    assert set(result) == {"answer", "abstained", "citations"}
    assert not result["abstained"] and "detractors" in result["answer"] and "[1]" in result["answer"]
    assert result["citations"][0]["source"] == "net-promoter-score.md"
    assert set(result["citations"][0]) == {"n", "source", "title", "page", "section", "text", "score"}
    assert result == json.loads(json.dumps(real_copilot.answer("How is NPS calculated?").to_dict()))


@pytest.mark.integration
def test_follow_up_uses_the_history(client):
    def follow_up(first: str) -> dict:
        history = json.dumps([["user", first], ["assistant", "(the earlier answer)"]])
        return client.predict("and how do I calculate it?", history, api_name="/ask")

    ces = follow_up("What is the Customer Effort Score?")
    nps = follow_up("What is the Net Promoter Score?")
    assert not ces["abstained"] and not nps["abstained"]
    assert ces["citations"][0]["source"] == "customer-effort-score.md"
    assert "promoters" in nps["answer"] and "promoters" not in ces["answer"]
    as_dicts = json.dumps([{"role": "user", "content": "What is the Net Promoter Score?"}])
    assert client.predict("and how do I calculate it?", as_dicts, api_name="/ask") == nps


@pytest.mark.integration
def test_off_topic_question_is_declined(client):
    result = client.predict("What is the best pizza in Naples?", api_name="/ask")
    assert result["abstained"] and result["citations"] == []
    assert "knowledge base" in result["answer"]


@pytest.mark.integration
def test_bad_input_is_a_clear_error(client):
    from gradio_client.exceptions import AppError

    with pytest.raises(AppError, match="history_json"):
        client.predict("What is NPS?", "{not json", api_name="/ask")
    with pytest.raises(AppError, match="empty"):
        client.predict("   ", api_name="/ask")


class _SlowLoads:
    """The real embedder, with loading documents slowed down (queries stay fast)."""

    def __init__(self, inner, delay):
        self.inner, self.delay = inner, delay

    def embed(self, texts, *args, **kwargs):
        time.sleep(self.delay)
        return self.inner.embed(texts, *args, **kwargs)

    def __getattr__(self, name):
        return getattr(self.inner, name)


@pytest.mark.integration
def test_answers_keep_flowing_while_a_document_loads(real_index, real_copilot, tmp_path):
    from gradio_client import Client

    from copilot import Copilot

    folder = tmp_path / "index"
    shutil.copytree(real_index, folder)
    cp = Copilot(folder, embedder=_SlowLoads(real_copilot.embedder, 6.0))
    cp.answer("What is NPS?")
    app, url = start_app(cp)
    try:
        doc = tmp_path / "slow.md"
        doc.write_text("# Slow\n\n## What is slow?\n\nA slow document takes a while to load.\n")
        loader = threading.Thread(target=cp.ingest, args=([doc],))
        loader.start()
        time.sleep(0.5)
        start = time.perf_counter()
        result = Client(url, verbose=False).predict("How is NPS calculated?", api_name="/ask")
        waited = time.perf_counter() - start
        loader.join()
        assert not result["abstained"]
        assert waited < 4.0, f"the answer waited {waited:.1f} s for the load"
    finally:
        app.close()


@pytest.mark.integration
def test_library_refuses_a_forged_admin_flag(real_index, real_copilot, tmp_path, monkeypatch):
    """A client that skips the sign-in and posts to the library's (private) handler directly gets nothing,
    and cannot even upload a file to the server."""
    import httpx
    from gradio_http import config, fn_index, join, outcome

    from copilot import Copilot

    folder = tmp_path / "index"
    shutil.copytree(real_index, folder)
    cp = Copilot(folder, embedder=real_copilot.embedder)
    monkeypatch.setenv(ui.ADMIN_ENV, "secret")
    app, url = start_app(cp)
    try:
        doc = tmp_path / "forged.md"
        doc.write_text("# Forged\n\n## What is forged?\n\nA forged document must not be loaded.\n")
        with open(doc, "rb") as fh:
            assert httpx.post(url + "gradio_api/upload", files={"files": ("forged.md", fh)}).status_code == 403
        status, messages = join(url, fn_index(config(url), "load_files"), [[str(doc)], True],
                                session="forged-session")
        assert status == 200 and outcome(messages)["success"] is False
        assert all(s["source"] != "forged.md" for s in cp.sources())
        assert not (folder / "uploads").exists()
    finally:
        app.close()


# ---------------------------------------------------------------- answer backends (the fake OpenAI-compatible server)

LLM_ENV = ("COPILOT_BACKEND", "COPILOT_OPENAI_BASE_URL", "COPILOT_OPENAI_MODEL", "COPILOT_OPENAI_API_KEY",
           "OPENAI_API_KEY", "OPENAI_BASE_URL", "COPILOT_OLLAMA_URL", "COPILOT_OLLAMA_MODEL", "OLLAMA_HOST",
           "COPILOT_LLAMACPP_MODEL", "COPILOT_LLAMACPP_CTX", "COPILOT_LLM_TIMEOUT", "COPILOT_LOCAL_MODEL",
           "COPILOT_LOCAL_CTX", "COPILOT_LOCAL_THREADS", "COPILOT_LLM_MAX_TOKENS")
NPS_QUESTION = "How is NPS calculated?"
GOOD = ("NPS is calculated by subtracting the percentage of detractors from the percentage of promoters [{n}]. "
        "Promoters answer 9 or 10 and detractors answer 0 to 6 [{n}].")


def good_reply(body: dict) -> str:
    return GOOD.format(n=number_of(body, "nps.md", "How is NPS calculated?"))


@pytest.fixture
def llm_env(monkeypatch):
    """No LLM backend configured, whatever the environment says; loopback never goes through a proxy."""
    for name in LLM_ENV:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")
    return monkeypatch


@pytest.fixture
def llm_server(llm_env):
    """The fake OpenAI-compatible server, configured as the `openai` backend (so two backends are configured)."""
    with FakeLLMServer(reply=good_reply) as server:
        llm_env.setenv("COPILOT_OPENAI_BASE_URL", server.openai_url)
        llm_env.setenv("COPILOT_OPENAI_MODEL", "fake-model")
        yield server
        assert not server.errors, f"the reply script failed: {server.errors}"


def elements(app) -> dict:
    return {b.elem_id: b for b in app.blocks.values() if getattr(b, "elem_id", None)}


def chat_handler(app):
    return next(f.fn for f in app.fns.values() if getattr(f.fn, "__name__", "") == "respond")


def chat(app, question, backend):
    """Every update the chat handler sends for a question, as (messages, turns) (None where it skips)."""
    out = []
    for update in chat_handler(app)(question, [], backend):
        msgs, turns = update[1], update[2]
        out.append((msgs if isinstance(msgs, list) else None, turns if isinstance(turns, list) else None))
    return out


def test_no_backend_control_with_only_the_extractive_backend(fake_copilot, llm_env):
    app = ui.build_app(fake_copilot)
    assert "cx-backend" not in elements(app)
    [(msgs, turns)] = chat(app, NPS_QUESTION, "")[-1:]
    assert turns[-1]["backend"] == "extractive" and "answered by" not in msgs[-1]["content"]
    assert "cx-answer-meta" not in msgs[-1]["content"]


def test_backend_control_offers_each_configured_backend(fake_copilot, llm_env):
    llm_env.setenv("COPILOT_OPENAI_BASE_URL", "http://127.0.0.1:9/v1")
    llm_env.setenv("COPILOT_OPENAI_MODEL", "fake-model")
    control = elements(ui.build_app(fake_copilot))["cx-backend"]
    assert control.label == "Answer with" and control.value == "extractive"
    assert [tuple(c) for c in control.choices] == [("extractive (no model)", "extractive"),
                                                    ("openai · fake-model", "openai")]
    llm_env.setenv("COPILOT_BACKEND", "openai")
    assert elements(ui.build_app(fake_copilot))["cx-backend"].value == "openai"


@pytest.mark.integration
def test_ask_endpoint_answers_with_the_chosen_backend(fake_copilot, llm_server):
    from gradio_client import Client
    from gradio_client.exceptions import AppError

    app, url = start_app(fake_copilot)
    try:
        client = Client(url, verbose=False)
        result = client.predict(NPS_QUESTION, "", "openai", api_name="/ask")
        assert set(result) == {"answer", "abstained", "citations"}  # the contract is unchanged
        assert result["answer"] == GOOD.format(n=1)  # the scripted model's words, not the extractive answer's
        assert [c["source"] for c in result["citations"]] == ["nps.md"]
        assert len(llm_server.chat_requests()) == 1
        # the 1- and 2-argument calls keep working, with the default (extractive) backend: no model call
        extractive = client.predict(NPS_QUESTION, api_name="/ask")
        assert extractive == client.predict(NPS_QUESTION, "", api_name="/ask")
        assert extractive["answer"] != result["answer"] and "passives" in extractive["answer"]
        assert len(llm_server.chat_requests()) == 1
        with pytest.raises(AppError, match="not configured"):
            client.predict(NPS_QUESTION, "", "ollama", api_name="/ask")
        with pytest.raises(AppError, match="Unknown answer backend"):
            client.predict(NPS_QUESTION, "", "gpt-9", api_name="/ask")
    finally:
        app.close()


@pytest.mark.integration
def test_chat_streams_the_model_then_shows_the_grounded_answer(fake_copilot, llm_server):
    llm_server.chunk_delay = 0.02
    app = ui.build_app(fake_copilot)
    updates = chat(app, NPS_QUESTION, "openai")
    partials = [msgs[-1]["content"] for msgs, turns in updates[1:-1] if msgs is not None]
    assert len(partials) >= 2, "the answer should appear piece by piece"
    assert all("cx-cite" not in p for p in partials)
    assert len({len(p) for p in partials}) == len(partials)  # growing
    msgs, turns = updates[-1]
    final = msgs[-1]["content"]
    assert turns[-1]["backend"] == "openai" and turns[-1]["answer"] == GOOD.format(n=1)
    assert final.count('class="cx-cite"') == 2 and "answered by openai" in final
    assert len(llm_server.chat_requests()) == 1
    # the answerer is made once per backend and reused
    chat(app, "What is NPS?", "openai")
    assert len(llm_server.chat_requests()) == 2


@pytest.mark.integration
def test_chat_shows_the_fallback_note_when_the_endpoint_is_unreachable(fake_copilot, llm_env):
    url = f"http://127.0.0.1:{free_port()}/v1"
    llm_env.setenv("COPILOT_OPENAI_BASE_URL", url)
    app = ui.build_app(fake_copilot)
    msgs, turns = chat(app, NPS_QUESTION, "openai")[-1]
    turn = turns[-1]
    assert turn["kind"] == "answer" and turn["backend"] == "extractive (fallback from openai)"
    assert turn["notes"] == [f"Could not reach {url}: start the server or set COPILOT_OPENAI_BASE_URL."]
    final = msgs[-1]["content"]
    assert "percentage of detractors" in final and 'class="cx-cite"' in final  # the extractive answer
    note = final[final.index('<div class="cx-answer-note">'):]
    assert "Could not reach" in note and "COPILOT&#95;OPENAI&#95;BASE&#95;URL" in note
    assert "extractive (fallback from openai)" in note
