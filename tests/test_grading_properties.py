"""Hypothesis properties of the equivalence on extracted answers."""

from __future__ import annotations

from fractions import Fraction

from hypothesis import given, settings
from hypothesis import strategies as st

from capability_tests.grading import grade
from capability_tests.grading.equivalence import answers_match
from capability_tests.problems import Problem
from fixtures.grading_problems import policy_of


def P(answer: str, benchmark: str = "math500", **meta) -> Problem:
    return Problem(benchmark=benchmark, problem_id="t", question="q", answer=answer, source="t",
                   meta=meta, policy=policy_of(benchmark))


ints = st.integers(min_value=-60, max_value=60)
pos = st.integers(min_value=1, max_value=40)


@st.composite
def atoms(draw):
    kind = draw(st.sampled_from(["int", "frac", "sqrt", "pi", "dec", "sym"]))
    if kind == "int":
        return str(draw(ints))
    if kind == "frac":
        return rf"\frac{{{draw(ints)}}}{{{draw(pos)}}}"
    if kind == "sqrt":
        return rf"{draw(pos)}\sqrt{{{draw(pos)}}}"
    if kind == "pi":
        return rf"\frac{{{draw(pos)}\pi}}{{{draw(pos)}}}"
    if kind == "dec":
        return f"{draw(ints)}.{draw(st.integers(0, 999)):03d}"
    return draw(st.sampled_from(["x", "2x+1", "x^2-1", "(x-1)(x+1)", r"\frac{x}{2}", "a+b"]))


@st.composite
def answers(draw):
    shape = draw(st.sampled_from(["atom", "atom", "tuple", "interval", "set"]))
    if shape == "atom":
        return draw(atoms())
    items = draw(st.lists(atoms(), min_size=2, max_size=3))
    if shape == "tuple":
        return "(" + ", ".join(items) + ")"
    if shape == "interval":
        return draw(st.sampled_from("([")) + ", ".join(items[:2]) + draw(st.sampled_from(")]"))
    return r"\{" + ", ".join(items) + r"\}"


@settings(max_examples=150, deadline=None)
@given(answers())
def test_reflexive(a):
    assert answers_match(a, P(a))[0]


@settings(max_examples=150, deadline=None)
@given(answers(), answers())
def test_symmetric(a, b):
    assert answers_match(a, P(b))[0] == answers_match(b, P(a))[0]


@settings(max_examples=100, deadline=None)
@given(st.integers(-500, 500), st.sampled_from([1, 2, 4, 5, 8, 10, 16, 20, 25, 40]))
def test_fraction_spellings_agree(p, q):
    forms = [rf"\frac{{{p}}}{{{q}}}", rf"\dfrac{{{p}}}{{{q}}}", f"{p}/{q}"]
    value = Fraction(p, q)
    forms.append(str(float(value)))  # q has only factors 2 and 5: the decimal is exact
    if 0 <= p < 10 and 0 < q < 10:
        forms.append(rf"\dfrac{p}{q}")
    for ref in forms:
        for got in forms:
            assert grade(rf"\boxed{{{got}}}", P(ref)).correct, (got, ref)


def test_half_spellings():
    forms = [r"\frac{1}{2}", "0.5", r"\dfrac12", "1/2", r"\tfrac{1}{2}", ".5", r"\frac12"]
    for ref in forms:
        for got in forms:
            assert grade(rf"\boxed{{{got}}}", P(ref)).correct, (got, ref)


@settings(max_examples=60, deadline=None)
@given(st.lists(atoms(), min_size=2, max_size=5, unique=True), st.randoms(use_true_random=False),
       st.booleans())
def test_shuffling_an_unordered_answer_keeps_the_verdict(items, rnd, corrupt):
    final = ", ".join(items)
    problem = P(final, benchmark="olympiadbench", final_answer=[final], is_multiple_answer=True,
                unit=None, answer_type="Numerical")
    answer = list(items)
    if corrupt:
        answer[0] = answer[0] + "+1"
    before = grade(r"\boxed{" + ", ".join(answer) + "}", problem).correct
    rnd.shuffle(answer)
    after = grade(r"\boxed{" + ", ".join(answer) + "}", problem).correct
    assert before == after
    if not corrupt:
        assert before
