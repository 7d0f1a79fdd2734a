"""An engine: replays completions that another harness produced, so their pass@k, maj@k and
explorer page come from this suite's graders and reports. `--engine replay --model=FILE` where
FILE is JSONL, one line per problem: {"key": "labphys/ohm", "completions": ["...", ...]}; sample
i of a problem is completion i modulo the list's length. The model lives elsewhere (remote): its
identity is the file's content hash, so a changed file is a new model in the store key."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Iterator, Mapping, Sequence

from capability_tests import (
    Completion,
    EngineBase,
    EngineCapabilities,
    EngineError,
    EngineIdentity,
    EngineSettings,
    GenerationRequest,
    ModelIdentity,
    RequestFailure,
    SamplingSettings,
)


class ReplayEngine(EngineBase):
    name = "replay"
    # deterministic by sample index: seeded and batched sampling both give sample i the same text
    capabilities = EngineCapabilities(seeded_sampling=True, batched_seeds=True, remote=True)

    @classmethod
    def identity(cls, settings: EngineSettings) -> EngineIdentity:
        return EngineIdentity(cls.name, "0.1.0", dict(settings.engine_args))

    @classmethod
    def model_identity(cls, settings: EngineSettings) -> ModelIdentity:
        path = cls._file(settings)
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        return ModelIdentity(spec=settings.model, kind="replay", fingerprint=f"sha256:{digest}")

    @classmethod
    def chat_template_source(cls, settings: EngineSettings) -> str | None:
        return None  # --template chat renders with the class's chat_prompt below

    @classmethod
    def prepare(cls, settings: EngineSettings, progress: bool = True) -> EngineSettings:
        cls._file(settings)
        return settings

    @classmethod
    def describe(cls, settings: EngineSettings) -> str:
        return f"replaying completions from {settings.model}"

    @staticmethod
    def _file(settings: EngineSettings) -> Path:
        path = Path(settings.model)
        if not settings.model or not path.is_file():
            raise EngineError(f"--engine replay needs --model=FILE, a JSONL file of completions; "
                              f"got {settings.model!r}")
        return path

    def __init__(self, settings: EngineSettings) -> None:
        self.completions: dict[str, list[str]] = {}
        for line in self._file(settings).read_text().splitlines():
            if line.strip():
                row = json.loads(line)
                self.completions[str(row["key"])] = [str(c) for c in row["completions"]]

    def chat_prompt(self, messages: Sequence[Mapping[str, str]]) -> str:
        return "\n".join(f"{m['role']}: {m['content']}" for m in messages) + "\nassistant:"

    def stream(self, requests: Sequence[GenerationRequest],
               sampling: SamplingSettings) -> Iterator[tuple[str, int, Completion | RequestFailure]]:
        for request in requests:
            texts = self.completions.get(request.key)
            for index in request.wanted(sampling.n):
                if not texts:  # this problem's failure only: the others are replayed and graded
                    yield request.key, index, RequestFailure(f"no completions for {request.key}")
                    continue
                text = texts[index % len(texts)]
                yield request.key, index, Completion(text, len(text.split()), "stop")

    def close(self) -> None:
        self.completions = {}
