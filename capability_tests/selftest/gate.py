"""The self-test as a run's gate: `run_selftest_or_stop(config, problems)`, the one call the
sampling phase makes after collection and before any engine starts.

A pass is logged in one line and kept in the pytest config's stash (`SELFTEST_KEY`), from which
the reports take the provenance entry; a mismatch stops the session with exit status 8
(`EXIT_SELFTEST_FAILED`) and a message naming each failed case's verifier, case, expected and
actual verdict, and the sandbox backend.
"""

from __future__ import annotations

import warnings
from typing import Sequence

import pytest

from capability_tests.problems import Problem
from capability_tests.selftest.runner import EXIT_SELFTEST_FAILED, SelfTestResult, run_selftest

SELFTEST_KEY = pytest.StashKey[SelfTestResult]()


def _log(config: pytest.Config, message: str) -> None:
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None and config.get_verbosity() >= 0:
        reporter.ensure_newline()
        reporter.write_line(message)


def run_selftest_or_stop(config: pytest.Config, problems: Sequence[Problem]) -> SelfTestResult:
    """Run the known-answer cases of every verifier `problems` use, graded as this run grades
    (`--grading-workers`), cached unless `--selftest=always`; stop the session on a mismatch."""
    result = run_selftest(problems, grading_workers=config.getoption("grading_workers", None),
                          use_cache=config.getoption("selftest", "cached") != "always")
    config.stash[SELFTEST_KEY] = result
    _log(config, result.summary_line())
    for name in result.no_cases:
        warnings.warn(f"capability-tests: verifier {name!r} ships no known-answer cases "
                      "(SELFTEST_CASES): its verdicts were not self-tested", UserWarning,
                      stacklevel=2)
    if not result.passed:
        pytest.exit(result.failure_message(), returncode=EXIT_SELFTEST_FAILED)
    return result


def recorded(config: pytest.Config) -> dict | None:
    """The provenance entry of this session's self-test, if one ran."""
    result = config.stash.get(SELFTEST_KEY, None)
    return None if result is None else result.to_json()


def with_selftest(provenance: dict, config: pytest.Config) -> dict:
    """`provenance` (the sampling side) with this session's self-test entry added, if one ran."""
    entry = recorded(config)
    return provenance if entry is None else {**provenance, "selftest": entry}
