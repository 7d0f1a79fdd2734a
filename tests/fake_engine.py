"""A scripted engine for plugin tests: it answers from a JSON script and logs every submission.

Environment:
- FAKE_ENGINE_LOG: a JSONL file; one line per `generate` call with the request keys and n, and
  one line per engine start ({"event": "start", "pid": ...}).
- FAKE_ENGINE_SCRIPT: optional JSON object mapping a problem key ("demo/add") to a list of
  completions, cycled to n samples. Problems not in the script get "I do not know."
"""

from __future__ import annotations

import json
import os
from typing import Iterator, Mapping, Sequence

from capability_tests.engines import Completion, EngineSettings, GenerationRequest, SamplingSettings


def _log(entry: dict) -> None:
    path = os.environ.get("FAKE_ENGINE_LOG")
    if path:
        with open(path, "a", encoding="utf-8") as handle:
            handle.write(json.dumps(entry) + "\n")


class FakeEngine:
    name = "fake"

    def __init__(self, settings: EngineSettings) -> None:
        self.settings = settings
        self.script = json.loads(os.environ.get("FAKE_ENGINE_SCRIPT", "{}"))
        _log({"event": "start", "pid": os.getpid(), "worker": os.environ.get("PYTEST_XDIST_WORKER"),
              "model": settings.model, "seed": settings.seed})

    def chat_prompt(self, messages: Sequence[Mapping[str, str]]) -> str:
        return "".join(f"<{m['role']}>{m['content']}" for m in messages) + "<assistant>"

    def generate(
        self, requests: Sequence[GenerationRequest], sampling: SamplingSettings
    ) -> Iterator[tuple[str, list[Completion]]]:
        _log({"event": "generate", "pid": os.getpid(),
              "worker": os.environ.get("PYTEST_XDIST_WORKER"),
              "keys": [r.key for r in requests], "n": sampling.n,
              "max_tokens": sampling.max_tokens, "temperature": sampling.temperature,
              "prompts": [r.prompt for r in requests]})
        for r in requests:
            texts = self.script.get(r.key) or ["I do not know."]
            out = [texts[i % len(texts)] for i in range(sampling.n)]
            yield r.key, [Completion(t, len(t.split()), "stop") for t in out]

    def close(self) -> None:
        _log({"event": "close", "pid": os.getpid()})


class BrokenEngine(FakeEngine):
    """Fails to start, like a model that does not fit or a missing CUDA driver."""

    def __init__(self, settings: EngineSettings) -> None:
        _log({"event": "start-failed", "pid": os.getpid()})
        raise RuntimeError("no GPU with 80 GiB here")
