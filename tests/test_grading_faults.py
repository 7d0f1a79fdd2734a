"""Grader faults stay local: a verifier that raises is a `grader_error` verdict (the worker lives,
the batch goes on), a dispatcher that cannot start workers raises its cause, a timeout is
provisional until rechecked with a longer limit, and a worker receives each problem once."""

from __future__ import annotations

import errno
import threading

import pytest
import sympy

from capability_tests.grading import GradingPool, grade
from capability_tests.grading import grader as grader_module
from capability_tests.grading import pool as pool_module
from capability_tests.grading.identity import grader_identity
from capability_tests.grading.verdict import OUTCOMES, Verdict
from capability_tests.reporting import summary as summary_module
from capability_tests.reporting.curves import compute_curve
from capability_tests.reporting.summary import BenchmarkSummary
from capability_tests.results import ProblemResult, decode_samples, encode_samples
from fixtures.grading_problems import reference

COMPLETION = ("We factor the polynomial and take the positive root.\n\n"
              "Final Answer: The final answer is $x^{2}+1$. I hope it is correct.")


def _sympy_bug(answer, problem):
    raise sympy.PolynomialError("x**2 + 1 contains an element of the set of generators.")


def test_a_verifier_exception_is_a_grader_error_verdict_in_process(monkeypatch):
    # --grading-workers 0 grades here: the exception must not escape into the batch
    monkeypatch.setattr(grader_module, "answers_match", _sympy_bug)
    verdict = grade(COMPLETION, reference("math500", "x^2+1"))
    assert verdict.grader_error and not verdict.correct and not verdict.error
    assert verdict.outcome == "grader_error" and "grader_error" in OUTCOMES
    assert verdict.extracted == "x^{2}+1"  # what was found is kept
    assert verdict.reason.startswith("PolynomialError: x**2 + 1 contains")


def test_an_exception_outside_the_math_verifier_is_a_grader_error_too(monkeypatch):
    def broken(completion, problem, timeout):
        raise NotImplementedError("Improper integral not supported")

    monkeypatch.setattr(grader_module, "verify", broken)
    verdict = grader_module.grade_here(COMPLETION, reference("math500", "1"))
    assert verdict.grader_error and verdict.reason == (
        "NotImplementedError: Improper integral not supported")


def grade_with_a_sympy_bug(completion, problem, timeout):
    """In a pool worker: the math verifier, with a comparison that raises on `x^{2}+1`."""
    original = grader_module.answers_match

    def flaky(answer, problem):
        if "x^{2}" in answer:
            raise NotImplementedError("multivariate polynomial factorization over this domain")
        return original(answer, problem)

    grader_module.answers_match = flaky
    try:
        return grader_module.grade_here(completion, problem, timeout)
    finally:
        grader_module.answers_match = original


def test_a_verifier_exception_in_a_worker_is_a_verdict_and_the_worker_survives():
    with GradingPool(workers=1, grade_fn=grade_with_a_sympy_bug) as pool:
        first = pool.submit(COMPLETION, reference("math500", "x^2+1")).result(timeout=120)
        pids = pool.worker_pids()
        after = pool.submit(r"So the answer is $\boxed{7}$.", reference("math500", "7"))
        assert after.result(timeout=60).correct
        assert pool.worker_pids() == pids and pool.replaced == 0 and pool.killed == 0
    assert first.grader_error and first.outcome == "grader_error" and not first.error
    assert first.reason.startswith("NotImplementedError: multivariate")


def test_grader_errors_are_counted_per_benchmark_in_every_report():
    rows = [(0, "x^{2}+1", "grader_error", "PolynomialError: boom"), (1, "7", "correct", "equal")]
    _, records = decode_samples(encode_samples({"benchmark": "math500", "problem_id": "1"}, rows))
    assert [r["outcome"] for r in records] == ["grader_error", "correct"]
    result = ProblemResult("math500", "1", n=2, correct=1, grader_errors=1, wrong=0)
    assert ProblemResult.from_json(result.to_json()).grader_errors == 1
    curve = compute_curve("math500", [result])
    summary = BenchmarkSummary.from_curve(curve)
    assert summary.grader_errors == 1 and summary.to_json()["grader_errors"] == 1
    assert summary.pass_at_k[1] == 0.5  # counted as not correct
    assert "1 grader errors" in summary.outcome_line()
    report = summary_module.markdown({"model": "m"}, {"math500": summary}, complete=True)
    assert "| math500 | 0 | 0 | 0 | 0 | 1 |" in report and "grader errors" in report
    assert any("grader errors" in line for line in summary_module.terminal_lines(
        {"math500": summary}))


class _CannotStart:
    def __init__(self, *args, **kwargs):
        raise OSError(errno.EMFILE, "Too many open files")


def test_a_dispatcher_that_cannot_start_a_worker_raises_its_cause(monkeypatch):
    monkeypatch.setattr(pool_module, "WorkerHandle", _CannotStart)
    pool = GradingPool(workers=2)
    outcome = []

    def run():
        try:
            outcome.append(pool.map([(r"\boxed{1}", reference("math500", "1"))] * 3))
        except BaseException as exc:  # noqa: BLE001
            outcome.append(exc)

    t = threading.Thread(target=run, daemon=True)
    t.start()
    t.join(30)
    assert not t.is_alive(), "map() waits forever on a dead dispatcher"
    assert isinstance(outcome[0], OSError) and outcome[0].errno == errno.EMFILE
    with pytest.raises(OSError, match="Too many open files"):
        pool.submit(r"\boxed{1}", reference("math500", "1"))
    pool.close()


def count_and_grade(completion, problem, timeout):
    return Verdict(completion == problem.answer, completion, f"meta={len(problem.meta)}", 0.0)


def test_a_worker_receives_each_problem_once():
    big = reference("math500", "1", tests=["assert f(%d) == %d" % (i, i) for i in range(5000)])
    other = reference("math500", "2")
    with GradingPool(workers=1, grade_fn=count_and_grade) as pool:
        futures = [pool.submit(str(i % 3), big if i % 2 else other) for i in range(60)]
        verdicts = [f.result(timeout=120) for f in futures]
        assert pool.problems_sent == 2
    assert [v.reason for v in verdicts] == ["meta=1" if i % 2 else "meta=0" for i in range(60)]
    assert [v.correct for v in verdicts] == [(str(i % 3) == ("1" if i % 2 else "2"))
                                             for i in range(60)]


def slow_then_fast(completion, problem, timeout):
    """A comparison that needs 1.5 s of CPU: past a 1 s limit, within a 4 s recheck."""
    import time as _time

    from capability_tests.grading.timeouts import GradingTimeout, time_limit

    start = _time.perf_counter()
    try:
        with time_limit(timeout):
            end = _time.process_time() + 1.5
            while _time.process_time() < end:
                pass
    except GradingTimeout:
        return Verdict(False, "7", "timeout", _time.perf_counter() - start, timed_out=True)
    return Verdict(True, "7", "equal", _time.perf_counter() - start)


def test_a_timeout_is_provisional_and_rechecked_with_a_longer_limit():
    # a wide hard limit: on a loaded machine 1.5 s of CPU can take many seconds of wall time
    with GradingPool(workers=1, timeout=1.0, slack=60.0, grade_fn=slow_then_fast) as pool:
        verdict = pool.submit(r"\boxed{7}", reference("math500", "7")).result(timeout=120)
        assert pool.rechecked == 1
    assert verdict.correct and not verdict.timed_out


def test_the_effective_limits_are_in_the_grader_identity():
    assert grader_identity(3.0) != grader_identity(6.0)
