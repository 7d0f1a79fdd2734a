"""Engines behind one protocol and one registry: `engine_class` finds an engine class by name
(registered with `register_engine`, built in, from the entry point group
`capability_tests.engines`, or `module:Class`) and checks that it declares the contract
(`classes.check_engine_class`) before anything starts it."""

from __future__ import annotations

from importlib.metadata import entry_points
from typing import Callable

from capability_tests.engines.base import (
    Completion,
    Engine,
    EngineCapabilities,
    EngineError,
    EngineIdentity,
    EngineSettings,
    GenerationRequest,
    RequestFailure,
    SamplingSettings,
    ServerSettings,
    distribution_version,
)
from capability_tests.engines.classes import EngineBase, LocalEngine, check_engine_class

ENTRY_POINT_GROUP = "capability_tests.engines"
BUILTIN_ENGINES = {
    "vllm": "capability_tests.engines.vllm_engine:VLLMEngine",
    "transformers": "capability_tests.engines.transformers_engine:TransformersEngine",
    "openai": "capability_tests.engines.openai_engine:OpenAIEngine",
}
_REGISTERED: dict[str, type] = {}  # register_engine


def register_engine(name: str) -> Callable[[type], type]:
    """Class decorator: `@register_engine("mine")` makes `--engine mine` run this class (for an
    engine defined in code that is imported before the run, e.g. a conftest or plugin)."""

    def register(cls: type) -> type:
        _REGISTERED[name] = check_engine_class(cls, name)
        return cls

    return register


def is_known_engine(name: str) -> bool:
    return ":" in name or name in engine_names()


def engine_names() -> list[str]:
    return sorted(set(BUILTIN_ENGINES) | set(_REGISTERED)
                  | {ep.name for ep in entry_points(group=ENTRY_POINT_GROUP)})


def engine_class(name: str):
    """The named engine's class, imported (its heavy library is imported only when an engine is
    constructed) and checked to declare the contract; an `EngineError` names what is wrong.

    `name` is a registered or built-in name, an entry point name, or `module:Class` for an
    engine class that is not packaged (e.g. one in a test folder).
    """
    import importlib

    if name in _REGISTERED:
        return _REGISTERED[name]
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
    return check_engine_class(factory, name)


def engine_capabilities(name: str) -> EngineCapabilities:
    """What the named engine class declares it can do (`EngineCapabilities`)."""
    return engine_class(name).capabilities


def create_engine(name: str, settings: EngineSettings) -> Engine:
    """Import and start the named engine (the import happens here, never at plugin import)."""
    return engine_class(name)(settings)


def engine_identity(name: str, settings: EngineSettings) -> EngineIdentity:
    """What the engine will run with (`EngineIdentity`), without starting it."""
    return engine_class(name).identity(settings)


def is_remote(name: str) -> bool:
    """Does the named engine serve its model elsewhere (--model is a served model's name, neither
    resolved nor converted here)? False for a name that cannot be loaded."""
    try:
        return engine_capabilities(name).remote
    except EngineError:
        return False


__all__ = [
    "Completion",
    "Engine",
    "EngineBase",
    "EngineCapabilities",
    "EngineError",
    "EngineIdentity",
    "EngineSettings",
    "GenerationRequest",
    "LocalEngine",
    "RequestFailure",
    "SamplingSettings",
    "ServerSettings",
    "check_engine_class",
    "create_engine",
    "distribution_version",
    "engine_capabilities",
    "engine_class",
    "engine_identity",
    "engine_names",
    "is_known_engine",
    "is_remote",
    "register_engine",
]
