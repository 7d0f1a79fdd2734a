"""Grading: decide whether one completion answers one problem.

`grade(completion, problem) -> Verdict` is the one entry point the rest of the suite uses;
`grade_many(pairs)` and `GradingPool` grade many on all cores with a hard per-sample time limit.
Modules: `extract` (find the final answer), `normalise` (canonical strings), `latex_parse` (safe
LaTeX-subset parser building sympy objects), `equivalence` (cheap-to-expensive comparison),
`timeouts` and `pool` (bounded time, dead workers replaced), `verdict` (the typed outcome),
`identity` (the grader identity stored verdicts depend on), `command` (the `grade`
subcommand). Importing this package imports neither vLLM nor torch. See docs/GRADING.md.
"""

from capability_tests.grading.verdict import Verdict
from capability_tests.grading.grader import grade
from capability_tests.grading.pool import GradingPool, grade_many

__all__ = ["Verdict", "grade", "grade_many", "GradingPool"]
