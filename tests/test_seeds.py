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


def test_seeds_are_the_recorded_values():
    """Known values: stored samples are keyed by SEED_POLICY, so the same policy name must keep
    giving every sample the seed it had when it was stored (a changed hash, field order or
    encoding would silently mix samples drawn with other seeds)."""
    assert problem_seed_base(0, "aime24", "65") == 3189259540114760273
    assert sample_seed(0, "aime24", "65", 0) == 3189259540114760273
    assert sample_seed(0, "aime24", "65", 4095) == 3189259540114760273 + 4095
    assert sample_seed(1, "aime24", "65", 0) == 9079558946695224107
    assert sample_seed(0, "aime24", "66", 0) == 101689621148148130
    assert sample_seed(0, "demo", "add", 3) == 2478579708779728850
    assert combined_seed(sample_seeds(0, "demo", "add", (0, 1))) == 4011164398520617988


def test_problems_and_run_seeds_get_their_own_seeds():
    """Each (run seed, benchmark, problem) has its own base: two problems, or two run seeds,
    never draw the same samples (a base that ignored any of them would repeat here)."""
    bases = {problem_seed_base(run_seed, benchmark, str(i))
             for run_seed in (0, 1, 2**32 - 1) for benchmark in ("aime24", "gsm8k") for i in range(500)}
    assert len(bases) == 3 * 2 * 500
    # the fields stay apart: ("ab", "c") is not ("a", "bc")
    assert problem_seed_base(0, "ab", "c") != problem_seed_base(0, "a", "bc")


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
    # the order of the batch changes nothing: reversed indices, reversed seeds
    assert sample_seeds(run_seed, benchmark, problem_id, indices[::-1]) == seeds[::-1]


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
    assert 0 <= combined_seed(first) < 2**63
