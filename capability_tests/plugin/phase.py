"""The sampling phase: every selected problem is sampled, graded and stored after collection and
before the tests (serial run), or just before a batch's first test outside any test's
setup/call/teardown (xdist worker), so a test only reads its result."""

from __future__ import annotations

import warnings

import pytest

from capability_tests.plugin.collection import problem_of
from capability_tests.plugin.state import RUN_KEY, CapabilityState
from capability_tests.problems import Problem
from capability_tests.sampling import EXIT_STOPPED
from capability_tests.selftest.gate import run_selftest_or_stop


def _sample_reporting_warnings(config: pytest.Config, state: CapabilityState,
                               problems: list[Problem]) -> None:
    """`state.sampling.sample(problems)` outside any test: pytest attributes warnings only to
    tests, collection and configuration, so the ones raised here go to its warnings summary
    through the public hook (xdist forwards it from workers) rather than raw to stderr."""
    with warnings.catch_warnings(record=True) as caught:
        try:
            state.sampling.sample(problems)
        finally:
            for message in caught:
                config.hook.pytest_warning_recorded.call_historic(kwargs=dict(
                    warning_message=message, when="runtest", nodeid="", location=None))


@pytest.hookimpl(wrapper=True)
def pytest_runtestloop(session: pytest.Session):
    """Serial run: sample, grade and store every selected problem after collection and before
    the first test, so each test only reads its result (JUnit durations, --durations and per-test
    timeouts measure the test). Never under --collect-only or --setup-plan, nor after collection
    errors. SIGINT or SIGTERM here stops the session with every received sample stored, the
    engine ended, the finished problems reported (incomplete run) and exit status 7."""
    state = session.config.stash.get(RUN_KEY, None)
    option = session.config.option
    if (state is not None and not state.is_worker and not state.selected
            and session.config.pluginmanager.has_plugin("dsession")
            and not option.collectonly and not getattr(option, "setupplan", False)):
        # xdist controller: its workers sample only once it schedules; the graders' self-test
        # runs here first, on every loaded problem (exit status 8 on a mismatch)
        run_selftest_or_stop(session.config, [p for b in state.loaded.values() for p in b.problems])
    if (state is not None and not state.is_worker and state.selected
            and not option.collectonly and not getattr(option, "setupplan", False)
            and not (session.testsfailed and not option.continue_on_collection_errors)):
        run_selftest_or_stop(session.config, state.selected)  # before any engine (exit status 8)
        reporter = session.config.pluginmanager.get_plugin("terminalreporter")
        if reporter is not None and session.config.get_verbosity() >= 0:
            reporter.ensure_newline()
            reporter.write_sep("-", f"capability-tests: sampling {len(state.selected)} problems")
        try:
            _sample_reporting_warnings(session.config, state, state.selected)
        except KeyboardInterrupt as exc:  # SIGINT or SIGTERM (sampling.StopRequested)
            state.sampling_interrupted = True
            finished = len(state.sampling.outcome.results)
            state._log(
                f"capability-tests: {str(exc) or 'interrupted (KeyboardInterrupt)'}: {finished} of "
                f"{len(state.selected)} problems finished; every sample received is stored, the "
                f"engine has ended; the run is incomplete (exit status {EXIT_STOPPED})")
            raise
    return (yield)


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem):
    """xdist worker: a worker learns its tests a batch at a time, so it samples a problem's
    batch (its whole shard under the default distribution, `shards.py`) just before that problem's first test, outside
    the test's setup/call/teardown (and, as the outermost wrapper, before a per-test timeout
    starts)."""
    state = item.config.stash.get(RUN_KEY, None)
    if state is not None and state.is_worker:
        problem = problem_of(item)
        if problem is not None and problem.error is None and not state.sampling.done(problem):
            batch = list(state.batch_for(problem))
            if all(p.key != problem.key for p in batch):
                batch.append(problem)
            _sample_reporting_warnings(item.config, state, batch)
    return (yield)

