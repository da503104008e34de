"""What the backends that reach a model over HTTP share: settings from the environment, timeouts, and what an
unreachable server means."""

from __future__ import annotations

from ..envvars import env

__all__ = ["HTTPBackend", "env"]


class HTTPBackend:
    """Mixed into an LLMAnswerer whose model sits behind an HTTP endpoint (`url_variable` names its setting)."""

    url_variable = ""

    def http_timeout(self):
        import httpx

        return httpx.Timeout(self.timeout, connect=self.connect_timeout)

    def explain_failure(self, exc, names, status):
        if any("Timeout" in n for n in names):
            return None  # the generic message says it
        if names & {"APIConnectionError", "ConnectError", "ConnectionError", "ConnectionRefusedError",
                    "RemoteProtocolError", "NetworkError"}:
            return f"Could not reach {self.endpoint}: start the server or set {self.url_variable}."
        return None
