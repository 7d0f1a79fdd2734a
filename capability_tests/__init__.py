"""pytest-native capability tests for language models: pass@k on real benchmarks.

The public surface for extensions (docs/EXTENDING.md): what a benchmark, an engine, a verifier or
a metric from another package may use. Everything else is internal and may change. Names load on
first use, so `import capability_tests` (which the pytest plugin does) stays light.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

__version__ = "0.1.0"

# public name -> module that defines it
_EXPORTS = {
    # benchmarks: a named problem set and how its answers are graded
    "Benchmark": "capability_tests.benchmarks.base",
    "BenchmarkError": "capability_tests.benchmarks.base",
    "HubSource": "capability_tests.benchmarks.base",
    "ParsedRow": "capability_tests.benchmarks.base",
    "RowError": "capability_tests.benchmarks.base",
    "GradingPolicy": "capability_tests.grading.policy",
    "Problem": "capability_tests.problems",
    # engines: the protocol, the declared capabilities and identity, the registry
    "Engine": "capability_tests.engines.base",
    "EngineBase": "capability_tests.engines.classes",
    "LocalEngine": "capability_tests.engines.classes",
    "EngineCapabilities": "capability_tests.engines.base",
    "EngineError": "capability_tests.engines.base",
    "EngineIdentity": "capability_tests.engines.base",
    "EngineSettings": "capability_tests.engines.base",
    "GenerationRequest": "capability_tests.engines.base",
    "SamplingSettings": "capability_tests.engines.base",
    "Completion": "capability_tests.engines.base",
    "RequestFailure": "capability_tests.engines.base",
    "ModelIdentity": "capability_tests.fingerprints",
    "register_engine": "capability_tests.engines",
    # verifiers: a verdict per completion, and what it makes of the sample
    "Verdict": "capability_tests.grading.verdict",
    "Outcome": "capability_tests.grading.verdict",
    # metrics: curves over k, registered once
    "Metric": "capability_tests.reporting.metrics",
    "register_metric": "capability_tests.reporting.metrics",
}

__all__ = sorted(_EXPORTS) + ["__version__"]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'capability_tests' has no attribute {name!r}")
    value = getattr(import_module(module), name)
    globals()[name] = value
    return value
