"""The unit of work: one benchmark problem, normalised from whatever schema its source uses.

Everything downstream (templates, engines, graders, reports) sees only `Problem`, never a raw row.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

from capability_tests.grading.policy import DEFAULT_POLICY, GradingPolicy


@dataclass(frozen=True, eq=False)
class Problem:
    """One problem of one benchmark.

    `answer` is the reference final answer as the benchmark writes it (LaTeX or a number, as text).
    `meta` holds benchmark-specific grading hints (OlympiadBench: `final_answer` list,
    `is_multiple_answer`, `unit`, `answer_type`; MATH-500: `subject`, `level`).
    `policy` is the grading policy its benchmark declares (`Benchmark.grading_policy`).
    `error` is set when the source row could not be read: the problem then becomes a failing test
    that names `source`, and is never sent to an engine.
    """

    benchmark: str
    problem_id: str
    question: str
    answer: str
    source: str  # "path:line" (or "hub:<dataset>:<split>:<row>") of the row it came from
    verifier: str = "math"
    meta: Mapping[str, Any] = field(default_factory=dict)
    keywords: tuple[str, ...] = ()
    error: str | None = None
    policy: GradingPolicy = DEFAULT_POLICY

    @property
    def key(self) -> str:
        """Stable id used in test ids, reports and stores: `<benchmark>/<problem_id>`."""
        return f"{self.benchmark}/{self.problem_id}"
