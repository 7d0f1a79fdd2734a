"""Per-benchmark pass@k curves (every k from 1 to n) with bootstrap intervals.

A benchmark's curve uses the problems that were sampled (no error, n > 0); its length is the smallest
n among them, so every point averages over the same problems.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Iterable, Sequence

import numpy as np

from capability_tests.passk import pass_at_k_curve, report_ks
from capability_tests.reporting.bootstrap import (
    BootstrapSettings,
    percentile_interval,
    resample_weights,
)
from capability_tests.results import ProblemResult


@lru_cache(maxsize=4096)
def _curve(n: int, c: int, max_k: int) -> np.ndarray:
    curve = pass_at_k_curve(n, c, max_k)
    curve.setflags(write=False)
    return curve


def problem_curve(n: int, c: int, max_k: int) -> np.ndarray:
    """pass@1..max_k of one problem (cached: benchmarks repeat the same (n, c) a lot)."""
    return _curve(int(n), int(c), int(max_k))


@dataclass
class BenchmarkCurve:
    name: str
    problem_ids: list[str]
    counts: list[tuple[int, int]]
    errors: int = 0
    grading_timeouts: int = 0
    wrong: int = 0  # sample outcomes, over every problem with samples (errored ones too)
    no_answer: int = 0
    grading_errors: int = 0
    curve: np.ndarray = field(default_factory=lambda: np.zeros(0))  # index k-1 is pass@k
    low: np.ndarray = field(default_factory=lambda: np.zeros(0))
    high: np.ndarray = field(default_factory=lambda: np.zeros(0))

    @property
    def problems(self) -> int:
        return len(self.counts)

    @property
    def n(self) -> int:
        """Curve length: the smallest n among sampled problems (0 when none)."""
        return min((n for n, _ in self.counts), default=0)

    @property
    def ks(self) -> list[int]:
        """Table ks: powers of two up to n, and n."""
        return report_ks(self.n) if self.n else []

    def at(self, k: int) -> float:
        return float(self.curve[k - 1])

    def interval(self, k: int) -> tuple[float, float]:
        return float(self.low[k - 1]), float(self.high[k - 1])


def compute_curve(
    name: str,
    results: Sequence[ProblemResult],
    settings: BootstrapSettings | None = None,
) -> BenchmarkCurve:
    settings = settings or BootstrapSettings()
    sampled = sorted((r for r in results if r.error is None and r.n > 0), key=lambda r: r.problem_id)
    bench = BenchmarkCurve(
        name=name,
        problem_ids=[r.problem_id for r in sampled],
        counts=[(r.n, r.correct) for r in sampled],
        errors=len(results) - len(sampled),
        grading_timeouts=sum(r.grading_timeouts for r in results),
        wrong=sum(r.wrong for r in results),
        no_answer=sum(r.no_answer for r in results),
        grading_errors=sum(r.grading_errors for r in results),
    )
    if not sampled:
        return bench
    k_max = bench.n
    keys = bench.counts
    unique = sorted(set(keys))
    table = {key: problem_curve(key[0], key[1], k_max) for key in unique}
    bench.curve = np.mean([table[key] for key in keys], axis=0)
    weights = resample_weights(len(keys), settings)
    bench.low, bench.high = percentile_interval(weights, keys, table.__getitem__, k_max, settings)
    # a percentile of means can differ from the mean by rounding only: keep low <= estimate <= high
    bench.low = np.minimum(bench.low, bench.curve)
    bench.high = np.maximum(bench.high, bench.curve)
    return bench


def compute_curves(
    results: Iterable[ProblemResult], settings: BootstrapSettings | None = None
) -> dict[str, BenchmarkCurve]:
    by_benchmark: dict[str, list[ProblemResult]] = {}
    for r in results:
        by_benchmark.setdefault(r.benchmark, []).append(r)
    return {name: compute_curve(name, by_benchmark[name], settings) for name in sorted(by_benchmark)}


def curve_table_json(bench: BenchmarkCurve) -> dict[str, Any]:
    """pass@k and its interval at the table ks, keyed by str(k)."""
    return {
        "pass_at_k": {str(k): bench.at(k) for k in bench.ks},
        "pass_at_k_ci": {str(k): list(bench.interval(k)) for k in bench.ks},
    }


def format_value(value: float, interval: tuple[float, float] | None = None) -> str:
    text = f"{100 * value:.1f}%"
    if interval is not None:
        text += f" [{100 * interval[0]:.1f}, {100 * interval[1]:.1f}]"
    return text
