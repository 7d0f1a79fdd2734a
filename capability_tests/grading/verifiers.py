"""The verifier registry: `Problem.verifier` names the function that judges its completions.

A verifier is `verify(completion: str, problem: Problem, timeout: float) -> Verdict`: pure (it
changes nothing outside its own temporary files), bounded by `timeout`, never evaluating model text
in the grading process. It runs inside a `GradingPool` worker's main thread, where SIGALRM limits
work; a verifier that runs model-written code starts its own sandboxed process.

Built-in verifiers are named here by dotted path and imported on first use, so importing the
registry imports none of them. Another package adds one through the entry point group
`capability_tests.verifiers` (the entry point names the callable). Each verifier also names the
modules that decide its verdicts, so the grader identity (`identity.py`) covers its source.
"""

from __future__ import annotations

import importlib
import os
from dataclasses import dataclass
from functools import cache, lru_cache
from importlib.metadata import entry_points
from typing import TYPE_CHECKING, Callable

if TYPE_CHECKING:  # pragma: no cover
    from capability_tests.grading.verdict import Verdict
    from capability_tests.problems import Problem

ENTRY_POINT_GROUP = "capability_tests.verifiers"

# name -> "module:function"; the module (and what it imports) is hashed into the grader identity
BUILTIN_VERIFIERS: dict[str, str] = {
    "math": "capability_tests.grading.grader:grade_math",
    "code": "capability_tests.code.verifier:verify_code",
}


class UnknownVerifier(KeyError):
    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0])


@dataclass(frozen=True)
class Verifier:
    name: str
    target: str  # "module:function"
    verify: Callable[..., Verdict]

    @property
    def module(self) -> str:
        return self.target.partition(":")[0]


@lru_cache(maxsize=1)
def _third_party() -> dict[str, str]:
    # scanning installed distributions takes a noticeable fraction of a second: once per process
    return {ep.name: ep.value for ep in entry_points(group=ENTRY_POINT_GROUP)}


def verifier_targets() -> dict[str, str]:
    """Every known verifier name and its "module:function", built-ins first."""
    return {**_third_party(), **BUILTIN_VERIFIERS}


def verifier_names() -> list[str]:
    return sorted(verifier_targets())


@cache
def get_verifier(name: str) -> Verifier:
    targets = verifier_targets()
    if name not in targets:
        raise UnknownVerifier(
            f"unknown verifier {name!r}: known verifiers are {', '.join(sorted(targets))} "
            f"(a package adds one through the entry point group {ENTRY_POINT_GROUP!r})")
    target = targets[name]
    module, _, attr = target.partition(":")
    fn = importlib.import_module(module)
    for part in attr.split("."):
        fn = getattr(fn, part)
    return Verifier(name, target, fn)


def warm() -> None:
    """Resolve every known verifier now (a grading worker does this before its first sample,
    so no sample's time limit pays for the entry-point scan or the imports)."""
    for name in verifier_targets():
        try:
            get_verifier(name)
        except Exception:  # a broken third-party verifier errors when a problem asks for it
            pass


def time_budget(problem: Problem, timeout: float) -> float:
    """The longest one verification of `problem` may take: `timeout` (what the math verifier
    honours), or more where the verifier's module says so through a function
    `time_budget(problem, timeout)` (the code verifier: a program's run under this machine's
    limit). A `GradingPool` waits this long, plus its slack, before it kills a worker."""
    budget = _verifier_hook(problem, "time_budget")
    return timeout if budget is None else max(timeout, float(budget(problem, timeout)))


def _verifier_hook(problem: Problem, name: str):
    """The function `name` of the module that holds `problem`'s verifier, or None (the optional
    hooks a verifier module may define: `time_budget`, `verdict_limits`)."""
    hook = getattr(importlib.import_module(get_verifier(problem.verifier).module), name, None)
    return hook if callable(hook) else None


def has_own_limits(problem: Problem) -> bool:
    """Whether `problem`'s verifier sets its own per-problem limits (a module function
    `verdict_limits`: the code verifier's CPU time scaled from the reference) instead of the
    pool's `timeout`. Its recheck of a timeout runs under the same limits, the ones its verdict
    key names, alone in an idle pool; a longer limit would be a verdict the key does not
    describe."""
    try:
        return _verifier_hook(problem, "verdict_limits") is not None
    except Exception:  # an unknown or broken verifier fails each sample, with its own message
        return False


def verdict_limits(problem: Problem) -> str | None:
    """The effective limits a verdict on `problem` is made under on this machine, where they
    depend on the problem (the code verifier: a limit scaled from the reference solution's time
    here), through the verifier module's `verdict_limits(problem)`; None where the verifier has
    no such function (math: its limits are the same for every problem and are in the grader
    identity). It goes into the verdict key (`store_keys.grading_digest`), so a verdict made
    under other limits is graded again rather than reused."""
    try:
        limits = _verifier_hook(problem, "verdict_limits")
    except Exception:  # an unknown or broken verifier fails each sample, with its own message
        return None
    if limits is None:
        return None
    try:
        return str(limits(problem))
    except Exception as exc:  # the limits are unknown: a key no later run matches (a nonce),
        # so a verdict made now is graded again by the next run rather than kept unchecked
        return f"unavailable: {type(exc).__name__} {os.urandom(8).hex()}"


def verify(completion: str, problem: Problem, timeout: float) -> Verdict:
    """Judge `completion` with the verifier `problem.verifier` names."""
    return get_verifier(problem.verifier).verify(completion, problem, timeout)
