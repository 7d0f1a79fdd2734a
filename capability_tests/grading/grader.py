"""`grade(completion, problem) -> Verdict`: the problem's verifier, under a time limit.

The math verifier (`grade_math`: extract the final answer, then compare it with the reference)
lives here; `grade_here` dispatches through the registry in `verifiers.py`.
"""

from __future__ import annotations

import time
from dataclasses import replace

from capability_tests.grading.equivalence import (
    answers_match,
    reference_is_list,
    reference_tuple_size,
)
from capability_tests.grading.extract import extract_answer
from capability_tests.grading.timeouts import (
    DEFAULT_TIMEOUT_S,
    RECHECK_FACTOR,
    GradingTimeout,
    signals_usable,
    time_limit,
)
from capability_tests.grading.verdict import Verdict, grader_error_verdict
from capability_tests.grading.verifiers import UnknownVerifier, has_own_limits, verify
from capability_tests.problems import Problem

MAX_COMPLETION_CHARS = 2_000_000


def grade_here(completion: str, problem: Problem, timeout: float = DEFAULT_TIMEOUT_S) -> Verdict:
    """Grade in this process with the verifier `problem.verifier` names (SIGALRM limits, main
    thread only)."""
    if not isinstance(completion, str):
        return Verdict(False, None, "no answer: the completion is not text", 0.0)
    start = time.perf_counter()
    try:
        return verify(completion, problem, timeout)
    except GradingTimeout:  # a verifier that let the limit's exception through
        return Verdict(False, None, "timeout", time.perf_counter() - start, timed_out=True)
    except (MemoryError, UnknownVerifier):
        # the machine or the configuration, not a verifier's bug: never a verdict (the pool
        # retries a failure; an unknown verifier is the benchmark's error)
        raise
    except Exception as exc:  # a verifier bug: a verdict of its own, the worker lives on
        return grader_error_verdict(exc, None, time.perf_counter() - start)


def grade_math(completion: str, problem: Problem, timeout: float = DEFAULT_TIMEOUT_S) -> Verdict:
    """The math verifier. The limit is enforced by SIGALRM (main thread only).

    `Verdict.extracted` is None exactly when no answer was found, and then `reason` starts with
    "no answer" (a format failure, not a wrong answer).
    """
    start = time.perf_counter()
    if not isinstance(completion, str):
        return Verdict(False, None, "no answer: the completion is not text", time.perf_counter() - start)
    if len(completion) > MAX_COMPLETION_CHARS:
        completion = completion[-MAX_COMPLETION_CHARS:]
    answer = None
    try:
        with time_limit(timeout):
            found = extract_answer(completion, problem.policy.extraction)
            if found.answer is None:
                return Verdict(False, None, found.how, time.perf_counter() - start)
            answer = found.answer
            if problem.error:
                return Verdict(False, answer, f"problem has no reference: {problem.error}",
                               time.perf_counter() - start)
            if len(found.parts) > 1:
                if reference_is_list(problem):
                    # "$x=\boxed{-3}$ and $x=\boxed{5}$" for the reference "-3, 5"
                    answer = ", ".join(found.parts)
                elif reference_tuple_size(problem) == len(found.parts):
                    # "$a=\boxed{2}$ and $b=\boxed{7}$" for the reference "(2, 7)", in order
                    answer = "(" + ", ".join(found.parts) + ")"
            correct, reason = answers_match(answer, problem)
    except GradingTimeout:
        if answer is None:
            return Verdict(False, None, "no answer: timeout while extracting it",
                           time.perf_counter() - start, timed_out=True)
        return Verdict(False, answer, "timeout", time.perf_counter() - start, timed_out=True)
    except RecursionError:
        if answer is None:
            return Verdict(False, None, "no answer: nested too deeply to extract",
                           time.perf_counter() - start)
        return Verdict(False, answer, "answer nested too deeply", time.perf_counter() - start)
    except MemoryError:
        raise
    except Exception as exc:  # sympy's NotImplementedError, PolynomialError, ...: a grader bug
        return grader_error_verdict(exc, answer, time.perf_counter() - start)
    return Verdict(correct, answer, f"{reason} ({found.how})", time.perf_counter() - start)


def recheck_verdict(verdict: Verdict, limit: float | None) -> Verdict:
    """The final verdict of a recheck: a second timeout says so in its reason, with the longer
    limit it had, or (None: a verifier with its own per-problem limits, which are in the
    verdict key and stay the same) that it timed out again alone in an idle pool."""
    if verdict.timed_out and not verdict.error:
        again = "again when rechecked alone in an idle pool" if limit is None else \
            f"also with {limit:g} s"
        return replace(verdict, reason=f"{verdict.reason} ({again})")
    return verdict


def grade(completion: str, problem: Problem, timeout: float = DEFAULT_TIMEOUT_S) -> Verdict:
    """Grade one completion against its problem's reference answer.

    In a process's main thread this runs here under a signal-driven limit; from any other thread
    it is sent to a shared one-worker `GradingPool`, whose worker is killed if it overruns. Either
    way a timeout is provisional: the sample is graded again with `RECHECK_FACTOR` times the
    limit, and only a second timeout is the verdict.
    """
    if signals_usable():
        verdict = grade_here(completion, problem, timeout)
        if verdict.timed_out:  # provisional, as in a pool: rechecked once with a longer limit
            limit = None if has_own_limits(problem) else timeout * RECHECK_FACTOR
            verdict = recheck_verdict(grade_here(completion, problem, timeout * RECHECK_FACTOR),
                                      limit)
        return verdict
    from capability_tests.grading.pool import shared_pool

    return shared_pool(timeout).submit(completion, problem).result()
