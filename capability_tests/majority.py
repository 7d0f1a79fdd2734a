"""maj@k: the probability that the majority answer of k samples is the correct one, estimated
without bias from n >= k samples of one problem.

A problem's samples fall into *answer classes* (answers the grader would call equal; see
`reporting/answer_classes.py`): the correct class (size c), wrong classes (sizes w_1..w_m) and
samples with no answer (z), which cast no vote. For a k-subset drawn uniformly without replacement
from the n samples, the subset's majority answer is the class with the most votes; when r wrong
classes tie with the correct class for the most votes, the tie is broken uniformly at random, so
the subset counts 1/(r+1). A subset with no votes at all (every sample without an answer) counts 0.
maj@k is the expectation of that count over the C(n, k) subsets: the unbiased estimate of "the
majority answer of k fresh samples is right", exactly as pass@k's C(n-c, k)/C(n, k) is for "some
sample is right".

Exact computation (`EXACT`): for x = 1..c correct votes in the subset, the ways to draw the other
k-x samples with every wrong class below x, or at x with r ties, are the coefficients of
    (1+t)^(z + sizes of classes smaller than x) * prod_{w_i >= x} (sum_{j<x} C(w_i,j) t^j + u C(w_i,x) t^x)
in t^(k-x) u^r. One table gives every k at once. Counts are float64 (no cancellation: all terms
are positive), which holds binomials up to n = EXACT_MAX_N.

Resampling (`RESAMPLED`), when the exact table would be too large (n > EXACT_MAX_N or many large
wrong classes): RESAMPLES random orderings of the n samples (numpy PCG64, seed RESAMPLE_SEED for
every problem, so a report is reproducible); the first k samples of a uniform random ordering are
a uniform random k-subset, so one ordering scores every k at once. Its standard error is at most
0.5/sqrt(RESAMPLES) per problem and k (about 0.011), less after averaging over problems.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from math import comb

import numpy as np

EXACT = "exact"
RESAMPLED = "resampled"
EXACT_MAX_N = 1000  # C(1000, 500) ~ 2.7e299 still fits a float64
EXACT_BUDGET = 300_000_000  # element-operations of the exact table before falling back
RESAMPLES = 2000
RESAMPLE_SEED = 0
_CHUNK_CELLS = 1 << 18  # orderings x samples processed at once (~25 MB of working arrays)


@dataclass(frozen=True)
class AnswerClasses:
    """One problem's samples grouped into answer classes: `correct` samples (one class),
    `wrong` class sizes (descending), `no_answer` samples (no vote)."""

    correct: int
    wrong: tuple[int, ...] = ()
    no_answer: int = 0

    def __post_init__(self) -> None:
        if self.correct < 0 or self.no_answer < 0 or any(w < 1 for w in self.wrong):
            raise ValueError(f"invalid answer classes {self!r}")
        object.__setattr__(self, "wrong", tuple(sorted((int(w) for w in self.wrong), reverse=True)))

    @property
    def n(self) -> int:
        return self.correct + sum(self.wrong) + self.no_answer

    @property
    def distinct(self) -> int:
        """Distinct answers given (answer classes, the correct one included when given)."""
        return len(self.wrong) + (1 if self.correct else 0)


@lru_cache(maxsize=2048)
def _binomials(m: int) -> np.ndarray:
    """C(m, j) for j = 0..m as float64 (m <= EXACT_MAX_N)."""
    return np.array([float(comb(m, j)) for j in range(m + 1)])


def exact_cost(classes: AnswerClasses) -> int:
    """Element-operations the exact table needs (what decides exact vs resampled)."""
    others = classes.n - classes.correct
    cost = 0
    for x in range(1, classes.correct + 1):
        big = sum(1 for w in classes.wrong if w >= x)
        if not big:
            break
        if x == 1:  # univariate (see _exact)
            cost += big * (others + 1) + (others + 1) ** 2
            continue
        ties = min(big, others // x) + 1
        cost += big * (x + 1) * (others + 1) * ties + (others + 1) ** 2
    return cost


def method_for(classes: AnswerClasses) -> str:
    if classes.n <= EXACT_MAX_N and exact_cost(classes) <= EXACT_BUDGET:
        return EXACT
    return RESAMPLED


def majority_at_k_curve(classes: AnswerClasses, max_k: int | None = None) -> np.ndarray:
    """maj@1..max_k (default n) of one problem; index k-1 holds maj@k."""
    n = classes.n
    max_k = n if max_k is None else int(max_k)
    if not 1 <= max_k <= n:
        raise ValueError(f"need 1 <= k <= n, got k={max_k}, n={n}")
    if classes.correct == 0:
        return np.zeros(max_k)
    if classes.correct == n:
        return np.ones(max_k)
    if method_for(classes) == EXACT:
        return _exact(classes)[:max_k]
    return _resampled(classes)[:max_k]


def _exact(classes: AnswerClasses) -> np.ndarray:
    c, n = classes.correct, classes.n
    others = n - c
    counts = np.zeros(n + 1)  # counts[k]: tie-weighted number of winning k-subsets
    choose_c = _binomials(c)
    for x in range(1, c + 1):
        big = [w for w in classes.wrong if w >= x]
        free = others - sum(big)  # samples that can never out-vote x correct ones
        if big and x == 1:
            # one correct vote: every wrong vote ties it, so the tie count is the wrong votes'
            # number v, and the table is univariate: prod (1 + w_i t), coefficient v weighted 1/(v+1)
            table = np.ones(1)
            for w in big:
                table = np.convolve(table, [1.0, float(w)])
            weighted = table / np.arange(1, len(table) + 1)
            weighted = np.convolve(_binomials(free), weighted)[:others + 1]
        elif big:
            ties = min(len(big), others // x)
            table = np.zeros((others + 1, ties + 1))  # [t-degree, r]
            table[0, 0] = 1.0
            filled = 0  # highest t-degree reached so far
            for w in big:
                row = _binomials(w)
                new = np.zeros_like(table)
                top = min(others, filled + x)
                if ties + 1 < x:  # fewer numpy calls per tie column than per vote count
                    below = row[:x]  # this class with fewer than x votes: no tie
                    for r in range(ties + 1):
                        product = np.convolve(below, table[:filled + 1, r])[:top + 1]
                        new[:len(product), r] = product
                else:
                    for j in range(x):
                        width = min(filled, top - j) + 1
                        new[j:j + width] += row[j] * table[:width]
                width = min(filled, top - x) + 1
                if width > 0:
                    new[x:x + width, 1:] += row[x] * table[:width, :-1]
                table, filled = new, top
            weighted = table @ (1.0 / np.arange(1, ties + 2))
            weighted = np.convolve(_binomials(free), weighted[:filled + 1])[:others + 1]
        else:
            weighted = _binomials(others)
        span = min(len(weighted), n + 1 - x)
        counts[x:x + span] += choose_c[x] * weighted[:span]
    ks = np.arange(1, n + 1)
    totals = _binomials(n)[ks]
    return np.clip(counts[1:] / totals, 0.0, 1.0)


def _labels(classes: AnswerClasses) -> np.ndarray:
    """One label per sample: 0 correct, -1 no answer, 1..m the wrong classes."""
    parts = [np.zeros(classes.correct, dtype=np.int32), np.full(classes.no_answer, -1, dtype=np.int32)]
    parts += [np.full(w, i, dtype=np.int32) for i, w in enumerate(classes.wrong, start=1)]
    return np.concatenate(parts)


def majority_scores(orderings: np.ndarray) -> np.ndarray:
    """(orderings, n) sample labels in drawn order -> (orderings, n): the tie-weighted score of
    the first k samples' majority, for every k (column k-1)."""
    rows, n = orderings.shape
    position = np.arange(n)
    order = np.argsort(orderings, axis=1, kind="stable")
    ranked = np.take_along_axis(orderings, order, axis=1)
    starts = np.zeros_like(ranked)
    changed = np.ones((rows, n), dtype=bool)
    changed[:, 1:] = ranked[:, 1:] != ranked[:, :-1]
    starts = np.maximum.accumulate(np.where(changed, position, 0), axis=1)
    occurrence = np.empty_like(ranked)
    np.put_along_axis(occurrence, order, position - starts + 1, axis=1)  # votes so far, own class
    wrong = orderings > 0
    correct_votes = np.cumsum(orderings == 0, axis=1)
    wrong_occurrence = np.where(wrong, occurrence, 0)
    top = np.maximum.accumulate(wrong_occurrence, axis=1)  # most votes of any wrong class
    at_top = wrong & (wrong_occurrence == top)  # a wrong class reaches the current top here
    reached = np.cumsum(at_top, axis=1)
    rose = np.ones((rows, n), dtype=bool)
    rose[:, 1:] = top[:, 1:] != top[:, :-1]
    level_start = np.maximum.accumulate(np.where(rose, position, 0), axis=1)
    before = np.where(level_start > 0,
                      np.take_along_axis(reached, np.maximum(level_start - 1, 0), axis=1), 0)
    tied = reached - before  # wrong classes at the top level
    score = np.where(correct_votes > top, 1.0, 0.0)
    tie = (correct_votes == top) & (correct_votes > 0)
    return np.where(tie, 1.0 / (tied + 1), score)


def _resampled(classes: AnswerClasses) -> np.ndarray:
    labels = _labels(classes)
    rng = np.random.default_rng(RESAMPLE_SEED)
    total = np.zeros(len(labels))
    done = 0
    while done < RESAMPLES:
        rows = min(max(1, _CHUNK_CELLS // len(labels)), RESAMPLES - done)
        orderings = rng.permuted(np.broadcast_to(labels, (rows, len(labels))), axis=1)
        total += majority_scores(orderings).sum(axis=0)
        done += rows
    return total / RESAMPLES
