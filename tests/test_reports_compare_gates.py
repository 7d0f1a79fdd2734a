"""Comparison (crossover, coverage sets) and CI gates on recorded results, without pytest runs."""

import argparse
from pathlib import Path

import pytest

from capability_tests.reporting.bootstrap import BootstrapSettings
from capability_tests.reporting.compare import Paired, compare_runs, coverage, crossover, markdown
from capability_tests.reporting.curves import compute_curves
from capability_tests.reporting.gates import (
    BaselineGate,
    baseline_ks,
    check_baseline,
    check_fail_under,
    fail_under,
    family_alpha,
    max_drop,
)
from capability_tests.reporting.recorded_runs import RecordedRun
from capability_tests.reporting.run_settings import (
    SAMPLING_SETTINGS,
    allowed_settings,
    difference_text,
    sampling_differences,
    setting_differences,
)
from capability_tests.results import ProblemResult

FAST = BootstrapSettings(resamples=400, seed=0)


def run(run_id, counts, benchmark="demo", model=None):
    results = [ProblemResult(benchmark, f"p{i:02d}", n, c) for i, (n, c) in enumerate(counts)]
    return RecordedRun(Path(run_id), {"run_id": run_id, "model": model or run_id, "complete": True}, results)


# A: half the problems always solved, the other half never: flat pass@k = 0.5.
# B: every problem solved by exactly 1 of 16 samples: pass@k = k/16, strictly above 0.5 from k = 9.
STEADY = run("steady", [(16, 16)] * 5 + [(16, 0)] * 5)
EXPLORER = run("explorer", [(16, 1)] * 10)


def test_planted_crossover_is_found_with_its_uncertainty():
    paired = Paired.of(STEADY.results, EXPLORER.results)
    cross = crossover(paired, FAST)
    assert cross["k"] == 9
    assert cross["leader"] == "a" and cross["trailer"] == "b"
    low, high = cross["interval"]
    assert low <= 9 <= (high or 17)
    assert low < 9  # resamples with fewer always-solved problems cross earlier
    assert cross["probability"] > 0.95


def test_no_crossover_when_one_run_dominates():
    better = run("better", [(16, 16)] * 10)
    cross = crossover(Paired.of(better.results, EXPLORER.results), FAST)
    assert cross["k"] is None and cross["leader"] == "a"
    assert cross["probability"] == 0.0 and cross["interval"] == [None, None]


def test_coverage_sets_at_k():
    paired = Paired.of(STEADY.results, EXPLORER.results)
    at_n = coverage(paired, 16)  # at k = n: any correct sample
    assert (len(at_n["a_only"]), len(at_n["b_only"]), len(at_n["both"]), len(at_n["neither"])) == (0, 5, 5, 0)
    at_1 = coverage(paired, 1)  # B's pass@1 = 1/16 < 0.5: unsolved at k = 1
    assert (len(at_1["a_only"]), len(at_1["b_only"]), len(at_1["both"]), len(at_1["neither"])) == (5, 0, 0, 5)
    assert "error" in coverage(paired, 32)


def test_pairs_only_common_problem_ids():
    short = run("short", [(16, 16)] * 3)
    paired = Paired.of(short.results, EXPLORER.results)
    assert paired.ids == ["p00", "p01", "p02"]


def test_comparison_document_and_markdown():
    result = compare_runs([STEADY, EXPLORER], at_k=16, settings=FAST)
    result.pop("_curves")
    pair = result["benchmarks"]["demo"]["pairs"][0]
    assert pair["crossover"]["k"] == 9
    assert pair["crossover"]["leader"] == "steady" and pair["crossover"]["trailer"] == "explorer"
    assert pair["difference"]["1"]["value"] == pytest.approx(0.5 - 1 / 16)
    text = markdown(result)
    assert "explorer overtakes steady at k = 9" in text
    assert "| explorer only | 5 |" in text


# -- gates ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("text,expected", [
    ("aime24:pass@1>=0.25", ("aime24", 1, ">=", 0.25)),
    ("math500: pass@8 > 60%", ("math500", 8, ">", 0.60)),
    ("*:pass@4>=.5", ("*", 4, ">=", 0.5)),
])
def test_fail_under_parses(text, expected):
    gate = fail_under(text)
    assert (gate.benchmark, gate.k, gate.op, gate.threshold) == expected


@pytest.mark.parametrize("text", ["aime24:pass@1<0.2", "aime24>=0.2", "aime24:pass@0>=0.1",
                                  "aime24:pass@1>=1.5", "aime24:pass@k>=0.2", ""])
def test_fail_under_rejects(text):
    with pytest.raises(argparse.ArgumentTypeError):
        fail_under(text)


def test_max_drop_parses():
    assert max_drop("0.05") == 0.05 and max_drop("5%") == pytest.approx(0.05)
    with pytest.raises(argparse.ArgumentTypeError):
        max_drop("lots")


def test_fail_under_messages():
    curves = compute_curves(STEADY.results, FAST)
    checks = check_fail_under([fail_under("demo:pass@1>=0.6"), fail_under("demo:pass@16>=50%"),
                               fail_under("aime24:pass@1>=0.1"), fail_under("demo:pass@32>=0.1")],
                              curves)
    assert [c["passed"] for c in checks] == [False, True, False, False]
    assert checks[0]["message"].startswith("demo pass@1 = 50.0% (95% CI [")
    assert "is below the threshold >= 60.0% (--fail-under demo:pass@1>=0.6)" in checks[0]["message"]
    assert "no results for benchmark 'aime24'" in checks[2]["message"]
    assert "fewer than k=32" in checks[3]["message"]


def test_baseline_fails_a_real_drop():
    baseline = run("base", [(8, 8)] * 40)
    current = run("cur", [(8, 8)] * 20 + [(8, 0)] * 20)
    checks = check_baseline(current.results, baseline, BaselineGate(ks=None, max_drop=0.05), FAST)
    assert [c["k"] for c in checks] == [1, 2, 4, 8]  # ks=None: every table k
    assert not any(c["passed"] for c in checks)
    assert all(c["tests"] == 4 and c["p_adjusted"] <= 0.05 for c in checks)
    message = checks[0]["message"]
    assert message.startswith("demo pass@1 = 50.0% vs baseline 100.0% (base, 40 paired problems)")
    assert "drop 50.0% > max-drop 5.0% and significant at family-wise alpha 0.05" in message
    assert "one-sided sign-flip p = 0.0" in message and "Holm-adjusted" in message


def test_baseline_tests_only_the_declared_ks():
    baseline = run("base", [(8, 8)] * 40)
    current = run("cur", [(8, 8)] * 20 + [(8, 0)] * 20)
    assert [c["k"] for c in check_baseline(current.results, baseline, BaselineGate(), FAST)] == [1]
    checks = check_baseline(current.results, baseline, BaselineGate(ks=(2, 8, 16)), FAST)
    assert [(c["k"], c["passed"]) for c in checks] == [(2, False), (8, False), (16, False)]
    assert "pass@16: cannot be checked" in checks[2]["message"] and "n=8" in checks[2]["message"]
    assert checks[0]["tests"] == 2  # Holm over the pairs that could be tested


def test_baseline_noise_sized_drop_passes_unless_rule_is_point():
    baseline = run("base", [(8, 4)] * 40)
    current = run("cur", [(8, 4)] * 39 + [(8, 0)])  # one problem got worse: a 1.25 point drop
    significant = check_baseline(current.results, baseline, BaselineGate(max_drop=0.01), FAST)
    assert significant[0]["drop"] == pytest.approx(0.0125)
    assert significant[0]["passed"] and "not significant" in significant[0]["message"]
    assert significant[0]["p_value"] == pytest.approx(0.5, abs=0.1)  # one flip in two
    point = check_baseline(current.results, baseline, BaselineGate(max_drop=0.01, rule="point"), FAST)
    assert not point[0]["passed"]
    within = check_baseline(current.results, baseline, BaselineGate(ks=None, max_drop=0.05), FAST)
    assert all(c["passed"] for c in within) and "within max-drop" in within[0]["message"]


def test_improvement_never_fails():
    baseline = run("base", [(8, 0)] * 40)
    current = run("cur", [(8, 8)] * 40)
    checks = check_baseline(current.results, baseline, BaselineGate(ks=None), FAST)
    assert all(c["passed"] and c["p_value"] == 1.0 for c in checks)


def test_benchmarks_missing_on_either_side_are_reported():
    def results(benchmark, counts):
        return [ProblemResult(benchmark, f"p{i}", n, c) for i, (n, c) in enumerate(counts)]

    baseline = RecordedRun(Path("base"), {"run_id": "base"},
                           results("demo", [(8, 4)] * 10) + results("aime24", [(8, 4)] * 10)
                           + results("amc23", [(8, 4)] * 10))
    current = results("demo", [(8, 4)] * 10) + results("math500", [(8, 4)] * 10)
    gate = BaselineGate(selected=("demo", "aime24", "math500"))
    checks = {c["benchmark"]: c for c in check_baseline(current, baseline, gate, FAST)}
    assert not checks["aime24"]["passed"]  # selected here, recorded in the baseline, no results
    assert "in baseline base but this run has no results for it" in checks["aime24"]["message"]
    assert checks["amc23"]["passed"] and checks["amc23"]["note"]  # not selected in this run
    assert "not selected in this run" in checks["amc23"]["message"]
    assert checks["math500"]["passed"] and checks["math500"]["note"]
    assert "not in baseline base" in checks["math500"]["message"]
    assert checks["demo"]["passed"] and "note" not in checks["demo"]
    everything = check_baseline(current, baseline, BaselineGate(selected=None), FAST)
    assert not next(c for c in everything if c["benchmark"] == "amc23")["passed"]


def test_baseline_problems_without_a_result_are_counted_in_the_message():
    baseline = run("base", [(8, 4)] * 12)
    current = run("cur", [(8, 4)] * 10)
    (check,) = check_baseline(current.results, baseline, BaselineGate(), FAST)
    assert "10 paired problems, 2 baseline problems without a result here" in check["message"]


@pytest.mark.parametrize("text,expected", [("1", (1,)), ("64, 1,1", (1, 64)), ("all", None)])
def test_baseline_ks_parse(text, expected):
    assert baseline_ks(text) == expected


@pytest.mark.parametrize("text", ["0", "1,x", "", "-4"])
def test_baseline_ks_reject(text):
    with pytest.raises(argparse.ArgumentTypeError):
        baseline_ks(text)


def test_alpha_and_allowed_settings_parse():
    assert family_alpha("0.01") == 0.01
    for bad in ("0", "0.9", "x"):
        with pytest.raises(argparse.ArgumentTypeError):
            family_alpha(bad)
    assert allowed_settings("temperature, max_tokens") == {"temperature", "max_tokens"}
    assert allowed_settings("all") == set(SAMPLING_SETTINGS)
    with pytest.raises(argparse.ArgumentTypeError, match="unknown setting.*tempreature"):
        allowed_settings("tempreature")


# -- settings that differ ----------------------------------------------------------------------------


def summary_doc(run_id, **run):
    settings = {"model": "m", "engine": "vllm", "k": 16, "temperature": 0.6, "top_p": 0.95,
                "max_tokens": 4096, "seed": 0, "template": "qwen-boxed", "sampling": "seeded", **run}
    return {
        "run_id": run_id, "model": settings["model"], "run": settings, "engine": settings["engine"],
        "seed": settings["seed"], "template": settings["template"],
        "sampling": {key: settings[key] for key in ("k", "temperature", "top_p", "max_tokens")},
        "versions": {"vllm": "0.11.0", "numpy": "2.3"}, "started_at": f"2026-11-2{run_id[-1]}T10:00:00Z",
    }


def test_setting_differences_is_generic_and_leaves_out_model_and_times():
    a = summary_doc("run1")
    b = summary_doc("run2", model="other", temperature=1.0, engine_args={"dtype": "bfloat16"})
    b["versions"]["vllm"] = "0.12.0"
    a["provenance"] = {"dtype": "float32", "device": "cpu", "model_fingerprint": "aaa",
                       "model": {"spec": "m", "revision": "r1"}, "engine_version": "0.11.0"}
    b["provenance"] = {"dtype": "bfloat16", "device": "cpu", "model_fingerprint": "bbb",
                       "model": {"spec": "other", "revision": "r2"}, "engine_version": "0.12.0",
                       "git_commit": "abc"}
    diffs = {d["setting"]: (d["a"], d["b"]) for d in setting_differences(a, b)}
    assert diffs == {
        "temperature": (0.6, 1.0),
        "engine_args.dtype": (None, "bfloat16"),
        "versions.vllm": ("0.11.0", "0.12.0"),
        "provenance.dtype": ("float32", "bfloat16"),
        "provenance.engine_version": ("0.11.0", "0.12.0"),
        "provenance.git_commit": (None, "abc"),
    }
    assert setting_differences(a, a) == []
    assert difference_text([]) == "none"


def test_schema_two_top_level_settings_count_when_run_lacks_them():
    a, b = summary_doc("run1"), summary_doc("run2", top_p=0.9)
    del a["run"]["top_p"], b["run"]["top_p"]  # an older document: only `sampling` has it
    assert setting_differences(a, b) == [{"setting": "top_p", "a": 0.95, "b": 0.9}]


def test_sampling_differences_only_for_settings_both_record():
    a = summary_doc("run1", seed=1)
    b = summary_doc("run2", seed=2, max_tokens=1024, sampling="batched")
    diffs = sampling_differences(a, b)
    assert [d["setting"] for d in diffs] == ["max_tokens", "sampling"]  # another seed is fine
    b["provenance"] = {"seed_policy": "index-offset-v2"}
    assert [d["setting"] for d in sampling_differences(a, b)] == ["max_tokens", "sampling"]
    a["provenance"] = {"seed_policy": "hash31-v1"}
    assert [d["setting"] for d in sampling_differences(a, b)] == ["max_tokens", "sampling", "seed_policy"]


def test_comparison_lists_the_settings_that_differ():
    a = RecordedRun(Path("run1"), summary_doc("run1"), STEADY.results)
    b = RecordedRun(Path("run2"), summary_doc("run2", max_tokens=1024), EXPLORER.results)
    result = compare_runs([a, b], settings=FAST)
    result.pop("_curves")
    assert result["setting_differences"] == [
        {"a": "run1", "b": "run2", "differences": [{"setting": "max_tokens", "a": 4096, "b": 1024}]}]
    assert ("- settings that differ between A (run1) and B (run2), besides the model: "
            "max_tokens: 4096 (A) vs 1024 (B)") in markdown(result)


def test_labels_name_the_settings_that_differ(tmp_path):
    from capability_tests.reporting.compare import run_labels
    from capability_tests.reporting.recorded_runs import RecordedRun

    def run(run_id, **settings):
        base = {"model": "m", "temperature": 0.6, "top_p": 0.95, "k": 16}
        return RecordedRun(tmp_path / run_id, {"run_id": run_id, "model": "m", "run": {**base, **settings}})

    assert run_labels([run("a"), run("b", temperature=1.0)]) == {
        "a": "m, temperature=0.6", "b": "m, temperature=1.0"}
    assert run_labels([run("a"), run("b")]) == {"a": "m (a)", "b": "m (b)"}
