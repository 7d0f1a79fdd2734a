"""A time limit for one comparison, inside the process that runs it.

`time_limit(seconds)` arms a timer through `setitimer` and raises `GradingTimeout` when it fires.
That interrupts pure-Python work (sympy simplification, evaluation), which is where time goes.
The limit is about computation, so where the process runs one thread (a grading worker) it counts
CPU time (`ITIMER_PROF`, `SIGPROF`): a busy machine that slows the worker down does not turn a
verdict into a timeout. In a process with other threads (the `--grading-workers 0` path inside
pytest) process CPU time would count theirs too, so the limit there is wall-clock (`ITIMER_REAL`,
`SIGALRM`), which is never longer than this thread's CPU time: stricter, never looser.
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
# a timeout is provisional: rechecked once with this many times the limit, in an idle worker
RECHECK_FACTOR = 4.0


class GradingTimeout(Exception):
    """A comparison ran past its wall-clock limit."""


def signals_usable() -> bool:
    return hasattr(signal, "setitimer") and threading.current_thread() is threading.main_thread()


def _raise_timeout(signum, frame):  # noqa: ARG001
    raise GradingTimeout()


def _clock() -> tuple[int, int, object]:
    """(timer, its signal, the clock it counts) for this process: CPU time when it runs one
    thread, wall-clock otherwise."""
    if threading.active_count() == 1 and hasattr(signal, "ITIMER_PROF"):
        return signal.ITIMER_PROF, signal.SIGPROF, time.process_time
    return signal.ITIMER_REAL, signal.SIGALRM, time.monotonic


@contextlib.contextmanager
def time_limit(seconds: float) -> Iterator[None]:
    if seconds is None or seconds <= 0 or not signals_usable():
        yield
        return
    timer, signum, clock = _clock()
    previous = signal.signal(signum, _raise_timeout)
    outer_delay, outer_interval = signal.setitimer(timer, seconds)
    started = clock()
    if outer_delay and outer_delay < seconds:
        # an outer timer (pytest-timeout, a caller's own limit) fires first: keep its deadline
        signal.setitimer(timer, outer_delay)
    try:
        yield
    finally:
        signal.setitimer(timer, 0)
        signal.signal(signum, previous)
        if outer_delay:
            # re-arm the caller's timer with what is left of it
            left = max(outer_delay - (clock() - started), 1e-3)
            signal.setitimer(timer, left, outer_interval)
