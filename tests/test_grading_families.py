r"""The answer families other graders handle, in completions written the way models write them.

Each family: multi-part answers in several boxes, labelled answers (either side), final-answer
statements, `\approx`, relations and intervals, small gaps (braces, percent words, unit markup,
plain-text pi); and the false positives that must stay rejected.
"""

from __future__ import annotations

import pytest

from capability_tests.grading import grade
from capability_tests.grading.extract import extract_answer
from capability_tests.problems import Problem
from fixtures.grading_problems import reference

P = reference


QUADRATIC = (
    "We factor the quadratic: $x^2 - 2x - 15 = (x+3)(x-5) = 0$.\n\n"
    "Setting each factor to zero, the solutions are $x=\\boxed{-3}$ and $x=\\boxed{5}$."
)
TWO_BOXES_LINES = (
    "Case 1 gives $a = 2$. Case 2 gives $a = -6 - 4\\sqrt{2}$.\n\n"
    "**Solutions:**\n- $a = \\boxed{2}$\n- $a = \\boxed{-6-4\\sqrt{2}}$"
)
MINERVA = (
    "The sum of the roots is $\\boxed{7}$ by Vieta, and the product is $10$, so the value we want "
    "is $7^2 - 2 \\cdot 10 + 13 = 42$.\n\n"
    "Final Answer: The final answer is $42$. I hope it is correct."
)

FAMILIES = [
    # 1. several boxes in the final statement, reference a list
    ("multi-box", "math500", "-3, 5", QUADRATIC, True),
    ("multi-box", "math500", "5, -3", QUADRATIC, True),
    ("multi-box", "math500", "-3, 5, 7", QUADRATIC, False),
    ("multi-box", "olympiadbench-multi", "2, -6-4 \\sqrt{2}", TWO_BOXES_LINES, True),
    # ... but a single-answer reference is still graded on the last box
    ("multi-box", "math500", "5", QUADRATIC, True),
    ("multi-box", "math500", "-3", QUADRATIC, False),
    # ... and a tuple reference takes as many boxes as it has entries, in the order written
    ("multi-box", "math500", "(2, 7)",
     "From the first equation $a = 2$, then the second gives $b = 7$.\n\n"
     "So $a = \\boxed{2}$ and $b = \\boxed{7}$.", True),
    ("multi-box", "math500", "(2, 7)",
     "So $a = \\boxed{7}$ and $b = \\boxed{2}$.", False),
    # 2. labels on either side
    ("label", "math500", "(2, 7)", "Both equations hold for $\\boxed{a = 2, b = 7}$.", True),
    ("label", "math500", "(2, 7)", "Both equations hold for $\\boxed{a = 7, b = 2}$.", False),
    ("label", "math500", "(2, 7)",
     "Adding the equations gives $2a = 4$, so $a = 2$ and then $b = 7$. Hence "
     "$\\boxed{(a, b) = (2, 7)}$.", True),
    ("label", "math500", "\\left( 4, \\frac{\\pi}{3} \\right)",
     "We have $r = \\sqrt{2^2 + 12} = 4$ and $\\tan\\theta = \\sqrt3$, so\n"
     "$$\\boxed{(r,\\theta) = \\left(4, \\frac{\\pi}{3}\\right)}$$", True),
    ("label", "math500", "(r, \\theta) = \\left(4, \\frac{\\pi}{3}\\right)",
     "So the polar coordinates are $\\boxed{\\left(4, \\frac{\\pi}{3}\\right)}$.", True),
    ("label", "math500", "3:4", "The areas are in the ratio $\\boxed{A:B = 3:4}$.", True),
    ("label", "math500", "3:4", "The areas are in the ratio $\\boxed{A:B = 4:3}$.", False),
    ("label", "math500", "\\frac{\\pi}{3}", "Therefore $\\boxed{\\theta = \\frac{\\pi}{3}}$.", True),
    ("label", "olympiadbench", "7", "By the power of a point, $\\boxed{AB = 7}$.", True),
    # 3. final-answer statements
    ("statement", "math500", "42", MINERVA, True),
    ("statement", "math500", "7", MINERVA, False),
    ("statement", "math500", "17",
     "Checking $n = 1, \\dots, 16$ none works, and $17$ does.\n\n"
     "Final Answer: The smallest $n$ is 17.", True),
    ("statement", "aime24", "204",
     "Adding up the times gives 204 minutes. Thus, Answer: $204$", True),
    ("statement", "aime24", "204",
     "First we find $s = 2.5$, so the total is 204 minutes. Answer: 204", True),
    # 4. \approx
    ("approx", "math500", "\\frac{\\sqrt{2}}{2}",
     "So $\\sin 45^\\circ = \\boxed{\\frac{\\sqrt{2}}{2} \\approx 0.707}$.", True),
    ("approx", "math500", "8", "Estimating, $\\boxed{x \\approx 8}$.", True),
    ("approx", "math500", "8", "Estimating, $\\boxed{x \\approx 9}$.", False),
    # 5. relations and intervals
    ("relation", "math500", "x \\geq 2", "So the domain is $\\boxed{x >= 2}$.", True),
    ("relation", "math500", "[2, \\infty)", "So the domain is $\\boxed{x >= 2}$.", True),
    ("relation", "math500", "(2, \\infty)", "So the domain is $\\boxed{x >= 2}$.", False),
    ("relation", "math500", "x \\neq 3", "The only excluded value: $\\boxed{x != 3}$.", True),
    ("relation", "math500", "x \\le 4", "Thus $\\boxed{x <= 4}$.", True),
    ("relation", "math500", "(3, 9)", "Both conditions hold when $\\boxed{3 < x < 9}$.", True),
    ("relation", "math500", "[3, 9)", "Both conditions hold when $\\boxed{3 < x < 9}$.", False),
    ("relation", "math500", "x < 4", "Dividing by $-1$ we keep $\\boxed{-x > -4}$.", True),
    ("relation", "math500", "x > 4", "Dividing by $-1$ we keep $\\boxed{-x > -4}$.", False),
    ("relation", "math500", "(-\\infty, 2) \\cup (3, \\infty)",
     "The sign chart gives $\\boxed{x < 2 \\text{ or } x > 3}$.", True),
    ("relation", "math500", "(-\\infty, 2) \\cup (3, \\infty)",
     "The sign chart gives $\\boxed{x < 2 \\text{ or } x \\geq 3}$.", False),
    ("relation", "math500", "(3, \\infty)", "The solution set is $\\boxed{\\{x \\mid x > 3\\}}$.", True),
    ("relation", "math500", "x \\geq 2", "Rearranging, $\\boxed{2 \\le x}$.", True),
    # 6. smaller gaps
    ("gaps", "math500", "2\\sqrt{3}", "The distance is 2sqrt(3).\n\nAnswer: 2sqrt(3)", True),
    ("gaps", "math500", "-7, 7", "So $x = \\boxed{\\pm 7}$.", True),
    ("gaps", "math500", "10", "Multiplying the choices, there are 10 ways.\n\nAnswer: 10 ways", True),
    ("gaps", "math500", "12", "The area is $\\boxed{12 \\text{ square feet}}$.", True),
    ("gaps", "math500", "-7, 7", "Both signs work: $\\boxed{{-7, 7}}$.", True),
    ("gaps", "math500", "-7, 7", "Both signs work: $\\boxed{\\{-7, 7\\}}$.", True),
    ("gaps", "olympiadbench", "25", "The rate is $\\boxed{25 \\text{ pct}}$.", True),
    ("gaps", "olympiadbench", "25", "The increase is 25 percentage points.\n\nAnswer: 25 percentage",
     True),
    ("gaps", "math500", "\\frac{3}{4}", "The side is $\\boxed{\\frac{3}{4} \\textbf{cm}}$.", True),
    ("gaps", "math500", "\\frac{\\pi}{3}", "The angle is pi/3.\n\nAnswer: pi/3", True),
    ("gaps", "math500", "2\\pi", "One full turn: $\\boxed{2pi}$.", True),
    ("gaps", "math500", "2\\pi", "One full turn: $\\boxed{3pi}$.", False),
    ("gaps", "math500", "(3, 9)", "Both hold, so x ∈ (3, 9).\n\nAnswer: x ∈ (3, 9)", True),
    ("gaps", "math500", "2\\sqrt{23}", "The diagonal is 2√23.\n\nAnswer: 2√23", True),
    ("gaps", "math500", "2\\sqrt{23}", "The diagonal is 2√22.\n\nAnswer: 2√22", False),
    ("gaps", "math500", "-5", "Answer: −5", True),
]


@pytest.mark.parametrize("family,benchmark,reference,completion,expected", FAMILIES,
                         ids=[f"{f[0]}-{i}" for i, f in enumerate(FAMILIES)])
def test_answer_families(family, benchmark, reference, completion, expected):
    if benchmark == "olympiadbench-multi":
        problem = P("olympiadbench", reference, is_multiple_answer=True)
    else:
        problem = P(benchmark, reference)
    verdict = grade(completion, problem)
    assert verdict.correct is expected, verdict
    assert verdict.extracted is not None


FALSE_POSITIVES = [
    # a numeric left side is not a label
    ("math500", "9 = 4p + q", "Comparing coefficients, $\\boxed{4p + q}$."),
    ("math500", "6 = y", "Substituting back, $\\boxed{y}$."),
    # comma and space: a list, not thousands
    ("math500", "45120", "The two angles are $\\boxed{45, 120}$."),
    ("gsm8k", "45120", "She has 45 apples and 120 pears.\n#### 45, 120"),
    # spaces between digits are not dropped
    ("math500", "56", "The digits are $\\boxed{5 6}$."),
    ("math500", "30", "The digits are $\\boxed{5 6}$."),
]


@pytest.mark.parametrize("benchmark,reference,completion", FALSE_POSITIVES)
def test_false_positives_rejected(benchmark, reference, completion):
    verdict = grade(completion, P(benchmark, reference))
    assert verdict.correct is False, verdict


def test_labelled_references_still_accept_their_value():
    assert grade("So $\\boxed{y = 6}$.", P("math500", "6 = y")).correct
    assert grade("So $\\boxed{6}$.", P("math500", "6 = y")).correct
    assert grade("So $\\boxed{4p + q = 9}$.", P("math500", "9 = 4p + q")).correct
    assert grade("Thus $12 + 7 = 19$.\n#### 12 + 7 = 19", P("gsm8k", "19")).correct
    assert grade("Write it as $\\boxed{45,120}$.", P("math500", "45120")).correct
    assert grade("So $\\boxed{10,\\!080}$.", P("math500", "10080")).correct


def test_final_statement_after_the_box_wins_but_not_prose_before_it():
    assert extract_answer(MINERVA).answer == "42"
    assert extract_answer(MINERVA).how == "answer line"
    # the box after the statement is still the answer
    text = "Answer: first we note $x > 0$.\n\nSo $\\boxed{12}$."
    assert extract_answer(text).answer == "12"
    # boxes of different sentences are not joined
    text = "First $\\boxed{2}$ is a lower bound. Then we show more. So $\\boxed{3}$."
    found = extract_answer(text)
    assert found.answer == "3" and found.parts == ()
    assert extract_answer(QUADRATIC).parts == ("-3", "5")


@pytest.mark.parametrize("completion", [
    "", "   ", "Let me think about the sum of the first", r"so \boxed{\frac{1}{2",
    "Answer:", r"\boxed{}",
])
def test_no_answer_is_said(completion):
    verdict = grade(completion, P("math500", "1"))
    assert verdict.correct is False
    assert verdict.extracted is None
    assert verdict.reason.startswith("no answer"), verdict.reason


def test_an_extracted_answer_is_always_reported():
    broken = Problem(benchmark="math500", problem_id="t", question="", answer="", source="t",
                     error="bad row")
    verdict = grade(r"so \boxed{5}", broken)
    assert verdict.correct is False and verdict.extracted == "5"
    assert "no reference" in verdict.reason
    for text in (r"\boxed{7}", "Answer: 7", "The answer is 7.", "#### 7"):
        verdict = grade(text, P("math500", "8"))
        assert verdict.extracted == "7" and not verdict.reason.startswith("no answer")


@pytest.mark.parametrize("completion,expected", [
    ("Answer $ 9 $", "9"),
    ("Answer \\[ \n 9 \n \\]", "9"),
    ("Final Answer:\n\n$42$", "42"),
    ('Final Answer: The final answer is "$12$ and $13$". I hope it is correct.', "12$ and $13"),
    ("$x \\in [-2,7]$", "x \\in [-2,7]"),
    ("The Answer $x$ must be positive, as shown.", None),  # prose, not a label
])
def test_answer_labels_and_bare_math(completion, expected):
    assert extract_answer(completion).answer == expected


@pytest.mark.parametrize("completion,expected", [
    ("Final Answer: So the total is 12 dollars, which is less than 15.", "12 dollars"),
    ("Final Answer: The smallest n such that n is prime is 17.", "17"),
    ("Final Answer: It is $\\frac{1}{2}$ because of symmetry.", "\\frac{1}{2}"),
    ("So $\\boxed{5}$.\n\nAnswer: as computed above, the boxed value is the answer", "5"),
])
def test_the_value_a_statement_gives(completion, expected):
    assert extract_answer(completion).answer == expected
