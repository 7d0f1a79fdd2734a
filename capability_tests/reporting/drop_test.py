"""Is a pass@k drop against a baseline real? A one-sided paired sign-flip test per (benchmark, k),
and Holm's correction across all the pairs a gate tests.

Why a sign-flip (randomisation) test over problems: if the model did not change, a rerun with
another seed draws each problem's samples from the same distribution as the baseline did, so each
problem's difference `baseline pass@k - current pass@k` is symmetric around 0 and flipping its
sign leaves the data's distribution unchanged. The test compares the observed mean drop with the
mean drops under random sign flips; the p-value `(1 + #{flipped >= observed}) / (1 + flips)` keeps
the false-alarm rate at or below the level without assuming normality or many problems (the
percentile bootstrap under-covers on 30-problem benchmarks). It needs the two runs to use the same
n and sampling settings (else the differences are not symmetric), which the gate checks.

Why Holm: a gate that tests m (benchmark, k) pairs at level alpha each raises a false alarm with
probability up to m * alpha. Holm-Bonferroni keeps the family-wise error rate at alpha under any
dependence between the tests (the ks of one benchmark are strongly dependent) and is uniformly more
powerful than plain Bonferroni.

Deterministic: the sign flips come from numpy's PCG64 seeded by the report seed and the
benchmark's name, so a report is reproducible bit for bit.
"""

from __future__ import annotations

import math
import zlib
from typing import Sequence

import numpy as np

METHOD = "one-sided paired sign-flip test over problems, Holm-Bonferroni across (benchmark, k)"
MIN_FLIPS_PER_THRESHOLD = 10  # the smallest p-value is this many times below the strictest Holm threshold
_CHUNK_CELLS = 2_000_000  # flips x problems held at once
_TIE = 1e-12


def flips_needed(tests: int, alpha: float, floor: int) -> int:
    """Flips so that the smallest possible p-value, 1/(1+flips), is well below alpha/tests (the
    strictest Holm threshold); at least `floor`."""
    return max(int(floor), math.ceil(MIN_FLIPS_PER_THRESHOLD * max(1, tests) / alpha))


def sign_flip_pvalues(drops: np.ndarray, flips: int, seed: int, name: str = "") -> np.ndarray:
    """One-sided p-values of "mean drop > 0" for each column of `drops` (problems x ks).

    The same sign vectors are applied to every column (one draw per problem), so the columns'
    p-values are computed on the same randomisation, as the ks of one run are."""
    drops = np.atleast_2d(np.asarray(drops, dtype=float))
    if drops.shape[0] == 0:
        raise ValueError("need at least one problem")
    problems = drops.shape[0]
    observed = drops.mean(axis=0)
    rng = np.random.default_rng([int(seed), zlib.crc32(name.encode())])
    at_least = np.zeros(drops.shape[1], dtype=np.int64)
    step = max(1, _CHUNK_CELLS // problems)
    for start in range(0, flips, step):
        rows = min(step, flips - start)
        signs = rng.integers(0, 2, size=(rows, problems), dtype=np.int8) * 2 - 1
        flipped = (signs @ drops) / problems
        at_least += np.count_nonzero(flipped >= observed - _TIE, axis=0)
    return (1.0 + at_least) / (1.0 + flips)


def holm(pvalues: Sequence[float]) -> np.ndarray:
    """Holm-Bonferroni adjusted p-values (reject a hypothesis when its adjusted p <= alpha)."""
    p = np.asarray(pvalues, dtype=float)
    m = p.size
    if m == 0:
        return p
    order = np.argsort(p, kind="stable")
    scaled = np.minimum(1.0, (m - np.arange(m)) * p[order])
    adjusted = np.empty(m)
    adjusted[order] = np.maximum.accumulate(scaled)
    return adjusted
