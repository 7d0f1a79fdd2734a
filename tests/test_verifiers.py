"""`Problem.verifier` selects the function that judges a completion, through the registry."""

from __future__ import annotations

import pytest

from capability_tests.grading import grade, verifiers
from capability_tests.grading.identity import grading_modules
from capability_tests.grading.verdict import Verdict
from capability_tests.problems import Problem


def always_right(completion, problem, timeout):
    return Verdict(True, completion.strip(), "accepted by the test verifier", 0.0)


def _problem(verifier: str) -> Problem:
    return Problem("demo", "p1", "1+1?", "2", "test:1", verifier=verifier)


def test_math_verifier_is_the_default():
    assert grade(r"so \boxed{2}", _problem("math")).correct
    assert not grade(r"so \boxed{3}", _problem("math")).correct


def test_the_problem_s_verifier_decides(monkeypatch):
    monkeypatch.setitem(verifiers.BUILTIN_VERIFIERS, "always", f"{__name__}:always_right")
    verifiers.get_verifier.cache_clear()
    try:
        verdict = grade("anything at all", _problem("always"))
        assert verdict.correct and verdict.reason == "accepted by the test verifier"
        # the same text under the math verifier has no answer
        assert grade("anything at all", _problem("math")).extracted is None
        # its module is part of the grader identity
        assert __name__ in grading_modules()
    finally:
        verifiers.get_verifier.cache_clear()


def test_unknown_verifier_names_the_known_ones():
    with pytest.raises(verifiers.UnknownVerifier, match=r"unknown verifier 'nope'.*math"):
        grade("x", _problem("nope"))


def test_a_benchmark_with_an_unregistered_verifier_is_a_load_error(monkeypatch):
    import dataclasses

    from capability_tests.benchmarks import BenchmarkError, get_benchmark, load_benchmark, registry

    odd = dataclasses.replace(get_benchmark("demo"), verifier="proof")
    monkeypatch.setitem(registry._registry(), "demo", odd)
    with pytest.raises(BenchmarkError, match=r"'demo' asks for the verifier 'proof'.*known: .*math"):
        load_benchmark("demo")
