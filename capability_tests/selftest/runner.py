"""Grade the known-answer cases where the run grades, compare, and remember a pass.

`run_selftest(problems, grading_workers)` builds the cases of every verifier the problems use
(`cases.cases_for`), grades them as the sampling phase does (a `GradingPool` of
`grading_workers` processes, or in this process for 0), and compares each outcome with the
expected one. The environment is part of the result: the sandbox backend this machine gives
(found by running one trivial program, so it is what the cases ran under), the sandbox and
code-time limits, the grading mode and time limit, Python and sympy versions.

A pass is cached under `<cache dir>/selftest/<key>.json`, keyed by the grader identity (the
grading sources, every verifier's module and what it imports, the time limit, sympy), the cases
and that environment, so a second run on the same machine and code pays only the backend probe.
A failure is never cached: it is checked again next time.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

from capability_tests.grading.verdict import Outcome
from capability_tests.problems import Problem
from capability_tests.selftest.cases import KnownAnswer, cases_for, digest, verifiers_of

EXIT_SELFTEST_FAILED = 8  # the exit status of a run stopped by a failed self-test
FORMAT = 1


@dataclass(frozen=True)
class CaseResult:
    verifier: str
    case: str  # KnownAnswer.label
    kind: str
    expected: str
    actual: str
    reason: str
    seconds: float
    ok: bool

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass
class SelfTestResult:
    passed: bool
    backend: str
    seconds: float  # what this check cost (with a cache hit: the backend probe and the lookup)
    cached: bool
    cases: list[CaseResult]
    skipped: list[dict[str, str]] = field(default_factory=list)
    no_cases: list[str] = field(default_factory=list)  # verifiers that ship none
    environment: dict[str, Any] = field(default_factory=dict)
    measured_seconds: float = 0.0  # what grading the cases cost when they last ran

    @property
    def failures(self) -> list[CaseResult]:
        return [c for c in self.cases if not c.ok]

    def per_verifier(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for c in self.cases:
            out[c.verifier] = out.get(c.verifier, 0) + 1
        return out

    def to_json(self) -> dict[str, Any]:
        """The provenance entry (summary.json, report.md, JUnit)."""
        return {
            "passed": self.passed, "cases": len(self.cases), "verifiers": self.per_verifier(),
            "failed": [c.to_json() for c in self.failures], "skipped": self.skipped,
            "no_cases": self.no_cases, "backend": self.backend,
            "seconds": round(self.seconds, 3), "cached": self.cached,
            "measured_seconds": round(self.measured_seconds, 3), "environment": self.environment,
        }

    def summary_line(self) -> str:
        state = "passed" if self.passed else f"FAILED ({len(self.failures)} mismatches)"
        verifiers = ", ".join(f"{k} {v}" for k, v in self.per_verifier().items()) or "none"
        how = (f"cached, checked in {self.seconds:.2f} s" if self.cached
               else f"{self.seconds:.2f} s")
        return (f"capability-tests: grader self-test {state}: {len(self.cases)} known-answer cases "
                f"({verifiers}), sandbox backend {self.backend}, {how}")

    def failure_message(self) -> str:
        lines = [f"grader self-test failed under sandbox backend {self.backend}: the run stops "
                 "before sampling (no engine was started)."]
        for c in self.failures:
            lines.append(f"  verifier {c.verifier!r}, case {c.case}: expected {c.expected}, "
                         f"got {c.actual} ({c.reason[:200]})")
        lines.append("Fix the grader or its environment; `capability-tests selftest` shows every "
                     "case (docs/GRADING.md, \"Self-test\").")
        return "\n".join(lines)


def cache_root() -> Path:
    env = os.environ.get("CAPABILITY_TESTS_CACHE")
    if env:
        return Path(env)
    import platformdirs

    return Path(platformdirs.user_cache_dir("capability-tests"))


def probe_backend() -> str:
    """The backend the sandbox picks on this machine now (one trivial program), or
    `unavailable (<why>)` when it cannot run programs at all."""
    from capability_tests.sandbox import Limits, run_tests

    job = {"mode": "calls", "entry_point": "f", "cases": [{"args": [], "expected": 1}]}
    try:
        report = run_tests("def f():\n    return 1\n", job, Limits(wall=20.0, cpu=20),
                           mode="function", entry_point="f")
    except Exception as exc:  # the probe names what broke; the cases then fail with it
        return f"unavailable ({type(exc).__name__}: {exc})"
    if report.error or not report.backend:
        return f"unavailable ({report.error or report.why})"
    return str(report.backend)


def environment(backend: str, grading_workers: int | None) -> dict[str, Any]:
    """What besides the code decides the cases' verdicts."""
    from importlib import metadata

    from capability_tests.code import timing
    from capability_tests.grading.identity import grader_identity
    from capability_tests.grading.timeouts import DEFAULT_TIMEOUT_S
    from capability_tests.sandbox import Limits
    from capability_tests.sandbox.run import ENV_BACKEND

    try:
        sympy = metadata.version("sympy")
    except metadata.PackageNotFoundError:
        sympy = "absent"
    return {
        "grader": grader_identity(),
        "sandbox_backend": backend,
        "sandbox_setting": os.environ.get(ENV_BACKEND, "auto"),
        "sandbox_limits": dataclasses.asdict(Limits()),
        "code_time_limits": {"base_s": timing.BASE_S, "factor": timing.FACTOR,
                             "min_s": timing.MIN_S, "max_s": timing.MAX_S,
                             "default_s": timing.DEFAULT_S},
        "grading": "in-process" if grading_workers == 0 else "pool",
        "grading_timeout_s": DEFAULT_TIMEOUT_S,
        "python": sys.version.split()[0],
        "sympy": sympy,
        "machine": timing.machine_key(),
        "uid": os.getuid() if hasattr(os, "getuid") else None,
    }


def _cache_path(env: dict[str, Any], cases: Sequence[KnownAnswer]) -> Path:
    key = hashlib.sha256(json.dumps([FORMAT, env, digest(cases)], sort_keys=True,
                                    default=str).encode()).hexdigest()[:24]
    return cache_root() / "selftest" / f"{key}.json"


def _read_cache(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) and data.get("format") == FORMAT else None


def _write_cache(path: Path, result: SelfTestResult) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps({"format": FORMAT, "measured_seconds": result.measured_seconds,
                                   "cases": [c.to_json() for c in result.cases]}),
                       encoding="utf-8")
        os.replace(tmp, path)
    except OSError:
        pass  # an unwritable cache costs a self-test next time, never a result


def _applicable(cases: Sequence[KnownAnswer], backend: str):
    run, skipped = [], []
    for case in cases:
        if case.backends is not None and backend not in case.backends:
            skipped.append({"verifier": case.verifier, "case": case.label,
                            "why": f"not contained by the {backend} backend (docs/SANDBOX.md)"})
        else:
            run.append(case)
    return run, skipped


def _prepare_escapes(cases: Sequence[KnownAnswer]) -> None:
    for case in cases:
        if case.escape_path:
            folder = os.path.dirname(case.escape_path)
            os.makedirs(folder, exist_ok=True)
            os.chmod(folder, 0o777)  # writable by the sandbox's user ids, were it not contained
            try:
                os.unlink(case.escape_path)
            except FileNotFoundError:
                pass


def _grade(cases: Sequence[KnownAnswer], grading_workers: int | None) -> list:
    """Verdicts as the sampling phase makes them (see sampling/sink.py)."""
    pairs = [(c.completion, c.problem) for c in cases]
    if grading_workers == 0:
        from capability_tests.grading.grader import grade

        return [grade(text, problem) for text, problem in pairs]
    from capability_tests.grading.pool import GradingPool

    with GradingPool(workers=grading_workers or None) as pool:
        return pool.map(pairs)


def _compare(case: KnownAnswer, verdict) -> CaseResult:
    actual = verdict.outcome
    reason = verdict.reason
    ok = actual == case.expect
    if case.escape_path and os.path.exists(case.escape_path):
        ok = False
        actual = f"{actual}, and {case.escape_path} was written outside the sandbox"
    return CaseResult(case.verifier, case.label, case.kind, case.expect, actual, reason,
                      round(verdict.seconds, 4), ok)


def run_selftest(problems: Sequence[Problem], grading_workers: int | None = None,
                 use_cache: bool = True) -> SelfTestResult:
    """Run the known-answer cases of every verifier `problems` use (see the module docstring)."""
    start = time.perf_counter()
    backend = probe_backend()
    verifiers = verifiers_of(problems)
    cases: list[KnownAnswer] = []
    no_cases: list[str] = []
    for name in verifiers:
        found = cases_for(name, problems)
        cases += found
        if not found:
            no_cases.append(name)
    cases, skipped = _applicable(cases, backend)
    env = environment(backend, grading_workers)
    path = _cache_path(env, cases)
    cached = _read_cache(path) if use_cache else None
    if cached is not None:
        results = [CaseResult(**c) for c in cached["cases"]]
        return SelfTestResult(True, backend, time.perf_counter() - start, True, results, skipped,
                              no_cases, env, float(cached.get("measured_seconds", 0.0)))
    # the slowest cases (timeouts) first, so they overlap with the rest
    order = sorted(range(len(cases)), key=lambda i: cases[i].expect != Outcome.TIMEOUT)
    ordered = [cases[i] for i in order]
    _prepare_escapes(ordered)
    graded_at = time.perf_counter()
    verdicts = _grade(ordered, grading_workers)
    measured = time.perf_counter() - graded_at
    by_case = {i: _compare(ordered[j], verdicts[j]) for j, i in enumerate(order)}
    results = [by_case[i] for i in range(len(cases))]
    result = SelfTestResult(all(r.ok for r in results), backend, time.perf_counter() - start,
                            False, results, skipped, no_cases, env, measured)
    if result.passed:
        _write_cache(path, result)
    return result
