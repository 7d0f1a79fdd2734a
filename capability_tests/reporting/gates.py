"""CI gates: fail a session when pass@k is too low (--fail-under) or dropped (--baseline).

Rules (also in docs/REPORTS.md):
- `--fail-under BENCH:pass@K>=X` fails when the point estimate of pass@K on BENCH is below X (or
  not above X for `>`). X is a fraction (0.25) or a percentage (25%). BENCH `*` means every
  benchmark of the run. A gate whose benchmark is missing from the run, or whose K exceeds the
  run's n, fails (it cannot be checked). The interval is printed for the reader, not used.
- `--baseline RUN --max-drop D` compares with a recorded run on the problems both sampled (paired by
  problem id), at every table k (1, 2, 4, ..., n). Rule `significant` (default): a k fails when the
  drop (baseline - current) exceeds D AND the paired bootstrap interval of the drop lies entirely
  above 0, i.e. the run is worse by more than D and the drop is not explained by problem/sample
  noise. Rule `point`: the point drop alone exceeding D fails.
A failed gate sets the session's exit status to GATE_FAILED (6) when it would otherwise be 0 or 1.
"""

from __future__ import annotations

import argparse
import re
from dataclasses import dataclass
from typing import Any, Mapping, Sequence

from capability_tests.passk import report_ks
from capability_tests.reporting.bootstrap import BootstrapSettings
from capability_tests.reporting.curves import BenchmarkCurve
from capability_tests.results import ProblemResult

GATE_FAILED = 6
DROP_RULES = ("significant", "point")
_SPEC = re.compile(
    r"^\s*(?P<bench>[A-Za-z0-9_.\-*]+)\s*:\s*pass@(?P<k>\d+)\s*(?P<op>>=|>)\s*"
    r"(?P<value>[0-9]*\.?[0-9]+(?:[eE][-+]?\d+)?)\s*(?P<pct>%?)\s*$"
)


@dataclass(frozen=True)
class FailUnder:
    benchmark: str
    k: int
    op: str
    threshold: float
    spec: str

    def holds(self, value: float) -> bool:
        return value >= self.threshold if self.op == ">=" else value > self.threshold


def fail_under(text: str) -> FailUnder:
    """argparse `type=` for --fail-under: `BENCH:pass@K>=X` (X a fraction or NN%)."""
    match = _SPEC.match(text)
    if not match:
        raise argparse.ArgumentTypeError(
            f"expected BENCH:pass@K>=X (e.g. aime24:pass@1>=0.25 or math500:pass@8>=60%), got {text!r}"
        )
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
    return FailUnder(match["bench"], k, match["op"], value, text.strip())


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
            value = bench.at(gate.k)
            low, high = bench.interval(gate.k)
            passed = gate.holds(value)
            verdict = "meets" if passed else "is below"
            out.append({**base, "passed": passed, "value": value, "interval": [low, high],
                        "message": f"{name} pass@{gate.k} = {_pct(value)} ({_interval(low, high, level)}, "
                        f"{bench.problems} problems) {verdict} the threshold {gate.op} "
                        f"{_pct(gate.threshold)} (--fail-under {gate.spec})"})
    return out


def check_baseline(
    results: Sequence[ProblemResult],
    baseline,  # RecordedRun
    drop: float,
    rule: str = "significant",
    settings: BootstrapSettings | None = None,
) -> list[dict[str, Any]]:
    """One entry per (benchmark, k) compared, plus failures for benchmarks that cannot be."""
    from capability_tests.reporting.compare import Paired, difference_table

    settings = settings or BootstrapSettings()
    current: dict[str, list[ProblemResult]] = {}
    for r in results:
        current.setdefault(r.benchmark, []).append(r)
    base = baseline.by_benchmark()
    out = []
    for name in sorted(current):
        if name not in base:
            out.append({"gate": "baseline", "benchmark": name, "passed": True,
                        "message": f"{name}: not in baseline {baseline.run_id}; not compared"})
            continue
        paired = Paired.of(current[name], base[name])
        if not paired.ids:
            out.append({"gate": "baseline", "benchmark": name, "passed": False,
                        "message": f"{name}: no problems in common with baseline {baseline.run_id}"})
            continue
        table = difference_table(paired, settings, report_ks(paired.k_max))
        for k_text, cell in table.items():
            k = int(k_text)
            d = -cell["value"]  # drop = baseline - current
            low, high = -cell["interval"][1], -cell["interval"][0]
            cur = sum(problem_curve_value(x, k) for x in paired.a) / len(paired.ids)
            old = cur + d
            exceeds = d > drop
            significant = low > 0
            failed = exceeds and (significant or rule == "point")
            why = (
                f"drop {_pct(d)} > max-drop {_pct(drop)}"
                + ("" if rule == "point" else
                   f" and its {100 * settings.level:.0f}% paired CI [{_pct(low)}, {_pct(high)}] "
                   + ("excludes 0" if significant else "includes 0 (within noise: not failed)"))
                if exceeds else
                f"drop {_pct(d)} (CI [{_pct(low)}, {_pct(high)}]) within max-drop {_pct(drop)}"
            )
            out.append({
                "gate": "baseline", "benchmark": name, "k": k, "passed": not failed,
                "value": cur, "baseline": old, "drop": d, "drop_interval": [low, high],
                "max_drop": drop, "rule": rule,
                "message": f"{name} pass@{k} = {_pct(cur)} vs baseline {_pct(old)} "
                f"({baseline.run_id}, {len(paired.ids)} paired problems): {why}",
            })
    return out


def problem_curve_value(count: tuple[int, int], k: int) -> float:
    from capability_tests.passk import pass_at_k

    return pass_at_k(count[0], count[1], k)
