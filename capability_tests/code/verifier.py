"""The "code" verifier: run the program in the completion against the problem's tests.

`verify_code(completion, problem, timeout)` extracts the program (`extract.py`) and runs it in
the sandbox (`capability_tests.sandbox`) under this machine's limit for the problem
(`timing.py`; the first time a problem is seen here, its reference solution is timed, usually
already by the run's planning, which puts the problem's effective limits in the verdict key:
`verdict_limits`). Outcomes: correct (the tester reported that every test passed: positive proof,
never the absence of a failure), wrong (a test failed, the program did not load, it crashed or
exited early), no answer (no code in the completion), timeout (the wall-clock limit passed;
counted apart from wrong answers), or a grading error when the sandbox itself could not run
(`Verdict.error`: stored ungraded, graded again next time, never counted wrong).

`timeout` (the math comparison limit the pool passes) is not this verifier's limit: the pool asks
`time_budget(problem, timeout)` for how long to wait before it kills a worker.
"""

from __future__ import annotations

import dataclasses
import json
import time

from capability_tests.code import timing
from capability_tests.code.extract import extract_program, shown
from capability_tests.code.prompts import completion_prompt
from capability_tests.grading.verdict import Verdict
from capability_tests.problems import Problem
from capability_tests.safe_text import safe_text
from capability_tests.sandbox import Limits, run_tests
from capability_tests.sandbox.run import NOT_STOPPED

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


def _limits(cpu: float) -> Limits:
    """The problem's limit is CPU time (of the whole sandbox where a cgroup counts it: the same
    on an idle and on a busy machine); the wall clock is only a backstop for programs that wait
    (sleep, block on input), generous enough that contention for the cores never reaches it."""
    return Limits(wall=timing.wall_backstop(cpu), cpu=cpu)


def _run(program: str, problem: Problem, cpu: float):
    meta = problem.meta
    mode = meta.get("mode", "function")
    return run_tests(program, tester_job(problem), _limits(cpu), mode=mode,
                     entry_point=meta.get("entry_point"))


def _reference(problem: Problem) -> tuple[float, str] | None:
    """(seconds, clock) of the problem's reference on this machine, measured once if needed;
    None without a reference, or with one that does not pass its own tests."""
    key = _reference_key(problem)
    if key is None:
        return None
    found = timing.recorded_with_clock(key)
    if found is None:
        runs, clock = [], "cpu"
        for _ in range(timing.REFERENCE_REPEATS):  # the minimum: the run least disturbed
            report = _run(problem.answer, problem, timing.REFERENCE_LIMIT_S)
            if report.error or not report.passed:
                return None  # a broken reference says nothing about speed
            if report.cpu_seconds is None:
                clock = "wall"
            runs.append(report.cpu_seconds if report.cpu_seconds is not None else report.seconds)
        found = (round(min(runs), 4), clock)
        timing.record(key, found[0], problem.key, found[1])
    return found


def problem_limit(problem: Problem) -> float:
    """This machine's CPU-time limit for `problem`, measuring its reference once if needed."""
    found = _reference(problem)
    return timing.limit_for(None if found is None else found[0])


def verdict_limits(problem: Problem) -> str:
    """The effective limits a verdict on `problem` is made under on this machine, as the text
    that goes into the verdict key (`grading.verifiers.verdict_limits`): the sandbox's limits
    (CPU time from the grid, wall-clock backstop, memory, output, processes, tmpfs) and the clock
    the reference was counted by. A stored verdict made under other limits is graded again."""
    found = _reference(problem)
    limits = _limits(timing.limit_for(None if found is None else found[0]))
    clock = "default" if found is None else found[1]
    return json.dumps({"limits": dataclasses.asdict(limits), "reference_clock": clock},
                      sort_keys=True)


def time_budget(problem: Problem, timeout: float) -> float:
    """The longest one `verify_code` call may take (what a grading pool waits before it kills
    the worker): the problem's limit, plus a reference measurement when none is recorded yet."""
    key = _reference_key(problem)
    limit = timing.limit_for(timing.recorded(key) if key else None)
    measuring = key is not None and timing.recorded(key) is None
    reference = timing.REFERENCE_REPEATS * timing.wall_backstop(timing.REFERENCE_LIMIT_S)
    return timing.wall_backstop(limit) + (reference if measuring else 0.0) + LAUNCH_SLACK_S


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
    limit = problem_limit(problem)
    report = _run(program.source, problem, limit)
    seconds = time.perf_counter() - start
    code = safe_text(shown(program.code))
    if report.error:
        return Verdict(False, code, safe_text(f"grading error: sandbox: {report.error}"), seconds,
                       error=True)
    if report.passed:
        return Verdict(True, code, f"passed ({program.how})", seconds)
    if report.why == NOT_STOPPED:
        return Verdict(False, code, f"wrong: {NOT_STOPPED} ({program.how})", seconds)
    if report.timed_out:
        spent = (f"over {limit:g} s of CPU time" if report.over_cpu
                 else f"over {timing.wall_backstop(limit):g} s of wall-clock time")
        return Verdict(False, code, f"timeout: {spent} ({program.how})", seconds, timed_out=True)
    return Verdict(False, code, safe_text(f"failed: {report.why} ({program.how})", 600), seconds)
