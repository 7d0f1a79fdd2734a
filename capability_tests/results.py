"""Per-problem results, as JSON primitives: what a test records and the controller aggregates.

They travel from xdist workers to the controller inside `report.user_properties`, which execnet
serialises; anything but JSON primitives there crashes the run, so results are plain dicts built
and read only through this module.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Iterable, Iterator, Mapping, NamedTuple

from capability_tests.grading.verdict import Outcome

RESULT_PROPERTY = "capability_result"
SAMPLES_PROPERTY = "capability_samples"  # per-sample records: on the setup report only, not JUnit
# one letter per outcome in the per-sample records (a stored format: letters never change)
OUTCOME_LETTERS: dict[Outcome, str] = {
    Outcome.CORRECT: "C", Outcome.WRONG: "W", Outcome.NO_ANSWER: "N", Outcome.TIMEOUT: "T",
    Outcome.ERROR: "E", Outcome.GRADER_ERROR: "G",
}
LETTER_OUTCOMES: dict[str, Outcome] = {v: k for k, v in OUTCOME_LETTERS.items()}


class SampleRow(NamedTuple):
    """One sample as its per-sample record encodes it (`encode_samples`)."""

    index: int
    extracted: str | None
    outcome: Outcome  # or its string value (a record read back from samples.jsonl)
    reason: str


@dataclass(frozen=True)
class ProblemResult:
    """What is kept of one problem's k samples once graded: counts and verdict summaries, no text."""

    benchmark: str
    problem_id: str
    n: int
    correct: int
    extracted: tuple[str | None, ...] = ()
    mean_tokens: float = 0.0
    finish_reasons: Mapping[str, int] = field(default_factory=dict)
    grading_timeouts: int = 0
    error: str | None = None
    wrong: int = 0  # an answer was found and differs from the reference
    no_answer: int = 0  # no final answer found
    grading_errors: int = 0  # not graded (grading failed outside the completion; graded next run)
    regraded: int = 0  # stored verdicts made under another grader identity, regraded this run
    grader: str | None = None  # the grader identity every verdict here was made under
    grader_errors: int = 0  # verdicts of a verifier that raised (counted not correct)
    # sizes of the wrong-answer classes (reporting/answer_classes.py), known when the per-sample
    # records reached the report; what maj@k and the distinct-answer counts need
    wrong_classes: tuple[int, ...] | None = None

    def answer_classes(self):
        """The problem's `majority.AnswerClasses`, or None when its answers were not recorded."""
        if self.wrong_classes is None:
            return None
        from capability_tests.majority import AnswerClasses

        return AnswerClasses(self.correct, self.wrong_classes,
                             self.n - self.correct - sum(self.wrong_classes))

    def to_json(self) -> dict[str, Any]:
        return {
            "benchmark": self.benchmark,
            "problem_id": self.problem_id,
            "n": self.n,
            "correct": self.correct,
            "mean_tokens": round(self.mean_tokens, 2),
            "finish_reasons": dict(self.finish_reasons),
            "grading_timeouts": self.grading_timeouts,
            "wrong": self.wrong,
            "no_answer": self.no_answer,
            "grading_errors": self.grading_errors,
            "grader_errors": self.grader_errors,
            "regraded": self.regraded,
            "grader": self.grader,
            "error": self.error,
            **({} if self.wrong_classes is None else {
                "wrong_classes": list(self.wrong_classes),
                "distinct_answers": len(self.wrong_classes) + (1 if self.correct else 0),
            }),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ProblemResult:
        return cls(
            benchmark=str(data["benchmark"]),
            problem_id=str(data["problem_id"]),
            n=int(data["n"]),
            correct=int(data["correct"]),
            mean_tokens=float(data.get("mean_tokens", 0.0)),
            finish_reasons=dict(data.get("finish_reasons") or {}),
            grading_timeouts=int(data.get("grading_timeouts", 0)),
            error=data.get("error"),
            wrong=int(data.get("wrong", 0)),
            no_answer=int(data.get("no_answer", 0)),
            grading_errors=int(data.get("grading_errors", 0)),
            grader_errors=int(data.get("grader_errors", 0)),
            regraded=int(data.get("regraded", 0)),
            grader=data.get("grader"),
            wrong_classes=None if data.get("wrong_classes") is None
            else tuple(int(w) for w in data["wrong_classes"]),
        )

    def properties(self) -> list[tuple[str, Any]]:
        """JUnit properties: the four named ones plus the whole result as one JSON string."""
        return [
            ("benchmark", self.benchmark),
            ("problem_id", self.problem_id),
            ("n", self.n),
            ("correct", self.correct),
            (RESULT_PROPERTY, json.dumps(self.to_json(), sort_keys=True)),
        ]


def result_from_properties(properties: Iterable[tuple[str, Any]]) -> ProblemResult | None:
    """The result a test recorded, or None for tests that are not capability tests."""
    for name, value in properties:
        if name == RESULT_PROPERTY:
            return ProblemResult.from_json(json.loads(value))
    return None


# -- per-sample records --------------------------------------------------------------------------
#
# One problem's samples travel as one compact JSON string (k = 4096 is a few hundred kB): parallel
# lists, outcomes as one letter each, reasons as indices into a list of the distinct reasons.


def encode_samples(header: Mapping[str, Any], rows: Iterable[SampleRow]) -> str:
    """`header` (benchmark, problem_id, prompt digest, grader, store key) plus a `SampleRow`
    (or a plain tuple in its order) per sample -> the JSON string of SAMPLES_PROPERTY."""
    index, extracted, outcome, reason_ix = [], [], [], []
    reasons: dict[str, int] = {}
    for i, answer, kind, reason in rows:
        try:
            letter = OUTCOME_LETTERS[kind]
        except KeyError:
            raise ValueError(f"per-sample records of {header.get('benchmark')}/"
                             f"{header.get('problem_id')}: outcome {kind!r} is not one of "
                             f"{', '.join(o.value for o in Outcome)}") from None
        index.append(i)
        extracted.append(answer)
        outcome.append(letter)
        reason_ix.append(reasons.setdefault(reason, len(reasons)))
    return json.dumps(dict(header, index=index, extracted=extracted, outcome="".join(outcome),
                           reasons=list(reasons), reason=reason_ix), separators=(",", ":"))


def decode_samples(text: str) -> tuple[dict[str, Any], Iterator[dict[str, Any]]]:
    """The header and one record per sample (what `samples.jsonl` holds, one line each; its
    "outcome" an `Outcome`, which JSON writes as its string value)."""
    data = json.loads(text)
    columns = ("index", "extracted", "outcome", "reasons", "reason")
    header = {k: v for k, v in data.items() if k not in columns}

    def records() -> Iterator[dict[str, Any]]:
        reasons = data["reasons"]
        error, correct = Outcome.ERROR, Outcome.CORRECT  # looked up once, not per record
        for i, answer, letter, r in zip(data["index"], data["extracted"], data["outcome"],
                                        data["reason"]):
            kind = LETTER_OUTCOMES[letter]
            yield {
                "benchmark": header.get("benchmark"),
                "problem_id": header.get("problem_id"),
                "index": i,
                "extracted": answer,
                "correct": None if kind is error else kind is correct,
                "outcome": kind,
                "reason": reasons[r],
                "grader": header.get("grader"),
                "prompt": header.get("prompt"),
            }

    return header, records()


def samples_from_properties(properties: Iterable[tuple[str, Any]]) -> str | None:
    for name, value in properties:
        if name == SAMPLES_PROPERTY:
            return value
    return None
