"""A wall-clock limit for one comparison, inside the process that runs it.

`time_limit(seconds)` arms `SIGALRM` through `setitimer` and raises `GradingTimeout` when it fires.
That interrupts pure-Python work (sympy simplification, evaluation), which is where time goes.
It cannot interrupt one long C-level operation (a huge big-integer power, say); those are refused
before they start by the parser's size guards, and `pool.GradingPool` adds the hard limit on top:
a worker process that does not answer within the limit plus slack is killed and replaced.

Signals only work in the main thread of a process; elsewhere `time_limit` is a no-op and callers
must go through a `GradingPool` for a hard limit (`grader.grade` does that itself).
"""

from __future__ import annotations

import contextlib
import signal
import threading
import time
from typing import Iterator

DEFAULT_TIMEOUT_S = 3.0


class GradingTimeout(Exception):
    """A comparison ran past its wall-clock limit."""


def signals_usable() -> bool:
    return hasattr(signal, "setitimer") and threading.current_thread() is threading.main_thread()


def _raise_timeout(signum, frame):  # noqa: ARG001
    raise GradingTimeout()


@contextlib.contextmanager
def time_limit(seconds: float) -> Iterator[None]:
    if seconds is None or seconds <= 0 or not signals_usable():
        yield
        return
    previous = signal.signal(signal.SIGALRM, _raise_timeout)
    outer_delay, outer_interval = signal.setitimer(signal.ITIMER_REAL, seconds)
    started = time.monotonic()
    if outer_delay and outer_delay < seconds:
        # an outer timer (pytest-timeout, a caller's own limit) fires first: keep its deadline
        signal.setitimer(signal.ITIMER_REAL, outer_delay)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
        if outer_delay:
            # re-arm the caller's timer with what is left of it
            left = max(outer_delay - (time.monotonic() - started), 1e-3)
            signal.setitimer(signal.ITIMER_REAL, left, outer_interval)
