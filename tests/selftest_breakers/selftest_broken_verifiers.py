"""A verifier that says yes to everything (see sitecustomize.py beside it)."""

from capability_tests.grading.verdict import Verdict


def yes_to_everything(completion, problem, timeout=0.0):
    return Verdict(True, completion[-20:], "equal (a broken grader)", 0.0)
