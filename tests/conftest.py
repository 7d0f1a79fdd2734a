"""Shared fixtures of the project's own tests."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

from fixtures.paths import REPO_ROOT, TEST_DATA, TESTS_DIR  # noqa: F401 (shared paths)

pytest_plugins = ["pytester"]

# Hypothesis profiles: "ci" (CI=true, and tox) derandomises the examples, so a red CI is the
# same red on a rerun and never depends on the shared machine's speed (no deadline); "dev"
# keeps hypothesis' defaults for exploring locally. Choose with HYPOTHESIS_PROFILE.
settings.register_profile("ci", derandomize=True, deadline=None, print_blob=True,
                          suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("dev", deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE") or ("ci" if os.environ.get("CI") else "dev"))


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


def _small_rows() -> dict[str, list[dict]]:
    """Five hand-written problems in each study benchmark's schema (not the study's rows)."""
    subjects = ["Algebra", "Precalculus", "Number Theory", "Geometry", "Prealgebra"]
    return {
        "aime24": [{"id": str(60 + i), "problem": f"Find the remainder when $7^{{{i + 2}}}$ is "
                    "divided by $1000$.", "solution": "Compute directly.",
                    "answer": str(pow(7, i + 2, 1000))} for i in range(5)],
        "amc23": [{"id": str(i), "question": f"What is ${i + 3} \\times {i + 4}$?",
                   "answer": float((i + 3) * (i + 4))} for i in range(5)],
        "math500": [{"problem": f"Simplify $\\frac{{{2 * (i + 1)}}}{{{4 * (i + 1)}}}$.",
                     "solution": "Divide by the common factor: $\\boxed{\\frac{1}{2}}$.",
                     "answer": "\\frac{1}{2}", "subject": subjects[i], "level": str(1 + i),
                     "unique_id": f"test/{subjects[i].lower().replace(' ', '_')}/{100 + i}.json"}
                    for i in range(5)],
        "minerva_math": [{"problem": f"A body moves at ${i + 2}$ m/s for $10$ s. How far does it "
                          "go, in metres?", "solution": f"Distance is speed times time: "
                          f"$\\boxed{{{(i + 2) * 10}}}$.", "type": "Introduction to Physics",
                          "idx": str(i)} for i in range(5)],
        "olympiadbench": [{"id": str(1000 + i), "subfield": "Algebra", "context": None,
                           "question": f"Find all real $x$ with $x^2={(i + 1) ** 2}$.",
                           "solution": ["Take square roots."],
                           "final_answer": [f"${-(i + 1)}, {i + 1}$"], "is_multiple_answer": True,
                           "unit": None, "answer_type": "Numerical", "error": None}
                          for i in range(5)],
        "gsm8k": [{"question": f"Sam has {i + 5} apples and buys {i + 2} more. How many apples "
                   "does he have?", "answer": f"He has {i + 5} + {i + 2} = "
                   f"<<{i + 5}+{i + 2}={2 * i + 7}>>{2 * i + 7} apples.\n#### {2 * i + 7}",
                   "idx": i} for i in range(5)],
    }


@pytest.fixture(scope="session")
def small_benchmarks(tmp_path_factory) -> Path:
    """A --data-dir with five hand-written problems in each study benchmark's schema, written
    for this session, for tests that need a few rows, not the study's files."""
    import json

    root = tmp_path_factory.mktemp("small-benchmarks")
    for name, rows in _small_rows().items():
        (root / name).mkdir()
        (root / name / "test.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    return root


@pytest.fixture
def fake_engine_env(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch):
    """A pytester folder where `--engine=fixtures.fake_engine:FakeEngine` imports and logs to a file."""
    pytester.syspathinsert(REPO_ROOT)
    log = pytester.path / "engine-log.jsonl"
    monkeypatch.setenv("FAKE_ENGINE_LOG", str(log))
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(REPO_ROOT), os.environ.get("PYTHONPATH", "")]))
    return log
