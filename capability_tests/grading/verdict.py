"""The typed result of grading one completion."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

try:
    from enum import StrEnum
except ImportError:  # Python 3.10 (pyproject's floor): what 3.11's StrEnum is
    class StrEnum(str, Enum):
        __str__ = str.__str__
        __format__ = str.__format__


class Outcome(StrEnum):
    """What became of one sample, as reports count it. A `str`: each member equals its value, so
    JSON, SQLite, samples.jsonl and records written before the enum read and compare the same
    (`Outcome("wrong") is Outcome.WRONG`; `json.dumps(Outcome.WRONG) == '"wrong"'`). Never put a
    member itself into pytest's `user_properties` (execnet sends exact `str` only): the
    per-sample records carry one letter per outcome (`results.OUTCOME_LETTERS`)."""

    CORRECT = "correct"
    WRONG = "wrong"
    NO_ANSWER = "no_answer"
    TIMEOUT = "timeout"
    GRADER_ERROR = "grader_error"
    ERROR = "error"


# outcome_of runs for every sample: module globals, not enum attribute look-ups (on Python 3.11
# each `Outcome.X` is a descriptor call, ~30 times a global's cost)
_CORRECT, _WRONG, _NO_ANSWER = Outcome.CORRECT, Outcome.WRONG, Outcome.NO_ANSWER
_TIMEOUT, _GRADER_ERROR, _ERROR = Outcome.TIMEOUT, Outcome.GRADER_ERROR, Outcome.ERROR

# Every outcome's meaning (docs/GRADING.md).
OUTCOMES: dict[Outcome, str] = {
    Outcome.CORRECT: "the extracted answer equals the reference",
    Outcome.WRONG: "an answer was found and differs from the reference",
    Outcome.NO_ANSWER: "no final answer was found in the completion",
    Outcome.TIMEOUT: "the comparison ran past its time limit (counted as wrong)",
    Outcome.GRADER_ERROR: "the verifier raised an exception (a grader bug): a verdict, counted as "
                          "not correct, stored with the exception's type and message",
    Outcome.ERROR: "grading failed for a reason outside the completion: not a verdict, graded "
                   "again",
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
    def outcome(self) -> Outcome:
        return outcome_of(self.correct, self.extracted, self.timed_out, self.error,
                          self.grader_error)


def grader_error_verdict(exc: BaseException, extracted: str | None, seconds: float) -> Verdict:
    """The verdict for a verifier that raised `exc`."""
    message = " ".join(str(exc).split())[:500]
    reason = f"{type(exc).__name__}: {message}" if message else type(exc).__name__
    return Verdict(False, extracted, reason, seconds, grader_error=True)


def outcome_of(correct: bool | None, extracted: str | None, timed_out: bool, error: bool,
               grader_error: bool = False) -> Outcome:
    """The outcome of a verdict's flags (also of a stored row's: `correct` None is ungraded)."""
    if error or correct is None:
        return _ERROR
    if grader_error:
        return _GRADER_ERROR
    if timed_out:
        return _TIMEOUT
    if correct:
        return _CORRECT
    return _WRONG if extracted is not None else _NO_ANSWER
