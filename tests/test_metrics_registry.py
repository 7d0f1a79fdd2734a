"""Metrics by registration: one `Metric` gives a curve its JSON, CSV, Markdown, terminal line,
plot line and gate syntax; built-ins and a metric registered from outside the package alike."""

from __future__ import annotations

import argparse
import csv
import json
import os
import textwrap
from pathlib import Path

import numpy as np
import pytest

from capability_tests.reporting.bootstrap import BootstrapSettings
from capability_tests.reporting.curves import compute_curve, csv_columns
from capability_tests.reporting.gates import check_fail_under, fail_under
from capability_tests.reporting.metrics import (
    MAJ_AT_K,
    PASS_ALL_K,
    PASS_AT_K,
    Metric,
    metric_for_symbol,
    metrics,
    register_metric,
)
from capability_tests.results import ProblemResult
from fixtures.fake_engine import SUITE

TESTS = Path(__file__).resolve().parent
ROOT = TESTS.parent
FAST = BootstrapSettings(resamples=200)


def results(counts, classes):
    return [ProblemResult("demo", f"p{i}", n, c, wrong_classes=w) for i, ((n, c), w) in
            enumerate(zip(counts, classes))]


COUNTS = [(8, 4), (8, 1), (8, 0), (8, 8)]
CLASSES = [(4,), (7,), (5, 3), ()]


def test_builtins_are_registered_in_order_with_distinct_symbols():
    names = [m.name for m in metrics()]
    assert names[:3] == ["pass@k", "maj@k", "pass^k"]
    assert len({m.symbol for m in metrics()}) == len(metrics())
    assert metric_for_symbol("maj@") is MAJ_AT_K and metric_for_symbol("pass^") is PASS_ALL_K


def test_a_clashing_metric_is_refused_naming_both():
    with pytest.raises(ValueError, match="clashes with the registered maj@k"):
        register_metric(Metric(symbol="maj@", key="majority_other", title="t", description="d",
                               problem_curve=lambda n, c, cl, k: np.zeros(k)))
    with pytest.raises(ValueError, match="must be a name ending in"):
        Metric(symbol="maj", key="x", title="t", description="d", problem_curve=lambda *a: None)


def test_gates_accept_every_registered_metric_and_name_unknown_ones():
    gate = fail_under("gsm8k:maj@8>=0.4")
    assert (gate.benchmark, gate.metric, gate.k, gate.threshold) == ("gsm8k", "maj@k", 8, 0.4)
    assert fail_under("demo:pass^4>10%").metric == "pass^k"
    assert fail_under("demo:pass@2>=0.1").metric == "pass@k"
    with pytest.raises(argparse.ArgumentTypeError, match=r"unknown metric 'cons@K'.*pass@K, maj@K, pass\^K"):
        fail_under("demo:cons@4>=0.1")


def test_gates_read_the_metric_they_name():
    bench = compute_curve("demo", results(COUNTS, CLASSES), FAST)
    # maj@1 = pass@1 (one sample is its own majority) = (4+1+0+8)/32; pass^8: only p3 has 8/8
    checks = check_fail_under([fail_under("demo:maj@1>=0.40"), fail_under("demo:pass^8>0.25"),
                               fail_under("demo:pass^8>=0.25")], {"demo": bench})
    assert [c["passed"] for c in checks] == [True, False, True]
    assert checks[0]["value"] == pytest.approx(13 / 32)
    assert checks[1]["message"].startswith("demo pass^8 = 25.0% (95% CI [")
    missing = compute_curve("demo", results(COUNTS, [None] * 4), FAST)
    [check] = check_fail_under([fail_under("demo:maj@2>=0.1")], {"demo": missing})
    assert check["passed"] is False and "maj@k was not computed for demo" in check["message"]


def test_a_registered_metric_appears_in_every_output(tmp_path):
    metric = register_metric(Metric(
        symbol="half@", key="half_at_k", title="half@k: test metric", description="Half of pass@k.",
        problem_curve=lambda n, c, cl, max_k: PASS_AT_K.problem_curve(n, c, None, max_k) / 2,
        color="#17becf"))
    try:
        bench = compute_curve("demo", results(COUNTS, CLASSES), FAST)
        assert np.allclose(bench.band_of("half@k").curve, bench.curve / 2)
        assert "half_at_k" in csv_columns() and "half_at_k_ci_low" in csv_columns()
        from capability_tests.reporting.summary import BenchmarkSummary, markdown, terminal_lines

        summary = BenchmarkSummary.from_curve(bench)
        data = summary.to_json()
        assert data["half_at_k"]["8"] == pytest.approx(data["pass_at_k"]["8"] / 2)
        assert "## half@k: test metric" in markdown({"model": "m"}, {"demo": summary}, True)
        assert any(line.startswith("  half@k: half@1 ") for line in terminal_lines({"demo": summary}))
    finally:
        from capability_tests.reporting import metrics as registry

        registry._REGISTRY.pop(metric.name)


PLUGIN = textwrap.dedent('''
    """An out-of-package metric: at least two of k samples right (unbiased, like pass@k)."""
    from math import comb

    import numpy as np

    from capability_tests.reporting.metrics import Metric, register_metric


    def two_right(n, c, classes, max_k):
        out = np.zeros(max_k)
        for k in range(1, max_k + 1):
            none = comb(n - c, k) + c * comb(n - c, k - 1)
            out[k - 1] = 1 - none / comb(n, k)
        return out


    TWO = register_metric(Metric(symbol="two@", key="two_at_k", title="two@k: two of k right",
                                 description="1 - [C(n-c,k) + c C(n-c,k-1)] / C(n,k).",
                                 problem_curve=two_right))
''')


@pytest.mark.slow
def test_a_metric_from_outside_the_package_is_reported_and_gated(pytester, monkeypatch):
    """The docs/EXTENDING.md metric example: a module loaded with -p registers `two@`; the run's
    summary.json, CSV and report carry it and `--fail-under demo:two@4>=...` gates on it."""
    (pytester.path / "two_right.py").write_text(PLUGIN)
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(ROOT), str(pytester.path)]))
    box = "\\boxed{%s}"
    script = {"demo/add": [box % "19", box % "3"], "demo/sub": [box % "27", box % "1", box % "1", box % "1"]}
    monkeypatch.setenv("FAKE_ENGINE_SCRIPT", json.dumps(script))
    monkeypatch.delenv("PYTEST_ADDOPTS", raising=False)
    common = ["-p", "no:cacheprovider", "--engine=fixtures.fake_engine:FakeEngine", "--model=fake/model",
              "--benchmarks=demo", "--limit=2", "--k=4", "--unsolved=xfail", "--report-dir=reports",
              "--bootstrap-resamples=100"]
    result = pytester.runpytest_subprocess(*SUITE, "-p", "two_right", *common,
                                           "--fail-under=demo:two@4>=0.99")
    assert result.ret == 6, result.stdout.str()
    result.stdout.fnmatch_lines(["*two@4 = *is below the threshold >= 99.0%*"])
    latest = json.loads((pytester.path / "reports" / "summary.json").read_text())
    two = latest["benchmarks"]["demo"]["two_at_k"]
    assert set(two) == {"1", "2", "4"} and two["1"] == 0.0 and two["4"] == pytest.approx(0.5)
    folder = pytester.path / "reports" / latest["run_id"]
    rows = list(csv.DictReader((folder / "pass_at_k.csv").open()))
    assert float(rows[3]["two_at_k"]) == pytest.approx(two["4"], abs=1e-6)
    assert "## two@k: two of k right" in (folder / "report.md").read_text()
    unknown = pytester.runpytest_subprocess(*SUITE, *common, "--fail-under=demo:two@4>=0.5")
    assert unknown.ret == 4
    unknown.stderr.fnmatch_lines(["*unknown metric 'two@K'*"])
