"""`capability-tests selftest [--benchmarks NAMES]`: the graders' known-answer self-test alone.

For a user who wants to check a new machine: the cases a run of those benchmarks would check
before sampling (without --benchmarks: every registered verifier's, code on every test kind),
graded the same way (`--grading-workers`), printed as a table. Runs them again unless `--cached`.
Exit status 0 when every case gives its expected verdict, 8 otherwise, 4 when a benchmark cannot
be loaded.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from capability_tests.problems import Problem


def add_parser(subparsers: Any) -> argparse.ArgumentParser:

    parser = subparsers.add_parser(
        "selftest", help="check that the graders give their known verdicts on this machine",
        description=__doc__.split("\n\n")[0],
    )
    from capability_tests.options import add_arguments

    add_arguments(parser, "selftest")  # --benchmarks, --data-dir, --grading-workers
    parser.add_argument("--cached", action="store_true",
                        help="accept a pass remembered for this grader and environment")
    parser.set_defaults(func=run)
    return parser


def every_verifier() -> list[Problem]:
    """Stand-in problems naming every registered verifier (code: one per test kind)."""
    from capability_tests.grading.verifiers import verifier_names
    from capability_tests.selftest.code_cases import KINDS

    out = []
    for name in verifier_names():
        modes = KINDS if name == "code" else ("",)
        out += [Problem("selftest", name, "", "", "capability-tests selftest", verifier=name,
                        meta={"mode": mode} if mode else {}) for mode in modes]
    return out


def table(result) -> list[str]:
    rows = [("verifier", "case", "expected", "actual", "ok", "seconds")]
    rows += [(c.verifier, c.case, c.expected, c.actual, "yes" if c.ok else "NO",
              f"{c.seconds:.2f}") for c in result.cases]
    rows += [(s["verifier"], s["case"], "-", "skipped: " + s["why"], "-", "-")
             for s in result.skipped]
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip() for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    lines += [f"no known-answer cases: verifier {name!r}" for name in result.no_cases]
    return lines


def run(args: argparse.Namespace) -> int:
    from capability_tests.benchmarks import load_benchmark
    from capability_tests.benchmarks.base import BenchmarkError
    from capability_tests.selftest.runner import EXIT_SELFTEST_FAILED, run_selftest

    if args.benchmarks:
        problems: list[Problem] = []
        for name in args.benchmarks:
            try:
                problems += load_benchmark(name, Path(args.data_dir) if args.data_dir else None).problems
            except BenchmarkError as exc:
                print(f"capability-tests selftest: {exc}")
                return 4
    else:
        problems = every_verifier()
    result = run_selftest(problems, grading_workers=args.grading_workers, use_cache=args.cached)
    for line in table(result):
        print(line)
    print(result.summary_line().removeprefix("capability-tests: "))
    if not result.passed:
        print(result.failure_message())
        return EXIT_SELFTEST_FAILED
    return 0
