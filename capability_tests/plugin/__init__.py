"""The pytest plugin. Not a `pytest11` entry point: it loads only where the suite is asked for
(the repository's root `conftest.py`, `-p capability_tests.plugin`, `capability-tests run`), and
even when loaded it acts only in a session that runs the suite (`suite_requested`); see
docs/ARCHITECTURE.md, "Loading the plugin".

The plugin is this package; its modules hold one role each, and their hooks and fixtures are
re-exported here, where pytest finds them:

- `options`: command-line options, the frozen `RunConfig`, usage errors, the header;
- `state`: per-process state (`CapabilityState`: problems, selection, the sampling coordinator);
- `collection`: problems loaded at session start, one test per problem, the final selection;
- `phase`: the sampling phase, before the tests (serial) or before a batch (xdist worker);
- `fixtures`: what a test receives, and the pass/fail rule;
- `collector`: results gathered where they meet, reports and the terminal table;
- `xdist_support`: distribution mode, scheduler, controller-to-worker settings.

Importing it imports neither torch nor vLLM: `--help` and `--collect-only` stay fast.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from capability_tests.benchmarks import available_benchmarks
from capability_tests.plugin.collection import (
    FAMILY_MARKER,
    PLUGIN_MODULE,
    SUITE_PACKAGE,
    pytest_collection_finish,
    pytest_collection_modifyitems,
    pytest_generate_tests,
    pytest_pycollect_makeitem,
    pytest_sessionstart,
)
from capability_tests.plugin.collector import ResultCollector
from capability_tests.plugin.fixtures import (
    capability_check,
    capability_run,
    capability_samples,
    pytest_runtest_makereport,
)
from capability_tests.plugin.options import (
    build_run_config,
    check_batch_invariant,
    check_space_separated_paths,
    check_store,
    pytest_addoption,
    pytest_report_header,
)
from capability_tests.plugin.phase import pytest_runtest_protocol, pytest_runtestloop
from capability_tests.plugin.state import RUN_KEY, CapabilityState
from capability_tests.plugin.xdist_support import (
    check_devices,
    default_to_loadgroup,
    pytest_configure_node,
    pytest_xdist_auto_num_workers,
    pytest_xdist_make_scheduler,
    send_worker_provenance,
)

__all__ = [
    "suite_requested", "RUN_KEY", "CapabilityState", "ResultCollector",
    # hooks and fixtures (pytest finds them as attributes of this module)
    "pytest_addoption", "pytest_configure", "pytest_unconfigure", "pytest_report_header",
    "pytest_sessionstart", "pytest_generate_tests", "pytest_pycollect_makeitem",
    "pytest_collection_modifyitems",
    "pytest_collection_finish", "pytest_runtestloop", "pytest_runtest_protocol",
    "pytest_runtest_makereport", "pytest_sessionfinish", "pytest_xdist_make_scheduler",
    "pytest_configure_node", "pytest_xdist_auto_num_workers",
    "capability_run", "capability_samples", "capability_check",
]


def suite_requested(config: pytest.Config) -> bool:
    """Does this session run the capability suite? True when the plugin was named with `-p`
    (which only a user who wants the suite writes) or when a collection argument is the suite's
    folder or package, lies inside it, or contains it (`pytest` in the repository root, whose
    testpaths name it). Otherwise the plugin stays inert: no header, no xdist changes, no
    environment changes, no store, no problems loaded."""
    if any(str(p).strip() == PLUGIN_MODULE for p in (config.getoption("plugins", None) or ())):
        return True
    suite_dir = (Path(__file__).parent.parent / "suite").resolve()
    pyargs = bool(config.getoption("pyargs", False))
    for arg in config.args:
        target = str(arg).split("::", 1)[0]
        if pyargs and (target == "capability_tests" or target == SUITE_PACKAGE
                       or target.startswith(SUITE_PACKAGE + ".")):
            return True
        try:
            path = (config.invocation_params.dir / target).resolve()
        except (OSError, ValueError):
            continue
        if path == suite_dir or suite_dir in path.parents or path in suite_dir.parents:
            return True
    return False


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    if not suite_requested(config):
        return
    config.addinivalue_line(
        "markers", f"{FAMILY_MARKER}(family): a capability test parametrized over problems"
    )
    for name in available_benchmarks():
        config.addinivalue_line("markers", f"{name}: problems of the {name} benchmark")
    check_space_separated_paths(config)
    keyword = config.getoption("keyword", "")
    if keyword and re.fullmatch(r"\s*\d+\s*", keyword):
        config.issue_config_time_warning(
            pytest.PytestConfigWarning(
                f"-k {keyword.strip()} is pytest's keyword filter (it selects tests whose id "
                f"contains {keyword.strip()!r}); for {keyword.strip()} samples per problem write "
                f"--k {keyword.strip()}"
            ),
            stacklevel=2,
        )
    default_to_loadgroup(config)
    check_devices(config)  # before any engine: one engine per GPU under xdist
    if "VLLM_LOGGING_LEVEL" not in os.environ and config.get_verbosity() < 1:
        os.environ["VLLM_LOGGING_LEVEL"] = "ERROR"  # -v shows vLLM's warnings and info
        config.add_cleanup(lambda: os.environ.pop("VLLM_LOGGING_LEVEL", None))
    state = CapabilityState(build_run_config(config), config)
    config.stash[RUN_KEY] = state
    check_batch_invariant(state.run_config)
    if state.run_config.shard is not None:  # --shard I/N (plugin/shard_support.py)
        from capability_tests.plugin.shard_support import ShardSelection

        config.pluginmanager.register(ShardSelection(state), "capability-shard")
    if not state.is_worker:
        check_store(state.run_config)
        config.pluginmanager.register(ResultCollector(state), "capability-results")


def pytest_unconfigure(config: pytest.Config) -> None:
    state = config.stash.get(RUN_KEY, None)
    if state is not None:
        state.sampling.close()


def pytest_sessionfinish(session: pytest.Session) -> None:
    state = session.config.stash.get(RUN_KEY, None)
    if state is None:
        return
    send_worker_provenance(session, state)  # xdist worker: the controller writes the reports
    state.sampling.close()
