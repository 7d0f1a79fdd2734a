"""Near misses (`capability_tests.grading.near_miss`): a near miss of an answer is never graded
correct, the answer itself always is, and the exact evaluator that proves them wrong is right.

The full 100 000-answer run over the six benchmarks is `perf/grading_near_miss.py`; these
properties draw bounded numbers of examples.
"""

from __future__ import annotations

from fractions import Fraction

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from capability_tests.grading import grade
from capability_tests.problems import Problem
from fixtures.exact_values import Items, NotExact, Number, Tuple, differs, exact_value
from fixtures.grading_problems import policy_of
from fixtures.near_miss import near_misses


def P(benchmark: str, answer: str) -> Problem:
    meta = {}
    if benchmark == "olympiadbench":
        meta = {"final_answer": [answer], "is_multiple_answer": "," in answer and answer[0] not in "([",
                "unit": None, "answer_type": "Numerical"}
    return Problem(benchmark=benchmark, problem_id="t", question="q", answer=answer, source="t",
                   meta=meta, policy=policy_of(benchmark))


FRAMES = (
    "We add the two parts.\n\nSo the answer is $\\boxed{{{a}}}$.",
    "Final Answer: The final answer is ${a}$. I hope it is correct.",
    "**Answer:** ${a}$",
    "Therefore, the final answer is ${a}$.",
)

naturals = st.integers(min_value=0, max_value=10**7)
small = st.integers(min_value=1, max_value=60)


@st.composite
def scalars(draw):
    kind = draw(st.sampled_from(["int", "neg", "dec", "frac", "surd", "pi", "sum", "sci"]))
    if kind == "int":
        return str(draw(naturals))
    if kind == "neg":
        return str(-draw(st.integers(1, 10**5)))
    if kind == "dec":
        return f"{draw(st.integers(0, 9999))}.{draw(st.integers(1, 999)):03d}".rstrip("0")
    if kind == "frac":
        return rf"\frac{{{draw(small)}}}{{{draw(st.integers(2, 97))}}}"
    if kind == "surd":
        return rf"{draw(st.integers(2, 12))}\sqrt{{{draw(st.sampled_from([2, 3, 5, 6, 7, 10]))}}}"
    if kind == "pi":
        return rf"\frac{{{draw(small)}\pi}}{{{draw(st.integers(2, 12))}}}"
    if kind == "sum":
        return rf"{draw(small)} + {draw(st.integers(2, 9))}\sqrt{{{draw(st.sampled_from([2, 3, 5]))}}}"
    return rf"{draw(st.integers(1, 9))}.{draw(st.integers(1, 9))} \times 10^{{{draw(st.integers(3, 30))}}}"


@st.composite
def answers(draw):
    shape = draw(st.sampled_from(["scalar", "scalar", "scalar", "tuple", "interval", "list"]))
    if shape == "scalar":
        return draw(scalars())
    items = draw(st.lists(scalars(), min_size=2, max_size=3, unique=True))
    if shape == "tuple":
        return "(" + ", ".join(items) + ")"
    if shape == "interval":
        return draw(st.sampled_from("([")) + ", ".join(items[:2]) + draw(st.sampled_from(")]"))
    return ", ".join(items)


benchmarks = st.sampled_from(["math500", "math500", "olympiadbench", "minerva_math", "aime24"])


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(answers(), benchmarks, st.integers(0, len(FRAMES) - 1))
def test_the_reference_itself_is_correct(answer, benchmark, frame):
    verdict = grade(FRAMES[frame].format(a=answer), P(benchmark, answer))
    assert verdict.correct, (answer, verdict)


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(answers(), benchmarks, st.randoms(use_true_random=False))
def test_a_near_miss_is_never_correct(answer, benchmark, rnd):
    misses = near_misses(answer, policy_of(benchmark))
    problem = P(benchmark, answer)
    for miss in rnd.sample(misses, min(len(misses), 25)):
        completion = FRAMES[rnd.randrange(len(FRAMES))].format(a=miss.text)
        verdict = grade(completion, problem)
        assert not verdict.correct, (answer, miss, verdict)


@settings(max_examples=200, deadline=None)
@given(st.integers(-10**9, 10**9), st.integers(1, 10**6))
def test_exact_value_of_rationals(p, q):
    value = exact_value(rf"\frac{{{p}}}{{{q}}}")
    assert value.rational() == Fraction(p, q)
    assert exact_value(f"{p}/{q}").rational() == Fraction(p, q)


@settings(max_examples=200, deadline=None)
@given(st.integers(0, 10**6), st.integers(0, 10**4), st.integers(1, 4))
def test_exact_value_of_decimals(whole, frac, places):
    text = f"{whole}.{frac:0{places}d}"[: len(str(whole)) + 1 + places]
    assert exact_value(text).rational() == Fraction(text)


def test_exact_arithmetic_decides_equality():
    # equal values written differently are equal exactly: never a near miss
    assert exact_value(r"\frac{\sqrt{8}}{4}") == exact_value(r"\frac{1}{\sqrt{2}}")
    assert exact_value(r"2\sqrt{3}") == exact_value(r"\sqrt{12}")
    assert exact_value(r"\frac{2\pi}{4}") == exact_value(r"\frac{\pi}{2}")
    assert exact_value("1.50") == exact_value(r"\frac{3}{2}")
    assert exact_value("12,345") == exact_value("12345")
    assert exact_value(r"1.5 \times 10^{3}") == exact_value("1500")
    assert not differs(exact_value("1, 2"), exact_value("2, 1"))  # a list is unordered
    assert differs(exact_value("(1, 2)"), exact_value("(2, 1)"))  # a tuple is not
    assert differs(exact_value("(1, 2]"), exact_value("(1, 2)"))  # nor are an interval's ends
    assert differs(exact_value(r"\sqrt{2}"), exact_value("1.41421356"))
    # within Minerva's tolerance is not "wrong"
    assert not differs(exact_value("4.52e33"), exact_value("4.5e33"), tol=0.005)
    assert isinstance(exact_value("(1, 2)"), Tuple) and isinstance(exact_value("1, 2"), Items)
    assert isinstance(exact_value(r"3 + 2\sqrt{2}"), Number)
    for bad in ("x + 1", r"1\frac{4}{5}", "5 6", r"\sin 3"):
        with pytest.raises(NotExact):
            exact_value(bad)


def test_rewrites_that_keep_the_value_are_dropped():
    # 121 with its digits transposed is 121; 0 with its sign flipped is 0; 1, 2 swapped is 2, 1
    assert all(m.text != "121" for m in near_misses("121", policy_of("math500")))
    assert all(m.text not in ("-0", "0") for m in near_misses("0", policy_of("math500")))
    assert all(m.text != "2, 1" for m in near_misses("1, 2", policy_of("math500")))
    kinds = {m.kind for m in near_misses("(12, 3.25)", policy_of("math500"))}
    assert {"tuple entries swapped", "bracket changed"} <= kinds
    kinds = {m.kind.split(" (")[0] for m in near_misses("12345", policy_of("gsm8k"))}
    assert {"off by 1", "sign flipped", "digits transposed", "factor dropped",
            "thousands separator misplaced", "unit scaled x10"} <= kinds
    assert {m.kind for m in near_misses("3.14159", policy_of("math500"))} >= {"decimal truncated"}
    # Minerva: a rewrite within the written precision is not a near miss
    assert all(m.text != "4.51e33" for m in near_misses("4.5e33", policy_of("minerva_math")))
    assert near_misses(r"x^2 + 1", policy_of("math500")) == []  # not provable exactly: nothing made


def test_every_benchmark_family_of_near_miss_is_rejected():
    cases = {
        "45120": "gsm8k", r"\frac{3\sqrt{2}}{4}": "math500", r"(2, \frac{\pi}{3})": "math500",
        "-3, 5": "math500", "4.5e33": "minerva_math", "62.5": "olympiadbench", "2024": "aime24",
    }
    for reference, benchmark in cases.items():
        misses = near_misses(reference, policy_of(benchmark))
        assert len(misses) >= 10, reference
        problem = P(benchmark, reference)
        for miss in misses:
            verdict = grade(rf"So the answer is $\boxed{{{miss.text}}}$.", problem)
            assert not verdict.correct, (reference, miss, verdict)
