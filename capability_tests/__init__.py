"""pytest-native capability tests for language models: pass@k on real benchmarks."""

__version__ = "0.1.0"
