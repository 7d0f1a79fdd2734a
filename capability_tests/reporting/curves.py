"""Per-benchmark curves (every k from 1 to n) with bootstrap intervals: pass@k, and from the
same samples maj@k (`majority.py`), pass^k (all k right, `passk.pass_all_k_curve`), pass@k with
the rare solves counted unsolved and a uniform guesser's pass@k (`guessing.py`), plus the gain of
the last doubling of k (sampling adequacy). See docs/ANALYSES.md.

A benchmark's curve uses the problems that were sampled (no error, n > 0); its length is the smallest
n among them, so every point averages over the same problems. Every band of a benchmark uses the
same bootstrap draw of problems.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterable, Iterator, Mapping, NamedTuple, Sequence

import numpy as np

from capability_tests.majority import method_for
from capability_tests.passk import report_ks
from capability_tests.reporting.bootstrap import (
    BootstrapSettings,
    grouped_weights,
    percentile_interval,
    resample_weights,
)
from capability_tests.reporting.guessing import (
    RARE_DEFINITION,
    answer_range_of,
    distinct_summary,
    guessing_curve,
    is_rare_solve,
)
from capability_tests.reporting.metrics import MAJ_AT_K, PASS_ALL_K, PASS_AT_K, secondary_metrics
from capability_tests.results import ProblemResult


class ProblemCounts(NamedTuple):
    """One problem's samples and correct ones: what its pass@k curve depends on, and so the
    bootstrap's key (problems with equal counts share one computed row)."""

    n: int
    correct: int


def problem_curve(n: int, c: int, max_k: int) -> np.ndarray:
    """pass@1..max_k of one problem (cached: benchmarks repeat the same (n, c) a lot)."""
    return PASS_AT_K.problem_curve(n, c, None, max_k)


@dataclass
class Band:
    """A benchmark-level curve (index k-1 holds the value at k) with its bootstrap interval."""

    curve: np.ndarray
    low: np.ndarray
    high: np.ndarray

    def at(self, k: int) -> float:
        return float(self.curve[k - 1])

    def interval(self, k: int) -> tuple[float, float]:
        return float(self.low[k - 1]), float(self.high[k - 1])

    def table_json(self, ks: Sequence[int], name: str) -> dict[str, Any]:
        return {name: {str(k): self.at(k) for k in ks},
                name + "_ci": {str(k): list(self.interval(k)) for k in ks}}


def band(weights: np.ndarray, keys: Sequence, rows, width: int, settings: BootstrapSettings) -> Band:
    """Mean of per-problem rows (`rows(key)`, identical keys computed once) and its percentile
    interval under the resample `weights`; low <= estimate <= high (a percentile of means can
    differ from the mean by rounding only)."""
    unique = {key: np.asarray(rows(key))[:width] for key in dict.fromkeys(keys)}
    curve = np.mean([unique[key] for key in keys], axis=0)
    low, high = percentile_interval(weights, keys, unique.__getitem__, width, settings)
    return Band(curve, np.minimum(low, curve), np.maximum(high, curve))


def last_doubling(weights: np.ndarray, keys: Sequence[ProblemCounts], n: int,
                  settings: BootstrapSettings) -> dict[str, Any] | None:
    """Sampling adequacy: pass@n - pass@(n//2), its bootstrap interval, and whether the curve is
    still rising at n (the interval's lower end above 0). None when n < 2."""
    if n < 2:
        return None
    half = n // 2
    gains = {key: problem_curve(key[0], key[1], n)[n - 1] - problem_curve(key[0], key[1], n)[half - 1]
             for key in set(keys)}
    gain = float(np.mean([gains[key] for key in keys]))
    unique, grouped = grouped_weights(weights, keys)
    resampled = grouped @ np.array([gains[key] for key in unique])
    low, high = (float(q) for q in np.quantile(resampled, settings.quantiles))
    low, high = min(low, gain), max(high, gain)
    return {"from_k": half, "to_k": n, "gain": gain, "interval": [low, high], "rising": low > 0}


@dataclass
class BenchmarkCurve:
    name: str
    problem_ids: list[str]
    counts: list[ProblemCounts]
    errors: int = 0
    grading_timeouts: int = 0
    wrong: int = 0  # sample outcomes, over every problem with samples (errored ones too)
    no_answer: int = 0
    grading_errors: int = 0
    grader_errors: int = 0  # verdicts of a verifier that raised (counted not correct)
    curve: np.ndarray = field(default_factory=lambda: np.zeros(0))  # index k-1 is pass@k
    low: np.ndarray = field(default_factory=lambda: np.zeros(0))
    high: np.ndarray = field(default_factory=lambda: np.zeros(0))
    # every registered metric but pass@k, by name (`metrics.py`): maj@k, pass^k, ...; a metric
    # that needs answer classes is missing when some problem's answers were not recorded
    bands: dict[str, Band] = field(default_factory=dict)
    majority_method: str | None = None  # "exact", "resampled" or "exact+resampled"
    majority_missing: int = 0  # sampled problems without recorded answers
    adequacy: dict[str, Any] | None = None  # last_doubling()
    answer_range: tuple[int, int] | None = None
    guessing: np.ndarray | None = None  # a uniform guesser's pass@k, when answer_range is known
    rare_solves: list[dict[str, Any]] = field(default_factory=list)
    without_rare: Band | None = None  # pass@k with the rare solves counted unsolved
    distinct: dict[str, Any] = field(default_factory=dict)  # distinct answers per problem

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

    def band_of(self, metric_name: str) -> Band | None:
        """The named metric's band (pass@k included); None when it was not computed."""
        if metric_name == PASS_AT_K.name:
            return Band(self.curve, self.low, self.high) if self.problems else None
        return self.bands.get(metric_name)

    @property
    def majority(self) -> Band | None:
        return self.bands.get(MAJ_AT_K.name)

    @property
    def pass_all(self) -> Band | None:
        return self.bands.get(PASS_ALL_K.name)


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
        counts=[ProblemCounts(r.n, r.correct) for r in sampled],
        errors=len(results) - len(sampled),
        grading_timeouts=sum(r.grading_timeouts for r in results),
        wrong=sum(r.wrong for r in results),
        no_answer=sum(r.no_answer for r in results),
        grading_errors=sum(r.grading_errors for r in results),
        grader_errors=sum(getattr(r, "grader_errors", 0) for r in results),
    )
    if not sampled:
        return bench
    k_max = bench.n
    keys = bench.counts
    weights = resample_weights(len(keys), settings)
    passk = band(weights, keys, lambda key: problem_curve(key[0], key[1], k_max), k_max, settings)
    bench.curve, bench.low, bench.high = passk.curve, passk.low, passk.high
    bench.adequacy = last_doubling(weights, keys, k_max, settings)
    bench.answer_range = answer_range_of(name)
    if bench.answer_range is not None:
        low, high = bench.answer_range
        bench.guessing = guessing_curve(high - low + 1, k_max)
    classes = [r.answer_classes() for r in sampled]
    bench.majority_missing = sum(c is None for c in classes)
    for metric in secondary_metrics():
        if metric.needs_classes and bench.majority_missing:
            continue
        rows = [metric.row_key(n, c, cls) for (n, c), cls in zip(keys, classes)]
        by_row = dict(zip(rows, zip(keys, classes)))

        def curve_of(row, metric=metric, by_row=by_row):
            (n, c), cls = by_row[row]
            return metric.problem_curve(n, c, cls if metric.needs_classes else None, k_max)

        bench.bands[metric.name] = band(weights, rows, curve_of, k_max, settings)
    if bench.majority_missing:
        return bench
    methods = sorted({method_for(c) for c in classes if 0 < c.correct < c.n})
    bench.majority_method = "+".join(methods) or "exact"
    bench.distinct = distinct_summary(classes)
    rare = [is_rare_solve(c) for c in classes]
    bench.rare_solves = [
        {"problem_id": r.problem_id, "n": r.n, "correct": r.correct, "distinct_answers": c.distinct}
        for r, c, flag in zip(sampled, classes, rare) if flag
    ]
    without = [(n, 0) if flag else (n, c) for (n, c), flag in zip(keys, rare)]
    bench.without_rare = band(weights, without, lambda key: problem_curve(key[0], key[1], k_max),
                              k_max, settings)
    return bench


def compute_curves(
    results: Iterable[ProblemResult], settings: BootstrapSettings | None = None
) -> dict[str, BenchmarkCurve]:
    by_benchmark: dict[str, list[ProblemResult]] = {}
    for r in results:
        by_benchmark.setdefault(r.benchmark, []).append(r)
    return {name: compute_curve(name, by_benchmark[name], settings) for name in sorted(by_benchmark)}


def analyses_json(bench: BenchmarkCurve) -> dict[str, Any]:
    """The curves beside pass@k, at the table ks, for summary.json (docs/ANALYSES.md)."""
    if not bench.problems:
        return {}
    ks = bench.ks
    out: dict[str, Any] = {}
    for metric in secondary_metrics():
        found = bench.bands.get(metric.name)
        if found is not None:
            out.update(found.table_json(ks, metric.key))
        else:
            out[metric.key] = None
            out[metric.key + "_note"] = (f"{bench.majority_missing} problem(s) have no recorded answers "
                                         "(per-sample records did not reach the report)")
    if bench.majority is not None:
        out["maj_at_k_method"] = bench.majority_method
    if bench.adequacy is not None:
        out["last_doubling"] = dict(bench.adequacy)
    if bench.guessing is not None:
        out["guessing"] = {
            "answer_range": list(bench.answer_range),
            "pass_at_k": {str(k): float(bench.guessing[k - 1]) for k in ks},
        }
    if bench.without_rare is not None:
        out["rare_solves"] = {
            "definition": RARE_DEFINITION,
            "problems": list(bench.rare_solves),
            **bench.without_rare.table_json(ks, "pass_at_k_without"),
        }
        out["distinct_answers"] = dict(bench.distinct)
    return out


PRIMARY_CSV_COLUMNS = ("benchmark", "k", "pass_at_k", "ci_low", "ci_high", "problems", "n")
ANALYSES_CSV_COLUMNS = ("pass_at_k_without_rare", "guessing_pass_at_k")


def csv_columns() -> tuple[str, ...]:
    """pass@k's columns, three per registered metric (value, interval), then the analyses."""
    return (PRIMARY_CSV_COLUMNS + tuple(c for m in secondary_metrics() for c in m.csv_columns())
            + ANALYSES_CSV_COLUMNS)


def curves_csv_rows(curves: Mapping[str, BenchmarkCurve]) -> Iterator[list[Any]]:
    """`pass_at_k.csv` rows: every k from 1 to n, one value column per curve (empty: not known)."""
    yield list(csv_columns())
    extra = secondary_metrics()

    def cells(b: Band | None, k: int) -> list[str]:
        if b is None:
            return ["", "", ""]
        low, high = b.interval(k)
        return [f"{b.at(k):.6f}", f"{low:.6f}", f"{high:.6f}"]

    for name, bench in curves.items():
        for k in range(1, bench.n + 1):
            low, high = bench.interval(k)
            yield [name, k, f"{bench.at(k):.6f}", f"{low:.6f}", f"{high:.6f}", bench.problems, bench.n,
                   *(cell for m in extra for cell in cells(bench.bands.get(m.name), k)),
                   "" if bench.without_rare is None else f"{bench.without_rare.at(k):.6f}",
                   "" if bench.guessing is None else f"{bench.guessing[k - 1]:.6f}"]


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
