"""The sample sink: where streamed samples go. It groups them in flushes (FLUSH_SAMPLES samples,
FLUSH_BYTES of text or FLUSH_SECONDS) and submits every sample of a flush to the grading pool at
once, without waiting: verdicts are collected as their futures complete, while the engine goes on
generating, and graded samples are written to the store in batches (WRITE_ROWS rows or
WRITE_SECONDS) by a writer thread, so receiving, grading, storing and tallying overlap instead of
taking turns. Samples in grading are bounded (MAX_IN_FLIGHT samples, MAX_IN_FLIGHT_BYTES of
text): past that a flush waits for verdicts (grading is then the limit, and back-pressure reaches
the engine). `flush()` at the end (or after an interrupt) waits until every sample received is
graded and stored. Failures stay with their problem: a `RequestFailure`, a grading failure or a
row the store refuses is that problem's (`ProblemTally.fail`, or an ungraded verdict), never the
batch's. `Grading` is the one place sampling grades (in this process, or on a `GradingPool`)."""

from __future__ import annotations

import collections
import queue
import threading
import time
from concurrent.futures import Future, as_completed
from typing import TYPE_CHECKING, Iterable, Mapping, Sequence

from capability_tests.engines import Completion, RequestFailure
from capability_tests.grading.verdict import Verdict
from capability_tests.problems import Problem
from capability_tests.sampling.outcome import ProblemTally
from capability_tests.seeds import SEED_MODULUS, problem_seed_base
from capability_tests.store import (
    CompletionStore,
    NewSample,
    StoredSample,
    StoreError,
    VerdictUpdate,
    verdict_flags,
)

if TYPE_CHECKING:
    from capability_tests.grading.pool import GradingPool

FLUSH_SAMPLES = 64
FLUSH_BYTES = 16 << 20
FLUSH_SECONDS = 2.0
MAX_IN_FLIGHT = 2048  # samples submitted to grading and not yet collected
MAX_IN_FLIGHT_BYTES = 2 * FLUSH_BYTES
WRITE_ROWS = 512  # graded samples per store transaction
WRITE_SECONDS = 1.0


def failed_verdict(exc: BaseException) -> Verdict:
    """A grading call that raised (outside any verifier: a dead dispatcher, a closed pool): no
    verdict, stored ungraded and graded again by the next run."""
    return Verdict(False, None, f"grading failed: {type(exc).__name__}: {exc}", 0.0, error=True)


class Grading:
    """Verdicts as futures. `workers` 0 grades in this process (at submit); otherwise a
    `GradingPool` (default size: this process's share of its CPUs) grades in worker processes
    killed past the hard time limit, while the engine keeps generating."""

    def __init__(self, workers: int | None = None) -> None:
        self.workers = workers
        self._pool: GradingPool | None = None

    def submit(self, text: str, problem: Problem) -> Future[Verdict]:
        if self.workers == 0:
            from capability_tests.grading import grade  # sympy: loaded when grading starts

            future: Future = Future()
            try:
                future.set_result(grade(text, problem))
            except Exception as exc:  # never lose a flush over one sample
                future.set_exception(exc)
            return future
        if self._pool is None:
            from capability_tests.grading.pool import GradingPool

            self._pool = GradingPool(workers=self.workers or None)
        return self._pool.submit(text, problem)

    def grade_all(self, items: Iterable[tuple[object, str, Problem]]):
        """(tag, verdict) for every (tag, text, problem), in the order they finish."""
        futures = {self.submit(text, problem): tag for tag, text, problem in items}
        for future in as_completed(futures):
            try:
                verdict = future.result()
            except Exception as exc:
                verdict = failed_verdict(exc)
            yield futures[future], verdict

    def close(self) -> None:
        pool, self._pool = self._pool, None
        if pool is not None:
            pool.close()


class SampleSink:
    """One batch's destination: `receive` each streamed item, `flush(wait=False)` when `due`,
    `flush()` at the end (every sample graded and stored), `close()` after it."""

    def __init__(self, grading: Grading, store: CompletionStore | None, generation: int | None,
                 tallies: Mapping[str, ProblemTally], *, run_seed: int, seeded: bool,
                 replace: bool = False) -> None:
        self.grading = grading
        self.store = store
        self.generation = generation
        self.tallies = tallies
        self.run_seed = run_seed
        self.seeded = seeded
        self.replace = replace  # --fresh: a stored row of the same key is overwritten
        self._pending: list[tuple[str, int, Completion]] = []
        self._bytes = 0
        self._since = time.monotonic()
        # submitted to grading: future -> (key, index, completion); verdicts land in _done
        self._in_flight: dict[Future, tuple[str, int, Completion]] = {}
        self._in_flight_bytes = 0
        self._done: collections.deque[Future] = collections.deque()  # appended by any thread
        self._arrived = threading.Event()  # set when a verdict lands in _done
        self._rows: list[tuple[str, NewSample]] = []
        self._rows_since = time.monotonic()
        self._writer: _Writer | None = None
        self._seed_bases: dict[str, int] = {}
        self.flushing = False  # a stop signal waits for the flush (sampling/signals.py)

    def receive(self, key: str, index: int, item: Completion | RequestFailure) -> None:
        tally = self.tallies.get(key)
        if tally is None:
            return
        if isinstance(item, RequestFailure):
            tally.fail(item.message)
            return
        self._pending.append((key, index, item))
        self._bytes += len(item.text)

    @property
    def due(self) -> bool:
        return bool(self._pending) and (
            len(self._pending) >= FLUSH_SAMPLES or self._bytes >= FLUSH_BYTES
            or time.monotonic() - self._since >= FLUSH_SECONDS)

    def flush(self, wait: bool = True) -> None:
        """Submit every pending sample to grading at once and take in the verdicts that are
        ready. `wait`: also wait until every sample submitted is graded and written (the end of
        a batch, an interrupt); otherwise wait only while grading holds more than its bound."""
        pending, self._pending, self._bytes = self._pending, [], 0
        self._since = time.monotonic()
        self.flushing = True
        try:
            for item in pending:
                self._submit(item)
            self.collect()
            while self._in_flight and (wait or len(self._in_flight) > MAX_IN_FLIGHT
                                       or self._in_flight_bytes > MAX_IN_FLIGHT_BYTES):
                self._arrived.wait(1.0)  # cheap at any number in flight (futures.wait is not)
                self._arrived.clear()
                self.collect()
            if wait:
                self._write_rows()
                if self._writer is not None:
                    self._writer.join_pending()
        finally:
            self.flushing = False

    def _submit(self, item: tuple[str, int, Completion]) -> None:
        key, _, comp = item
        try:
            future = self.grading.submit(comp.text, self.tallies[key].problem)
        except Exception as exc:  # a closed or broken pool: this sample is stored ungraded
            future = Future()
            future.set_exception(exc)
        self._in_flight[future] = item
        self._in_flight_bytes += len(comp.text)
        future.add_done_callback(self._landed)

    def _landed(self, future: Future) -> None:
        self._done.append(future)
        self._arrived.set()

    def collect(self) -> None:
        """Tally the verdicts that are ready and queue their rows for the store (any order: a
        sample's place is its index)."""
        done = self._done
        while done:
            future = done.popleft()
            key, index, comp = self._in_flight.pop(future)
            self._in_flight_bytes -= len(comp.text)
            try:
                verdict = future.result()
            except Exception as exc:
                verdict = failed_verdict(exc)
            tally = self.tallies[key]
            tally.add(index, verdict, comp.tokens, comp.finish_reason)
            if self.store is None:
                continue
            problem = tally.problem
            self._rows.append((key, NewSample(
                tally.digest, key, index,
                self._seed(key, problem, index) if self.seeded else None,
                comp.text, comp.tokens, comp.finish_reason,
                None if verdict.error else verdict.correct,  # a failure is no verdict
                verdict.extracted, verdict.reason, tally.grading, verdict.timed_out,
                verdict.grader_error,
            )))
        if self._rows and (len(self._rows) >= WRITE_ROWS
                           or time.monotonic() - self._rows_since >= WRITE_SECONDS):
            self._write_rows()

    def _seed(self, key: str, problem: Problem, index: int) -> int:
        """`seeds.sample_seed`, with the problem's base hashed once per batch."""
        base = self._seed_bases.get(key)
        if base is None:
            base = self._seed_bases[key] = problem_seed_base(
                self.run_seed, problem.benchmark, problem.problem_id)
        return (base + index) % SEED_MODULUS

    def _write_rows(self) -> None:
        rows, self._rows = self._rows, []
        self._rows_since = time.monotonic()
        if not rows:
            return
        if self._writer is None:
            self._writer = _Writer(self._write)
        self._writer.put(rows)

    def _write(self, rows: Sequence[tuple[str, NewSample]]) -> None:
        """One transaction; if the store refuses it, row by row, so only the problems whose rows
        cannot be written fail (with the store's message), never the batch."""
        if self.store is None or not rows:
            return
        try:
            self.store.add(self.generation, [r for _, r in rows], replace=self.replace)
            return
        except StoreError as exc:
            if len(rows) == 1:
                self.tallies[rows[0][0]].fail(str(exc))
                return
        for row in rows:
            self._write([row])

    def close(self) -> None:
        """Stop the writer thread (after `flush()`, which leaves nothing for it)."""
        writer, self._writer = self._writer, None
        if writer is not None:
            writer.close()

    def regrade(self, tally: ProblemTally, stored: Mapping[int, StoredSample],
                indices: Sequence[int]) -> None:
        """Grade stored texts again (--regrade, a verdict made under another grader identity or
        reference answer, or a sample left ungraded), one flush of texts at a time, and write the
        new verdicts back; a row replaced meanwhile (`--fresh` in another run) keeps its own."""
        store, generation = self.store, self.generation
        for start in range(0, len(indices), FLUSH_SAMPLES):
            chunk = indices[start: start + FLUSH_SAMPLES]
            texts = list(store.stamped_texts(generation, tally.digest, chunk))
            updates = []
            for (i, created), verdict in self.grading.grade_all(
                    ((t.index, t.created), t.text, tally.problem) for t in texts):
                tally.add(i, verdict, stored[i].tokens, stored[i].finish_reason)
                updates.append(VerdictUpdate(i, None if verdict.error else verdict.correct,
                                             verdict.extracted, verdict.reason,
                                             verdict_flags(verdict.timed_out, verdict.grader_error),
                                             tally.grading, created))
            store.set_verdicts(generation, tally.digest, sorted(updates))


class _Writer:
    """The store's writer thread: row batches in order, one transaction each (SQLite and zlib
    release the GIL, so writing overlaps with receiving and grading). An unexpected error in a
    write is raised in the thread that waits for it (`join_pending`), never lost."""

    def __init__(self, write) -> None:
        self._write = write
        self._queue: queue.Queue[object] = queue.Queue()
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="capability-tests-store",
                                        daemon=True)
        self._thread.start()

    def put(self, rows) -> None:
        self._raise()
        self._queue.put(rows)

    def _run(self) -> None:
        while True:
            rows = self._queue.get()
            try:
                if rows is None:
                    return
                if self._error is None:
                    self._write(rows)
            except BaseException as exc:
                self._error = exc
            finally:
                self._queue.task_done()

    def join_pending(self) -> None:
        """Wait until every batch put so far is written."""
        self._queue.join()
        self._raise()

    def _raise(self) -> None:
        if self._error is not None:
            error, self._error = self._error, None
            raise error

    def close(self) -> None:
        self._queue.put(None)
        self._thread.join()
