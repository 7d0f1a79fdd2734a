"""docs/EXTENDING.md's worked examples, run as a user runs them: the example package
(`examples/extending`, a benchmark with a 2% tolerance, an engine class, a metric) is pip-installed
outside the suite's package and found through its entry points only; a run selects the benchmark,
runs the engine, reports the metric and gates on it with --fail-under."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "extending"


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    target = tmp_path_factory.mktemp("site")
    source = tmp_path_factory.mktemp("source") / "extending"  # the build leaves nothing in the tree
    shutil.copytree(EXAMPLE, source, ignore=shutil.ignore_patterns("build", "*.egg-info"))
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps",
                    "--no-build-isolation", "--disable-pip-version-check", "--target", str(target),
                    str(source)], check=True, capture_output=True, text=True)
    assert (target / "ct_example" / "labphys.jsonl").is_file()
    return target


def run_suite(cwd: Path, site: Path, *args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(site), str(ROOT)]))
    env.pop("PYTEST_ADDOPTS", None)
    return subprocess.run([sys.executable, "-m", "pytest", "-p", "capability_tests.plugin",
                           "--pyargs", "capability_tests.suite", "-p", "no:cacheprovider", *args],
                          cwd=cwd, env=env, capture_output=True, text=True, timeout=600)


@pytest.mark.slow
def test_the_example_package_extends_a_run_through_entry_points(installed, tmp_path):
    box = "\\boxed{%s}"
    replay = tmp_path / "completions.jsonl"
    replay.write_text("".join(json.dumps(row) + "\n" for row in [
        {"key": "labphys/pendulum", "completions": [box % "2.83", box % "2.84"]},  # 0.4% off: right
        {"key": "labphys/freefall", "completions": [box % "44.9", box % "45.2"]},  # 1.8% right, 2.5% wrong
        {"key": "labphys/ohm", "completions": [box % "2.55", box % "3", box % "3", box % "3"]},
        # labphys/lens has no completions: that problem fails alone, the others are reported
    ]))
    result = run_suite(tmp_path, installed, "--engine=replay", f"--model={replay}",
                       "--benchmarks=labphys", "--k=4", "--unsolved=xfail", "--report-dir=reports",
                       "--bootstrap-resamples=100", "--fail-under=labphys:two@4>=0.9")
    out = result.stdout + result.stderr
    assert result.returncode == 6, out  # the gate failed (the lens problem's failure too)
    assert "no completions for labphys/lens" in out
    assert "two@4 = 66.7%" in out and "is below the threshold >= 90.0%" in out
    summary = json.loads((tmp_path / "reports" / "summary.json").read_text())
    bench = summary["benchmarks"]["labphys"]
    assert bench["problems"] == 3 and bench["errors"] == 1
    assert bench["pass_at_k"]["1"] == pytest.approx(7 / 12)  # 4/4, 2/4 (2% tolerance), 1/4
    assert bench["two_at_k"]["4"] == pytest.approx(2 / 3)
    assert summary["run"]["engine"] == "replay"


def test_an_engine_class_that_lacks_the_contract_is_named(installed, tmp_path):
    (tmp_path / "half_engine.py").write_text(
        "class HalfEngine:\n    name = 'half'\n    def stream(self, requests, sampling):\n        return iter(())\n")
    env_site = installed
    result = run_suite(tmp_path, env_site, "--engine=half_engine:HalfEngine", "--benchmarks=labphys",
                       "--k=1", "--rootdir", str(tmp_path))
    out = result.stdout + result.stderr
    assert result.returncode == 4, out
    assert "engine class half_engine.HalfEngine lacks capabilities" in out
