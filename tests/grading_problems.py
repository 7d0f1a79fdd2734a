"""A `Problem` with just a reference answer, for grading tests: it carries the grading policy its
benchmark declares (the built-in catalog's; the default policy for a name it does not know), and
OlympiadBench gets the metadata its loader would give a single numerical answer."""

from __future__ import annotations

from capability_tests.grading.policy import DEFAULT_POLICY, GradingPolicy
from capability_tests.problems import Problem


def policy_of(benchmark: str) -> GradingPolicy:
    from capability_tests.benchmarks.catalog import BUILTIN_BENCHMARKS

    for b in BUILTIN_BENCHMARKS:
        if b.name == benchmark:
            return b.grading_policy
    return DEFAULT_POLICY


def reference(benchmark: str, answer: str, **meta) -> Problem:
    if benchmark == "olympiadbench":
        meta.setdefault("final_answer", [answer])
        meta.setdefault("is_multiple_answer", False)
        meta.setdefault("unit", None)
        meta.setdefault("answer_type", "Numerical")
    return Problem(benchmark=benchmark, problem_id="t", question="q", answer=answer, source="t",
                   meta=meta, policy=policy_of(benchmark))
