"""Verdict integrity: the grader identity and automatic regrades, grading failures that are not
verdicts, per-sample records, and the regrade diff."""

from __future__ import annotations

import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from capability_tests.grading import GradingPool, Verdict
from capability_tests.grading.grader import grade_here
from capability_tests.grading.identity import grader_identity, grading_modules
from capability_tests.grading.pool import MAX_ATTEMPTS
from capability_tests.problems import Problem
from capability_tests.results import decode_samples, encode_samples
from fixtures.fake_engine import FAKE, SUITE, generate_calls, result_of
from fixtures.paths import REPO_ROOT, TESTS_DIR


def P(answer: str = "1") -> Problem:
    return Problem(benchmark="math500", problem_id="t", question="q", answer=answer, source="t")


def summary(root: Path) -> dict:
    return json.loads((root / "reports" / "summary.json").read_text())


def run_folder(root: Path) -> Path:
    return root / "reports" / summary(root)["run_id"]


def samples_jsonl(root: Path) -> list[dict]:
    return [json.loads(l) for l in (run_folder(root) / "samples.jsonl").read_text().splitlines()]


# -- grader identity -------------------------------------------------------------------------------


def test_identity_covers_grading_and_what_it_imports_not_the_cli():
    modules = grading_modules()
    assert {"capability_tests.grading.normalise", "capability_tests.grading.equivalence",
            "capability_tests.grading.extract", "capability_tests.grading.latex_parse",
            "capability_tests.latex", "capability_tests.problems"} <= set(modules)
    assert "capability_tests.grading.command" not in modules
    assert "capability_tests.benchmarks" not in modules and "capability_tests.sampling.coordinator" not in modules
    assert grader_identity().startswith("grader-") and grader_identity() == grader_identity()
    assert grader_identity(timeout=1.0) != grader_identity(), "the time limit is part of it"


def _identity_of(package_root: Path) -> str:
    out = subprocess.run(
        [sys.executable, "-c",
         "from capability_tests.grading.identity import grader_identity; print(grader_identity())"],
        env=dict(os.environ, PYTHONPATH=str(package_root)), cwd=package_root,
        capture_output=True, text=True,
        check=True,
    )
    return out.stdout.strip()


def _copy_package(dest: Path) -> Path:
    shutil.copytree(REPO_ROOT / "capability_tests", dest / "capability_tests",
                    ignore=shutil.ignore_patterns("__pycache__"))
    # the scripted engine of the runs below (`--engine=fixtures.fake_engine:FakeEngine`)
    shutil.copytree(REPO_ROOT / "fixtures", dest / "fixtures",
                    ignore=shutil.ignore_patterns("__pycache__"))
    return dest


def test_any_edit_to_a_grading_module_changes_the_identity(tmp_path):
    root = _copy_package(tmp_path)
    before = _identity_of(root)
    assert before == grader_identity(), "computed from the source: the same for a copy"
    (root / "capability_tests" / "sampling" / "sink.py").write_text(
        (root / "capability_tests" / "sampling" / "sink.py").read_text() + "\n# not grading\n")
    assert _identity_of(root) == before
    for name in ("grading/normalise.py", "latex.py"):
        path = root / "capability_tests" / name
        path.write_text(path.read_text() + "\n# a comment is an edit too\n")
        after = _identity_of(root)
        assert after != before, name
        before = after


# -- the pool: a dead worker is no verdict ---------------------------------------------------------


def crash_on_marker(completion, problem, timeout):
    """A grader process that dies on completions containing CRASH (as a segfault would)."""
    if "CRASH" in completion:
        os._exit(3)
    return grade_here(completion, problem, timeout)


def crash_once(completion, problem, timeout):
    """Dies the first time it sees a completion `ONCE:<marker path> ...`, grades it after."""
    if completion.startswith("ONCE:"):
        marker = Path(completion.split()[0][5:])
        if not marker.exists():
            marker.touch()
            os._exit(3)
    return grade_here(completion, problem, timeout)


def _wait_dead(pids, seconds=10.0):
    deadline = time.monotonic() + seconds
    for pid in pids:
        while time.monotonic() < deadline:
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                break
            time.sleep(0.05)


def test_killed_idle_worker_keeps_correct_answers_correct():
    with GradingPool(workers=2) as pool:
        assert all(v.correct for v in pool.map([(r"\boxed{1}", P("1")), (r"\boxed{2}", P("2"))]))
        pids = pool.worker_pids()
        assert len(pids) == 2
        for pid in pids:
            os.kill(pid, signal.SIGKILL)
        _wait_dead(pids)
        verdicts = pool.map([(rf"\boxed{{{i}}}", P(str(i))) for i in range(12)])
        assert [v.correct for v in verdicts] == [True] * 12, [v.reason for v in verdicts]
        assert not any(v.error for v in verdicts)
        assert pool.replaced >= 2 and not set(pool.worker_pids()) & set(pids)


def test_worker_dying_under_a_sample_is_retried_then_a_flagged_failure(tmp_path):
    with GradingPool(workers=1, grade_fn=crash_once) as pool:
        verdict = pool.submit(f"ONCE:{tmp_path / 'm'} \\boxed{{7}}", P("7")).result(timeout=60)
        assert verdict.correct and not verdict.error, "retried on a fresh worker"
        assert pool.replaced == 1
    with GradingPool(workers=1, grade_fn=crash_on_marker) as pool:
        futures = [pool.submit(c, P("1")) for c in (r"\boxed{1}", r"CRASH \boxed{1}", r"\boxed{1}")]
        first, crashed, last = [f.result(timeout=60) for f in futures]
    assert first.correct and last.correct
    assert crashed.error and crashed.outcome == "error" and crashed.extracted is None
    assert crashed.reason.startswith("grading error: grader crashed")
    assert f"{MAX_ATTEMPTS} tries" in crashed.reason


# -- sampling: a failure is stored ungraded and graded next run ------------------------------------


def test_worker_crash_on_one_sample_is_stored_ungraded_and_graded_next_run(tmp_path, monkeypatch):
    from capability_tests.benchmarks import load_problems
    from capability_tests.config import RunConfig
    from capability_tests.sampling import SamplingCoordinator
    from fixtures.fake_engine import FakeEngine

    monkeypatch.delenv("FAKE_ENGINE_LOG", raising=False)
    monkeypatch.setenv("FAKE_ENGINE_SCRIPT", json.dumps({"demo/add": ["\\boxed{19}",
                                                                      "CRASH \\boxed{19}"]}))
    problems = load_problems("demo", None, 2)
    store = tmp_path / "s.sqlite"
    config = RunConfig(model="fake/model", engine="fixtures.fake_engine:FakeEngine", k=2, store=store)
    first = SamplingCoordinator(config, log=lambda _: None, engine_factory=lambda n, s: FakeEngine(s))
    first.grading._pool = GradingPool(workers=1, grade_fn=crash_on_marker)
    add, sub = [result_of(first, p, problems) for p in problems]
    first.close()
    assert add.grading_errors == 1 and add.correct == 1
    assert "1 of 2 samples could not be graded" in add.error and "next run grades them" in add.error
    assert sub.error is None and sub.grading_errors == 0
    db = sqlite3.connect(str(store))
    rows = db.execute("SELECT idx, correct, reason FROM samples WHERE problem='demo/add' "
                      "ORDER BY idx").fetchall()
    db.close()
    assert rows[0][1] == 1 and rows[1][1] is None, "a failure is stored as ungraded, not wrong"
    assert rows[1][2].startswith("grading error")

    def no_engine(name, settings):
        raise AssertionError("everything is stored")

    lines = []
    again = SamplingCoordinator(config, log=lines.append, engine_factory=no_engine)
    add2 = result_of(again, problems[0], problems)
    again.close()
    assert add2.error is None and add2.correct == 2 and add2.grading_errors == 0
    assert any("1 samples an earlier run could not grade" in line for line in lines)


# -- through pytest: errors, counts, per-sample records, automatic regrade, diff -------------------

OLD_GRADER_CONFTEST = '''
import os
from capability_tests.grading import Verdict
from concurrent.futures import Future
from capability_tests.sampling.sink import Grading

_original = Grading.submit


def _submit(self, text, problem):
    """An 'old grader': fails on CRASH (a dead grading process) and says wrong on OLDWRONG."""
    if "CRASH" in text:
        v = Verdict(False, None, "grading error: grader crashed (test)", 0.0, error=True)
    elif "OLDWRONG" in text:
        v = Verdict(False, "old", "not equal (old grader)", 0.0)
    else:
        return _original(self, text, problem)
    future = Future()
    future.set_result(v)
    return future


Grading.submit = _submit
'''


@pytest.mark.slow
def test_ungraded_samples_error_the_problem_and_are_counted(pytester, fake_engine_env, monkeypatch):
    monkeypatch.setenv("FAKE_ENGINE_SCRIPT", json.dumps({
        "demo/add": ["\\boxed{19}", "CRASH"], "demo/sub": ["\\boxed{27}", "\\boxed{5}", "nothing"],
    }))
    pytester.makeconftest(OLD_GRADER_CONFTEST)
    args = [*SUITE, *FAKE, "--benchmarks=demo", "-k", "add or sub", "--k=3"]
    result = pytester.runpytest_subprocess(*args)
    result.assert_outcomes(passed=1, errors=1, deselected=8)
    result.stdout.fnmatch_lines([
        "*demo/add: 1 of 3 samples could not be graded (grading error: grader crashed (test))*"
        "next run grades them*",
        "*samples: 1 wrong answers, 1 with no answer found, 0 grading timeouts (counted wrong), "
        "1 grading errors (not graded)*",
    ])
    bench = summary(pytester.path)["benchmarks"]["demo"]
    assert bench["problems"] == 1 and bench["errors"] == 1, "no pass@k from part of the samples"
    assert (bench["wrong"], bench["no_answer"], bench["grading_errors"]) == (1, 1, 1)
    report = (run_folder(pytester.path) / "report.md").read_text()
    assert "| demo | 1 | 1 | 0 | 1 |" in report
    crashed = [r for r in samples_jsonl(pytester.path) if r["outcome"] == "error"]
    assert [(r["problem_id"], r["index"], r["correct"]) for r in crashed] == [("add", 1, None)]

    (pytester.path / "conftest.py").unlink()
    result = pytester.runpytest_subprocess(*args)
    result.assert_outcomes(passed=2, deselected=8)
    result.stdout.fnmatch_lines(["*regraded from the store, no generation: 0 verdicts made under "
                                 "another grader*, 1 samples an earlier run could not grade*"])
    assert len(generate_calls(fake_engine_env)) == 1
    assert summary(pytester.path)["benchmarks"]["demo"]["grading_errors"] == 0


def test_a_changed_grader_regrades_from_the_store_automatically(pytester, fake_engine_env,
                                                                 monkeypatch):
    """Replaces the old test that asserted stale reuse: verdicts stored under another grader
    identity are regraded from the text, without an engine, and the run says how many."""
    monkeypatch.setenv("FAKE_ENGINE_SCRIPT", json.dumps({"demo/add": ["The answer is 19."]}))
    args = [*SUITE, *FAKE, "--benchmarks=demo", "-k", "add", "--k=2"]
    pytester.runpytest(*args).assert_outcomes(passed=1, deselected=9)
    assert summary(pytester.path)["grader"] == {"identity": grader_identity(), "regraded": 0}
    db = sqlite3.connect(str(pytester.path / "reports" / "completions.sqlite"))
    with db:  # as if an older grader had said no
        db.execute("UPDATE samples SET correct=0, grading='grader-0123456789abcdef/' || "
                   "substr(grading, instr(grading, '/') + 1)")
    db.close()
    result = pytester.runpytest(*args)
    result.assert_outcomes(passed=1, deselected=9)
    result.stdout.fnmatch_lines(["*regraded from the store, no generation: 2 verdicts made under "
                                 f"another grader (this one is {grader_identity()})*"])
    assert summary(pytester.path)["grader"] == {"identity": grader_identity(), "regraded": 2}
    pytester.runpytest(*args).assert_outcomes(passed=1, deselected=9)
    assert summary(pytester.path)["grader"]["regraded"] == 0, "written back: regraded once"
    assert len(generate_calls(fake_engine_env)) == 1


@pytest.mark.slow
def test_an_edited_grading_module_regrades_with_the_same_pass_at_k(pytester, fake_engine_env,
                                                                    monkeypatch, tmp_path):
    """The real thing: a copy of the package, a grading module edited between two runs of the
    same command -> the second run generates nothing, regrades every stored verdict and records
    the new identity, with the same pass@k (the edit changes no verdict)."""
    root = _copy_package(tmp_path / "pkg")
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(root), str(TESTS_DIR)]))
    monkeypatch.setenv("FAKE_ENGINE_SCRIPT", json.dumps({"demo/add": ["\\boxed{19}", "x"]}))
    args = [*SUITE, *FAKE, "--benchmarks=demo", "-k", "add or sub", "--k=2"]
    pytester.runpytest_subprocess(*args).assert_outcomes(passed=1, failed=1, deselected=8)
    first = summary(pytester.path)
    normalise = root / "capability_tests" / "grading" / "normalise.py"
    normalise.write_text(normalise.read_text() + "\n# an edit that changes no verdict\n")
    result = pytester.runpytest_subprocess(*args)
    result.assert_outcomes(passed=1, failed=1, deselected=8)
    second = summary(pytester.path)
    assert len(generate_calls(fake_engine_env)) == 1, "no generation"
    assert second["grader"]["identity"] != first["grader"]["identity"]
    assert second["grader"]["regraded"] == 4
    assert second["benchmarks"] == first["benchmarks"]
    assert {r["grader"] for r in samples_jsonl(pytester.path)} == {second["grader"]["identity"]}


@pytest.mark.slow
def test_per_sample_records_audit_the_report_and_stay_out_of_junit(pytester, fake_engine_env,
                                                                    monkeypatch):
    monkeypatch.setenv("FAKE_ENGINE_SCRIPT", json.dumps({
        "demo/add": ["\\boxed{19}", "x"], "demo/sub": ["\\boxed{3}"]}))
    args = [*SUITE, *FAKE, "--benchmarks=demo", "--k=3", "--junitxml=junit.xml"]
    pytester.runpytest_subprocess(*args)
    document = summary(pytester.path)
    records = samples_jsonl(pytester.path)
    assert len(records) == 10 * 3 and document["files"]["samples"] == "samples.jsonl"
    assert records[:3] == sorted(records[:3], key=lambda r: r["index"])
    add = [r for r in records if r["problem_id"] == "add"]
    assert [(r["index"], r["extracted"], r["correct"], r["outcome"]) for r in add] == [
        (0, "19", True, "correct"), (1, None, False, "no_answer"), (2, "19", True, "correct")]
    assert {r["grader"] for r in records} == {grader_identity()}
    # every number in the report can be recounted from the records
    problems = [json.loads(l) for l in (run_folder(pytester.path) / "problems.jsonl").read_text()
                .splitlines()]
    for p in problems:
        mine = [r for r in records if r["problem_id"] == p["problem_id"]]
        assert p["correct"] == sum(r["correct"] is True for r in mine)
        assert p["no_answer"] == sum(r["outcome"] == "no_answer" for r in mine)
        assert p["wrong"] == sum(r["outcome"] == "wrong" for r in mine)
    assert document["store"]["path"].endswith("completions.sqlite")
    assert json.loads(document["store"]["generation"])["model"]
    assert "capability_samples" not in (pytester.path / "junit.xml").read_text()

    pytester.runpytest_subprocess(*args, "-n", "2")
    assert samples_jsonl(pytester.path) == records, "same records through xdist"


@pytest.mark.slow
def test_regrade_diff_lists_changed_verdicts_and_the_pass_at_k_change(pytester, fake_engine_env,
                                                                       monkeypatch, capsys):
    from capability_tests.cli import main

    monkeypatch.setenv("FAKE_ENGINE_SCRIPT", json.dumps({
        "demo/add": ["\\boxed{19}", "so \\boxed{19} OLDWRONG"], "demo/sub": ["\\boxed{5}"]}))
    pytester.makeconftest(OLD_GRADER_CONFTEST)
    args = [*SUITE, *FAKE, "--benchmarks=demo", "-k", "add or sub", "--k=2"]
    pytester.runpytest_subprocess(*args).assert_outcomes(passed=1, failed=1, deselected=8)
    run_id = summary(pytester.path)["run_id"]
    store = pytester.path / "reports" / "completions.sqlite"
    before = store.read_bytes()

    monkeypatch.chdir(pytester.path)
    out_json = pytester.path / "diff.json"
    assert main(["regrade-diff", run_id, "--workers=1", f"--json={out_json}"]) == 0
    text = capsys.readouterr().out
    assert "4 samples regraded, 1 changed" in text
    assert "demo/add #1: 'old' (wrong) -> '19' (correct)" in text
    diff = json.loads(out_json.read_text())
    (change,) = diff["changes"]
    assert (change["problem_id"], change["index"], change["old_correct"], change["new_correct"]) == (
        "add", 1, False, True)
    pass1 = next(row for row in diff["pass_at_k"]["demo"] if row["k"] == 1)
    assert pass1["old"] == pytest.approx(0.25) and pass1["new"] == pytest.approx(0.5)
    assert "demo                 1     25.0%     50.0%     +25.0" in text
    assert store.read_bytes() == before, "a diff writes nothing to the store"
    assert len(generate_calls(fake_engine_env)) == 1

    assert main(["regrade-diff", "nosuch"]) == 2
    assert "not a run folder" in capsys.readouterr().err


def test_sample_records_round_trip_compactly():
    rows = [(i, None if i % 3 else str(i), ["correct", "wrong", "no_answer", "timeout",
                                            "error"][i % 5], f"r{i % 2}") for i in range(4096)]
    text = encode_samples({"benchmark": "b", "problem_id": "p", "prompt": "d", "grader": "g"}, rows)
    assert len(text) < 4096 * 16, "a few bytes per sample"
    header, records = decode_samples(text)
    back = list(records)
    assert header["problem_id"] == "p" and len(back) == 4096
    assert [(r["index"], r["extracted"], r["outcome"], r["reason"]) for r in back] == rows
    assert back[4]["correct"] is None and back[0]["correct"] is True and back[1]["correct"] is False


def test_a_report_never_mixes_graders():
    from capability_tests.reporting.session import one_grader
    from capability_tests.results import ProblemResult

    mine, other = grader_identity(), "grader-0000000000000000"
    results = [ProblemResult("demo", "a", 2, 1, grader=mine),
               ProblemResult("demo", "b", 2, 2, grader=other)]
    kept = one_grader(results, mine)
    assert kept[0].error is None
    assert kept[1].error and other in kept[1].error and "regrade" in kept[1].error


def test_verdict_outcomes():
    assert Verdict(True, "1", "equal", 0).outcome == "correct"
    assert Verdict(False, "2", "not equal", 0).outcome == "wrong"
    assert Verdict(False, None, "no final answer", 0).outcome == "no_answer"
    assert Verdict(False, "2", "timeout", 0, timed_out=True).outcome == "timeout"
    assert Verdict(False, None, "grading error: x", 0, error=True).outcome == "error"
