"""The parent's handle on one grading worker process: its start, its readiness, what it holds.

Split from `pool.py` because it is one concept the dispatcher only uses: a `WorkerHandle` starts
a `worker.worker_main` process (forkserver, preloaded), knows the samples it was sent and not yet
answered, the hard limit of the one it grades, and mirrors the worker's problem cache exactly
(same size, same order of use), so `encode` sends a problem once per worker and afterwards only
its token. Scheduling (who gets which samples, when, rechecks, retries) stays in the pool. Like
the pool, this module decides no verdict, so it is not part of the grader identity
(`identity.NOT_GRADING`): editing it regrades nothing.
"""

from __future__ import annotations

import collections
import multiprocessing
import time
from multiprocessing.reduction import ForkingPickler

WORKER_MODULE = "capability_tests.grading.worker"
STARTUP_LIMIT_S = 120.0  # a worker that is not ready by then is replaced
PROBLEM_CACHE = 256  # problems a worker keeps (sent once, then referred to by token)


def context():
    """Forkserver with the worker module preloaded (workers start warm), else spawn."""
    if "forkserver" in multiprocessing.get_all_start_methods():
        ctx = multiprocessing.get_context("forkserver")
        ctx.set_forkserver_preload([WORKER_MODULE])
        return ctx
    return multiprocessing.get_context("spawn")


class WorkerHandle:
    def __init__(self, ctx, timeout: float, grade_fn=None):
        from capability_tests.grading.worker import worker_main

        self.conn, child = ctx.Pipe(duplex=True)
        self.proc = ctx.Process(target=worker_main, args=(child, timeout, grade_fn, PROBLEM_CACHE),
                                daemon=True)
        try:
            self.proc.start()
        finally:
            child.close()
        self.tasks: collections.deque = collections.deque()  # items sent, verdict not yet back
        self.deadline = 0.0  # the hard limit of the first of `tasks` (the one being graded)
        # tokens of the problems this worker holds, in its cache's order (mirror of worker_main)
        self.holds: collections.OrderedDict[int, None] = collections.OrderedDict()
        # Work is sent only once the worker says it is ready (imports and registry done), so a
        # slow start on a loaded machine never eats into a sample's time limit.
        self.ready = False
        self.start_deadline = time.monotonic() + STARTUP_LIMIT_S

    def encode(self, items, token_of, timeout: float):
        """One message for `items` (future, completion, problem, attempts, factor): each
        sample with its problem's token, the problem itself only where this worker does not hold
        it. Returns (bytes, the worker's cache after it, problems newly sent); the caller sets
        `holds` to that cache only once the bytes went out."""
        holds = collections.OrderedDict(self.holds)
        payload, new = [], 0
        for _future, completion, problem, _attempts, factor in items:
            token = token_of(problem)
            held = token in holds
            payload.append((completion, token, None if held else problem, timeout * factor))
            if held:
                holds.move_to_end(token)
            else:
                new += 1
                holds[token] = None
                if len(holds) > PROBLEM_CACHE:
                    holds.popitem(last=False)
        return ForkingPickler.dumps(payload), holds, new

    def kill(self) -> None:
        try:
            self.proc.kill()
            self.proc.join(5)
        finally:
            self.conn.close()
