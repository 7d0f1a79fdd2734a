"""Grading speed over real completions kept in a completion store (not a timed test).

    python perf/grading_speed.py --store reports/completions.sqlite --data-dir ../shared/benchmarks

Reads every stored completion (`problem` is `benchmark/problem_id`), grades them all on the
`GradingPool` (one worker per core) and in-process, and prints samples per second, the slowest
sample and how many timed out. Produce the store with a real run first, e.g.

    pytest --benchmarks=math500 --data-dir=../shared/benchmarks --limit=40 --k=4 \
        --max-tokens=256 --store=reports/completions.sqlite --unsolved=xfail
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import time
import zlib
from pathlib import Path

from capability_tests.benchmarks import load_problems
from capability_tests.grading import GradingPool, grade


def stored_completions(store: Path, data_dir: Path):
    problems = {}
    rows = sqlite3.connect(f"file:{store}?mode=ro", uri=True).execute(
        "SELECT problem, text FROM samples ORDER BY problem, idx"
    )
    for key, blob in rows:
        benchmark = key.split("/", 1)[0]
        if benchmark not in problems:
            problems[benchmark] = {p.key: p for p in load_problems(benchmark, data_dir)}
        yield zlib.decompress(blob).decode("utf-8"), problems[benchmark][key]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--store", type=Path, required=True)
    parser.add_argument("--data-dir", type=Path, required=True)
    parser.add_argument("--repeat", type=int, default=5, help="grade the set this many times")
    args = parser.parse_args()
    pairs = list(stored_completions(args.store, args.data_dir)) * args.repeat
    with GradingPool() as pool:
        pool.map(pairs[:8])  # start the workers outside the timing
        start = time.perf_counter()
        verdicts = pool.map(pairs)
        pooled = time.perf_counter() - start
    start = time.perf_counter()
    single = [grade(c, p) for c, p in pairs]
    alone = time.perf_counter() - start
    worst = max(verdicts + single, key=lambda v: v.seconds)
    print(f"{len(pairs) // args.repeat} stored completions x {args.repeat}, {os.cpu_count()} cores")
    print(f"pool: {len(pairs) / pooled:.0f} samples/s; in-process: {len(pairs) / alone:.0f} samples/s")
    print(f"correct: {sum(v.correct for v in single) // args.repeat} of {len(pairs) // args.repeat}; "
          f"timeouts: {sum(v.timed_out for v in verdicts)}; slowest sample {worst.seconds:.3f} s "
          f"({worst.reason})")


if __name__ == "__main__":
    main()
