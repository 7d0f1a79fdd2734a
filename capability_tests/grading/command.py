"""`capability-tests grade [--data-dir DIR] FILE`: grade JSONL completions against references.

Input: one JSON object per line, `{"benchmark": ..., "problem_id": ..., "completion": ...}`
(FILE or `-` for stdin). Benchmarks load as in a run: from `--data-dir`, else from the file an
installed package ships (HumanEval: no data folder needed), else from the Hub. Code completions
(HumanEval: `"completion": "...```python ...```..."` or the raw continuation of the prompt) run
in the sandbox. Output: one JSON verdict per input line, in input order, on stdout:
`{"benchmark", "problem_id", "correct", "extracted", "reason", "seconds", "timed_out",
"grading_error"}` (`grading_error` true and `correct` null: grading failed outside the
completion, e.g. a grader process died three times under it; that is no verdict). A bad
line (not JSON, unknown benchmark or problem id) gives `{"line": n, "error": ..., "correct":
false}` for that line only.

The input is streamed: at most `BATCH_LINES` completions are held (read, submitted, written) at a
time, so a dump of any size (k = 1024 over a benchmark is tens of GB) grades in bounded memory.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections import deque
from pathlib import Path
from typing import Any

from capability_tests.grading.timeouts import DEFAULT_TIMEOUT_S
from capability_tests.safe_text import safe_text

BATCH_LINES = 512  # completions in flight at once: enough to keep every worker busy


def positive_seconds(text: str) -> float:
    """`--timeout`: a finite number of seconds greater than zero."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not math.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(f"{text!r} must be a finite number of seconds above 0")
    return value


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "grade", help="grade JSONL completions against benchmark references",
        description=__doc__.split("\n\n")[0],
    )
    from capability_tests.options import add_arguments

    add_arguments(parser, "grade")  # --data-dir, --grading-workers (--workers)
    parser.add_argument("--timeout", type=positive_seconds, default=DEFAULT_TIMEOUT_S,
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
                data_dir = Path(args.data_dir) if args.data_dir else None
                problems[benchmark] = {p.problem_id: p for p in load_problems(benchmark, data_dir)}
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

    timeout = getattr(args, "timeout", DEFAULT_TIMEOUT_S)
    try:
        timeout = positive_seconds(str(timeout))
    except argparse.ArgumentTypeError as exc:
        raise SystemExit(f"capability-tests grade: error: argument --timeout: {exc}") from None
    handle = sys.stdin if args.file == "-" else open(args.file, encoding="utf-8")
    out = sys.stdout
    pool = GradingPool(workers=args.grading_workers, timeout=timeout)
    pending: deque[tuple[int, dict | None, Any]] = deque()

    def flush(keep: int = 0) -> None:
        """Write verdicts in input order until at most `keep` lines are still in flight."""
        while len(pending) > keep:
            lineno, head, future = pending.popleft()
            if future is None:
                record = head
            else:
                verdict = future.result()
                record = dict(head, correct=None if verdict.error else verdict.correct,
                              extracted=verdict.extracted, reason=verdict.reason,
                              seconds=round(verdict.seconds, 6), timed_out=verdict.timed_out,
                              grading_error=verdict.error)
            record = {k: safe_text(v) if isinstance(v, str) else v for k, v in record.items()}
            out.write(json.dumps(record, ensure_ascii=False) + "\n")  # valid UTF-8 always
        out.flush()

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
            else:
                head = {"benchmark": benchmark, "problem_id": str(problem_id)}
                pending.append((lineno, head, pool.submit(completion, problem)))
            if len(pending) >= BATCH_LINES:
                flush(keep=BATCH_LINES // 2)
        flush()
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
