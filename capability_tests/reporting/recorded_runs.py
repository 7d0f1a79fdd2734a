"""Reading recorded runs: a RUN argument (folder, summary.json, run id, `latest`) resolved to its
run folder and read back (`RecordedRun`), for `compare`, `--baseline`, `--compare` and
`regrade-diff`. Writing run folders is `run_writer.py`."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from capability_tests.reporting.run_writer import PROBLEMS, SUMMARY
from capability_tests.results import ProblemResult


class RunNotFound(ValueError):
    """A RUN argument names no readable run folder."""


@dataclass
class RecordedRun:
    """A run read back from its folder: the summary document and per-problem results."""

    path: Path
    document: dict[str, Any]
    results: list[ProblemResult] = field(default_factory=list)

    @property
    def run_id(self) -> str:
        return str(self.document.get("run_id") or self.path.name)

    @property
    def model(self) -> str:
        return str(self.document.get("model") or self.document.get("run", {}).get("model") or "?")

    @property
    def label(self) -> str:
        return f"{self.model} ({self.run_id})"

    @property
    def complete(self) -> bool:
        return bool(self.document.get("complete", True))

    def by_benchmark(self) -> dict[str, list[ProblemResult]]:
        out: dict[str, list[ProblemResult]] = {}
        for r in self.results:
            out.setdefault(r.benchmark, []).append(r)
        return out


def resolve_run(
    spec: str | os.PathLike, report_dir: Path | None = None, base: Path | None = None
) -> Path:
    """A RUN argument -> its folder. Accepts a run folder path, a path to its summary.json, a run id
    under `report_dir` (default ./reports), or `latest` (the run `report_dir/summary.json` names).
    Relative paths are read from `base` (default: the current directory)."""
    report_dir = Path(report_dir) if report_dir is not None else Path("reports")
    text = str(spec)
    candidates = []
    path = Path(text).expanduser()
    if base is not None and not path.is_absolute():
        path = base / path
    if path.is_file() and path.name == SUMMARY:
        path = path.parent
        if (path / PROBLEMS).is_file():
            return path
        latest = _latest_id(path)
        if latest:
            candidates.append(path / latest)
    candidates += [path, report_dir / text]
    if text == "latest":
        latest = _latest_id(report_dir)
        if latest:
            candidates.insert(0, report_dir / latest)
    for candidate in candidates:
        if candidate.is_dir() and (candidate / SUMMARY).is_file() and (candidate / PROBLEMS).is_file():
            return candidate
    raise RunNotFound(
        f"{text!r} is not a run folder (a folder with {SUMMARY} and {PROBLEMS}), nor a run id under "
        f"{report_dir}"
    )


def _latest_id(report_dir: Path) -> str | None:
    try:
        return json.loads((report_dir / SUMMARY).read_text(encoding="utf-8")).get("run_id")
    except (OSError, ValueError, AttributeError):
        return None


def load_run(
    spec: str | os.PathLike, report_dir: Path | None = None, base: Path | None = None
) -> RecordedRun:
    path = resolve_run(spec, report_dir, base)
    try:
        document = json.loads((path / SUMMARY).read_text(encoding="utf-8"))
        results = [
            ProblemResult.from_json(json.loads(line))
            for line in (path / PROBLEMS).read_text(encoding="utf-8").splitlines()
            if line.strip()
        ]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise RunNotFound(f"{spec}: cannot read run folder {path}: {exc}") from None
    return RecordedRun(path=path, document=document, results=results)
