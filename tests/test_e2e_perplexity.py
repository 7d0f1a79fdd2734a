"""End to end: `capability-tests perplexity` with vLLM's prompt log-probabilities on the embedded
model, over a tiny run recorded by the suite (the transformers engine samples it: it starts in
seconds; one vLLM start is the test's cost)."""

from __future__ import annotations

import json
import math

import pytest

from fixtures.fake_engine import SUITE

pytestmark = pytest.mark.e2e


def test_vllm_scores_a_recorded_run_and_a_rerun_scores_nothing(pytester, monkeypatch, capsys):
    from capability_tests import engines
    from capability_tests.cli import main

    result = pytester.runpytest_subprocess(
        *SUITE, "--engine=transformers", "--benchmarks=demo", "--limit=2", "--k=2",
        "--max-tokens=16", "--template=chat", "--unsolved=xfail", "-p", "no:cacheprovider",
        timeout=600,
    )
    assert result.ret == 0, "\n".join(result.outlines[-30:])
    monkeypatch.chdir(pytester.path)
    run_id = json.loads((pytester.path / "reports" / "summary.json").read_text())["run_id"]
    folder = pytester.path / "reports" / run_id

    assert main(["perplexity", "--model=smollm2-135m", "-q", run_id]) == 0
    document = json.loads((folder / "perplexity.json").read_text())
    assert document["scoring_model"]["engine"] == "vllm"
    samples = document["samples"]
    assert sorted((s["problem_id"], s["index"]) for s in samples) == [
        ("add", 0), ("add", 1), ("sub", 0), ("sub", 1)]
    for s in samples:
        assert 1 <= s["tokens"] <= 17, "the completion's own tokens, not the prompt's"
        assert math.isfinite(s["perplexity"]) and s["perplexity"] >= 1
        assert s["perplexity"] == pytest.approx(math.exp(-s["mean_logprob"]))
    demo = document["benchmarks"]["demo"]
    assert demo["count"] == 4 and demo["q1"] <= demo["median"] <= demo["q3"]
    assert (folder / "perplexity.png").is_file()
    capsys.readouterr()

    def no_engine(*args, **kwargs):
        raise AssertionError("a rerun must not start an engine")

    monkeypatch.setattr(engines, "create_engine", no_engine)
    assert main(["perplexity", "--model=smollm2-135m", "-q", run_id]) == 0
    assert "4 already scored under smollm2-135m, 0 to score" in capsys.readouterr().err
    assert json.loads((folder / "perplexity.json").read_text())["samples"] == samples
