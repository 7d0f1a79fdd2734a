"""What every engine class declares before it starts: `capabilities` (an `EngineCapabilities`)
and the identity classmethods the store key, the provenance and the sampling session read. The
suite checks them once, when the class is looked up (`check_engine_class`), so a missing one is a
clear error naming the class instead of a silent default at some later step.

`EngineBase` gives the defaults an engine may keep; `LocalEngine` adds what every engine that
loads its model in this process shares (model fingerprint and chat template read from the model's
files, GGUF conversion before start). An engine whose model lives elsewhere (`--engine openai`)
implements `model_identity`, `chat_template_source`, `prepare` and `describe` itself. Nothing
outside `capability_tests/engines` asks which kind of engine runs.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from capability_tests.engines.base import (
    EngineCapabilities,
    EngineError,
    EngineIdentity,
    EngineSettings,
    distribution_version,
)

# Called on the class, before the engine starts (must not import the engine's library).
IDENTITY_METHODS = ("identity", "model_identity", "chat_template_source",
                    "batch_invariant_problem", "prepare", "describe")
# Called on the started engine.
INSTANCE_METHODS = ("chat_prompt", "stream", "close", "runtime", "drain")
SCORING_METHODS = ("token_ids", "completion_logprobs")


def check_engine_class(cls: Any, name: str) -> Any:
    """`cls` if it declares the engine contract; else an `EngineError` naming the class and what
    it lacks (see docs/EXTENDING.md and `EngineBase`)."""
    label = f"{getattr(cls, '__module__', '?')}.{getattr(cls, '__qualname__', cls)!s}"
    caps = getattr(cls, "capabilities", None)
    missing = [] if isinstance(caps, EngineCapabilities) else [
        "capabilities (an EngineCapabilities class attribute)"]
    wanted = IDENTITY_METHODS + INSTANCE_METHODS
    if isinstance(caps, EngineCapabilities) and caps.scoring:
        wanted += SCORING_METHODS
    missing += [m for m in wanted if not callable(getattr(cls, m, None))]
    if missing:
        raise EngineError(
            f"--engine {name!r}: engine class {label} lacks {', '.join(missing)}; an engine class "
            "declares them (subclass capability_tests.engines.LocalEngine or EngineBase)")
    return cls


class EngineBase:
    """Defaults for an engine class. A subclass sets `name` and `capabilities` and implements
    `chat_prompt`, `stream` and `close` (the `Engine` protocol in engines/base.py)."""

    name: str = "engine"
    capabilities: EngineCapabilities

    @classmethod
    def identity(cls, settings: EngineSettings) -> EngineIdentity:
        """The engine's name, the version of the distribution that ships its module, and its
        arguments as given (all of them counted as changing samples)."""
        version = None
        try:
            from importlib.metadata import packages_distributions

            dists = packages_distributions().get(cls.__module__.split(".")[0], [])
            version = distribution_version(*dists) if dists else None
        except Exception:  # an engine defined in a script: no distribution
            pass
        return EngineIdentity(str(cls.name), version, dict(settings.engine_args))

    @classmethod
    def batch_invariant_problem(cls, settings: EngineSettings) -> str | None:
        """Why --batch-invariant cannot hold with these settings (None: it can)."""
        if cls.capabilities.batch_invariance:
            return None
        return f"engine {cls.name!r} declares no batch-invariant mode; drop the option"

    def runtime(self) -> dict[str, Any]:
        """What the started engine runs with (dtype, device), JSON primitives, for reports."""
        return {}

    def drain(self):
        """After an interrupted `stream`: the samples received but not yet yielded (an engine
        that buffers responses overrides it, `--engine openai`); nothing by default."""
        return iter(())


class LocalEngine(EngineBase):
    """An engine that loads `--model` in this process: its fingerprint and chat template come from
    the model's files (`capability_tests.fingerprints`), and a GGUF file is converted to a
    Hugging Face folder before start. `settings.model` is the --model spec as given ("" for the
    default embedded model); `settings.engine_args["revision"]` a resolved Hub commit."""

    @classmethod
    def model_identity(cls, settings: EngineSettings):
        from capability_tests.fingerprints import model_identity
        from capability_tests.models import resolve_model

        return model_identity(resolve_model(settings.model or None),
                              settings.engine_args.get("revision"))

    @classmethod
    def chat_template_source(cls, settings: EngineSettings) -> str | None:
        from capability_tests.fingerprints import chat_template_source
        from capability_tests.models import resolve_model

        return chat_template_source(resolve_model(settings.model or None),
                                    settings.engine_args.get("revision"))

    @classmethod
    def describe(cls, settings: EngineSettings) -> str:
        from capability_tests.models import resolve_model

        model = resolve_model(settings.model or None)
        return f"starting {cls.name} engine for model {model.spec} ({model.kind})"

    @classmethod
    def prepare(cls, settings: EngineSettings, progress: bool = True) -> EngineSettings:
        """The settings to construct the engine with: the model as a loadable folder or Hub id
        (a GGUF file converted once, cached)."""
        from capability_tests.models import ModelError, prepare_model, resolve_model

        try:
            path = prepare_model(resolve_model(settings.model or None), progress=progress)
        except ModelError as exc:
            raise EngineError(str(exc)) from exc
        return replace(settings, model=path)
