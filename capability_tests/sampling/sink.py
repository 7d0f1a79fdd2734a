"""The sample sink: where streamed samples go. It groups them in flushes (FLUSH_SAMPLES samples,
FLUSH_BYTES of text or FLUSH_SECONDS), submits every sample of a flush to the grading pool at
once and collects the verdicts as they finish, and writes the flush to the store in one short
transaction. Failures stay with their problem: a `RequestFailure`, a grading failure or a row the
store refuses is that problem's (`ProblemTally.fail`, or an ungraded verdict), never the batch's.
`Grading` is the one place sampling grades (in this process, or on a `GradingPool`)."""

from __future__ import annotations

import time
from concurrent.futures import Future, as_completed
from typing import TYPE_CHECKING, Iterable, Mapping, Sequence

from capability_tests.engines import Completion, RequestFailure
from capability_tests.grading.verdict import Verdict
from capability_tests.problems import Problem
from capability_tests.sampling.outcome import ProblemTally
from capability_tests.seeds import sample_seed
from capability_tests.store import CompletionStore, NewSample, StoredSample, StoreError, verdict_flags

if TYPE_CHECKING:
    from capability_tests.grading.pool import GradingPool

FLUSH_SAMPLES = 64
FLUSH_BYTES = 16 << 20
FLUSH_SECONDS = 2.0


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
    """One batch's destination: `receive` each streamed item, `flush` when `due` and at the end."""

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

    def flush(self) -> None:
        """Grade every pending sample at once, then write them (with verdicts) in one
        transaction."""
        pending, self._pending, self._bytes = self._pending, [], 0
        self._since = time.monotonic()
        if not pending:
            return
        self.flushing = True
        try:
            rows: list[tuple[str, NewSample]] = []
            items = ((n, comp.text, self.tallies[key].problem)
                     for n, (key, _, comp) in enumerate(pending))
            for n, verdict in self.grading.grade_all(items):
                key, index, comp = pending[n]
                tally = self.tallies[key]
                tally.add(index, verdict, comp.tokens, comp.finish_reason)
                problem = tally.problem
                rows.append((key, NewSample(
                    tally.digest, key, index,
                    sample_seed(self.run_seed, problem.benchmark, problem.problem_id, index)
                    if self.seeded else None,
                    comp.text, comp.tokens, comp.finish_reason,
                    None if verdict.error else verdict.correct,  # a failure is no verdict
                    verdict.extracted, verdict.reason, tally.grading, verdict.timed_out,
                    verdict.grader_error,
                )))
            self._write(rows)
        finally:
            self.flushing = False

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
                    ((i, created), text, tally.problem) for i, created, text in texts):
                tally.add(i, verdict, stored[i].tokens, stored[i].finish_reason)
                updates.append((i, None if verdict.error else verdict.correct,
                                verdict.extracted, verdict.reason,
                                verdict_flags(verdict.timed_out, verdict.grader_error),
                                tally.grading, created))
            store.set_verdicts(generation, tally.digest, sorted(updates))
