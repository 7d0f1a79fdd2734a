"""Engines behind one protocol; `create_engine` picks one by name (built-in or entry point)."""

from __future__ import annotations

from importlib.metadata import entry_points

from capability_tests.engines.base import (
    Completion,
    RequestFailure,
    Engine,
    EngineError,
    EngineIdentity,
    EngineSettings,
    GenerationRequest,
    SamplingSettings,
    ServerSettings,
    distribution_version,
)

ENTRY_POINT_GROUP = "capability_tests.engines"
BUILTIN_ENGINES = {
    "vllm": "capability_tests.engines.vllm_engine:VLLMEngine",
    "transformers": "capability_tests.engines.transformers_engine:TransformersEngine",
    "openai": "capability_tests.engines.openai_engine:OpenAIEngine",
}


def is_known_engine(name: str) -> bool:
    return ":" in name or name in engine_names()


def engine_names() -> list[str]:
    return sorted(set(BUILTIN_ENGINES) | {ep.name for ep in entry_points(group=ENTRY_POINT_GROUP)})


def engine_class(name: str):
    """The named engine's class (or factory), imported but not started: engine modules import
    their heavy library only when an engine is constructed.

    `name` is a built-in name, an entry point name, or `module:Class` for an engine class that
    is not packaged (e.g. one in a test folder).
    """
    import importlib

    target = BUILTIN_ENGINES.get(name) or (name if ":" in name else None)
    if target is None:
        matches = [ep for ep in entry_points(group=ENTRY_POINT_GROUP) if ep.name == name]
        if not matches:
            raise EngineError(f"unknown --engine {name!r}; known: {', '.join(engine_names())}")
        factory = matches[0].load()
    else:
        module, attr = target.split(":", 1)
        try:
            factory = getattr(importlib.import_module(module), attr)
        except (ImportError, AttributeError) as exc:
            raise EngineError(f"--engine {name!r}: cannot import {target} ({exc})") from exc
    return factory


def create_engine(name: str, settings: EngineSettings) -> Engine:
    """Import and start the named engine (the import happens here, never at plugin import)."""
    return engine_class(name)(settings)


def engine_identity(name: str, settings: EngineSettings) -> EngineIdentity:
    """What the engine will run with (`EngineIdentity`), without starting it. An engine without
    an `identity` classmethod is described by its arguments as given and the version of the
    distribution that ships its module; all its arguments count as changing samples."""
    factory = engine_class(name)
    identity = getattr(factory, "identity", None)
    if callable(identity):
        return identity(settings)
    module = getattr(factory, "__module__", "") or ""
    version = None
    try:
        from importlib.metadata import packages_distributions

        dists = packages_distributions().get(module.split(".")[0], [])
        version = distribution_version(*dists) if dists else None
    except Exception:
        pass
    label = getattr(factory, "name", None) or name
    return EngineIdentity(str(label), version, dict(settings.engine_args))


def is_remote(name: str) -> bool:
    """Does the named engine serve its model elsewhere (`remote_model`: --model is a served
    model's name, neither resolved nor converted here)? False for a name that cannot be loaded."""
    try:
        return bool(getattr(engine_class(name), "remote_model", False))
    except EngineError:
        return False


__all__ = [
    "Completion",
    "Engine",
    "EngineError",
    "EngineIdentity",
    "EngineSettings",
    "GenerationRequest",
    "SamplingSettings",
    "ServerSettings",
    "create_engine",
    "distribution_version",
    "engine_class",
    "engine_identity",
    "is_known_engine",
    "is_remote",
    "engine_names",
]
