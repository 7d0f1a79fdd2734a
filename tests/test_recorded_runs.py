"""Regrading from the record: `--regrade`, `regrade-diff`, `perplexity` and `compare` find a run's
samples through one recorded-run API (`reporting/recorded_runs.py`: the generation key and prompt
digests a run folder recorded), never by asking the installed engine or a live server; and two
problems with the same prompt get rows of their own. Driven through pytester with the scripted
engine (fixtures/fake_engine.py) and the scripted server (fixtures/fake_openai_server.py). The API
on checked-in runs (generation key, prompt digests, texts): tests/test_golden_runs.py."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from capability_tests.cli import main
from capability_tests.engines import EngineError, EngineIdentity
from capability_tests.problems import Problem
from capability_tests.reporting.recorded_runs import load_run
from capability_tests.templates import get_template
from fixtures.fake_engine import FAKE, SUITE, FakeEngine, generate_calls
from fixtures.fake_openai_server import FakeOpenAIServer


def summary(root: Path) -> dict:
    return json.loads((root / "reports" / "summary.json").read_text())


def other_machine(monkeypatch) -> None:
    """The engine installed now is another version than the one that sampled, and nothing can
    reach the model (a server down, weights not on this machine): asking for either fails."""
    def identity(cls, settings):
        return EngineIdentity("fake", "99.0-upgraded", {"build": "cpu"})

    def unreachable(cls, settings):
        raise EngineError("the model cannot be reached from here")

    monkeypatch.setattr(FakeEngine, "identity", classmethod(identity))
    monkeypatch.setattr(FakeEngine, "model_identity", classmethod(unreachable))
    monkeypatch.setattr(FakeEngine, "chat_template_source", classmethod(unreachable))


@pytest.mark.parametrize("template", ["qwen-boxed", "chat"])
def test_regrade_finds_the_samples_when_the_engine_differs_and_the_model_is_unreachable(
        pytester, fake_engine_env, monkeypatch, template):
    monkeypatch.setenv("FAKE_ENGINE_SCRIPT", json.dumps({"demo/add": ["\\boxed{19}", "x"]}))
    args = [*SUITE, *FAKE, "--benchmarks=demo", "-k", "add or sub", "--k=2",
            f"--template={template}"]
    pytester.runpytest(*args).assert_outcomes(passed=1, failed=1, deselected=8)
    sampled = summary(pytester.path)
    other_machine(monkeypatch)
    result = pytester.runpytest(*args, "--regrade")
    result.assert_outcomes(passed=1, failed=1, deselected=8)
    assert len(generate_calls(fake_engine_env)) == 1, "no engine in a regrade"
    regraded = summary(pytester.path)
    assert regraded["store"]["generation"] == sampled["store"]["generation"]
    assert regraded["provenance"]["engine"]["version"] == sampled["provenance"]["engine"]["version"]
    result.stdout.fnmatch_lines([f"*--regrade: the samples of run {sampled['run_id']}*"])


def test_regrade_with_settings_no_run_recorded_is_an_error_naming_them(
        pytester, fake_engine_env):
    pytester.runpytest(*SUITE, *FAKE, "--benchmarks=demo", "-k", "add", "--k=2")
    result = pytester.runpytest(*SUITE, *FAKE, "--benchmarks=demo", "-k", "add", "--k=2",
                                "--temperature=0.3", "--regrade")
    result.assert_outcomes(errors=1, deselected=9)
    result.stdout.fnmatch_lines(["*--regrade: no run recorded in *reports* sampled with these "
                                 "settings*temperature*"])


@pytest.mark.slow
def test_regrade_of_a_server_run_with_no_server_listening(pytester, monkeypatch):
    args = [*SUITE, "--engine=openai", "--model=served-model", "--benchmarks=demo", "--limit=2",
            "--k=2", "--max-tokens=8", "--retries=0", "-p", "no:cacheprovider"]
    with FakeOpenAIServer() as server:
        url = server.url
        first = pytester.runpytest_subprocess(*args, f"--base-url={url}")
    first.assert_outcomes(failed=2)  # the scripted server answers 4 to everything
    sampled = summary(pytester.path)
    # the server is gone: nothing listens at its URL any more
    second = pytester.runpytest_subprocess(*args, f"--base-url={url}", "--regrade")
    second.assert_outcomes(failed=2)
    assert summary(pytester.path)["store"]["generation"] == sampled["store"]["generation"]


@pytest.mark.slow
def test_regrade_diff_and_perplexity_read_the_record_not_the_engine(
        pytester, fake_engine_env, monkeypatch, tmp_path):
    """regrade-diff already read the record (kept as a regression test); perplexity of a
    base-model code run (stop sequences in the prompt key) was refused as a changed prompt."""
    from fixtures.fake_scorer import FakeScorer

    monkeypatch.setattr(FakeScorer, "starts", [])
    monkeypatch.setattr(FakeScorer, "batches", [])
    monkeypatch.setenv("FAKE_ENGINE_SCRIPT", json.dumps({
        "humaneval/HumanEval/0": ["    return False\n"]}))
    pytester.runpytest_subprocess(*SUITE, *FAKE, "--benchmarks=humaneval", "--limit=1", "--k=1",
                                  "--template=completion", "--unsolved=xfail")
    other_machine(monkeypatch)
    monkeypatch.chdir(pytester.path)
    assert main(["regrade-diff", "latest", "--grading-workers=1"]) == 0
    base = tmp_path / "base-model"
    base.mkdir()
    (base / "config.json").write_text("{}")
    assert main(["perplexity", f"--model={base}", "--engine=fixtures.fake_scorer:FakeScorer",
                 "latest"]) == 0
    run = load_run("latest")
    scored = json.loads((run.path / "perplexity.json").read_text())
    assert [(s["problem_id"], s["index"]) for s in scored["samples"]] == [("HumanEval/0", 0)]


# -- two problems with the same prompt ---------------------------------------------------------


def test_identical_prompts_of_two_problems_have_distinct_prompt_keys():
    a = Problem("demo", "one", "What is 2 + 2?", "4", "t")
    b = Problem("demo", "two", "What is 2 + 2?", "4", "t")
    for name in ("qwen-boxed", "abel", "chat"):
        template = get_template(name)
        assert template.prompt_key(a, "tmpl") != template.prompt_key(b, "tmpl"), name
        # a problem loaded again (another object, the same fields) finds its stored rows
        again = Problem("demo", "one", "What is 2 + 2?", "4", "t")
        assert template.prompt_key(again, "tmpl") == template.prompt_key(a, "tmpl"), name
    # the chat template's source is part of the chat prompt's key (the model's own template)
    chat = get_template("chat")
    assert chat.prompt_key(a, "tmpl") != chat.prompt_key(a, "another template")


def test_identical_prompts_of_two_problems_get_rows_of_their_own(pytester, fake_engine_env,
                                                                 monkeypatch):
    data = pytester.mkdir("data")
    (data / "demo").mkdir()
    rows = [{"id": "one", "question": "What is 2 + 2?", "answer": "4"},
            {"id": "two", "question": "What is 2 + 2?", "answer": "4"}]
    (data / "demo" / "test.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    monkeypatch.setenv("FAKE_ENGINE_SCRIPT", json.dumps({"demo/one": ["\\boxed{4}"],
                                                         "demo/two": ["\\boxed{5}"]}))
    args = [*SUITE, *FAKE, "--benchmarks=demo", f"--data-dir={data}", "--k=2"]
    pytester.runpytest(*args).assert_outcomes(passed=1, failed=1)
    db = sqlite3.connect(str(pytester.path / "reports" / "completions.sqlite"))
    try:
        rows = db.execute("SELECT problem, count(*) FROM samples GROUP BY problem").fetchall()
    finally:
        db.close()
    assert sorted(rows) == [("demo/one", 2), ("demo/two", 2)]
    pytester.runpytest(*args).assert_outcomes(passed=1, failed=1)  # each reads its own rows
    assert len(generate_calls(fake_engine_env)) == 1
