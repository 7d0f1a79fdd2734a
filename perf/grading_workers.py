"""Grading throughput at k = 1 over 500 problems, per number of grading workers (a figure, not a
timed test; docs/PERFORMANCE.md, "Grading at k = 1: scaling with workers").

    PYTHONPATH=. python perf/grading_workers.py --data-dir ../shared/benchmarks \
        [--workers 1 2] [--runs 5] [--benchmark math500] [--problems 500]

At k = 1 every sample is a new problem, so the pool's per-problem cost (the problem pickled and
sent to a worker once, its cache entry) is paid on every sample, unlike k = 64 where it is
amortised. Each run takes fresh copies of the problems (the pool tokens problems by object), so
every problem is sent to a worker exactly once per run, as in a suite run; the script checks that
(`GradingPool.problems_sent`). Samples go through `sampling.sink.Grading`, the suite's one grading
seam, submitted in flushes of `FLUSH_SAMPLES` without waiting (as `SampleSink` does) and collected
as they finish. Completions are synthetic and deterministic (`grading_speed.py`'s frames: right
about half the time, otherwise a near miss or another problem's answer). Each run starts a new pool
(cold worker caches, as a run does) and new completions (another seed); worker start-up is
outside the timing (a warm-up batch on another benchmark's problems). Prints samples/s per worker count (each
run and the median), the CPU the workers and the parent used (what grading costs, whatever the
load), and the load average before and after, which decides what 2 workers can give on a shared
2-core machine.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import random
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the repository root: fixtures/

from capability_tests.benchmarks import load_problems  # noqa: E402
from capability_tests.sampling.sink import FLUSH_SAMPLES, Grading  # noqa: E402
from fixtures.near_miss import near_misses  # noqa: E402
from perf.grading_speed import FRAMES, synthetic_answer  # noqa: E402

WARM_UP = "gsm8k"  # the warm-up batch's problems: not the measured ones


def completions(problems, seed: int = 2024) -> list[str]:
    """One realistic completion per problem (k = 1)."""
    rng = random.Random(seed)
    answers = [p.answer for p in problems]
    out = []
    for problem in problems:
        misses = [m.text for m in near_misses(problem.answer, problem.policy, limit=4)]
        body, _, answer = synthetic_answer(rng, problem, misses, answers)
        out.append(f"{body}\n\n{rng.choice(FRAMES).format(a=answer)}")
    return out


def cpu_of(pids) -> float:
    """CPU seconds (user + system) the processes `pids` have used so far (/proc)."""
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat", encoding="ascii") as handle:
                fields = handle.read().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])  # utime, stime
        except (OSError, IndexError, ValueError):
            pass
    return total / os.sysconf("SC_CLK_TCK")


def one_run(grading: Grading, texts: list[str], problems) -> tuple[float, int]:
    """Seconds to grade every (text, fresh problem copy), flush by flush; samples correct."""
    fresh = [dataclasses.replace(p) for p in problems]  # new objects: sent to a worker again
    start = time.perf_counter()
    futures = []
    for i in range(0, len(fresh), FLUSH_SAMPLES):
        futures += [grading.submit(t, p) for t, p in
                    zip(texts[i:i + FLUSH_SAMPLES], fresh[i:i + FLUSH_SAMPLES])]
    verdicts = [f.result() for f in futures]
    return time.perf_counter() - start, sum(bool(v.correct) for v in verdicts)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", type=Path, required=True)
    parser.add_argument("--benchmark", default="math500")
    parser.add_argument("--problems", type=int, default=500)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--runs", type=int, default=5, help="timed runs per worker count")
    args = parser.parse_args()
    everything = [p for p in load_problems(args.benchmark, args.data_dir) if not p.error]
    problems = everything[: args.problems]
    if len(problems) < args.problems:
        raise SystemExit(f"{args.benchmark}: {len(problems)} problems, --problems "
                         f"{args.problems} asked")
    warm = [p for p in load_problems(WARM_UP, args.data_dir) if not p.error][:64]
    warm_texts = completions(warm, seed=7)
    print(f"{len(problems)} {args.benchmark} problems x k = 1; {len(os.sched_getaffinity(0))} "
          f"usable CPUs; load average before: "
          + " ".join(f"{x:.2f}" for x in os.getloadavg()))
    rates: dict[int, list[float]] = {w: [] for w in args.workers}
    sent: dict[int, list[int]] = {w: [] for w in args.workers}
    correct = {}
    worker_cpu: dict[int, list[float]] = {w: [] for w in args.workers}
    parent_cpu: dict[int, list[float]] = {w: [] for w in args.workers}
    for run in range(args.runs):  # worker counts alternate: a change of load hits them alike
        texts = completions(problems, seed=run)  # new texts each run: no warm memo caches
        for workers in args.workers:
            grading = Grading(workers=workers)  # new workers each run: cold caches, as a run
            try:
                one_run(grading, warm_texts, warm)  # start the workers outside the timing
                pool = grading._pool
                while len(pool.worker_pids()) < workers or not all(
                        w.ready for w in pool._workers):
                    time.sleep(0.05)
                before = pool.problems_sent
                pids = pool.worker_pids()
                cpu0, parent0 = cpu_of(pids), time.process_time()
                seconds, correct[workers] = one_run(grading, texts, problems)
                worker_cpu[workers].append(cpu_of(pids) - cpu0)
                parent_cpu[workers].append(time.process_time() - parent0)
                sent[workers].append(pool.problems_sent - before)
            finally:
                grading.close()
            rates[workers].append(len(problems) / seconds)
    medians = {}
    for workers in args.workers:
        medians[workers] = statistics.median(rates[workers])
        print(f"workers {workers}: " + ", ".join(f"{r:.0f}" for r in rates[workers])
              + f" samples/s; median {medians[workers]:.0f}; problems sent per run "
              f"{max(sent[workers])} (of {len(problems)}); correct in the last run "
              f"{correct[workers]}")
        busy = statistics.median(worker_cpu[workers])
        print(f"  median CPU per run: workers {busy:.2f} s (grading alone: "
              f"{len(problems) / max(busy, 1e-9):.0f} samples per worker CPU-second), "
              f"parent (dispatcher and submit) {statistics.median(parent_cpu[workers]):.2f} s")
    print("load average after: " + " ".join(f"{x:.2f}" for x in os.getloadavg()))
    base = medians.get(min(medians))
    for workers, rate in medians.items():
        print(f"  {workers} worker(s): {rate:.0f} samples/s, {rate / base:.2f}x the "
              f"{min(medians)}-worker median")


if __name__ == "__main__":
    main()
