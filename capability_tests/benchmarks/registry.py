"""Find benchmarks by name (built-ins and entry-point plugins) and load their problems."""

from __future__ import annotations

import functools
from importlib.metadata import entry_points
from pathlib import Path

from capability_tests.benchmarks.base import Benchmark, BenchmarkError, read_jsonl
from capability_tests.benchmarks.catalog import BUILTIN_BENCHMARKS
from capability_tests.problems import Problem

ENTRY_POINT_GROUP = "capability_tests.benchmarks"


@functools.cache
def _registry() -> dict[str, Benchmark]:
    found = {b.name: b for b in BUILTIN_BENCHMARKS}
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        benchmark = ep.load()
        if not isinstance(benchmark, Benchmark):
            raise BenchmarkError(
                f"entry point {ep.name!r} in group {ENTRY_POINT_GROUP} must point at a Benchmark, "
                f"got {type(benchmark).__name__}"
            )
        found[benchmark.name] = benchmark
    return found


def available_benchmarks() -> list[str]:
    return sorted(_registry())


def get_benchmark(name: str) -> Benchmark:
    try:
        return _registry()[name]
    except KeyError:
        raise BenchmarkError(
            f"unknown benchmark {name!r}; known: {', '.join(available_benchmarks())}"
        ) from None


def load_problems(
    name: str, data_dir: Path | None = None, limit: int | None = None
) -> list[Problem]:
    """All problems of one benchmark, from `<data_dir>/<name>/test.jsonl` or else the Hub.

    `limit` keeps the first N rows. A row that cannot be read is returned as a problem with
    `error` set, so one bad line never hides the others.
    """
    benchmark = get_benchmark(name)
    local = benchmark.local_file(Path(data_dir) if data_dir is not None else None)
    if local is not None:
        rows = read_jsonl(local)
    elif benchmark.hub is not None:
        from capability_tests.benchmarks.hub import read_hub_rows

        rows = read_hub_rows(benchmark.hub, benchmark.name)
    else:
        raise BenchmarkError(f"benchmark {name!r} has no Hub source: pass --data-dir=DIR")
    problems = []
    for problem in benchmark.problems_from_rows(rows):
        if limit is not None and len(problems) >= limit:
            break
        problems.append(problem)
    seen: dict[str, str] = {}
    for i, problem in enumerate(problems):
        if problem.problem_id in seen and problem.error is None:
            problems[i] = Problem(
                benchmark=problem.benchmark,
                problem_id=f"{problem.problem_id}@{problem.source.rsplit(':', 1)[-1]}",
                question="",
                answer="",
                source=problem.source,
                error=f"{problem.source}: duplicate problem id {problem.problem_id!r} "
                f"(first at {seen[problem.problem_id]})",
            )
        else:
            seen[problem.problem_id] = problem.source
    return problems
