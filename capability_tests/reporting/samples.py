"""Per-sample records: `reports/<run-id>/samples.jsonl`, one line per sample, so a reader can audit
any number in the report (and `capability-tests regrade-diff` can find each text in the store).

A line: `benchmark`, `problem_id`, `index`, `extracted` (the answer found, null when none),
`correct` (null: not graded), `outcome` (an `Outcome` value: correct / wrong / no_answer / timeout /
grader_error / error), `reason`,
`grader` (the grader identity) and `prompt` (the prompt digest, which with the run's
`store.generation` key in summary.json names the sample's row in the completion store).

Problems arrive at the controller one compact JSON string each (results.encode_samples). They are
spooled to an unnamed temporary file as they come, with only (benchmark, problem id, offset) kept
in memory, and written out sorted when the run folder exists: memory stays one problem's records
whatever k and the number of problems.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any, Iterator

from capability_tests.results import decode_samples

SAMPLES = "samples.jsonl"


class SampleSpool:
    """Per-problem records received during a session, on disk until `write_to`."""

    def __init__(self) -> None:
        self._file = None
        self._where: dict[tuple[str, str], tuple[int, int]] = {}  # (benchmark, id) -> (offset, size)
        self.store_keys: set[str] = set()
        self.prompts: dict[str, str] = {}  # "benchmark/problem_id" -> prompt digest

    def __len__(self) -> int:
        return len(self._where)

    def add(self, text: str) -> None:
        header, _ = decode_samples(text)
        if self._file is None:
            self._file = tempfile.TemporaryFile(mode="w+b")
        data = text.encode("utf-8")
        self._file.seek(0, 2)
        offset = self._file.tell()
        self._file.write(data)
        self._where[(str(header.get("benchmark")), str(header.get("problem_id")))] = (offset, len(data))
        if header.get("store_key"):
            self.store_keys.add(header["store_key"])
        if isinstance(header.get("prompt"), str):
            self.prompts[f"{header.get('benchmark')}/{header.get('problem_id')}"] = header["prompt"]

    def records(self, problems: set[tuple[str, str]] | None = None) -> Iterator[dict[str, Any]]:
        """Every sample record, sorted by benchmark, problem id and index (only `problems` when
        given: the problems the report counts)."""
        for _, rows in self._by_problem(problems):
            yield from rows

    def _by_problem(self, problems: set[tuple[str, str]] | None):
        """(key, that problem's records) in key order, read one problem at a time."""
        if self._file is None:
            return
        for key in sorted(self._where):
            if problems is not None and key not in problems:
                continue
            offset, size = self._where[key]
            self._file.seek(offset)
            yield key, decode_samples(self._file.read(size).decode("utf-8"))[1]

    def answer_classes(self, problems: set[tuple[str, str]] | None = None) -> dict[tuple[str, str], Any]:
        """Per problem (benchmark, problem id): its samples' answer classes
        (`reporting/answer_classes.py`), read one problem at a time (memory: one problem's
        records)."""
        from capability_tests.reporting.answer_classes import classes_of

        return {key: classes_of(rows) for key, rows in self._by_problem(problems)}

    def write_to(self, path: Path, problems: set[tuple[str, str]] | None = None) -> int:
        """Write `samples.jsonl` at `path`; return the number of lines."""
        count = 0
        tmp = path.with_name(path.name + ".part")
        with open(tmp, "w", encoding="utf-8") as out:
            for record in self.records(problems):
                out.write(json.dumps(record, ensure_ascii=False) + "\n")
                count += 1
        tmp.replace(path)
        return count

    def close(self) -> None:
        handle, self._file = self._file, None
        if handle is not None:
            handle.close()


def read_samples(path: Path) -> Iterator[dict[str, Any]]:
    """The records of a run folder's samples.jsonl, one at a time."""
    with open(path, encoding="utf-8") as handle:
        for lineno, line in enumerate(handle, start=1):
            if line.strip():
                try:
                    yield json.loads(line)
                except ValueError as exc:
                    raise ValueError(f"{path}, line {lineno}: not JSON ({exc})") from None
