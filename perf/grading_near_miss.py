"""The near-miss negative benchmark: the grader's false-positive rate on almost-right answers.

    python perf/grading_near_miss.py --data-dir ../shared/benchmarks [--workers 2]

For every reference answer of the six benchmarks, `fixtures/near_miss.py` makes
wrong answers close to it (off by one, sign flipped, digits transposed, a factor dropped, tuple
entries swapped, a unit scaled, a decimal truncated, a thousands separator misplaced, a list member
changed, ...), each proven wrong by exact arithmetic. Each is put in a completion the way models
write one (several frames, taken in turn), graded on the `GradingPool`, and every acceptance is a
false positive. The references themselves are graded in the same frames as a check that the
frames are read. Prints the counts, the rate and every false positive; exits 1 above 1e-5.
"""

from __future__ import annotations

import argparse
import collections
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the repository root: fixtures/

from capability_tests.benchmarks import load_problems  # noqa: E402
from capability_tests.grading import GradingPool  # noqa: E402
from fixtures.near_miss import near_misses  # noqa: E402

BENCHMARKS = ("aime24", "amc23", "gsm8k", "math500", "minerva_math", "olympiadbench")
FRAMES = (
    "We simplify step by step and collect the terms.\n\nSo the answer is $\\boxed{{{a}}}$.",
    "Solving the system gives the value below.\nFinal Answer: The final answer is ${a}$. "
    "I hope it is correct.",
    "Checking each case, the result is\n\\[\n\\boxed{{{a}}}\n\\]",
    "Putting it together.\n\n**Answer:** ${a}$",
    "Therefore, the final answer is ${a}$.",
)
TARGET = 1e-5


def _family(kind: str) -> str:
    """`tuple entry off by -3` -> `tuple entry changed`, `off by 7` -> `off by 2..1000`."""
    for prefix, name in (("tuple entry ", "tuple entry changed"), ("list member ", "list member changed")):
        if kind.startswith(prefix):
            return "list member dropped" if kind == "list member dropped" else name
    if kind.startswith("off by "):
        return "off by one" if kind in ("off by 1", "off by -1") else "off by 2..1000"
    return kind.split(" (")[0]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", type=Path, required=True)
    parser.add_argument("--workers", type=int, default=None)
    parser.add_argument("--limit", type=int, default=400, help="near misses per reference")
    args = parser.parse_args()

    start = time.perf_counter()
    pairs, meta, references = [], [], []
    per_benchmark: collections.Counter[str] = collections.Counter()
    kinds: collections.Counter[str] = collections.Counter()
    skipped: collections.Counter[str] = collections.Counter()
    for name in BENCHMARKS:
        for problem in load_problems(name, args.data_dir):
            if problem.error:
                continue
            misses = near_misses(problem.answer, problem.policy, limit=args.limit)
            if not misses:
                skipped[name] += 1
                continue
            for j, frame in enumerate(FRAMES):
                references.append((frame.format(a=problem.answer), problem))
            for miss in misses:
                frame = FRAMES[len(pairs) % len(FRAMES)]
                pairs.append((frame.format(a=miss.text), problem))
                meta.append((problem, miss))
                per_benchmark[name] += 1
                kinds[_family(miss.kind)] += 1
    made = time.perf_counter() - start

    start = time.perf_counter()
    with GradingPool(workers=args.workers) as pool:
        verdicts = pool.map(pairs)
        ref_verdicts = pool.map(references)
    graded = time.perf_counter() - start

    false_pos = [(p, m, v) for (p, m), v in zip(meta, verdicts) if v.correct]
    no_answer = sum(v.extracted is None for v in verdicts)
    timeouts = sum(v.timed_out for v in verdicts)
    rate = len(false_pos) / max(len(pairs), 1)
    print(f"machine: {os.cpu_count()} cores; near misses made in {made:.1f} s, graded in "
          f"{graded:.1f} s ({len(pairs) / graded:.0f} samples/s on the pool)")
    print("| benchmark | references used | references skipped | near misses |")
    print("|---|---|---|---|")
    for name in BENCHMARKS:
        used = len({p.key for p, _ in meta if p.benchmark == name})
        print(f"| {name} | {used} | {skipped[name]} | {per_benchmark[name]} |")
    print(f"| all | {len({p.key for p, _ in meta})} | {sum(skipped.values())} | {len(pairs)} |")
    print("\nby rewrite: " + ", ".join(f"{k} {n}" for k, n in kinds.most_common()))
    ref_ok = sum(v.correct for v in ref_verdicts)
    print(f"\nreferences in the same frames graded correct: {ref_ok} / {len(ref_verdicts)}")
    print(f"near misses with no extracted answer: {no_answer}; timeouts: {timeouts}")
    print(f"false positives: {len(false_pos)} / {len(pairs)} = {rate:.2e} (target <= {TARGET:.0e})")
    for problem, miss, verdict in false_pos:
        print(f"- {problem.key}: reference `{problem.answer}` accepted `{miss.text}` ({miss.kind}; "
              f"{verdict.reason})")
    for (text, problem), verdict in zip(references, ref_verdicts):
        if not verdict.correct:
            print(f"- reference not accepted: {problem.key} `{problem.answer}` ({verdict.reason}) "
                  f"in {text[:60]!r}")
    return 0 if rate <= TARGET else 1


if __name__ == "__main__":
    sys.exit(main())
