"""Comparison (crossover, coverage sets) and CI gates on recorded results, without pytest runs."""

import argparse
from pathlib import Path

import pytest

from capability_tests.reporting.bootstrap import BootstrapSettings
from capability_tests.reporting.compare import Paired, compare_runs, coverage, crossover, markdown
from capability_tests.reporting.curves import compute_curves
from capability_tests.reporting.gates import (
    check_baseline,
    check_fail_under,
    fail_under,
    max_drop,
)
from capability_tests.reporting.run_folder import RecordedRun
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
    checks = check_baseline(current.results, baseline, 0.05, settings=FAST)
    assert [c["k"] for c in checks] == [1, 2, 4, 8]
    assert not any(c["passed"] for c in checks)
    message = checks[0]["message"]
    assert message.startswith("demo pass@1 = 50.0% vs baseline 100.0% (base, 40 paired problems)")
    assert "drop 50.0% > max-drop 5.0%" in message and "excludes 0" in message


def test_baseline_noise_sized_drop_passes_unless_rule_is_point():
    baseline = run("base", [(8, 4)] * 40)
    current = run("cur", [(8, 4)] * 39 + [(8, 0)])  # one problem got worse: a 1.25 point drop
    significant = check_baseline(current.results, baseline, 0.01, settings=FAST)
    assert significant[0]["drop"] == pytest.approx(0.0125)
    assert significant[0]["passed"] and "includes 0" in significant[0]["message"]
    point = check_baseline(current.results, baseline, 0.01, rule="point", settings=FAST)
    assert not point[0]["passed"]
    within = check_baseline(current.results, baseline, 0.05, settings=FAST)
    assert all(c["passed"] for c in within) and "within max-drop" in within[0]["message"]


def test_labels_name_the_settings_that_differ(tmp_path):
    from capability_tests.reporting.compare import run_labels
    from capability_tests.reporting.run_folder import RecordedRun

    def run(run_id, **settings):
        base = {"model": "m", "temperature": 0.6, "top_p": 0.95, "k": 16}
        return RecordedRun(tmp_path / run_id, {"run_id": run_id, "model": "m", "run": {**base, **settings}})

    assert run_labels([run("a"), run("b", temperature=1.0)]) == {
        "a": "m, temperature=0.6", "b": "m, temperature=1.0"}
    assert run_labels([run("a"), run("b")]) == {"a": "m (a)", "b": "m (b)"}
