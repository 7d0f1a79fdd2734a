"""The reporting side of one pytest session, driven by the plugin's `ResultCollector` (which lives
only on the serial process or the xdist controller).

At session finish, in this order: curves + intervals -> gates -> JUnit suite properties -> run
folder (+ latest summary) -> comparisons. Everything is computed from the per-problem results the
controller received, so `-n 0` and `-n N` produce the same numbers.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

from capability_tests.grading.identity import grader_identity
from capability_tests.reporting.answer_classes import with_answer_classes
from capability_tests.reporting.bootstrap import BootstrapSettings
from capability_tests.reporting.gates import (
    DEFAULT_ALPHA,
    DEFAULT_BASELINE_KS,
    GATE_FAILED,
    BaselineGate,
    check_baseline,
    check_fail_under,
)
from capability_tests.reporting.recorded_runs import RecordedRun, RunNotFound, load_run
from capability_tests.reporting.run_writer import (
    data_fingerprints,
    new_run_id,
    package_versions,
    utc_now,
    write_run_folder,
)
from capability_tests.results import ProblemResult

OK_STATUSES = (0, 1)  # pytest ExitCode.OK, TESTS_FAILED


class ReportOptionError(ValueError):
    """A reporting option names something that does not exist (the plugin raises UsageError)."""


@dataclass(frozen=True)
class ReportConfig:
    """What the reports of a run do beyond writing the numbers: gates, the baseline, comparisons
    and the bootstrap (the report options of `capability_tests/options.py`, validated)."""

    fail_under: tuple = ()
    baseline: str | None = None
    baseline_gate: BaselineGate = BaselineGate()
    allowed_settings: frozenset[str] = frozenset()
    compare: tuple[str, ...] = ()
    at_k: int | None = None
    bootstrap: BootstrapSettings = BootstrapSettings()

    @classmethod
    def from_options(cls, option: Callable[..., Any], selected: Sequence[str] = ()) -> ReportConfig:
        """From an option getter (pytest's `config.getoption`); `selected`: --benchmarks."""
        allowed = option("baseline_allow_different", None) or []
        return cls(
            fail_under=tuple(option("fail_under", None) or ()),
            baseline=option("baseline", None) or None,
            baseline_gate=BaselineGate(
                ks=option("baseline_k", DEFAULT_BASELINE_KS),
                max_drop=option("max_drop", 0.0),
                rule=option("drop_rule", "significant"),
                alpha=option("baseline_alpha", DEFAULT_ALPHA),
                selected=tuple(selected) or None,
            ),
            allowed_settings=frozenset().union(*allowed) if allowed else frozenset(),
            compare=tuple(option("compare", None) or ()),
            at_k=option("at_k", None),
            bootstrap=BootstrapSettings(resamples=option("bootstrap_resamples", 2000)),
        )


class ReportSession:
    def __init__(self, run_config, option, invocation_dir: Path) -> None:
        self.run_config = run_config
        self.run = run_config.report_run_section()
        self.started_at = utc_now()
        self.run_id = new_run_id(self.run, self.started_at)
        self.config = (option if isinstance(option, ReportConfig)
                       else ReportConfig.from_options(option, self.run.get("benchmarks") or ()))
        self.settings = self.config.bootstrap
        self.fail_under = list(self.config.fail_under)
        self.baseline_gate = self.config.baseline_gate
        self.allowed_settings = self.config.allowed_settings
        self.allowed_differences: list[dict[str, Any]] = []  # sampling settings that differ, allowed
        self.baseline_differences: list[dict[str, Any]] | None = None  # every setting, after the run
        self.baseline_data_differences: list[dict[str, Any]] = []  # the data, after the run
        self.at_k = self.config.at_k
        report_dir = Path(run_config.report_dir)
        self.baseline: RecordedRun | None = None
        self.compare_with: list[RecordedRun] = []
        try:
            spec = self.config.baseline
            if spec:
                self.baseline = load_run(spec, report_dir, invocation_dir)
            for spec in self.config.compare:
                self.compare_with.append(load_run(spec, report_dir, invocation_dir))
        except RunNotFound as exc:
            which = "--baseline" if spec == self.config.baseline else "--compare"
            raise ReportOptionError(f"{which}: {exc}") from None
        if self.baseline is not None:
            self.allowed_differences = check_baseline_usable(
                self.run, self.baseline, self.baseline_gate, self.allowed_settings
            )
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
               samples=None, sampling_provenance: Mapping[str, Any] | None = None,
               data_sources: Mapping[str, Mapping[str, Any]] | None = None) -> int:
        """Write everything; return the session's exit status (GATE_FAILED when a gate failed).
        `samples`: the per-sample records received (a `reporting.samples.SampleSpool`);
        `sampling_provenance`: what the sampling processes report (reporting/provenance.py);
        `data_sources`: per benchmark, what was loaded (`LoadedBenchmark.fingerprint_source`)."""
        from capability_tests.reporting import provenance as prov
        from capability_tests.reporting.curves import compute_curves

        grader = grader_identity()
        results = sorted(one_grader(results, grader), key=lambda r: (r.benchmark, r.problem_id))
        results = with_answer_classes(results, samples)  # for maj@k, distinct answers, rare solves
        curves = compute_curves(results, self.settings)
        self.gates = check_fail_under(self.fail_under, curves, self.settings.level)
        if self.baseline is not None:
            if self.allowed_differences:
                self.gates.append(allowed_differences_note(self.baseline, self.allowed_differences))
            self.gates += check_baseline(results, self.baseline, self.baseline_gate, self.settings)
        data = data_fingerprints(self.run_config.benchmarks, results, data_sources)
        if self.baseline is not None:
            from capability_tests.reporting.run_settings import data_difference_text, data_differences

            self.baseline_data_differences = data_differences({"data": data}, self.baseline.document)
            if self.baseline_data_differences:
                self.gates.append({
                    "gate": "baseline", "note": True, "passed": True,
                    "data_differ": self.baseline_data_differences,
                    "message": f"the data differ from baseline {self.baseline.run_id}: "
                    + data_difference_text(self.baseline_data_differences, "this run", "baseline")
                    + "; the gate compares the problems both runs share, by id"})
        provenance = prov.build(sampling_provenance or {}, self.run, package_versions(), data)
        if xml is not None:
            add_junit_properties(xml, self.run_id, curves, complete, self.gates)
            prov.add_junit_properties(xml, provenance)
        self.report = write_run_folder(
            Path(self.run_config.report_dir), self.run_id, self.run, results,
            complete=complete, started_at=self.started_at, settings=self.settings, data=data,
            exit_status=exit_status, gates=self.gates, curves=curves, samples=samples,
            more={
                "grader": {"identity": grader, "regraded": sum(r.regraded for r in results)},
                "store": {
                    "path": None if self.run_config.store is None else str(self.run_config.store),
                    "generation": _one_or_list(samples.store_keys if samples is not None else ()),
                },
            },
            provenance=provenance,
        )
        self.run_id = self.report.run_id
        if samples is not None and self.run_config.store is not None and samples.prompts:
            from capability_tests.reporting.recorded_runs import write_generation_record

            write_generation_record(self.report.path, str(self.run_config.store),
                                    _one_or_list(samples.store_keys), samples.prompts)
        if self.baseline is not None:
            from capability_tests.reporting.run_settings import setting_differences

            self.baseline_differences = setting_differences(self.report.document, self.baseline.document)
        if self.compare_with:
            from capability_tests.reporting.compare import write_comparison
            from capability_tests.reporting.recorded_runs import load_run as _load

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
            grader = self.report.document.get("grader") or {}
            lines.append(f"grader: {grader.get('identity')} ({grader.get('regraded', 0)} stored "
                         "verdicts of another grader regraded from their text this run)")
            lines.append(f"run folder: {self.report.path}")
            if self.report.explorer is not None:
                lines.append(f"run explorer: {self.report.explorer.resolve().as_uri()}")
            else:
                lines.append(f"run explorer not written: {self.report.explorer_error}")
            if self.report.plot_error:
                lines.append(f"plot not written: {self.report.plot_error}")
        if self.baseline is not None and self.baseline_differences is not None:
            from capability_tests.reporting.run_settings import difference_text

            lines.append(f"settings that differ from baseline {self.baseline.run_id} (besides the model): "
                         + difference_text(self.baseline_differences, "this run", "baseline"))
        for gate in self.gates:
            if gate.get("note"):
                lines.append(f"GATE NOTE: {gate['message']}")
            elif not gate["passed"]:
                lines.append(f"GATE FAILED: {gate['message']}")
        checked = sum(not g.get("note") for g in self.gates)
        if checked:
            failed = len(self.gates_failed)
            lines.append(f"gates: {checked - failed} passed, {failed} failed"
                         + (f" (exit status {GATE_FAILED})" if failed else ""))
        if self.comparison is not None:
            from capability_tests.reporting.compare import crossover_lines, difference_lines

            labels = {r["run_id"]: r["label"] for r in self.comparison["runs"]}
            lines += [line.lstrip("- ") for line in difference_lines(self.comparison)]
            for name, entry in self.comparison["benchmarks"].items():
                for pair in entry["pairs"]:
                    lines += [line.lstrip("- ") for line in crossover_lines(name, pair, labels)]
            lines.append(f"comparison: {self.comparison_dir}")
        return lines


def check_baseline_usable(
    run: Mapping[str, Any], baseline: RecordedRun, gate: BaselineGate, allowed: frozenset[str]
) -> list[dict[str, Any]]:
    """Before anything runs: the baseline must have been sampled like this run (else a drop could
    be the settings', not the model's) and hold enough samples for every declared k. Raises
    ReportOptionError naming the setting or k; returns the differences the user allowed."""
    from capability_tests.reporting.run_settings import sampling_differences

    where = f"baseline {baseline.run_id}"
    differences = sampling_differences({"run": run}, baseline.document)
    refused = [d for d in differences if d["setting"] not in allowed]
    if refused:
        said = "; ".join(f"{d['setting']} is {d['a']!r} in this run but {d['b']!r} in {where}" for d in refused)
        names = ",".join(d["setting"] for d in refused)
        raise ReportOptionError(
            f"--baseline: the runs were sampled differently: {said}. The gate's test assumes equal "
            f"sampling settings; pass --baseline-allow-different {names} to gate anyway"
        )
    for k in gate.ks or ():
        if isinstance(run.get("k"), int) and k > run["k"]:
            raise ReportOptionError(f"--baseline-k {k}: this run draws only --k {run['k']} samples per problem")
        for name, entry in sorted((baseline.document.get("benchmarks") or {}).items()):
            if gate.selected is not None and name not in gate.selected:
                continue
            n = (entry or {}).get("n") or 0
            if n and k > n:
                raise ReportOptionError(
                    f"--baseline-k {k}: {where} has only n={n} samples per problem on {name}, "
                    f"fewer than k={k}"
                )
    return differences


def allowed_differences_note(baseline: RecordedRun, differences: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    from capability_tests.reporting.run_settings import difference_text

    return {
        "gate": "baseline", "note": True, "passed": True, "settings_differ": [dict(d) for d in differences],
        "message": f"sampling settings differ from baseline {baseline.run_id} (allowed by "
        f"--baseline-allow-different): {difference_text(differences, 'this run', 'baseline')}; the "
        "gate's false-alarm rate holds only for equal settings",
    }


def one_grader(results: Sequence[ProblemResult], grader: str) -> list[ProblemResult]:
    """A report never mixes graders: a result graded under another identity (a worker that ran
    other grading code) becomes an error of its problem, counted as such."""
    from dataclasses import replace

    out = []
    for r in results:
        if r.grader is not None and r.grader != grader and r.error is None:
            r = replace(r, error=f"graded under {r.grader}, this report's grader is {grader}: "
                                 "rerun to regrade it from the store")
        out.append(r)
    return out


def _one_or_list(keys) -> Any:
    keys = sorted(keys)
    return keys[0] if len(keys) == 1 else (keys or None)


def add_junit_properties(xml, run_id: str, curves: Mapping, complete: bool, gates: Sequence[Mapping]) -> None:
    """Per-benchmark pass@k as JUnit test-suite properties, on the controller's LogXML
    (`record_testsuite_property` is dropped under xdist)."""
    xml.add_global_property("capability_run_id", run_id)
    xml.add_global_property("capability_complete", str(complete).lower())
    xml.add_global_property("capability_grader", grader_identity())
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
