"""Who may reach the app and what they may do (docs/security.md is the threat model).

- `check_host`: the server listens beyond this machine only when an admin password protects the Library.
- `RequestGuard` (ASGI, outermost): only the app's own pages may drive it. A request whose Host header is not
  a name this server answers to (DNS rebinding) or whose Origin is another site (cross-site requests) is refused
  before anything else sees it, on every route; so is a cross-site fetch. Handlers are reachable only through
  the page's own event protocol: the named API routes (`/gradio_api/run/<name>`, `/call/<name>`) exist for the
  public endpoints alone (`ask`). Uploads need a signed-in admin on that address when a password is set.
- `SignInLimiter`: failed sign-ins are slowed per client (exponential back-off after a few) and overall (a few a
  minute), refused attempts are never compared, and every failure is logged. Passwords are compared in constant
  time (`password_matches`).

Everything refused or noteworthy is logged to the `copilot.security` logger (`serve` writes it to stderr and to
`<index>/security.log`); passwords and request bodies are never logged.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import logging
import os
import re
import socket
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from ..envvars import env_int
from ..errors import CopilotError

ADMIN_ENV = "COPILOT_ADMIN_PASSWORD"
ALLOWED_HOSTS_ENV = "COPILOT_ALLOWED_HOSTS"
PUBLIC_API = frozenset({"ask"})  # named endpoints anyone may call (gr.api); everything else is the page's own
PAGE_ROUTE = "predict"  # the page's own route for its unqueued events (by fn_index); guarded like every route

log = logging.getLogger("copilot.security")


def admin_password() -> str:
    """The admin password from the environment ("" when none is set: the Library is open on this machine)."""
    return os.environ.get(ADMIN_ENV) or ""


def password_matches(given, expected: str) -> bool:
    """Constant-time comparison (of digests, so the length of the password does not show either)."""
    given = given if isinstance(given, str) else ""
    return hmac.compare_digest(hashlib.sha256(given.encode("utf-8", "replace")).digest(),
                               hashlib.sha256(expected.encode("utf-8", "replace")).digest())


def is_loopback(host: str) -> bool:
    if host in {"localhost", "localhost.localdomain"}:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_host(host: str) -> None:
    """Refuse to listen beyond this machine unless the library is protected by an admin password."""
    if not is_loopback(host) and not admin_password():
        raise CopilotError(
            f"Refusing to serve on {host}: other machines could change the knowledge base. Set "
            f"{ADMIN_ENV} to protect the Library tab, or serve on 127.0.0.1 (the default).")


# ---------------------------------------------------------------- Host and Origin

_HOST_NAME = re.compile(r"^\.?(?:[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?\.)*[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?$")


def _is_ip(name: str) -> bool:
    try:
        ipaddress.ip_address(name)
        return True
    except ValueError:
        return False


def split_host(value: str) -> tuple[str, int | None] | None:
    """'Example.org:7860' -> ('example.org', 7860); '[::1]:80' -> ('::1', 80); None when it is no host."""
    value = (value or "").strip().lower()
    port_text = ""
    if value.startswith("["):
        end = value.find("]")
        if end < 0:
            return None
        name, rest = value[1:end], value[end + 1:]
        if rest and not rest.startswith(":"):
            return None
        port_text = rest[1:]
        if not _is_ip(name):
            return None
    elif value.count(":") == 1:
        name, _, port_text = value.partition(":")
    elif ":" in value:  # a bare IPv6 address is not a valid Host header
        return None
    else:
        name = value
    name = name.rstrip(".")
    if not name or (not _is_ip(name) and not _HOST_NAME.match(name)):
        return None
    if port_text:
        if not port_text.isdigit() or not 0 < int(port_text) < 65536:
            return None
        return name, int(port_text)
    if value.endswith(":"):
        return None
    return name, None


def allowed_hosts_from_env() -> tuple[str, ...]:
    return tuple(h for h in re.split(r"[\s,]+", os.environ.get(ALLOWED_HOSTS_ENV, "")) if h)


def normalise_allowed_host(value: str) -> str:
    """An --allowed-host value as stored: lower case, no port; '.example.org' allows its subdomains too."""
    raw = (value or "").strip().lower()
    if raw.startswith(("http://", "https://")):
        raw = urlsplit(raw).netloc
    parsed = split_host(raw.lstrip(".")) if raw not in {"", "."} else None
    if parsed is None or raw == "*":
        raise CopilotError(f"--allowed-host {value!r} is not a host name: give the name users type in the "
                           "address bar (copilot.example.org), or .example.org for it and its subdomains.")
    return ("." if raw.startswith(".") else "") + parsed[0]


@dataclass(frozen=True)
class HostPolicy:
    """The names this server answers to. Always: localhost and loopback addresses. Bound beyond this machine:
    also any IP address (a DNS-rebinding page can only ever use a name) and this machine's own names. Plus the
    --allowed-host names (e.g. the name a reverse proxy serves the app under)."""

    bind: str = "127.0.0.1"
    extra: tuple[str, ...] = ()
    local_names: frozenset[str] = field(default=frozenset(), compare=False)

    @classmethod
    def for_server(cls, bind: str, extra: Iterable[str] = ()) -> HostPolicy:
        extra = tuple(dict.fromkeys(normalise_allowed_host(h) for h in [*extra, *allowed_hosts_from_env()]))
        names = {"localhost"}
        bind_name = bind.strip("[]").lower()
        if not is_loopback(bind_name):
            for name in (socket.gethostname(), socket.getfqdn(), bind_name):
                if name and not _is_ip(name):
                    names.add(name.lower().rstrip("."))
        return cls(bind_name, extra, frozenset(names))

    @property
    def public(self) -> bool:
        return not is_loopback(self.bind)

    def _explicit(self, name: str) -> bool:
        return any(name == h or (h.startswith(".") and (name == h[1:] or name.endswith(h))) for h in self.extra)

    def allows(self, host_header: str | None) -> bool:
        parsed = split_host(host_header or "")
        if parsed is None:
            return False
        name = parsed[0]
        if name in self.local_names or name == "localhost" or self._explicit(name):
            return True
        if _is_ip(name):
            return is_loopback(name) or self.public
        return False

    def same_origin(self, origin: str, host_header: str | None) -> bool:
        """Is `origin` the page this Host serves (scheme-default ports folded), or an --allowed-host name (a
        proxy may rewrite Host)?"""
        if not origin or origin.strip().lower() == "null":
            return False
        try:
            parts = urlsplit(origin.strip())
            o_port = parts.port
        except ValueError:
            return False
        if parts.scheme not in {"http", "https"} or not parts.hostname:
            return False
        o_name = parts.hostname.lower().rstrip(".")
        default = 443 if parts.scheme == "https" else 80
        host = split_host(host_header or "")
        if host is not None and host[0] == o_name and (host[1] or default) == (o_port or default):
            return True
        return self._explicit(o_name)


_API_ROUTE = re.compile(r"/gradio_api/(?:run|api|call)/(?:v2/)?([^/]+)")
_SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}


@dataclass
class Refusal:
    status: int
    reason: str


class RequestGuard:
    """ASGI middleware in front of the whole app: refuses what only another site, a DNS-rebinding page or a
    script skipping the page would send. See the module docstring for the rules."""

    def __init__(self, app, policy: HostPolicy, uploads_allowed: Callable[[str], bool] | None = None,
                 public_api: Iterable[str] = PUBLIC_API):
        self.app = app
        self.policy = policy
        self.uploads_allowed = uploads_allowed
        self.public_api = frozenset(public_api) | {PAGE_ROUTE}

    def refusal(self, method: str, path: str, headers, client: str) -> Refusal | None:
        host = headers.get("host")
        if not self.policy.allows(host):
            return Refusal(403, f"Host {_shown(host)} is not a name this server answers to. If users reach the "
                                "app under that name, start it with --allowed-host NAME.")
        origin = headers.get("origin")
        if origin is not None and not self.policy.same_origin(origin, host):
            return Refusal(403, f"requests from other sites ({_shown(origin)}) are not accepted")
        if method not in _SAFE_METHODS and headers.get("sec-fetch-site") == "cross-site":
            return Refusal(403, "requests from other sites are not accepted")
        m = _API_ROUTE.search(path)
        if m and m.group(1) not in self.public_api:
            return Refusal(404, "not an API endpoint")
        if (method == "POST" and path.rstrip("/").endswith("/gradio_api/upload") and self.uploads_allowed
                and not self.uploads_allowed(client)):
            return Refusal(403, "sign in as admin before uploading files")
        return None

    async def __call__(self, scope, receive, send):
        if scope["type"] not in {"http", "websocket"}:
            return await self.app(scope, receive, send)
        from starlette.datastructures import Headers

        headers = Headers(scope=scope)
        client = (scope.get("client") or ("unknown", 0))[0]
        method = scope.get("method", "GET") if scope["type"] == "http" else "GET"
        refused = self.refusal(method, scope.get("path", ""), headers, client)
        if refused is None:
            return await self.app(scope, receive, send)
        log.warning("refused %s %s from %s: %s (Host %s, Origin %s)", method, _shown(scope.get("path", "")),
                    client, refused.reason, _shown(headers.get("host")), _shown(headers.get("origin")))
        if scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1008})
            return
        from starlette.responses import PlainTextResponse

        response = PlainTextResponse(f"Refused: {refused.reason}\n", status_code=refused.status,
                                     headers={"X-Content-Type-Options": "nosniff", "Cache-Control": "no-store"})
        await response(scope, receive, send)


def _shown(value) -> str:
    """Untrusted header text as it may appear in a log or a refusal: printable ASCII, cut short."""
    if value is None:
        return "(none)"
    text = "".join(ch if 32 <= ord(ch) < 127 else "?" for ch in str(value))
    return repr(text if len(text) <= 120 else text[:117] + "...")


# ---------------------------------------------------------------- signing in

def client_of(request) -> str:
    """The address a request came from (a gr.Request or None)."""
    client = getattr(request, "client", None)
    return str(getattr(client, "host", None) or "unknown")


@dataclass(frozen=True)
class SignInSettings:
    free: int = 3  # failures per client before the back-off starts
    base_delay: float = 2.0  # seconds after the first failure beyond `free`, doubling each time
    max_delay: float = 300.0
    forget_after: float = 900.0  # a client's failures are forgotten after this long without one
    global_per_minute: int = 10  # failures from all clients together in any minute

    @classmethod
    def from_env(cls) -> SignInSettings:
        return cls(free=env_int("COPILOT_SIGNIN_FREE_ATTEMPTS", cls.free),
                   global_per_minute=env_int("COPILOT_SIGNIN_PER_MINUTE", cls.global_per_minute))


class SignInLimiter:
    """Rate limits for admin sign-in. `attempt(client)` says how long the client must wait (0: go ahead) and,
    when it may go ahead, counts the attempt as a failure up front, so that parallel guesses cannot all slip
    through before the first one is judged; `succeeded(client)` clears it again."""

    def __init__(self, settings: SignInSettings | None = None, clock: Callable[[], float] = time.monotonic):
        self.settings = settings or SignInSettings()
        self.clock = clock
        self._lock = threading.Lock()
        self._clients: dict[str, tuple[int, float]] = {}  # client -> (failures, time of the last one)
        self._recent: deque[float] = deque()  # times of failures from anyone in the last minute

    def _delay(self, failures: int) -> float:
        s = self.settings
        if failures < s.free:
            return 0.0
        return min(s.base_delay * 2 ** (failures - s.free), s.max_delay)

    def attempt(self, client: str) -> float:
        now = self.clock()
        with self._lock:
            while self._recent and self._recent[0] <= now - 60:
                self._recent.popleft()
            failures, last = self._clients.get(client, (0, 0.0))
            if failures and now - last > self.settings.forget_after:
                failures = 0
            wait = max(0.0, last + self._delay(failures) - now) if failures else 0.0
            if len(self._recent) >= self.settings.global_per_minute:
                wait = max(wait, self._recent[0] + 60 - now)
            if wait > 0:
                return wait
            self._clients[client] = (failures + 1, now)
            self._recent.append(now)
            if len(self._clients) > 10_000:  # many addresses: forget the stale ones
                self._clients = {c: v for c, v in self._clients.items() if now - v[1] <= self.settings.forget_after}
            return 0.0

    def succeeded(self, client: str) -> None:
        with self._lock:
            self._clients.pop(client, None)
            if self._recent:
                self._recent.pop()  # the attempt counted up front was not a failure

    def failures(self, client: str) -> int:
        with self._lock:
            return self._clients.get(client, (0, 0.0))[0]


class AdminClients:
    """Addresses with a signed-in admin session, for the upload route (which knows no session). Without a
    password every local client is admin."""

    def __init__(self, password: str, ttl: float = 12 * 3600, clock: Callable[[], float] = time.monotonic):
        self.open = not password
        self.ttl = ttl
        self.clock = clock
        self._lock = threading.Lock()
        self._until: dict[str, float] = {}

    def grant(self, client: str) -> None:
        with self._lock:
            self._until[client] = self.clock() + self.ttl

    def revoke(self, client: str) -> None:
        with self._lock:
            self._until.pop(client, None)

    def allowed(self, client: str) -> bool:
        if self.open:
            return True
        with self._lock:
            return self._until.get(client, 0.0) > self.clock()
