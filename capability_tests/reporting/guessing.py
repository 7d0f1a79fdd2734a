"""How much of a large-k coverage claim could be luck: the uniform guesser and rare solves.

- **Uniform guesser**: for a benchmark whose answers are integers in a known range of N values
  (`Benchmark.answer_range`; AIME: 0-999, N = 1000), a guesser that draws each of its k answers
  uniformly and independently solves a problem with probability 1 - (1 - 1/N)^k (at k = 1024 on
  AIME: 1 - 0.999^1024 = 64.1%). A model's pass@k near that line says little about reasoning.
- **Rare solves**: a problem solved by at most RARE_FRACTION of its n samples (and at least one)
  while the model gave many distinct answers: at least MANY_DISTINCT_FRACTION of n distinct answer
  classes, and at least MANY_DISTINCT_MIN. Such a problem counts as covered at k = n, yet its
  samples look like a spray of guesses. The report shows pass@k with the rare solves counted as
  unsolved beside the plain curve, so a reader sees how much of the coverage rests on them.
  With n < 1 / RARE_FRACTION (100) no problem can qualify (one correct sample is already more
  than 1%).
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from capability_tests.majority import AnswerClasses

RARE_FRACTION = 0.01
MANY_DISTINCT_FRACTION = 0.10
MANY_DISTINCT_MIN = 10
RARE_DEFINITION = (
    f"1 <= correct <= {RARE_FRACTION:.0%} of n, with at least max({MANY_DISTINCT_MIN}, "
    f"{MANY_DISTINCT_FRACTION:.0%} of n) distinct answers"
)


def answer_range_of(benchmark: str) -> tuple[int, int] | None:
    """The benchmark's integer answer range, None when it has none or is not in the registry."""
    try:
        from capability_tests.benchmarks import get_benchmark

        return get_benchmark(benchmark).answer_range
    except Exception:  # an unknown benchmark (a recorded run's plugin benchmark): no line
        return None


def guessing_curve(values: int, max_k: int) -> np.ndarray:
    """pass@1..max_k of a uniform guesser over `values` equally likely answers."""
    if values < 1 or max_k < 1:
        raise ValueError(f"need values >= 1 and max_k >= 1, got {values}, {max_k}")
    k = np.arange(1, max_k + 1, dtype=np.float64)
    return -np.expm1(k * np.log1p(-1.0 / values)) if values > 1 else np.ones(max_k)


def is_rare_solve(classes: AnswerClasses) -> bool:
    n = classes.n
    return (1 <= classes.correct <= RARE_FRACTION * n
            and classes.distinct >= max(MANY_DISTINCT_MIN, MANY_DISTINCT_FRACTION * n))


def distinct_summary(problems: Sequence[AnswerClasses]) -> dict[str, Any]:
    """Distinct answer classes per problem over a benchmark: mean, median, max."""
    counts = np.array([p.distinct for p in problems], dtype=float)
    if not counts.size:
        return {}
    return {"mean": float(counts.mean()), "median": float(np.median(counts)), "max": int(counts.max())}
