"""Aggregate per-problem results into per-benchmark pass@k, and write them out.

Writers: the terminal table, `summary.json` (schema 1) and `summary.md`.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Mapping

from capability_tests.passk import pass_at_k_table
from capability_tests.results import ProblemResult

SCHEMA_VERSION = 1


@dataclass(frozen=True)
class BenchmarkSummary:
    name: str
    problems: int  # problems with samples
    errors: int  # problems that could not be sampled (bad row, engine failure)
    n: int  # samples per problem (the smallest, if they differ)
    pass_at_k: Mapping[int, float]
    grading_timeouts: int

    def to_json(self) -> dict[str, Any]:
        return {
            "problems": self.problems,
            "errors": self.errors,
            "n": self.n,
            "pass_at_k": {str(k): v for k, v in self.pass_at_k.items()},
            "grading_timeouts": self.grading_timeouts,
        }


def summarise(results: Iterable[ProblemResult]) -> dict[str, BenchmarkSummary]:
    by_benchmark: dict[str, list[ProblemResult]] = {}
    for r in results:
        by_benchmark.setdefault(r.benchmark, []).append(r)
    summaries = {}
    for name in sorted(by_benchmark):
        rows = by_benchmark[name]
        sampled = [r for r in rows if r.error is None and r.n > 0]
        counts = [(r.n, r.correct) for r in sampled]
        summaries[name] = BenchmarkSummary(
            name=name,
            problems=len(sampled),
            errors=len(rows) - len(sampled),
            n=min((n for n, _ in counts), default=0),
            pass_at_k=pass_at_k_table(counts),
            grading_timeouts=sum(r.grading_timeouts for r in sampled),
        )
    return summaries


def summary_document(
    run: Mapping[str, Any], summaries: Mapping[str, BenchmarkSummary], complete: bool
) -> dict[str, Any]:
    return {
        "schema": SCHEMA_VERSION,
        "complete": complete,
        "run": dict(run),
        "benchmarks": {name: s.to_json() for name, s in summaries.items()},
    }


def terminal_lines(summaries: Mapping[str, BenchmarkSummary]) -> list[str]:
    lines = []
    for s in summaries.values():
        ks = list(s.pass_at_k)
        header = f"{'benchmark':<16}{'problems':>9}{'n':>6}" + "".join(
            f"{'pass@' + str(k):>10}" for k in ks
        )
        values = f"{s.name:<16}{s.problems:>9}{s.n:>6}" + "".join(
            f"{100 * v:>9.1f}%" for v in s.pass_at_k.values()
        )
        lines += [header, values]
        notes = []
        if s.errors:
            notes.append(f"{s.errors} problem(s) errored and are not counted")
        if s.grading_timeouts:
            notes.append(f"{s.grading_timeouts} grading timeout(s) counted as wrong")
        if notes:
            lines.append("  (" + "; ".join(notes) + ")")
    return lines


def markdown(run: Mapping[str, Any], summaries: Mapping[str, BenchmarkSummary], complete: bool) -> str:
    out = ["# pass@k summary", ""]
    if not complete:
        out += ["**Incomplete run**: the session stopped before every selected test ran.", ""]
    settings = ", ".join(
        f"{key}={run.get(key)}"
        for key in ("model", "engine", "k", "temperature", "top_p", "max_tokens", "seed", "template")
    )
    out += [f"Run: {settings}", ""]
    ks = sorted({k for s in summaries.values() for k in s.pass_at_k})
    out.append("| benchmark | problems | n | " + " | ".join(f"pass@{k}" for k in ks) + " |")
    out.append("|---|---:|---:|" + "---:|" * len(ks))
    for s in summaries.values():
        cells = [f"{100 * s.pass_at_k[k]:.1f}%" if k in s.pass_at_k else "" for k in ks]
        out.append(f"| {s.name} | {s.problems} | {s.n} | " + " | ".join(cells) + " |")
    return "\n".join(out) + "\n"


def _write_atomic(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=path.name, dir=path.parent)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)
    os.replace(tmp, path)


def write_summary(
    report_dir: Path,
    run: Mapping[str, Any],
    results: Iterable[ProblemResult],
    complete: bool = True,
) -> dict[str, BenchmarkSummary]:
    """Write `summary.json` and `summary.md` into `report_dir`; return the summaries."""
    summaries = summarise(results)
    document = summary_document(run, summaries, complete)
    _write_atomic(report_dir / "summary.json", json.dumps(document, indent=2) + "\n")
    _write_atomic(report_dir / "summary.md", markdown(run, summaries, complete))
    return summaries
