"""The sampling plan (capability_tests/sampling/plan.py): store rows in, kept / regraded /
missing out, with no engine and no store."""

from __future__ import annotations

from capability_tests.sampling.plan import PlanRules, plan_problem
from capability_tests.store import StoredSample

GRADER = "grader-new"
GRADING = f"{GRADER}/0123456789abcdef"


def row(i, correct=True, grading=GRADING):
    return StoredSample(i, None, 5, "stop", correct, "1", "equal", grading)


def test_empty_store_asks_for_every_index():
    plan = plan_problem("demo/add", {}, GRADING, GRADER, PlanRules(k=4))
    assert plan.missing == (0, 1, 2, 3) and plan.keep == () and plan.regrade == ()
    assert plan.failure is None and plan.stored == 0


def test_current_verdicts_are_kept_and_only_gaps_generated():
    stored = {0: row(0), 2: row(2, correct=False)}
    plan = plan_problem("demo/add", stored, GRADING, GRADER, PlanRules(k=4))
    assert [s.index for s in plan.keep] == [0, 2] and plan.missing == (1, 3)
    assert plan.stored == 2


def test_ungraded_other_grader_and_other_reference_are_regraded_not_generated():
    stored = {0: row(0, correct=None), 1: row(1, grading="grader-old/0123456789abcdef"),
              2: row(2, grading=f"{GRADER}/ffffffffffffffff"), 3: row(3)}
    plan = plan_problem("demo/add", stored, GRADING, GRADER, PlanRules(k=4))
    assert plan.regrade == (0, 1, 2) and [s.index for s in plan.keep] == [3]
    assert plan.ungraded == 1 and plan.other_grader == 1 and plan.missing == ()
    assert plan.other_key == 1  # same grader, another key: reference, policy or limits


def test_regrade_all_regrades_everything_and_fails_a_problem_with_gaps():
    stored = {0: row(0), 1: row(1)}
    plan = plan_problem("demo/add", stored, GRADING, GRADER,
                        PlanRules(k=3, regrade_all=True, store="s.sqlite"))
    assert plan.regrade == (0, 1) and plan.missing == ()
    assert plan.failure.startswith("--regrade: demo/add has 2 of 3 samples")


def test_batched_top_up_is_refused_without_batched_seeds_but_a_fresh_prompt_is_fine():
    rules = PlanRules(k=4, seeded=False, batched_top_up=False, engine="e")
    topped = plan_problem("demo/add", {0: row(0)}, GRADING, GRADER, rules)
    assert topped.missing == () and "does not derive batched samples" in topped.failure
    fresh = plan_problem("demo/add", {}, GRADING, GRADER, rules)
    assert fresh.missing == (0, 1, 2, 3) and fresh.failure is None


def test_indices_beyond_k_are_ignored():
    plan = plan_problem("demo/add", {5: row(5)}, GRADING, GRADER, PlanRules(k=2))
    assert plan.keep == () and plan.missing == (0, 1) and plan.stored == 0
