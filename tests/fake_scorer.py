"""A scripted scoring engine for `capability-tests perplexity` tests (`--engine=fake_scorer:FakeScorer`).

Tokens are characters (id = code point); the log-probability of token t is -((t % 5) + 1) / 10
whatever its context, so a test computes the expected perplexity from the text alone
(`expected_perplexity`). Class-level lists record every start and every scored batch.
Environment: FAKE_SCORER_FAIL_START (the engine cannot load), FAKE_SCORER_FAIL_AFTER=N (the
N+1-th `completion_logprobs` call fails, as an engine dying mid-run).
"""

from __future__ import annotations

import math
import os

from capability_tests.engines import EngineCapabilities, EngineError, EngineSettings, LocalEngine


def token_logprob(token: int) -> float:
    return -((token % 5) + 1) / 10


def expected_perplexity(text: str) -> float | None:
    if not text:
        return None
    return math.exp(-sum(token_logprob(ord(c)) for c in text) / len(text))


class FakeScorer(LocalEngine):
    name = "fake-scorer"
    capabilities = EngineCapabilities(seeded_sampling=True, batched_seeds=False, scoring=True)
    starts: list[str] = []
    batches: list[int] = []

    def __init__(self, settings: EngineSettings) -> None:
        if os.environ.get("FAKE_SCORER_FAIL_START"):
            raise EngineError(f"fake scorer could not load {settings.model!r}: out of memory")
        FakeScorer.starts.append(settings.model)
        self.calls = 0

    def token_ids(self, prompt: str, completion: str):
        return [ord(c) for c in prompt], [ord(c) for c in completion]

    def completion_logprobs(self, sequences):
        limit = os.environ.get("FAKE_SCORER_FAIL_AFTER")
        if limit is not None and self.calls >= int(limit):
            raise EngineError("engine core died")
        self.calls += 1
        FakeScorer.batches.append(len(sequences))
        return [[token_logprob(t) for t in completion] for _, completion in sequences]

    def chat_prompt(self, messages):
        raise EngineError("the fake scorer only scores")

    def stream(self, requests, sampling):
        raise EngineError("the fake scorer only scores")

    def close(self) -> None:
        pass
