"""The loop a `GradingPool` worker process runs (imported once by the forkserver)."""

from __future__ import annotations

import signal

import sympy  # noqa: F401  (imported here so forked workers start warm)

from capability_tests.grading import equivalence  # noqa: F401
from capability_tests.grading.grader import grade_here
from capability_tests.grading.verifiers import warm


READY = "ready"  # sent once imports and the verifier registry are done (see GradingPool)


def worker_main(conn, timeout: float, grade_fn=None) -> None:
    grade_fn = grade_fn or grade_here
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    warm()
    conn.send(READY)
    while True:
        try:
            task = conn.recv()
        except (EOFError, OSError):
            return
        if task is None:
            return
        completion, problem = task
        conn.send(grade_fn(completion, problem, timeout))
