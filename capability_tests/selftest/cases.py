"""Known-answer cases: completions whose verdict is known, per verifier.

A case is a completion, the problem it answers and the outcome its verifier must give (an
`Outcome`, or its string value). The math table writes right and wrong answers in the frames the
study's templates produce (`\\boxed{}`, "The answer is", Minerva's "Final Answer: The final
answer is ... I hope it is correct.", GSM8K's `####`), once per math benchmark of the run (GSM8K
extracts differently); the code tables are in `code_cases.py`.

Where the cases come from, first match wins: the verifier module's own `SELFTEST_CASES` (a
sequence of `KnownAnswer`, or a callable taking the run's problems and returning one: how a
third-party verifier ships its cases), else the table registered here under the verifier's name
(`BUILTIN_TABLES`). A verifier with neither is reported as having no cases (a warning, not a
failure: nothing is known about it).
"""

from __future__ import annotations

import hashlib
import importlib
import json
from dataclasses import dataclass
from typing import Callable, Iterable, Sequence

from capability_tests.grading.verdict import Outcome
from capability_tests.problems import Problem

MATH_BENCHMARK = "math500"  # the frames' benchmark when the run has no math problem (the CLI)


@dataclass(frozen=True)
class KnownAnswer:
    """One known-answer case. `backends`: the sandbox backends it applies to (None: all; a case
    that checks a containment one backend does not promise, docs/SANDBOX.md, is skipped there).
    `escape_path`: a host path the case's program tries to create; it must not exist afterwards."""

    verifier: str
    name: str
    kind: str
    problem: Problem
    completion: str
    expect: Outcome
    why: str = ""
    backends: tuple[str, ...] | None = None
    escape_path: str | None = None

    def __post_init__(self) -> None:
        # a third-party table may write the outcome as its string; a misspelt one would never match
        try:
            object.__setattr__(self, "expect", Outcome(self.expect))
        except ValueError:
            raise ValueError(f"known-answer case {self.name!r} of verifier {self.verifier!r}: "
                             f"expected outcome {self.expect!r} is not one of "
                             f"{', '.join(o.value for o in Outcome)}") from None

    @property
    def label(self) -> str:
        """How messages and tables name the case: `name [benchmark]` (math), `name [kind]`."""
        return f"{self.name} [{self.problem.benchmark if self.kind == 'math' else self.kind}]"

    def fingerprint(self) -> str:
        """What decides the case's verdict, as text (for the cache key)."""
        p = self.problem
        return json.dumps([self.verifier, self.name, self.kind, self.completion, self.expect,
                           self.backends, self.escape_path, p.benchmark, p.problem_id, p.question,
                           p.answer, p.verifier, dict(p.meta)], sort_keys=True, default=str)


# (name, completion, reference, expected outcome, what it guards against)
_MATH = (
    ("boxed-right", "Half of the unit square is shaded, so the area is $\\boxed{0.5}$.",
     "\\frac{1}{2}", Outcome.CORRECT, "a right boxed answer in another form"),
    ("boxed-wrong", "So the area is $\\boxed{\\frac{1}{3}}$.", "\\frac{1}{2}", Outcome.WRONG,
     "a wrong boxed answer"),
    ("answer-is-right", "Adding the two parts gives 42. The answer is 42.", "42", Outcome.CORRECT,
     "the 'The answer is' frame"),
    ("answer-is-wrong", "Adding the two parts gives 41. The answer is 41.", "42", Outcome.WRONG,
     "a wrong answer in the 'The answer is' frame"),
    ("final-answer-right",
     "The diagonal is $\\sqrt{8}$.\nFinal Answer: The final answer is $2\\sqrt{2}$. "
     "I hope it is correct.", "\\sqrt{8}", Outcome.CORRECT, "Minerva's 'Final Answer:' frame, simplified"),
    ("final-answer-wrong",
     "Final Answer: The final answer is $3\\sqrt{2}$. I hope it is correct.", "\\sqrt{8}",
     Outcome.WRONG, "a wrong answer in the 'Final Answer:' frame"),
    ("expression-right", "Expanding, we get $\\boxed{x^2 + 2x + 1}$.", "(x+1)^2", Outcome.CORRECT,
     "symbolic equivalence"),
    ("hashes-right", "She has 18 eggs left.\n#### 18", "18", Outcome.CORRECT, "GSM8K's #### frame"),
    ("no-answer", "I am not sure how to solve this problem.", "7", Outcome.NO_ANSWER,
     "a completion with no final answer is not an answer"),
)


def math_cases(problems: Sequence[Problem]) -> list[KnownAnswer]:
    """The math table, once per math benchmark of `problems` (the default one when none)."""
    benchmarks = sorted({p.benchmark for p in problems if p.verifier == "math"}) or [MATH_BENCHMARK]
    out = []
    for benchmark in benchmarks:
        for name, completion, reference, expect, why in _MATH:
            problem = Problem(benchmark, f"selftest-{name}", "(a known-answer case)", reference,
                              "capability_tests.selftest.cases", verifier="math")
            out.append(KnownAnswer("math", name, "math", problem, completion, expect, why))
    return out


def _code_cases(problems: Sequence[Problem]) -> list[KnownAnswer]:
    from capability_tests.selftest.code_cases import code_cases

    return code_cases(problems)


# verifier name -> the function building its cases for the run's problems
BUILTIN_TABLES: dict[str, Callable[[Sequence[Problem]], list[KnownAnswer]]] = {
    "math": math_cases,
    "code": _code_cases,
}


def cases_for(verifier: str, problems: Sequence[Problem]) -> list[KnownAnswer]:
    """The known-answer cases of `verifier` for a run of `problems` (see the module docstring)."""
    from capability_tests.grading.verifiers import get_verifier

    module = importlib.import_module(get_verifier(verifier).module)
    own = getattr(module, "SELFTEST_CASES", None)
    if own is not None:
        cases = list(own(problems) if callable(own) else own)
    elif verifier in BUILTIN_TABLES:
        cases = BUILTIN_TABLES[verifier](problems)
    else:
        return []
    for case in cases:
        if not isinstance(case, KnownAnswer):
            raise TypeError(f"verifier {verifier!r}: SELFTEST_CASES holds {type(case).__name__}, "
                            "not capability_tests.selftest.KnownAnswer")
    return cases


def verifiers_of(problems: Iterable[Problem]) -> list[str]:
    """The verifiers the readable problems of a run use."""
    return sorted({p.verifier for p in problems if p.error is None})


def digest(cases: Sequence[KnownAnswer]) -> str:
    h = hashlib.sha256()
    for case in cases:
        h.update(case.fingerprint().encode())
        h.update(b"\0")
    return h.hexdigest()[:16]
