"""Hand-written hard cases per benchmark: extraction, normalisation, equivalence."""

from __future__ import annotations

import pytest

from capability_tests.grading import Verdict, grade
from capability_tests.grading.extract import extract_answer
from fixtures.grading_problems import policy_of, reference

P = reference


@pytest.mark.parametrize(
    "text,benchmark,expected",
    [
        (r"so $\boxed{\frac{1}{2}}$.", "math500", r"\frac{1}{2}"),
        (r"\boxed{1} then \boxed{\{a, \{b\}\}}", "math500", r"\{a, \{b\}\}"),
        (r"\fbox{42}", "aime24", "42"),
        ("Reasoning...\nAnswer: 17", "aime24", "17"),
        ("work\n#### 1,234", "gsm8k", "1,234"),
        ("The answer is 0.75.", "math500", "0.75"),
        ("Thus the final answer is $\\frac{3}{4}$. I hope it is correct.", "math500", r"\frac{3}{4}"),
        ("The answer is 12\nmore text", "gsm8k", "12"),
        (r"\boxed 5", "amc23", "5"),
        ("Final Answer: The final answer is $2.5e3$. I hope it is correct.", "minerva_math", "2.5e3"),
        ("**Answer:** $\\frac{1}{2}$", "math500", r"\frac{1}{2}"),
        ("The answer is: 7\n", "gsm8k", "7"),
    ],
)
def test_extraction(text, benchmark, expected):
    assert extract_answer(text, policy_of(benchmark).extraction).answer == expected


@pytest.mark.parametrize("text", ["", "I think we need to compute the sum of", r"so \boxed{\frac{1}{2"])
def test_truncated_or_missing_answer_is_wrong_with_reason(text):
    v = grade(text, P("math500", "1"))
    assert v.correct is False and v.extracted is None
    assert "truncated" in v.reason or "no final answer" in v.reason or "empty" in v.reason


CORRECT = [
    # aime / amc / gsm8k: exact integers
    ("aime24", "023", r"\boxed{23}"),
    ("aime24", "110", r"\boxed{110.0}"),
    ("amc23", "27", "Answer: 27"),
    ("gsm8k", "1248", "#### 1,248"),
    ("gsm8k", "18", r"She makes \$18 a day. \boxed{\$18}"),
    ("gsm8k", "19", "So your final answer is: 12 + 7 = 19."),  # arithmetic stated before the result
    ("gsm8k", "24", r"\boxed{2 \times 12 = 24}"),
    # math500
    ("math500", r"\frac{1}{2}", r"\boxed{0.5}"),
    ("math500", r"\frac{1}{2}", r"\boxed{\dfrac12}"),
    ("math500", r"\frac{1}{2}", r"\boxed{1/2}"),
    ("math500", r"\left( 3, \frac{\pi}{2} \right)", r"\boxed{(3,\tfrac{\pi}{2})}"),
    ("math500", r"10,\!080", r"\boxed{10080}"),
    ("math500", "58,500", r"\boxed{58500}"),
    ("math500", r"120^\circ", r"\boxed{120}"),
    ("math500", r"120^\circ", r"\boxed{120^{\circ}}"),
    ("math500", "x=5", r"\boxed{5}"),
    ("math500", "5", r"\boxed{x = 5}"),
    ("math500", r"\text{(E)}", r"\boxed{E}"),
    ("math500", r"\text{Evelyn}", r"\boxed{\text{evelyn}}"),
    ("math500", r"864 \mbox{ inches}^2", r"\boxed{864}"),
    ("math500", r"5.4 \text{ cents}", r"\boxed{5.4}"),
    ("math500", r"\$18.90", r"\boxed{18.90}"),
    ("math500", r"1\frac{4}{5}", r"\boxed{\frac{9}{5}}"),
    ("math500", r"3 \pm 2 \sqrt{2}", r"\boxed{3-2\sqrt2, 3+2\sqrt{2}}"),
    ("math500", "1,-2", r"\boxed{-2, 1}"),
    ("math500", r"\{1\pm\sqrt{5},-2\}", r"\boxed{-2, 1-\sqrt5, 1+\sqrt5}"),
    ("math500", r"(-\infty, 0]", r"\boxed{\left(-\infty,0\right]}"),
    ("math500", r"(0,9) \cup (9,36)", r"\boxed{(9,36)\cup(0,9)}"),
    ("math500", r"x \in [-2,7]", r"\boxed{[-2,7]}"),
    ("math500", r"\begin{pmatrix} -1/3 \\ 2/3 \\ 5/3 \end{pmatrix}",
     r"\boxed{\begin{pmatrix} -\frac13 \\ \frac23 \\ \frac53 \end{pmatrix}}"),
    ("math500", r"\frac{\sqrt{3}}{3}", r"\boxed{\frac{1}{\sqrt{3}}}"),
    ("math500", r"x^5 - x^4 + x^3 - x^2 + x - 1", r"\boxed{(x-1)(x^4+x^2+1)}"),
    ("math500", "6 - 5i", r"\boxed{-5i+6}"),
    ("math500", "y = 2x + 3", r"\boxed{y=3+2x}"),
    ("math500", r"5x - 7y + 11z + 4 = 0", r"\boxed{-10x+14y-22z-8=0}"),
    ("math500", "52_8", r"\boxed{52_{8}}"),
    ("math500", r"\frac{20000}{\pi}", r"\boxed{20000/\pi}"),
    # minerva: measured quantities, tolerance from the written precision
    ("minerva_math", "4.5e33", r"\boxed{4.52 \times 10^{33}}"),
    ("minerva_math", "0.49", r"\boxed{0.4932}"),
    ("minerva_math", "3e8", r"\boxed{2.998e8}"),
    ("minerva_math", r"\frac{e^{-2 t}}{15}", r"\boxed{\frac{1}{15} e^{-2t}}"),
    ("minerva_math", r"2 \pi / \omega", r"\boxed{\frac{2\pi}{\omega}}"),
    # olympiadbench: units, lists, tuples, intervals
    ("olympiadbench", "45", r"\boxed{45 \text{ minutes}}"),
    ("olympiadbench", r"\frac{9}{32} \sqrt{2}", r"\boxed{\frac{9\sqrt2}{32}}"),
    ("olympiadbench", "62.5%", r"\boxed{62.5\%}"),
    ("olympiadbench", "62.5%", r"\boxed{62.5}"),
    ("olympiadbench", r"[\frac{1}{2}, 8]", r"\boxed{\left[\frac12,8\right]}"),
    ("olympiadbench", r"\binom{2n}{n}", r"\boxed{\frac{(2n)!}{(n!)^2}}"),
    ("olympiadbench", r"m n-\lfloor m / 2\rfloor", r"\boxed{mn - \left\lfloor \frac{m}{2} \right\rfloor}"),
]


@pytest.mark.parametrize("benchmark,reference,completion", CORRECT)
def test_correct_answers(benchmark, reference, completion):
    v = grade(completion, P(benchmark, reference))
    assert isinstance(v, Verdict)
    assert v.correct, v


WRONG = [
    ("aime24", "023", r"\boxed{24}"),
    ("gsm8k", "1248", "#### 1249"),
    ("gsm8k", "19", "So your final answer is: 12 + 7 = 20."),
    ("math500", "19", r"\boxed{x + 7 = 19}"),  # letters on the left: an equation, not a result
    ("amc23", "27", r"\boxed{27.5}"),
    ("math500", r"\frac{1}{3}", r"\boxed{0.333}"),
    ("math500", r"\frac{1}{3}", r"\boxed{0.3333333333}"),
    ("math500", r"\sqrt{2}", r"\boxed{1.414}"),
    ("math500", r"(3,4]", r"\boxed{(3,4)}"),
    ("math500", r"(3,4]", r"\boxed{[3,4]}"),
    ("math500", r"(2,4)", r"\boxed{(4,2)}"),
    ("math500", "1,-2", r"\boxed{1}"),
    ("math500", "1,-2", r"\boxed{1,-2,3}"),
    ("math500", r"3 \pm 2 \sqrt{2}", r"\boxed{3+2\sqrt2}"),
    ("math500", "x^2+1", r"\boxed{x^2+2}"),
    ("math500", r"\text{(C)}", r"\boxed{D}"),
    ("math500", "52_8", r"\boxed{52}"),
    ("math500", r"120^\circ", r"\boxed{\frac{2\pi}{3}}"),
    ("math500", r"\begin{pmatrix} 1 \\ 2 \end{pmatrix}", r"\boxed{\begin{pmatrix} 2 \\ 1 \end{pmatrix}}"),
    ("minerva_math", "4.5e33", r"\boxed{4.6e33}"),
    ("minerva_math", "41.9", r"\boxed{41.8}"),
    ("minerva_math", "1e11", r"\boxed{1.1e11}"),
    ("olympiadbench", "(1,1), (3,2)", r"\boxed{(1,1)}"),
    ("olympiadbench", r"\frac{9}{32}", r"\boxed{0.28}"),
    ("olympiadbench", "0", r"\boxed{10^{10^{10^{10}}}}"),
]


@pytest.mark.parametrize("benchmark,reference,completion", WRONG)
def test_wrong_answers(benchmark, reference, completion):
    v = grade(completion, P(benchmark, reference))
    assert not v.correct, v


def test_olympiad_multiple_answers_unordered():
    p = P("olympiadbench", "(1,1), (3,2)", final_answer=["(1,1), (3,2)"], is_multiple_answer=True,
          answer_type="Tuple")
    assert grade(r"\boxed{(3,2), (1,1)}", p).correct
    assert grade(r"\boxed{(3,2)\text{ and }(1,1)}", p).correct
    p2 = P("olympiadbench", "69$,$84", final_answer=["69$,$84"], is_multiple_answer=True)
    assert grade(r"\boxed{84, 69}", p2).correct
    assert not grade(r"\boxed{84}", p2).correct


def test_olympiad_unit_meta():
    p = P("olympiadbench", r"\frac{600}{7}", unit="km/h")
    assert grade(r"\boxed{\frac{600}{7} \text{ km/h}}", p).correct
    assert grade(r"\boxed{\frac{600}{7}\ \mathrm{km/h}}", p).correct
    p = P("olympiadbench", "4.2", unit="%")
    assert grade(r"\boxed{4.2\%}", p).correct
    assert grade(r"\boxed{4.2}", p).correct
