"""A `Problem` with just a reference answer, for grading tests (OlympiadBench gets the metadata
its loader would give a single numerical answer)."""

from __future__ import annotations

from capability_tests.problems import Problem


def reference(benchmark: str, answer: str, **meta) -> Problem:
    if benchmark == "olympiadbench":
        meta.setdefault("final_answer", [answer])
        meta.setdefault("is_multiple_answer", False)
        meta.setdefault("unit", None)
        meta.setdefault("answer_type", "Numerical")
    return Problem(benchmark=benchmark, problem_id="t", question="q", answer=answer, source="t",
                   meta=meta)
