"""Metrics by registration: one `Metric` gives a curve its computation, its summary.json keys,
its CSV columns, its Markdown table, its terminal line, its plot line and its gate syntax
(`--fail-under "aime24:maj@8>=0.4"`, `pass^4`).

A metric is a per-problem curve over k = 1..max_k, averaged over a benchmark's problems with the
same percentile-bootstrap band as pass@k (`curves.band`). Built in: pass@k (the primary metric:
the table, the main line of the plot), maj@k and pass^k. Another package adds one with
`register_metric(Metric(...))` in a module the run imports (a plugin named with `-p`), or through
the entry point group `capability_tests.metrics` (an entry point naming a `Metric` object), loaded
the first time the registry is read (docs/EXTENDING.md).

Modelled on lm-eval's metrics registered by name: reporting code never names a metric; it loops
over `metrics()`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from importlib.metadata import entry_points
from typing import Callable

import numpy as np

from capability_tests.majority import AnswerClasses, majority_at_k_curve
from capability_tests.passk import pass_all_k_curve, pass_at_k_curve

ENTRY_POINT_GROUP = "capability_tests.metrics"
# A per-problem curve: (n, correct, answer classes or None, max_k) -> values for k = 1..max_k.
ProblemCurve = Callable[[int, int, "AnswerClasses | None", int], np.ndarray]
_SYMBOL = re.compile(r"^[A-Za-z][A-Za-z0-9_]*[@^]$")
_KEY = re.compile(r"^[a-z][a-z0-9_]*$")


@dataclass(frozen=True)
class Metric:
    """One curve over k. `symbol` is how k is written after it (`maj@` → `maj@8`) in tables,
    terminal lines and gates; `key` names it in summary.json (`<key>`, `<key>_ci`) and the CSV
    (`<key>`, `<csv_ci>_ci_low`, `<csv_ci>_ci_high`). `needs_classes`: the curve needs the
    problem's answer classes (recorded per sample); without them it is not computed and the
    report says so."""

    symbol: str
    key: str
    title: str  # the Markdown section heading and the plot legend
    description: str  # one sentence under the Markdown table
    problem_curve: ProblemCurve
    needs_classes: bool = False
    color: str = "#9467bd"
    csv_ci: str = ""  # CSV interval column prefix (default: key)

    def __post_init__(self) -> None:
        if not _SYMBOL.match(self.symbol):
            raise ValueError(f"metric symbol {self.symbol!r} must be a name ending in '@' or '^' (e.g. 'maj@')")
        if not _KEY.match(self.key):
            raise ValueError(f"metric key {self.key!r} must be lower-case letters, digits and '_'")

    @property
    def name(self) -> str:
        """`maj@k`: the metric's name in messages and the registry."""
        return self.symbol + "k"

    def row_key(self, n: int, correct: int, classes: AnswerClasses | None):
        """What a problem's curve depends on (problems with the same key share one curve)."""
        return classes if self.needs_classes else (n, correct)

    def csv_columns(self) -> tuple[str, str, str]:
        prefix = self.csv_ci or self.key
        return self.key, f"{prefix}_ci_low", f"{prefix}_ci_high"


_REGISTRY: dict[str, Metric] = {}
_entry_points_loaded = False


def register_metric(metric: Metric) -> Metric:
    """Add a metric (returns it, so a module can keep a name for it). Its symbol and key must be
    new: two metrics with one gate syntax or one summary key would make a number ambiguous."""
    for other in _REGISTRY.values():
        if other.symbol == metric.symbol or other.key == metric.key:
            if other == metric:
                return other
            raise ValueError(f"metric {metric.name} ({metric.key}) clashes with the registered "
                             f"{other.name} ({other.key})")
    _REGISTRY[metric.name] = metric
    return metric


def _load_entry_points() -> None:
    global _entry_points_loaded
    if _entry_points_loaded:
        return
    _entry_points_loaded = True
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        metric = ep.load()
        if not isinstance(metric, Metric):
            raise TypeError(f"entry point {ep.name!r} of {ENTRY_POINT_GROUP} names {metric!r}, not a Metric")
        register_metric(metric)


def metrics() -> list[Metric]:
    """Every registered metric, pass@k first, then in registration order."""
    _load_entry_points()
    return list(_REGISTRY.values())


def secondary_metrics() -> list[Metric]:
    """Every metric but pass@k (which reports keep in their main table)."""
    return [m for m in metrics() if m is not PASS_AT_K]


def metric_for_symbol(symbol: str) -> Metric:
    """The metric written `symbol` (`pass@`, `maj@`, `pass^`, ...); KeyError naming the known ones."""
    for metric in metrics():
        if metric.symbol == symbol:
            return metric
    known = ", ".join(m.symbol + "K" for m in metrics())
    raise KeyError(f"unknown metric {symbol + 'K'!r} (registered: {known})")


# -- the built-in metrics ----------------------------------------------------------------------

def _readonly(curve: np.ndarray) -> np.ndarray:
    curve.setflags(write=False)
    return curve


@lru_cache(maxsize=4096)
def _pass_at_k(n: int, c: int, max_k: int) -> np.ndarray:
    return _readonly(pass_at_k_curve(n, c, max_k))


@lru_cache(maxsize=4096)
def _pass_all_k(n: int, c: int, max_k: int) -> np.ndarray:
    return _readonly(pass_all_k_curve(n, c, max_k))


@lru_cache(maxsize=4096)
def _majority(classes: AnswerClasses) -> np.ndarray:
    return _readonly(majority_at_k_curve(classes))


PASS_AT_K = register_metric(Metric(
    symbol="pass@", key="pass_at_k", title="pass@k: some sample of k is right",
    description="Unbiased estimate 1 - C(n-c, k) / C(n, k) per problem (Chen et al. 2021), averaged.",
    problem_curve=lambda n, c, classes, max_k: _pass_at_k(int(n), int(c), int(max_k)),
    color="#1f77b4", csv_ci="",
))
MAJ_AT_K = register_metric(Metric(
    symbol="maj@", key="maj_at_k", title="maj@k: the majority answer of k samples is right",
    description=("Answers grouped as the grader compares them (all correct answers one class, wrong "
                 "ones by normalised form); no-answer samples do not vote; a tie with the correct "
                 "answer counts 1/(tied classes)."),
    problem_curve=lambda n, c, classes, max_k: _majority(classes)[:max_k],
    needs_classes=True, color="#2ca02c", csv_ci="maj",
))
PASS_ALL_K = register_metric(Metric(
    symbol="pass^", key="pass_all_k", title="pass^k: all k samples are right",
    description="Unbiased estimate C(c, k) / C(n, k) per problem, averaged.",
    problem_curve=lambda n, c, classes, max_k: _pass_all_k(int(n), int(c), int(max_k)),
    color="#ff7f0e", csv_ci="pass_all",
))
