"""The analyses beside pass@k in the reports: summary.json keys, CSV columns, Markdown sections
(one fake-engine session), and compare's N-way coverage and no-crossover wording on three recorded
runs."""

import csv
import json
import os
from pathlib import Path

import pytest

from capability_tests.passk import pass_at_k_curve
from capability_tests.reporting.bootstrap import BootstrapSettings
from capability_tests.reporting.compare import RecordedRun, compare_runs
from capability_tests.reporting.compare import markdown as compare_markdown
from capability_tests.reporting.curves import compute_curve
from capability_tests.reporting.summary import BenchmarkSummary, markdown
from capability_tests.results import ProblemResult
from fixtures.fake_engine import SUITE

TESTS = Path(__file__).resolve().parent
ROOT = TESTS.parent
AIME = [{"id": f"a{i}", "problem": f"What is {i} + {i}?", "answer": str(2 * i)} for i in range(1, 7)]


def boxed(answer: str) -> str:
    return "\\boxed{" + answer + "}"


SCRIPT = {
    "aime24/a1": [boxed("2")],
    "aime24/a2": ["no", boxed("4"), boxed("5"), boxed("5")],  # 2 right, 4 x "5", 2 without answer
    "aime24/a3": [boxed("6"), boxed("7"), boxed("7"), boxed("007")],  # "7" and "007": one class
    "aime24/a4": [boxed(str(i)) for i in range(1, 9)],  # 8 distinct answers, one right
}


@pytest.fixture
def suite(pytester, monkeypatch):
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(ROOT), str(pytester.path)]))
    monkeypatch.setenv("FAKE_ENGINE_SCRIPT", json.dumps(SCRIPT))
    monkeypatch.delenv("PYTEST_ADDOPTS", raising=False)
    data = pytester.path / "data" / "aime24"
    data.mkdir(parents=True)
    (data / "test.jsonl").write_text("".join(json.dumps(r) + "\n" for r in AIME))
    return pytester


def test_session_reports_the_analyses(suite):
    result = suite.runpytest_subprocess(
        *SUITE, "-p", "no:cacheprovider", "--engine=fixtures.fake_engine:FakeEngine", "--model=fake/model",
        "--benchmarks=aime24", "--data-dir=data", "--k=8", "--unsolved=xfail",
        "--report-dir=reports", "--bootstrap-resamples=300")
    assert result.ret == 0, result.stdout.str()
    latest = json.loads((suite.path / "reports" / "summary.json").read_text())
    folder = suite.path / "reports" / latest["run_id"]
    bench = latest["benchmarks"]["aime24"]
    ks = ["1", "2", "4", "8"]
    for key in ("pass_at_k", "maj_at_k", "pass_all_k"):
        assert list(bench[key]) == ks and list(bench[key + "_ci"]) == ks, key
        for k in ks:
            low, high = bench[key + "_ci"][k]
            assert 0 <= low <= bench[key][k] <= high <= 1
    # per problem (a1..a6): pass@1 = maj@1 = pass^1 = mean c/n = (8 + 2 + 2 + 1) / 8 / 6
    assert bench["maj_at_k"]["1"] == pytest.approx(13 / 48) == bench["pass_all_k"]["1"]
    # maj@8: a1 right; a2: 2 right vs 4 "5" -> wrong; a3: 2 vs 6 -> wrong; a4: 8 classes of 1, tied
    # -> 1/8; a5, a6 unsolved
    assert bench["maj_at_k"]["8"] == pytest.approx((1 + 1 / 8) / 6)
    assert bench["pass_all_k"]["8"] == pytest.approx(1 / 6)
    assert bench["maj_at_k_method"] == "exact"
    doubling = bench["last_doubling"]
    assert (doubling["from_k"], doubling["to_k"]) == (4, 8)
    gain = {c: pass_at_k_curve(8, c)[7] - pass_at_k_curve(8, c)[3] for c in (1, 2)}
    expected_gain = (2 * gain[2] + gain[1]) / 6  # a2, a3 (2 of 8 right), a4 (1 of 8)
    assert doubling["gain"] == pytest.approx(expected_gain)
    assert doubling["interval"][0] <= doubling["gain"] <= doubling["interval"][1]
    assert bench["guessing"]["answer_range"] == [0, 999]
    assert bench["guessing"]["pass_at_k"]["8"] == pytest.approx(1 - 0.999 ** 8)
    assert bench["rare_solves"]["problems"] == []  # n = 8 < 100: nothing can be rare
    assert bench["rare_solves"]["pass_at_k_without"] == bench["pass_at_k"]
    assert bench["distinct_answers"]["max"] == 8
    problems = {p["problem_id"]: p for p in map(json.loads, (folder / "problems.jsonl").read_text().splitlines())}
    assert problems["a3"]["wrong_classes"] == [6] and problems["a3"]["distinct_answers"] == 2
    assert problems["a2"]["wrong_classes"] == [4] and problems["a4"]["distinct_answers"] == 8
    assert problems["a5"]["distinct_answers"] == 0
    rows = list(csv.DictReader((folder / "pass_at_k.csv").open()))
    assert len(rows) == 8
    assert {"maj_at_k", "maj_ci_low", "maj_ci_high", "pass_all_k", "pass_all_ci_low",
            "pass_all_ci_high", "pass_at_k_without_rare", "guessing_pass_at_k"} <= set(rows[0])
    assert float(rows[7]["maj_at_k"]) == pytest.approx(bench["maj_at_k"]["8"], abs=1e-6)
    assert float(rows[0]["guessing_pass_at_k"]) == pytest.approx(0.001)
    report = (folder / "report.md").read_text()
    for heading in ("## maj@k", "## pass^k", "## Sampling adequacy", "## Rare solves"):
        assert heading in report, heading
    assert "uniform guesser over the 1000 integers 0-999" in report
    assert "| aime24 | 8 |" in report


def results(bench, counts, classes=None):
    return [ProblemResult(bench, f"p{i}", n, c, wrong_classes=None if classes is None else classes[i])
            for i, (n, c) in enumerate(counts)]


def test_summary_says_when_answers_are_missing_and_when_the_curve_still_rises():
    counts = [(64, 1), (64, 2), (64, 0), (64, 3)] * 5
    bench = compute_curve("demo", results("demo", counts), BootstrapSettings(resamples=400))
    summary = BenchmarkSummary.from_curve(bench)
    data = summary.to_json()
    assert data["maj_at_k"] is None and "20 problem(s) have no recorded answers" in data["maj_at_k_note"]
    assert "pass_all_k" in data and "guessing" not in data  # demo has no answer range
    assert data["last_doubling"]["rising"] is True
    text = markdown({"model": "m"}, {"demo": summary}, True)
    assert "maj@k not computed" in text and "still rising at k = n = 64" in text


def test_rare_solves_are_flagged_and_removed_from_the_without_curve():
    counts = [(200, 1), (200, 100), (200, 0)]
    classes = [(1,) * 60 + (139,), (50, 50), (200,)]
    bench = compute_curve("aime24", results("aime24", counts, classes), BootstrapSettings(resamples=200))
    assert [r["problem_id"] for r in bench.rare_solves] == ["p0"]
    assert bench.at(200) == pytest.approx(2 / 3)
    assert bench.without_rare.at(200) == pytest.approx(1 / 3)
    data = BenchmarkSummary.from_curve(bench).to_json()
    assert data["rare_solves"]["problems"][0]["distinct_answers"] == 62
    assert data["guessing"]["pass_at_k"]["128"] == pytest.approx(1 - 0.999 ** 128)


def recorded(run_id, model, solved, n=8):
    """A recorded run whose problem i has solved[i] correct samples out of n."""
    document = {"run_id": run_id, "model": model, "run": {"model": model, "k": n}, "complete": True}
    rows = [ProblemResult("aime24", f"q{i}", n, c) for i, c in enumerate(solved)]
    return RecordedRun(path=Path(run_id), document=document, results=rows)


def test_three_way_coverage_and_no_crossover_wording():
    base = recorded("base", "base", [8, 1, 0, 0, 0, 3])
    rl = recorded("rl", "rl", [8, 0, 8, 0, 0, 3])
    distilled = recorded("distilled", "distilled", [8, 0, 0, 8, 0, 0])
    result = compare_runs([base, rl, distilled], settings=BootstrapSettings(resamples=200))
    cov = result["benchmarks"]["aime24"]["coverage"]
    assert cov["k"] == 8 and cov["problems"] == 6 and cov["runs"] == ["base", "rl", "distilled"]
    by_label = {s["label"]: s["ids"] for s in cov["subsets"]}
    assert len(cov["subsets"]) == 8
    assert by_label == {"all": ["q0"], "A+B": ["q5"], "A+C": [], "B+C": [], "A only": ["q1"],
                        "B only": ["q2"], "C only": ["q3"], "none": ["q4"]}
    # at k = 1 "solved" needs pass@1 >= 0.5: q1 (1/8) and q5 (3/8) drop out
    at1 = compare_runs([base, rl, distilled], at_k=1, settings=BootstrapSettings(resamples=50))
    at1 = {s["label"]: s["ids"] for s in at1["benchmarks"]["aime24"]["coverage"]["subsets"]}
    assert at1["A only"] == [] and at1["none"] == ["q1", "q4", "q5"]
    too_big = compare_runs([base, rl, distilled], at_k=9, settings=BootstrapSettings(resamples=50))
    assert "larger than the samples" in too_big["benchmarks"]["aime24"]["coverage"]["error"]
    result.pop("_curves")
    text = compare_markdown(result)
    assert "Coverage of 3 runs at k = 8 on 6 common problems" in text
    assert "| B only | 1 | q2 |" in text and "| none | 1 | q4 |" in text
    # rl leads base at every k (q2 outweighs q1): no crossover, with the gap's trend
    pair = next(p for p in result["benchmarks"]["aime24"]["pairs"] if {p["a"], p["b"]} == {"base", "rl"})
    cross = pair["crossover"]
    assert cross["k"] is None and cross["within_sampled_k"] is False
    trend = cross["gap_trend"]
    assert (trend["from_k"], trend["to_k"]) == (4, 8)
    assert trend["interval"][0] <= trend["change"] <= trend["interval"][1]
    assert "no crossover within the sampled k (k <= 8)" in text
    assert "whether the curves cross beyond k = 8 is not measured" in text


def test_two_runs_have_no_n_way_table():
    result = compare_runs([recorded("a", "a", [1, 0]), recorded("b", "b", [0, 1])],
                          settings=BootstrapSettings(resamples=50))
    assert "coverage" not in result["benchmarks"]["aime24"]
