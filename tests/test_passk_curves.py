"""The all-k pass@k estimator against exact rational arithmetic."""

from fractions import Fraction
from math import comb

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from capability_tests.passk import (
    mean_pass_at_k_curve,
    pass_at_k,
    pass_at_k_curve,
    pass_at_k_matrix,
)


def exact(n: int, c: int, k: int) -> Fraction:
    return 1 - Fraction(comb(n - c, k), comb(n, k))


def test_curve_matches_exact_rationals_for_small_n():
    for n in range(1, 17):
        for c in range(n + 1):
            curve = pass_at_k_curve(n, c)
            assert curve.shape == (n,)
            for k in range(1, n + 1):
                assert curve[k - 1] == pytest.approx(float(exact(n, c, k)), abs=1e-13)
                assert pass_at_k(n, c, k) == pytest.approx(float(exact(n, c, k)), abs=1e-13)


@pytest.mark.parametrize("n,c", [(4096, 1), (4096, 7), (4096, 2048), (4096, 4095), (1000, 3)])
def test_curve_is_accurate_for_large_n(n, c):
    curve = pass_at_k_curve(n, c)
    for k in (1, 2, 3, 64, 500, 1000, n // 2, n - c, n - c + 1, n):
        if k > n:
            continue
        truth = exact(n, c, k)
        assert abs(curve[k - 1] - float(truth)) <= 1e-12 + 1e-9 * float(truth)
    assert np.all(np.diff(curve) >= -1e-15), "pass@k is non-decreasing in k"
    assert curve[-1] == 1.0


def test_no_correct_is_zero_everywhere_and_all_correct_is_one():
    assert np.all(pass_at_k_curve(4096, 0) == 0.0)
    assert np.all(pass_at_k_curve(4096, 4096) == 1.0)


@settings(max_examples=200, deadline=None)
@given(st.integers(1, 300).flatmap(lambda n: st.tuples(st.just(n), st.integers(0, n), st.integers(1, n))))
def test_curve_agrees_with_scalar_estimator(case):
    n, c, k = case
    assert pass_at_k_curve(n, c)[k - 1] == pytest.approx(pass_at_k(n, c, k), rel=1e-10, abs=1e-12)
    assert pass_at_k_curve(n, c, k)[-1] == pytest.approx(float(exact(n, c, k)), rel=1e-10, abs=1e-12)


def test_benchmark_curve_is_the_mean_of_exact_values():
    counts = [(16, 0), (16, 3), (16, 16), (32, 5)]  # mixed n: the curve stops at the smallest
    curve = mean_pass_at_k_curve(counts)
    assert curve.shape == (16,)
    for k in range(1, 17):
        truth = sum(exact(n, c, k) for n, c in counts) / len(counts)
        assert curve[k - 1] == pytest.approx(float(truth), abs=1e-13)
    assert pass_at_k_matrix(counts).shape == (4, 16)


def test_bad_arguments():
    with pytest.raises(ValueError):
        pass_at_k_curve(4, 5)
    with pytest.raises(ValueError):
        pass_at_k_curve(4, 1, 5)
    with pytest.raises(ValueError):
        mean_pass_at_k_curve([])
