"""CX Copilot: cited answers to customer-experience questions from a local knowledge base, offline."""

from .answer import Answer, Answerer, Citation, ExtractiveAnswerer, Passage
from .core import Copilot, FileOutcome, IngestReport, answer
from .errors import CopilotError, IndexMismatchError, LoadError, SourceNotFoundError

__all__ = ["Answer", "Answerer", "Citation", "Copilot", "CopilotError", "ExtractiveAnswerer", "FileOutcome",
           "IndexMismatchError", "IngestReport", "LoadError", "Passage", "SourceNotFoundError", "answer"]
__version__ = "0.1.0"
