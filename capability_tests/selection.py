"""The benchmarks a run loads when `--benchmarks` is not given: the default set (the study's six
math benchmarks and HumanEval), less those none of whose tests `-k` or `-m` can select.

So `pytest --k 8 -k humaneval` loads HumanEval alone (offline, from its package) instead of
failing on the math benchmarks' Hub downloads it would never run. A benchmark is left out only
when the expression is false for every one of its tests whatever the identifiers this module
cannot decide (problem ids, keywords, folder names) turn out to be. The one assumption: a
benchmark's name does not occur in another benchmark's test ids, unless one name contains the
other (`humaneval` selects `humaneval_plus` too, as pytest's substring match does).
"""

from __future__ import annotations

import itertools
import re
from typing import Callable, Iterable

from capability_tests.benchmarks.catalog import STUDY_BENCHMARKS

DEFAULT_CODE = ("humaneval",)  # the code benchmark every machine has offline
DEFAULT_BENCHMARKS = STUDY_BENCHMARKS + DEFAULT_CODE  # without --benchmarks (less what -k/-m cannot select)
MAX_UNDECIDED = 10  # identifiers tried both ways; beyond this nothing is left out

_IDENT = re.compile(r"(?::?\w|:|\+|-|\.|\[|\]|\\|/)+")
_OPERATORS = {"and", "or", "not", "True", "False", "None"}


def default_benchmarks(keyword: str | None, markexpr: str | None) -> tuple[str, ...]:
    return selectable(DEFAULT_BENCHMARKS, keyword, markexpr)


def selectable(names: Iterable[str], keyword: str | None, markexpr: str | None) -> tuple[str, ...]:
    """`names` less the benchmarks whose tests neither expression can select."""
    from capability_tests.benchmarks import get_benchmark

    names = tuple(names)
    families = {n: get_benchmark(n).family for n in names}
    return tuple(n for n in names
                 if _may_match(keyword, lambda ident, n=n: _keyword_value(ident, n, families))
                 and _may_match(markexpr, lambda mark, n=n: _marker_value(mark, n, families)))


def _keyword_value(ident: str, name: str, families: dict[str, str]) -> bool | None:
    """Does `-k IDENT` match every test of benchmark `name` (True), none (False), or depends
    on the test (None)?"""
    ident = ident.lower()
    if ident in name.lower() or ident in f"test_{families[name]}" or ident in "capability":
        return True
    if any(ident in other.lower() for other in families if other != name):
        return False
    return None


def _marker_value(mark: str, name: str, families: dict[str, str]) -> bool | None:
    if mark == name:
        return True
    if mark in families or mark == "e2e":
        return False
    if mark in ("capability", "xdist_group"):
        return True
    return None


def _may_match(expression: str | None, decide: Callable[[str], bool | None]) -> bool:
    if not expression or not expression.strip():
        return True
    try:
        from _pytest.mark.expression import Expression

        compiled = Expression.compile(expression)
    except Exception:  # pytest reports a bad expression itself; leave nothing out here
        return True
    idents = sorted({t for t in _IDENT.findall(expression) if t not in _OPERATORS})
    values = {t: decide(t) for t in idents}
    undecided = [t for t, v in values.items() if v is None]
    if len(undecided) > MAX_UNDECIDED:
        return True
    for guess in itertools.product((False, True), repeat=len(undecided)):
        assumed = {**values, **dict(zip(undecided, guess))}

        def matcher(ident: str, /, assumed=assumed, **kwargs) -> bool:  # marker arguments: not decided on
            return bool(assumed.get(ident, True))

        if compiled.evaluate(matcher):
            return True
    return False
