"""Size and cost of the per-sample records at large k (docs/PERFORMANCE.md).

Encodes P problems x k samples the way a test process does (results.encode_samples: realistic
answers, outcomes and reasons), feeds them to the controller's SampleSpool and writes
samples.jsonl, measuring the size of one problem's record, the spool's peak RSS growth and the
time to write the file.

    PYTHONPATH=. python perf/sample_records.py --problems 500 --k 4096 --out /tmp/records
"""

from __future__ import annotations

import argparse
import random
import resource
import time
from pathlib import Path

from capability_tests.grading.verdict import Outcome
from capability_tests.reporting.samples import SampleSpool
from capability_tests.results import SampleRow, encode_samples

OUTCOMES = [Outcome.CORRECT, Outcome.WRONG, Outcome.NO_ANSWER, Outcome.TIMEOUT]
REASONS = ["equal (boxed)", "not equal (boxed)", "no final answer", "timeout",
           "equal numerically (answer is)"]


def problem_record(rng: random.Random, pid: int, k: int) -> str:
    rows = []
    for i in range(k):
        kind = rng.choices(OUTCOMES, weights=[40, 45, 14, 1])[0]
        answer = None if kind is Outcome.NO_ANSWER else rng.choice(
            ["19", r"\frac{3}{4}", "2\\sqrt{2}", str(rng.randint(0, 999)), "(1, 2)"])
        rows.append(SampleRow(i, answer, kind, rng.choice(REASONS)))
    header = {"benchmark": "math500", "problem_id": f"test/p{pid}", "prompt": "ab" * 32,
              "grader": "grader-0123456789abcdef", "store_key": "{}"}
    return encode_samples(header, rows)


def rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--problems", type=int, default=500)
    parser.add_argument("--k", type=int, default=4096)
    parser.add_argument("--out", type=Path, default=Path("/tmp/records"))
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    rng = random.Random(0)
    spool = SampleSpool()
    start_rss = rss_mib()
    sizes = []
    t0 = time.perf_counter()
    for pid in range(args.problems):
        text = problem_record(rng, pid, args.k)
        sizes.append(len(text))
        spool.add(text)
    t1 = time.perf_counter()
    lines = spool.write_to(args.out / "samples.jsonl")
    t2 = time.perf_counter()
    spool.close()
    size = (args.out / "samples.jsonl").stat().st_size
    print(f"{args.problems} problems x k={args.k}: one problem's record {sum(sizes) / len(sizes) / 1024:.0f} KiB "
          f"({sum(sizes) / len(sizes) / args.k:.1f} bytes/sample); spooling {t1 - t0:.1f} s (incl. "
          f"encoding); samples.jsonl {lines} lines, {size / 2**20:.0f} MiB, written in {t2 - t1:.1f} s; "
          f"peak RSS growth {rss_mib() - start_rss:.0f} MiB")


if __name__ == "__main__":
    main()
