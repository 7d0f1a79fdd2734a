"""The engine protocol: the only thing the suite knows about whatever generates completions."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterator, Mapping, Protocol, Sequence, runtime_checkable


class EngineError(Exception):
    """The engine cannot start or cannot run a request; the message names the setting at fault."""


@dataclass(frozen=True)
class SamplingSettings:
    """How each prompt is sampled: `n` independent samples per prompt."""

    n: int
    temperature: float
    top_p: float
    max_tokens: int
    seed: int


@dataclass(frozen=True)
class GenerationRequest:
    """One prompt to sample `SamplingSettings.n` times; `key` comes back with its completions."""

    key: str
    prompt: str


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


@runtime_checkable
class Engine(Protocol):
    """Start lazily (in the constructor of an implementation, called only when needed), take many
    prompts at once, give completions back as they finish, close."""

    name: str

    def chat_prompt(self, messages: Sequence[Mapping[str, str]]) -> str:
        """Render chat messages with the model's own chat template, ready for generation."""
        ...

    def generate(
        self, requests: Sequence[GenerationRequest], sampling: SamplingSettings
    ) -> Iterator[tuple[str, list[Completion]]]:
        """Yield (request key, its n completions) for every request, in any order."""
        ...

    def close(self) -> None:
        ...
