"""The "code" verifier: run the program in the completion against the problem's tests.

`verify_code(completion, problem, timeout)` extracts the program (`extract.py`) and runs it in
the sandbox (`capability_tests.sandbox`) under this machine's limit for the problem
(`timing.py`; the first time a problem is seen here, its reference solution is run once to
measure it). Outcomes: correct (the tester reported that every test passed: positive proof,
never the absence of a failure), wrong (a test failed, the program did not load, it crashed or
exited early), no answer (no code in the completion), timeout (the wall-clock limit passed;
counted apart from wrong answers), or a grading error when the sandbox itself could not run
(`Verdict.error`: stored ungraded, graded again next time, never counted wrong).

`timeout` (the math comparison limit the pool passes) is not this verifier's limit: the pool asks
`time_budget(problem, timeout)` for how long to wait before it kills a worker.
"""

from __future__ import annotations

import math
import time

from capability_tests.code import timing
from capability_tests.code.extract import extract_program, shown
from capability_tests.code.prompts import completion_prompt
from capability_tests.grading.verdict import Verdict
from capability_tests.problems import Problem
from capability_tests.sandbox import Limits, run_tests

LAUNCH_SLACK_S = 20.0  # interpreter start-ups and teardown on a loaded machine, on top of a limit


def tester_job(problem: Problem) -> dict:
    """What the tester process runs: the problem's prelude and test code, or its I/O cases."""
    meta = problem.meta
    mode = meta.get("mode", "function")
    if mode == "function":
        return {"mode": "function", "prompt": meta.get("test_prelude", problem.question),
                "test": meta["test"], "entry_point": meta["entry_point"]}
    return {"mode": mode, "cases": list(meta["cases"]), "entry_point": meta.get("entry_point")}


def _reference_key(problem: Problem) -> str | None:
    if not problem.answer:
        return None
    meta = problem.meta
    tests = meta.get("test") or repr(meta.get("cases"))
    return timing.reference_key(problem.benchmark, problem.problem_id, problem.answer, tests)


def _limits(wall: float) -> Limits:
    return Limits(wall=wall, cpu=int(math.ceil(wall)) + 1)


def _run(program: str, problem: Problem, wall: float):
    meta = problem.meta
    mode = meta.get("mode", "function")
    return run_tests(program, tester_job(problem), _limits(wall),
                     mode="stdio" if mode == "stdio" else "function",
                     entry_point=meta.get("entry_point"))


def problem_limit(problem: Problem) -> float:
    """This machine's wall-clock limit for `problem`, measuring its reference once if needed."""
    key = _reference_key(problem)
    if key is None:
        return timing.limit_for(None)
    seconds = timing.recorded(key)
    if seconds is None:
        report = _run(problem.answer, problem, timing.REFERENCE_LIMIT_S)
        if report.error or not report.passed:
            return timing.limit_for(None)  # a broken reference says nothing about speed
        seconds = round(report.seconds, 4)
        timing.record(key, seconds, problem.key)
    return timing.limit_for(seconds)


def time_budget(problem: Problem, timeout: float) -> float:
    """The longest one `verify_code` call may take (what a grading pool waits before it kills
    the worker): the problem's limit, plus a reference measurement when none is recorded yet."""
    key = _reference_key(problem)
    limit = timing.limit_for(timing.recorded(key) if key else None)
    measuring = key is not None and timing.recorded(key) is None
    return limit + (timing.REFERENCE_LIMIT_S if measuring else 0.0) + LAUNCH_SLACK_S


def verify_code(completion: str, problem: Problem, timeout: float = 0.0) -> Verdict:
    start = time.perf_counter()
    if problem.error:
        return Verdict(False, None, f"problem has no tests: {problem.error}", 0.0)
    meta = problem.meta
    mode = meta.get("mode", "function")
    program = extract_program(
        completion, completion_prompt(problem), meta.get("entry_point"),
        mode="stdio" if mode == "stdio" else "function",
        prelude=meta.get("prelude", problem.question if mode == "function" else ""),
    )
    if program is None:
        return Verdict(False, None, "no answer: no code in the completion",
                       time.perf_counter() - start)
    wall = problem_limit(problem)
    report = _run(program.source, problem, wall)
    seconds = time.perf_counter() - start
    code = shown(program.code)
    if report.error:
        return Verdict(False, code, f"grading error: sandbox: {report.error}", seconds,
                       error=True)
    if report.passed:
        return Verdict(True, code, f"passed ({program.how})", seconds)
    if report.timed_out:
        return Verdict(False, code, f"timeout: over {wall:g} s ({program.how})", seconds,
                       timed_out=True)
    return Verdict(False, code, f"failed: {report.why} ({program.how})", seconds)
