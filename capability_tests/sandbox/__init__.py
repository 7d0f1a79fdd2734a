"""The sandbox that runs model-written programs: see docs/SANDBOX.md for what it contains.

`run_tests(program, tester_job, limits)` (run.py) is the entry point. The other modules are the
programs that run inside: `launcher.py` (namespaces, mounts, limits, the wall clock), `tester.py`
(the benchmark's tests, in a process of its own), `candidate.py` (the model's program) and
`codec.py` (the plain data that crosses between the two).
"""

from capability_tests.sandbox.run import Limits, SandboxReport, run_tests

__all__ = ["Limits", "SandboxReport", "run_tests"]
