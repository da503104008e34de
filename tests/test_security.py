"""The standing security suite for the web app (docs/security.md): who may reach it, what each route refuses,
sign-in that resists guessing, bounded writes, and input checks. Browser cases are in test_browser.py."""

from __future__ import annotations

import json
import logging
import re
import shutil
import socket
import sys
import threading
import time
import types
from pathlib import Path

import httpx
import pytest

from copilot import ui
from copilot.errors import CopilotError
from copilot.inputs import InputError, InputLimits, check_question, parse_history
from copilot.ui.feedback import FeedbackLimits, FeedbackLog
from copilot.ui.security import (AdminClients, HostPolicy, RequestGuard, SignInLimiter, SignInSettings,
                                 normalise_allowed_host, password_matches, split_host)

sys.path.insert(0, str(Path(__file__).resolve().parent))
from gradio_http import config, fn_index, join, outcome, small_copilot, start_app  # noqa: E402

EVIL = "evil.example"


# ---------------------------------------------------------------- Host and Origin rules

def test_host_headers_are_parsed_strictly():
    assert split_host("Example.ORG:7860") == ("example.org", 7860)
    assert split_host("[::1]:80") == ("::1", 80) and split_host("127.0.0.1") == ("127.0.0.1", None)
    for bad in ("", "a b", "::1", "[::1", "[nothost]:80", "host:", "host:99999", "host:x", "ex_ample..org", "@evil"):
        assert split_host(bad) is None, bad


def test_a_local_server_answers_to_its_own_names_only():
    p = HostPolicy.for_server("127.0.0.1")
    for ok in ("127.0.0.1:7860", "localhost:7860", "LOCALHOST", "[::1]:7860", "127.0.0.2"):
        assert p.allows(ok), ok
    for bad in (f"{EVIL}:7860", "192.168.1.20:7860", "localhost.evil.example", "127.0.0.1.nip.io", "", None):
        assert not p.allows(bad), bad


def test_a_public_server_answers_to_addresses_its_names_and_allowed_hosts():
    p = HostPolicy.for_server("0.0.0.0", ["copilot.example.org", ".corp.example"])
    for ok in ("192.168.1.20:7860", "[2001:db8::1]:7860", socket.gethostname(), "copilot.example.org",
               "corp.example", "cx.corp.example:443"):
        assert p.allows(ok), ok
    for bad in (f"{EVIL}:7860", "copilot.example.org.evil.example", "xcorp.example"):
        assert not p.allows(bad), bad


def test_origins_must_be_the_page_itself_or_an_allowed_host():
    p = HostPolicy.for_server("127.0.0.1", ["copilot.example.org"])
    host = "127.0.0.1:7860"
    assert p.same_origin("http://127.0.0.1:7860", host)
    assert p.same_origin("http://copilot.example.org", host)  # a proxy that rewrites Host
    assert p.same_origin("https://example.test", "example.test") and p.same_origin("http://a.test:80", "a.test")
    for bad in ("http://127.0.0.1:3000", "http://localhost:7860", f"http://{EVIL}:7860", "null", "file://",
                "javascript:alert(1)", "http://[::1", ""):
        assert not p.same_origin(bad, host), bad


@pytest.mark.parametrize("value", ["*", "", "http://", "a b", ".", "exa mple.org"])
def test_a_bad_allowed_host_is_a_clear_error(value):
    with pytest.raises(CopilotError, match="--allowed-host"):
        normalise_allowed_host(value)
    assert normalise_allowed_host("https://CX.Example.org:8443/path") == "cx.example.org"


def test_serve_refuses_a_bad_allowed_host_before_building_anything(tmp_path, capsys):
    from copilot.cli import main

    index = tmp_path / "never-built"
    assert main(["serve", "--allowed-host", "*", "--index-dir", str(index)]) == 2
    assert "--allowed-host '*' is not a host name" in capsys.readouterr().err
    assert not index.exists()


def test_guard_rules_in_order():
    guard = RequestGuard(None, HostPolicy.for_server("127.0.0.1"), uploads_allowed=lambda client: client == "1.2.3.4")
    h = {"host": "127.0.0.1:7860"}
    own = {**h, "origin": "http://127.0.0.1:7860"}
    assert guard.refusal("GET", "/", h, "x") is None
    assert guard.refusal("POST", "/gradio_api/queue/join", own, "x") is None
    assert guard.refusal("POST", "/gradio_api/run/ask", h, "x") is None
    assert guard.refusal("POST", "/gradio_api/run/predict", own, "x") is None  # the page's unqueued events
    assert guard.refusal("GET", "/", {"host": f"{EVIL}:7860"}, "x").status == 403
    assert guard.refusal("GET", "/config", {**h, "origin": f"http://{EVIL}"}, "x").status == 403
    assert guard.refusal("POST", "/gradio_api/queue/join", {**h, "sec-fetch-site": "cross-site"}, "x").status == 403
    assert guard.refusal("GET", "/", {**h, "sec-fetch-site": "cross-site"}, "x") is None  # following a link
    for route in ("run", "api", "call", "call/v2"):
        assert guard.refusal("POST", f"/gradio_api/{route}/remove_source", own, "x").status == 404
    assert guard.refusal("GET", "/gradio_api/call/sign_in/abc", h, "x").status == 404
    assert guard.refusal("POST", "/gradio_api/upload", own, "5.6.7.8").status == 403
    assert guard.refusal("POST", "/gradio_api/upload", own, "1.2.3.4") is None


# ---------------------------------------------------------------- sign-in limits

class Clock:
    def __init__(self):
        self.t = 1000.0

    def __call__(self):
        return self.t


def test_failed_sign_ins_back_off_exponentially_per_client():
    clock = Clock()
    limiter = SignInLimiter(SignInSettings(free=3, base_delay=2, max_delay=60, global_per_minute=1000), clock)
    assert [limiter.attempt("a") for _ in range(3)] == [0, 0, 0]  # three free failures
    assert limiter.attempt("a") == pytest.approx(2)
    assert limiter.attempt("b") == 0  # another client is not slowed by a's failures
    waits = []
    for _ in range(6):
        clock.t += limiter.attempt("a")
        assert limiter.attempt("a") == 0  # allowed once the wait is over
        waits.append(limiter.attempt("a"))
    assert waits == [4, 8, 16, 32, 60, 60]  # doubling, capped
    limiter.succeeded("a")
    assert limiter.attempt("a") == 0 and limiter.failures("a") == 1


def test_failures_are_forgotten_after_a_quiet_while():
    clock = Clock()
    limiter = SignInLimiter(SignInSettings(free=1, base_delay=10, forget_after=900, global_per_minute=1000), clock)
    limiter.attempt("a")
    assert limiter.attempt("a") > 0
    clock.t += 901
    assert limiter.attempt("a") == 0


def test_failures_from_everyone_are_limited_together():
    clock = Clock()
    limiter = SignInLimiter(SignInSettings(free=100, global_per_minute=5), clock)
    assert [limiter.attempt(f"client-{n}") for n in range(5)] == [0] * 5
    assert limiter.attempt("client-99") == pytest.approx(60)  # many addresses, few guesses a minute
    clock.t += 61
    assert limiter.attempt("client-99") == 0


def test_passwords_are_compared_in_constant_time(monkeypatch):
    from copilot.ui import security

    calls = []
    real = security.hmac.compare_digest

    def recording(a, b):
        calls.append((len(a), len(b)))
        return real(a, b)

    monkeypatch.setattr(security.hmac, "compare_digest", recording)
    assert password_matches("s3cret", "s3cret") and not password_matches("s3cre", "s3cret")
    assert not password_matches(None, "s3cret") and not password_matches(["s3cret"], "s3cret")
    assert calls and all(a == b == 32 for a, b in calls)  # digests: the length of the password does not show


def test_uploads_need_a_signed_in_address_when_a_password_is_set():
    clock = Clock()
    admins = AdminClients("pw", ttl=100, clock=clock)
    assert not admins.allowed("1.2.3.4")
    admins.grant("1.2.3.4")
    assert admins.allowed("1.2.3.4") and not admins.allowed("5.6.7.8")
    clock.t += 101
    assert not admins.allowed("1.2.3.4")
    admins.grant("1.2.3.4")
    admins.revoke("1.2.3.4")
    assert not admins.allowed("1.2.3.4")
    assert AdminClients("").allowed("anyone")  # no password: every (local) client is admin


# ---------------------------------------------------------------- bounded feedback

def _record(**fields):
    base = {"id": "a1", "timestamp": "2026-12-01T10:00:00+00:00", "question": "What is NPS?", "answer": "A score.",
            "abstained": False, "citations": [{"n": 1, "source": "nps.md", "text": "NPS is a score."}],
            "rating": "up", "comment": "", "backend": "extractive"}
    return {**base, **fields}


def test_feedback_fields_are_capped(tmp_path):
    log = FeedbackLog(tmp_path / "feedback.jsonl", FeedbackLimits(comment_chars=100, field_chars=1000, citations=2))
    assert log.add(_record(question="q" * 2_000_000, comment="c" * 5_000_000,
                           citations=[{"n": n, "text": "t" * 50_000} for n in range(50)]), "1.2.3.4") is None
    [line] = (tmp_path / "feedback.jsonl").read_text().splitlines()
    saved = json.loads(line)
    assert len(saved["question"]) == 1000 and len(saved["comment"]) == 100 and saved["truncated"] is True
    assert len(saved["citations"]) == 2 and all(len(c["text"]) == 1000 for c in saved["citations"])
    assert log.add(_record(comment="<b>good</b>"), "1.2.3.4") is None
    assert json.loads((tmp_path / "feedback.jsonl").read_text().splitlines()[1])["comment"] == "<b>good</b>"


def test_one_client_cannot_write_more_than_its_share(tmp_path):
    log = FeedbackLog(tmp_path / "feedback.jsonl", FeedbackLimits(per_client_per_hour=20))
    results = [log.add(_record(), "1.2.3.4") for _ in range(50)]
    assert results[:20] == [None] * 20 and all(r and "try again later" in r for r in results[20:])
    assert log.add(_record(), "5.6.7.8") is None  # others still can
    assert len((tmp_path / "feedback.jsonl").read_text().splitlines()) == 21


def test_the_feedback_file_rotates_and_its_total_size_is_bounded(tmp_path):
    limits = FeedbackLimits(per_client_per_hour=100_000, file_mb=0.05, files_kept=3, field_chars=2000)
    log = FeedbackLog(tmp_path / "feedback.jsonl", limits)
    for n in range(2000):
        assert log.add(_record(id=f"a{n}", question="q" * 1_000_000), f"client-{n}") is None
    files = sorted(p.name for p in tmp_path.iterdir())
    assert files == ["feedback.1.jsonl", "feedback.2.jsonl", "feedback.3.jsonl", "feedback.jsonl"]
    assert sum(p.stat().st_size for p in tmp_path.iterdir()) <= limits.most_bytes
    newest = [json.loads(x)["id"] for x in (tmp_path / "feedback.jsonl").read_text().splitlines()]
    older = [json.loads(x)["id"] for x in (tmp_path / "feedback.1.jsonl").read_text().splitlines()]
    assert newest[-1] == "a1999" and int(older[-1][1:]) + 1 == int(newest[0][1:])  # nothing lost in between


def test_feedback_limits_are_settings(monkeypatch):
    monkeypatch.setenv("COPILOT_FEEDBACK_PER_HOUR", "7")
    monkeypatch.setenv("COPILOT_FEEDBACK_FILE_MB", "0.5")
    limits = FeedbackLimits.from_env()
    assert limits.per_client_per_hour == 7 and limits.file_mb == 0.5 and limits.comment_chars == 2000
    monkeypatch.setenv("COPILOT_FEEDBACK_PER_HOUR", "-1")
    with pytest.raises(CopilotError, match="COPILOT_FEEDBACK_PER_HOUR must be above 0"):
        FeedbackLimits.from_env()


class _Like:
    def __init__(self, index, liked=True):
        self.index, self.liked, self.value = index, liked, None


def _request(host="203.0.113.7"):
    return types.SimpleNamespace(client=types.SimpleNamespace(host=host))


def test_an_anonymous_browser_cannot_fill_the_disk_with_feedback(fake_copilot, monkeypatch):
    """The issue's case: a 2 MB question, a 5 MB comment, repeated, from a browser that never signed in."""
    monkeypatch.setenv("COPILOT_FEEDBACK_PER_HOUR", "30")
    app = ui.build_app(fake_copilot)
    chat = next(f.fn for f in app.fns.values() if getattr(f.fn, "__name__", "") == "respond").__self__
    *_, (_, msgs, turns, _, _) = chat.respond("What is NPS? " + "x" * 2_000_000, [], "")
    assert turns[-1]["kind"] == "error" and "too long" in turns[-1]["answer"]
    assert len(json.dumps(turns)) < 2000  # the 2 MB question is not kept, not even in the session
    *_, (_, msgs, turns, _, _) = chat.respond("What is NPS?", [], "")
    shown = []
    monkeypatch.setattr(ui.chat.gr, "Info", lambda m: shown.append(m))
    monkeypatch.setattr(ui.chat.gr, "Warning", lambda m: shown.append(m))
    for _ in range(100):
        _, pending = chat.on_like(turns, _Like([1, 0]), _request())
        chat.send_comment("c" * 5_000_000, pending, _request())
    path = Path(fake_copilot.index_dir) / "feedback.jsonl"
    assert path.stat().st_size < 200_000
    lines = path.read_text().splitlines()
    assert len(lines) == 30 and all(len(json.loads(x)["comment"]) <= 2000 for x in lines)
    assert any("its first 2,000 characters" in m for m in shown) and any("try again later" in m for m in shown)


# ---------------------------------------------------------------- input checks

def test_questions_are_checked():
    limits = InputLimits(question_chars=50)
    assert check_question("  What is NPS?  ", limits) == "What is NPS?" and check_question(None, limits) == ""
    with pytest.raises(InputError, match="too long .*60 characters; the limit is 50"):
        check_question("q" * 60, limits)
    with pytest.raises(InputError, match="must be text, not a list"):
        check_question(["What is NPS?"], limits)


@pytest.mark.parametrize("history, message", [
    ("[" * 5000 + "]" * 5000, "nested too deeply"),
    ("[" * 500 + "]" * 500, "history: turn 1 must be \\[role, text\\]"),
    ('{"role": "user", "content": "hi"}', "must be a list of turns, not an object"),
    ("{not json", "not valid JSON \\(line 1, column 2"),
    ('[["user", "hi"], ["robot", "beep"]]', 'history: turn 2 has role "robot"'),
    ('[["user", 42]]', "the text of turn 1 must be a string, not a number"),
    ('[{"role": "user"}]', 'needs both "role" and "content"'),
    (json.dumps([["user", "x"]] * 101), "101 turns; the limit is 100"),
    (json.dumps([["user", "x" * 20_001]]), "history: turn 1 is too long"),
    (json.dumps([["user", "x" * 100_000]] * 3), "history is too long"),
])
def test_history_problems_are_one_clear_line(history, message):
    with pytest.raises(InputError, match=message) as err:
        parse_history(history)
    assert "\n" not in str(err.value) and len(str(err.value)) < 300


def test_good_history_passes():
    assert parse_history("") == [] and parse_history(None) == []
    assert parse_history('[["user", "What is NPS?"], ["assistant", "A score."]]')[1] == ["assistant", "A score."]
    assert parse_history([{"role": "user", "content": "hi"}]) == [{"role": "user", "content": "hi"}]


# ---------------------------------------------------------------- the running app

@pytest.fixture(scope="module")
def open_app(tmp_path_factory):
    """The app with no admin password (the default on this machine), over a small index (hash embedder)."""
    cp = small_copilot(tmp_path_factory.mktemp("open"))
    app, url, port = start_app(cp)
    yield app, url, cp, port
    app.close()


def _routes(routes):
    for route in routes:
        inner = getattr(getattr(route, "original_router", None), "routes", None) or getattr(route, "routes", None)
        if inner:  # an included router or a mount
            yield from _routes(inner)
        elif getattr(route, "path", ""):
            yield route


def _route_paths(app):
    """Every route of the server app (included routers too), with path parameters filled in."""
    for route in _routes(app.server_app.routes):
        methods = getattr(route, "methods", None) or {"GET"}
        yield sorted(methods), re.sub(r"\{[^}:]+(?::path)?\}", "x", route.path)


@pytest.mark.integration
def test_every_route_refuses_a_foreign_host_or_origin(open_app):
    """DNS rebinding (a foreign Host) and cross-site requests (a foreign Origin) are refused on every route,
    state-changing or not, before Gradio sees them; there is no password on this app."""
    app, url, cp, port = open_app
    checked = 0
    with httpx.Client(base_url=url.rstrip("/"), timeout=10) as client:
        for methods, path in _route_paths(app):
            for method in methods:
                for headers in ({"Host": f"{EVIL}:{port}", "Origin": f"http://{EVIL}:{port}"},  # rebinding
                                {"Origin": f"http://{EVIL}"},  # a foreign page
                                {"Origin": "null"}):  # a sandboxed frame or a file
                    r = client.request(method, path, headers=headers, content=b"{}")
                    assert r.status_code == 403, (method, path, headers, r.status_code)
                    assert "access-control-allow-origin" not in r.headers
                    checked += 1
    assert checked > 150
    posted = {path for methods, path in _route_paths(app) if "POST" in methods}
    assert {"/gradio_api/queue/join", "/gradio_api/upload", "/gradio_api/run/x", "/gradio_api/call/x"} <= posted
    assert len(cp.sources()) == 3


@pytest.mark.integration
def test_rebinding_cannot_remove_a_source(open_app):
    """The issue's case: no password, a page under a foreign name posts to remove_source."""
    app, url, cp, port = open_app
    evil = {"Host": f"{EVIL}:{port}", "Origin": f"http://{EVIL}:{port}"}
    body = {"data": ["nps.md", True], "session_hash": "rebind"}
    r = httpx.post(url + "gradio_api/run/remove_source", json=body, headers=evil)
    assert r.status_code == 403 and "not a name this server answers to" in r.text
    preflight = httpx.options(url + "gradio_api/run/remove_source", headers={
        **evil, "Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "content-type"})
    assert preflight.status_code == 403 and "access-control-allow-origin" not in preflight.headers
    status, _ = join(url, fn_index(config(url), "remove_source"), ["nps.md", True], headers=evil)
    assert status == 403
    assert "nps.md" in [s["source"] for s in cp.sources()]


@pytest.mark.integration
def test_private_handlers_are_not_api_routes(open_app):
    app, url, cp, port = open_app
    private = sorted({fn.api_name for fn in app.fns.values() if fn.api_name and fn.api_name != "ask"})
    assert {"remove_source", "load_files", "sign_in", "respond", "on_like", "send_comment", "open_survey",
            "analyse_survey"} <= set(private)
    info = httpx.get(url + "gradio_api/info").json()
    assert list(info["named_endpoints"]) == ["/ask"] and not info.get("unnamed_endpoints")
    listed = " ".join(httpx.get(url + "gradio_api/openapi.json").json().get("paths", {}))
    assert "/ask" in listed and not [name for name in private if name in listed]
    assert httpx.get(url + "openapi.json").status_code == 404
    for name in private:
        for route in ("run", "api", "call", "call/v2"):
            r = httpx.post(url + f"gradio_api/{route}/{name}", json={"data": ["nps.md", True]})
            assert r.status_code == 404, (route, name, r.status_code)
    # queued handlers cannot be called around the queue either, even by the page's own route
    r = httpx.post(url + "gradio_api/run/predict", json={"data": ["nps.md", True],
                                                         "fn_index": fn_index(config(url), "remove_source")})
    assert r.status_code == 404
    assert "nps.md" in [s["source"] for s in cp.sources()]


@pytest.mark.integration
def test_the_public_api_still_answers(open_app):
    from gradio_client import Client

    app, url, cp, port = open_app
    result = Client(url, verbose=False).predict("How is NPS calculated?", api_name="/ask")
    assert not result["abstained"] and result["citations"][0]["source"] == "nps.md"


@pytest.mark.integration
def test_ask_refuses_oversized_and_malformed_input_with_a_clear_message(open_app):
    from gradio_client import Client
    from gradio_client.exceptions import AppError

    app, url, cp, port = open_app
    client = Client(url, verbose=False)
    for args, message in [
        (("What is NPS?", "[" * 5000 + "]" * 5000), "history_json is nested too deeply"),
        (("What is NPS?", '{"role": "user"}'), "history_json must be a list of turns, not an object"),
        (("What is NPS? " * 500,), "The question is too long"),
        (("What is NPS?", "", 7), "backend must be the name of an answer backend"),
    ]:
        with pytest.raises(AppError, match=message):
            client.predict(*args, api_name="/ask")
    r = httpx.post(url + "gradio_api/run/ask", json={"data": [{"a": 1}, "", ""]})
    assert r.status_code == 500 and "The question must be text, not an object" in r.text
    assert "Traceback" not in r.text


@pytest.mark.integration
def test_an_upload_named_to_climb_out_of_the_uploads_folder_stays_inside(open_app):
    import uuid

    app, url, cp, port = open_app
    stem = f"climb-{uuid.uuid4().hex[:8]}"
    escaped = Path(cp.index_dir).parent / f"{stem}.md"
    r = httpx.post(url + "gradio_api/upload", headers={"Origin": url.rstrip("/")},
                   files={"files": (f"../../../{escaped.parent.name}/{stem}.md", b"# Climb\n\nChurn is loss.\n")})
    assert r.status_code == 200
    [stored] = r.json()
    status, messages = join(url, fn_index(config(url), "load_files"),
                            [[{"path": stored, "orig_name": f"../{stem}.md", "meta": {"_type": "gradio.FileData"}}],
                             True], headers={"Origin": url.rstrip("/")})
    assert status == 200 and outcome(messages)["success"] is True
    assert f"{stem}.md" in [s["source"] for s in cp.sources()]
    assert (Path(cp.index_dir) / "uploads" / f"{stem}.md").exists() and not escaped.exists()
    cp.remove(f"{stem}.md")


@pytest.fixture(scope="module")
def locked_app(open_app, tmp_path_factory):
    """The same index served with an admin password."""
    from copilot import Copilot
    from copilot.embeddings import HashEmbedder

    _, _, cp, _ = open_app
    folder = tmp_path_factory.mktemp("locked") / "index"
    shutil.copytree(cp.index_dir, folder)
    locked = Copilot(folder, embedder=HashEmbedder(), retrieval=cp.retrieval)
    app, url, _ = start_app(locked, "correct horse battery staple")
    yield app, url, locked
    app.close()


@pytest.mark.integration
def test_with_a_password_uploads_and_library_changes_need_a_signed_in_admin(locked_app):
    app, url, cp = locked_app
    cfg = config(url)
    own = {"Origin": url.rstrip("/")}
    r = httpx.post(url + "gradio_api/upload", files={"files": ("x.md", b"# X\n\nText.\n")}, headers=own)
    assert r.status_code == 403 and "sign in" in r.text
    status, messages = join(url, fn_index(cfg, "load_files"), [[], True], headers=own)
    assert status == 200 and "Sign in" in json.dumps(outcome(messages))  # the forged admin flag is ignored
    status, messages = join(url, fn_index(cfg, "remove_source"), ["nps.md", True], headers=own)
    assert status == 200 and outcome(messages).get("success") is False
    assert "nps.md" in [s["source"] for s in cp.sources()]


@pytest.mark.integration
def test_a_signed_in_admin_may_upload_from_that_address(locked_app):
    app, url, cp = locked_app
    status, messages = join(url, fn_index(config(url), "sign_in"), ["correct horse battery staple", False])
    assert status == 200 and outcome(messages).get("success") is True
    assert "Wrong password" not in json.dumps(outcome(messages))
    r = httpx.post(url + "gradio_api/upload", files={"files": ("x.md", b"# X\n\nText.\n")})
    assert r.status_code == 200 and r.json()[0].endswith("x.md")


@pytest.mark.integration
def test_forty_parallel_guesses_are_mostly_refused_and_logged(locked_app, caplog):
    """The issue's case: 40 threads guessing the password. The named route is gone, and through the queue
    (the page's own way) a client gets three guesses before it must wait."""
    app, url, cp = locked_app
    assert httpx.post(url + "gradio_api/run/sign_in", json={"data": ["guess", False]}).status_code == 404
    fn = fn_index(config(url), "sign_in")
    results: list[str] = []

    def guess(n):
        _, messages = join(url, fn, [f"guess-{n}", False])
        results.append(json.dumps(outcome(messages)))

    with caplog.at_level(logging.INFO, logger="copilot.security"):
        start = time.perf_counter()
        threads = [threading.Thread(target=guess, args=(n,)) for n in range(40)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        seconds = time.perf_counter() - start
    assert len(results) == 40
    wrong = sum("Wrong password" in r for r in results)
    refused = sum("Too many failed sign-in attempts" in r for r in results)
    # three free guesses, then one more each time a back-off (2 s, 4 s, 8 s, ...) has passed
    allowed, waited, delay = 3, 0.0, 2.0
    while waited + delay <= seconds:
        allowed, waited, delay = allowed + 1, waited + delay, delay * 2
    assert 3 <= wrong <= allowed and refused == 40 - wrong, (wrong, seconds)
    failures = [r.getMessage() for r in caplog.records if "failed admin sign-in from 127.0.0.1" in r.getMessage()]
    assert len(failures) == wrong
    assert sum("sign-in from 127.0.0.1 refused" in r.getMessage() for r in caplog.records) == refused
    assert not any("guess-" in r.getMessage() for r in caplog.records)  # passwords are never logged
