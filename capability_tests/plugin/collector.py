"""The result collector and terminal output: where results meet (the serial process or the xdist
controller), the run's reports are written at session end and the pass@k table is printed."""

from __future__ import annotations

import pytest

from capability_tests.plugin.state import CapabilityState
from capability_tests.results import ProblemResult, result_from_properties, samples_from_properties
from capability_tests.selftest.gate import with_selftest


def junit_xml(config: pytest.Config):
    """pytest's JUnit writer of this session (None without --junitxml), to add the suite's
    properties. pytest offers `record_testsuite_property` only as a fixture, which a hook cannot
    request, so this reads the writer from its private stash key; if a pytest upgrade moved it,
    the run says so and goes on without those properties rather than failing."""
    if not config.getoption("xmlpath", None):
        return None
    try:
        from _pytest.junitxml import xml_key

        return config.stash.get(xml_key, None)
    except (ImportError, AttributeError) as exc:
        import warnings

        warnings.warn(pytest.PytestWarning(
            f"capability-tests: cannot reach pytest {pytest.__version__}'s JUnit writer "
            f"({exc}); the JUnit XML lacks the suite's capability_* properties"), stacklevel=2)
        return None


class ResultCollector:
    """Registered only where results meet: the serial process or the xdist controller. Workers
    send results here inside `report.user_properties`. Reports: capability_tests.reporting."""

    def __init__(self, state: CapabilityState) -> None:
        from capability_tests.reporting.session import ReportConfig, ReportOptionError, ReportSession

        self.state = state
        from capability_tests.reporting.samples import SampleSpool

        self.results: dict[str, ProblemResult] = {}
        self.samples = SampleSpool()  # per-sample records, on disk until the run folder exists
        self.summaries: dict = {}
        self.complete = True
        self.expected: set[str] = set()  # test ids selected (serial) or sent to workers (xdist)
        self.reported: set[str] = set()  # test ids that produced a report
        self.worker_provenance: list[dict] = []  # from xdist workers (pytest_testnodedown)
        config = state.pytest_config
        try:
            self.reports = ReportSession(
                state.run_config,
                ReportConfig.from_options(config.getoption, state.run_config.benchmarks),
                config.invocation_params.dir,
            )
        except ReportOptionError as exc:
            raise pytest.UsageError(str(exc)) from None

    def pytest_collection_finish(self, session: pytest.Session) -> None:
        self.expected = {item.nodeid for item in session.items}

    @pytest.hookimpl(optionalhook=True)
    def pytest_xdist_node_collection_finished(self, node, ids) -> None:
        self.expected |= set(ids)

    @pytest.hookimpl(optionalhook=True)
    def pytest_testnodedown(self, node, error) -> None:
        """xdist: a worker's sampling provenance (see capability_tests.reporting.provenance)."""
        from capability_tests.reporting.provenance import WORKEROUTPUT_KEY

        text = getattr(node, "workeroutput", {}).get(WORKEROUTPUT_KEY)
        if text:
            import json

            self.worker_provenance.append(json.loads(text))

    def _sampling_provenance(self) -> dict:
        from capability_tests.reporting.provenance import merge_sampling

        if self.worker_provenance:
            return merge_sampling(self.worker_provenance)
        try:  # serial run, or no worker reported: this process knows the settings
            return self.state.sampling.provenance()
        except Exception as exc:  # a model that cannot be fingerprinted never costs the report
            return {"error": f"{type(exc).__name__}: {exc}"}

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        self.reported.add(report.nodeid)
        result = result_from_properties(report.user_properties)
        if result is not None:
            self.results[f"{result.benchmark}/{result.problem_id}"] = result
        records = samples_from_properties(report.user_properties)
        if records is not None:
            self.samples.add(records)

    def _add_unreported_results(self) -> None:
        """Serial run interrupted in the sampling phase: no test ran, so the (incomplete) report
        covers the problems whose samples all arrived and were graded. Otherwise the report
        covers the tests that ran, as under xdist, where only reported tests reach here."""
        if self.state.is_worker or not self.state.sampling_interrupted:
            return
        for key, outcome in self.state.sampling.outcome.problems.items():
            if key not in self.results and outcome.result is not None:
                self.results[key] = outcome.result
                if outcome.records is not None:
                    self.samples.add(outcome.records)

    @pytest.hookimpl(wrapper=True)
    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int):
        # before every other sessionfinish: JUnit's writer must see the suite properties
        self._add_unreported_results()
        if self.results or self.state.sampling_interrupted:  # a stopped run: its incomplete folder
            self._write_reports(session, exitstatus)
        try:
            return (yield)
        finally:
            if self.state.sampling_interrupted:  # after the terminal summary, which needs 2
                from capability_tests.sampling import EXIT_STOPPED

                session.exitstatus = EXIT_STOPPED

    def _write_reports(self, session: pytest.Session, exitstatus: int) -> None:
        selected = self.state.selected
        self.complete = (
            exitstatus in (pytest.ExitCode.OK, pytest.ExitCode.TESTS_FAILED)
            and not (session.shouldstop or session.shouldfail)
            and not (selected and len(self.results) < len(selected))
            and not (self.expected - self.reported)
        )
        try:
            session.exitstatus = self.reports.finish(
                list(self.results.values()), self.complete, int(exitstatus),
                xml=junit_xml(self.state.pytest_config), samples=self.samples,
                sampling_provenance=with_selftest(self._sampling_provenance(),
                                                  self.state.pytest_config),
                data_sources=self.state.data_sources(),
            )
        except Exception as exc:  # never lose the session over a report; say so and fail
            import traceback

            self.reports.error = "".join(traceback.format_exception_only(type(exc), exc)).strip()
            traceback.print_exc()
            if exitstatus in (pytest.ExitCode.OK, pytest.ExitCode.TESTS_FAILED):
                session.exitstatus = pytest.ExitCode.INTERNAL_ERROR
        finally:
            self.samples.close()
        if self.reports.report is not None:
            self.summaries = self.reports.report.summaries

    def pytest_terminal_summary(self, terminalreporter) -> None:
        if not self.summaries and not self.reports.error:
            return
        terminalreporter.section("pass@k")
        for line in self.reports.terminal_lines():
            terminalreporter.write_line(line, red=line.startswith("GATE FAILED"))
        if self.reports.error:
            terminalreporter.write_line(f"reports not written: {self.reports.error}", red=True)
        if self.summaries:
            where = self.state.run_config.report_dir / "summary.json"
            note = "" if self.complete else " (incomplete run)"
            terminalreporter.write_line(f"written: {where}{note}")

