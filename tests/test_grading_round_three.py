"""Issue 20's answer families, each in the study's frames (boxed, "The answer is", "Final Answer:")
with the look-alike that must stay wrong."""

from __future__ import annotations

import pytest

from capability_tests.grading import grade
from capability_tests.grading.extract import extract_answer
from fixtures.grading_problems import reference

FRAMES = (
    "Collecting the terms above, we get\n\n$$\\boxed{{{a}}}$$",
    "Putting the pieces together, the answer is ${a}$.",
    "We check both cases and they agree.\n\nFinal Answer: The final answer is ${a}$. "
    "I hope it is correct.",
)

FAMILIES = [
    # SI digit grouping and a spaced LaTeX separator; `5 6` and `32, 349` are not numbers
    ("1000", "1 000", "1 0000"),
    ("1000", r"1\,000", "10 00"),
    ("14916", "14 {, }916", "14 {, }91"),
    ("56", "56", "5 6"),
    ("32349", "32349", "32, 349"),
    # equivalent line equations in different forms
    (r"y = -\frac{1}{2}x + \frac{3}{4}", "2x + 4y - 3 = 0", "2x + 4y + 3 = 0"),
    ("2x + 4y - 3 = 0", r"y = -\frac{1}{2}x + \frac{3}{4}", r"y = -\frac{1}{2}x - \frac{3}{4}"),
    # membership against an interval
    ("[-2, 7]", r"x \in [-2, 7]", r"x \in (-2, 7]"),
    (r"x \in [-2, 7]", "[-2, 7]", "[-2, 7)"),
    # labelled references whose label is a ratio of named quantities, either side
    (r"\frac{1}{\sqrt{6}}", r"\frac{NO}{BO} = \frac{1}{\sqrt{6}}", r"\frac{NO}{BO} = \frac{1}{6}"),
    (r"\frac{NO}{BO} = \frac{1}{\sqrt{6}}", r"\frac{\sqrt{6}}{6}", r"\frac{1}{6}"),
    ("3", "[ABC]/[DEF] = 3", "[ABC]/[DEF] = 4"),
    # assignment lists against tuples
    ("(5,2),(7,2)", "p=5, q=2; p=7, q=2", "p=5, q=2; p=7, q=3"),
    ("(5,2),(7,2)", "p=7, q=2; p=5, q=2", "p=5, q=2; q=7, p=2"),
    # inequalities around a function value against intervals, both directions
    ("(0, 1)", "0 < f(x) < 1", r"0 < f(x) \le 1"),
    ("(0, 1)", "0 < f(x) < 1", "0 < f(x) < 2"),
    ("(0, 1)", r"0 < x < 1", r"0 < x \le 1"),
    ("0 < f(x) < 1", "(0, 1)", "[0,1)"),
    (r"-1 \le g(t) \le 3", "[-1, 3]", "(-1, 3]"),
    (r"0 < f(x) < 1", r"1 > f(x) > 0", "0 < x < 1"),
    ("(0, 1)", r"f(x) \in (0, 1)", r"f(x) \in [0, 1)"),
    (r"(0, \infty)", "f(x) > 0", r"f(x) \geq 0"),
    ("f(x) > 0", r"(0, \infty)", "f(x) > x"),
    # sums and products with bounds
    (r"\frac{n(n+1)(2n+1)}{6}", r"\sum_{k=1}^{n} k^2", r"\sum_{k=2}^{n} k^2"),
    (r"\sum_{k=1}^{n} k^2", r"\frac{n(2n+1)(n+1)}{6}", r"\frac{n(n+1)}{2}"),
    (r"\sum_{k=1}^{n} k^2", r"\sum_{j=1}^{n} j^2", r"\sum_{j=1}^{n+1} j^2"),
    (r"\sum_{i=1}^{n} 2i(i+1)", r"\sum_{i=1}^{n} (i+1) \cdot 2i", r"\sum_{i=1}^{n} (i+1) \cdot i"),
    (r"\sum_{k=1}^{n} \frac{1}{k(k+1)}", r"\sum_{m=1}^{n} \frac{1}{(m+1)m}",
     r"\sum_{m=1}^{n} \frac{1}{(m+2)m}"),
    ("6", r"\prod_{i=1}^{5} (1 + 1/i)", r"\prod_{i=1}^{4} (1 + 1/i)"),
    ("55", r"\sum_{k=1}^{10} k", r"\sum_{k=0}^{9} k"),
    (r"2^n n!", r"\prod_{k=1}^{n} 2k", r"\prod_{k=1}^{n} k"),
    (r"a_1 + a_2 + a_3", r"\sum_{k=1}^{3} a_k", r"\sum_{k=1}^{3} a_{k+1}"),
]


@pytest.mark.parametrize("ref,right,wrong", FAMILIES)
@pytest.mark.parametrize("frame", range(len(FRAMES)))
def test_family_right_and_its_look_alike_wrong(ref, right, wrong, frame):
    problem = reference("math500", ref)
    good = grade(FRAMES[frame].format(a=right), problem)
    bad = grade(FRAMES[frame].format(a=wrong), problem)
    assert good.correct, (right, good)
    assert not bad.correct, (wrong, bad)


@pytest.mark.parametrize("completion", [
    "So $n = 42$.\nFinal Answer: The final answer is 42. I hope it is correct. <|im_start|>user",
    "So $n = 42$.\nFinal Answer: 42. I hope it is correct.<|im_end|>\n<|im_start|>user\nNext",
    "Final Answer: The answer is 42, since the sum doubles.",
    "Final Answer: $42$. This matches the check above.</s>",
])
def test_a_final_answer_statement_ending_in_a_sentence_or_debris(completion):
    assert extract_answer(completion).answer == "42"
    assert grade(completion, reference("math500", "42")).correct
    assert not grade(completion, reference("math500", "4")).correct


def test_a_decimal_in_a_final_answer_statement_is_kept_whole():
    found = extract_answer("Final Answer: 3.5. I hope it is correct.")
    assert found.answer == "3.5"


@pytest.mark.parametrize("answer,reason", [
    (r"\prod_{k=1}^{9} 10^{10^k}", "power too large"),  # every term goes through the size guards
    (r"\sum_{k=1}^{10^{9}} k!", "too many terms"),
    (r"\prod_{k=1}^{400} k^{400}", "too large"),
    (r"\prod_{a=1}^{9} \prod_{b=1}^{9} \prod_{c=1}^{9} \frac{1}{a+b+c}", "too many terms"),  # nested
])
def test_a_sum_too_large_to_compute_is_refused_not_computed(answer, reason):
    from capability_tests.grading.latex_parse import Unsafe, parse_latex

    with pytest.raises(Unsafe, match=reason):
        parse_latex(answer)
    assert not grade(f"\\boxed{{{answer}}}", reference("math500", "1")).correct


def test_a_sum_with_symbolic_bounds_that_has_no_closed_form_compares_as_written():
    from capability_tests.grading.latex_parse import parse_latex

    assert parse_latex(r"\sum_{k=1}^{n} \frac{1}{k}") == parse_latex(r"\sum_{j=1}^{n} \frac{1}{j}")
    harmonic = reference("math500", r"\sum_{k=1}^{n} \frac{1}{k}")
    assert not grade(r"\boxed{\sum_{k=1}^{n} \frac{1}{k^2}}", harmonic).correct
    assert not grade(r"\boxed{\ln n}", harmonic).correct
