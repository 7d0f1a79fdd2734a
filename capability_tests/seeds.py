"""Per-sample seeds: distinct for every index of a problem by construction, the same for any k.

Why not a hash per (run seed, benchmark, problem, index): hashed into 31 bits, two indices of one
problem share a seed once k reaches a few thousand (`aime24/65` at k = 4096), and two
"independent" samples are then the same text on a deterministic engine.

Policy `SEED_POLICY` ("base63+index"): a 63-bit base per (run seed, benchmark, problem), from a
hash, plus the index, modulo 2**63. Indices 0 .. 2**63 - 1 of one problem get distinct seeds
(adding the index modulo 2**63 is a bijection), every seed fits a signed and an unsigned 64-bit
integer (what `torch.Generator.manual_seed` and vLLM's `SamplingParams(seed=)` take), and
vLLM's own rule for an `n = m` request with seed s (child j gets s + j) gives child j exactly the
seed of index i0 + j: batched and seeded requests draw from the same per-index seeds.

The policy name is part of the store key: samples drawn under another policy are never mixed
with these.
"""

from __future__ import annotations

import hashlib
import json
from typing import Iterable, Sequence

SEED_POLICY = "base63+index"
SEED_BITS = 63
SEED_MODULUS = 1 << SEED_BITS


def problem_seed_base(run_seed: int, benchmark: str, problem_id: str) -> int:
    """The seed of sample 0 of a problem (63 bits of a BLAKE2b hash)."""
    data = json.dumps([SEED_POLICY, run_seed, benchmark, problem_id]).encode()
    return int.from_bytes(hashlib.blake2b(data, digest_size=8).digest(), "big") % SEED_MODULUS


def sample_seed(run_seed: int, benchmark: str, problem_id: str, index: int) -> int:
    """The seed of sample `index` of a problem: the same whatever k the run asked for."""
    if index < 0:
        raise ValueError(f"sample index must not be negative, got {index}")
    return (problem_seed_base(run_seed, benchmark, problem_id) + index) % SEED_MODULUS


def sample_seeds(run_seed: int, benchmark: str, problem_id: str,
                 indices: Iterable[int]) -> tuple[int, ...]:
    """`sample_seed` for several indices of one problem (the base is hashed once)."""
    base = problem_seed_base(run_seed, benchmark, problem_id)
    out = []
    for index in indices:
        if index < 0:
            raise ValueError(f"sample index must not be negative, got {index}")
        out.append((base + index) % SEED_MODULUS)
    return tuple(out)


def consecutive_runs(seeds: Sequence[int]) -> list[tuple[int, int]]:
    """(start position, length) of the runs in `seeds` where each seed is the previous plus one:
    an engine that seeds an `n = length` request with its first seed, and gives sample j the
    seed plus j (vLLM does), reproduces exactly these seeds."""
    runs: list[tuple[int, int]] = []
    for position, seed in enumerate(seeds):
        if runs and seeds[position - 1] + 1 == seed:
            start, length = runs[-1]
            runs[-1] = (start, length + 1)
        else:
            runs.append((position, 1))
    return runs


def combined_seed(seeds: Iterable[int]) -> int:
    """One 63-bit seed for a call that samples several indices at once with one generator (the
    transformers engine in batched mode): other indices give another seed, so a top-up never
    replays the random stream of the samples it adds to."""
    data = json.dumps([SEED_POLICY, list(seeds)]).encode()
    return int.from_bytes(hashlib.blake2b(data, digest_size=8).digest(), "big") % SEED_MODULUS
