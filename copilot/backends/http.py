"""What the backends that reach a model over HTTP share: settings from the environment, timeouts, and what an
unreachable server means."""

from __future__ import annotations

from ..envvars import env

__all__ = ["HTTPBackend", "env"]


class HTTPBackend:
    """Mixed into an LLMAnswerer whose model sits behind an HTTP endpoint (`url_variable` names its setting)."""

    url_variable = ""

    def http_timeout(self, timeout_class=None):
        """The read and connect timeouts as the client library's own Timeout type (`timeout_class`, by default
        httpx's): the openai client exports the type of the HTTP library it is built on, which has changed
        between releases, and rejects another library's."""
        if timeout_class is None:
            import httpx

            timeout_class = httpx.Timeout
        return timeout_class(self.timeout, connect=self.connect_timeout)

    def explain_failure(self, exc, names, status):
        if any("Timeout" in n for n in names):
            return None  # the generic message says it
        if names & {"APIConnectionError", "ConnectError", "ConnectionError", "ConnectionRefusedError",
                    "RemoteProtocolError", "NetworkError"}:
            return f"Could not reach {self.endpoint}: start the server or set {self.url_variable}."
        return None
