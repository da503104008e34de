"""A time limit for a block of Python code in the current thread: `with time_limit(seconds): ...`.

Loading one hostile file must not stall a whole batch (or the web app's loading lane). Signals only reach the
main thread, and loads also run in the web app's worker threads, so the limit is enforced by one watchdog
thread that raises `TimeLimitExceeded` inside the thread that overran, through CPython's
`PyThreadState_SetAsyncExc`. The exception derives from BaseException, so the `except Exception` recovery
blocks of parsers do not swallow it. It arrives
between two Python bytecodes: a single long call into C code finishes first (the loaders bound those with
their own limits: decompressed size, page count, text length).
"""

from __future__ import annotations

import ctypes
import itertools
import threading
import time
from contextlib import contextmanager


class TimeLimitExceeded(BaseException):
    """The time limit of a `time_limit` block ran out (BaseException: generic handlers must not catch it)."""


def _raise_in(thread_id: int, exc: type[BaseException] | None) -> None:
    """Make `thread_id` raise `exc` at its next bytecode; None withdraws one that has not been raised yet."""
    ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(thread_id),
                                               ctypes.py_object(exc) if exc is not None else None)


class _Watchdog:
    """One daemon thread for every armed limit. Each limit fires at most once; firing and disarming take the
    same lock, and disarming a limit that fired withdraws the exception if it is still pending, so nothing is
    ever raised in a thread after it has left its block."""

    def __init__(self):
        self._cond = threading.Condition()
        self._armed: dict[int, tuple[int, float]] = {}  # token -> (thread id, deadline)
        self._fired: dict[int, int] = {}  # token -> thread id
        self._tokens = itertools.count()
        self._thread: threading.Thread | None = None

    def arm(self, seconds: float) -> int:
        with self._cond:
            token = next(self._tokens)
            self._armed[token] = (threading.get_ident(), time.monotonic() + seconds)
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="copilot-time-limit", daemon=True)
                self._thread.start()
            self._cond.notify()
            return token

    def disarm(self, token: int) -> None:
        with self._cond:
            self._armed.pop(token, None)
            thread_id = self._fired.pop(token, None)
            if thread_id is not None:
                _raise_in(thread_id, None)  # withdraw it, should it not have been raised yet

    def _run(self) -> None:
        with self._cond:
            while True:
                now = time.monotonic()
                for token, (thread_id, deadline) in list(self._armed.items()):
                    if deadline <= now:
                        del self._armed[token]
                        self._fired[token] = thread_id
                        _raise_in(thread_id, TimeLimitExceeded)
                nearest = min((d for _, d in self._armed.values()), default=None)
                self._cond.wait(None if nearest is None else max(nearest - time.monotonic(), 0.005))


_watchdog = _Watchdog()


@contextmanager
def time_limit(seconds: float | None):
    """Raise TimeLimitExceeded in this thread if the block runs longer than `seconds` (None or <= 0: no
    limit). It is raised once, inside the block or while leaving it; never after."""
    if not seconds or seconds <= 0:
        yield
        return
    token = _watchdog.arm(seconds)
    try:
        yield
    finally:
        _watchdog.disarm(token)
