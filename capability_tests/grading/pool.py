"""Grade many completions on the usable CPUs, with a hard per-sample time limit.

By default the pool has one worker per CPU this process may use (`os.sched_getaffinity`), shared
with the other xdist workers of the run (`default_workers`).

`GradingPool` owns worker processes (started lazily, on the first `submit`). Each worker grades its
samples one after the other with `grade_here` (SIGALRM limit inside the worker) and sends each
verdict back as it is made. A dispatcher thread in the parent hands out samples in chunks (as many
as a worker grades in about `QUEUE_SECONDS`, topped up before it runs dry, so a worker never waits
for the parent's thread, which shares the GIL with the sampling path) and watches the clock: a
worker that has not answered for the sample it is grading within `timeout + slack` seconds (stuck
in C code a signal cannot interrupt) is killed and replaced, that sample gets a `timed_out`
verdict and the rest of its chunk is queued again. One bad sample therefore never stalls the run.

A worker that dies (killed while idle, crashed while grading) is not a verdict on anybody's
completion: the dispatcher watches idle workers' process sentinels and replaces one that dies, a
sample that cannot be sent is queued again for a fresh worker, and a sample whose worker died
under it is sent again to a fresh worker, up to `MAX_ATTEMPTS` tries in all. Only
then, or when the pool is closed under pending samples, does it come back as a failure
(`Verdict.error`, never a plain `correct=False`), which callers store as ungraded.

A timeout (the worker's own limit, or the kill at the hard limit) is provisional: the sample is
queued for a recheck with `RECHECK_FACTOR` times the limit, sent only when the pool is otherwise
idle (no waiting sample, no busy worker), and the recheck's verdict is final. So a verdict does
not depend on how loaded the machine was when the sample was first graded.

A worker receives each problem once, then only completions with the problem's token (its
cache holds the last `PROBLEM_CACHE` problems; the pool keeps a mirror of it per worker in the
worker's `WorkerHandle`, `worker_handle.py`: starting, readiness, the cache mirror, the kill): a
code problem's tests travel once per worker, not once per sample.

If the dispatcher thread itself fails (a worker that cannot start: EMFILE, ENOMEM), every waiting
future gets that exception and so does every later `submit`: nobody waits forever on a pool
that no longer runs.

`submit(completion, problem) -> Future[Verdict]` can be called while generation is still going
on; `grade_many(pairs)` is the batch form (order preserved).
"""

from __future__ import annotations

import atexit
import collections
import multiprocessing
import multiprocessing.connection
import os
import threading
import time
import weakref
from concurrent.futures import Future
from typing import Iterable

from capability_tests.grading.timeouts import DEFAULT_TIMEOUT_S, RECHECK_FACTOR
from capability_tests.grading.verdict import Verdict
from capability_tests.grading.worker_handle import WorkerHandle, context
from capability_tests.problems import Problem

MAX_ATTEMPTS = 3  # tries per sample when its worker dies under it
MAX_START_FAILURES = 5  # failed starts in a row before the waiting samples fail as errors
CHUNK = 32  # samples sent to a worker in one message at most
QUEUE_SECONDS = 0.02  # a worker holds about this much work ahead (from the mean grading time)
PIPELINE_BYTES = 32 << 10  # a chunk sent to a busy worker fits its pipe: a send never blocks


def usable_cpus() -> int:
    """How many CPUs this process may run on (its affinity mask: taskset, cgroups cpusets,
    a batch scheduler's allocation), not how many the machine has."""
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return os.cpu_count() or 1


def default_workers(cpus: int | None = None, environ=os.environ) -> int:
    """Grading processes for this process when `--grading-workers` is not given: its share of
    the usable CPUs. Under pytest-xdist the N workers of a run (PYTEST_XDIST_WORKER_COUNT) split
    them: worker gwI gets cpus // N, plus one for I < cpus % N, so together they start one grading
    process per CPU; every worker gets at least one."""
    cpus = usable_cpus() if cpus is None else max(1, cpus)
    try:
        count = int(environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
        index = int(environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw"))
    except ValueError:
        count, index = 1, 0
    if count <= 1:
        return cpus
    return max(1, cpus // count + (1 if index % count < cpus % count else 0))


def _failure(reason: str, seconds: float = 0.0) -> Verdict:
    return Verdict(False, None, f"grading error: {reason}", seconds, error=True)


class GradingPool:
    def __init__(self, workers: int | None = None, timeout: float = DEFAULT_TIMEOUT_S,
                 slack: float = 2.0, grade_fn=None):
        """`grade_fn(completion, problem, timeout) -> Verdict` replaces `grade_here` in the
        workers (a module-level function; for tests)."""
        self._grade_fn = grade_fn
        self.size = max(1, workers or default_workers())
        self.timeout = timeout
        self.hard_limit = timeout + slack
        self._pending: collections.deque = collections.deque()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._closed = False
        self._wake_r, self._wake_w = os.pipe()
        self.killed = 0  # workers killed for overrunning (for tests and reports)
        self.replaced = 0  # workers found dead (idle or under a sample) and replaced
        self._start_failures = 0
        self._workers: list[WorkerHandle] = []
        self._rechecks: collections.deque = collections.deque()  # provisional timeouts
        self._crash: BaseException | None = None  # what stopped the dispatcher thread
        self._tokens: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
        self._next_token = 0
        self.problems_sent = 0  # problems sent to workers (once per worker and problem)
        self.rechecked = 0  # provisional timeouts graded again with the longer limit
        self._mean_s = 0.05  # running mean of a sample's grading time (sets how far ahead)
    # -- public ----------------------------------------------------------------------------------
    def submit(self, completion: str, problem: Problem) -> Future[Verdict]:
        future: Future = Future()
        with self._lock:
            if self._crash is not None:
                raise self._crash
            if self._closed:
                raise RuntimeError("GradingPool is closed")
            wake = not self._pending  # a dispatcher with work queued wakes by itself: a
            self._pending.append((future, completion, problem, 0, 1.0))  # write per sample
            if self._thread is None:  # would hand the GIL over per sample
                self._thread = threading.Thread(target=self._run, name="grading-pool",
                                                daemon=True)
                self._thread.start()
        if wake:
            self._wake()
        return future

    def map(self, pairs: Iterable[tuple[str, Problem]]) -> list[Verdict]:
        futures = [self.submit(c, p) for c, p in pairs]
        return [f.result() for f in futures]

    def worker_pids(self) -> list[int]:
        """Process ids of the workers started so far (for tests and diagnostics)."""
        return [w.proc.pid for w in list(self._workers) if w.proc.pid is not None]

    def close(self) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
        self._wake()
        if self._thread is not None:
            self._thread.join()
        for fd in (self._wake_r, self._wake_w):
            try:
                os.close(fd)
            except OSError:
                pass

    def __enter__(self) -> GradingPool:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- dispatcher ------------------------------------------------------------------------------
    def _wake(self) -> None:
        try:
            os.write(self._wake_w, b"x")
        except OSError:
            pass

    def _run(self) -> None:
        ctx = context()
        workers: list[WorkerHandle] = []
        self._workers = workers
        try:
            while True:
                with self._lock:
                    done = self._closed and not self._pending and not self._rechecks
                if done and all(not w.tasks for w in workers):
                    break
                # hand out work (a worker that cannot take it is replaced; the samples wait)
                ready_workers = sum(w.ready for w in workers)
                for i, w in enumerate(workers):
                    if w.ready and not self._feed(w, ready_workers):
                        workers[i] = self._replace(ctx, w)
                        self.replaced += 1
                # a provisional timeout is rechecked only in an otherwise idle pool, alone
                if self._rechecks and not self._pending and all(not w.tasks for w in workers):
                    idle_now = [i for i, w in enumerate(workers) if w.ready]
                    if idle_now:
                        with self._lock:
                            self._pending.appendleft(self._rechecks.popleft())
                        if not self._feed(workers[idle_now[0]], 1):
                            workers[idle_now[0]] = self._replace(ctx, workers[idle_now[0]])
                            self.replaced += 1
                while len(workers) < self.size and (self._pending or (self._rechecks and not workers)):
                    workers.append(WorkerHandle(ctx, self.timeout, self._grade_fn))
                busy = [w for w in workers if w.tasks]
                idle = [w for w in workers if w.ready and not w.tasks]
                starting = [w for w in workers if not w.ready]
                now = time.monotonic()
                wait_for = min([w.deadline for w in busy] + [w.start_deadline for w in starting],
                               default=now + 1.0) - now
                ready = multiprocessing.connection.wait(
                    [w.conn for w in busy] + [w.proc.sentinel for w in idle]
                    + [w.conn for w in starting] + [w.proc.sentinel for w in starting]
                    + [self._wake_r],
                    timeout=max(0.0, min(wait_for, 1.0)),
                )
                if self._wake_r in ready:
                    os.read(self._wake_r, 65536)
                for i, w in enumerate(workers):
                    if not w.ready:
                        self._starting(ctx, workers, i, ready)
                    elif not w.tasks and w.proc.sentinel in ready:
                        # an idle worker died (killed, out of memory)
                        workers[i] = self._replace(ctx, w)
                        self.replaced += 1
                for i, w in enumerate(list(workers)):
                    if not w.tasks:
                        continue
                    if w.conn in ready:
                        try:
                            while w.tasks and w.conn.poll():  # every verdict that is back
                                verdict = w.conn.recv()
                                item = w.tasks.popleft()
                                self._mean_s += 0.05 * (verdict.seconds - self._mean_s)
                                self._settle(item, verdict)
                                if w.tasks:  # the next one starts now (or started, if later)
                                    w.deadline = time.monotonic() + self._limit_for(
                                        w.tasks[0][2], w.tasks[0][4])
                        except (EOFError, OSError) as exc:
                            item, rest = w.tasks.popleft(), list(w.tasks)
                            w.tasks.clear()
                            workers[i] = self._replace(ctx, w)
                            self.replaced += 1
                            self._requeue(rest)
                            self._retry(item, f"grader crashed ({exc!r})", 0.0)
                    elif time.monotonic() > w.deadline:
                        self.killed += 1
                        item, rest = w.tasks.popleft(), list(w.tasks)
                        w.tasks.clear()
                        workers[i] = self._replace(ctx, w)
                        self._requeue(rest)
                        self._settle(item, Verdict(False, None, "timeout",
                                                   self._limit_for(item[2], item[4]),
                                                   timed_out=True))
        except BaseException as exc:  # the dispatcher cannot go on: its cause reaches every caller
            with self._lock:  # (through their futures and every later submit, not a thread dump)
                self._crash = exc
        finally:
            for w in workers:
                try:
                    w.conn.send(None)
                except OSError:
                    pass
            for w in workers:
                w.proc.join(2)
                if w.proc.is_alive():
                    w.kill()
            with self._lock:
                leftover = list(self._pending) + list(self._rechecks)
                self._pending.clear()
                self._rechecks.clear()
                crash = self._crash
            stranded = [item[0] for item in leftover]
            # only after an error in this thread: never leave a caller waiting
            stranded += [item[0] for w in workers for item in w.tasks]
            for future in stranded:
                if future.done():
                    continue
                if crash is not None:
                    future.set_exception(crash)
                else:
                    future.set_result(_failure("grading pool closed"))

    def _starting(self, ctx, workers: list[WorkerHandle], i: int, ready: list) -> None:
        """A worker not yet ready: mark it ready when it says so; replace it when it died or
        did not start in time; after MAX_START_FAILURES starts in a row that failed, fail the
        waiting samples (as errors, never verdicts) rather than retry forever."""
        from capability_tests.grading.worker import READY

        w = workers[i]
        if w.conn in ready:
            try:
                w.ready = w.conn.recv() == READY
            except (EOFError, OSError):
                w.ready = False
            if w.ready:
                self._start_failures = 0
                return
        elif w.proc.sentinel not in ready and time.monotonic() < w.start_deadline:
            return
        workers[i] = self._replace(ctx, w)
        self.replaced += 1
        self._start_failures += 1
        if self._start_failures >= MAX_START_FAILURES:
            with self._lock:
                waiting = list(self._pending)
                self._pending.clear()
            for future, *_ in waiting:
                future.set_result(_failure(
                    f"grading workers failed to start {self._start_failures} times in a row"))
            self._start_failures = 0

    def _feed(self, w: WorkerHandle, ready_workers: int) -> bool:
        """Send ready worker `w` the next pending samples in one message: as many as it grades
        in about QUEUE_SECONDS (at most CHUNK, at most its share of what waits), topped up while
        it still grades the last of what it holds, so it never waits for this thread. A chunk
        for a busy worker must fit its pipe (PIPELINE_BYTES), else it waits until the worker is
        idle: this thread never blocks on a send. False when `w` cannot take it (the samples go
        back to the front of the queue, the caller replaces `w`)."""
        depth = max(1, min(CHUNK, int(QUEUE_SECONDS / max(self._mean_s, 1e-6))))
        held_now = len(w.tasks)
        if held_now > depth // 2:
            return True
        with self._lock:
            share = -(-len(self._pending) // max(1, ready_workers))
            count = min(depth - held_now, share)
            items = [self._pending.popleft() for _ in range(count)]
        if not items:
            return True
        while True:
            data, holds, new = w.encode(items, self._token, self.timeout)
            if not held_now or len(data) <= PIPELINE_BYTES:
                break
            keep = len(items) // 2
            self._requeue(items[keep:])
            items = items[:keep]
            if not items:
                return True
        try:
            w.conn.send_bytes(data)
        except (OSError, ValueError) as exc:
            self._requeue(items[1:])
            self._retry(items[0], f"cannot send to grader ({exc!r})", 0.0)
            return False
        self.problems_sent += new
        w.holds = holds
        if not held_now:
            w.deadline = time.monotonic() + self._limit_for(items[0][2], items[0][4])
        w.tasks.extend(items)
        return True

    def _requeue(self, items) -> None:
        """Samples sent to a worker that is gone before it graded them: to the front of the
        queue, in their order, no try counted (the sample being graded is counted, elsewhere)."""
        if items:
            with self._lock:
                self._pending.extendleft(reversed(items))

    def _token(self, problem: Problem) -> int:
        """A number for `problem` (by object), stable while it lives."""
        token = self._tokens.get(problem)
        if token is None:
            token = self._tokens[problem] = self._next_token
            self._next_token += 1
        return token

    def _settle(self, item, verdict: Verdict) -> None:
        """Resolve a sample, except a first timeout: that one is queued for a recheck."""
        future, completion, problem, attempts, factor = item
        if verdict.timed_out and not verdict.error and factor == 1.0:
            self.rechecked += 1
            with self._lock:
                self._rechecks.append((future, completion, problem, 0, RECHECK_FACTOR))
            return
        if factor != 1.0:
            from capability_tests.grading.grader import recheck_verdict
            from capability_tests.grading.verifiers import has_own_limits

            own = has_own_limits(problem)
            verdict = recheck_verdict(verdict, None if own else self.timeout * factor)
        future.set_result(verdict)

    def _limit_for(self, problem: Problem, factor: float = 1.0) -> float:
        """`timeout + slack`, or the verifier's own budget plus slack where it needs longer (a
        code problem: the program's run in the sandbox); a recheck's limit is `factor` times."""
        slack = self.hard_limit - self.timeout
        try:
            from capability_tests.grading.verifiers import time_budget

            return time_budget(problem, self.timeout * factor) + slack
        except Exception:  # an unknown verifier fails in the worker, with its own message
            return self.timeout * factor + slack

    def _retry(self, item, reason: str, seconds: float) -> None:
        """Queue a sample again after its worker died, or fail it after MAX_ATTEMPTS tries."""
        future, completion, problem, attempts, factor = item
        if attempts + 1 >= MAX_ATTEMPTS:
            future.set_result(_failure(f"{reason}; {attempts + 1} tries", seconds))
            return
        with self._lock:
            self._pending.appendleft((future, completion, problem, attempts + 1, factor))

    def _replace(self, ctx, w: WorkerHandle) -> WorkerHandle:
        w.kill()
        return WorkerHandle(ctx, self.timeout, self._grade_fn)


def grade_many(pairs: Iterable[tuple[str, Problem]], workers: int | None = None,
               timeout: float = DEFAULT_TIMEOUT_S) -> list[Verdict]:
    """Grade (completion, problem) pairs on `workers` processes (default: `default_workers()`,
    the usable CPUs), in order."""
    with GradingPool(workers=workers, timeout=timeout) as pool:
        return pool.map(pairs)


_shared: dict[float, GradingPool] = {}
_shared_lock = threading.Lock()


def shared_pool(timeout: float = DEFAULT_TIMEOUT_S) -> GradingPool:
    """A process-wide one-worker pool, for `grade` called from threads other than the main one."""
    with _shared_lock:
        pool = _shared.get(timeout)
        if pool is None:
            pool = _shared[timeout] = GradingPool(workers=1, timeout=timeout)
            atexit.register(pool.close)
        return pool
