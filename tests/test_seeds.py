"""Per-sample seeds (capability_tests.seeds): distinct for every index of a problem by
construction, stable across runs and k, and shaped so that vLLM's n = m requests reproduce them."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from capability_tests.seeds import (
    SEED_MODULUS,
    combined_seed,
    consecutive_runs,
    problem_seed_base,
    sample_seed,
    sample_seeds,
)


def test_a_million_samples_of_one_problem_have_a_million_seeds():
    """The 31-bit hash of before gave two indices of these problems one seed at k = 4096."""
    for benchmark, problem_id in (("aime24", "65"), ("minerva_math", "175")):
        seeds = sample_seeds(0, benchmark, problem_id, range(1_000_000))
        assert len(set(seeds)) == 1_000_000
        assert all(0 <= s < 2**63 for s in (min(seeds), max(seeds)))


@given(st.integers(0, 2**32 - 1), st.text(max_size=8), st.text(max_size=8),
       st.integers(0, 2**62), st.integers(1, 2**62))
def test_two_indices_of_a_problem_never_share_a_seed(run_seed, benchmark, problem_id, i, step):
    j = i + step
    assert sample_seed(run_seed, benchmark, problem_id, i) != sample_seed(
        run_seed, benchmark, problem_id, j)


@given(st.integers(0, 2**32 - 1), st.text(max_size=8), st.text(max_size=8),
       st.lists(st.integers(0, 10**12), max_size=20))
def test_seeds_are_63_bit_stable_and_independent_of_k(run_seed, benchmark, problem_id, indices):
    """Sample i's seed depends on (run seed, benchmark, problem, i) only, never on which other
    indices are asked for (the first k samples of a run at 2k are those of a run at k)."""
    seeds = sample_seeds(run_seed, benchmark, problem_id, indices)
    assert seeds == tuple(sample_seed(run_seed, benchmark, problem_id, i) for i in indices)
    assert all(0 <= s < 2**63 for s in seeds)


@given(st.lists(st.integers(0, 2**63 - 1), max_size=30))
def test_consecutive_runs_rebuild_every_seed_the_vllm_way(seeds):
    """An n = length request seeded with a run's first seed gives child j that seed + j (vLLM's
    rule): it must be exactly the seed of the run's j-th index."""
    rebuilt = []
    for start, length in consecutive_runs(seeds):
        rebuilt += [seeds[start] + j for j in range(length)]
    assert rebuilt == list(seeds)


def test_a_top_up_is_one_run_unless_the_seeds_wrap():
    seeds = sample_seeds(0, "demo", "add", range(2, 6))
    assert consecutive_runs(seeds) == [(0, 4)]
    base = problem_seed_base(0, "demo", "add")
    wrap = SEED_MODULUS - base  # the index whose seed wraps to 0
    seeds = sample_seeds(0, "demo", "add", [wrap - 1, wrap, wrap + 1])
    assert seeds == (SEED_MODULUS - 1, 0, 1) and consecutive_runs(seeds) == [(0, 1), (1, 2)]


def test_combined_seed_depends_on_the_samples_drawn():
    first = sample_seeds(0, "demo", "add", (0, 1))
    top_up = sample_seeds(0, "demo", "add", (2, 3))
    assert combined_seed(first) != combined_seed(top_up)
    assert combined_seed(first) == combined_seed(list(first)) < 2**63
