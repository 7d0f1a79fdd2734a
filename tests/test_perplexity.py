"""`capability-tests perplexity`: the per-token log-probability -> perplexity math, the stored
scores (a rerun starts no engine), perplexity.json and the plot, and the errors, with a scripted
scoring engine (fixtures/fake_scorer.py). The real engines: tests/test_e2e_perplexity.py."""

from __future__ import annotations

import json
import math
import sqlite3
from types import SimpleNamespace

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from capability_tests.benchmarks import load_problems
from capability_tests.cli import main
from capability_tests.perplexity.measure import (
    ScoreError,
    completion_logprobs,
    distribution,
    logprob_total,
    perplexity,
)
from capability_tests.results import ProblemResult
from capability_tests.store import CompletionStore, GenerationKey, NewSample, prompt_digest
from capability_tests.templates import get_template
from fixtures.fake_scorer import FakeScorer, expected_perplexity

FAKE = "--engine=fixtures.fake_scorer:FakeScorer"

# -- the math ----------------------------------------------------------------------------------


def test_perplexity_is_exp_of_minus_the_mean_token_logprob():
    tokens, total = logprob_total([math.log(0.5), math.log(0.25)])
    assert tokens == 2 and perplexity(tokens, total) == pytest.approx(math.sqrt(8))
    assert perplexity(*logprob_total([0.0, 0.0])) == 1.0, "a certain completion"
    assert perplexity(0, 0.0) is None, "an empty completion has no perplexity"
    assert perplexity(1, -1000.0) == math.inf


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), float("-inf"), 0.5])
def test_a_logprob_that_is_not_finite_and_at_most_zero_is_refused(bad):
    with pytest.raises(ScoreError, match="not a finite value"):
        logprob_total([-0.1, bad])


@given(st.lists(st.floats(min_value=-30, max_value=0), min_size=1, max_size=50))
def test_perplexity_lies_between_the_extreme_token_probabilities(logprobs):
    value = perplexity(*logprob_total(logprobs))
    assert value >= 1.0 - 1e-12
    assert math.exp(-max(logprobs)) * (1 - 1e-9) <= value <= math.exp(-min(logprobs)) * (1 + 1e-9)
    # the geometric mean of the inverse token probabilities
    assert value == pytest.approx(float(np.prod([math.exp(-l) for l in logprobs])
                                        ** (1 / len(logprobs))), rel=1e-9)


def _vllm_prompt_logprobs(ids, value):
    """vLLM's shape: None at position 0, then {token id: Logprob} holding that position's token
    (with prompt_logprobs=1 also the top token)."""
    out = [None]
    for pos, token in enumerate(ids[1:], start=1):
        entry = {token: SimpleNamespace(logprob=value(pos))}
        entry[99_999] = SimpleNamespace(logprob=-0.01)  # a top-1 token that is not ours
        out.append(entry)
    return out


def test_only_the_completion_tokens_are_taken_from_the_prompt_logprobs():
    prompt, completion = [5, 6, 7], [8, 9]
    logprobs = _vllm_prompt_logprobs(prompt + completion, lambda pos: -float(pos))
    assert completion_logprobs(logprobs, len(prompt), completion) == [-3.0, -4.0]
    with pytest.raises(ScoreError, match="3 \\+ 3 tokens"):
        completion_logprobs(logprobs, len(prompt), [8, 9, 10])
    with pytest.raises(ScoreError, match="token 1"):
        completion_logprobs(logprobs, len(prompt), [8, 11])
    with pytest.raises(ScoreError, match="empty prompt"):
        completion_logprobs([None, {1: -1.0}], 0, [0, 1])


def test_distribution_gives_median_and_quartiles_of_the_finite_values():
    summary = distribution([1.0, 2.0, 3.0, 4.0, math.inf])
    assert summary["count"] == 4 and summary["median"] == 2.5
    assert (summary["q1"], summary["q3"]) == (1.75, 3.25)
    assert distribution([])["median"] is None


# -- recorded runs -----------------------------------------------------------------------------


def make_run(root, run_id, texts, *, template="qwen-boxed", temperature=0.6, store_path=None):
    """A recorded run folder under root/reports as a session writes it (summary.json with the
    store section, problems.jsonl, samples.jsonl) and its completions in the store."""
    problems = {p.problem_id: p for p in load_problems("demo")}
    reports = root / "reports"
    folder = reports / run_id
    folder.mkdir(parents=True)
    store_path = store_path or reports / "completions.sqlite"
    key = GenerationKey("local:m", "fake", None, "{}", "seeded", temperature, 0.95, 16, 0, "test")
    store = CompletionStore(store_path)
    generation = store.generation_id(key)
    records, results = [], []
    for pid, samples in sorted(texts.items()):
        digest = prompt_digest(get_template(template).render(problems[pid]))
        store.add(generation, [NewSample(digest, f"demo/{pid}", i, None, text, len(text), "stop")
                               for i, text in enumerate(samples)])
        records += [{"benchmark": "demo", "problem_id": pid, "index": i, "extracted": None,
                     "correct": False, "outcome": "wrong", "reason": "", "grader": "g",
                     "prompt": digest} for i in range(len(samples))]
        results.append(ProblemResult("demo", pid, len(samples), 0))
    store.close()
    (folder / "summary.json").write_text(json.dumps({
        "run_id": run_id, "model": "m", "complete": True,
        "run": {"model": "m", "template": template, "data_dir": None, "limit": None},
        "store": {"path": str(store_path), "generation": key.as_json()}}))
    (folder / "problems.jsonl").write_text(
        "".join(json.dumps(r.to_json()) + "\n" for r in results))
    (folder / "samples.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    return folder


@pytest.fixture
def base(tmp_path):
    """A scoring model: a local folder (fingerprinted by content, loaded by the fake engine)."""
    folder = tmp_path / "base-model"
    folder.mkdir()
    (folder / "config.json").write_text("{}")
    return folder


@pytest.fixture(autouse=True)
def fresh_fake_scorer(monkeypatch):
    monkeypatch.setattr(FakeScorer, "starts", [])
    monkeypatch.setattr(FakeScorer, "batches", [])
    monkeypatch.delenv("FAKE_SCORER_FAIL_START", raising=False)
    monkeypatch.delenv("FAKE_SCORER_FAIL_AFTER", raising=False)


def perplexity_cli(tmp_path, base, *runs, extra=()):
    return main(["perplexity", f"--model={base}", FAKE, f"--report-dir={tmp_path / 'reports'}",
                 *extra, *runs])


TEXTS = {"add": ["12 + 7 = 19", "\\boxed{19}", ""], "sub": ["45 - 18 = 27", "I do not know."]}


def test_every_sample_is_scored_and_a_rerun_starts_no_engine(tmp_path, base, capsys):
    folder = make_run(tmp_path, "run-a", TEXTS)
    assert perplexity_cli(tmp_path, base, "run-a", extra=["--batch-size=2"]) == 0
    assert len(FakeScorer.starts) == 1 and FakeScorer.batches == [2, 1, 1], \
        "5 samples in batches of 2; the empty completion is never sent"
    document = json.loads((folder / "perplexity.json").read_text())
    by_sample = {(s["problem_id"], s["index"]): s for s in document["samples"]}
    assert len(by_sample) == 5
    for pid, texts in TEXTS.items():
        for i, text in enumerate(texts):
            row = by_sample[(pid, i)]
            assert row["tokens"] == len(text)
            assert row["perplexity"] == pytest.approx(expected_perplexity(text), rel=1e-12) \
                if text else row["perplexity"] is None
    values = [expected_perplexity(t) for ts in TEXTS.values() for t in ts if t]
    demo = document["benchmarks"]["demo"]
    assert demo["count"] == 4 and demo["empty_completions"] == 1
    assert demo["median"] == pytest.approx(float(np.median(values)))
    assert demo["q1"] == pytest.approx(float(np.percentile(values, 25)))
    assert demo["q3"] == pytest.approx(float(np.percentile(values, 75)))
    assert document["scoring_model"]["engine"] == "fake-scorer"
    assert document["scoring_model"]["model"].startswith("local:base-model:")
    assert (folder / "perplexity.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "0 already scored" in capsys.readouterr().err

    first = (folder / "perplexity.json").read_text()
    (folder / "perplexity.json").unlink()
    assert perplexity_cli(tmp_path, base, "run-a") == 0
    assert len(FakeScorer.starts) == 1, "the rerun scored nothing: no engine started"
    assert (folder / "perplexity.json").read_text() == first
    assert "5 already scored under" in capsys.readouterr().err


def test_two_runs_one_store_one_engine_and_a_regenerated_sample_is_scored_again(tmp_path, base):
    a = make_run(tmp_path, "run-a", {"add": ["19", "nineteen"]})
    b = make_run(tmp_path, "run-b", {"add": ["12+7 is 19"], "sub": ["27"]}, temperature=1.0)
    assert perplexity_cli(tmp_path, base, "run-a", str(b)) == 0
    assert len(FakeScorer.starts) == 1 and sum(FakeScorer.batches) == 4
    for folder in (a, b):
        assert json.loads((folder / "perplexity.json").read_text())["run_id"] == folder.name
        assert (folder / "perplexity.png").is_file()
    # --fresh regenerates a sample in place: its old score no longer counts
    store = CompletionStore(tmp_path / "reports" / "completions.sqlite")
    summary = json.loads((a / "summary.json").read_text())
    generation = store.find_generation(summary["store"]["generation"])
    digest = json.loads((a / "samples.jsonl").read_text().splitlines()[1])["prompt"]
    store.add(generation, [NewSample(digest, "demo/add", 1, None, "XIX", 3, "stop")], replace=True)
    store.close()
    assert perplexity_cli(tmp_path, base, "run-a", "run-b") == 0
    assert FakeScorer.batches[-1] == 1, "only the regenerated sample is scored again"
    row = json.loads((a / "perplexity.json").read_text())["samples"][1]
    assert row["perplexity"] == pytest.approx(expected_perplexity("XIX"))


def test_another_scoring_model_is_scored_apart(tmp_path, base):
    make_run(tmp_path, "run-a", {"add": ["19"]})
    assert perplexity_cli(tmp_path, base, "run-a") == 0
    (base / "weights.bin").write_bytes(b"other weights")  # another fingerprint
    assert perplexity_cli(tmp_path, base, "run-a") == 0
    assert len(FakeScorer.starts) == 2


def test_a_store_made_before_the_score_tables_gets_them(tmp_path, base):
    make_run(tmp_path, "run-a", {"add": ["19"]})
    db = sqlite3.connect(tmp_path / "reports" / "completions.sqlite")
    db.execute("DROP TABLE scores")
    db.execute("DROP TABLE scorers")
    db.commit()
    db.close()
    assert perplexity_cli(tmp_path, base, "run-a") == 0
    assert perplexity_cli(tmp_path, base, "run-a") == 0
    assert len(FakeScorer.starts) == 1


def test_an_engine_failing_mid_run_keeps_finished_batches_and_writes_no_report(
        tmp_path, base, monkeypatch, capsys):
    folder = make_run(tmp_path, "run-a", TEXTS)
    monkeypatch.setenv("FAKE_SCORER_FAIL_AFTER", "1")
    assert perplexity_cli(tmp_path, base, "run-a", extra=["--batch-size=2"]) == 2
    err = capsys.readouterr().err
    assert "engine core died" in err and "demo/add #2" in err and "earlier batches are stored" in err
    assert not (folder / "perplexity.json").exists() and not (folder / "perplexity.png").exists()
    assert not list(folder.glob("*.part*"))
    monkeypatch.delenv("FAKE_SCORER_FAIL_AFTER")
    assert perplexity_cli(tmp_path, base, "run-a", extra=["--batch-size=2"]) == 0
    assert "2 already scored" in capsys.readouterr().err
    assert FakeScorer.batches == [2, 1, 1], \
        "first call: one batch; rerun: the other 3, in batches of 2, the empty one never sent"


# -- bad input ---------------------------------------------------------------------------------


def test_unknown_run(tmp_path, base, capsys):
    assert perplexity_cli(tmp_path, base, "nosuch-run") == 2
    assert "'nosuch-run' is not a run folder" in capsys.readouterr().err
    assert FakeScorer.starts == []


def test_run_without_stored_completions(tmp_path, base, capsys):
    folder = make_run(tmp_path, "run-a", {"add": ["19"]})
    other = make_run(tmp_path, "run-b", {"add": ["19"]})
    summary = json.loads((folder / "summary.json").read_text())
    summary["store"] = {"path": None, "generation": None}  # --store none
    (folder / "summary.json").write_text(json.dumps(summary))
    assert perplexity_cli(tmp_path, base, "run-b", "run-a") == 2
    err = capsys.readouterr().err
    assert "run run-a has no stored completions to score" in err and "--store none" in err
    assert not (other / "perplexity.json").exists(), "nothing is written when one run is bad"

    summary["store"] = json.loads((other / "summary.json").read_text())["store"]
    summary["store"]["generation"] = summary["store"]["generation"].replace('"seed": 0', '"seed": 7')
    (folder / "summary.json").write_text(json.dumps(summary))
    assert perplexity_cli(tmp_path, base, "run-a") == 2
    assert "run run-a has no stored completions: completion store" in capsys.readouterr().err


def test_recorded_samples_missing_from_the_store(tmp_path, base, capsys):
    folder = make_run(tmp_path, "run-a", {"add": ["19", "20"]})
    db = sqlite3.connect(tmp_path / "reports" / "completions.sqlite")
    db.execute("DELETE FROM samples WHERE idx = 1")
    db.commit()
    db.close()
    assert perplexity_cli(tmp_path, base, "run-a") == 2
    err = capsys.readouterr().err
    assert "1 recorded samples are not in completion store" in err and "demo/add #1" in err
    assert not (folder / "perplexity.json").exists() and FakeScorer.starts == []


def test_a_prompt_that_no_longer_matches_the_recorded_one(tmp_path, base, capsys):
    folder = make_run(tmp_path, "run-a", {"add": ["19"]})
    summary = json.loads((folder / "summary.json").read_text())
    summary["run"]["template"] = "abel"
    (folder / "summary.json").write_text(json.dumps(summary))
    assert perplexity_cli(tmp_path, base, "run-a") == 2
    err = capsys.readouterr().err
    assert "the prompt of demo/add rendered now (template 'abel'" in err
    assert not (folder / "perplexity.json").exists()


def test_a_scoring_model_that_cannot_load(tmp_path, base, monkeypatch, capsys):
    folder = make_run(tmp_path, "run-a", {"add": ["19"]})
    assert perplexity_cli(tmp_path, tmp_path / "no-such-model", "run-a") == 2
    assert "no-such-model" in capsys.readouterr().err
    monkeypatch.setenv("FAKE_SCORER_FAIL_START", "1")
    assert perplexity_cli(tmp_path, base, "run-a") == 2
    err = capsys.readouterr().err
    assert f"cannot load scoring model '{base}'" in err and "out of memory" in err
    assert not (folder / "perplexity.json").exists()


def test_an_engine_that_cannot_score(tmp_path, base, capsys):
    make_run(tmp_path, "run-a", {"add": ["19"]})
    assert main(["perplexity", f"--model={base}", "--engine=fixtures.fake_engine:FakeEngine",
                 f"--report-dir={tmp_path / 'reports'}", "run-a"]) == 2
    assert "cannot score completions" in capsys.readouterr().err


# -- a run recorded by the suite ---------------------------------------------------------------


@pytest.mark.slow
def test_a_run_recorded_by_the_suite_is_scored(pytester, fake_engine_env, monkeypatch, base):
    from fixtures.fake_engine import SUITE

    monkeypatch.setenv("FAKE_ENGINE_SCRIPT", json.dumps({"demo/add": ["\\boxed{19}", "19!"]}))
    pytester.runpytest_subprocess(*SUITE, "--engine=fixtures.fake_engine:FakeEngine", "--benchmarks=demo",
                                  "-k", "add or sub", "--k=2", "--unsolved=xfail")
    monkeypatch.chdir(pytester.path)
    assert main(["perplexity", f"--model={base}", FAKE, "latest"]) == 0
    run_id = json.loads((pytester.path / "reports" / "summary.json").read_text())["run_id"]
    document = json.loads((pytester.path / "reports" / run_id / "perplexity.json").read_text())
    got = {(s["problem_id"], s["index"]): s["perplexity"] for s in document["samples"]}
    assert got == pytest.approx({("add", 0): expected_perplexity("\\boxed{19}"),
                                 ("add", 1): expected_perplexity("19!"),
                                 ("sub", 0): expected_perplexity("I do not know."),
                                 ("sub", 1): expected_perplexity("I do not know.")})
