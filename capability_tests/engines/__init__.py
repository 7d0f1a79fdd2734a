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


def engine_names() -> list[str]:
    return sorted(set(BUILTIN_ENGINES) | {ep.name for ep in entry_points(group=ENTRY_POINT_GROUP)})


def create_engine(name: str, settings: EngineSettings) -> Engine:
    """Import and start the named engine (the import happens here, never at plugin import)."""
    import importlib

    target = BUILTIN_ENGINES.get(name)
    if target is None:
        matches = [ep for ep in entry_points(group=ENTRY_POINT_GROUP) if ep.name == name]
        if not matches:
            raise EngineError(f"unknown --engine {name!r}; known: {', '.join(engine_names())}")
        factory = matches[0].load()
    else:
        module, attr = target.split(":")
        factory = getattr(importlib.import_module(module), attr)
    return factory(settings)


__all__ = [
    "Completion",
    "Engine",
    "EngineError",
    "EngineSettings",
    "GenerationRequest",
    "SamplingSettings",
    "create_engine",
    "engine_names",
]
