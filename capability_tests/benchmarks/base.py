"""What a benchmark is: a name, where its rows come from, and how one row becomes a Problem."""

from __future__ import annotations

import gzip
import json
import zlib
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Mapping

from capability_tests.grading.policy import GradingPolicy
from capability_tests.problems import Problem

__all__ = ["Benchmark", "BenchmarkError", "GradingPolicy", "HubSource", "ParsedRow", "RowError",
           "read_jsonl"]


class BenchmarkError(Exception):
    """A benchmark as a whole cannot be loaded (no file, unknown name, no network)."""


class RowError(ValueError):
    """One row cannot be turned into a problem; the message says what is missing."""


@dataclass(frozen=True)
class HubSource:
    """Where the benchmark lives on the Hugging Face Hub: repository, split, config (for
    LiveCodeBench the release, e.g. `release_v5`) and the revision read, a commit so that a rerun
    reads the same rows (`--data-revision BENCH=REV` overrides it; None: not pinned, refused
    unless a revision is asked for). docs/BENCHMARKS.md says how each was chosen."""

    repo: str
    split: str
    config: str | None = None
    revision: str | None = None


@dataclass(frozen=True)
class ParsedRow:
    question: str
    answer: str
    meta: Mapping[str, Any] = field(default_factory=dict)
    keywords: tuple[str, ...] = ()


@dataclass(frozen=True)
class Benchmark:
    """A named problem set.

    `parse_row` turns one source row (any of the schemas the benchmark is published in) into a
    `ParsedRow` or raises `RowError`. `id_fields` are tried in order for the problem id; without
    one the 0-based row number is the id. `grading_policy` says how its answers are graded
    (tolerance, extraction, list semantics, answer range: `GradingPolicy`); every problem carries
    it. `answer_range` and `grading_policy.answer_range` are one setting: give either.
    """

    name: str
    family: str
    parse_row: Callable[[Mapping[str, Any]], ParsedRow]
    id_fields: tuple[str, ...] = ()
    hub: HubSource | None = None
    verifier: str = "math"
    description: str = ""
    packaged_file: Path | None = None  # a JSONL file shipped inside a Python package
    # every reference answer is an integer in [low, high] (AIME: 0-999): the report draws a
    # uniform guesser's pass@k for it (reporting/guessing.py)
    answer_range: tuple[int, int] | None = None
    grading_policy: GradingPolicy = GradingPolicy()

    def __post_init__(self) -> None:
        if not isinstance(self.grading_policy, GradingPolicy):
            raise ValueError(f"benchmark {self.name!r}: grading_policy must be a GradingPolicy, "
                             f"got {type(self.grading_policy).__name__}")
        declared = self.grading_policy.answer_range
        if self.answer_range is None and declared is not None:
            object.__setattr__(self, "answer_range", declared)
        elif self.answer_range is not None and declared is None:
            try:
                object.__setattr__(self, "grading_policy", replace(
                    self.grading_policy, answer_range=tuple(self.answer_range)))
            except ValueError as exc:
                raise ValueError(f"benchmark {self.name!r}: answer_range must be two integers "
                                 f"low <= high, got {self.answer_range!r}") from exc
        elif self.answer_range is not None and tuple(self.answer_range) != declared:
            raise ValueError(f"benchmark {self.name!r}: answer_range {self.answer_range!r} and "
                             f"grading_policy.answer_range {declared!r} differ")
        if self.answer_range is not None:
            low, high = self.answer_range
            if not (isinstance(low, int) and isinstance(high, int) and low <= high):
                raise ValueError(f"benchmark {self.name!r}: answer_range must be two integers "
                                 f"low <= high, got {self.answer_range!r}")

    def local_file(self, data_dir: Path | None) -> Path | None:
        """`<data_dir>/<name>/test.jsonl`, `<data_dir>/<name>.jsonl`, else the packaged file.

        None means "no local copy": load from the Hub.
        """
        candidates = []
        if data_dir is not None:
            candidates = [data_dir / self.name / "test.jsonl", data_dir / f"{self.name}.jsonl"]
        for path in candidates:
            if path.is_file():
                return path
        if self.packaged_file is not None:
            return self.packaged_file
        if data_dir is None:
            return None
        raise BenchmarkError(
            f"benchmark {self.name!r}: no data file in --data-dir={data_dir} "
            f"(looked for {candidates[0]} and {candidates[1]}): put the file there, leave "
            "--data-dir out to load it from the Hugging Face Hub, or leave the benchmark out "
            "of --benchmarks"
        )

    def problems_from_rows(self, rows: Iterable[tuple[str, int, Any]]) -> Iterator[Problem]:
        """Turn (source, 0-based row number, row-or-error) into problems; a bad row becomes an
        errored problem."""
        for source, index, row in rows:
            yield self._problem(index, source, row)

    def _problem(self, index: int, source: str, row: Any) -> Problem:
        # The row's own id, else its 0-based row number; an unreadable row is named after its
        # 1-based line ("line7"), which cannot collide with a numeric id.
        problem_id = str(index) if isinstance(row, Mapping) else f"line{index + 1}"
        if isinstance(row, Mapping):
            for name in self.id_fields:
                if row.get(name) is not None:
                    problem_id = str(row[name])
                    break
        base = dict(benchmark=self.name, problem_id=problem_id, source=source, verifier=self.verifier,
                    policy=self.grading_policy)
        if isinstance(row, Exception):
            return Problem(question="", answer="", error=f"{source}: {row}", **base)
        if not isinstance(row, Mapping):
            return Problem(
                question="", answer="", error=f"{source}: row is not a JSON object", **base
            )
        try:
            parsed = self.parse_row(row)
        except RowError as exc:
            return Problem(question="", answer="", error=f"{source}: {exc}", **base)
        return Problem(
            question=parsed.question,
            answer=parsed.answer,
            meta=dict(parsed.meta),
            keywords=parsed.keywords,
            **base,
        )


def read_jsonl(path: Path) -> Iterator[tuple[str, int, Any]]:
    """Yield (`path:line`, 0-based line number, row) for each non-blank line; a line that is not
    JSON yields the error in place of the row. A `.gz` file is read through gzip."""
    lineno = 0
    try:
        opened = (gzip.open(path, "rt", encoding="utf-8") if path.suffix == ".gz"
                  else path.open(encoding="utf-8"))
        with opened as handle:
            for lineno, line in enumerate(handle, start=1):
                if not line.strip():
                    continue
                source = f"{path}:{lineno}"
                try:
                    yield source, lineno - 1, json.loads(line)
                except json.JSONDecodeError as exc:
                    yield source, lineno - 1, RowError(
                        f"not valid JSON ({exc.msg} at column {exc.colno})")
    except UnicodeDecodeError as exc:  # the file as a whole is not a JSONL text file
        raise BenchmarkError(
            f"cannot read {path}{f' after line {lineno}' if lineno else ''}: not UTF-8 text "
            f"({exc.reason}, byte "
            f"{exc.object[exc.start:exc.start + 1]!r}); replace it with the benchmark's JSONL file"
        ) from None
    except (OSError, EOFError, zlib.error) as exc:  # gzip's errors for a damaged file included
        raise BenchmarkError(
            f"cannot read {path}: {getattr(exc, 'strerror', None) or exc}; check the file and "
            "its permissions"
        ) from None
