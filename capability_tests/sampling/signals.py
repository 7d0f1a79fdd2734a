"""SIGTERM and SIGINT during sampling (a scheduler's preemption, a CI time limit, `timeout`,
Ctrl-C): the signal becomes `StopRequested` (a KeyboardInterrupt, so pytest ends the session as
interrupted), raised at once unless a flush is being graded and written, in which case it is
raised when that flush is stored. The coordinator then stores what was received, ends the engine
and waits for its processes; the plugin writes the incomplete run folder and exits with
`EXIT_STOPPED`."""

from __future__ import annotations

import contextlib
import signal
import threading
from typing import Callable, Iterator

EXIT_STOPPED = 7  # the run was stopped by SIGTERM/SIGINT during sampling; its report is incomplete
SIGNALS = (signal.SIGTERM, signal.SIGINT)


class StopRequested(KeyboardInterrupt):
    """A stop signal arrived while sampling."""

    def __init__(self, signum: int) -> None:
        super().__init__(f"stopped by {signal.Signals(signum).name} while sampling")
        self.signum = signum


class StopSignals:
    """Installed while sampling (main thread only: Python delivers signals there)."""

    def __init__(self, busy: Callable[[], bool] = lambda: False) -> None:
        self.busy = busy  # True while a flush must not be cut
        self.pending: int | None = None
        self.received: int | None = None

    def _handle(self, signum, frame) -> None:
        self.received = signum
        if self.busy():
            self.pending = signum
            return
        raise StopRequested(signum)

    def check(self) -> None:
        """Raise a signal that arrived during a flush, now that the flush is stored."""
        if self.pending is not None:
            signum, self.pending = self.pending, None
            raise StopRequested(signum)

    @contextlib.contextmanager
    def installed(self) -> Iterator[StopSignals]:
        if threading.current_thread() is not threading.main_thread():
            yield self
            return
        previous = {s: signal.signal(s, self._handle) for s in SIGNALS}
        try:
            yield self
        finally:
            for s, handler in previous.items():
                signal.signal(s, handler)
