"""The graders' known-answer self-test (capability_tests/selftest/): it passes here, it is
cached, and a grader broken on purpose stops a run before any engine starts, with exit status 8
and a message naming the verifier, the case, the expected and actual verdict and the backend."""

from __future__ import annotations

import json
import os
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from capability_tests.grading.verdict import OUTCOMES, Verdict
from capability_tests.problems import Problem
from capability_tests.selftest import cases_for, run_selftest
from capability_tests.selftest.code_cases import KINDS, kinds_of
from capability_tests.selftest.runner import EXIT_SELFTEST_FAILED, _compare
from fixtures.fake_engine import FAKE, SUITE, engine_log

BREAKERS = Path(__file__).parent / "selftest_breakers"


def _math(benchmark="demo"):
    return Problem(benchmark, "p", "q", "1", "s")


def _code(mode):
    return Problem("humaneval", "p", "q", "", "s", verifier="code", meta={"mode": mode})


def test_every_case_expects_a_known_outcome_and_names_itself():
    cases = cases_for("math", [_math("gsm8k"), _math("math500")]) + cases_for(
        "code", [_code(k) for k in KINDS])
    assert {c.expect for c in cases} <= set(OUTCOMES)
    labels = [(c.verifier, c.label) for c in cases]
    assert len(labels) == len(set(labels)), "every case has its own label"
    assert {c.problem.benchmark for c in cases if c.verifier == "math"} == {"gsm8k", "math500"}
    code = [c for c in cases if c.verifier == "code"]
    assert {c.kind for c in code} == set(KINDS)
    for kind in KINDS:
        names = {c.name for c in code if c.kind == kind}
        assert {"reference", "wrong", "exit-at-import", "write-outside"} <= names
    assert sum(c.name == "infinite-loop" for c in code) == 1, "the loop costs its limit: once"
    # each math frame has a right and a wrong answer
    for frame in ("boxed", "answer-is", "final-answer"):
        assert {f"{frame}-right", f"{frame}-wrong"} <= {c.name for c in cases}


def test_code_kinds_are_the_runs():
    assert kinds_of([_code("stdio"), _math()]) == ["stdio"]
    assert kinds_of([_math()]) == list(KINDS), "no code problem (the CLI): every kind"


def test_an_escape_is_a_mismatch_whatever_the_verdict(tmp_path):
    case = next(c for c in cases_for("code", [_code("function")]) if c.name == "write-outside")
    case = type(case)(**{**case.__dict__, "escape_path": str(tmp_path / "escaped")})
    assert _compare(case, Verdict(False, "x", "failed", 0.1)).ok
    (tmp_path / "escaped").write_text("escaped")
    result = _compare(case, Verdict(False, "x", "failed", 0.1))
    assert not result.ok and "written outside the sandbox" in result.actual


def test_the_real_graders_pass_their_cases_and_a_pass_is_cached(tmp_path, monkeypatch):
    monkeypatch.setenv("CAPABILITY_TESTS_CACHE", str(tmp_path))
    problems = [_math("gsm8k"), _code("function")]
    first = run_selftest(problems, grading_workers=1)
    assert first.passed, first.failure_message()
    assert not first.cached and first.backend in ("root-namespaces", "user-namespaces", "plain")
    assert {c.verifier for c in first.cases} == {"math", "code"}
    assert any(c.case == "infinite-loop [function]" and c.actual == "timeout" for c in first.cases)
    again = run_selftest(problems, grading_workers=1)
    assert again.passed and again.cached and again.cases == first.cases
    entry = again.to_json()
    assert entry["cases"] == len(first.cases) and entry["cached"] is True
    assert entry["environment"]["grader"].startswith("grader-")
    # another environment (grading in this process) is another cache entry
    assert not run_selftest([_math()], grading_workers=0).cached


@pytest.fixture
def broken(fake_engine_env, monkeypatch, tmp_path):
    """Break a grader in the run's processes (tests/selftest_breakers/sitecustomize.py), with
    a cache of its own so no earlier pass is reused."""
    def apply(how):
        monkeypatch.setenv("SELFTEST_BREAK", how)
        monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(BREAKERS),
                                                          os.environ["PYTHONPATH"]]))
        monkeypatch.setenv("CAPABILITY_TESTS_CACHE", str(tmp_path / f"cache-{how}"))
    return apply


@pytest.mark.parametrize("how, benchmark, verifier, case, expected, actual", [
    ("math-yes", "demo", "math", "boxed-wrong [demo]", "wrong", "correct"),
    ("code-pass", "humaneval", "code", "wrong [function]", "wrong", "correct"),
    ("code-pass", "humaneval", "code", "infinite-loop [function]", "timeout", "correct"),
    ("sandbox-dead", "humaneval", "code", "reference [function]", "correct", "error"),
])
def test_a_broken_grader_stops_the_run_before_sampling(pytester, fake_engine_env, broken, how,
                                                       benchmark, verifier, case, expected,
                                                       actual):
    broken(how)
    result = pytester.runpytest_subprocess(*SUITE, *FAKE, f"--benchmarks={benchmark}",
                                           "--limit=1", "--k=1")
    output = "\n".join(result.outlines + result.errlines)
    assert result.ret == EXIT_SELFTEST_FAILED, output[-3000:]
    assert f"verifier {verifier!r}, case {case}: expected {expected}, got {actual}" in output
    assert "grader self-test failed under sandbox backend " in output
    backend = "unavailable" if how == "sandbox-dead" else ("root-namespaces" if os.getuid() == 0
                                                          else "")
    assert f"grader self-test failed under sandbox backend {backend}" in output
    assert engine_log(fake_engine_env) == [], "no engine may start"
    assert not (pytester.path / "reports" / "summary.json").exists()


def test_a_healthy_run_records_the_selftest_in_its_provenance(pytester, fake_engine_env,
                                                              monkeypatch):
    monkeypatch.setenv("FAKE_ENGINE_SCRIPT", json.dumps({"demo/add": ["\\boxed{19}"]}))
    args = (*SUITE, *FAKE, "--benchmarks=demo", "--limit=1", "--k=1", "--junitxml=junit.xml")
    result = pytester.runpytest(*args, "--selftest=always")
    assert result.ret == 0
    result.stdout.fnmatch_lines(["*grader self-test passed: 9 known-answer cases (math 9)*"])
    prov = json.loads((pytester.path / "reports" / "summary.json").read_text())["provenance"]
    entry = prov["selftest"]
    assert entry["passed"] is True and entry["cases"] == 9 and entry["verifiers"] == {"math": 9}
    assert entry["cached"] is False and entry["seconds"] > 0 and entry["failed"] == []
    assert entry["backend"] == entry["environment"]["sandbox_backend"]
    report = next((pytester.path / "reports").glob("*/report.md")).read_text()
    assert "| selftest | `passed: 9 cases (math 9)` |" in report
    assert f"| selftest_backend | `{entry['backend']}` |" in report
    root = ET.parse(pytester.path / "junit.xml").getroot()
    suite = root if root.tag == "testsuite" else root.find("testsuite")
    props = {p.get("name"): p.get("value") for p in suite.iter("property")}
    assert props["capability_selftest_cached"] == "False"
    assert props["capability_selftest_backend"] == entry["backend"]
    # the second run reuses the pass
    pytester.runpytest(*args)
    again = json.loads((pytester.path / "reports" / "summary.json").read_text())["provenance"]
    assert again["selftest"]["cached"] is True and again["selftest"]["cases"] == 9


def test_the_selftest_command_prints_a_table(capsys, tmp_path, monkeypatch):
    from capability_tests.cli import main

    monkeypatch.setenv("CAPABILITY_TESTS_CACHE", str(tmp_path))
    assert main(["selftest", "--benchmarks=demo", "--grading-workers=0"]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0].split() == ["verifier", "case", "expected", "actual", "ok",
                                           "seconds"]
    assert "boxed-wrong [demo]" in out and "grader self-test passed: 9" in out
    assert main(["selftest", "--benchmarks=nosuch"]) == 4


def test_under_xdist_the_controller_checks_before_any_worker_samples(pytester, fake_engine_env,
                                                                     broken):
    broken("math-yes")
    result = pytester.runpytest_subprocess(*SUITE, *FAKE, "--benchmarks=demo", "--limit=2",
                                           "--k=1", "-n", "2")
    output = "\n".join(result.outlines + result.errlines)
    assert result.ret == EXIT_SELFTEST_FAILED, output[-3000:]
    assert "verifier 'math', case boxed-wrong [demo]: expected wrong, got correct" in output
    assert engine_log(fake_engine_env) == [], "no worker may start an engine"
