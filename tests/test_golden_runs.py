"""The checked-in golden runs (fixtures/golden/) still load through the current code and give the
values their scripts make: the recorded-run API, `compare`, `regrade-diff` (no change against
the same grader), a `--regrade` session (the stored verdicts again) and `perplexity`. Each test
reads a copy in tmp_path: the runs moved from where they were recorded, as on another checkout.
Regenerate them with `PYTHONPATH=. python -m fixtures.golden.make_golden`."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from capability_tests.cli import main
from capability_tests.passk import pass_at_k
from capability_tests.reporting.recorded_runs import load_run
from capability_tests.store import CompletionStore
from fixtures.fake_engine import FAKE, SUITE, generate_calls
from fixtures.golden import CORRECT, MODELS, K, golden_copy, texts_of


@pytest.fixture
def golden(tmp_path):
    return golden_copy(tmp_path / "elsewhere")


def expected_pass_at_k(name: str, k: int) -> float:
    counts = CORRECT[name].values()
    return sum(pass_at_k(K, c, k) for c in counts) / len(counts)


def summary(run: Path) -> dict:
    return json.loads((run / "summary.json").read_text())


@pytest.mark.parametrize("name", ["baseline", "candidate"])
def test_a_golden_run_reads_back_its_results_record_and_texts(golden, name):
    run = load_run(golden.run(name))
    document = summary(golden.run(name))
    assert run.model == MODELS[name] and run.complete
    assert {r.problem_id: (r.n, r.correct) for r in run.results} == {
        pid: (K, c) for pid, c in CORRECT[name].items()}
    for k in (1, 2, 4, 8):
        assert document["benchmarks"]["demo"]["pass_at_k"][str(k)] == pytest.approx(
            expected_pass_at_k(name, k))
    assert run.generation_key() == document["store"]["generation"]
    assert (run.path / "generation.json").is_file(), "a compact per-problem record"
    digests = run.prompt_digests()
    assert set(digests) == {f"demo/{pid}" for pid in CORRECT[name]} and len(set(digests.values())) == 10
    assert not Path(document["store"]["path"]).exists(), "recorded where it no longer is"
    assert run.store_path() == golden.store, "found beside the moved run folder"
    store = CompletionStore(run.store_path())
    try:
        texts = {(key, i): text for key, i, text in run.samples(store)}
    finally:
        store.close()
    assert texts == {(key, i): text for key in run.prompt_digests()
                     for i, text in enumerate(texts_of(name, key))}


def test_compare_shows_the_recorded_pass_at_k_and_the_crossover(golden, capsys):
    out = golden.reports.parent / "cmp"
    assert main(["compare", str(golden.baseline), str(golden.candidate), "-o", str(out),
                 "--resamples", "200", "--no-plot"]) == 0
    printed = capsys.readouterr().out
    doc = json.loads((out / "compare.json").read_text())
    demo = doc["benchmarks"]["demo"]
    for name, row in zip(("baseline", "candidate"), demo["runs"]):
        assert row["model"] == MODELS[name] and row["n"] == K and row["problems"] == 10
        assert row["pass_at_k"] == pytest.approx(
            summary(golden.run(name))["benchmarks"]["demo"]["pass_at_k"])
    assert "| fake/base | 10 | 8 | 67.5% [" in printed
    assert "| fake/candidate | 10 | 8 | 21.2% [" in printed and "| 100.0% [100.0, 100.0] |" in printed
    (pair,) = demo["pairs"]
    assert (pair["crossover"]["k"], pair["crossover"]["leader"]) == (7, golden.baseline.name)
    assert "fake/candidate overtakes fake/base at k = 7" in printed
    assert pair["coverage"]["b_only"] == ["fraction", "linear"] and pair["coverage"]["a_only"] == []
    assert doc["setting_differences"][0]["differences"] == []
    assert "data_differences" not in doc["setting_differences"][0]


def test_the_same_data_read_from_another_checkout_is_no_data_difference(golden, capsys):
    """A packaged benchmark's recorded source is the file's path in the checkout that ran it; the
    same file (same sha256) in another checkout is the same data."""
    document = summary(golden.baseline)
    for where in (document["data"]["demo"], document["provenance"]["data"]["demo"]):
        where["source"] = "/another/checkout/capability_tests/data/demo/test.jsonl"
    (golden.baseline / "summary.json").write_text(json.dumps(document))
    out = golden.reports.parent / "cmp"
    assert main(["compare", str(golden.baseline), str(golden.candidate), "-o", str(out),
                 "--resamples", "50", "--no-plot"]) == 0
    assert "DATA DIFFERS" not in capsys.readouterr().out
    assert "data_differences" not in json.loads((out / "compare.json").read_text())[
        "setting_differences"][0]


@pytest.mark.parametrize("name", ["baseline", "candidate"])
def test_regrade_diff_against_the_same_grader_changes_nothing(golden, name, capsys):
    before = golden.store.read_bytes()
    out_json = golden.reports.parent / "diff.json"
    assert main(["regrade-diff", str(golden.run(name)), "--grading-workers=1",
                 f"--json={out_json}"]) == 0
    assert f"{10 * K} samples regraded, 0 changed" in capsys.readouterr().out
    diff = json.loads(out_json.read_text())
    assert diff["changes"] == []
    pass1 = next(row for row in diff["pass_at_k"]["demo"] if row["k"] == 1)
    assert pass1["old"] == pass1["new"] == pytest.approx(expected_pass_at_k(name, 1))
    assert golden.store.read_bytes() == before, "a diff writes nothing to the store"


def test_regrade_diff_names_the_store_it_cannot_find_and_takes_one_given(golden, capsys):
    moved = golden.reports.parent / "stores" / "golden.sqlite"
    moved.parent.mkdir()
    shutil.move(golden.store, moved)
    assert main(["regrade-diff", str(golden.baseline), "--grading-workers=1"]) == 2
    assert "not found: pass --store=PATH" in capsys.readouterr().err
    assert main(["regrade-diff", str(golden.baseline), "--grading-workers=1",
                 f"--store={moved}"]) == 0
    assert f"{10 * K} samples regraded, 0 changed" in capsys.readouterr().out


def test_a_regrade_session_reproduces_the_stored_verdicts(pytester, fake_engine_env, golden):
    recorded = summary(golden.baseline)
    verdicts = (golden.baseline / "samples.jsonl").read_text().splitlines()
    result = pytester.runpytest_subprocess(
        *SUITE, *[a for a in FAKE if not a.startswith("--model")], f"--model={MODELS['baseline']}",
        "--benchmarks=demo", f"--k={K}", f"--report-dir={golden.reports}", "--regrade",
        "--unsolved=xfail")
    result.assert_outcomes(passed=8, xfailed=2)
    assert generate_calls(fake_engine_env) == [], "no engine in a regrade"
    result.stdout.fnmatch_lines([f"*--regrade: the samples of run {golden.baseline.name}*"])
    regraded = json.loads((golden.reports / "summary.json").read_text())
    assert regraded["run_id"] != recorded["run_id"]
    assert regraded["benchmarks"]["demo"]["pass_at_k"] == recorded["benchmarks"]["demo"]["pass_at_k"]
    assert regraded["store"]["generation"] == recorded["store"]["generation"]

    def verdict(line: str) -> tuple:
        r = json.loads(line)
        return r["problem_id"], r["index"], r["extracted"], r["correct"], r["outcome"], r["prompt"]

    again = (golden.reports / regraded["run_id"] / "samples.jsonl").read_text().splitlines()
    assert [verdict(line) for line in again] == [verdict(line) for line in verdicts]
