"""Measure the grader: gold self-check, cross-problem negatives, Math-Verify agreement, speed.

    PYTHONPATH=. python perf/grading_quality.py --data-dir /work/shared/benchmarks \
        [--mv-python /tmp/mv/bin/python] [--out docs/grading_figures.md]

Writes a Markdown report of the figures (the figures section of docs/GRADING.md is pasted from it).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from capability_tests.benchmarks import load_problems
from capability_tests.grading import GradingPool, grade
from capability_tests.grading.equivalence import answers_match, reference_of
from capability_tests.grading.normalise import normalise
from capability_tests.latex import last_boxed

BENCHES = ("math500", "minerva_math", "olympiadbench")


def raw_rows(data_dir: Path, name: str) -> list[dict]:
    with open(data_dir / name / "test.jsonl", encoding="utf-8") as f:
        return [json.loads(l) for l in f if l.strip()]


def gold_cases(data_dir: Path) -> list[tuple[str, object, str]]:
    """(gold completion, problem, gold answer text) for every problem with a gold solution."""
    cases = []
    for name in BENCHES:
        problems = load_problems(name, data_dir)
        for row, problem in zip(raw_rows(data_dir, name), problems):
            if name == "olympiadbench":
                finals = [a.strip().strip("$").strip() for a in row["final_answer"]]
                gold = ", ".join(finals)
                completion = f"So the final answer is \\boxed{{{gold}}}."
            else:
                gold = last_boxed(row.get("solution", "")) or ""
                completion = row["solution"]
            cases.append((completion, problem, gold))
    return cases


def _exactly_equal(p, q) -> bool:
    """The two references are the same value under exact comparison (no tolerance)."""
    from dataclasses import replace

    try:
        ok, _ = answers_match(p.answer, replace(q, benchmark="math500"))
    except Exception:  # noqa: BLE001
        return False
    return ok


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data-dir", type=Path, required=True)
    ap.add_argument("--mv-python", default="/tmp/mv/bin/python")
    ap.add_argument("--out", type=Path, default=Path("docs/grading_figures.md"))
    ap.add_argument("--negatives-per-problem", type=int, default=100)
    args = ap.parse_args()
    lines: list[str] = []
    say = lambda s="": (print(s), lines.append(s))  # noqa: E731

    # 1. gold self-check -----------------------------------------------------------------------
    cases = gold_cases(args.data_dir)
    pool = GradingPool()
    t0 = time.perf_counter()
    verdicts = pool.map((c, p) for c, p, _ in cases)
    gold_s = time.perf_counter() - t0
    say("## Gold self-check\n")
    say("| benchmark | cases | judged correct | rate |\n|---|---|---|---|")
    misses = []
    for name in BENCHES:
        sel = [(c, v) for c, v in zip(cases, verdicts) if c[1].benchmark == name]
        ok = sum(v.correct for _, v in sel)
        say(f"| {name} | {len(sel)} | {ok} | {100 * ok / len(sel):.2f}% |")
        misses += [(c, v) for c, v in sel if not v.correct]
    total_ok = sum(v.correct for v in verdicts)
    say(f"| all | {len(cases)} | {total_ok} | {100 * total_ok / len(cases):.2f}% |\n")
    say("Misses:\n")
    for (completion, problem, gold), v in misses:
        say(f"- `{problem.key}`: gold `{gold[:120]}` vs reference `{problem.answer[:120]}`: "
            f"{v.reason}")
    say()

    # 2. cross-problem negatives ---------------------------------------------------------------
    rng = random.Random(12345)
    neg_pairs, neg_meta = [], []
    for name in BENCHES:
        sel = [(c, p, g) for c, p, g in cases if p.benchmark == name]
        for i, (_, p, g) in enumerate(sel):
            others = [j for j in range(len(sel)) if j != i]
            for j in rng.sample(others, min(args.negatives_per_problem, len(others))):
                q = sel[j][1]
                if normalise(q.answer).key == normalise(p.answer).key or _exactly_equal(p, q):
                    continue  # truly equal references
                neg_pairs.append((f"\\boxed{{{g}}}", q))
                neg_meta.append((p, q, g))
    t0 = time.perf_counter()
    neg_verdicts = pool.map(neg_pairs)
    neg_s = time.perf_counter() - t0
    say("## Cross-problem negatives\n")
    say(f"Each problem's gold answer against {args.negatives_per_problem} other problems' "
        "references of the same benchmark (deterministic sample, seed 12345; pairs with "
        "references that are identical after normalisation or exactly equal as values, such as `1,-2` and `-2,1`, excluded).\n")
    say("| benchmark | pairs | judged correct | rate |\n|---|---|---|---|")
    fps = []
    for name in BENCHES:
        sel = [(m, v) for m, v in zip(neg_meta, neg_verdicts) if m[0].benchmark == name]
        bad = [(m, v) for m, v in sel if v.correct]
        fps += bad
        say(f"| {name} | {len(sel)} | {len(bad)} | {100 * len(bad) / max(1, len(sel)):.3f}% |")
    say()
    for (p, q, g), v in fps[:40]:
        say(f"- gold of `{p.key}` `{g[:80]}` judged equal to reference of `{q.key}` "
            f"`{q.answer[:80]}` ({v.reason})")
    say()

    # 3. speed -----------------------------------------------------------------------------------
    comp_path = Path("/tmp/completions_math500.jsonl")
    if comp_path.exists():
        probs = {p.problem_id: p for p in load_problems("math500", args.data_dir)}
        speed_pairs = []
        for line in comp_path.read_text().splitlines():
            row = json.loads(line)
            if row.get("problem_id") in probs:
                speed_pairs.append((row["completion"], probs[row["problem_id"]]))
        source = f"{len(speed_pairs)} real completions from {comp_path}"
    else:
        speed_pairs = [(c, p) for c, p, _ in cases if p.benchmark == "math500"] * 4
        source = "MATH500 gold solutions (x4) as stand-in completions (no real completions file)"
    t0 = time.perf_counter()
    sv = pool.map(speed_pairs)
    dt = time.perf_counter() - t0
    pool.close()
    t1 = time.perf_counter()
    single = [grade(c, p) for c, p in speed_pairs[:500]]
    dt1 = time.perf_counter() - t1
    worst = max(sv + single + neg_verdicts + verdicts, key=lambda v: v.seconds)
    say("## Speed\n")
    say(f"- machine: {os.cpu_count()} cores; source: {source}")
    say(f"- pool ({os.cpu_count()} workers): {len(sv)} samples in {dt:.2f} s = "
        f"**{len(sv) / dt:.0f} samples/s**")
    say(f"- in-process `grade` (one core): {len(single)} in {dt1:.2f} s = {len(single) / dt1:.0f}/s")
    say(f"- negatives (every one parsed and compared as values): {len(neg_pairs)} in "
        f"{neg_s:.1f} s = {len(neg_pairs) / neg_s:.0f}/s on the pool")
    say(f"- worst single sample over all runs above: {worst.seconds:.3f} s ({worst.reason}); "
        f"timeouts: {sum(v.timed_out for v in sv)}")
    say(f"- gold self-check ({len(cases)}) took {gold_s:.1f} s, negatives ({len(neg_pairs)}) "
        f"{neg_s:.1f} s on the pool")
    say()

    # 4. Math-Verify side by side --------------------------------------------------------------
    say("## Math-Verify side by side\n")
    mv_cases = []
    for (completion, problem, gold), v in zip(cases, verdicts):
        mv_cases.append({"kind": "gold", "key": problem.key, "gold": problem.answer if problem.benchmark != "olympiadbench" else ", ".join(reference_of(problem)[0]),
                         "pred": f"\\boxed{{{gold}}}", "ours": v.correct})
    for (p, q, g), v in zip(neg_meta, neg_verdicts):
        if rng.random() < 0.1:
            mv_cases.append({"kind": "negative", "key": f"{p.key} vs {q.key}", "gold": q.answer,
                             "pred": f"\\boxed{{{g}}}", "ours": v.correct})
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
    from test_grading_cases import CORRECT, WRONG, P  # the hand-written hard-case tables

    for expected, table in ((True, CORRECT), (False, WRONG)):
        for bench, ref, completion in table:
            ours = grade(completion, P(bench, ref)).correct
            mv_cases.append({"kind": f"hand-written, truly {expected}", "key": bench, "gold": ref,
                             "pred": completion, "ours": ours})
    if not Path(args.mv_python).exists():
        say(f"Math-Verify not available ({args.mv_python} missing).")
    else:
        with tempfile.TemporaryDirectory() as tmp:
            inp = Path(tmp) / "cases.jsonl"
            inp.write_text("\n".join(json.dumps(c) for c in mv_cases) + "\n")
            script = Path(__file__).with_name("run_math_verify.py")
            res = subprocess.run([args.mv_python, str(script), str(inp)], capture_output=True,
                                 text=True, timeout=900)
            mv = [json.loads(l) for l in res.stdout.splitlines() if l.strip()]
        if len(mv) != len(mv_cases):
            say(f"Math-Verify run failed: {res.stderr[-2000:]}")
        else:
            table: dict[tuple, int] = {}
            for c, m in zip(mv_cases, mv):
                k = (c["kind"], c["ours"], m["mv"])
                table[k] = table.get(k, 0) + 1
            say("| cases | ours | Math-Verify | count |\n|---|---|---|---|")
            for k in sorted(table):
                say(f"| {k[0]} | {k[1]} | {k[2]} | {table[k]} |")
            say("\nDisagreements (gold cases: the gold answer is right by construction, so the "
                "side saying False is wrong unless noted; negatives: the side saying True is "
                "wrong unless the answers are truly equal):\n")
            for c, m in zip(mv_cases, mv):
                if c["ours"] != m["mv"] or c["kind"] == "hand-written, truly False" and c["ours"]:
                    say(f"- [{c['kind']}] `{c['key']}`: pred `{c['pred'][:90]}` gold "
                        f"`{c['gold'][:90]}`: ours={c['ours']} mv={m['mv']}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("\n".join(lines) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
