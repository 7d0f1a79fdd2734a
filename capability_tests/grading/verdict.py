"""The typed result of grading one completion."""

from __future__ import annotations

from dataclasses import dataclass

# What became of one sample, as reports count it (one letter each in per-sample records).
OUTCOMES = {
    "correct": "the extracted answer equals the reference",
    "wrong": "an answer was found and differs from the reference",
    "no_answer": "no final answer was found in the completion",
    "timeout": "the comparison ran past its time limit (counted as wrong)",
    "grader_error": "the verifier raised an exception (a grader bug): a verdict, counted as not "
                    "correct, stored with the exception's type and message",
    "error": "grading failed for a reason outside the completion: not a verdict, graded again",
}


@dataclass(frozen=True)
class Verdict:
    """`reason` says why in a few words ("equal", "no final answer", "timeout", ...).

    `error` marks a grading failure outside the completion (a grader process died, the pool was
    closed): `correct` is then meaningless, the sample is stored ungraded and graded again.
    `grader_error` marks a verifier that raised (sympy's `NotImplementedError`, a bug): it IS a
    verdict, final for this grader identity (a fixed grader has another identity and regrades
    it), `correct` is False and `reason` is "<ExceptionType>: <message>".
    """

    correct: bool
    extracted: str | None
    reason: str
    seconds: float
    timed_out: bool = False
    error: bool = False
    grader_error: bool = False

    @property
    def outcome(self) -> str:
        """One of OUTCOMES."""
        return outcome_of(self.correct, self.extracted, self.timed_out, self.error,
                          self.grader_error)


def grader_error_verdict(exc: BaseException, extracted: str | None, seconds: float) -> Verdict:
    """The verdict for a verifier that raised `exc`."""
    message = " ".join(str(exc).split())[:500]
    reason = f"{type(exc).__name__}: {message}" if message else type(exc).__name__
    return Verdict(False, extracted, reason, seconds, grader_error=True)


def outcome_of(correct: bool | None, extracted: str | None, timed_out: bool, error: bool,
               grader_error: bool = False) -> str:
    if error or correct is None:
        return "error"
    if grader_error:
        return "grader_error"
    if timed_out:
        return "timeout"
    if correct:
        return "correct"
    return "wrong" if extracted is not None else "no_answer"
