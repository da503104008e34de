"""Settings from the environment, read when asked, with an error naming the variable when one is bad."""

from __future__ import annotations

import os

from .errors import CopilotError


def env_number(name: str, default: float, kind: type = float) -> float:
    """A positive number from the environment (`kind` int or float), or the default when unset."""
    raw = os.environ.get(name, "").strip().replace("_", "")
    if not raw:
        return default
    try:
        value = kind(raw)
    except ValueError:
        what = "a whole number" if kind is int else "a number"
        raise CopilotError(f"{name}={os.environ[name]!r} is not {what}; unset it or set e.g. "
                           f"{name}={default}") from None
    if value <= 0:
        raise CopilotError(f"{name} must be above 0 (got {raw}); unset it to use the default, {default}")
    return value


def env_int(name: str, default: int) -> int:
    return int(env_number(name, default, int))


def env(*names: str) -> str | None:
    """The first of these environment variables that is set and not blank."""
    for name in names:
        value = os.environ.get(name, "").strip()
        if value:
            return value
    return None
