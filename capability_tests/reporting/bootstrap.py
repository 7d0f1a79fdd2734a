"""Bootstrap over problems: the uncertainty of a benchmark's pass@k curve.

Method (documented in docs/REPORTS.md): a nonparametric *percentile* bootstrap that resamples the
benchmark's problems with replacement (each problem keeps its own n samples and c correct), recomputes
the mean pass@k for every k, and takes the (1-level)/2 and (1+level)/2 quantiles. Defaults: 2000
resamples, 95 % level, seed 0 (numpy PCG64), so a report is reproducible bit for bit.

Resampling problems captures both sources of noise at once (which problems the benchmark happens to
hold, and which samples each problem happened to draw), because each problem's estimate carries its
own sampling noise. Paired comparisons (two runs on the same problems) resample the problem ids once
and apply the same draw to both runs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Hashable, Sequence

import numpy as np

DEFAULT_RESAMPLES = 2000
DEFAULT_LEVEL = 0.95
DEFAULT_SEED = 0
METHOD = "percentile bootstrap over problems"
_CHUNK_CELLS = 4_000_000  # resamples x k columns held at once (32 MB of float64)


@dataclass(frozen=True)
class BootstrapSettings:
    resamples: int = DEFAULT_RESAMPLES
    level: float = DEFAULT_LEVEL
    seed: int = DEFAULT_SEED

    def __post_init__(self) -> None:
        if self.resamples < 1:
            raise ValueError(f"resamples must be at least 1, got {self.resamples}")
        if not 0 < self.level < 1:
            raise ValueError(f"level must be in (0, 1), got {self.level}")

    @property
    def quantiles(self) -> tuple[float, float]:
        tail = (1.0 - self.level) / 2.0
        return tail, 1.0 - tail

    def to_json(self) -> dict[str, Any]:
        return {
            "method": METHOD,
            "level": self.level,
            "resamples": self.resamples,
            "seed": self.seed,
        }


def resample_weights(problems: int, settings: BootstrapSettings) -> np.ndarray:
    """(resamples, problems) weights: how often each problem is drawn in each resample, over m.

    The mean of any per-problem quantity x over resample b is then `weights[b] @ x`.
    """
    if problems < 1:
        raise ValueError("need at least one problem to resample")
    rng = np.random.default_rng(settings.seed)
    counts = rng.multinomial(problems, np.full(problems, 1.0 / problems), size=settings.resamples)
    return counts / problems


def _collapse(keys: Sequence[Hashable]) -> tuple[list[Hashable], np.ndarray]:
    index: dict[Hashable, int] = {}
    inverse = np.empty(len(keys), dtype=np.intp)
    for i, key in enumerate(keys):
        inverse[i] = index.setdefault(key, len(index))
    return list(index), inverse


def grouped_weights(weights: np.ndarray, keys: Sequence[Hashable]) -> tuple[list[Hashable], np.ndarray]:
    """Sum the weights of problems that share a key (e.g. the same (n, c)): far fewer columns."""
    unique, inverse = _collapse(keys)
    grouped = np.zeros((len(unique), weights.shape[0]))
    np.add.at(grouped, inverse, weights.T)
    return unique, grouped.T


def resampled_means(
    weights: np.ndarray, keys: Sequence[Hashable], rows, columns: slice
) -> np.ndarray:
    """(resamples, len(columns)) means over resampled problems of `rows(key)[columns]`.

    `keys[i]` identifies problem i's row; identical keys share one computed row.
    """
    unique, grouped = grouped_weights(weights, keys)
    table = np.stack([np.asarray(rows(key))[columns] for key in unique])
    return grouped @ table


def column_chunks(width: int, resamples: int) -> list[slice]:
    step = max(1, _CHUNK_CELLS // max(1, resamples))
    return [slice(start, min(width, start + step)) for start in range(0, width, step)]


def percentile_interval(
    weights: np.ndarray, keys: Sequence[Hashable], rows, width: int, settings: BootstrapSettings
) -> tuple[np.ndarray, np.ndarray]:
    """Percentile interval of the mean of per-problem rows, for each of `width` columns."""
    low = np.empty(width)
    high = np.empty(width)
    q = settings.quantiles
    for columns in column_chunks(width, weights.shape[0]):
        means = resampled_means(weights, keys, rows, columns)
        low[columns], high[columns] = np.quantile(means, q, axis=0)
    return low, high
