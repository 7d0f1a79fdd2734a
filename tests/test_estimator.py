"""The unbiased pass@k estimator (Chen et al. 2021)."""

from fractions import Fraction
from math import comb

import pytest
from hypothesis import given
from hypothesis import strategies as st

from capability_tests.passk import mean_pass_at_k_curve, pass_at_k, report_ks


@st.composite
def n_c_k(draw, max_n=4096):
    n = draw(st.integers(1, max_n))
    c = draw(st.integers(0, n))
    k = draw(st.integers(1, n))
    return n, c, k


@given(n_c_k())
def test_within_unit_interval(nck):
    assert 0.0 <= pass_at_k(*nck) <= 1.0


@given(n_c_k())
def test_non_decreasing_in_k(nck):
    n, c, k = nck
    if k < n:
        assert pass_at_k(n, c, k + 1) >= pass_at_k(n, c, k) - 1e-12


@given(n_c_k())
def test_equals_fraction_correct_at_k1(nck):
    n, c, _ = nck
    assert pass_at_k(n, c, 1) == pytest.approx(c / n, abs=1e-12)


@given(n_c_k())
def test_certain_when_fewer_wrong_than_k(nck):
    n, c, k = nck
    if n - c < k:
        assert pass_at_k(n, c, k) == 1.0


@given(n_c_k(max_n=60))
def test_matches_exact_binomial_form(nck):
    n, c, k = nck
    exact = 1 - Fraction(comb(n - c, k), comb(n, k))
    assert pass_at_k(n, c, k) == pytest.approx(float(exact), abs=1e-12)


def test_zero_correct_is_zero():
    assert pass_at_k(1024, 0, 1024) == 0.0


def test_rejects_impossible_counts():
    with pytest.raises(ValueError, match="c <= n"):
        pass_at_k(4, 5, 1)
    with pytest.raises(ValueError, match="k <= n"):
        pass_at_k(4, 1, 5)


def test_report_ks_are_powers_of_two_and_n():
    assert report_ks(1) == [1]
    assert report_ks(4) == [1, 2, 4]
    assert report_ks(12) == [1, 2, 4, 8, 12]


def test_benchmark_curve_averages_problems():
    counts = [(4, 0), (4, 4), (4, 1)]
    curve = mean_pass_at_k_curve(counts)
    assert curve[0] == pytest.approx((0 + 1 + 0.25) / 3)
    assert curve[3] == pytest.approx(2 / 3)
    assert curve[1] == pytest.approx(sum(pass_at_k(n, c, 2) for n, c in counts) / 3)
