"""Whole pytest sessions with the scripted fake engine: run folders, -n 0 vs -n 2, interruption,
gates and JUnit suite properties, and `--baseline`/`--compare` against a recorded run (the golden
baseline, fixtures/golden)."""

import csv
import json
import os
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from fixtures import golden
from fixtures.fake_engine import SUITE
from fixtures.golden import golden_copy

TESTS = Path(__file__).resolve().parent
ROOT = TESTS.parent
ANSWERS = {"add": "19", "sub": "27", "mul": "42", "div": "12", "apples": "8", "pens": "24",
           "square": "81", "half": "25", "fraction": "\\frac{3}{4}", "linear": "4"}
AIME = [{"id": f"a{i}", "problem": f"What is {i} + {i}?", "answer": str(2 * i)} for i in range(1, 7)]


def boxed(answer: str) -> str:
    return "\\boxed{" + answer + "}"


SCRIPT = {
    "demo/add": [boxed("19")],
    "demo/sub": [boxed("27"), "no", "no", "no"],
    "demo/mul": ["no", "no", "no", boxed("42"), "no", "no", "no", "no"],
    "demo/pens": [boxed("24"), "no"],
    "aime24/a1": [boxed("2")],
    "aime24/a2": ["no", boxed("4")],
    "aime24/a5": ["no", "no", "no", "no", "no", "no", "no", boxed("10")],
}


@pytest.fixture
def suite(pytester, monkeypatch):
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(ROOT), str(pytester.path)]))
    monkeypatch.setenv("FAKE_ENGINE_SCRIPT", json.dumps(SCRIPT))
    monkeypatch.delenv("PYTEST_ADDOPTS", raising=False)

    def run(*args, benchmarks="demo", k=8, report_dir="reports"):
        return pytester.runpytest_subprocess(
            *SUITE, "-p", "no:cacheprovider",
            "--engine=fixtures.fake_engine:FakeEngine", "--model=fake/model", f"--benchmarks={benchmarks}",
            f"--k={k}", f"--report-dir={report_dir}", "--bootstrap-resamples=500", *args,
        )

    run.path = pytester.path
    return run


def run_folder(report_dir: Path) -> Path:
    latest = json.loads((report_dir / "summary.json").read_text())
    return report_dir / latest["run_id"]


def suite_properties(path: Path) -> dict:
    root = ET.parse(path).getroot()
    return {p.get("name"): p.get("value") for p in root.iter("testsuite").__next__().find("properties")}


@pytest.mark.slow
def test_serial_and_xdist_reports_are_equal(suite):
    data = suite.path / "data" / "aime24"
    data.mkdir(parents=True)
    (data / "test.jsonl").write_text("".join(json.dumps(r) + "\n" for r in AIME))
    common = ("--data-dir=data", "--unsolved=xfail")
    serial = suite(*common, "-n", "0", "--junitxml=serial.xml", benchmarks="demo,aime24", report_dir="r0")
    xdist = suite(*common, "-n", "2", "--junitxml=xdist.xml", benchmarks="demo,aime24", report_dir="r2")
    assert serial.ret == 0 and xdist.ret == 0, xdist.stdout.str()
    one, two = run_folder(suite.path / "r0"), run_folder(suite.path / "r2")
    s1, s2 = (json.loads((f / "summary.json").read_text()) for f in (one, two))
    assert s1["schema"] == 2 and s1["complete"] is True and s2["complete"] is True
    assert set(s1["benchmarks"]) == {"demo", "aime24"}
    assert s1["benchmarks"] == s2["benchmarks"]
    assert s1["data"] == s2["data"] and s1["data"]["aime24"]["file_sha256"]
    assert s1["data"]["aime24"]["fingerprint_includes_answers"] is True
    assert s1["sampling"] == s2["sampling"] == {"k": 8, "temperature": 0.6, "top_p": 0.95, "max_tokens": 4096}
    for name in ("problems.jsonl", "pass_at_k.csv"):
        assert (one / name).read_text() == (two / name).read_text(), name
    assert (one / "pass_at_k.png").stat().st_size > 10_000
    # pass@1 of demo: add 1, sub 1/4, mul 1/8, pens 1/2, six unsolved -> 1.875 / 10
    assert s1["benchmarks"]["demo"]["pass_at_k"]["1"] == pytest.approx(0.1875)
    low, high = s1["benchmarks"]["demo"]["pass_at_k_ci"]["1"]
    assert low <= 0.1875 <= high
    rows = list(csv.DictReader((one / "pass_at_k.csv").open()))
    assert [r["k"] for r in rows if r["benchmark"] == "demo"] == [str(k) for k in range(1, 9)]
    problems = [json.loads(line) for line in (one / "problems.jsonl").read_text().splitlines()]
    assert len(problems) == 16 and {"n", "correct", "mean_tokens", "finish_reasons", "grading_timeouts"} <= set(problems[0])
    p1, p2 = suite_properties(suite.path / "serial.xml"), suite_properties(suite.path / "xdist.xml")
    for key in ("demo:pass@1", "demo:pass@8", "aime24:pass@1", "aime24:pass@8:ci", "demo:n"):
        assert p1[key] == p2[key], key
    assert float(p2["demo:pass@1"]) == pytest.approx(0.1875)
    assert p2["capability_complete"] == "true"


@pytest.mark.slow
def test_interrupted_run_leaves_an_incomplete_report(suite):
    suite.path.joinpath("conftest.py").write_text(
        "def pytest_runtest_call(item):\n"
        "    if 'demo/div' in item.nodeid:\n"
        "        raise KeyboardInterrupt\n"
    )
    result = suite("--unsolved=xfail", "-p", "conftest")
    assert result.ret == 2  # interrupted
    folder = run_folder(suite.path / "reports")
    summary = json.loads((folder / "summary.json").read_text())
    assert summary["complete"] is False
    # add, sub, mul ran; div was sampled and graded in its setup, then interrupted in its call
    assert summary["benchmarks"]["demo"]["problems"] == 4
    assert "Incomplete run" in (folder / "report.md").read_text()
    result.stdout.fnmatch_lines(["*written: *summary.json (incomplete run)*"])


@pytest.mark.slow
def test_stop_at_first_failure_marks_the_run_incomplete(suite):
    result = suite("-x")  # sub passes (1 of 4), mul passes, div fails and stops the session
    assert result.ret == 1
    summary = json.loads((suite.path / "reports" / "summary.json").read_text())
    assert summary["complete"] is False and summary["exit_status"] == 1
    assert summary["benchmarks"]["demo"]["problems"] == 4


@pytest.mark.slow
def test_fail_under_fails_the_session_with_a_clear_message(suite):
    failing = suite("--unsolved=xfail", "--fail-under=demo:pass@1>=0.25", "--fail-under=demo:pass@8>=20%",
                    "--junitxml=gates.xml")
    assert failing.ret == 6, failing.stdout.str()
    failing.stdout.fnmatch_lines([
        "GATE FAILED: demo pass@1 = 18.8% (95% CI *, 10 problems) is below the threshold "
        ">= 25.0% (--fail-under demo:pass@1>=0.25)",
        "gates: 1 passed, 1 failed (exit status 6)",
    ])
    assert suite_properties(suite.path / "gates.xml")["capability_gates_failed"] == "1"
    passing = suite("--unsolved=xfail", "--fail-under=demo:pass@1>=0.15")
    assert passing.ret == 0
    passing.stdout.fnmatch_lines(["gates: 1 passed, 0 failed"])


def test_help_lists_the_report_options(suite):
    result = suite("--help")
    assert result.ret == 0
    result.stdout.fnmatch_lines(["*--fail-under=SPEC*", "*--baseline=RUN*", "*--compare=RUN*"])


def test_malformed_gate_is_a_usage_error_naming_the_option(suite):
    result = suite("--fail-under=demo:pass@1=>0.2")
    assert result.ret == 4
    result.stderr.fnmatch_lines(["*argument --fail-under: expected BENCH:pass@K>=X*"])
    missing = suite("--baseline=no-such-run")
    assert missing.ret == 4
    missing.stderr.fnmatch_lines(["*--baseline: 'no-such-run' is not a run folder*"])


def test_baseline_drop_and_compare_against_a_recorded_run(suite, monkeypatch, tmp_path):
    """The golden baseline (fixtures/golden) against a live run of the golden candidate's
    script: pass@1 falls from 67.5% to 21.2%."""
    base = golden_copy(tmp_path / "golden").baseline
    monkeypatch.setenv("FAKE_ENGINE_SCRIPT", json.dumps(golden.CANDIDATE_SCRIPT))
    worse = suite("--unsolved=xfail", f"--baseline={base}", "--max-drop=0.05", f"--compare={base}",
                  k=golden.K)
    assert worse.ret == 6
    worse.stdout.fnmatch_lines([
        f"settings that differ from baseline {base.name} (besides the model): *",
        "GATE FAILED: demo pass@1 = 21.2% vs baseline 67.5% (*, 10 paired problems): drop 46.2% > "
        "max-drop 5.0% and significant at family-wise alpha 0.05 (one-sided sign-flip p = 0.0*, "
        "Holm-adjusted 0.0* over 1 test)",
        "gates: 0 passed, 1 failed (exit status 6)",
        "settings that differ between A (*) and B (*), besides the model: *",
    ])
    current = run_folder(suite.path / "reports")
    assert (current / "compare" / "compare.png").is_file()
    assert "- FAIL: demo pass@1 = 21.2%" in (current / "report.md").read_text()
    summary = json.loads((current / "summary.json").read_text())
    (gate,) = summary["gates"]
    assert gate["passed"] is False and not [g for g in summary["gates"] if g.get("data_differ")]
    compared = json.loads((current / "compare" / "compare.json").read_text())
    pair = compared["benchmarks"]["demo"]["pairs"][0]
    assert pair["crossover"]["k"] == 7 and pair["crossover"]["leader"] == base.name


def test_baseline_sampled_differently_is_a_usage_error_unless_allowed(suite, monkeypatch, tmp_path):
    base = golden_copy(tmp_path / "golden").baseline  # k=8, temperature 0.6, max_tokens 4096
    monkeypatch.setenv("FAKE_ENGINE_SCRIPT", json.dumps(golden.BASELINE_SCRIPT))
    refused = suite("--unsolved=xfail", f"--baseline={base}", "--temperature=1.0", "--max-tokens=512")
    assert refused.ret == 4
    refused.stderr.fnmatch_lines([
        f"*--baseline: the runs were sampled differently: temperature is 1.0 in this run but 0.6 in "
        f"baseline {base.name}; max_tokens is 512 in this run but 4096 in baseline {base.name}. *"
        "pass --baseline-allow-different temperature,max_tokens to gate anyway*"])
    allowed = suite("--unsolved=xfail", f"--baseline={base}", "--temperature=1.0", "--max-tokens=512",
                    "--baseline-allow-different=temperature", "--baseline-allow-different=max_tokens")
    assert allowed.ret == 0, allowed.stdout.str()
    allowed.stdout.fnmatch_lines([
        "settings that differ from baseline * (besides the model): *max_tokens: 512 (this run) vs "
        "4096 (baseline); *temperature: 1.0 (this run) vs 0.6 (baseline)*",
        "GATE NOTE: sampling settings differ from baseline * (allowed by --baseline-allow-different)*",
        "gates: 1 passed, 0 failed",
    ])
    summary = json.loads((suite.path / "reports" / "summary.json").read_text())
    note = summary["gates"][0]
    assert note["note"] and [d["setting"] for d in note["settings_differ"]] == ["temperature", "max_tokens"]
    too_many = suite("--unsolved=xfail", f"--baseline={base}", "--baseline-k=1,16", k=16,
                     *["--baseline-allow-different=k"])
    assert too_many.ret == 4
    too_many.stderr.fnmatch_lines([f"*--baseline-k 16: baseline {base.name} has only n=8 samples per "
                                   "problem on demo, fewer than k=16*"])
    beyond_run = suite("--unsolved=xfail", f"--baseline={base}", "--baseline-k=16")
    assert beyond_run.ret == 4
    beyond_run.stderr.fnmatch_lines(["*--baseline-k 16: this run draws only --k 8 samples per problem*"])
