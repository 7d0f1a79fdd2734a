"""Under xdist: shards of problems that balance across workers (each still sampled in one batch),
the controller's reports equal to a one-worker run's, and one engine per GPU (a fake engine that
declares local devices; the device arithmetic itself is in tests/test_devices.py)."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

import pytest

from capability_tests.plugin.xdist_support import scope_of
from capability_tests.shards import shard_map, shard_name
from fixtures.fake_engine import FAKE, SUITE, engine_log, generate_calls

GPU_FAKE = ["--engine=fixtures.fake_engine:GpuFakeEngine", "--model=fake/model", "-p", "no:cacheprovider"]


def test_a_capability_test_is_scheduled_by_its_shard_other_tests_as_before():
    shards = {"aime24/60": 3, "math500/test/algebra/1.json": 0}
    assert scope_of("suite/test_math.py::test_math[aime24/60]", shards) == shard_name(3)
    assert scope_of("test_math.py::test_math[math500/test/algebra/1.json]", shards) == shard_name(0)
    assert scope_of("test_x.py::test_y[a-b]@grp", shards) == "grp"
    assert scope_of("test_x.py::test_y[other/1]", shards) == "test_x.py::test_y[other/1]"


@pytest.mark.slow
def test_workers_sample_whole_shards_that_mix_benchmarks(pytester, fake_engine_env,
                                                         shared_benchmarks):
    result = pytester.runpytest_subprocess(
        *SUITE, *FAKE, f"--data-dir={shared_benchmarks}", "--benchmarks=aime24,amc23,gsm8k",
        "--limit=3", "--k=2", "-n", "2", "--junitxml=junit.xml",
    )
    result.assert_outcomes(failed=9)
    assert "a --dist other than loadgroup" not in "\n".join(result.outlines + result.errlines)
    calls = generate_calls(fake_engine_env)
    keys = [key for call in calls for key in call["keys"]]
    problems = [f"{b}/{i}" for b, ids in
                {"aime24": (60, 61, 62), "amc23": (0, 1, 2), "gsm8k": (0, 1, 2)}.items()
                for i in ids]
    assert sorted(keys) == sorted(problems), "every selected problem sampled once, in all"
    # The shards the scheduler and the workers compute: 9 problems, 2 workers -> 8 shards,
    # problem j in shard j mod 8; each shard is one submission on one worker.
    shards = shard_map([f"test_math.py::test_math[{p}]" for p in problems], 2)
    expected = {}
    for problem, shard in shards.items():
        expected.setdefault(shard, []).append(problem)
    assert sorted(sorted(c["keys"]) for c in calls) == sorted(sorted(v) for v in expected.values())
    assert expected[0] == ["aime24/60", "gsm8k/2"], "a shard mixes benchmarks"
    assert {c["worker"] for c in calls} == {"gw0", "gw1"}, "the shards spread over both workers"
    summary = json.loads((pytester.path / "reports" / "summary.json").read_text())
    assert sorted(summary["benchmarks"]) == ["aime24", "amc23", "gsm8k"]
    assert all(b["problems"] == 3 for b in summary["benchmarks"].values())


def _counts(path):
    out = {}
    for case in ET.parse(path).getroot().iter("testcase"):
        props = {p.get("name"): p.get("value") for p in case.iter("property")}
        out[props["problem_id"]] = (int(props["n"]), int(props["correct"]))
    return out


@pytest.mark.slow
def test_the_controllers_reports_equal_a_one_worker_runs(pytester, fake_engine_env, monkeypatch):
    """Same problems, same seeds, same (scripted) samples: -n 2 reports what a serial run does."""
    script = {"demo/add": ["\\boxed{19}", "no"], "demo/sub": ["\\boxed{27}"],
              "demo/mul": ["no", "no", "\\boxed{42}"], "demo/div": ["\\boxed{1}"]}
    monkeypatch.setenv("FAKE_ENGINE_SCRIPT", json.dumps(script))
    reports = {}
    for name, extra in (("serial", []), ("xdist", ["-n", "2"])):
        result = pytester.runpytest_subprocess(
            *SUITE, *FAKE, "--benchmarks=demo", "--k=4", "--store=none", "--unsolved=xfail",
            f"--report-dir=reports-{name}", f"--junitxml=junit-{name}.xml", *extra)
        assert result.ret == 0, result.stdout.str()
        summary = json.loads((pytester.path / f"reports-{name}" / "summary.json").read_text())
        reports[name] = (summary["benchmarks"], _counts(pytester.path / f"junit-{name}.xml"))
    assert reports["xdist"] == reports["serial"]
    benchmarks, counts = reports["serial"]
    assert counts["add"] == (4, 2) and counts["sub"] == (4, 4) and counts["mul"] == (4, 1)
    assert 0 < benchmarks["demo"]["pass_at_k"]["1"] < 1


@pytest.mark.slow
def test_workers_sample_before_their_first_test_not_inside_it(pytester, fake_engine_env,
                                                              monkeypatch):
    """Under -n 2 a worker samples its shard just before the shard's first test runs, outside
    the test's phases: JUnit durations stay the tests' own."""
    delay = 0.2
    monkeypatch.setenv("FAKE_ENGINE_DELAY", str(delay))
    result = pytester.runpytest_subprocess(*SUITE, *FAKE, "--benchmarks=demo", "--k=3",
                                           "--store=none", "--unsolved=xfail", "-n", "2",
                                           "--junitxml=junit.xml")
    assert result.ret == 0, result.stdout.str()
    cases = [float(case.get("time")) for case in
             ET.parse(pytester.path / "junit.xml").getroot().iter("testcase")]
    assert len(cases) == 10
    sampling = 10 * 3 * delay  # every sample, spread over the shards
    assert sum(cases) < 0.5 * sampling, cases  # the tests' own time only (a loaded machine
    # can stretch one test's setup past a second: compare the sum, not one shard's batch)
    assert len(generate_calls(fake_engine_env)) == 8  # 10 problems, 2 workers: 8 shards


@pytest.mark.slow
def test_each_worker_gets_its_own_visible_gpu(pytester, fake_engine_env, monkeypatch):
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "5,7")
    result = pytester.runpytest_subprocess(*SUITE, *GPU_FAKE, "--benchmarks=demo", "--k=1",
                                           "--store=none", "--unsolved=xfail", "-n", "auto")
    assert result.ret == 0, result.stdout.str()
    starts = [e for e in engine_log(fake_engine_env) if e["event"] == "start"]
    assert {e["worker"]: e["devices"] for e in starts} == {"gw0": "5", "gw1": "7"}, \
        "-n auto: one worker per visible GPU, worker i on the i-th"


@pytest.mark.slow
def test_tensor_parallelism_gives_each_worker_a_group_of_gpus(pytester, fake_engine_env,
                                                               monkeypatch):
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "4,5,6,7")
    result = pytester.runpytest_subprocess(*SUITE, *GPU_FAKE, "--benchmarks=demo", "--k=1",
                                           "--store=none", "--unsolved=xfail", "-n", "2",
                                           "--engine-arg", "tensor_parallel_size=2")
    assert result.ret == 0, result.stdout.str()
    starts = [e for e in engine_log(fake_engine_env) if e["event"] == "start"]
    assert {e["worker"]: e["devices"] for e in starts} == {"gw0": "4,5", "gw1": "6,7"}


@pytest.mark.parametrize("visible, extra, message", [
    ("0", ["-n", "2"], "-n 2: each xdist worker runs its own engine on its own GPU, which needs 2"),
    ("0,1", ["-n", "2", "--engine-arg", "tensor_parallel_size=2"], "needs 2 x 2 GPUs"),
])
def test_more_engines_than_gpus_is_a_usage_error_naming_n(pytester, fake_engine_env,
                                                          monkeypatch, visible, extra, message):
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", visible)
    result = pytester.runpytest_subprocess(*SUITE, *GPU_FAKE, "--benchmarks=demo", *extra)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert message in "\n".join(result.errlines), result.errlines
    assert engine_log(fake_engine_env) == []


@pytest.mark.slow
def test_without_a_visible_gpu_workers_stay_as_they_are(pytester, fake_engine_env, monkeypatch):
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")  # none visible (as on a machine without GPUs)
    result = pytester.runpytest_subprocess(*SUITE, *GPU_FAKE, "--benchmarks=demo", "--k=1",
                                           "--store=none", "--unsolved=xfail", "-n", "2")
    assert result.ret == 0, result.stdout.str()
    starts = [e for e in engine_log(fake_engine_env) if e["event"] == "start"]
    assert len(starts) == 2 and all(e["devices"] == "" for e in starts)  # untouched
