"""The typed result of grading one completion."""

from __future__ import annotations

from dataclasses import dataclass

# What became of one sample, as reports count it (one letter each in per-sample records).
OUTCOMES = {
    "correct": "the extracted answer equals the reference",
    "wrong": "an answer was found and differs from the reference",
    "no_answer": "no final answer was found in the completion",
    "timeout": "the comparison ran past its time limit (counted as wrong)",
    "error": "grading failed for a reason outside the completion: not a verdict, graded again",
}


@dataclass(frozen=True)
class Verdict:
    """`reason` says why in a few words ("equal", "no final answer", "timeout", ...).

    `error` marks a grading failure outside the completion (a grader process died, the pool was
    closed): `correct` is then meaningless, the sample is stored ungraded and graded again.
    """

    correct: bool
    extracted: str | None
    reason: str
    seconds: float
    timed_out: bool = False
    error: bool = False

    @property
    def outcome(self) -> str:
        """One of OUTCOMES."""
        return outcome_of(self.correct, self.extracted, self.timed_out, self.error)


def outcome_of(correct: bool | None, extracted: str | None, timed_out: bool, error: bool) -> str:
    if error or correct is None:
        return "error"
    if timed_out:
        return "timeout"
    if correct:
        return "correct"
    return "wrong" if extracted is not None else "no_answer"
