"""CI gates: fail a session when pass@k is too low (--fail-under) or dropped (--baseline).

Rules (also in docs/REPORTS.md):
- `--fail-under BENCH:pass@K>=X` fails when the point estimate of pass@K on BENCH is below X (or
  not above X for `>`); any registered metric gates the same way (`maj@K`, `pass^K`, metrics.py).
  X is a fraction (0.25) or a percentage (25%). BENCH `*` means every
  benchmark of the run. A gate whose benchmark is missing from the run, or whose K exceeds the
  run's n, fails (it cannot be checked). The interval is printed for the reader, not used.
- `--baseline RUN` compares with a recorded run on the problems both sampled (paired by problem
  id), at the ks of `--baseline-k` (default 1) for every benchmark both runs have. Each (benchmark,
  k) gets a one-sided paired sign-flip p-value for "the drop (baseline - current) is above 0"
  (drop_test.py); Holm's correction across all the tested pairs keeps the family-wise false-alarm
  rate at `--baseline-alpha` (default 0.05). Rule `significant` (default): a pair fails when the
  drop exceeds `--max-drop` D AND its Holm-adjusted p-value is <= alpha. Rule `point`: the point
  drop alone exceeding D fails (no false-alarm control). A benchmark of the baseline with no
  results in this run fails unless this run did not select it (--benchmarks); a benchmark only in
  this run is noted. Sampling settings must match (checked by the session, run_settings.py).
A failed gate sets the session's exit status to GATE_FAILED (6) when it would otherwise be 0 or 1.
"""

from __future__ import annotations

import argparse
import re
from dataclasses import dataclass
from typing import Any, Mapping, Sequence

import numpy as np

from capability_tests.passk import report_ks
from capability_tests.reporting.bootstrap import BootstrapSettings
from capability_tests.reporting.curves import BenchmarkCurve
from capability_tests.reporting.metrics import PASS_AT_K, metric_for_symbol
from capability_tests.results import ProblemResult

GATE_FAILED = 6
DROP_RULES = ("significant", "point")
# pass@1 by default: it averages every sample of every problem, so it is the least noisy pass@k
# (the most power for the same run) and exists for any n; larger ks are declared explicitly.
DEFAULT_BASELINE_KS = (1,)
DEFAULT_ALPHA = 0.05  # family-wise false-alarm rate of --baseline
ALL_KS = "all"
_SPEC = re.compile(
    r"^\s*(?P<bench>[A-Za-z0-9_.\-*]+)\s*:\s*(?P<metric>[A-Za-z][A-Za-z0-9_]*[@^])(?P<k>\d+)\s*(?P<op>>=|>)\s*"
    r"(?P<value>[0-9]*\.?[0-9]+(?:[eE][-+]?\d+)?)\s*(?P<pct>%?)\s*$"
)


@dataclass(frozen=True)
class FailUnder:
    benchmark: str
    k: int
    op: str
    threshold: float
    spec: str
    metric: str = PASS_AT_K.name  # a registered metric's name (metrics.py): pass@k, maj@k, pass^k, ...

    def holds(self, value: float) -> bool:
        return value >= self.threshold if self.op == ">=" else value > self.threshold


def fail_under(text: str) -> FailUnder:
    """argparse `type=` for --fail-under: `BENCH:METRIC@K>=X` (X a fraction or NN%), METRIC a
    registered metric's symbol (`pass@`, `maj@`, `pass^`, or one a plugin registered)."""
    match = _SPEC.match(text)
    if not match:
        raise argparse.ArgumentTypeError(
            f"expected BENCH:pass@K>=X (e.g. aime24:pass@1>=0.25, math500:pass@8>=60%, "
            f"gsm8k:maj@8>=0.4, demo:pass^4>0.1), got {text!r}"
        )
    try:
        metric = metric_for_symbol(match["metric"])
    except KeyError as exc:
        raise argparse.ArgumentTypeError(f"{exc.args[0]} in {text!r}") from None
    k = int(match["k"])
    value = float(match["value"])
    if match["pct"]:
        value /= 100.0
    if k < 1:
        raise argparse.ArgumentTypeError(f"k must be at least 1 in {text!r}")
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(
            f"threshold must be within [0, 1] (or 0%..100%) in {text!r}"
        )
    return FailUnder(match["bench"], k, match["op"], value, text.strip(), metric.name)


def max_drop(text: str) -> float:
    """argparse `type=` for --max-drop: a fraction in [0, 1] or a percentage."""
    raw = text.strip()
    try:
        value = float(raw[:-1]) / 100.0 if raw.endswith("%") else float(raw)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a fraction like 0.05 or 5%, got {text!r}") from None
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"must be within [0, 1], got {text!r}")
    return value


def baseline_ks(text: str) -> tuple[int, ...] | None:
    """argparse `type=` for --baseline-k: `1,64` (distinct ks >= 1), or `all` (None: every table k)."""
    if text.strip() == ALL_KS:
        return None
    try:
        ks = sorted({int(part) for part in text.split(",") if part.strip()})
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected ks separated by commas (e.g. 1,64) or 'all', got {text!r}") from None
    if not ks or ks[0] < 1:
        raise argparse.ArgumentTypeError(f"ks must be whole numbers >= 1, got {text!r}")
    return tuple(ks)


def family_alpha(text: str) -> float:
    """argparse `type=` for --baseline-alpha: a level in (0, 0.5]."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number like 0.05, got {text!r}") from None
    if not 0.0 < value <= 0.5:
        raise argparse.ArgumentTypeError(f"must be within (0, 0.5], got {text!r}")
    return value


def _pct(x: float) -> str:
    return f"{100 * x:.1f}%"


def _interval(low: float, high: float, level: float) -> str:
    return f"{100 * level:.0f}% CI [{_pct(low)}, {_pct(high)}]"


def check_fail_under(
    gates: Sequence[FailUnder], curves: Mapping[str, BenchmarkCurve], level: float = 0.95
) -> list[dict[str, Any]]:
    out = []
    for gate in gates:
        names = [n for n in curves if curves[n].problems] if gate.benchmark == "*" else [gate.benchmark]
        if not names:
            out.append({"gate": gate.spec, "passed": False,
                        "message": f"--fail-under {gate.spec}: the run has no benchmark results"})
        for name in names:
            bench = curves.get(name)
            base = {"gate": gate.spec, "benchmark": name, "k": gate.k, "threshold": gate.threshold}
            if bench is None or not bench.problems:
                out.append({**base, "passed": False,
                            "message": f"--fail-under {gate.spec}: no results for benchmark {name!r} "
                            f"in this run (have: {', '.join(curves) or 'none'})"})
                continue
            if gate.k > bench.n:
                out.append({**base, "passed": False,
                            "message": f"--fail-under {gate.spec}: {name} has n={bench.n} samples per "
                            f"problem, fewer than k={gate.k}; run with --k {gate.k} or more"})
                continue
            found = bench.band_of(gate.metric)
            if found is None:
                out.append({**base, "passed": False,
                            "message": f"--fail-under {gate.spec}: {gate.metric} was not computed for "
                            f"{name} (its per-sample answers did not reach the report)"})
                continue
            value = found.at(gate.k)
            low, high = found.interval(gate.k)
            passed = gate.holds(value)
            verdict = "meets" if passed else "is below"
            label = gate.metric[:-1] + str(gate.k)
            out.append({**base, "metric": gate.metric, "passed": passed, "value": value,
                        "interval": [low, high],
                        "message": f"{name} {label} = {_pct(value)} ({_interval(low, high, level)}, "
                        f"{bench.problems} problems) {verdict} the threshold {gate.op} "
                        f"{_pct(gate.threshold)} (--fail-under {gate.spec})"})
    return out


@dataclass(frozen=True)
class BaselineGate:
    """How `--baseline` judges a drop (see the module doc and docs/REPORTS.md)."""

    ks: tuple[int, ...] | None = DEFAULT_BASELINE_KS  # None: every table k up to the smaller n
    max_drop: float = 0.0
    rule: str = "significant"
    alpha: float = DEFAULT_ALPHA
    selected: tuple[str, ...] | None = None  # benchmarks this run was asked for (None: all)

    def ks_for(self, k_max: int) -> list[int]:
        return report_ks(k_max) if self.ks is None else list(self.ks)


def check_baseline(
    results: Sequence[ProblemResult],
    baseline,  # RecordedRun
    gate: BaselineGate | None = None,
    settings: BootstrapSettings | None = None,
) -> list[dict[str, Any]]:
    """One entry per (benchmark, k) tested, one per benchmark that cannot be tested, and notes
    (`"note": True`, passed) for benchmarks that are not compared on purpose."""
    from capability_tests.reporting.compare import Paired
    from capability_tests.reporting.curves import problem_curve
    from capability_tests.reporting.drop_test import flips_needed, holm, sign_flip_pvalues

    gate = gate or BaselineGate()
    settings = settings or BootstrapSettings()
    current: dict[str, list[ProblemResult]] = {}
    for r in results:
        current.setdefault(r.benchmark, []).append(r)
    base = {name: rows for name, rows in baseline.by_benchmark().items()
            if any(r.error is None and r.n > 0 for r in rows)}
    where = f"baseline {baseline.run_id}"
    out: list[dict[str, Any]] = []
    tests: list[tuple[str, Any, list[int], np.ndarray]] = []  # (benchmark, paired, ks, drops)
    for name in sorted(set(current) | set(base)):
        entry = {"gate": "baseline", "benchmark": name}
        if name not in base:
            out.append({**entry, "passed": True, "note": True,
                        "message": f"{name}: not in {where}; not compared"})
            continue
        if name not in current:
            if gate.selected is not None and name not in gate.selected:
                out.append({**entry, "passed": True, "note": True,
                            "message": f"{name}: in {where} but not selected in this run "
                            "(--benchmarks); not compared"})
            else:
                out.append({**entry, "passed": False,
                            "message": f"{name}: in {where} but this run has no results for it; "
                            "the gate cannot check it"})
            continue
        paired = Paired.of(current[name], base[name])  # a = current, b = baseline
        if not paired.ids:
            out.append({**entry, "passed": False,
                        "message": f"{name}: no sampled problems in common with {where}"})
            continue
        ks = gate.ks_for(paired.k_max)
        too_large = [k for k in ks if k > paired.k_max]
        for k in too_large:
            out.append({**entry, "k": k, "passed": False,
                        "message": f"{name} pass@{k}: cannot be checked, the paired problems have only "
                        f"n={paired.k_max} samples in this run or {where}"})
        ks = [k for k in ks if k <= paired.k_max]
        if not ks:
            continue
        idx = np.array(ks) - 1
        drops = np.stack([problem_curve(nb, cb, paired.k_max)[idx] - problem_curve(na, ca, paired.k_max)[idx]
                          for (na, ca), (nb, cb) in zip(paired.a, paired.b)])
        tests.append((name, paired, ks, drops))
    count = sum(len(ks) for _, _, ks, _ in tests)
    flips = flips_needed(count, gate.alpha, settings.resamples)
    pvalues = [sign_flip_pvalues(drops, flips, settings.seed, name) for name, _, _, drops in tests]
    adjusted = iter(holm(np.concatenate(pvalues)) if tests else [])
    for (name, paired, ks, drops), ps in zip(tests, pvalues):
        unpaired = len({r.problem_id for r in base[name]} - set(paired.ids))
        for j, k in enumerate(ks):
            d = float(drops[:, j].mean())
            cur = float(np.mean([problem_curve(n, c, paired.k_max)[k - 1] for n, c in paired.a]))
            p, p_adj = float(ps[j]), float(next(adjusted))
            significant = p_adj <= gate.alpha
            exceeds = d > gate.max_drop
            failed = exceeds and (significant or gate.rule == "point")
            test = (f"one-sided sign-flip p = {p:.4f}, Holm-adjusted {p_adj:.4f} over {count} "
                    f"test{'s' if count != 1 else ''}")
            if not exceeds:
                why = f"drop {_pct(d)} within max-drop {_pct(gate.max_drop)} ({test})"
            elif gate.rule == "point":
                why = f"drop {_pct(d)} > max-drop {_pct(gate.max_drop)} (rule point; {test})"
            elif significant:
                why = (f"drop {_pct(d)} > max-drop {_pct(gate.max_drop)} and significant at "
                       f"family-wise alpha {gate.alpha:g} ({test})")
            else:
                why = (f"drop {_pct(d)} > max-drop {_pct(gate.max_drop)} but not significant at "
                       f"family-wise alpha {gate.alpha:g} ({test}; within noise: not failed)")
            extra = f", {unpaired} baseline problems without a result here" if unpaired else ""
            out.append({
                "gate": "baseline", "benchmark": name, "k": k, "passed": not failed,
                "value": cur, "baseline": cur + d, "drop": d, "p_value": p, "p_adjusted": p_adj,
                "tests": count, "alpha": gate.alpha, "flips": flips, "max_drop": gate.max_drop,
                "rule": gate.rule, "paired_problems": len(paired.ids),
                "message": f"{name} pass@{k} = {_pct(cur)} vs baseline {_pct(cur + d)} "
                f"({baseline.run_id}, {len(paired.ids)} paired problems{extra}): {why}",
            })
    order = {name: i for i, name in enumerate(sorted(set(current) | set(base)))}
    return sorted(out, key=lambda g: (order[g["benchmark"]], g.get("k", 0)))
