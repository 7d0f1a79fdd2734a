"""`capability-tests regrade-diff RUN`: what the current grader would change in a recorded run.

It reads the run folder's per-sample records (`samples.jsonl`), takes each sample's text from the
completion store (the store and generation key as the run recorded them, read through
`RecordedRun`, never rebuilt from the engine installed now; the prompt digest is on every record),
grades it again with the grader installed now, and lists every
sample whose verdict or extracted answer changed, then pass@k per benchmark before and after. No
engine starts and nothing is written to the store or the run folder: it is a diff, not a rerun
(rerunning the same command regrades the store itself).
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

from capability_tests.grading.verdict import Outcome

CHUNK = 64  # texts read and graded at a time


class DiffError(Exception):
    """The run cannot be regraded; the message says which file or setting is missing."""


@dataclass
class RegradeDiff:
    recorded_grader: str | None
    grader: str
    changes: list[dict[str, Any]] = field(default_factory=list)
    samples: int = 0
    missing: int = 0  # records whose text is no longer in the store
    passk: dict[str, list[dict[str, Any]]] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {"recorded_grader": self.recorded_grader, "grader": self.grader,
                "samples": self.samples, "missing_texts": self.missing,
                "changes": self.changes, "pass_at_k": self.passk}


def _verdict_text(outcome: Outcome | str, extracted: str | None) -> str:
    return f"{extracted!r} ({outcome})" if extracted is not None else f"no answer ({outcome})"


def regrade_run(run_path: Path, store_path: Path | None = None, data_dir: Path | None = None,
                workers: int | None = None) -> RegradeDiff:
    from capability_tests.benchmarks import BenchmarkError, load_problems
    from capability_tests.grading.identity import grader_identity
    from capability_tests.grading.pool import GradingPool
    from capability_tests.reporting.recorded_runs import RecordError, RunNotFound, load_run
    from capability_tests.reporting.samples import SAMPLES, read_samples
    from capability_tests.store import CompletionStore, StoreError

    try:
        recorded = load_run(run_path)
        records_file = run_path / SAMPLES
        if not records_file.is_file():
            raise DiffError(f"{run_path} has no {SAMPLES}: the run was recorded before per-sample "
                            "records, or without a store; rerun it to record them")
        key = recorded.generation_key()  # as recorded: never rebuilt from the engine
        store_path = recorded.store_path(store_path)
    except (RunNotFound, RecordError) as exc:
        raise DiffError(str(exc)) from None
    document = recorded.document
    if not store_path.is_file():
        raise DiffError(f"completion store {store_path} not found: pass --store=PATH")
    run = document.get("run") or {}
    if data_dir is None and run.get("data_dir"):
        data_dir = Path(run["data_dir"])
    diff = RegradeDiff((document.get("grader") or {}).get("identity"), grader_identity())
    try:
        store = CompletionStore(store_path)
    except StoreError as exc:
        raise DiffError(str(exc)) from None
    problems: dict[str, dict[str, Any]] = {}
    counts: dict[str, dict[str, list[tuple[int, int, bool]]]] = {}  # old/new (n, c, error)
    try:
        generation = store.find_generation(key)
        if generation is None:
            raise DiffError(f"completion store {store_path} holds no samples of this run's "
                            "generation key (another store, or the samples were deleted)")
        with GradingPool(workers=workers) as pool:
            grouped = itertools.groupby(read_samples(records_file),
                                        key=lambda r: (r["benchmark"], str(r["problem_id"])))
            for (benchmark, problem_id), rows in grouped:
                if benchmark not in problems:
                    try:
                        problems[benchmark] = {p.problem_id: p for p in load_problems(
                            benchmark, data_dir, run.get("limit"))}
                    except BenchmarkError as exc:
                        raise DiffError(f"{benchmark}: cannot load its problems ({exc}); pass "
                                        "--data-dir=DIR") from None
                problem = problems[benchmark].get(problem_id)
                if problem is None:
                    raise DiffError(f"{benchmark}/{problem_id}: not in the benchmark data now")
                old = new = wrongly_old = wrongly_new = 0
                n = 0
                for chunk in _chunks(rows, CHUNK):
                    by_index = {r["index"]: r for r in chunk}
                    texts = dict(store.texts(generation, chunk[0]["prompt"], by_index))
                    graded = [i for i in by_index if i in texts]
                    verdicts = pool.map((texts[i], problem) for i in graded)
                    diff.missing += len(by_index) - len(graded)
                    for i, verdict in zip(graded, verdicts):
                        record = by_index[i]
                        diff.samples += 1
                        n += 1
                        old += record["outcome"] == Outcome.CORRECT
                        new += verdict.outcome is Outcome.CORRECT
                        wrongly_old += record["outcome"] == Outcome.ERROR
                        wrongly_new += verdict.outcome is Outcome.ERROR
                        if (verdict.outcome, verdict.extracted) != (record["outcome"],
                                                                    record["extracted"]):
                            diff.changes.append({
                                "benchmark": benchmark, "problem_id": problem_id, "index": i,
                                "old_extracted": record["extracted"],
                                "new_extracted": verdict.extracted,
                                "old_outcome": record["outcome"], "new_outcome": verdict.outcome,
                                "old_correct": record["correct"],
                                "new_correct": None if verdict.error else verdict.correct,
                                "new_reason": verdict.reason,
                            })
                bench = counts.setdefault(benchmark, {"old": [], "new": []})
                bench["old"].append((problem_id, n, old, wrongly_old > 0))
                bench["new"].append((problem_id, n, new, wrongly_new > 0))
    finally:
        store.close()
    diff.passk = _passk_change(counts)
    return diff


def _chunks(rows: Iterable[dict[str, Any]], size: int):
    iterator = iter(rows)
    while chunk := list(itertools.islice(iterator, size)):
        yield chunk


def _passk_change(counts) -> dict[str, list[dict[str, Any]]]:
    from capability_tests.reporting.curves import compute_curve
    from capability_tests.results import ProblemResult

    out: dict[str, list[dict[str, Any]]] = {}
    for benchmark, sides in sorted(counts.items()):
        curves = {}
        for side, rows in sides.items():
            results = [ProblemResult(benchmark, pid, n, c, error="not graded" if err else None)
                       for pid, n, c, err in rows]
            curves[side] = compute_curve(benchmark, results)
        old, new = curves["old"], curves["new"]
        ks = sorted(set(old.ks) & set(new.ks)) or sorted(set(old.ks) | set(new.ks))
        out[benchmark] = [
            {"k": k,
             "old": old.at(k) if k in old.ks else None,
             "new": new.at(k) if k in new.ks else None,
             "old_problems": old.problems, "new_problems": new.problems}
            for k in ks
        ]
    return out


def text_report(diff: RegradeDiff, run_id: str) -> str:
    out = [f"regrade-diff {run_id}: recorded grader {diff.recorded_grader or 'unknown'}, "
           f"current grader {diff.grader}",
           f"{diff.samples} samples regraded, {len(diff.changes)} changed"
           + (f", {diff.missing} texts no longer in the store (skipped)" if diff.missing else "")]
    if diff.changes:
        out += ["", "changed verdicts (problem #index: old -> new):"]
        out += [
            f"  {c['benchmark']}/{c['problem_id']} #{c['index']}: "
            f"{_verdict_text(c['old_outcome'], c['old_extracted'])} -> "
            f"{_verdict_text(c['new_outcome'], c['new_extracted'])}"
            for c in diff.changes
        ]
    out += ["", f"{'benchmark':<16}{'k':>6}{'old':>10}{'new':>10}{'change':>10}"]
    for benchmark, rows in diff.passk.items():
        for row in rows:
            old, new = row["old"], row["new"]
            change = f"{100 * (new - old):+.1f}" if old is not None and new is not None else "-"
            out.append(f"{benchmark:<16}{row['k']:>6}{_pct(old):>10}{_pct(new):>10}{change:>10}")
    return "\n".join(out) + "\n"


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.1f}%"


def add_parser(sub) -> argparse.ArgumentParser:
    parser = sub.add_parser(
        "regrade-diff",
        help="regrade a recorded run from the store with the current grader and list what changed",
        description=__doc__.split("\n\n")[0] + " RUN is a run folder under --report-dir (its run "
        "id), a path to a run folder or its summary.json, or 'latest'.",
    )
    parser.add_argument("run", metavar="RUN", help="the recorded run")
    from capability_tests.options import add_arguments

    add_arguments(parser, "regrade-diff")  # --report-dir, --store, --data-dir, --grading-workers
    parser.add_argument("--json", default=None, metavar="FILE",
                        help="also write the diff as JSON to FILE")
    parser.set_defaults(func=run)
    return parser


def run(args: argparse.Namespace) -> int:
    from capability_tests.reporting.recorded_runs import RunNotFound, load_run

    try:
        recorded = load_run(args.run, Path(args.report_dir))
        diff = regrade_run(recorded.path, Path(args.store) if args.store else None,
                           Path(args.data_dir) if args.data_dir else None, args.grading_workers)
    except (RunNotFound, DiffError) as exc:
        print(f"capability-tests regrade-diff: error: {exc}", file=sys.stderr)
        return 2
    sys.stdout.write(text_report(diff, recorded.run_id))
    if args.json:
        Path(args.json).write_text(json.dumps(diff.to_json(), indent=2) + "\n", encoding="utf-8")
        print(f"written: {args.json}")
    return 0
