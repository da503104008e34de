"""Prompt templates for the LLM backends: files in `prompts/` (COPILOT_PROMPTS_DIR), loaded by `load_prompt`.

Templates are plain text with `{name}` placeholders. Substitution is a single pass over the template, so a
value that itself contains `{...}` (a passage quoting JSON, say) is inserted as it is and never expanded.

Passages and conversation turns are inserted as delimited data (`<passage n="1" ...>...</passage>`); any
tag-like text inside them is escaped so that a document cannot close the delimiter and speak as the prompt.
"""

from __future__ import annotations

import html
import re
from collections.abc import Sequence

from . import config
from .errors import CopilotError

_PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")
_TAG_LIKE = re.compile(r"<(?=\s*/?\s*[A-Za-z!?])")


def load_prompt(name: str, **values: object) -> str:
    """Read `prompts/<name>.txt` and fill its `{placeholders}` with `values` (every one must be given)."""
    path = config.prompts_dir() / f"{name}.txt"
    try:
        template = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise CopilotError(f"Prompt template {path} could not be read ({exc.strerror or exc}). Restore it, or "
                           "point COPILOT_PROMPTS_DIR at a folder holding system.txt, answer.txt, condense.txt "
                           "and passage.txt.") from exc
    missing = sorted({m.group(1) for m in _PLACEHOLDER.finditer(template)} - set(values))
    if missing:
        raise CopilotError(f"Prompt template {path} needs values for: {', '.join(missing)}")
    return _PLACEHOLDER.sub(lambda m: str(values[m.group(1)]), template).strip() + "\n"


def escape_data(text: str) -> str:
    """Neutralise anything tag-like (`</passage>`, `<system>`) in quoted text; `&` is kept as it is."""
    return _TAG_LIKE.sub("&lt;", text or "")


def _attr(value: object) -> str:
    return html.escape(" ".join(str(value if value is not None else "").split()), quote=True)


def render_passages(passages: Sequence, max_chars: int = 1800) -> str:
    """Passages numbered from 1 in the given order, each delimited by the `passage` template."""
    parts = []
    for n, p in enumerate(passages, 1):
        text = (p.text or "").strip()
        if len(text) > max_chars:
            text = text[:max_chars].rsplit(" ", 1)[0] + " ..."
        parts.append(load_prompt("passage", n=n, source=_attr(p.source), title=_attr(p.title),
                                 section=_attr(p.section), text=escape_data(text)).strip())
    return "\n\n".join(parts)


def render_history(history: Sequence[tuple[str, str]], max_turns: int = 6, max_chars: int = 600) -> str:
    """Earlier turns as delimited data: `<turn role="user">...</turn>`."""
    out = []
    for role, text in list(history)[-max_turns:]:
        text = text.strip()
        if len(text) > max_chars:
            text = text[:max_chars].rsplit(" ", 1)[0] + " ..."
        out.append(f'<turn role="{_attr(role)}">{escape_data(text)}</turn>')
    return "\n".join(out)
