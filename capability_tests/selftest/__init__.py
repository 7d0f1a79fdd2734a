"""Known-answer self-tests of the graders, run before a run samples (docs/GRADING.md, "Self-test").

Each verifier ships cases whose verdict is known (`cases.py`: math; `code_cases.py`: code, per
test kind, with hostile programs). `runner.run_selftest` grades them in the environment the run
grades in (a `GradingPool`, the sandbox backend this machine gives, its limits) and caches a pass
per grader identity and environment; `gate.run_selftest_or_stop` is the one call the sampling
phase makes (exit status 8 on a mismatch, before any engine starts); `command.py` is
`capability-tests selftest`.
"""

from capability_tests.selftest.cases import KnownAnswer, cases_for
from capability_tests.selftest.runner import EXIT_SELFTEST_FAILED, SelfTestResult, run_selftest

__all__ = ["EXIT_SELFTEST_FAILED", "KnownAnswer", "SelfTestResult", "cases_for", "run_selftest"]
