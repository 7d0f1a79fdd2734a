"""Bootstrap intervals over problems: reproducible, and they cover the truth about as often as
they claim on simulated benchmarks."""

import math

import numpy as np

from capability_tests.reporting.bootstrap import BootstrapSettings, resample_weights
from capability_tests.reporting.curves import compute_curve
from capability_tests.results import ProblemResult


def results(counts, benchmark="sim"):
    return [ProblemResult(benchmark, f"p{i:03d}", n, c) for i, (n, c) in enumerate(counts)]


def beta_pass_at_k(a: float, b: float, k: int) -> float:
    """Population pass@k when each problem's solve rate p ~ Beta(a, b): 1 - E[(1-p)^k]."""
    log_ratio = (math.lgamma(b + k) + math.lgamma(a + b)) - (math.lgamma(b) + math.lgamma(a + b + k))
    return 1.0 - math.exp(log_ratio)


def test_interval_brackets_estimate_and_is_reproducible():
    counts = [(8, c % 9) for c in range(40)]
    first = compute_curve("sim", results(counts), BootstrapSettings(resamples=500, seed=3))
    again = compute_curve("sim", results(counts), BootstrapSettings(resamples=500, seed=3))
    assert np.array_equal(first.low, again.low) and np.array_equal(first.high, again.high)
    other = compute_curve("sim", results(counts), BootstrapSettings(resamples=500, seed=4))
    assert not np.array_equal(first.low, other.low) or not np.array_equal(first.high, other.high), \
        "the seed chooses the resamples"
    assert np.all(first.low <= first.curve) and np.all(first.curve <= first.high)
    assert np.all(first.high - first.low > 0)


def test_identical_problems_give_a_zero_width_interval():
    bench = compute_curve("sim", results([(4, 1)] * 10), BootstrapSettings(resamples=200))
    assert np.allclose(bench.low, bench.curve) and np.allclose(bench.high, bench.curve)


def test_weights_are_resample_counts_over_m():
    w = resample_weights(7, BootstrapSettings(resamples=50, seed=1))
    assert w.shape == (50, 7)
    assert np.allclose(w.sum(axis=1), 1.0)
    assert np.allclose(w * 7, np.round(w * 7))


def test_percentile_interval_covers_at_about_its_nominal_rate():
    """Benchmarks of m problems with solve rates ~ Beta(0.6, 1.2), n = 8 samples each: the 90%
    interval for pass@1 and pass@8 should contain the population value ~90% of the time."""
    rng = np.random.default_rng(12345)
    a, b, m, n, reps = 0.6, 1.2, 60, 8, 300
    truth = {k: beta_pass_at_k(a, b, k) for k in (1, 8)}
    settings = BootstrapSettings(resamples=300, level=0.9, seed=0)
    hits = {k: 0 for k in truth}
    for rep in range(reps):
        p = rng.beta(a, b, size=m)
        c = rng.binomial(n, p)
        bench = compute_curve("sim", results([(n, int(x)) for x in c]),
                              BootstrapSettings(settings.resamples, settings.level, seed=rep))
        for k in truth:
            low, high = bench.interval(k)
            hits[k] += low <= truth[k] <= high
    for k, hit in hits.items():
        rate = hit / reps
        # binomial sd at 0.9 over 300 reps is ~0.017; percentile bootstraps under-cover a little
        assert 0.83 <= rate <= 0.96, f"pass@{k}: coverage {rate:.3f}"
