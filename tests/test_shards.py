"""Shards of problems under xdist (capability_tests.shards): balanced, benchmark-mixed, the same
on the controller and on every worker."""

from __future__ import annotations

from collections import Counter

from hypothesis import given
from hypothesis import strategies as st

from capability_tests.shards import SHARDS_PER_WORKER, problem_of, shard_count, shard_map


def ids(benchmark, n, test="test_math"):
    return [f"test_math.py::{test}[{benchmark}/{i}]" for i in range(n)]


def test_problem_of_reads_the_capability_test_id():
    assert problem_of("test_math.py::test_math[aime24/60]") == "aime24/60"
    assert problem_of("test_math.py::test_math[math500/test/algebra/1.json]@g") == \
        "math500/test/algebra/1.json"
    assert problem_of("tests/test_x.py::test_y[1-2]") is None
    assert problem_of("tests/test_x.py::test_y") is None


def test_a_big_and_a_small_benchmark_spread_over_every_worker():
    nodeids = ids("gsm8k", 1319) + ids("aime24", 30)
    shards = shard_map(nodeids, workers=4)
    assert len(set(shards.values())) == 4 * SHARDS_PER_WORKER
    sizes = Counter(shards.values())
    assert max(sizes.values()) - min(sizes.values()) <= 1  # 84 or 85 problems each
    aime = Counter(s for p, s in shards.items() if p.startswith("aime24/"))
    assert len(aime) == 16 and max(aime.values()) <= 2  # AIME's long answers spread out too


def test_few_problems_make_one_shard_each_and_other_tests_none():
    shards = shard_map(ids("demo", 3) + ["tests/test_other.py::test_a"], workers=2)
    assert shards == {"demo/0": 0, "demo/1": 1, "demo/2": 2}


def test_a_problem_in_two_test_functions_is_one_problem():
    shards = shard_map(ids("demo", 4) + ids("demo", 4, test="test_other"), workers=1)
    assert sorted(shards) == [f"demo/{i}" for i in range(4)]


@given(sizes=st.lists(st.integers(0, 300), min_size=1, max_size=6), workers=st.integers(1, 16))
def test_shards_are_balanced_and_deterministic(sizes, workers):
    nodeids = [n for b, size in enumerate(sizes) for n in ids(f"b{b}", size)]
    shards = shard_map(nodeids, workers)
    # the controller's ids carry xdist's "@group" suffix, a worker's do not: the same map
    assert shards == shard_map([f"{n}@capability-shard-{i % 3}" for i, n in enumerate(nodeids)],
                               workers)
    for b, size in enumerate(sizes):  # every shard holds an even slice of every benchmark
        per_shard = Counter(s for p, s in shards.items() if p.startswith(f"b{b}/"))
        if size and size >= len(set(shards.values())):
            assert max(per_shard.values()) - min(per_shard.values()) <= 1, (b, per_shard)
    total = sum(sizes)
    assert len(shards) == total
    if total:
        counts = Counter(shards.values())
        assert len(counts) == shard_count(total, workers) <= workers * SHARDS_PER_WORKER
        assert max(counts.values()) - min(counts.values()) <= 1
