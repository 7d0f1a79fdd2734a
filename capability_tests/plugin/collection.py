"""Collection and selection: problems load at session start (usage errors before collection), one
parametrized test per problem, problem keywords for `-k`, and the final selection after
`-k`/`-m`/`--deselect` (the only problems ever sampled)."""

from __future__ import annotations

import pytest

from capability_tests.benchmarks import BenchmarkError
from capability_tests.plugin.state import RUN_KEY
from capability_tests.problems import Problem
from capability_tests.shards import problem_of as problem_of_nodeid
from capability_tests.shards import shard_map

FAMILY_MARKER = "capability"
SUITE_PACKAGE = "capability_tests.suite"
PLUGIN_MODULE = "capability_tests.plugin"


def pytest_sessionstart(session: pytest.Session) -> None:
    """Usage errors before collection: every benchmark of the run loads here (once per process;
    collection reuses them). Not in `pytest_configure`, which `--help` and `--markers` also run.
    On the xdist controller this runs before the workers start."""
    state = session.config.stash.get(RUN_KEY, None)
    if state is None:
        return
    try:
        state.load_all()
    except BenchmarkError as exc:
        raise pytest.UsageError(str(exc)) from None


@pytest.hookimpl(tryfirst=True)
def pytest_pycollect_makeitem(collector: pytest.Collector, name: str, obj: object):
    """A capability test whose family has no problem in this run (the code test of a math-only
    run) collects nothing, rather than pytest's NOTSET stand-in for an empty parametrization."""
    state = collector.config.stash.get(RUN_KEY, None)
    if state is None or not callable(obj) or not name.startswith("test"):
        return None
    marks = [m for m in getattr(obj, "pytestmark", []) if m.name == FAMILY_MARKER]
    if not marks:
        return None
    try:
        problems = state.problems(marks[0].kwargs.get("family") or "math")
    except BenchmarkError:
        return None  # pytest_generate_tests turns it into the usage error
    return None if problems else []


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "capability_problem" not in metafunc.fixturenames:
        return
    marker = metafunc.definition.get_closest_marker(FAMILY_MARKER)
    family = (marker.kwargs.get("family") if marker else None) or "math"
    state = metafunc.config.stash.get(RUN_KEY, None)
    if state is None:
        raise pytest.UsageError(
            f"{metafunc.definition.nodeid} is a capability test outside {SUITE_PACKAGE}: "
            f"load the plugin explicitly with -p {PLUGIN_MODULE}"
        )
    try:
        problems = state.problems(family)
    except BenchmarkError as exc:
        raise pytest.UsageError(str(exc)) from None
    params = [
        pytest.param(
            p,
            id=p.key,
            marks=[getattr(pytest.mark, p.benchmark)],  # xdist scope: its shard (xdist_support)
        )
        for p in problems
    ]
    metafunc.parametrize("capability_problem", params)


def problem_of(item: pytest.Item) -> Problem | None:
    callspec = getattr(item, "callspec", None)
    return callspec.params.get("capability_problem") if callspec is not None else None


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Let `-k` match a problem's keywords (e.g. `-k "math500 and level5"`)."""
    for item in items:
        problem = problem_of(item)
        if problem is not None:
            item.extra_keyword_matches.update(problem.keywords)


def pytest_collection_finish(session: pytest.Session) -> None:
    """The final selection (after -k/-m/--deselect): the only problems ever sampled."""
    state = session.config.stash.get(RUN_KEY, None)
    if state is None:
        return
    seen: set[str] = set()
    selected = []
    for item in session.items:
        problem = problem_of(item)
        if problem is not None and problem.key not in seen:
            seen.add(problem.key)
            selected.append(problem)
    state.selected = selected
    workerinput = getattr(session.config, "workerinput", None)
    if workerinput is not None:  # the shards the controller's scheduler computes too
        shards = shard_map([item.nodeid for item in session.items],
                           int(workerinput.get("workercount", 1)))
        for item in session.items:
            problem = problem_of(item)
            shard = shards.get(problem_of_nodeid(item.nodeid) or "")
            if problem is not None and shard is not None:
                state.shards[problem.key] = shard

