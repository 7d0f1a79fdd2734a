"""The engine protocol: the only thing the suite knows about whatever generates completions."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterator, Mapping, Protocol, Sequence, runtime_checkable


class EngineError(Exception):
    """The engine cannot start or cannot run a request; the message names the setting at fault."""


@dataclass(frozen=True)
class SamplingSettings:
    """How each prompt is sampled: `n` independent samples per prompt (unless a request names its
    sample indices). `seeded`: every sample is its own request with its own seed
    (`GenerationRequest.seeds`), so sample i is the same whatever else is sampled with it."""

    n: int
    temperature: float
    top_p: float
    max_tokens: int
    seed: int
    seeded: bool = False


@dataclass(frozen=True)
class GenerationRequest:
    """One prompt to sample; `key` and the sample index come back with each completion.

    `indices`: which samples of the prompt are wanted (default: `range(SamplingSettings.n)`); the
    store asks only for the missing ones. `seeds`: one per index, used when `sampling.seeded`.
    """

    key: str
    prompt: str
    indices: tuple[int, ...] = ()
    seeds: tuple[int, ...] = ()

    def wanted(self, n: int) -> tuple[int, ...]:
        return self.indices or tuple(range(n))


@dataclass(frozen=True)
class Completion:
    text: str
    tokens: int
    finish_reason: str  # "stop" (the model ended), "length" (hit --max-tokens), ...


@dataclass(frozen=True)
class EngineSettings:
    """What an engine needs to start: the model to load and free-form engine arguments."""

    model: str
    seed: int
    engine_args: Mapping[str, Any]
    progress: bool = True
    seeded: bool = False  # the run samples with per-sample seeds (see SamplingSettings.seeded)


@runtime_checkable
class Engine(Protocol):
    """Start lazily (in the constructor of an implementation, called only when needed), take many
    prompts at once, give each sample back as soon as it finishes, close.

    `seeded_sampling`: True when `stream` honours per-sample seeds (`--sampling seeded`); an
    engine that cannot sets it False and runs only with `--sampling batched`.
    """

    name: str
    seeded_sampling: bool

    def chat_prompt(self, messages: Sequence[Mapping[str, str]]) -> str:
        """Render chat messages with the model's own chat template, ready for generation."""
        ...

    def stream(
        self, requests: Sequence[GenerationRequest], sampling: SamplingSettings
    ) -> Iterator[tuple[str, int, Completion]]:
        """Yield (request key, sample index, completion) for every wanted sample of every request,
        as each finishes, in any order. The caller may stop iterating early (an interrupted run):
        then abort what is still running. Keep no list of finished texts: the caller stores them."""
        ...

    def close(self) -> None:
        ...
