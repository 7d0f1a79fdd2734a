"""xdist support: the distribution mode (each benchmark to one worker whole, by default), the
scheduler that implements it, and what the controller tells its workers. Imports xdist only
inside the hooks xdist calls."""

from __future__ import annotations

import os
import re

import pytest

from capability_tests.plugin.state import RUN_KEY

_CAPABILITY_ID = re.compile(r"::test_\w+\[([^\]/]+)/")


def default_to_loadgroup(config: pytest.Config) -> None:
    """Under -n without an explicit --dist, send each benchmark to one worker whole.

    The controller switches its scheduler; workers re-parse the original command line (no
    --dist), so they learn it from workerinput and turn on the `@group` node ids loadgroup needs.
    """
    workerinput = getattr(config, "workerinput", None)
    if workerinput is not None:
        if workerinput.get("capability_dist") == "loadgroup":
            config.option.loadgroup = True
        return
    if not getattr(config.option, "numprocesses", None) or config.getoption("dist", None) != "load":
        return
    given = list(config.invocation_params.args) + os.environ.get("PYTEST_ADDOPTS", "").split()
    try:
        given += config.getini("addopts")
    except (ValueError, KeyError):
        pass
    if any(str(a) in ("--dist", "-d") or str(a).startswith("--dist=") for a in given):
        return
    config.option.dist = "loadgroup"


@pytest.hookimpl(optionalhook=True, tryfirst=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log):
    """Under loadgroup, keep each benchmark on one worker (`benchmark_group_scheduling`)."""
    if RUN_KEY not in config.stash or config.getoption("dist", "no") != "loadgroup":
        return None
    return benchmark_group_scheduling(config, log)


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node) -> None:
    """xdist controller: tell each worker how tests are distributed (see batch_for)."""
    if RUN_KEY not in node.config.stash:
        return
    node.workerinput["capability_dist"] = node.config.getoption("dist", "no")



def scope_of(nodeid: str, benchmarks: set[str]) -> str:
    """The scheduling scope of a test: its benchmark for a capability test, else its `@group`
    suffix where one exists, else the test itself.

    xdist's own `--dist loadgroup` finds a test's group in an `@group` suffix that workers add to
    node ids; on pytest >= 9.1 that suffix is no longer applied (node ids became structured), so
    groups would silently fall apart and every worker would sample every benchmark. So the
    benchmark is read straight from the capability test id (`test_math[aime24/60]`).
    """
    if nodeid.rfind("@") > nodeid.rfind("]"):
        return nodeid.rsplit("@", 1)[-1]
    match = _CAPABILITY_ID.search(nodeid)
    if match and match.group(1) in benchmarks:
        return f"capability:{match.group(1)}"
    return nodeid


def benchmark_group_scheduling(config, log=None):
    """An xdist scheduler that sends each benchmark's tests to one worker whole (`scope_of`).
    Built on call, so that importing this module imports no xdist."""
    from xdist.scheduler import LoadScopeScheduling

    from capability_tests.benchmarks import available_benchmarks

    benchmarks = set(available_benchmarks())

    class BenchmarkGroupScheduling(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return scope_of(nodeid, benchmarks)

    return BenchmarkGroupScheduling(config, log)


def send_worker_provenance(session: pytest.Session, state) -> None:
    """xdist worker: hand the controller this worker's sampling provenance (workeroutput)."""
    if not state.is_worker or not state.sampling.batches:
        return
    import json

    from capability_tests.reporting.provenance import WORKEROUTPUT_KEY

    try:
        session.config.workeroutput[WORKEROUTPUT_KEY] = json.dumps(
            state.sampling.provenance(), default=str)
    except Exception as exc:
        session.config.workeroutput[WORKEROUTPUT_KEY] = json.dumps(
            {"error": f"{type(exc).__name__}: {exc}"})
