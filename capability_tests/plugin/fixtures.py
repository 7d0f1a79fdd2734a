"""Fixtures and the pass/fail rule: what a capability test receives (its problem's graded
samples) and how that becomes pass, fail or xfail (`--min-correct`, `--unsolved`)."""

from __future__ import annotations

import pytest

from capability_tests.plugin.state import RUN_KEY, CapabilityState
from capability_tests.problems import Problem
from capability_tests.results import SAMPLES_PROPERTY, ProblemResult

SAMPLES_KEY = pytest.StashKey[str]()  # a test's per-sample records, for its setup report


@pytest.fixture(scope="session")
def capability_run(pytestconfig: pytest.Config):
    """The session's sampling run (sampled before the tests, see the sampling phase above); the
    engine inside is shut down here, before pytest closes its output streams."""
    state: CapabilityState = pytestconfig.stash[RUN_KEY]
    yield state.sampling
    state.sampling.close()


@pytest.fixture
def capability_samples(request: pytest.FixtureRequest, capability_problem: Problem, capability_run):
    """The graded k samples of this test's problem (a `ProblemResult`, read from the sampling
    outcome: a test never samples), recorded as JUnit properties `benchmark`, `problem_id`, `n`,
    `correct`. A problem that could not be sampled (its own request, grading or store write
    failed: the engine's or server's message) or has samples that could not be graded errors
    here, with one message."""
    problem = capability_problem
    node = request.node
    outcome = capability_run.outcome.get(problem.key)
    error = problem.error
    if error is None and outcome is None:
        error = (f"{problem.key}: not sampled (the sampling phase did not reach this problem; "
                 "a rerun samples it)")
    elif error is None and outcome.failure is not None:
        error = f"{problem.key}: {outcome.failure}"
    if error is not None:
        failed = ProblemResult(problem.benchmark, problem.problem_id, 0, 0, error=error)
        node.user_properties.extend(failed.properties())
        pytest.fail(error, pytrace=False)
    result = outcome.result
    if outcome.records is not None:
        node.stash[SAMPLES_KEY] = outcome.records
    node.user_properties.extend(result.properties())
    if result.error is not None:
        pytest.fail(f"{problem.key}: {result.error}", pytrace=False)
    return result


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call):
    """Per-sample records ride on the setup report to the controller (xdist serialises its
    `user_properties`); JUnit writes only the teardown report's properties, so they stay out of
    the XML."""
    report = yield
    if report.when == "setup":
        records = item.stash.get(SAMPLES_KEY, None)
        if records is not None:
            report.user_properties.append((SAMPLES_PROPERTY, records))
    return report


class SolvedCheck:
    """Turns a problem's result into the test's outcome (--min-correct, --unsolved)."""

    def __init__(self, min_correct: int, unsolved: str) -> None:
        self.min_correct = min_correct
        self.unsolved = unsolved

    def __call__(self, problem: Problem, result: ProblemResult) -> None:
        if result.correct >= self.min_correct:
            return
        answers = ", ".join(repr(a) for a in result.extracted[:8]) or "none"
        message = (
            f"{problem.key}: {result.correct} of {result.n} samples correct (need "
            f"{self.min_correct}); reference {problem.answer!r}; answers given: {answers}"
        )
        if self.unsolved == "xfail":
            pytest.xfail(message)
        pytest.fail(message, pytrace=False)


@pytest.fixture
def capability_check(pytestconfig: pytest.Config) -> SolvedCheck:
    """`capability_check(problem, result)` passes, fails or xfails the test."""
    return SolvedCheck(pytestconfig.getoption("min_correct"), pytestconfig.getoption("unsolved"))

