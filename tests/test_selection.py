"""Without --benchmarks, -k and -m decide which benchmarks load: `-k humaneval` runs offline."""

import pytest

from capability_tests.benchmarks.catalog import STUDY_BENCHMARKS
from capability_tests.selection import default_benchmarks, selectable

ALL = STUDY_BENCHMARKS + ("humaneval",)


@pytest.mark.parametrize("keyword, markexpr, expected", [
    (None, None, ALL),
    ("humaneval", None, ("humaneval",)),
    ("HumanEval", None, ("humaneval",)),
    (None, "humaneval", ("humaneval",)),
    ("aime", None, ("aime24",)),
    ("math500 and level5", None, ("math500",)),
    ("not humaneval", None, STUDY_BENCHMARKS),
    (None, "not humaneval", STUDY_BENCHMARKS),
    ("humaneval and HumanEval/1", None, ("humaneval",)),
    ("aime or gsm8k", None, ("aime24", "gsm8k")),
])
def test_benchmarks_no_test_of_which_can_be_selected_are_left_out(keyword, markexpr, expected):
    assert default_benchmarks(keyword, markexpr) == expected


@pytest.mark.parametrize("keyword", ["HumanEval/0", "level5", "code", "not level5", "(((", ""])
def test_undecidable_or_bad_expressions_leave_nothing_out(keyword):
    """An identifier that may match some tests of every benchmark (a problem id, a keyword, a
    folder name) or an expression pytest will reject itself: everything loads."""
    assert default_benchmarks(keyword, None) == ALL


def test_a_name_inside_another_selects_both():
    assert selectable(("humaneval", "humaneval_plus", "gsm8k"), "humaneval", None) == (
        "humaneval", "humaneval_plus")
