"""Grading: decide whether one completion answers one problem.

`grade(completion, problem) -> Verdict` is the one entry point the rest of the suite uses;
`grade_many(pairs)` and `GradingPool` grade many on all cores with a hard per-sample time limit.
Modules: `extract` (find the final answer), `normalise` (canonical strings), `latex_parse` (safe
LaTeX-subset parser building sympy objects), `equivalence` (cheap-to-expensive comparison),
`timeouts` and `pool` (bounded time, dead workers replaced), `verdict` (the typed verdict and its `Outcome`),
`identity` (the grader identity stored verdicts depend on), `command` (the `grade`
subcommand), `policy` (a benchmark's declared grading policy). Importing this package imports
neither vLLM, torch nor sympy: the names below load their modules on first use (`Problem`
imports `policy` with the package). See docs/GRADING.md.
"""

from __future__ import annotations

import importlib

_EXPORTS = {
    "Verdict": "capability_tests.grading.verdict",
    "Outcome": "capability_tests.grading.verdict",
    "grade": "capability_tests.grading.grader",
    "grade_many": "capability_tests.grading.pool",
    "GradingPool": "capability_tests.grading.pool",
    "GradingPolicy": "capability_tests.grading.policy",
}

__all__ = list(_EXPORTS)


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
