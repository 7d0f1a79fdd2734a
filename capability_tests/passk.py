"""The unbiased pass@k estimator of Chen et al. 2021 ("Evaluating Large Language Models Trained
on Code"): for one problem with n samples of which c are correct,

    pass@k = 1 - C(n - c, k) / C(n, k)

computed as 1 - prod_{i = n-c+1}^{n} (1 - k / i), which never forms the huge binomials and stays
accurate for n in the thousands.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np


def pass_at_k(n: int, c: int, k: int) -> float:
    """Probability that at least one of k samples drawn without replacement from n is correct.

    The textbook form for one (n, c, k); reports use the curves below (every k at once).
    """
    if not 0 <= c <= n:
        raise ValueError(f"need 0 <= c <= n, got n={n}, c={c}")
    if not 1 <= k <= n:
        raise ValueError(f"need 1 <= k <= n, got k={k}, n={n}")
    if n - c < k:
        return 1.0
    return float(1.0 - np.prod(1.0 - k / np.arange(n - c + 1, n + 1)))


def report_ks(n: int) -> list[int]:
    """The k values reported for n samples: 1, 2, 4, ... up to n, and n itself."""
    ks = []
    k = 1
    while k <= n:
        ks.append(k)
        k *= 2
    if ks and ks[-1] != n:
        ks.append(n)
    return ks


# -- every k at once -----------------------------------------------------------------------------


def _running_product(n: int, m: int, max_k: int, c: int) -> np.ndarray:
    """C(m, k) / C(n, k) for k = 1..max_k, as prod_{j<k} (m-j)/(n-j) (factors clipped to [0, 1])."""
    if not 0 <= c <= n:
        raise ValueError(f"need 0 <= c <= n, got n={n}, c={c}")
    if not 1 <= max_k <= n:
        raise ValueError(f"need 1 <= k <= n, got k={max_k}, n={n}")
    j = np.arange(max_k, dtype=np.float64)
    return np.cumprod(np.clip((m - j) / (n - j), 0.0, 1.0))


def pass_at_k_curve(n: int, c: int, max_k: int | None = None) -> np.ndarray:
    """pass@k of one problem for every k = 1..max_k (default n), as a float array of length max_k.

    Uses C(n-c, k) / C(n, k) = prod_{j=0}^{k-1} (n-c-j) / (n-j): a running product of factors in
    [0, 1], so it never overflows and stays accurate for n in the thousands (relative error about
    k machine epsilons). A factor of 0 (k > n-c) makes every later pass@k exactly 1.
    """
    return 1.0 - _running_product(n, n - c, n if max_k is None else max_k, c)


def pass_at_k_matrix(counts: Sequence[tuple[int, int]], max_k: int | None = None) -> np.ndarray:
    """Per-problem curves, shape (problems, max_k); max_k defaults to the smallest n.

    Problems with the same (n, c) share one computed row, so cost grows with the number of
    distinct pairs, not of problems.
    """
    if not counts:
        return np.zeros((0, max_k or 0))
    max_k = min(n for n, _ in counts) if max_k is None else max_k
    rows: dict[tuple[int, int], np.ndarray] = {}
    out = np.empty((len(counts), max_k))
    for i, (n, c) in enumerate(counts):
        key = (int(n), int(c))
        if key not in rows:
            rows[key] = pass_at_k_curve(key[0], key[1], max_k)
        out[i] = rows[key]
    return out


def mean_pass_at_k_curve(counts: Sequence[tuple[int, int]], max_k: int | None = None) -> np.ndarray:
    """Benchmark-level pass@k for k = 1..max_k (default: the smallest n): index k-1 holds pass@k."""
    if not counts:
        raise ValueError("no problems to average")
    return pass_at_k_matrix(counts, max_k).mean(axis=0)


# -- pass^k: all k samples right ------------------------------------------------------------------


def pass_all_k_curve(n: int, c: int, max_k: int | None = None) -> np.ndarray:
    """pass^k of one problem for k = 1..max_k (default n): the unbiased estimate of "all k samples
    are correct", C(c, k) / C(n, k) = prod_{j=0}^{k-1} (c-j) / (n-j), a running product of factors
    in [0, 1] (a factor of 0, k > c, makes every later value exactly 0)."""
    return _running_product(n, c, n if max_k is None else max_k, c)
