"""Provenance in every report: summary.json's `provenance` section, report.md and the JUnit suite
properties say what produced the numbers, serially and under xdist (where workers sample and the
controller reports)."""

from __future__ import annotations

import json
import subprocess
import xml.etree.ElementTree as ET

import pytest

from capability_tests.seeds import SEED_POLICY
from fixtures.fake_engine import SUITE
from fixtures.paths import REPO_ROOT

SHA = "0123456789abcdef0123456789abcdef01234567"
PINNED = ["--engine=fixtures.fake_engine:FakeEngine", "--model=fake/model",
          f"--engine-arg=revision={SHA}", "-p", "no:cacheprovider"]


def suite_properties(path):
    root = ET.parse(path).getroot()
    suite = root if root.tag == "testsuite" else root.find("testsuite")
    return {p.get("name"): p.get("value") for p in suite.find("properties").iter("property")}


@pytest.mark.slow
def test_a_serial_run_records_what_produced_it(pytester, fake_engine_env):
    pytester.runpytest(*SUITE, *PINNED, "--benchmarks=demo", "--limit=2", "--k=2",
                       "--junitxml=junit.xml", "--unsolved=xfail")
    summary = json.loads((pytester.path / "reports" / "summary.json").read_text())
    prov = summary["provenance"]
    assert prov["model_spec"] == "fake/model"
    assert prov["model"]["fingerprint"] == f"hub:fake/model@{SHA}"
    assert prov["model"]["revision"] == SHA and prov["model"]["pinned"] is True
    assert prov["engine"]["name"] == "fake" and prov["engine"]["started"] is True
    assert prov["sampling"] == {"mode": "seeded", "seed": 0, "seed_policy": SEED_POLICY}
    assert prov["samples"] == {"generated": 4, "from_store": 0}
    assert prov["tensor_parallel_size"] == 1 and prov["data_parallel_size"] == 1
    assert prov["batch_invariant"] is False
    assert prov["harness"]["version"] and prov["packages"]["pytest"] == pytest.__version__
    assert list(prov["data"]) == ["demo"] and prov["data"]["demo"]["problems"] == 2
    head = subprocess.run(["git", "-C", str(REPO_ROOT), "rev-parse", "HEAD"],
                          capture_output=True, text=True)
    if head.returncode == 0:  # run from a checkout
        assert prov["harness"]["git_commit"] == head.stdout.strip()

    report = next((pytester.path / "reports").glob("*/report.md")).read_text()
    assert "## Provenance" in report and f"hub:fake/model@{SHA}" in report
    assert f"| seed_policy | `{SEED_POLICY}` |" in report

    props = suite_properties(pytester.path / "junit.xml")
    assert props["capability_model_fingerprint"] == f"hub:fake/model@{SHA}"
    assert props["capability_model_revision"] == SHA
    assert props["capability_engine"] == "fake" and props["capability_sampling"] == "seeded"
    assert json.loads(props["capability_provenance"]) == prov

    # everything stored: the rerun starts no engine and says so
    pytester.runpytest(*SUITE, *PINNED, "--benchmarks=demo", "--limit=2", "--k=2",
                       "--unsolved=xfail")
    again = json.loads((pytester.path / "reports" / "summary.json").read_text())["provenance"]
    assert again["samples"] == {"generated": 0, "from_store": 4}
    assert again["engine"]["started"] is False and again["device"] is None
    assert again["model"] == prov["model"]


@pytest.mark.slow
def test_under_xdist_the_workers_provenance_reaches_the_report(pytester, fake_engine_env,
                                                               small_benchmarks):
    result = pytester.runpytest_subprocess(
        *SUITE, *PINNED, f"--data-dir={small_benchmarks}", "--benchmarks=aime24,amc23",
        "--limit=2", "--k=2", "-n", "2", "--junitxml=junit.xml", "--unsolved=xfail")
    assert result.ret == 0, "\n".join(result.outlines[-20:])
    prov = json.loads((pytester.path / "reports" / "summary.json").read_text())["provenance"]
    assert prov["processes"] == 2, "each worker sampled one benchmark"
    assert prov["samples"] == {"generated": 8, "from_store": 0}
    assert prov["model"]["fingerprint"] == f"hub:fake/model@{SHA}"
    assert prov["engine"]["name"] == "fake" and prov["sampling"]["seed_policy"] == SEED_POLICY
    props = suite_properties(pytester.path / "junit.xml")
    assert props["capability_model_revision"] == SHA


def test_an_unpinned_hub_model_is_reported_unpinned(pytester, fake_engine_env):
    result = pytester.runpytest(*SUITE, "--engine=fixtures.fake_engine:FakeEngine", "--model=fake/model",
                                "--benchmarks=demo", "--limit=1", "--k=1", "--unsolved=xfail",
                                "-p", "no:cacheprovider")
    result.stdout.fnmatch_lines(["*fake/model*could not be resolved to a commit*unpinned*"])
    prov = json.loads((pytester.path / "reports" / "summary.json").read_text())["provenance"]
    assert prov["model"]["pinned"] is False and prov["model"]["revision"] is None
    assert prov["model"]["fingerprint"] == "hub:fake/model@main:unpinned"


def test_batch_invariant_without_engine_support_is_a_usage_error(pytester):
    result = pytester.runpytest(*SUITE, "--batch-invariant", "--benchmarks=demo", "--limit=1")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert "--batch-invariant:" in "\n".join(result.errlines)
    result = pytester.runpytest(*SUITE, "--batch-invariant", "--engine=transformers",
                                "--sampling=batched", "--benchmarks=demo", "--limit=1")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert "--sampling seeded" in "\n".join(result.errlines)


def test_workers_that_disagree_are_reported_as_differing():
    from capability_tests.reporting.provenance import flat, merge_sampling

    def worker(device, generated, started=True):
        return {"model": {"fingerprint": "m"}, "engine": {"name": "vllm", "started": started},
                "dtype": "bfloat16", "device": device, "tensor_parallel_size": 1,
                "data_parallel_size": 1, "batch_invariant": False,
                "sampling": {"mode": "seeded"}, "samples": {"generated": generated,
                                                            "from_store": 1}}

    h200 = {"type": "cuda", "name": "H200", "count": 1}
    a100 = {"type": "cuda", "name": "A100", "count": 1}
    same = merge_sampling([worker(h200, 3), worker(h200, 4), worker(None, 0, started=False)])
    assert same["device"] == h200 and same["samples"] == {"generated": 7, "from_store": 3}
    assert same["processes"] == 3 and same["model"] == {"fingerprint": "m"}
    assert same["engine"] == {"name": "vllm", "started": True}
    mixed = merge_sampling([worker(h200, 3), worker(a100, 4)])
    assert mixed["device"] == {"differs": [h200, a100]}
    assert flat(mixed)["device"] == "differs: 1 x H200 (cuda); 1 x A100 (cuda)"
