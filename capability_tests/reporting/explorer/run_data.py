"""What the explorer page shows, read from a run folder (never from the session that wrote it), so
`write_explorer` can rebuild the page of any recorded run: the summary, the per-problem results,
the curves for every k (`pass_at_k.csv`), the per-sample records (`samples.jsonl`), the sample
texts, tokens and finish reasons from the completion store the summary names, and the prompts and
reference answers from the benchmark data the run loaded.

Memory: the page data holds one small row per problem; the samples are read one problem at a time
(`samples.jsonl` is sorted by benchmark and problem id) and written out at once.
"""

from __future__ import annotations

import csv
import itertools
import json
from pathlib import Path
from typing import Any, Iterator, Mapping

from capability_tests.grading.verdict import Outcome
from capability_tests.reporting.run_writer import CSV_FILE, PROBLEMS, SUMMARY

TABLE_KS_METRICS = (("pass_at_k", "pass@"), ("maj_at_k", "maj@"), ("pass_all_k", "pass^"))
META_FILTERS = ("level", "subject")  # problem metadata the problem tables filter by
_WRONG_VOTES = frozenset({Outcome.WRONG, Outcome.TIMEOUT})  # wrong answers the page groups
CURVE_COLUMNS = {  # page name -> pass_at_k.csv column
    "pass": "pass_at_k", "pass_lo": "ci_low", "pass_hi": "ci_high",
    "maj": "maj_at_k", "maj_lo": "maj_ci_low", "maj_hi": "maj_ci_high",
    "all": "pass_all_k", "all_lo": "pass_all_ci_low", "all_hi": "pass_all_ci_high",
    "guess": "guessing_pass_at_k",
}


class ExplorerError(ValueError):
    """The folder is not a run folder the explorer can read; the message names the file."""


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ExplorerError(f"{path}: cannot read ({exc})") from None


def read_problems(run_dir: Path) -> list[dict[str, Any]]:
    path = run_dir / PROBLEMS
    rows = []
    try:
        with open(path, encoding="utf-8") as handle:
            for lineno, line in enumerate(handle, start=1):
                if line.strip():
                    try:
                        rows.append(json.loads(line))
                    except ValueError as exc:
                        raise ExplorerError(f"{path}, line {lineno}: not JSON ({exc})") from None
    except OSError as exc:
        raise ExplorerError(f"{path}: cannot read ({exc})") from None
    return rows


def read_curves(run_dir: Path) -> dict[str, dict[str, list]]:
    """Per benchmark, every k's values from pass_at_k.csv (None where a curve is not known)."""
    path = run_dir / CSV_FILE
    out: dict[str, dict[str, list]] = {}
    if not path.is_file():
        return out
    with open(path, encoding="utf-8", newline="") as handle:
        for row in csv.DictReader(handle):
            curve = out.setdefault(row["benchmark"], {"k": [], **{name: [] for name in CURVE_COLUMNS}})
            curve["k"].append(int(row["k"]))
            for name, column in CURVE_COLUMNS.items():
                cell = row.get(column)
                curve[name].append(float(cell) if cell not in (None, "") else None)
    return out


def figures(bench: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The table figures of one benchmark, each with its value exactly as summary.json writes it
    (`json.dumps` of the float: the testing contract's `data-value`) and its interval."""
    out = []
    for key, prefix in TABLE_KS_METRICS:
        values = bench.get(key) or {}
        intervals = bench.get(key + "_ci") or {}
        for k, value in values.items():
            if value is None:
                continue
            out.append({"metric": f"{prefix}{k}", "kind": prefix.rstrip("@^"), "k": int(k),
                        "value": json.dumps(value), "ci": intervals.get(k)})
    return out


def load_benchmark_data(document: Mapping[str, Any], names) -> tuple[dict, dict[str, str]]:
    """Per benchmark, {problem id: Problem} as the run loaded them, and the benchmarks whose data
    could not be read (name -> why): the page then shows samples without prompts."""
    from capability_tests.benchmarks import load_problems

    run = document.get("run") or {}
    data_dir = Path(run["data_dir"]) if run.get("data_dir") else None
    problems: dict[str, dict] = {}
    missing: dict[str, str] = {}
    recorded = document.get("data") or {}
    for name in names:
        # the revision the run read (--data-revision, else the one recorded), never today's pin
        hub = (recorded.get(name) or {}).get("hub") or {}
        revision = (run.get("data_revisions") or {}).get(name) or hub.get("revision")
        try:
            problems[name] = {p.problem_id: p for p in
                              load_problems(name, data_dir, run.get("limit"), revision)}
        except Exception as exc:  # any loader failure costs the prompts, never the page
            missing[name] = f"{type(exc).__name__}: {exc}"
    return problems, missing


class SampleTexts:
    """The run's sample texts, tokens and finish reasons from its completion store (read-only
    use of `CompletionStore`); `why` says why there are none."""

    def __init__(self, document: Mapping[str, Any], store_path: Path | None = None,
                 run_dir: Path | None = None) -> None:
        self.store = self.generation = None
        self.why: str | None = None
        section = document.get("store") or {}
        key = section.get("generation")
        path = Path(store_path or section.get("path") or "")
        if not store_path and section.get("path") and not path.is_file() and run_dir is not None:
            # a relative path recorded from another working directory, or a reports folder that
            # moved with its store: the store beside the run folder, as a session keeps it
            beside = run_dir.parent / path.name
            path = beside if beside.is_file() else path
        if not isinstance(key, str):
            self.why = "the run recorded no single store generation (no store, or several)"
            return
        if not path.is_file():
            self.why = f"completion store {path} not found"
            return
        from capability_tests.store import CompletionStore, StoreError

        try:
            self.store = CompletionStore(path)
            self.generation = self.store.find_generation(key)
        except StoreError as exc:
            self.store, self.why = None, str(exc)
            return
        if self.generation is None:
            self.why = f"completion store {path} holds no samples of this run"

    def of(self, prompt: str | None, indices) -> tuple[dict[int, Any], dict[int, str]]:
        """(stored sample rows by index, texts by index) of one prompt digest."""
        if self.store is None or self.generation is None or not prompt:
            return {}, {}
        stored = self.store.stored(self.generation, prompt)
        texts = dict(self.store.texts(self.generation, prompt, [i for i in indices if i in stored]))
        return stored, texts

    def close(self) -> None:
        if self.store is not None:
            self.store.close()


def problem_pages(
    run_dir: Path, texts: SampleTexts, data: Mapping[str, Mapping[str, Any]],
    only: set[tuple[str, str]] | None = None,
) -> Iterator[tuple[tuple[str, str], dict[str, Any]]]:
    """Per problem with samples ((benchmark, problem id), what its view shows), one at a time."""
    from capability_tests.reporting.answer_classes import class_key
    from capability_tests.reporting.samples import SAMPLES, read_samples

    path = run_dir / SAMPLES
    if not path.is_file():
        return
    grouped = itertools.groupby(read_samples(path), key=lambda r: (r["benchmark"], str(r["problem_id"])))
    for key, rows in grouped:
        if only is not None and key not in only:
            continue
        rows = list(rows)
        stored, bodies = texts.of(rows[0].get("prompt"), [r["index"] for r in rows])
        classes: dict[str, dict[str, Any]] = {}
        samples = []
        for r in rows:
            index = r["index"]
            row = stored.get(index)
            outcome = r.get("outcome")
            answer = r.get("extracted")
            cls = None
            if outcome in _WRONG_VOTES and answer is not None:
                cls = class_key(str(answer))
                entry = classes.setdefault(cls, {"answer": str(answer), "count": 0, "samples": []})
                entry["count"] += 1
                entry["samples"].append(index)
            samples.append({
                "i": index, "o": outcome, "x": answer, "r": r.get("reason"),
                "t": None if row is None else row.tokens,
                "f": None if row is None else row.finish_reason,
                "text": bodies.get(index), "c": cls,
            })
        problem = (data.get(key[0]) or {}).get(key[1])
        yield key, {
            "benchmark": key[0], "problem_id": key[1],
            "prompt": None if problem is None else problem.question,
            "reference": None if problem is None else problem.answer,
            "source": None if problem is None else problem.source,
            "texts_missing": sum(1 for s in samples if s["text"] is None),
            "wrong_classes": sorted(classes.values(), key=lambda c: -c["count"]),
            "samples": samples,
        }


def problem_row(result: Mapping[str, Any], rare: set[str], problem) -> dict[str, Any]:
    """One problem's row in its benchmark's table."""
    finish = result.get("finish_reasons") or {}
    meta = dict(getattr(problem, "meta", None) or {})
    return {
        "id": str(result["problem_id"]), "n": result.get("n", 0), "c": result.get("correct", 0),
        "err": result.get("error"), "wr": result.get("wrong", 0), "na": result.get("no_answer", 0),
        "tr": int(finish.get("length", 0)), "to": result.get("grading_timeouts", 0),
        "ge": result.get("grading_errors", 0), "cls": result.get("distinct_answers"),
        "tok": result.get("mean_tokens"), "rare": str(result["problem_id"]) in rare,
        **{name: (None if meta.get(name) is None else str(meta[name])) for name in META_FILTERS},
    }


def page_data(run_dir: Path, data: Mapping[str, Mapping[str, Any]], missing: Mapping[str, str],
              texts_why: str | None) -> dict[str, Any]:
    """Everything the page shows besides the per-problem samples."""
    document = _read_json(run_dir / SUMMARY)
    if not isinstance(document, dict):
        raise ExplorerError(f"{run_dir / SUMMARY}: not a summary document")
    curves = read_curves(run_dir)
    rows: dict[str, list] = {}
    for result in read_problems(run_dir):
        name = str(result["benchmark"])
        rare_ids = {str(p.get("problem_id")) for p in
                    ((document.get("benchmarks", {}).get(name) or {}).get("rare_solves") or {})
                    .get("problems", [])}
        rows.setdefault(name, []).append(
            problem_row(result, rare_ids, (data.get(name) or {}).get(str(result["problem_id"]))))
    benchmarks = {}
    for name in sorted(set(rows) | set(document.get("benchmarks") or {})):
        bench = (document.get("benchmarks") or {}).get(name) or {}
        benchmarks[name] = {
            "summary": {key: bench.get(key) for key in (
                "problems", "errors", "n", "wrong", "no_answer", "grading_timeouts",
                "grading_errors", "last_doubling", "guessing", "distinct_answers",
                "maj_at_k_method", "maj_at_k_note")},
            "figures": figures(bench), "curve": curves.get(name),
            "rows": sorted(rows.get(name, []), key=lambda r: r["id"]),
            "data_missing": missing.get(name),
        }
    settings = {key: document.get(key) for key in (
        "run", "sampling", "seed", "template", "engine", "data", "versions", "confidence_interval",
        "grader", "store", "gates", "started_at", "finished_at", "exit_status", "files")}
    return {
        "kind": "run", "run_id": document.get("run_id") or run_dir.name,
        "model": document.get("model") or (document.get("run") or {}).get("model"),
        "complete": bool(document.get("complete", True)), "texts_missing": texts_why,
        "benchmarks": benchmarks, "settings": settings,
        "provenance": document.get("provenance"),
    }
