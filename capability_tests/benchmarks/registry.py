"""Find benchmarks by name (built-ins and entry-point plugins) and load their problems."""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
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


@dataclass(frozen=True)
class LoadedBenchmark:
    """One benchmark's problems as loaded, with where they came from: the data fingerprints of
    a run's reports are made from this (at load time), never by reading the data again."""

    name: str
    problems: list[Problem] = field(repr=False)
    source: str  # the local file, or "hub:<repo>@<revision>[/<config>]:<split>"
    file_sha256: str | None  # local files only
    # Hub data only: hub_id, config, split, revision, commit, pinned, rows, rows_sha256
    hub: dict | None = None

    def fingerprint_source(self) -> dict:
        return {"source": self.source, "file_sha256": self.file_sha256, "hub": self.hub,
                "answers": {p.problem_id: p.answer for p in self.problems if p.error is None}}


def load_problems(
    name: str, data_dir: Path | None = None, limit: int | None = None,
    revision: str | None = None,
) -> list[Problem]:
    """All problems of one benchmark, from `<data_dir>/<name>/test.jsonl` or else the Hub."""
    return load_benchmark(name, data_dir, limit, revision).problems


def load_benchmark(
    name: str, data_dir: Path | None = None, limit: int | None = None,
    revision: str | None = None,
) -> LoadedBenchmark:
    """One benchmark's problems (from `<data_dir>/<name>/test.jsonl`, a packaged file, or else
    the Hub at `revision`, default the source's pinned commit) and their source.

    `limit` keeps the first N rows. A row that cannot be read is returned as a problem with
    `error` set, so one bad line never hides the others.
    """
    benchmark = get_benchmark(name)
    from capability_tests.grading.verifiers import verifier_targets

    known = verifier_targets()
    if benchmark.verifier not in known:
        raise BenchmarkError(
            f"benchmark {name!r} asks for the verifier {benchmark.verifier!r}, which is not "
            f"registered (known: {', '.join(sorted(known))}; see grading/verifiers.py)")
    local = benchmark.local_file(Path(data_dir) if data_dir is not None else None)
    file_sha256 = hub = None
    if local is not None:
        from capability_tests.fingerprints import file_sha256 as sha256_of

        rows = read_jsonl(local)
        source, file_sha256 = str(local), sha256_of(local)
    elif benchmark.hub is not None:
        from capability_tests.benchmarks.hub import load_hub_split

        split = load_hub_split(benchmark.hub, benchmark.name, revision)
        rows, hub = split.numbered(), split.provenance
        config = f"/{hub['config']}" if hub["config"] else ""
        source = f"hub:{hub['hub_id']}@{hub['revision']}{config}:{hub['split']}"
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
    return LoadedBenchmark(name, problems, source, file_sha256, hub)
