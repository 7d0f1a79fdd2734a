"""The parent watch that ends an engine core with its parent (capability_tests.engines.lifetime),
on plain processes: no engine starts here (tests/test_e2e_engine_lifetime.py kills a real run)."""

from __future__ import annotations

import os
import pickle
import signal
import subprocess
import sys
import textwrap
import time
import types

import psutil
import pytest

from capability_tests.engines import lifetime

CHILD = textwrap.dedent("""
    import os, signal, subprocess, sys, time
    from capability_tests.engines.lifetime import watch_parent
    if sys.argv[1] == "stubborn":  # ignores SIGTERM, like an engine core busy loading its model
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
    grandchild = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
    watch_parent(os.getppid(), poll_s=0.1, grace_s=1.0)
    print(os.getpid(), grandchild.pid, flush=True)
    time.sleep(120)
""")
PARENT = textwrap.dedent("""
    import subprocess, sys, time
    child = subprocess.Popen([sys.executable, "-c", sys.argv[1], sys.argv[2]])
    time.sleep(120)
""")


def _gone(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def _wait_gone(pids, seconds: float) -> list[int]:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        alive = [p for p in pids if not _gone(p)]
        if not alive:
            return []
        time.sleep(0.05)
    return [p for p in pids if not _gone(p)]


@pytest.mark.parametrize("kind", ["obedient", "stubborn"])
def test_a_watched_process_and_its_children_end_after_a_kill_9_of_its_parent(kind):
    parent = subprocess.Popen([sys.executable, "-c", PARENT, CHILD, kind],
                              stdout=subprocess.PIPE, text=True)
    pids: list[int] = []
    try:
        pids = [int(p) for p in parent.stdout.readline().split()]
        assert len(pids) == 2
        time.sleep(0.3)
        assert not _gone(pids[0]) and not _gone(pids[1]), "alive while the parent lives"
        parent.kill()
        parent.wait()
        # obedient: SIGTERM ends the child at once (its own child is left to the engine's own
        # shutdown, which a real core does; here nobody stops it). stubborn: after the grace, the
        # watch kills the child's descendants and the child.
        watched = pids if kind == "stubborn" else pids[:1]
        assert _wait_gone(watched, 4.0) == []
    finally:
        parent.kill()
        for pid in pids:
            if not _gone(pid):
                os.kill(pid, signal.SIGKILL)


def _run_wrapper(parent_env: str) -> subprocess.CompletedProcess:
    code = textwrap.dedent(f"""
        import os
        from capability_tests.engines import lifetime
        os.environ[lifetime.PARENT_ENV] = {parent_env!r} or str(os.getppid())
        lifetime._original = lambda *a, **k: print("engine ran", a, k)
        lifetime.run_engine_core(1, dp_rank=0)
    """)
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)


def test_the_wrapped_entry_point_runs_the_engine_under_its_parent():
    done = _run_wrapper("")
    assert done.returncode == 0 and "engine ran (1,) {'dp_rank': 0}" in done.stdout


def test_the_wrapped_entry_point_does_not_start_an_engine_whose_parent_is_gone():
    done = _run_wrapper("999999999")  # not this process's parent: it died before the core ran
    assert done.returncode == 1 and "engine ran" not in done.stdout


@pytest.fixture
def fake_vllm_core(monkeypatch):
    """vllm.v1.engine.core with an EngineCoreProc whose entry point is a staticmethod."""
    def original(*args, **kwargs):
        return ("original", args, kwargs)

    core = types.ModuleType("vllm.v1.engine.core")
    core.EngineCoreProc = type("EngineCoreProc", (), {"run_engine_core": staticmethod(original)})
    for name in ("vllm", "vllm.v1", "vllm.v1.engine"):
        monkeypatch.setitem(sys.modules, name, types.ModuleType(name))
    monkeypatch.setitem(sys.modules, "vllm.v1.engine.core", core)
    monkeypatch.setattr(lifetime, "_original", None)
    monkeypatch.delenv(lifetime.PARENT_ENV, raising=False)
    return core.EngineCoreProc, original


def test_starting_an_engine_wraps_vllms_core_entry_point_picklably(fake_vllm_core):
    proc_class, original = fake_vllm_core
    with lifetime.engine_processes_end_with_this_process():
        assert os.environ[lifetime.PARENT_ENV] == str(os.getpid())
        entry = proc_class.run_engine_core
        # what multiprocessing's spawn sends the child: a reference to this module's function
        assert pickle.loads(pickle.dumps(entry)) is lifetime.run_engine_core
    assert lifetime.PARENT_ENV not in os.environ
    # (called here, not in a child: no parent to watch) it runs vLLM's own entry point
    assert entry(7, dp_rank=1) == ("original", (7,), {"dp_rank": 1})
    with lifetime.engine_processes_end_with_this_process():  # a second engine: wrapped once
        assert proc_class.run_engine_core is lifetime.run_engine_core
    assert lifetime._original is original


def test_a_vllm_without_the_entry_point_is_warned_about(monkeypatch):
    core = types.ModuleType("vllm.v1.engine.core")
    core.EngineCoreProc = type("EngineCoreProc", (), {})
    for name in ("vllm", "vllm.v1", "vllm.v1.engine"):
        monkeypatch.setitem(sys.modules, name, types.ModuleType(name))
    monkeypatch.setitem(sys.modules, "vllm.v1.engine.core", core)
    with pytest.warns(RuntimeWarning, match="may outlive a killed run.*no run_engine_core"):
        with lifetime.engine_processes_end_with_this_process():
            pass
