"""Pathological and hostile completions: each finishes within the hard limit, runs no code."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from capability_tests.grading import GradingPool, Verdict, grade, grade_many
from capability_tests.grading.timeouts import GradingTimeout, time_limit
from capability_tests.problems import Problem
from fixtures.grading_problems import policy_of

SLACK = 5.0  # seconds past a limit a check allows, for a busy machine
REPO = Path(__file__).resolve().parent.parent


def P(answer: str = "1", benchmark: str = "math500", **meta) -> Problem:
    if benchmark == "olympiadbench":
        meta.setdefault("final_answer", [answer])
        meta.setdefault("is_multiple_answer", False)
    return Problem(benchmark=benchmark, problem_id="t", question="q", answer=answer, source="t",
                   meta=meta, policy=policy_of(benchmark))


PATHOLOGICAL = [
    r"\boxed{10^{10^{10^{10}}}}",
    r"\boxed{2^{2^{2^{2^{2^{2}}}}}}",
    r"\boxed{9^{9^{9}}}",
    r"\boxed{(10^{100})^{10^{100}}}",
    r"\boxed{10^{10^{5}} \cdot 10^{10^{5}}}",
    r"\boxed{99999!}",
    r"\boxed{9!!!!!!}",
    r"\boxed{\binom{10^{9}}{5 \cdot 10^{8}}}",
    r"\boxed{1e99999999}",
    r"\boxed{" + "9" * 5000 + "}",
    r"\boxed{" + "{" * 10_000 + "1" + "}" * 10_000 + "}",
    r"\boxed{" + "(" * 10_000 + "1" + ")" * 10_000 + "}",
    r"\boxed{" + "-" * 10_000 + "1}",
    r"\boxed{" + "\\sqrt{" * 3000 + "2" + "}" * 3000 + "}",
    r"\boxed{" + "x^" * 5000 + "2}",
    "x" * 1_000_000 + r"\boxed{1}",
    r"\boxed{" + "1+" * 300_000 + "1}",
    "{" * 1_000_000,
    r"\boxed{" * 100_000,
    "The answer is " + "1," * 400_000,
    r"\boxed{\sin(\sin(\sin(10^{400})))^{10^{4}}}",
    r"\boxed{x^{10^{4}} - (x+1)^{10^{4}}}",
]


@pytest.mark.parametrize("completion", PATHOLOGICAL, ids=range(len(PATHOLOGICAL)))
def test_pathological_inputs_finish_within_the_limit(completion):
    """Each is refused by a size guard or compared outright: none is left to the time limit (a
    timeout here means more than the limit, and then four times it on the recheck)."""
    v = grade(completion, P("0"))
    assert isinstance(v, Verdict)
    assert not v.timed_out and not v.grader_error, v
    assert not v.correct or v.extracted == "1"


def test_pathological_inputs_in_the_pool_finish_within_the_limit():
    verdicts = grade_many([(c, P("0")) for c in PATHOLOGICAL], workers=2)
    assert len(verdicts) == len(PATHOLOGICAL)
    assert [i for i, v in enumerate(verdicts) if v.timed_out or v.grader_error] == []


def test_time_limit_interrupts_python_work():
    """The loop never ends: the raise is the timer firing. The bound is a correctness check
    with a wide margin (25x the limit), not a speed figure."""
    start = time.monotonic()
    with pytest.raises(GradingTimeout):
        with time_limit(0.2):
            while True:
                pass
    assert time.monotonic() - start < 0.2 + SLACK


def blocked_forever(completion, problem, timeout):
    """A grader stuck where no signal reaches it (SIGALRM blocked, sleeping in C)."""
    if completion == "hang":
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGALRM})
        time.sleep(3600)
    from capability_tests.grading.grader import grade_here

    return grade_here(completion, problem, timeout)


def test_pool_kills_a_stuck_worker_and_carries_on():
    # limits wide enough that a loaded machine never pushes the quick samples past them
    with GradingPool(workers=2, timeout=1.0, slack=1.0, grade_fn=blocked_forever) as pool:
        futures = [pool.submit(c, P("1")) for c in ["hang", r"\boxed{1}", "hang", r"\boxed{2}"]]
        results = [f.result(timeout=60) for f in futures]  # killed, not waited for: an hour
        # each hang is killed twice: at the limit, then at the recheck's 4x limit in an idle pool
        assert pool.killed == 4 and pool.rechecked == 2, [(r.reason, r.seconds) for r in results]
    assert [r.timed_out for r in results] == [True, False, True, False]
    assert results[0].reason == "timeout (also with 4 s)" and not results[0].correct
    assert results[1].correct and not results[3].correct


def test_grade_from_a_thread_uses_the_pool_and_keeps_order():
    out = []
    t = threading.Thread(target=lambda: out.append(grade(r"\boxed{\frac{2}{4}}", P(r"\frac12"))))
    t.start()
    t.join(60)
    assert out and out[0].correct


def test_pool_submit_while_generating():
    with GradingPool(workers=2) as pool:
        futures = []
        for i in range(50):
            futures.append(pool.submit(rf"\boxed{{{i}}}", P(str(i))))
        assert all(f.result(timeout=60).correct for f in futures)


# -- payloads: model text must never be executed ---------------------------------------------------

def _payloads(marker: Path) -> list[str]:
    cmd = f"__import__('os').system('touch {marker}')"
    pyexpr = f"__import__('pathlib').Path('{marker}').touch()"
    bodies = [cmd, pyexpr, f"eval(\"{pyexpr}\")", f"exec(\"{pyexpr}\")",
              f"(lambda: {pyexpr})()", f"{pyexpr} or 1", f"1 + {pyexpr}",
              f"Symbol('x').__class__.__init__.__globals__['os'].system('touch {marker}')",
              f"\\frac{{{pyexpr}}}{{2}}", f"({pyexpr}, 1)", f"\\sqrt{{{cmd}}}",
              f"x = {cmd}", f"\\text{{{cmd}}}", f"\\{{{cmd}\\}}"]
    wrapped = []
    for body in bodies:
        wrapped += [rf"\boxed{{{body}}}", f"Answer: {body}", f"#### {body}",
                    f"The final answer is {body}.", f"The answer is {body}",
                    f"The answer is ${body}$."]
    return wrapped


@pytest.mark.parametrize("benchmark", ["math500", "gsm8k", "minerva_math", "olympiadbench",
                                       "aime24"])
def test_payloads_are_never_executed(tmp_path, benchmark):
    marker = tmp_path / "X"
    for completion in _payloads(marker):
        grade(completion, P("1", benchmark))
        grade(completion, P(completion, benchmark))  # even as the reference
    grade_many([(c, P("1", benchmark)) for c in _payloads(marker)], workers=2)
    assert not marker.exists()


def test_payloads_through_the_command(tmp_path, small_benchmarks):
    marker = tmp_path / "X"
    lines = [json.dumps({"benchmark": "math500", "problem_id": "test/algebra/100.json",
                         "completion": c}) for c in _payloads(marker)]
    data = small_benchmarks
    res = subprocess.run(
        [sys.executable, "-m", "capability_tests.grading.command", "grade", "--data-dir",
         str(data), "-"], input="\n".join(lines), capture_output=True, text=True, timeout=120,
        cwd=REPO, env=dict(os.environ, PYTHONPATH=str(REPO)),
    )
    assert res.returncode == 0, res.stderr
    assert len(res.stdout.splitlines()) == len(lines)
    assert not marker.exists()


def test_grading_source_never_calls_eval_or_sympify():
    """No call of eval/exec/compile/sympify/parse_expr, no import of sympy.parsing, anywhere."""
    import ast

    banned = {"eval", "exec", "compile", "sympify", "parse_expr", "S", "__import__"}
    for path in (REPO / "capability_tests" / "grading").glob("*.py"):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.Call):
                f = node.func
                name = f.id if isinstance(f, ast.Name) else f.attr if isinstance(f, ast.Attribute) else ""
                if isinstance(f, ast.Attribute) and isinstance(f.value, ast.Name) and f.value.id == "re":
                    continue  # re.compile builds a regex, it runs no code
                assert name not in banned, f"{path.name}:{node.lineno} calls {name}"
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                mod = getattr(node, "module", None) or ""
                names = [a.name for a in node.names]
                assert "parsing" not in mod and not any("parsing" in n or n in banned for n in names), (
                    f"{path.name}:{node.lineno} imports {mod} {names}")


def test_time_limit_keeps_an_outer_alarm():
    fired = []
    old = signal.signal(signal.SIGALRM, lambda *a: fired.append(1))
    try:
        signal.setitimer(signal.ITIMER_REAL, 0.3)
        with time_limit(5):
            pass
        remaining, _ = signal.getitimer(signal.ITIMER_REAL)
        assert 0 < remaining <= 0.3
        time.sleep(0.6)
        assert fired
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)
