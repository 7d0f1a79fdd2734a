"""What sampling leaves for the tests and the reports: per problem a `ProblemResult` with its
per-sample records, or the reason it has none (`SamplingOutcome`, frozen: the fixture and the
collector read it, nobody pops from it), and the `ProblemTally` that collects one problem's
verdicts while its samples arrive (verdicts only, never texts)."""

from __future__ import annotations

import sys
from collections import Counter
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Mapping, NamedTuple

from capability_tests.grading.verdict import Outcome, Verdict
from capability_tests.problems import Problem
from capability_tests.results import ProblemResult, encode_samples


@dataclass(frozen=True)
class ProblemOutcome:
    """One problem after sampling: `result` and its per-sample `records`, or `failure` (the
    engine's, server's, grader's or store's message; a rerun samples what is missing)."""

    key: str
    result: ProblemResult | None = None
    records: str | None = None
    failure: str | None = None


@dataclass(frozen=True)
class SamplingOutcome:
    """Every problem this process finished sampling (completed or failed), by problem key."""

    problems: Mapping[str, ProblemOutcome] = field(
        default_factory=lambda: MappingProxyType({}))

    def get(self, key: str) -> ProblemOutcome | None:
        return self.problems.get(key)

    def merged(self, more: Mapping[str, ProblemOutcome]) -> SamplingOutcome:
        return SamplingOutcome(MappingProxyType({**self.problems, **more}))

    @property
    def results(self) -> dict[str, ProblemResult]:
        return {k: o.result for k, o in self.problems.items() if o.result is not None}


class TalliedSample(NamedTuple):
    """What a tally keeps of one sample: its verdict's outcome, answer and reason, and its length
    (a NamedTuple: thousands arrive per second, and it costs what a tuple costs)."""

    outcome: Outcome
    extracted: str | None
    reason: str
    tokens: int
    finish_reason: str


class ProblemTally:
    """What is kept of one problem's samples while they arrive: verdicts, never texts; and the
    first message of any failure of its requests, grading or storing."""

    __slots__ = ("problem", "k", "digest", "grading", "grader", "store_key", "regraded",
                 "samples", "failure", "failed")

    def __init__(self, problem: Problem, k: int, digest: str, grading: str, grader: str,
                 store_key: str | None = None) -> None:
        self.problem = problem
        self.k = k
        self.digest = digest
        self.grading = grading
        self.grader = grader
        self.store_key = store_key
        self.regraded = 0  # stored verdicts of another grader identity, regraded
        self.samples: dict[int, TalliedSample] = {}  # by sample index
        self.failure: str | None = None
        self.failed = 0  # samples lost to failures (not stored)

    def add(self, index: int, verdict: Verdict, tokens: int, finish_reason: str) -> None:
        if index < self.k:
            self.samples[index] = TalliedSample(verdict.outcome, verdict.extracted,
                                                sys.intern(verdict.reason), tokens, finish_reason)

    def fail(self, message: str, samples: int = 1) -> None:
        """A sample of this problem is lost (a failed request, grader or store write): the
        problem reports the first such message; its other samples are kept."""
        self.failed += samples
        if self.failure is None:
            self.failure = message

    @property
    def complete(self) -> bool:
        return self.failure is None and len(self.samples) >= self.k

    def outcome(self, unfinished: str | None = None) -> ProblemOutcome:
        """The problem's outcome: its result when all k samples are graded, else a failure
        (`unfinished` explains samples that never arrived)."""
        key = self.problem.key
        if self.failure is not None:
            kept = len(self.samples)
            note = (f" ({kept} of {self.k} samples kept; a rerun samples the rest)"
                    if kept and kept < self.k else "")
            return ProblemOutcome(key, failure=f"{self.failure}{note}")
        if len(self.samples) < self.k:
            return ProblemOutcome(key, failure=unfinished or (
                f"the engine returned {len(self.samples)} of {self.k} samples for {key}"))
        return ProblemOutcome(key, self.result(), self.records())

    def result(self) -> ProblemResult:
        rows = [self.samples[i] for i in sorted(self.samples)]
        n = len(rows)
        outcomes = Counter(r.outcome for r in rows)
        errors = outcomes[Outcome.ERROR]
        error = None
        if errors:
            why = next(r.reason for r in rows if r.outcome is Outcome.ERROR)
            error = (
                f"{errors} of {n} samples could not be graded ({why}); no pass@k for "
                f"{self.problem.key}: they are stored ungraded and the next run grades them"
            )
        return ProblemResult(
            benchmark=self.problem.benchmark,
            problem_id=self.problem.problem_id,
            n=n,
            correct=outcomes[Outcome.CORRECT],
            extracted=tuple(r.extracted for r in rows),
            mean_tokens=sum(r.tokens for r in rows) / n if n else 0.0,
            finish_reasons=dict(Counter(r.finish_reason for r in rows)),
            grading_timeouts=outcomes[Outcome.TIMEOUT],
            error=error,
            wrong=outcomes[Outcome.WRONG],
            no_answer=outcomes[Outcome.NO_ANSWER],
            grading_errors=errors,
            grader_errors=outcomes[Outcome.GRADER_ERROR],
            regraded=self.regraded,
            grader=self.grader,
        )

    def records(self) -> str:
        """Every sample's extracted answer, outcome and reason (results.SAMPLES_PROPERTY)."""
        header = {"benchmark": self.problem.benchmark, "problem_id": self.problem.problem_id,
                  "prompt": self.digest, "grader": self.grader, "store_key": self.store_key}
        # rows in SampleRow's order as plain tuples: per sample, a tuple costs a tenth of a SampleRow
        return encode_samples(header, ((i, s.extracted, s.outcome, s.reason)
                                       for i, s in sorted(self.samples.items())))
