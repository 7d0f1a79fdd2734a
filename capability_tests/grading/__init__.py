"""Grading: decide whether one completion answers one problem.

`grade(completion, problem) -> Verdict` is the one entry point the rest of the suite uses; the
inside (extraction, normalisation, equivalence) can change without touching callers. Importing this
package imports neither vLLM nor torch.
"""

from capability_tests.grading.verdict import Verdict
from capability_tests.grading.grader import grade

__all__ = ["Verdict", "grade"]
