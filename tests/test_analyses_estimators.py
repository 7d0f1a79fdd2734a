"""maj@k and pass^k against brute force over every k-subset, their properties, the uniform
guesser, the answer classes and the rare-solve rule (docs/ANALYSES.md)."""

import itertools
from fractions import Fraction
from math import comb

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from capability_tests import majority
from capability_tests.majority import AnswerClasses, majority_at_k_curve, majority_scores
from capability_tests.passk import pass_all_k_curve, pass_at_k_curve
from capability_tests.reporting.answer_classes import class_key, classes_of
from capability_tests.reporting.guessing import guessing_curve, is_rare_solve


def labels_of(classes: AnswerClasses) -> list[int]:
    return list(majority._labels(classes))


def brute_majority(classes: AnswerClasses) -> list[Fraction]:
    """maj@k for every k by enumerating all k-subsets: plurality class, ties shared at random."""
    labels = labels_of(classes)
    n = len(labels)
    out = []
    for k in range(1, n + 1):
        total = Fraction(0)
        for subset in itertools.combinations(range(n), k):
            out_score = prefix_score([labels[i] for i in subset])
            total += out_score
        out.append(total / comb(n, k))
    return out


def prefix_score(drawn: list[int]) -> Fraction:
    votes: dict[int, int] = {}
    for label in drawn:
        if label >= 0:
            votes[label] = votes.get(label, 0) + 1
    if not votes:
        return Fraction(0)
    top = max(votes.values())
    tied = [label for label, v in votes.items() if v == top]
    return Fraction(1, len(tied)) if 0 in tied else Fraction(0)


def brute_pass_all(n: int, c: int) -> list[Fraction]:
    return [Fraction(sum(all(i < c for i in s) for s in itertools.combinations(range(n), k)), comb(n, k))
            for k in range(1, n + 1)]


small_classes = st.builds(
    AnswerClasses,
    correct=st.integers(0, 4),
    wrong=st.lists(st.integers(1, 4), max_size=3).map(tuple),
    no_answer=st.integers(0, 2),
).filter(lambda c: 1 <= c.n <= 9)


@pytest.mark.parametrize("classes", [
    AnswerClasses(2, (3, 1, 1), 1),
    AnswerClasses(3, (3, 2), 2),
    AnswerClasses(1, (1, 1, 1), 0),
    AnswerClasses(4, (2, 2, 2, 1), 1),
    AnswerClasses(1, (), 5),
    AnswerClasses(5, (5,), 0),
])
def test_exact_majority_equals_brute_force(classes):
    exact = majority_at_k_curve(classes)
    assert majority.method_for(classes) == majority.EXACT
    for k, truth in enumerate(brute_majority(classes), start=1):
        assert exact[k - 1] == pytest.approx(float(truth), abs=1e-12), k


@settings(max_examples=60, deadline=None)
@given(small_classes)
def test_exact_majority_equals_brute_force_on_random_classes(classes):
    exact = majority_at_k_curve(classes)
    truth = brute_majority(classes)
    assert np.allclose(exact, [float(t) for t in truth], atol=1e-12)


@settings(max_examples=60, deadline=None)
@given(small_classes, st.randoms(use_true_random=False))
def test_resampling_scores_each_prefix_like_brute_force(classes, rnd):
    """One ordering scores every prefix exactly as the brute-force rule scores that subset."""
    labels = labels_of(classes)
    rnd.shuffle(labels)
    scores = majority_scores(np.array([labels], dtype=np.int32))[0]
    for k in range(1, len(labels) + 1):
        assert scores[k - 1] == pytest.approx(float(prefix_score(labels[:k])), abs=1e-12)


def test_resampled_estimate_is_close_to_exact_and_reproducible(monkeypatch):
    classes = AnswerClasses(6, (5, 3, 1, 1, 1), 2)
    exact = majority_at_k_curve(classes)
    monkeypatch.setattr(majority, "EXACT_MAX_N", 5)  # force the resampling path
    assert majority.method_for(classes) == majority.RESAMPLED
    first = majority_at_k_curve(classes)
    assert np.array_equal(first, majority_at_k_curve(classes)), "fixed seed: same numbers"
    # standard error <= 0.5 / sqrt(2000) ~ 0.011 per k: 5 standard errors
    assert np.max(np.abs(first - exact)) < 0.056


def test_large_n_uses_resampling_and_stays_in_bounds():
    classes = AnswerClasses(40, (900, 60) + (1,) * 50, 50)
    assert classes.n > majority.EXACT_MAX_N and majority.method_for(classes) == majority.RESAMPLED
    curve = majority_at_k_curve(classes, 64)
    assert curve.shape == (64,) and np.all((curve >= 0) & (curve <= 1))
    assert curve[0] == pytest.approx(40 / classes.n, abs=0.02)


@pytest.mark.parametrize("n", range(1, 9))
def test_pass_all_equals_brute_force(n):
    for c in range(n + 1):
        curve = pass_all_k_curve(n, c)
        assert np.allclose(curve, [float(t) for t in brute_pass_all(n, c)], atol=1e-13)


@settings(max_examples=150, deadline=None)
@given(st.builds(AnswerClasses, correct=st.integers(0, 30),
                 wrong=st.lists(st.integers(1, 30), max_size=6).map(tuple),
                 no_answer=st.integers(0, 20)).filter(lambda c: c.n >= 1))
def test_curve_properties(classes):
    n, c = classes.n, classes.correct
    maj = majority_at_k_curve(classes)
    pass_k = pass_at_k_curve(n, c)
    pass_all = pass_all_k_curve(n, c)
    assert np.all((maj >= 0) & (maj <= 1)) and np.all((pass_all >= 0) & (pass_all <= 1))
    tol = 1e-9
    assert np.all(pass_all <= pass_k + tol)
    assert np.all(pass_all <= maj + tol), "all k right makes the majority right"
    assert np.all(maj <= pass_k + tol), "a right majority needs a right sample"
    assert maj[0] == pytest.approx(c / n) and pass_all[0] == pytest.approx(c / n)
    assert pass_k[0] == pytest.approx(c / n)
    assert np.all(np.diff(pass_all) <= tol) and np.all(np.diff(pass_k) >= -tol)


@settings(max_examples=80, deadline=None)
@given(st.integers(1, 40), st.integers(1, 40), st.integers(0, 10))
def test_one_wrong_answer_majority_is_monotone_in_the_share_of_correct(c, w, z):
    """Against a single wrong answer, turning a wrong sample correct never lowers maj@k."""
    lower = majority_at_k_curve(AnswerClasses(c, (w + 1,), z))
    higher = majority_at_k_curve(AnswerClasses(c + 1, (w,), z))
    assert np.all(higher >= lower - 1e-9)


def test_uniform_guesser_on_aime():
    curve = guessing_curve(1000, 1024)
    assert curve[0] == pytest.approx(0.001)
    assert curve[-1] == pytest.approx(1 - (999 / 1000) ** 1024, rel=1e-12)
    assert 0.640 < curve[-1] < 0.642
    assert guessing_curve(3, 2)[-1] == pytest.approx(1 - (2 / 3) ** 2)
    assert np.all(guessing_curve(1, 4) == 1.0)


def test_answer_classes_follow_the_graders_normalisation():
    assert class_key("042") == class_key("42") == class_key("42.0") == class_key("$42$")
    assert class_key(r"\frac{1}{2}") == class_key(r"\frac12") == class_key("1/2") == class_key("0.5")
    assert class_key("x = 5") == class_key("5")
    assert class_key("43") != class_key("42")
    assert class_key("1,000") == class_key("1000")
    long = "9" * 5000
    assert class_key(long).startswith("raw:")  # bounded: not normalised
    records = [{"outcome": "correct", "extracted": "7"}, {"outcome": "wrong", "extracted": "042"},
               {"outcome": "wrong", "extracted": "42"}, {"outcome": "wrong", "extracted": "5"},
               {"outcome": "no_answer", "extracted": None}, {"outcome": "timeout", "extracted": "5.0"},
               {"outcome": "error", "extracted": None}]
    classes = classes_of(records)
    assert classes == AnswerClasses(1, (2, 2), 2)
    assert classes.distinct == 3 and classes.n == 7


def test_rare_solve_rule():
    assert is_rare_solve(AnswerClasses(1, (1,) * 20, 79))  # 1% of 100, 21 distinct answers
    assert not is_rare_solve(AnswerClasses(2, (1,) * 20, 78))  # 2% is not rare
    assert not is_rare_solve(AnswerClasses(1, (90, 2, 2, 2, 3), 0))  # few distinct answers
    assert not is_rare_solve(AnswerClasses(1, (1,) * 7, 0))  # n < 100: 1 correct is > 1%
    assert not is_rare_solve(AnswerClasses(0, (1,) * 50, 50))  # not solved at all
