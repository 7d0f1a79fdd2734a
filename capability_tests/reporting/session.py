"""The reporting side of one pytest session, driven by the plugin's `ResultCollector` (which lives
only on the serial process or the xdist controller).

At session finish, in this order: curves + intervals -> gates -> JUnit suite properties -> run
folder (+ latest summary) -> comparisons. Everything is computed from the per-problem results the
controller received, so `-n 0` and `-n N` produce the same numbers.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping, Sequence

from capability_tests.reporting.bootstrap import BootstrapSettings
from capability_tests.reporting.gates import GATE_FAILED, check_baseline, check_fail_under
from capability_tests.reporting.run_folder import (
    RecordedRun,
    RunNotFound,
    data_fingerprints,
    load_run,
    new_run_id,
    package_versions,
    utc_now,
    write_run_folder,
)
from capability_tests.results import ProblemResult

OK_STATUSES = (0, 1)  # pytest ExitCode.OK, TESTS_FAILED


class ReportOptionError(ValueError):
    """A reporting option names something that does not exist (the plugin raises UsageError)."""


class ReportSession:
    def __init__(self, run_config, option, invocation_dir: Path) -> None:
        self.run_config = run_config
        self.run = run_config.report_run_section()
        self.started_at = utc_now()
        self.run_id = new_run_id(self.run, self.started_at)
        self.settings = BootstrapSettings(resamples=option("bootstrap_resamples", 2000))
        self.fail_under = list(option("fail_under", None) or [])
        self.max_drop = option("max_drop", 0.0)
        self.drop_rule = option("drop_rule", "significant")
        self.at_k = option("at_k", None)
        report_dir = Path(run_config.report_dir)
        self.baseline: RecordedRun | None = None
        self.compare_with: list[RecordedRun] = []
        try:
            spec = option("baseline", None)
            if spec:
                self.baseline = load_run(spec, report_dir, invocation_dir)
            for spec in option("compare", None) or []:
                self.compare_with.append(load_run(spec, report_dir, invocation_dir))
        except RunNotFound as exc:
            which = "--baseline" if spec == option("baseline", None) else "--compare"
            raise ReportOptionError(f"{which}: {exc}") from None
        # filled by finish()
        self.report = None
        self.gates: list[dict[str, Any]] = []
        self.comparison: dict[str, Any] | None = None
        self.comparison_dir: Path | None = None
        self.error: str | None = None

    @property
    def gates_failed(self) -> list[dict[str, Any]]:
        return [g for g in self.gates if not g["passed"]]

    def finish(self, results: Sequence[ProblemResult], complete: bool, exit_status: int, xml=None,
               sampling_provenance: Mapping[str, Any] | None = None) -> int:
        """Write everything; return the session's exit status (GATE_FAILED when a gate failed).
        `sampling_provenance`: what the sampling processes report (reporting/provenance.py)."""
        from capability_tests.reporting import provenance as prov
        from capability_tests.reporting.curves import compute_curves

        results = sorted(results, key=lambda r: (r.benchmark, r.problem_id))
        curves = compute_curves(results, self.settings)
        self.gates = check_fail_under(self.fail_under, curves, self.settings.level)
        if self.baseline is not None:
            self.gates += check_baseline(results, self.baseline, self.max_drop, self.drop_rule, self.settings)
        data = data_fingerprints(
            self.run_config.benchmarks, results, self.run_config.data_dir, self.run_config.limit
        )
        provenance = prov.build(sampling_provenance or {}, self.run, package_versions(), data)
        if xml is not None:
            add_junit_properties(xml, self.run_id, curves, complete, self.gates)
            prov.add_junit_properties(xml, provenance)
        self.report = write_run_folder(
            Path(self.run_config.report_dir), self.run_id, self.run, results,
            complete=complete, started_at=self.started_at, settings=self.settings, data=data,
            exit_status=exit_status, gates=self.gates, curves=curves, provenance=provenance,
        )
        self.run_id = self.report.run_id
        if self.compare_with:
            from capability_tests.reporting.compare import write_comparison
            from capability_tests.reporting.run_folder import load_run as _load

            this = _load(self.report.path)
            self.comparison_dir = self.report.path / "compare"
            self.comparison = write_comparison([this, *self.compare_with], self.comparison_dir,
                                               self.at_k, self.settings)
        if self.gates_failed and exit_status in OK_STATUSES:
            return GATE_FAILED
        return exit_status

    def terminal_lines(self) -> list[str]:
        from capability_tests.reporting.summary import terminal_lines

        lines = []
        if self.report is not None:
            lines += terminal_lines(self.report.summaries)
            lines.append(f"run folder: {self.report.path}")
            if self.report.plot_error:
                lines.append(f"plot not written: {self.report.plot_error}")
        for gate in self.gates:
            if not gate["passed"]:
                lines.append(f"GATE FAILED: {gate['message']}")
        checked = len(self.gates)
        if checked:
            failed = len(self.gates_failed)
            lines.append(f"gates: {checked - failed} passed, {failed} failed"
                         + (f" (exit status {GATE_FAILED})" if failed else ""))
        if self.comparison is not None:
            from capability_tests.reporting.compare import crossover_lines

            labels = {r["run_id"]: r["label"] for r in self.comparison["runs"]}
            for name, entry in self.comparison["benchmarks"].items():
                for pair in entry["pairs"]:
                    lines += [line.lstrip("- ") for line in crossover_lines(name, pair, labels)]
            lines.append(f"comparison: {self.comparison_dir}")
        return lines


def add_junit_properties(xml, run_id: str, curves: Mapping, complete: bool, gates: Sequence[Mapping]) -> None:
    """Per-benchmark pass@k as JUnit test-suite properties, on the controller's LogXML
    (`record_testsuite_property` is dropped under xdist)."""
    xml.add_global_property("capability_run_id", run_id)
    xml.add_global_property("capability_complete", str(complete).lower())
    for name, bench in curves.items():
        if not bench.problems:
            continue
        xml.add_global_property(f"{name}:problems", bench.problems)
        xml.add_global_property(f"{name}:n", bench.n)
        for k in bench.ks:
            low, high = bench.interval(k)
            xml.add_global_property(f"{name}:pass@{k}", f"{bench.at(k):.6f}")
            xml.add_global_property(f"{name}:pass@{k}:ci", f"{low:.6f},{high:.6f}")
    if gates:
        xml.add_global_property("capability_gates_failed", sum(not g["passed"] for g in gates))
