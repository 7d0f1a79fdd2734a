"""Benchmarks: a registry of named problem sets and the loaders that turn their rows into Problems.

Adding a benchmark means adding one `Benchmark` to `catalog.py` (or registering one through the
`capability_tests.benchmarks` entry point group).
"""

from capability_tests.benchmarks.base import Benchmark, BenchmarkError, HubSource
from capability_tests.benchmarks.registry import (
    LoadedBenchmark,
    available_benchmarks,
    get_benchmark,
    load_benchmark,
    load_problems,
)

__all__ = [
    "Benchmark",
    "BenchmarkError",
    "HubSource",
    "LoadedBenchmark",
    "available_benchmarks",
    "get_benchmark",
    "load_benchmark",
    "load_problems",
]
