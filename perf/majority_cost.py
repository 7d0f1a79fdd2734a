"""Time and peak memory of maj@k per problem (capability_tests/majority.py) at large n: the exact
class-count table (n <= 1000) and the seeded resampling beyond. Figures in docs/PERFORMANCE.md.

    python perf/majority_cost.py
"""

from __future__ import annotations

import time
import tracemalloc

import numpy as np

from capability_tests.majority import AnswerClasses, majority_at_k_curve, method_for

CASES = {
    # a typical hard problem: few correct, one popular wrong answer, a long tail of singletons
    "n=256 hard": AnswerClasses(8, (60, 20, 10) + (1,) * 150, 8),
    "n=1000 hard": AnswerClasses(30, (300, 100, 50) + (1,) * 480, 40),
    "n=1000 two big classes (worst)": AnswerClasses(500, (500,), 0),
    "n=1000 many equal classes": AnswerClasses(100, (30,) * 30, 0),
    "n=1024 hard (resampled)": AnswerClasses(30, (300, 100, 50) + (1,) * 504, 40),
    "n=4096 hard (resampled)": AnswerClasses(100, (1200, 400, 200) + (1,) * 2000, 196),
}


def main() -> None:
    print("| case | method | seconds | peak MB |\n|---|---|---:|---:|")
    for name, classes in CASES.items():
        tracemalloc.start()
        start = time.perf_counter()
        curve = majority_at_k_curve(classes)
        seconds = time.perf_counter() - start
        peak = tracemalloc.get_traced_memory()[1] / 2**20
        tracemalloc.stop()
        assert np.all((curve >= 0) & (curve <= 1))
        print(f"| {name} | {method_for(classes)} | {seconds:.2f} | {peak:.0f} |")



def benchmark_report(problems: int, n: int, resamples: int = 2000) -> float:
    """Seconds of compute_curve (every curve and band) for a synthetic benchmark."""
    from capability_tests.reporting.bootstrap import BootstrapSettings
    from capability_tests.reporting.curves import compute_curve
    from capability_tests.results import ProblemResult

    rng = np.random.default_rng(1)
    results = []
    for i in range(problems):
        c = int(rng.integers(0, n // 4)) if i % 3 else 0
        popular = int(rng.integers(1, (n - c) // 2 + 1))
        tail = n - c - popular
        singles = int(rng.integers(0, tail + 1))
        wrong = (popular,) + (1,) * singles + ((tail - singles,) if tail - singles else ())
        results.append(ProblemResult("aime24", f"p{i}", n, c, wrong_classes=wrong))
    start = time.perf_counter()
    compute_curve("aime24", results, BootstrapSettings(resamples=resamples))
    return time.perf_counter() - start


if __name__ == "__main__":
    main()
    for problems, n in ((30, 256), (30, 1024), (500, 64), (500, 256)):
        print(f"benchmark report: {problems} problems x n={n}: {benchmark_report(problems, n):.1f} s")
