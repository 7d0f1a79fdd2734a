"""Known-answer cases of the "code" verifier, for each test kind a run uses.

Kinds (`Problem.meta["mode"]`): "function" (HumanEval/EvalPlus: test code calls the entry
point), "calls" (LiveCodeBench functional cases: argument lists and expected values, a
`Solution` method) and "stdio" (input/output cases). Every kind gets the same task, adding two
integers, so every program below is obviously right or wrong:

- `reference`: a right program must pass (a sandbox that cannot run programs fails it);
- `wrong`: a wrong program must fail (a grader that passes everything fails it);
- `infinite-loop` (the first kind the run uses only: it costs the whole limit, which the
  launcher's wall clock enforces whatever the kind): must end as a timeout, under this
  machine's limit for the problem;
- `exit-at-import` / `exit-in-call`: `sys.exit(0)` before anything ran, `os._exit(0)` inside
  the call: an early exit with status 0 is never a pass (human-eval's issue #16 kind of bug);
- `always-equal` (function kind): an object whose `__eq__` says yes to everything must not
  satisfy an `assert`;
- `write-outside`: the program creates a file in a world-writable host folder outside its own
  (`/var/tmp`) and returns the right sum only if that worked: it must fail, and the file must
  not exist afterwards. Skipped under the `plain` backend, which does not contain writes
  (docs/SANDBOX.md).

Each problem carries its reference solution, so its time limit is measured the way a
benchmark's is (`code/timing.py`), and the infinite loop runs into that limit.
"""

from __future__ import annotations

import os
from typing import Sequence

from capability_tests.grading.verdict import Outcome
from capability_tests.problems import Problem
from capability_tests.selftest.cases import KnownAnswer

BENCHMARK = "selftest-code"
KINDS = ("function", "calls", "stdio")
NAMESPACE_BACKENDS = ("root-namespaces", "user-namespaces")
ESCAPE_ROOT = "/var/tmp"


def escape_dir() -> str:
    """The world-writable host folder the write-outside case aims at (per user id)."""
    return os.path.join(ESCAPE_ROOT, f"capability-tests-selftest-{os.getuid()}")


def _fence(code: str) -> str:
    return f"Here is my solution.\n\n```python\n{code.strip()}\n```\n"


_TASK = "Return the sum of the two integers a and b."
_FUNCTION_PROMPT = 'def add(a: int, b: int) -> int:\n    """Return the sum of a and b."""\n'
_FUNCTION_TEST = ("def check(candidate):\n    assert candidate(2, 3) == 5\n"
                  "    assert candidate(-4, 4) == 0\n    assert candidate(10, 7) == 17\n")
# `add` on purpose: LiveCodeBench's prelude star-imports `operator.add`, which must not be the
# callable graded (the wrong program below would pass if it were)
_CALLS_STARTER = "class Solution:\n    def add(self, a: int, b: int) -> int:\n        "
_STDIO_TASK = "Read two integers from one line of standard input and print their sum."


def _problem(kind: str) -> Problem:
    if kind == "function":
        return Problem(BENCHMARK, "function", _FUNCTION_PROMPT,
                       _FUNCTION_PROMPT + "    return a + b\n", __name__, verifier="code",
                       meta={"mode": "function", "entry_point": "add", "test": _FUNCTION_TEST})
    if kind == "calls":
        from capability_tests.benchmarks.code import LCB_PRELUDE

        reference = f"{LCB_PRELUDE}\n{_CALLS_STARTER}return a + b\n"
        return Problem(BENCHMARK, "calls", _TASK, reference, __name__, verifier="code",
                       meta={"mode": "calls", "entry_point": "add", "task": _TASK,
                             "starter": _CALLS_STARTER, "prelude": LCB_PRELUDE,
                             "cases": [{"args": [2, 3], "expected": 5},
                                       {"args": [-4, 4], "expected": 0},
                                       {"args": [10, 7], "expected": 17}]})
    reference = "a, b = map(int, input().split())\nprint(a + b)\n"
    return Problem(BENCHMARK, "stdio", _STDIO_TASK, reference, __name__, verifier="code",
                   meta={"mode": "stdio", "task": _STDIO_TASK,
                         "cases": [{"input": "2 3\n", "output": "5\n"},
                                   {"input": "-4 4\n", "output": "0\n"},
                                   {"input": "10 7\n", "output": "17\n"}]})


def _function(body: str, kind: str, header: str = "") -> str:
    """A program defining the entry point with `body` (indented), as the kind calls it."""
    inner = "\n".join("    " + line if line else line for line in body.strip().splitlines())
    if kind == "calls":
        inner = "\n".join("    " + line if line else line for line in inner.splitlines())
        return f"{header}class Solution:\n    def add(self, a, b):\n{inner}\n"
    return f"{header}def add(a, b):\n{inner}\n"


def _stdio(body: str, header: str = "") -> str:
    return f"{header}a, b = map(int, input().split())\n{body.strip()}\n"


def _programs(kind: str, escape_file: str, loop: bool) -> list[tuple[str, str, Outcome, str, tuple | None]]:
    """(name, program, expected outcome, why, backends) for `kind`; the infinite loop only where
    `loop` (it costs the whole time limit, and the limit is the launcher's, whatever the kind)."""
    write = (f"try:\n    with open({escape_file!r}, 'w') as handle:\n"
             "        handle.write('escaped')\nexcept OSError:\n    wrong = True\nelse:\n"
             "    wrong = False\n")
    if kind == "stdio":
        rows = [
            ("reference", _stdio("print(a + b)"), Outcome.CORRECT, "a right program passes"),
            ("wrong", _stdio("print(a - b)"), Outcome.WRONG, "a wrong program fails"),
            ("infinite-loop", _stdio("while True:\n    pass"), Outcome.TIMEOUT,
             "a program that never ends times out"),
            ("exit-at-import", _stdio("print(a + b)", "import sys\nsys.exit(0)\n"), Outcome.WRONG,
             "an early exit(0) is no pass"),
            ("write-outside", write + _stdio("print(a - b if wrong else a + b)"), Outcome.WRONG,
             "a write outside the sandbox's folder is refused"),
        ]
    else:
        rows = [
            ("reference", _function("return a + b", kind), Outcome.CORRECT, "a right program passes"),
            ("wrong", _function("return a - b", kind), Outcome.WRONG, "a wrong program fails"),
            ("infinite-loop", _function("while True:\n    pass", kind), Outcome.TIMEOUT,
             "a program that never ends times out"),
            ("exit-at-import", _function("return a + b", kind, "import sys\nsys.exit(0)\n"),
             Outcome.WRONG, "an early exit(0) is no pass"),
            ("exit-in-call", _function("import os\nos._exit(0)", kind), Outcome.WRONG,
             "exiting with status 0 inside the call is no pass"),
            ("write-outside",
             _function(write + "return a - b if wrong else a + b", kind), Outcome.WRONG,
             "a write outside the sandbox's folder is refused"),
        ]
        if kind == "function":
            rows.append(("always-equal", _function(
                "class Yes:\n    def __eq__(self, other):\n        return True\n"
                "    __hash__ = object.__hash__\nreturn Yes()", kind), Outcome.WRONG,
                "an object equal to everything does not satisfy the tests"))
    return [(name, program, expect, why,
             NAMESPACE_BACKENDS if name == "write-outside" else None)
            for name, program, expect, why in rows if loop or name != "infinite-loop"]


def kinds_of(problems: Sequence[Problem]) -> list[str]:
    """The code test kinds `problems` use, in KINDS order (all of them when none is code: the
    CLI without --benchmarks)."""
    used = {p.meta.get("mode", "function") for p in problems if p.verifier == "code"}
    return [k for k in KINDS if k in used] if used else list(KINDS)


def code_cases(problems: Sequence[Problem]) -> list[KnownAnswer]:
    out = []
    for number, kind in enumerate(kinds_of(problems)):
        problem = _problem(kind)
        escape_file = os.path.join(escape_dir(), f"escaped-{kind}")
        for name, program, expect, why, backends in _programs(kind, escape_file, number == 0):
            out.append(KnownAnswer("code", name, kind, problem, _fence(program), expect, why,
                                   backends=backends,
                                   escape_path=escape_file if name == "write-outside" else None))
    return out
