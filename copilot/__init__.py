"""CX Copilot: cited answers to customer-experience questions from a local knowledge base, offline.

The engine (`Copilot`, `FileOutcome`, `IngestReport`, from copilot.core) is imported when first asked for, so a
command that needs none of it (`cx-copilot metrics`) does not pay for loading it."""

from .answer import Answer, Answerer, Citation, ExtractiveAnswerer, History, Passage
from .errors import CopilotError, IndexMismatchError, LoadError, SourceNotFoundError

_FROM_CORE = frozenset({"Copilot", "FileOutcome", "IngestReport"})


def answer(question: str, history: History | None = None) -> Answer:
    """Answer with the default settings and the default index (built from corpus/ on first use)."""
    from .core import answer as core_answer

    return core_answer(question, history)


def __getattr__(name: str):
    if name in _FROM_CORE:
        from . import core

        return getattr(core, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["Answer", "Answerer", "Citation", "Copilot", "CopilotError", "ExtractiveAnswerer", "FileOutcome",
           "IndexMismatchError", "IngestReport", "LoadError", "Passage", "SourceNotFoundError", "answer"]
__version__ = "0.1.0"
