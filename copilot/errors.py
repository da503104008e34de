"""Every error the copilot raises on purpose, each with a message meant for a person."""

from __future__ import annotations


class CopilotError(Exception):
    """Base class: the message says what went wrong and how to fix it."""


class LoadError(CopilotError):
    """A document could not be loaded. Names the file and the reason."""

    def __init__(self, path: str, reason: str):
        self.path = str(path)
        self.reason = reason
        super().__init__(f"{self.path}: {reason}")


class IndexMismatchError(CopilotError):
    """The index on disk was built with other settings than the ones in use."""


class IndexNotFoundError(CopilotError):
    """No index at the given place, and none could be built."""


class IndexBusyError(CopilotError):
    """Another process is changing the index and did not finish in time; nothing was changed."""


class IndexDamagedError(CopilotError):
    """The index's shared records cannot be read; the message says how to repair it."""


class SourceNotFoundError(CopilotError):
    """`remove` was asked for a source the index does not hold."""


class MissingDependencyError(CopilotError):
    """An optional extra is needed; the message names the pip command."""

    def __init__(self, what: str, extra: str):
        super().__init__(f"{what} is not installed. Install it with: pip install 'cx-copilot[{extra}]'")


class BackendError(CopilotError):
    """An answer backend (an LLM endpoint) failed or is unreachable."""
