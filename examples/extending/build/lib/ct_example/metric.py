"""A metric: two@k, "at least two of k samples are right" (the unbiased estimator, like pass@k's:
1 - [C(n-c, k) + c C(n-c, k-1)] / C(n, k)). One registration gives it summary.json keys, CSV
columns, a Markdown table, a terminal line, a plot line and gates (`--fail-under labphys:two@4>=0.5`)."""

from __future__ import annotations

from math import comb

import numpy as np

from capability_tests import Metric


def two_right(n: int, c: int, classes, max_k: int) -> np.ndarray:
    out = np.zeros(max_k)
    for k in range(1, max_k + 1):
        fewer = comb(n - c, k) + c * comb(n - c, k - 1)
        out[k - 1] = 1.0 - fewer / comb(n, k)
    return out


TWO_RIGHT = Metric(symbol="two@", key="two_at_k", title="two@k: at least two of k samples are right",
                   description="Unbiased: 1 - [C(n-c, k) + c C(n-c, k-1)] / C(n, k) per problem, averaged.",
                   problem_curve=two_right, color="#8c564b")
