"""Shared fixtures of the project's own tests."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

pytest_plugins = ["pytester"]

TESTS_DIR = Path(__file__).resolve().parent
REPO_ROOT = TESTS_DIR.parent
TEST_DATA = TESTS_DIR / "data"  # small files for the tests: a broken benchmark, Hub layouts


def _shared_benchmarks() -> Path:
    env = os.environ.get("CAPABILITY_TESTS_SHARED_BENCHMARKS")
    return Path(env) if env else REPO_ROOT.parent / "shared" / "benchmarks"


@pytest.fixture(scope="session")
def shared_benchmarks() -> Path:
    """The study's six benchmarks as shipped beside every checkout (../shared/benchmarks)."""
    path = _shared_benchmarks()
    if not (path / "aime24" / "test.jsonl").is_file():
        pytest.fail(
            f"benchmark data not found at {path}: the tests read ../shared/benchmarks beside the "
            "checkout, or set CAPABILITY_TESTS_SHARED_BENCHMARKS"
        )
    return path


@pytest.fixture
def fake_engine_env(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch):
    """A pytester folder where `--engine=fake_engine:FakeEngine` imports and logs to a file."""
    pytester.syspathinsert(TESTS_DIR)
    log = pytester.path / "engine-log.jsonl"
    monkeypatch.setenv("FAKE_ENGINE_LOG", str(log))
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(TESTS_DIR), os.environ.get("PYTHONPATH", "")]))
    return log
