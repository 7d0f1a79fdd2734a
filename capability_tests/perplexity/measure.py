"""From per-token log-probabilities to perplexity, and the summaries a report shows.

Perplexity of a completion c = (t_1..t_m) given its prompt p under a model M:
exp(-(1/m) * sum_i log P_M(t_i | p, t_1..t_{i-1})). It is stored as (m, the sum of the
log-probabilities), so the value can be recomputed exactly and an empty completion (m = 0, no
perplexity) stays visibly empty instead of becoming a number.
"""

from __future__ import annotations

import math
from typing import Any, Iterable, Mapping, Sequence


class ScoreError(ValueError):
    """Log-probabilities that cannot make a perplexity (not finite, positive, or misaligned)."""


def logprob_total(logprobs: Iterable[float]) -> tuple[int, float]:
    """(token count, sum of log-probabilities); every value must be finite and <= 0."""
    count, total = 0, 0.0
    for value in logprobs:
        value = float(value)
        if not math.isfinite(value) or value > 1e-6:
            raise ScoreError(f"token log-probability {value!r} is not a finite value <= 0")
        count += 1
        total += value
    return count, total


def perplexity(tokens: int, logprob_sum: float) -> float | None:
    """exp(-sum / tokens); None for an empty completion (no tokens: perplexity undefined).
    Overflow (a mean log-probability below about -709) gives inf, which the reports show as is."""
    if tokens <= 0:
        return None
    mean = -logprob_sum / tokens
    try:
        return math.exp(mean)
    except OverflowError:
        return math.inf


def completion_logprobs(prompt_logprobs: Sequence[Mapping[int, Any] | None],
                        prompt_len: int, completion_ids: Sequence[int]) -> list[float]:
    """The log-probabilities of the completion's tokens from vLLM's `prompt_logprobs` of the
    whole sequence prompt + completion (one entry per position, None at position 0, each a
    {token id: Logprob} that holds the token at that position).

    The split is exact because the sequence was built from the two token id lists: position
    prompt_len + j holds completion_ids[j]."""
    if len(prompt_logprobs) != prompt_len + len(completion_ids):
        raise ScoreError(f"{len(prompt_logprobs)} prompt log-probabilities for a sequence of "
                         f"{prompt_len} + {len(completion_ids)} tokens")
    if prompt_len < 1:
        raise ScoreError("an empty prompt leaves the first completion token unconditioned")
    out = []
    for j, token in enumerate(completion_ids):
        entry = prompt_logprobs[prompt_len + j]
        if entry is None or token not in entry:
            raise ScoreError(f"no log-probability for completion token {j} (id {token})")
        value = entry[token]
        out.append(float(getattr(value, "logprob", value)))
    return out


def distribution(values: Sequence[float]) -> dict[str, Any]:
    """count, median, quartiles (q1, q3: linear interpolation, numpy's default), mean, min, max
    of finite values; None where there are none."""
    import numpy as np

    finite = np.asarray([v for v in values if v is not None and math.isfinite(v)], dtype=float)
    out: dict[str, Any] = {"count": int(len(finite))}
    if len(finite) == 0:
        out.update(median=None, q1=None, q3=None, mean=None, min=None, max=None)
        return out
    q1, median, q3 = np.percentile(finite, [25, 50, 75])
    out.update(median=float(median), q1=float(q1), q3=float(q3), mean=float(finite.mean()),
               min=float(finite.min()), max=float(finite.max()))
    return out
