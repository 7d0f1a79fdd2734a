"""The sampling plan of one problem: from what the store holds for its prompt, which stored
verdicts are kept, which stored texts are graded again (no engine), which sample indices are
missing, or why the problem cannot be sampled at all. Pure: store rows in, a frozen plan out
(tested without an engine or a store, tests/test_sampling_plan.py)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

from capability_tests.store import StoredSample, grader_of


@dataclass(frozen=True)
class PlanRules:
    """What the run asks for, as far as planning is concerned."""

    k: int
    regrade_all: bool = False  # --regrade: every stored verdict is made again, nothing generated
    seeded: bool = True  # --sampling seeded (else batched)
    batched_top_up: bool = True  # the engine derives batched samples from their indices
    engine: str = ""  # for messages
    store: str = ""  # for messages


@dataclass(frozen=True)
class ProblemPlan:
    key: str
    keep: tuple[StoredSample, ...]  # stored verdicts that stand
    regrade: tuple[int, ...]  # stored texts to grade again
    missing: tuple[int, ...]  # indices the engine is asked for
    other_grader: int = 0  # of `regrade`: verdicts made under another grader identity
    ungraded: int = 0  # of `regrade`: samples an earlier run could not grade
    failure: str | None = None  # the problem cannot be completed in this run (why)
    # of `regrade`: same grader, another key (reference, policy, a code problem's limits here)
    other_key: int = 0

    @property
    def stored(self) -> int:
        return len(self.keep) + len(self.regrade)


def plan_problem(key: str, stored: Mapping[int, StoredSample], grading: str, grader: str,
                 rules: PlanRules) -> ProblemPlan:
    """The plan for problem `key`, whose current grading digest is `grading` (made by grader
    identity `grader`), given its stored samples by index."""
    keep, regrade = [], []
    other = ungraded = changed = 0
    for i in range(rules.k):
        s = stored.get(i)
        if s is None:
            continue
        if s.correct is None:
            ungraded += 1  # grading failed in an earlier run
            regrade.append(i)
        elif rules.regrade_all or s.grading != grading:
            if grader_of(s.grading) != grader:
                other += 1
            elif s.grading != grading:
                changed += 1
            regrade.append(i)
        else:
            keep.append(s)
    lacking = tuple(i for i in range(rules.k) if i not in stored)
    failure = None
    if lacking and rules.regrade_all:
        failure = (
            f"--regrade: {key} has {rules.k - len(lacking)} of {rules.k} samples in the "
            f"completion store {rules.store} for this model and these sampling settings; "
            "run without --regrade to generate the missing ones")
    elif lacking and not rules.seeded and len(lacking) < rules.k and not rules.batched_top_up:
        failure = (
            f"--sampling batched: engine {rules.engine!r} does not derive batched samples "
            f"from their indices (no batched_seeds), so adding samples "
            f"{lacking[0]}..{lacking[-1]} of {key} to the {rules.k - len(lacking)} stored "
            "could repeat them; run with --fresh to regenerate all k, or with "
            "--sampling seeded")
    return ProblemPlan(key, tuple(keep), tuple(regrade), () if failure else lacking,
                       other, ungraded, failure, changed)
