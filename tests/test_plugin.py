"""The pytest plugin, driven through pytester with the scripted fake engine (fixtures/fake_engine.py).

The real engine runs in tests/test_e2e_engines.py; here we check collection, selection, batching,
JUnit properties, reports and usage errors, which do not depend on which engine samples.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

import pytest

from capability_tests.reporting.summary import SCHEMA_VERSION
from fixtures.fake_engine import FAKE, SUITE, engine_log, generate_calls, result_of
from fixtures.paths import TEST_DATA


def test_ids_markers_and_no_engine_at_collection(pytester, fake_engine_env):
    result = pytester.runpytest(*SUITE, *FAKE, "--benchmarks=demo", "--collect-only", "-q")
    assert result.ret == 0
    result.stdout.fnmatch_lines(["*test_math.py::test_math[[]demo/add[]]", "10 tests collected*"])
    assert engine_log(fake_engine_env) == [], "--collect-only must not start an engine"


def test_selected_problems_go_to_engine_in_one_submission(pytester, fake_engine_env, monkeypatch):
    monkeypatch.setenv(
        "FAKE_ENGINE_SCRIPT",
        json.dumps({"demo/add": ["so \\boxed{19}", "no idea", "\\boxed{19}", "\\boxed{20}"]}),
    )
    result = pytester.runpytest(
        *SUITE, *FAKE, "--benchmarks=demo", "--k", "4", "-k", "add or sub or mul",
        "--junitxml=junit.xml", "--max-tokens=77", "--temperature=0.3",
    )
    result.assert_outcomes(passed=1, failed=2, deselected=7)
    calls = generate_calls(fake_engine_env)
    assert len(calls) == 1, "one batched submission for all selected problems"
    assert calls[0]["keys"] == ["demo/add", "demo/sub", "demo/mul"]
    assert (calls[0]["n"], calls[0]["max_tokens"], calls[0]["temperature"]) == (4, 77, 0.3)
    assert "What is 12 + 7?" in calls[0]["prompts"][0]
    assert "\\boxed{}" in calls[0]["prompts"][0], "the default qwen-boxed template asks for a box"
    starts = [e for e in engine_log(fake_engine_env) if e["event"] == "start"]
    assert len(starts) == 1 and starts[0]["seed"] == 0

    cases = ET.parse(pytester.path / "junit.xml").getroot().iter("testcase")
    props = {
        case.get("name"): {p.get("name"): p.get("value") for p in case.iter("property")}
        for case in cases
    }
    assert props["test_math[demo/add]"]["n"] == "4"
    assert props["test_math[demo/add]"]["correct"] == "2"
    assert props["test_math[demo/sub]"]["correct"] == "0"
    assert props["test_math[demo/add]"]["benchmark"] == "demo"
    assert props["test_math[demo/add]"]["problem_id"] == "add"

    summary = json.loads((pytester.path / "reports" / "summary.json").read_text())
    assert summary["schema"] == SCHEMA_VERSION
    assert summary["run"]["k"] == 4 and summary["run"]["model"] == "fake/model"
    demo = summary["benchmarks"]["demo"]
    assert demo["problems"] == 3 and demo["n"] == 4
    # per problem c = 2, 0, 0 of n = 4: pass@1 = 2/12, pass@2 = (1 - C(2,2)/C(4,2)) / 3
    assert demo["pass_at_k"]["1"] == pytest.approx(2 / 12)
    assert demo["pass_at_k"]["2"] == pytest.approx((1 - 1 / 6) / 3)
    assert demo["pass_at_k"]["4"] == pytest.approx(1 / 3)
    result.stdout.fnmatch_lines(["*pass@k*", "demo*3*4*16.7%*27.8%*33.3%*"])
    assert "| demo | 3 | 4 |" in (pytester.path / "reports" / "summary.md").read_text()


def test_marker_and_keyword_selection(pytester, fake_engine_env, small_benchmarks):
    data = f"--data-dir={small_benchmarks}"
    result = pytester.runpytest(
        *SUITE, *FAKE, data, "--benchmarks=study", "-m", "math500", "-k", "level5",
        "--limit=20", "--collect-only", "-q",
    )
    ids = [line for line in result.stdout.lines if "test_math[" in line]
    assert ids and all("[math500/" in line for line in ids)
    # without --benchmarks, -k aime24 loads aime24 alone (selection.py): nothing to deselect
    result = pytester.runpytest(*SUITE, *FAKE, data, "-k", "aime24", "--limit=5", "--k=2")
    result.assert_outcomes(failed=5)
    calls = generate_calls(fake_engine_env)
    assert len(calls) == 1 and len(calls[0]["keys"]) == 5
    assert all(key.startswith("aime24/") for key in calls[0]["keys"])


@pytest.mark.slow
def test_unsolved_can_be_xfail_and_min_correct(pytester, fake_engine_env, monkeypatch):
    monkeypatch.setenv("FAKE_ENGINE_SCRIPT", json.dumps({"demo/add": ["\\boxed{19}", "x"]}))
    result = pytester.runpytest(
        *SUITE, *FAKE, "--benchmarks=demo", "-k", "add or sub", "--k=2", "--unsolved=xfail"
    )
    result.assert_outcomes(passed=1, xfailed=1, deselected=8)
    result = pytester.runpytest(
        *SUITE, *FAKE, "--benchmarks=demo", "-k", "add", "--k=2", "--min-correct=2"
    )
    result.assert_outcomes(failed=1, deselected=9)
    result.stdout.fnmatch_lines(["*demo/add: 1 of 2 samples correct (need 2)*"])


def test_bad_rows_fail_alone_and_never_reach_engine(pytester, fake_engine_env):
    broken = TEST_DATA / "benchmarks" / "broken"
    result = pytester.runpytest(*SUITE, *FAKE, f"--data-dir={broken}", "--benchmarks=aime24", "--k=1")
    result.assert_outcomes(failed=2, errors=4)
    result.stdout.fnmatch_lines(["*aime24.jsonl:2: not valid JSON*"])
    calls = generate_calls(fake_engine_env)
    assert len(calls) == 1 and calls[0]["keys"] == ["aime24/1", "aime24/6"]
    summary = json.loads((pytester.path / "reports" / "summary.json").read_text())
    assert summary["benchmarks"]["aime24"]["problems"] == 2
    assert summary["benchmarks"]["aime24"]["errors"] == 4


def test_engine_start_failure_is_each_tests_error(pytester, fake_engine_env):
    result = pytester.runpytest(
        *SUITE, "--engine=fixtures.fake_engine:BrokenEngine", "--model=fake/model", "--benchmarks=demo",
        "-k", "add or sub",
    )
    result.assert_outcomes(errors=2, deselected=8)
    result.stdout.fnmatch_lines(["*sampling failed: RuntimeError: no GPU with 80 GiB here*"])
    starts = [e for e in engine_log(fake_engine_env) if e["event"] == "start-failed"]
    assert len(starts) == 1, "a failed start is not retried for every test"


@pytest.mark.parametrize(
    "args, message",
    [
        (["--k", "0"], "argument --k: must be at least 1"),
        (["--k", "abc"], "argument --k: expected a whole number"),
        (["--temperature=-0.1"], "argument --temperature: must be >= 0"),
        (["--top-p=0"], "argument --top-p: must be in (0, 1]"),
        (["--template=alpaca"], "argument --template: unknown template 'alpaca'"),
        (["--model=./no/such/ckpt"], "--model=./no/such/ckpt: no such file or folder"),
        (["--model=missing.gguf"], "--model=missing.gguf: no such .gguf file"),
        (["--data-dir=nowhere"], "--data-dir=nowhere: no such folder"),
        (["--benchmarks=aime25"], "--benchmarks: unknown benchmark 'aime25'"),
        (["--engine=tgi"], "--engine: unknown engine 'tgi'"),
        (["--engine-arg=nokey"], "argument --engine-arg: expected KEY=VALUE"),
    ],
)
def test_usage_errors_name_the_option(pytester, fake_engine_env, args, message):
    result = pytester.runpytest(*SUITE, "--benchmarks=demo", *args)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    text = "\n".join(result.errlines + result.outlines)
    assert message in text
    assert "Traceback" not in text and "collected" not in text
    assert engine_log(fake_engine_env) == []


def _one_usage_error(result, *expected: str) -> None:
    """Exit status 4, one `ERROR:` line that says it all, no traceback, nothing collected."""
    text = "\n".join(result.errlines + result.outlines)
    assert result.ret == pytest.ExitCode.USAGE_ERROR, text
    errors = [line for line in text.splitlines() if line.startswith("ERROR:")]
    assert len(errors) == 1, text
    for part in expected:
        assert part in errors[0], text
    assert "Traceback" not in text and "error during collection" not in text
    assert "collected" not in text


def test_missing_data_file_is_a_usage_error_before_collection(pytester, fake_engine_env):
    data = pytester.mkdir("data")
    (data / "aime24").mkdir()
    (data / "aime24" / "test.jsonl").write_text('{"id": 1, "problem": "1+1?", "answer": "2"}\n')
    for extra in ([], ["-n", "2"]):
        result = pytester.runpytest(*SUITE, *FAKE, "--data-dir=data", "--benchmarks=aime24,amc23",
                                    *extra)
        _one_usage_error(result, "benchmark 'amc23'", f"--data-dir={data}",
                         str(data / "amc23" / "test.jsonl"), "put the file there")
    assert engine_log(fake_engine_env) == []


def test_unreadable_data_file_is_a_usage_error(pytester, fake_engine_env):
    data = pytester.mkdir("data")
    (data / "aime24").mkdir()
    (data / "aime24" / "test.jsonl").write_bytes(b'{"id": 1}\n\xff\xfe not text\n')
    result = pytester.runpytest(*SUITE, *FAKE, "--data-dir=data", "--benchmarks=aime24",
                                "--collect-only")
    _one_usage_error(result, f"cannot read {data / 'aime24' / 'test.jsonl'}", "not UTF-8 text")


def test_hub_dataset_unreachable_offline_is_a_usage_error(pytester, fake_engine_env, monkeypatch):
    """No --data-dir: the Hub, offline (HF_DATASETS_OFFLINE=1) with an empty cache."""
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(pytester.path / "hf-home"))
    monkeypatch.setenv("HF_DATASETS_CACHE", str(pytester.path / "hf-home" / "datasets"))
    result = pytester.runpytest_subprocess(*SUITE, *FAKE, "--benchmarks=aime24", "--k=1")
    _one_usage_error(result, "benchmark 'aime24'", "HuggingFaceH4/aime_2024",
                     "HF_DATASETS_OFFLINE", "pass --data-dir=DIR with aime24/test.jsonl")
    assert engine_log(fake_engine_env) == []


def test_model_folder_without_config_is_refused(pytester, fake_engine_env):
    pytester.mkdir("notamodel")
    result = pytester.runpytest(*SUITE, "--model=notamodel")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert "not a Hugging Face model folder (no config.json)" in "\n".join(result.errlines)


def test_model_path_after_space_that_moves_rootdir_is_refused(pytester, fake_engine_env):
    ckpt = pytester.mkdir("ckpt")
    (ckpt / "config.json").write_text("{}")
    (ckpt / "pytest.ini").write_text("[pytest]\n")
    result = pytester.runpytest(*SUITE, "--model", "ckpt", "--benchmarks=demo")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert "write --model=ckpt (with '=')" in "\n".join(result.errlines)


def test_model_path_after_space_is_fine_when_setup_is_unchanged(pytester, fake_engine_env):
    pytester.makeini("[pytest]\n")
    ckpt = pytester.mkdir("ckpt")
    (ckpt / "config.json").write_text("{}")
    result = pytester.runpytest(
        *SUITE, "--model", "ckpt", "--benchmarks=demo", "--engine=fixtures.fake_engine:FakeEngine",
        "-k", "add", "--k=1",
    )
    result.assert_outcomes(failed=1, deselected=9)
    starts = [e for e in engine_log(fake_engine_env) if e["event"] == "start"]
    assert starts[0]["model"].endswith("ckpt")


def test_a_moved_pytest_internal_is_a_clear_usage_error_not_an_internal_error(
        pytester, fake_engine_env, monkeypatch):
    """The --model PATH check uses pytest's private determine_setup: if an upgrade moves it, the
    user gets a message that names the fix."""
    import _pytest.config.findpaths as findpaths

    pytester.makeini("[pytest]\n")
    (pytester.mkdir("ckpt") / "config.json").write_text("{}")
    monkeypatch.delattr(findpaths, "determine_setup")
    result = pytester.runpytest(*SUITE, "--model", "ckpt", "--benchmarks=demo")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    err = "\n".join(result.errlines)
    assert "write --model=ckpt (with '=')" in err and "no longer offers" in err
    assert "INTERNALERROR" not in err + "\n".join(result.outlines)


def test_a_moved_junit_writer_warns_and_the_run_goes_on(monkeypatch):
    import sys
    import types

    from capability_tests.plugin.collector import junit_xml

    class Config:
        stash: dict = {}

        def getoption(self, name, default=None):
            return "junit.xml" if name == "xmlpath" else default

    monkeypatch.setitem(sys.modules, "_pytest.junitxml", types.ModuleType("_pytest.junitxml"))
    with pytest.warns(pytest.PytestWarning, match="lacks the suite's capability_\\* properties"):
        assert junit_xml(Config()) is None


def test_digits_only_keyword_warns_about_k(pytester, fake_engine_env):
    result = pytester.runpytest(*SUITE, *FAKE, "--benchmarks=demo", "-k", "128", "--collect-only")
    result.stdout.fnmatch_lines(["*-k 128 is pytest's keyword filter*write --k 128*"])


def test_header_shows_k_and_sampling(pytester, fake_engine_env):
    result = pytester.runpytest(*SUITE, *FAKE, "--benchmarks=demo", "--k=16", "--collect-only")
    result.stdout.fnmatch_lines(["capability-tests: model=fake/model engine=* k=16 temperature=0.6*"])


def test_plugin_import_pulls_no_engine():
    """--help and --collect-only stay fast: importing the plugin imports no torch, vLLM or
    datasets."""
    import subprocess
    import sys

    code = (
        "import sys, capability_tests.plugin, capability_tests.grading;"
        "heavy = {'torch', 'vllm', 'transformers', 'datasets'} & set(sys.modules);"
        "print(sorted(heavy)); sys.exit(1 if heavy else 0)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr


def test_console_command_runs_suite_from_any_directory(pytester, fake_engine_env):
    from capability_tests.cli import main

    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(pytester.path)
        code = main(["run", *FAKE, "--benchmarks=demo", "-k", "add", "--k=1", "-q"])
    assert code == pytest.ExitCode.TESTS_FAILED
    assert generate_calls(fake_engine_env)[0]["keys"] == ["demo/add"]


def test_progress_shows_samples_tokens_rate_and_eta(tmp_path, capsys, monkeypatch):
    """On a terminal (progress=True) the sampling run draws samples done of total, tokens/s and
    the ETA; the plugin turns progress off when output is not a terminal or with -q."""
    from capability_tests.benchmarks import load_problems
    from capability_tests.config import RunConfig
    from capability_tests.sampling import SamplingCoordinator
    from fixtures.fake_engine import FakeEngine

    monkeypatch.delenv("FAKE_ENGINE_LOG", raising=False)
    problems = load_problems("demo")[:3]
    run = SamplingCoordinator(
        RunConfig(model="fake/model", k=4, benchmarks=("demo",), store=None),
        log=lambda message: None, progress=True, grading_workers=0,
        engine_factory=lambda name, settings: FakeEngine(settings),
    )
    result = result_of(run, problems[0], problems)
    run.close()
    assert result.n == 4
    err = capsys.readouterr().err
    assert "sampling" in err and "12/12" in err and "tokens/s" in err and "<00:00" in err


@pytest.mark.slow
def test_grading_in_process_and_in_pool_agree(pytester, fake_engine_env, monkeypatch):
    monkeypatch.setenv("FAKE_ENGINE_SCRIPT", json.dumps(
        {"demo/add": ["\\boxed{19}", "19"], "demo/fraction": ["\\boxed{0.75}", "\\boxed{\\dfrac34}"]}))
    reports = {}
    for workers in ("0", "2"):
        result = pytester.runpytest(*SUITE, *FAKE, "--benchmarks=demo", "--k=2", "--store=none",
                                    f"--grading-workers={workers}", "--unsolved=xfail")
        assert result.ret == 0
        reports[workers] = json.loads((pytester.path / "reports" / "summary.json").read_text())
    assert reports["0"]["benchmarks"] == reports["2"]["benchmarks"]
    assert reports["0"]["benchmarks"]["demo"]["pass_at_k"]["1"] == pytest.approx(3 / 20)


def test_sampling_is_a_phase_of_its_own_not_a_tests_setup(pytester, fake_engine_env, monkeypatch):
    """Serial run with a slow engine: sampling happens between collection and the first test, so
    no single JUnit testcase holds most of the session's time."""
    monkeypatch.setenv("FAKE_ENGINE_DELAY", "0.05")  # 10 problems x 3 samples: 1.5 s of sampling
    result = pytester.runpytest(*SUITE, *FAKE, "--benchmarks=demo", "--k=3", "--store=none",
                                "--unsolved=xfail", "--junitxml=junit.xml", "--durations=3")
    assert result.ret == 0
    suite = ET.parse(pytester.path / "junit.xml").getroot().find("testsuite")
    cases = [float(case.get("time")) for case in suite.iter("testcase")]
    assert len(cases) == 10
    session = float(suite.get("time"))
    sampling = 10 * 3 * 0.05  # the engine's sleeps alone
    assert session >= sampling
    # no testcase holds the sampling (nor most of the session): each only reads its result
    assert max(cases) < 0.5 * sampling and max(cases) < 0.5 * session, (cases, session)
    assert sum(cases) < 0.5 * sampling, (cases, session)
    text = result.stdout.str()
    assert "capability-tests: sampling 10 problems" in text
    # the sampling phase comes before the first test's line
    assert text.index("capability-tests: sampling 10 problems") < text.index("test_math.py")


def test_collect_only_and_setup_plan_never_sample(pytester, fake_engine_env):
    for plan in ("--collect-only", "--setup-plan"):
        result = pytester.runpytest(*SUITE, *FAKE, "--benchmarks=demo", plan, "-q")
        assert result.ret == 0
        assert "capability-tests: sampling" not in result.stdout.str()
    assert engine_log(fake_engine_env) == []


@pytest.mark.slow
def test_ctrl_c_during_sampling_keeps_samples_and_writes_incomplete_report(
        pytester, fake_engine_env, monkeypatch):
    """A KeyboardInterrupt from the engine after 5 samples (problems add and sub complete at
    k=2, mul has one): every received sample is stored, the report covers the finished problems
    and says the run is incomplete."""
    import sqlite3

    monkeypatch.setenv("FAKE_ENGINE_INTERRUPT_AFTER", "5")
    monkeypatch.setenv("FAKE_ENGINE_SCRIPT", json.dumps({"demo/add": ["\\boxed{19}"]}))
    result = pytester.runpytest_subprocess(*SUITE, *FAKE, "--benchmarks=demo", "--k=2",
                                           "--grading-workers=0")
    assert result.ret == 7  # stopped during sampling, incomplete (docs/RELIABILITY.md)
    text = result.stdout.str() + result.stderr.str()
    assert "KeyboardInterrupt" in text
    assert "incomplete run" in text
    db = sqlite3.connect(str(pytester.path / "reports" / "completions.sqlite"))
    try:
        rows = db.execute("SELECT problem, idx FROM samples ORDER BY problem, idx").fetchall()
    finally:
        db.close()
    assert rows == [("demo/add", 0), ("demo/add", 1), ("demo/mul", 0), ("demo/sub", 0),
                    ("demo/sub", 1)]
    summary = json.loads((pytester.path / "reports" / "summary.json").read_text())
    assert summary["complete"] is False
    assert summary["benchmarks"]["demo"]["problems"] == 2
    assert summary["benchmarks"]["demo"]["pass_at_k"]["1"] == pytest.approx(0.5)
    run_folder = pytester.path / "reports" / summary["run_id"]
    samples = (run_folder / "samples.jsonl").read_text().splitlines()
    assert len(samples) == 4
    # the interrupted run's samples are reused: a rerun generates only the missing ones
    monkeypatch.delenv("FAKE_ENGINE_INTERRUPT_AFTER")
    again = pytester.runpytest_subprocess(*SUITE, *FAKE, "--benchmarks=demo", "--k=2",
                                          "--grading-workers=0")
    assert again.ret == pytest.ExitCode.TESTS_FAILED
    asked = generate_calls(fake_engine_env)[-1]["indices"]
    assert "demo/add" not in asked and "demo/sub" not in asked and asked["demo/mul"] == [1]
