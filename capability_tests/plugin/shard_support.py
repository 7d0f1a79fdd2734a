"""`--shard I/N` in a session: the final selection cut to this shard, and the shard's record
(`shard.json` in the run folder) that `capability-tests merge` checks and combines.

Registered only when `--shard` is given. The cut is a `pytest_collection_modifyitems` run last,
so it sees the selection after `-k`, `-m` and `--deselect`; the dropped tests are reported as
deselected. Serial runs and xdist workers cut alike (every worker collects the same tests); the
controller, which collects nothing, gets the record from a worker through `workeroutput`.
"""

from __future__ import annotations

import json

import pytest

from capability_tests.plugin.state import CapabilityState

WORKEROUTPUT_KEY = "capability_shard"
RECORD = "shard.json"


class ShardSelection:
    def __init__(self, state: CapabilityState) -> None:
        self.state = state
        self.record: dict | None = None

    @pytest.hookimpl(trylast=True)
    def pytest_collection_modifyitems(self, config: pytest.Config, items: list[pytest.Item]) -> None:
        from capability_tests import shard_plan
        from capability_tests.plugin.collection import problem_of

        index, count = self.state.run_config.shard
        problems = {}
        for item in items:
            problem = problem_of(item)
            if problem is not None:
                problems.setdefault(problem.key, problem)
        max_tokens = self.state.run_config.max_tokens
        assignment = shard_plan.plan(((k, p.benchmark) for k, p in problems.items()), count,
                                     max_tokens)
        keep, drop = [], []
        for item in items:
            problem = problem_of(item)
            (keep if problem is None or assignment[problem.key] == index else drop).append(item)
        if drop:
            items[:] = keep
            config.hook.pytest_deselected(items=drop)
        mine = sorted(k for k, s in assignment.items() if s == index)
        costs = shard_plan.shard_costs(assignment, {k: p.benchmark for k, p in problems.items()},
                                       count, max_tokens)
        self.record = {
            "shard": {"index": index, "count": count},
            "plan": shard_plan.PLAN_VERSION,
            "selection": {"problems": len(problems),
                          "sha256": shard_plan.selection_digest(problems),
                          "expected_tokens_per_index": costs},
            "problems": mine,
            # reference answers of this shard's problems: the merge recomputes the data
            # fingerprints (run_writer.data_fingerprints) one machine would have written
            "answers": {k: problems[k].answer for k in mine if problems[k].error is None},
        }

    @pytest.hookimpl(optionalhook=True)
    def pytest_testnodedown(self, node, error) -> None:
        text = getattr(node, "workeroutput", {}).get(WORKEROUTPUT_KEY)
        if text and self.record is None:
            self.record = json.loads(text)

    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        """Runs after the result collector wrote the run folder (its hook is a wrapper)."""
        if self.record is None:
            return
        if self.state.is_worker:
            session.config.workeroutput[WORKEROUTPUT_KEY] = json.dumps(self.record)
            return
        collector = session.config.pluginmanager.get_plugin("capability-results")
        report = getattr(getattr(collector, "reports", None), "report", None)
        if report is None:
            return
        from capability_tests.reporting.summary import write_atomic

        write_atomic(report.path / RECORD, json.dumps(self.record, indent=1, sort_keys=True) + "\n")
