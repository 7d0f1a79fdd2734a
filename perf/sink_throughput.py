"""How many short samples per second the suite's own path absorbs from an in-process engine:
the synthetic engine (perf/synthetic_engine.py with SYNTHETIC_BLOCKS=0: a one-line answer ending
in `\\boxed{N}`, made in microseconds) through the whole suite (pytest, the sampling coordinator,
the sample sink, the grading pool, the store), so that what is measured is the suite, not an
engine. Target: at least 5,000 samples/s with grading and the store on.

    PYTHONPATH=. python perf/sink_throughput.py                 # 500 GSM8K problems x k=64
    PYTHONPATH=. python perf/sink_throughput.py --problems 200 --k 128 --repeats 3

Per repeat it runs the suite twice (`--store=none`, then a fresh store) and reads the sampling
phase's own line (`capability-tests: N samples, T tokens in S s`); it prints samples/s per run
and the medians, and the load average before and after.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from server_overhead import sampling_phase  # noqa: E402

HERE = Path(__file__).resolve().parent


def suite_run(problems: int, k: int, data_dir: str, store: bool) -> float:
    """The sampling phase's seconds for one run of the suite."""
    env = {**os.environ, "SYNTHETIC_BLOCKS": "0",
           "PYTHONPATH": os.pathsep.join([str(HERE), str(HERE.parent),
                                          os.environ.get("PYTHONPATH", "")])}
    with tempfile.TemporaryDirectory() as work:
        where = f"--store={work}/completions.sqlite" if store else "--store=none"
        out = subprocess.run(
            [sys.executable, "-m", "pytest", "-p", "capability_tests.plugin", "--pyargs",
             "capability_tests.suite", "-q", "-p", "no:cacheprovider",
             "--engine=synthetic_engine:SyntheticEngine", "--model=synthetic/model",
             f"--data-dir={data_dir}", "--benchmarks=gsm8k", f"--limit={problems}", f"--k={k}",
             where, f"--report-dir={work}/reports", "--unsolved=xfail"],
            cwd=work, env=env, capture_output=True, text=True)
    return sampling_phase(out, problems * k)[2]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--problems", type=int, default=500)
    parser.add_argument("--k", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--data-dir", default=str(HERE.parents[1] / "shared" / "benchmarks"))
    args = parser.parse_args()
    samples = args.problems * args.k
    print(f"load average at start: {os.getloadavg()[0]:.1f}; {args.problems} GSM8K problems x "
          f"k={args.k} = {samples} samples", flush=True)
    print("| run | no store s | no store samples/s | store s | store samples/s |")
    print("|---|---:|---:|---:|---:|")
    rows = []
    for repeat in range(args.repeats):
        start = time.perf_counter()
        bare = suite_run(args.problems, args.k, args.data_dir, store=False)
        stored = suite_run(args.problems, args.k, args.data_dir, store=True)
        rows.append((bare, stored))
        print(f"| {repeat + 1} | {bare:.2f} | {samples / bare:.0f} | {stored:.2f} | "
              f"{samples / stored:.0f} |  ({time.perf_counter() - start:.0f} s with start-up "
              "and reports)", flush=True)
    bare, stored = (statistics.median(col) for col in zip(*rows))
    print(f"| median | {bare:.2f} | {samples / bare:.0f} | {stored:.2f} | {samples / stored:.0f} |")
    print(f"load average at end: {os.getloadavg()[0]:.1f}", flush=True)


if __name__ == "__main__":
    main()
