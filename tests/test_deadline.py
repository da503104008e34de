"""The per-file time limit: raised inside the block that overran, in any thread, and never after it."""

from __future__ import annotations

import threading
import time

import pytest

from copilot.deadline import TimeLimitExceeded, time_limit


def _spin():
    n = 0
    while True:
        n += 1


def test_a_block_that_overruns_is_stopped():
    start = time.perf_counter()
    with pytest.raises(TimeLimitExceeded):
        with time_limit(0.2):
            _spin()
    assert 0.15 < time.perf_counter() - start < 3


def test_generic_handlers_inside_the_block_do_not_swallow_it():
    swallowed = []
    with pytest.raises(TimeLimitExceeded):
        with time_limit(0.2):
            try:
                _spin()
            except Exception:  # noqa: BLE001 - what a parser's recovery code does
                swallowed.append(True)
    assert swallowed == []


def test_nothing_is_raised_after_the_block_is_left():
    for _ in range(200):
        with time_limit(0.01):
            pass
    with time_limit(0.05):
        time.sleep(0.01)
    deadline = time.monotonic() + 0.3  # well past every deadline armed above, busy in Python code
    rounds = 0
    while time.monotonic() < deadline:
        rounds += sum(range(1000)) == 499500
    assert rounds > 10


def test_limits_apply_per_thread():
    stopped: list[int] = []
    finished: list[int] = []

    def worker(n):
        try:
            with time_limit(0.3):
                if n % 2:
                    _spin()
                time.sleep(0.05)
            finished.append(n)
        except TimeLimitExceeded:
            stopped.append(n)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert sorted(stopped) == [1, 3, 5] and sorted(finished) == [0, 2, 4]


def test_no_limit_without_seconds():
    with time_limit(None):
        time.sleep(0.01)
    with time_limit(0):
        time.sleep(0.01)
