"""A small scripted LLM server on loopback, for testing the LLM backends over real HTTP.

Speaks two API shapes:
- OpenAI-compatible `POST /v1/chat/completions`, non-streaming (one JSON object) and streaming (SSE
  `data: {...}` chunks ending with `data: [DONE]`);
- Ollama `POST /api/chat`, streaming (NDJSON, one object a line, the last with `"done": true`) and not.

The reply is chosen per test: `server.reply` is a string or a function of the request body returning one;
`server.replies` (a list) is used first, one reply per request. Every request is recorded in
`server.requests` as {"path", "body", "headers"}. `delay` sleeps before answering (timeouts), `status`
makes it answer with an HTTP error instead.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

Reply = str | Callable[[dict], str]


def pieces(text: str) -> list[str]:
    """Split a reply into token-like pieces (a word with its trailing space, markers on their own)."""
    return re.findall(r"\[\d+\]|[^\s\[]+\s*|\s+|\[", text) or [""]


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):  # a client that gave up (a timeout test): not news
        pass


class FakeLLMServer:
    def __init__(self, reply: Reply = "I don't know: the knowledge base does not cover this.",
                 model: str = "fake-model"):
        self.reply: Reply = reply
        self.replies: list[Reply] = []
        self.model = model
        self.requests: list[dict] = []
        self.errors: list[Exception] = []  # exceptions raised by reply functions
        self.delay = 0.0
        self.chunk_delay = 0.0
        self.status: int | None = None
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    # ------------------------------------------------------------ lifecycle

    def start(self) -> FakeLLMServer:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.0"  # the connection closes after each response: no chunked encoding

            def log_message(self, *args):  # keep test output quiet
                pass

            def do_GET(self):
                if self.path.rstrip("/") in ("/v1/models", "/api/tags"):
                    self._json(200, {"object": "list", "data": [{"id": server.model, "object": "model"}],
                                     "models": [{"name": server.model, "model": server.model}]})
                else:
                    self._json(404, {"error": "not found"})

            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                try:
                    body = json.loads(raw or b"{}")
                except ValueError:
                    body = {"_raw": raw.decode("utf-8", "replace")}
                path = self.path.split("?")[0].rstrip("/")
                with server._lock:
                    server.requests.append({"path": path, "body": body, "headers": dict(self.headers)})
                if server.delay:
                    time.sleep(server.delay)
                if server.status:
                    self._json(server.status, {"error": {"message": f"scripted error {server.status}",
                                                         "type": "scripted"}, "status_code": server.status})
                    return
                if path not in ("/v1/chat/completions", "/api/chat"):
                    self._json(404, {"error": f"no route {path}"})
                    return
                try:
                    text = server.next_reply(body)
                except Exception as exc:  # a broken script: answer 500 and keep the error for the test
                    server.errors.append(exc)
                    self._json(500, {"error": {"message": f"reply script failed: {exc!r}"}})
                    return
                if path == "/v1/chat/completions":
                    self._openai(body, text)
                else:
                    self._ollama(body, text)

            # -------- helpers

            def _json(self, status: int, obj: dict) -> None:
                data = json.dumps(obj).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _send_stream(self, content_type: str, lines: list[bytes]) -> None:
                self.send_response(200)
                self.send_header("Content-Type", content_type)
                self.send_header("Cache-Control", "no-cache")
                self.end_headers()
                for line in lines:
                    self.wfile.write(line)
                    self.wfile.flush()
                    if server.chunk_delay:
                        time.sleep(server.chunk_delay)

            def _openai(self, body: dict, text: str) -> None:
                created = int(time.time())
                base = {"id": "chatcmpl-fake", "created": created, "model": body.get("model", server.model)}
                if not body.get("stream"):
                    self._json(200, {**base, "object": "chat.completion", "choices": [
                        {"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
                        "usage": {"prompt_tokens": 10, "completion_tokens": len(pieces(text)),
                                  "total_tokens": 10 + len(pieces(text))}})
                    return
                events = []
                for i, piece in enumerate(pieces(text)):
                    delta = {"content": piece}
                    if i == 0:
                        delta["role"] = "assistant"
                    events.append({**base, "object": "chat.completion.chunk",
                                   "choices": [{"index": 0, "delta": delta, "finish_reason": None}]})
                events.append({**base, "object": "chat.completion.chunk",
                               "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]})
                if (body.get("stream_options") or {}).get("include_usage"):
                    events.append({**base, "object": "chat.completion.chunk", "choices": [],
                                   "usage": {"prompt_tokens": 10, "completion_tokens": len(events),
                                             "total_tokens": 10 + len(events)}})
                lines = [f"data: {json.dumps(e)}\n\n".encode() for e in events] + [b"data: [DONE]\n\n"]
                self._send_stream("text/event-stream", lines)

            def _ollama(self, body: dict, text: str) -> None:
                model = body.get("model", server.model)
                stamp = "2026-01-01T00:00:00Z"
                final = {"model": model, "created_at": stamp, "done": True, "done_reason": "stop",
                         "total_duration": 1000, "load_duration": 10, "prompt_eval_count": 10,
                         "prompt_eval_duration": 100, "eval_count": len(pieces(text)), "eval_duration": 500}
                if body.get("stream") is False:
                    self._json(200, {**final, "message": {"role": "assistant", "content": text}})
                    return
                lines = [json.dumps({"model": model, "created_at": stamp, "done": False,
                                     "message": {"role": "assistant", "content": p}}).encode() + b"\n"
                         for p in pieces(text)]
                lines.append(json.dumps({**final, "message": {"role": "assistant", "content": ""}}).encode() + b"\n")
                self._send_stream("application/x-ndjson", lines)

        self._httpd = _QuietServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05},
                                        name="fake-llm", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None

    def __enter__(self) -> FakeLLMServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # ------------------------------------------------------------ scripting and inspection

    @property
    def url(self) -> str:
        assert self._httpd is not None, "start the server first"
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def openai_url(self) -> str:
        return f"{self.url}/v1"

    def next_reply(self, body: dict) -> str:
        with self._lock:
            reply = self.replies.pop(0) if self.replies else self.reply
        return reply(body) if callable(reply) else reply

    def chat_requests(self) -> list[dict]:
        return [r for r in self.requests if r["path"] in ("/v1/chat/completions", "/api/chat")]


def messages_of(body: dict) -> dict[str, str]:
    """{role: content} of a chat request body (the last message of each role)."""
    out = {}
    for m in body.get("messages", []):
        content = m.get("content")
        if isinstance(content, list):
            content = "".join(part.get("text", "") for part in content if isinstance(part, dict))
        out[m.get("role")] = content or ""
    return out


_PASSAGE_TAG = re.compile(r'<passage n="(\d+)" source="([^"]*)" title="([^"]*)" section="([^"]*)">')


def passage_numbers(body: dict) -> list[dict]:
    """The passages a chat request carried, as {n, source, title, section}, in order."""
    user = messages_of(body).get("user", "")
    return [{"n": int(m.group(1)), "source": m.group(2), "title": m.group(3), "section": m.group(4)}
            for m in _PASSAGE_TAG.finditer(user)]


def number_of(body: dict, source: str, section: str | None = None) -> int:
    """The number the request gave to the first passage from `source` (and `section`, when given)."""
    for p in passage_numbers(body):
        if p["source"] == source and (section is None or p["section"] == section):
            return p["n"]
    raise AssertionError(f"no passage from {source} {section or ''} in the request: {passage_numbers(body)}")
