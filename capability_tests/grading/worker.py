"""The loop a `GradingPool` worker process runs (imported once by the forkserver).

Each message is a chunk of tasks `(completion, token, problem or None, timeout)`, graded in
order, each verdict sent back as soon as it is made (the pool's hard limit follows the sample
being graded); the pool sends a problem once per
worker, with its token, and afterwards only the token; the worker keeps the last
`cache_size` problems it was sent (least recently used out first). The pool mirrors that cache
exactly (same size, same order of use), so it knows which problems a worker still holds.
"""

from __future__ import annotations

import collections
import signal

import sympy  # noqa: F401  (imported here so forked workers start warm)

from capability_tests.grading import compare_values, equivalence  # noqa: F401
from capability_tests.grading.grader import grade_here
from capability_tests.grading.verifiers import warm

READY = "ready"  # sent once imports and the verifier registry are done (see GradingPool)


def worker_main(conn, timeout: float, grade_fn=None, cache_size: int = 256) -> None:
    grade_fn = grade_fn or grade_here
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    warm()
    conn.send(READY)
    problems: collections.OrderedDict = collections.OrderedDict()
    while True:
        try:
            task = conn.recv()
        except (EOFError, OSError):
            return
        if task is None:
            return
        for completion, token, problem, limit in task:  # a chunk: one verdict sent per sample
            if problem is not None:
                problems[token] = problem
                if len(problems) > cache_size:
                    problems.popitem(last=False)
            else:
                problem = problems[token]  # a missing token is a pool bug: this worker dies
                problems.move_to_end(token)
            conn.send(grade_fn(completion, problem, limit or timeout))
