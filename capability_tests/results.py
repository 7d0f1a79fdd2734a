"""Per-problem results, as JSON primitives: what a test records and the controller aggregates.

They travel from xdist workers to the controller inside `report.user_properties`, which execnet
serialises; anything but JSON primitives there crashes the run, so results are plain dicts built
and read only through this module.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping, Sequence

from capability_tests.engines.base import Completion
from capability_tests.grading import Verdict

RESULT_PROPERTY = "capability_result"


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

    @classmethod
    def from_samples(
        cls,
        benchmark: str,
        problem_id: str,
        completions: Sequence[Completion],
        verdicts: Sequence[Verdict],
    ) -> "ProblemResult":
        n = len(verdicts)
        return cls(
            benchmark=benchmark,
            problem_id=problem_id,
            n=n,
            correct=sum(v.correct for v in verdicts),
            extracted=tuple(v.extracted for v in verdicts),
            mean_tokens=sum(c.tokens for c in completions) / n if n else 0.0,
            finish_reasons=dict(Counter(c.finish_reason for c in completions)),
            grading_timeouts=sum(v.timed_out for v in verdicts),
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "benchmark": self.benchmark,
            "problem_id": self.problem_id,
            "n": self.n,
            "correct": self.correct,
            "mean_tokens": round(self.mean_tokens, 2),
            "finish_reasons": dict(self.finish_reasons),
            "grading_timeouts": self.grading_timeouts,
            "error": self.error,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> "ProblemResult":
        return cls(
            benchmark=str(data["benchmark"]),
            problem_id=str(data["problem_id"]),
            n=int(data["n"]),
            correct=int(data["correct"]),
            mean_tokens=float(data.get("mean_tokens", 0.0)),
            finish_reasons=dict(data.get("finish_reasons") or {}),
            grading_timeouts=int(data.get("grading_timeouts", 0)),
            error=data.get("error"),
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
