r"""Group one problem's sampled answers into classes the grader would call equal, cheaply.

What maj@k, the distinct-answer counts and the rare-solve flags are computed from. The grader's
notion of equality, without running the grader again:

- every correct sample equals the reference, so all of them form one class;
- a wrong answer's class is its normalised key (`grading.normalise`, the grader's own first
  comparison), with plain numbers written canonically (`042`, `42.0` and `84/2` are one class, as
  are `\frac{1}{2}`, `\frac12`, `1/2` and `0.5`);
- samples with no answer found (and ungraded ones) form no class: they cast no vote.

Caveat: two wrong answers that the grader would prove equal only by parsing (`2\sqrt{2}` and
`\sqrt{8}`) stay separate classes. That splits a wrong class, which can only make wrong answers
look less unanimous than they are: maj@k can come out slightly high, never low, on such
problems. The grader's full equivalence would cost a bounded-time grading call per pair of
distinct wrong answers; this costs a few regular expressions per distinct answer.

Model output is untrusted: no parsing beyond regular expressions and integer arithmetic, and an
answer longer than MAX_NORMALISED characters is keyed by its whitespace-free text instead of being
normalised (bounded time).
"""

from __future__ import annotations

import re
from dataclasses import replace
from fractions import Fraction
from functools import lru_cache
from typing import Any, Iterable, Mapping, Sequence

from capability_tests.grading.verdict import Outcome
from capability_tests.majority import AnswerClasses
from capability_tests.results import ProblemResult

MAX_NORMALISED = 400
_NUMBER = re.compile(r"^[+-]?(?:\d{1,60}(?:\.\d{0,60})?|\.\d{1,60})$")
_FRACTION = re.compile(
    r"^(?P<sign>[+-]?)(?:\\frac\{(?P<a>[+-]?\d{1,60})\}\{(?P<b>\d{1,60})\}|\\frac(?P<c>\d)(?P<d>\d)"
    r"|(?P<e>[+-]?\d{1,60})/(?P<f>\d{1,60}))$"
)
# outcomes whose answer is a vote (records read from samples.jsonl hold the strings, which equal them)
VOTING = frozenset({Outcome.CORRECT, Outcome.WRONG, Outcome.TIMEOUT})


def _canonical_number(key: str) -> str | None:
    text = key.replace("{,}", "").replace(",", "") if re.fullmatch(r"[+-]?\d{1,3}(?:,\d{3})+", key) else key
    try:
        if _NUMBER.match(text):
            value = Fraction(text)
        else:
            m = _FRACTION.match(text)
            if not m:
                return None
            top, bottom = (m.group("a"), m.group("b")) if m.group("a") else \
                (m.group("c"), m.group("d")) if m.group("c") else (m.group("e"), m.group("f"))
            if int(bottom) == 0:
                return None
            value = Fraction(int(top), int(bottom)) * (-1 if m.group("sign") == "-" else 1)
    except (ValueError, ZeroDivisionError):
        return None
    return f"={value.numerator}/{value.denominator}"


@lru_cache(maxsize=65536)
def class_key(answer: str) -> str:
    """The class of a wrong answer: numbers by value, anything else by its normalised key."""
    if len(answer) > MAX_NORMALISED:
        return "raw:" + re.sub(r"\s+", "", answer)
    from capability_tests.grading.normalise import normalise

    key = normalise(answer).key
    return _canonical_number(key) or key


def classes_of(records: Iterable[Mapping[str, Any]]) -> AnswerClasses:
    """One problem's per-sample records (`samples.jsonl` lines) -> its answer classes."""
    correct = no_vote = 0
    wrong: dict[str, int] = {}
    right = Outcome.CORRECT  # looked up once, not per record
    for record in records:
        outcome = record.get("outcome")
        answer = record.get("extracted")
        if outcome == right:
            correct += 1
        elif outcome in VOTING and answer is not None:
            key = class_key(str(answer))
            wrong[key] = wrong.get(key, 0) + 1
        else:
            no_vote += 1
    return AnswerClasses(correct=correct, wrong=tuple(wrong.values()), no_answer=no_vote)


def with_answer_classes(results: Sequence[ProblemResult], spool) -> list[ProblemResult]:
    """Attach each sampled problem's wrong-answer class sizes from the session's per-sample
    records (`reporting.samples.SampleSpool`). A problem whose records do not add up to its
    result (another n or number correct) keeps none, so no maj@k is claimed from them."""
    if spool is None or not len(spool):
        return list(results)
    wanted = {(r.benchmark, r.problem_id) for r in results if r.error is None and r.n > 0}
    classes = spool.answer_classes(wanted)
    out = []
    for r in results:
        found = classes.get((r.benchmark, r.problem_id))
        if found is not None and found.n == r.n and found.correct == r.correct:
            r = replace(r, wrong_classes=found.wrong)
        out.append(r)
    return out
