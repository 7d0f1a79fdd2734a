"""Grading speed on the pool and in-process (not a timed test; issue target >= 5,000 samples/s).

    python perf/grading_speed.py --data-dir ../shared/benchmarks [--store reports/completions.sqlite]
        [--workers 2] [--repeat 5] [--runs 3] [--per-problem 4] [--profile]

With `--store`, grades every completion kept in a completion store (`problem` is
`benchmark/problem_id`), produced by a real run, e.g.

    pytest --benchmarks=math500 --data-dir=../shared/benchmarks --limit=40 --k=4 \
        --max-tokens=256 --store=reports/completions.sqlite --unsolved=xfail

Without it, builds a synthetic, deterministic set of completions from the six benchmarks' files in
`--data-dir` (`synthetic_completions`): a few hundred characters of reasoning, then the answer in
one of the study's frames (`\\boxed{}`, Minerva's "Final Answer: ... I hope it is correct.",
"The answer is", GSM8K's `####`), right about half the time, otherwise a near miss of the
reference (`fixtures/near_miss.py`) or another problem's reference; a few are cut off inside the
box or give no answer. Prints samples per second on the `GradingPool` (each of `--runs` runs, and
their median) and in-process, the slowest sample, timeouts, and the machine's load. `--profile`
profiles in-process grading (one worker's work) and prints where the time goes.
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import random
import sqlite3
import statistics
import sys
import time
import zlib
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the repository root: fixtures/

from capability_tests.benchmarks import load_problems  # noqa: E402
from capability_tests.grading import GradingPool, grade  # noqa: E402
from fixtures.near_miss import near_misses  # noqa: E402

BENCHMARKS = ("aime24", "amc23", "gsm8k", "math500", "minerva_math", "olympiadbench")
REASONING = (
    "Let us set up the problem. We write down what is given and what we need to find.",
    "First, we expand the expression and collect like terms: $2x + 3x = 5x$.",
    "Substituting the known values, we get $a = 3$ and $b = 4$, so $a^2 + b^2 = 25$.",
    "We check the case $n = 1$ separately; it satisfies the condition.",
    "Using the formula $\\frac{n(n+1)}{2}$ for the sum of the first $n$ integers, we simplify.",
    "Dividing both sides by $2$ gives the equation \\[ x^2 - 5x + 6 = 0, \\] whose roots we find.",
    "Now, the probability is the number of favourable outcomes over the total, $\\frac{3}{8}$.",
    "We verify the result numerically and it agrees with the estimate above.",
)
FRAMES = (
    "So the answer is $\\boxed{{{a}}}$.",
    "Therefore, the final answer is\n\\[\n\\boxed{{{a}}}\n\\]",
    "Final Answer: The final answer is ${a}$. I hope it is correct.",
    "The answer is ${a}$.",
)


def synthetic_answer(rng: random.Random, problem, misses: list[str], answers: list[str]
                     ) -> tuple[str, float, str]:
    """(reasoning text, the roll, the answer): the reference half the time, else a near miss
    (when there is one) or another problem's reference."""
    body = " ".join(rng.choice(REASONING) for _ in range(rng.randint(3, 8)))
    roll = rng.random()
    if roll < 0.5:
        answer = problem.answer
    elif roll < 0.8 and misses:
        answer = rng.choice(misses)
    else:
        answer = rng.choice(answers)
    return body, roll, answer


def synthetic_completions(data_dir: Path, per_problem: int, seed: int = 12345):
    """(completion, problem) pairs: `per_problem` realistic completions for every problem."""
    rng = random.Random(seed)
    problems = [p for name in BENCHMARKS for p in load_problems(name, data_dir) if not p.error]
    answers = [p.answer for p in problems]
    for problem in problems:
        misses = [m.text for m in near_misses(problem.answer, problem.policy, limit=8)]
        for _ in range(per_problem):
            body, roll, answer = synthetic_answer(rng, problem, misses, answers)
            if roll > 0.97:
                yield body + "\n\nSo the answer is $\\boxed{" + answer[: len(answer) // 2], problem
            elif roll > 0.95:
                yield body + "\n\nI am not sure how to finish this.", problem
            elif problem.benchmark == "gsm8k" and rng.random() < 0.5:
                yield f"{body}\n#### {answer}", problem
            else:
                yield f"{body}\n\n{rng.choice(FRAMES).format(a=answer)}", problem


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
    parser.add_argument("--store", type=Path, help="a completion store (default: synthetic set)")
    parser.add_argument("--data-dir", type=Path, required=True)
    parser.add_argument("--workers", type=int, default=None, help="pool workers (default: cores)")
    parser.add_argument("--repeat", type=int, default=5, help="grade the set this many times")
    parser.add_argument("--runs", type=int, default=3, help="timed pool runs (median reported)")
    parser.add_argument("--per-problem", type=int, default=4, help="synthetic completions each")
    parser.add_argument("--profile", action="store_true", help="profile in-process grading")
    args = parser.parse_args()
    if args.store:
        base = list(stored_completions(args.store, args.data_dir))
        source = f"{len(base)} stored completions"
    else:
        base = list(synthetic_completions(args.data_dir, args.per_problem))
        source = f"{len(base)} synthetic completions"
    pairs = base * args.repeat
    rates = []
    with GradingPool(workers=args.workers) as pool:
        pool.map(pairs[:64])  # start the workers outside the timing
        for _ in range(args.runs):
            start = time.perf_counter()
            verdicts = pool.map(pairs)
            rates.append(len(pairs) / (time.perf_counter() - start))
    if args.profile:
        profiler = cProfile.Profile()
        profiler.enable()
    start = time.perf_counter()
    single = [grade(c, p) for c, p in base]
    alone = time.perf_counter() - start
    if args.profile:
        profiler.disable()
        pstats.Stats(profiler).sort_stats("cumulative").print_stats(25)
    worst = max(verdicts + single, key=lambda v: v.seconds)
    print(f"{source} x {args.repeat}, {os.cpu_count()} cores, pool workers "
          f"{args.workers or os.cpu_count()}, load average {os.getloadavg()[0]:.2f} at the end")
    print("pool runs: " + ", ".join(f"{r:.0f}" for r in rates) + " samples/s; median "
          f"{statistics.median(rates):.0f} samples/s; in-process (first pass, cold cache): "
          f"{len(base) / alone:.0f} samples/s")
    print(f"correct: {sum(v.correct for v in single)} of {len(base)}; no answer: "
          f"{sum(v.extracted is None for v in single)}; timeouts: "
          f"{sum(v.timed_out for v in verdicts)}; slowest sample {worst.seconds:.3f} s "
          f"({worst.reason})")


if __name__ == "__main__":
    main()
