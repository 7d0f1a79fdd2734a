"""xdist support: the distribution mode (shards of problems, each to one worker whole, by
default), the scheduler that implements it, one engine per GPU (which devices each worker gets),
and what the controller tells its workers. Imports xdist only inside the hooks xdist calls."""

from __future__ import annotations

import os

import pytest

from capability_tests import devices
from capability_tests.plugin.state import RUN_KEY
from capability_tests.shards import problem_of, shard_map, shard_name

DEVICES_INPUT = "capability_devices"  # workerinput key: the worker's CUDA_VISIBLE_DEVICES


def default_to_loadgroup(config: pytest.Config) -> None:
    """Under -n without an explicit --dist, send each shard of problems to one worker whole.

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
    """Under loadgroup, send each shard of problems to one worker whole (`shard_scheduling`)."""
    if RUN_KEY not in config.stash or config.getoption("dist", "no") != "loadgroup":
        return None
    return shard_scheduling(config, log)


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node) -> None:
    """xdist controller: tell each worker how tests are distributed (see batch_for) and which
    devices its engine gets (`devices.worker_devices`)."""
    if RUN_KEY not in node.config.stash:
        return
    node.workerinput["capability_dist"] = node.config.getoption("dist", "no")
    plan = device_plan(node.config)
    if plan is not None:
        visible, per_engine = plan
        workers = int(node.workerinput.get("workercount") or len(visible))
        try:
            assigned = devices.worker_devices(devices.worker_index(node.gateway.id), workers,
                                              visible, per_engine)
        except devices.DeviceError as exc:  # e.g. --tx specs, which -n's check does not see
            raise pytest.UsageError(str(exc)) from None
        node.workerinput[DEVICES_INPUT] = ",".join(assigned)


def device_plan(config: pytest.Config) -> tuple[list[str], int] | None:
    """(visible devices, devices per engine) when this run's engine runs on this machine's GPUs
    (its class sets `local_devices`) and there are some; None otherwise (no GPU, a server
    engine, --regrade): workers stay as they are."""
    from capability_tests.engines import EngineError, engine_class

    if config.getoption("regrade", False):  # no engine starts
        return None
    try:
        local = engine_class(config.getoption("engine", "")).capabilities.local_devices
    except EngineError:  # an unknown engine is reported where the run config is built
        return None
    if not local:
        return None
    visible = devices.visible_devices()
    if not visible:
        return None
    try:
        per_engine = devices.devices_per_engine(dict(config.getoption("engine_arg", None) or ()))
    except devices.DeviceError as exc:
        raise pytest.UsageError(str(exc)) from None
    return visible, per_engine


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_auto_num_workers(config: pytest.Config) -> int | None:
    """`-n auto` with an engine on local GPUs: one worker per engine the visible GPUs hold
    (xdist's own default, one per CPU, would start that many engines on GPU 0)."""
    from capability_tests.plugin import suite_requested

    if not suite_requested(config):
        return None
    plan = device_plan(config)
    if plan is None:
        return None
    return max(1, devices.engines_that_fit(*plan))


def check_devices(config: pytest.Config) -> None:
    """Controller under -n: more engines than the visible GPUs hold is a usage error naming -n.
    Worker: narrow CUDA_VISIBLE_DEVICES to this worker's devices before any engine starts (the
    plugin imports no CUDA library before)."""
    workerinput = getattr(config, "workerinput", None)
    if workerinput is not None:
        assigned = workerinput.get(DEVICES_INPUT)
        if assigned:
            os.environ[devices.VISIBLE_ENV] = assigned
        return
    workers = getattr(config.option, "numprocesses", None)
    if not isinstance(workers, int) or workers < 1:
        return
    plan = device_plan(config)
    if plan is None:
        return
    try:
        devices.check_workers(workers, *plan)
    except devices.DeviceError as exc:
        raise pytest.UsageError(str(exc)) from None



def scope_of(nodeid: str, shards: dict[str, int]) -> str:
    """The scheduling scope of a test: its shard for a capability test (`capability_tests.shards`),
    else its `@group` suffix where one exists, else the test itself.

    Read from the test id, not from an `xdist_group` mark: xdist's own loadgroup finds a group in
    an `@group` suffix that workers add to node ids, which pytest >= 9.1 no longer applies
    (node ids became structured), so groups would silently fall apart.
    """
    problem = problem_of(nodeid)
    if problem is not None and problem in shards:
        return shard_name(shards[problem])
    if nodeid.rfind("@") > nodeid.rfind("]"):
        return nodeid.rsplit("@", 1)[-1]
    return nodeid


def shard_scheduling(config, log=None):
    """An xdist scheduler that sends each shard of problems to one worker whole (`scope_of`);
    the shards are computed from the collection and the worker count exactly as each worker
    computes them (`CapabilityState.batch_for`). Built on call, so that importing this module
    imports no xdist."""
    from xdist.scheduler import LoadScopeScheduling

    class ShardScheduling(LoadScopeScheduling):
        _shards: dict[str, int] | None = None

        def _split_scope(self, nodeid: str) -> str:
            if self._shards is None:  # the collection is complete when scheduling starts
                self._shards = shard_map(self.collection or (), self.numnodes)
            return scope_of(nodeid, self._shards)

    return ShardScheduling(config, log)


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
