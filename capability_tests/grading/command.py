"""`capability-tests grade --data-dir DIR FILE`: grade JSONL completions against references.

Input: one JSON object per line, `{"benchmark": ..., "problem_id": ..., "completion": ...}`
(FILE or `-` for stdin). Output: one JSON verdict per input line, in input order, on stdout:
`{"benchmark", "problem_id", "correct", "extracted", "reason", "seconds", "timed_out",
"grading_error"}` (`grading_error` true and `correct` null: grading failed outside the
completion, e.g. a grader process died three times under it; that is no verdict). A bad
line (not JSON, unknown benchmark or problem id) gives `{"line": n, "error": ..., "correct":
false}` for that line only.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from capability_tests.grading.timeouts import DEFAULT_TIMEOUT_S


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "grade", help="grade JSONL completions against benchmark references",
        description=__doc__.split("\n\n")[0],
    )
    parser.add_argument("--data-dir", required=True, type=Path,
                        help="folder holding <benchmark>/test.jsonl")
    parser.add_argument("--workers", type=int, default=None, help="grading processes (default: all cores)")
    parser.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT_S,
                        help="seconds allowed for one comparison (default %(default)s)")
    parser.add_argument("file", metavar="FILE", help="JSONL file of completions, or - for stdin")
    parser.set_defaults(func=run)
    return parser


def run(args: argparse.Namespace) -> int:
    from capability_tests.benchmarks import BenchmarkError, load_problems
    from capability_tests.grading.pool import GradingPool

    problems: dict[str, dict[str, Any] | str] = {}

    def lookup(benchmark: str, problem_id: str):
        if benchmark not in problems:
            try:
                problems[benchmark] = {p.problem_id: p for p in load_problems(benchmark, args.data_dir)}
            except BenchmarkError as exc:
                problems[benchmark] = str(exc)
        table = problems[benchmark]
        if isinstance(table, str):
            return None, table
        problem = table.get(problem_id)
        if problem is None:
            return None, f"unknown problem id {problem_id!r} in benchmark {benchmark!r}"
        if problem.error:
            return None, f"problem {benchmark}/{problem_id} has no reference: {problem.error}"
        return problem, None

    handle = sys.stdin if args.file == "-" else open(args.file, encoding="utf-8")
    out = sys.stdout
    pool = GradingPool(workers=getattr(args, "workers", None),
                       timeout=getattr(args, "timeout", DEFAULT_TIMEOUT_S))
    pending: list[tuple[int, dict | None, Any]] = []
    errors = 0
    try:
        for lineno, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
                if not isinstance(row, dict):
                    raise ValueError("line is not a JSON object")
                benchmark, problem_id = row.get("benchmark"), row.get("problem_id")
                completion = row.get("completion")
                if not isinstance(benchmark, str) or problem_id is None:
                    raise ValueError("needs string 'benchmark' and 'problem_id'")
                if not isinstance(completion, str):
                    raise ValueError("needs string 'completion'")
                problem, error = lookup(benchmark, str(problem_id))
                if error:
                    raise ValueError(error)
            except ValueError as exc:  # json.JSONDecodeError is a ValueError
                pending.append((lineno, {"line": lineno, "error": str(exc), "correct": False}, None))
                continue
            head = {"benchmark": benchmark, "problem_id": str(problem_id)}
            pending.append((lineno, head, pool.submit(completion, problem)))
        for lineno, head, future in pending:
            if future is None:
                errors += 1
                record = head
            else:
                verdict = future.result()
                record = dict(head, correct=None if verdict.error else verdict.correct,
                              extracted=verdict.extracted, reason=verdict.reason,
                              seconds=round(verdict.seconds, 6), timed_out=verdict.timed_out,
                              grading_error=verdict.error)
            out.write(json.dumps(record, ensure_ascii=False) + "\n")
        out.flush()
    finally:
        pool.close()
        if handle is not sys.stdin:
            handle.close()
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="capability-tests")
    sub = parser.add_subparsers(dest="command", required=True)
    add_parser(sub)
    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    raise SystemExit(main())
