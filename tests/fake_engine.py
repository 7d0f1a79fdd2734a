"""A scripted engine for plugin tests: it answers from a JSON script and logs every submission.

Environment:
- FAKE_ENGINE_LOG: a JSONL file; one line per `generate` call with the request keys and n, and
  one line per engine start ({"event": "start", "pid": ...}).
- FAKE_ENGINE_SCRIPT: optional JSON object mapping a problem key ("demo/add") to a list of
  completions; sample i gets entry i modulo its length. Problems not in the script get
  "I do not know."
- FAKE_ENGINE_DELAY: optional seconds to sleep before each sample (a slow engine that streams
  samples one by one, for kill-and-resume tests).
- FAKE_ENGINE_INTERRUPT_AFTER: optional number of samples after which the engine raises
  KeyboardInterrupt (a Ctrl-C during sampling).
- FAKE_ENGINE_SIGNAL_AFTER: optional "N:SIGTERM" (or SIGINT): after N samples the engine sends
  that signal to its own process (a scheduler's preemption during sampling).
- FAKE_ENGINE_FAIL: optional JSON object mapping a problem key to a message: every sample of
  that problem is a `RequestFailure` with it (a prompt too long, retries exhausted).
- FAKE_ENGINE_RAISE: optional JSON object mapping a problem key to a message: the stream raises
  RuntimeError(message) when it reaches that problem (an engine that dies mid-stream).
- FAKE_ENGINE_CHILD: optional path: the engine starts a child process that, asked to stop at
  close, takes a second and then writes that path (an engine core that ends slowly).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from typing import Iterator, Mapping, Sequence

from capability_tests.engines import (
    Completion,
    EngineCapabilities,
    EngineSettings,
    GenerationRequest,
    LocalEngine,
    RequestFailure,
    SamplingSettings,
)


def _log(entry: dict) -> None:
    path = os.environ.get("FAKE_ENGINE_LOG")
    if path:
        with open(path, "a", encoding="utf-8") as handle:
            handle.write(json.dumps(entry) + "\n")


class FakeEngine(LocalEngine):
    name = "fake"
    # batched_seeds: its texts follow the sample index, never process state
    capabilities = EngineCapabilities(seeded_sampling=True, batched_seeds=True)

    def __init__(self, settings: EngineSettings) -> None:
        self.settings = settings
        self.script = json.loads(os.environ.get("FAKE_ENGINE_SCRIPT", "{}"))
        _log({"event": "start", "pid": os.getpid(), "worker": os.environ.get("PYTEST_XDIST_WORKER"),
              "model": settings.model, "seed": settings.seed,
              "devices": os.environ.get("CUDA_VISIBLE_DEVICES")})
        self._child = None
        if os.environ.get("FAKE_ENGINE_CHILD"):
            code = ("import signal, sys, time\n"
                    "def stop(*_):\n    time.sleep(1.0)\n"
                    "    open(sys.argv[1], 'w').write('exited')\n    sys.exit(0)\n"
                    "signal.signal(signal.SIGTERM, stop)\nprint('ready', flush=True)\n"
                    "time.sleep(600)\n")
            self._child = subprocess.Popen([sys.executable, "-c", code,
                                            os.environ["FAKE_ENGINE_CHILD"]],
                                           stdout=subprocess.PIPE)
            self._child.stdout.readline()  # its handler is installed
            _log({"event": "child", "pid": self._child.pid})

    def chat_prompt(self, messages: Sequence[Mapping[str, str]]) -> str:
        return "".join(f"<{m['role']}>{m['content']}" for m in messages) + "<assistant>"

    def stream(
        self, requests: Sequence[GenerationRequest], sampling: SamplingSettings
    ) -> Iterator[tuple[str, int, Completion]]:
        _log({"event": "generate", "pid": os.getpid(),
              "worker": os.environ.get("PYTEST_XDIST_WORKER"),
              "keys": [r.key for r in requests], "n": sampling.n,
              "indices": {r.key: list(r.wanted(sampling.n)) for r in requests},
              "seeds": {r.key: list(r.seeds) for r in requests}, "seeded": sampling.seeded,
              "max_tokens": sampling.max_tokens, "temperature": sampling.temperature,
              "prompts": [r.prompt for r in requests],
              "stops": {r.key: list(r.stop) for r in requests}})
        delay = float(os.environ.get("FAKE_ENGINE_DELAY", "0"))
        interrupt_after = int(os.environ.get("FAKE_ENGINE_INTERRUPT_AFTER", "-1"))
        signal_after, _, signame = os.environ.get("FAKE_ENGINE_SIGNAL_AFTER", "-1:").partition(":")
        failing = json.loads(os.environ.get("FAKE_ENGINE_FAIL", "{}"))
        raising = json.loads(os.environ.get("FAKE_ENGINE_RAISE", "{}"))
        done = 0
        for r in requests:
            texts = self.script.get(r.key) or ["I do not know."]
            if r.key in raising:
                raise RuntimeError(raising[r.key])
            for i in r.wanted(sampling.n):
                if done == interrupt_after:
                    raise KeyboardInterrupt
                if done == int(signal_after):
                    os.kill(os.getpid(), getattr(signal, signame or "SIGTERM"))
                    time.sleep(0.5)  # the handler runs here, at the latest
                done += 1
                if r.key in failing:
                    yield r.key, i, RequestFailure(failing[r.key])
                    continue
                if delay:
                    time.sleep(delay)
                text = texts[i % len(texts)]
                yield r.key, i, Completion(text, len(text.split()), "stop")

    def close(self) -> None:
        _log({"event": "close", "pid": os.getpid()})
        if self._child is not None:
            self._child.send_signal(signal.SIGTERM)  # asked to stop; not waited for here


class BatchedOnlyEngine(FakeEngine):
    """An engine that cannot honour per-sample seeds, nor derive batched samples from them."""

    capabilities = EngineCapabilities(seeded_sampling=False, batched_seeds=False)


class BrokenEngine(FakeEngine):
    """Fails to start, like a model that does not fit or a missing CUDA driver."""

    def __init__(self, settings: EngineSettings) -> None:
        _log({"event": "start-failed", "pid": os.getpid()})
        raise RuntimeError("no GPU with 80 GiB here")


# -- helpers for the tests that drive the plugin with this engine ---------------------------------

class GpuFakeEngine(FakeEngine):
    """The fake engine as an engine on this machine's GPUs: under xdist each worker gets its own
    devices (it logs the CUDA_VISIBLE_DEVICES it started with)."""

    capabilities = EngineCapabilities(seeded_sampling=True, batched_seeds=True,
                                      local_devices=True)


FAKE = ["--engine=fake_engine:FakeEngine", "--model=fake/model", "-p", "no:cacheprovider"]
SUITE = ["-p", "capability_tests.plugin", "--pyargs", "capability_tests.suite"]


def engine_log(path) -> list[dict]:
    """Every event the engine logged to FAKE_ENGINE_LOG (`path`), in order."""
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines()]


def generate_calls(path) -> list[dict]:
    return [e for e in engine_log(path) if e["event"] == "generate"]


def result_of(run, problem, batch):
    """Sample `batch` with a `SamplingCoordinator` (no-op for problems done) and return
    `problem`'s result; its failure message as an AssertionError."""
    run.sample(list(batch))
    outcome = run.outcome.get(problem.key)
    assert outcome is not None, f"{problem.key} was not sampled"
    if outcome.failure is not None:
        raise AssertionError(outcome.failure)
    return outcome.result
