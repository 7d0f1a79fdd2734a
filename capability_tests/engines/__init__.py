"""Engines behind one protocol; `create_engine` picks one by name (built-in or entry point)."""

from __future__ import annotations

from importlib.metadata import entry_points

from capability_tests.engines.base import (
    Completion,
    Engine,
    EngineError,
    EngineSettings,
    GenerationRequest,
    SamplingSettings,
)

ENTRY_POINT_GROUP = "capability_tests.engines"
BUILTIN_ENGINES = {
    "vllm": "capability_tests.engines.vllm_engine:VLLMEngine",
    "transformers": "capability_tests.engines.transformers_engine:TransformersEngine",
}


def is_known_engine(name: str) -> bool:
    return ":" in name or name in engine_names()


def engine_names() -> list[str]:
    return sorted(set(BUILTIN_ENGINES) | {ep.name for ep in entry_points(group=ENTRY_POINT_GROUP)})


def create_engine(name: str, settings: EngineSettings) -> Engine:
    """Import and start the named engine (the import happens here, never at plugin import).

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
    return factory(settings)


__all__ = [
    "Completion",
    "Engine",
    "EngineError",
    "EngineSettings",
    "GenerationRequest",
    "SamplingSettings",
    "create_engine",
    "is_known_engine",
    "engine_names",
]
