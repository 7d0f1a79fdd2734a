"""First-version grader: extract the final answer, compare as normalised text or as a number."""

from __future__ import annotations

import re
import time
from fractions import Fraction

from capability_tests.grading.verdict import Verdict
from capability_tests.latex import last_boxed
from capability_tests.problems import Problem

_ANSWER_IS = re.compile(r"answer is[:\s]*\$?([^\n$]+?)\$?\s*(?:\.|\n|$)", re.I)
_GSM8K = re.compile(r"####\s*([^\n]+)")
_FRAC = re.compile(r"^\\[dt]?frac\{(-?\d+)\}\{(-?\d+)\}$")


def extract_answer(text: str) -> str | None:
    """The final answer a completion commits to, or None (a truncated or answer-less sample)."""
    boxed = last_boxed(text)
    if boxed is not None:
        return boxed.strip()
    hits = _GSM8K.findall(text)
    if hits:
        return hits[-1].strip()
    hits = _ANSWER_IS.findall(text)
    if hits:
        return hits[-1].strip()
    return None


def normalise(text: str) -> str:
    s = text.strip().strip("$").strip()
    s = re.sub(r"\\(left|right|!|,|;|:)", "", s)
    s = re.sub(r"\\text\{([^{}]*)\}", r"\1", s)
    s = s.replace("\\dfrac", "\\frac").replace("\\tfrac", "\\frac")
    s = re.sub(r"^[a-zA-Z]\s*=\s*", "", s)
    s = s.replace(" ", "").rstrip(".")
    return s


def as_number(text: str) -> Fraction | None:
    s = normalise(text).replace(",", "").replace("\\%", "").rstrip("%")
    match = _FRAC.match(s)
    try:
        if match:
            return Fraction(int(match.group(1)), int(match.group(2)))
        if re.fullmatch(r"-?\d+(\.\d+)?(/\d+)?", s) and len(s) < 64:
            return Fraction(s)
    except (ValueError, ZeroDivisionError):
        return None
    return None


def grade(completion: str, problem: Problem) -> Verdict:
    start = time.perf_counter()
    extracted = extract_answer(completion)
    if extracted is None:
        return Verdict(False, None, "no final answer", time.perf_counter() - start)
    if normalise(extracted) == normalise(problem.answer):
        return Verdict(True, extracted, "equal as text", time.perf_counter() - start)
    got, want = as_number(extracted), as_number(problem.answer)
    if got is not None and want is not None:
        same = got == want
        return Verdict(same, extracted, "equal as numbers" if same else "different numbers",
                       time.perf_counter() - start)
    return Verdict(False, extracted, "different", time.perf_counter() - start)
