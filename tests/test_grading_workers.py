"""How many grading processes a run starts: the CPUs this process may use (its affinity), shared
among the xdist workers of the run (capability_tests.grading.pool.default_workers)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from hypothesis import given
from hypothesis import strategies as st

from capability_tests.grading.pool import GradingPool, default_workers, usable_cpus


def xdist_env(index: int, count: int) -> dict:
    return {"PYTEST_XDIST_WORKER": f"gw{index}", "PYTEST_XDIST_WORKER_COUNT": str(count)}


def test_outside_xdist_the_process_gets_every_usable_cpu():
    assert default_workers(8, environ={}) == 8


def test_xdist_workers_split_the_cpus():
    assert [default_workers(8, xdist_env(i, 3)) for i in range(3)] == [3, 3, 2]
    assert [default_workers(2, xdist_env(i, 4)) for i in range(4)] == [1, 1, 1, 1]


@given(cpus=st.integers(1, 512), count=st.integers(1, 64))
def test_the_shares_cover_the_cpus_and_every_worker_gets_one(cpus, count):
    shares = [default_workers(cpus, xdist_env(i, count)) for i in range(count)]
    assert min(shares) >= 1 and max(shares) - min(shares) <= 1
    assert sum(shares) == max(cpus, count)


def test_usable_cpus_follow_the_affinity_mask_not_the_machine():
    if not hasattr(os, "sched_setaffinity"):
        pytest.skip("no CPU affinity on this platform")  # the fallback is os.cpu_count()
    first = min(os.sched_getaffinity(0))
    code = ("import os; os.sched_setaffinity(0, {%d}); "
            "from capability_tests.grading.pool import usable_cpus, GradingPool; "
            "print(usable_cpus(), GradingPool().size)" % first)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                         env={k: v for k, v in os.environ.items()
                              if not k.startswith("PYTEST_XDIST")})
    assert out.stdout.split() == ["1", "1"], out.stderr
    assert usable_cpus() == len(os.sched_getaffinity(0))


def test_a_pool_without_a_size_takes_this_workers_share(monkeypatch):
    for key, value in xdist_env(1, 2).items():
        monkeypatch.setenv(key, value)
    with GradingPool() as pool:  # no worker starts before the first sample
        assert pool.size == max(1, usable_cpus() // 2)
    with GradingPool(workers=5) as pool:  # --grading-workers wins
        assert pool.size == 5
