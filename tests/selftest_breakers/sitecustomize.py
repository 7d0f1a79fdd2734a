"""Breaks a grader on purpose in every Python process started with this folder on PYTHONPATH
(the pytest run, its forkserver and grading workers), as chosen by SELFTEST_BREAK:

- `math-yes`: the "math" verifier says yes to everything;
- `code-pass`: the "code" verifier passes every program without running it;
- `sandbox-dead`: the sandbox cannot run programs (its interpreter is /bin/false).

Used by tests/test_selftest.py; the sandboxed programs themselves run `-I -S` and never see it.
"""

import os

_BREAK = os.environ.get("SELFTEST_BREAK", "")

if _BREAK in ("math-yes", "code-pass"):
    from capability_tests.grading import verifiers as _verifiers

    _verifiers.BUILTIN_VERIFIERS["math" if _BREAK == "math-yes" else "code"] = (
        "selftest_broken_verifiers:yes_to_everything")
elif _BREAK == "sandbox-dead":
    from capability_tests.sandbox import run as _run

    _real = _run.interpreter
    _run.interpreter = lambda: ("/bin/false", _real()[1])
