"""N-way coverage: which problems each subset of three or more runs solves at one k (e.g. the base
model only, the RL model only, the distilled model only, all, none), the study's question of
whether RL training finds problems the base model cannot solve.

*Solved at k* is compare.py's definition: the problem's unbiased pass@k estimate is >= 0.5 (a random
k-subset of its n samples holds a correct one at least half the time); at k = n that is exactly
"at least one of the n samples is correct". Only problems every run sampled count, and k can be at
most the smallest n among them.
"""

from __future__ import annotations

from itertools import product
from typing import Any, Mapping, Sequence

from capability_tests.reporting.curves import problem_curve
from capability_tests.results import ProblemResult

SOLVED_THRESHOLD = 0.5
LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"


def solved_at(n: int, c: int, k: int) -> bool:
    return bool(problem_curve(n, c, k)[k - 1] >= SOLVED_THRESHOLD)


def subset_label(flags: Sequence[bool], letters: Sequence[str]) -> str:
    chosen = [letter for letter, flag in zip(letters, flags) if flag]
    if not chosen:
        return "none"
    if len(chosen) == len(letters):
        return "all"
    return "+".join(chosen) + (" only" if len(chosen) == 1 else "")


def coverage_table(runs: Sequence[Sequence[ProblemResult]], run_ids: Sequence[str],
                   at_k: int | None = None) -> dict[str, Any]:
    """Per subset of runs (every one of the 2^m, largest first): the problems solved at k by
    exactly those runs. `runs[i]` are run i's results on one benchmark."""
    sampled = [{r.problem_id: (r.n, r.correct) for r in rows if r.error is None and r.n > 0}
               for rows in runs]
    ids = sorted(set.intersection(*(set(s) for s in sampled))) if sampled else []
    k_max = min((s[pid][0] for s in sampled for pid in ids), default=0)
    k = at_k or k_max
    out: dict[str, Any] = {"k": k, "runs": list(run_ids), "problems": len(ids),
                           "letters": list(LETTERS[:len(run_ids)])}
    if not ids:
        out["error"] = "no problem was sampled by every run"
        return out
    if k > k_max:
        out["error"] = f"k={k} is larger than the samples every run has (n={k_max})"
        return out
    by_flags: dict[tuple[bool, ...], list[str]] = {}
    for pid in ids:
        flags = tuple(solved_at(*s[pid], k) for s in sampled)
        by_flags.setdefault(flags, []).append(pid)
    letters = out["letters"]
    subsets = []
    for flags in sorted(product((True, False), repeat=len(run_ids)), key=lambda f: (-sum(f), [not x for x in f])):
        subsets.append({
            "label": subset_label(flags, letters),
            "solved_by": [rid for rid, flag in zip(run_ids, flags) if flag],
            "problems": len(by_flags.get(flags, [])),
            "ids": by_flags.get(flags, []),
        })
    out["subsets"] = subsets
    return out


def coverage_markdown(table: Mapping[str, Any], labels: Mapping[str, str], limit: int = 20) -> list[str]:
    letters = dict(zip(table["runs"], table["letters"]))
    head = ", ".join(f"{letters[rid]} = {labels.get(rid, rid)}" for rid in table["runs"])
    out = [f"Coverage of {len(table['runs'])} runs at k = {table['k']} on {table['problems']} common "
           f"problems ({head}; solved: pass@k estimate >= {SOLVED_THRESHOLD}, at k = n any correct "
           "sample):", ""]
    if "error" in table:
        return out + [f"- {table['error']}", ""]
    out += ["| solved by | problems | ids |", "|---|---:|---|"]
    for subset in table["subsets"]:
        ids = subset["ids"]
        shown = ", ".join(ids[:limit]) + (f", ... (+{len(ids) - limit})" if len(ids) > limit else "")
        out.append(f"| {subset['label']} | {subset['problems']} | {shown} |")
    return out + [""]
