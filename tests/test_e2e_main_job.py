"""The README's main job, exactly as `tox -e demo` runs it (its command is read from tox.ini), on
the real vLLM engine and the embedded model: CI exercises the command users run first."""

from __future__ import annotations

import configparser
import json
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.e2e


def demo_command() -> list[str]:
    tox = configparser.ConfigParser(interpolation=None)
    tox.read(ROOT / "tox.ini")
    [line] = [l for l in tox["testenv:demo"]["commands"].splitlines() if l.strip()]
    args = shlex.split(line.replace("{posargs}", ""))
    assert args[0] == "pytest", line
    return args[1:]


def test_the_main_job_runs_and_writes_its_report(tmp_path):
    args = demo_command()
    result = subprocess.run([sys.executable, "-m", "pytest", *args, f"--report-dir={tmp_path}"],
                            cwd=ROOT, capture_output=True, text=True, timeout=1200)
    out = result.stdout + result.stderr
    assert result.returncode == 0, out[-4000:]
    assert "benchmark        problems     n" in out and "pass@8" in out
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["complete"] is True and summary["run"]["engine"] == "vllm"
    demo = summary["benchmarks"]["demo"]
    assert demo["problems"] == 10 and demo["n"] == 8 and demo["errors"] == 0
    folder = tmp_path / summary["run_id"]
    assert (folder / "index.html").is_file() and f"run explorer: file://{folder}" in out
    # a second run of the same command generates nothing: every sample comes from the store
    again = subprocess.run([sys.executable, "-m", "pytest", *args, f"--report-dir={tmp_path}"],
                           cwd=ROOT, capture_output=True, text=True, timeout=1200)
    assert again.returncode == 0, again.stdout[-4000:]
    assert "80 stored, 0 to generate" in again.stdout
    second = json.loads((tmp_path / "summary.json").read_text())
    assert second["benchmarks"]["demo"]["pass_at_k"] == demo["pass_at_k"]
