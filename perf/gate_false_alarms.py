"""Measure the --baseline gate on simulated reruns: false-alarm rate of an unchanged model
resampled with another seed, with and without Holm's correction, and power against real drops.

    PYTHONPATH=. python perf/gate_false_alarms.py

The simulation is the one of tests/test_reports_baseline_gate.py (three benchmarks of 30, 40 and
120 problems, n = 16, realistic per-problem solve rates); the figures are in docs/REPORTS.md.
"""

from __future__ import annotations

import sys
from pathlib import Path
from unittest import mock

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from test_reports_baseline_gate import failure_rate  # noqa: E402

from capability_tests.reporting import drop_test  # noqa: E402
from capability_tests.reporting.gates import BaselineGate  # noqa: E402


def uniform_rates(rng, m):
    return rng.uniform(0.05, 0.95, m)


def main() -> None:
    default, three = BaselineGate(), BaselineGate(ks=(1, 4, 16))
    rows = [
        ("unchanged model, default gate (k=1), 200 reruns", lambda: failure_rate(default, 200)),
        ("unchanged model, default gate (k=1), 1000 reruns", lambda: failure_rate(default, 1000, seed=7)),
        ("unchanged model, --baseline-k 1,4,16, 200 reruns", lambda: failure_rate(three, 200)),
        ("unchanged model, --baseline-k 1,4,16, 1000 reruns", lambda: failure_rate(three, 1000, seed=7)),
        ("unchanged model, one 30-problem benchmark, no ties, 4000 reruns",
         lambda: failure_rate(default, 4000, seed=11, benchmarks={"x": 30}, rates_of=uniform_rates)),
    ]
    for drop in (0.03, 0.05, 0.10):
        rows.append((f"solve rates {100 * drop:.0f} points lower, default gate, 50 reruns",
                     lambda drop=drop: failure_rate(default, 50, drop=drop, seed=1)))
        rows.append((f"solve rates {100 * drop:.0f} points lower, --baseline-k 1,4,16, 50 reruns",
                     lambda drop=drop: failure_rate(three, 50, drop=drop, seed=2)))
    for label, measure in rows:
        print(f"{label}: gate failed in {100 * measure():.1f}%")
    with mock.patch.object(drop_test, "holm", lambda p: np.asarray(p)):
        print(f"without Holm, default gate, 200 reruns: {100 * failure_rate(default, 200):.1f}%")
        print(f"without Holm, --baseline-k 1,4,16, 200 reruns: {100 * failure_rate(three, 200):.1f}%")


if __name__ == "__main__":
    main()
