"""`--shard I/N`: which of the selected problems one machine of N samples (docs/SCALING.md).

Not the xdist shards of `shards.py` (units of one session's workers): these are slices of the
final selection that separate sessions on separate machines run, each with its own store and
run folder, merged afterwards by `capability-tests merge`.

The plan is a pure function of the selection (problem keys with their benchmarks), N and
`--max-tokens`: it never depends on collection order, the machine or the time, so every machine
computes the same slices and together they cover the selection exactly once.

Balanced by expected cost, not by count: a problem costs k x its benchmark's expected completion
length (`EXPECTED_TOKENS`, capped at --max-tokens); k is the same for every problem, so the plan
balances expected tokens. Greedy longest-first (LPT): problems in order of falling cost (ties by
key), each to the shard with the least cost so far (ties: the lowest index). The most and least
loaded shards then differ by at most one problem's cost, and every benchmark spreads over all
shards. The lengths are estimates (chain-of-thought length grows with a benchmark's difficulty);
a wrong estimate costs balance, never correctness.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from typing import Iterable, Mapping

PLAN_VERSION = "lpt-expected-tokens-1"  # recorded: runs planned otherwise are not merged

# Expected completion tokens per sample of a chain-of-thought answer, by benchmark: an estimate
# of relative length (grade-school word problems short, competition problems long), used only to
# balance shards.
EXPECTED_TOKENS: Mapping[str, int] = {
    "gsm8k": 300,
    "math500": 600,
    "minerva_math": 700,
    "olympiadbench": 1000,
    "amc23": 1000,
    "aime24": 1500,
    "humaneval": 300,
    "humaneval_plus": 300,
    "mbpp_plus": 300,
    "livecodebench": 1000,
    "demo": 100,
}
UNKNOWN_FRACTION = 4  # a benchmark not in the table: --max-tokens / 4

_SPEC = re.compile(r"\s*(\d+)\s*/\s*(\d+)\s*")


@dataclass(frozen=True)
class ShardSpec:
    """`--shard I/N`: shard `index` (0-based) of `count`."""

    index: int
    count: int

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"


def parse_shard(text: str) -> ShardSpec:
    """`I/N` with 0 <= I < N (argparse `type=`; ValueError names what is wrong)."""
    match = _SPEC.fullmatch(text)
    if not match:
        raise ValueError(f"expected I/N (shard I of N, counting from 0), got {text!r}")
    index, count = int(match.group(1)), int(match.group(2))
    if count < 1:
        raise ValueError(f"N must be at least 1, got {text!r}")
    if index >= count:
        raise ValueError(f"I counts from 0 to N-1, got {text!r} (the last shard of {count} is "
                         f"{count - 1}/{count})")
    return ShardSpec(index, count)


def expected_tokens(benchmark: str, max_tokens: int) -> int:
    """A sample's expected completion length on `benchmark`, at most `max_tokens`."""
    guess = EXPECTED_TOKENS.get(benchmark, max(1, max_tokens // UNKNOWN_FRACTION))
    return max(1, min(guess, max_tokens))


def plan(problems: Iterable[tuple[str, str]], count: int, max_tokens: int) -> dict[str, int]:
    """(problem key, benchmark) pairs -> {key: shard}, the same on every machine."""
    costs = {key: expected_tokens(benchmark, max_tokens) for key, benchmark in problems}
    loads = [0] * count
    out: dict[str, int] = {}
    for key in sorted(costs, key=lambda k: (-costs[k], k)):
        shard = min(range(count), key=lambda s: (loads[s], s))
        out[key] = shard
        loads[shard] += costs[key]
    return out


def shard_costs(assignment: Mapping[str, int], benchmarks: Mapping[str, str], count: int,
                max_tokens: int) -> list[int]:
    """Each shard's expected tokens per sample index (x k for the shard's total)."""
    loads = [0] * count
    for key, shard in assignment.items():
        loads[shard] += expected_tokens(benchmarks[key], max_tokens)
    return loads


def selection_digest(keys: Iterable[str]) -> str:
    """SHA-256 of the sorted selected problem keys: shards of one run agree on it."""
    return hashlib.sha256(json.dumps(sorted(keys)).encode()).hexdigest()
