"""The run explorer's files, without a browser: what index.html and the per-problem scripts hold
(tests/test_explorer_browser.py opens them in Chromium)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys

import pytest

from capability_tests.reporting.explorer import write_explorer
from capability_tests.reporting.explorer.page import CSP, embed_json, problem_file
from fixtures.explorer_runs import HOSTILE, SCRIPT_A, SCRIPT_B, run_suite, texts_of


@pytest.fixture(scope="module")
def run_a(tmp_path_factory):
    return run_suite(tmp_path_factory.mktemp("explorer-a"), SCRIPT_A, "fake/model-a")


def _page_data(folder):
    html = (folder / "index.html").read_text(encoding="utf-8")
    block = re.search(r'<script type="application/json" id="explorer-data">(.*?)</script>', html, re.S)
    return html, json.loads(block.group(1))


def _problem_page(folder, benchmark, pid):
    text = (folder / "explorer" / "problems" / problem_file(benchmark, pid)).read_text(encoding="utf-8")
    match = re.fullmatch(r'CTExplorer\.problemLoaded\(("[^"]+"), (.*)\);\n', text, re.S)
    assert match, text[:200]
    return json.loads(match.group(2))


def test_every_run_folder_gets_an_offline_page(run_a):
    html, data = _page_data(run_a)
    assert f'content="{CSP}"' in html and "script-src 'self'" in CSP and "connect-src 'none'" in CSP
    # every script and style is a relative file in the folder: no URL with a scheme or host
    for ref in re.findall(r'(?:src|href)="([^"]+)"', html):
        assert "//" not in ref and ":" not in ref and (run_a / ref).is_file(), ref
    for name in ("uPlot.iife.min.js", "uPlot-LICENSE", "explorer.js", "explorer.css"):
        assert (run_a / "explorer" / name).is_file()
    assert "MIT" in (run_a / "explorer" / "uPlot-LICENSE").read_text()
    summary = json.loads((run_a / "summary.json").read_text())
    assert summary["files"]["explorer"] == "index.html"
    assert data["run_id"] == summary["run_id"] and data["kind"] == "run"


def test_figures_carry_summary_numbers_exactly(run_a):
    _, data = _page_data(run_a)
    bench = json.loads((run_a / "summary.json").read_text())["benchmarks"]["demo"]
    shown = {f["metric"]: f["value"] for f in data["benchmarks"]["demo"]["figures"]}
    expected = {}
    for key, prefix in (("pass_at_k", "pass@"), ("maj_at_k", "maj@"), ("pass_all_k", "pass^")):
        for k, value in bench[key].items():
            expected[f"{prefix}{k}"] = json.dumps(value)
    assert shown == expected and "pass^2" in shown and "maj@4" in shown


def test_problem_rows_and_samples_match_the_run(run_a):
    _, data = _page_data(run_a)
    rows = {r["id"]: r for r in data["benchmarks"]["demo"]["rows"]}
    results = [json.loads(line) for line in (run_a / "problems.jsonl").read_text().splitlines()]
    assert set(rows) == {r["problem_id"] for r in results}
    for result in results:
        row = rows[result["problem_id"]]
        assert (row["n"], row["c"], row["na"]) == (result["n"], result["correct"], result["no_answer"])
        page = _problem_page(run_a, "demo", result["problem_id"])
        assert [s["text"] for s in page["samples"]] == texts_of(SCRIPT_A, f"demo/{result['problem_id']}", 4)
        assert page["reference"] and page["prompt"] and page["texts_missing"] == 0
        assert all(s["f"] == "stop" and s["t"] is not None for s in page["samples"])
    add = _problem_page(run_a, "demo", "add")
    assert [s["o"] for s in add["samples"]] == ["correct", "wrong", "correct", "wrong"]
    assert add["samples"][1]["x"] == "<img src=y onerror=window.__pwned=3>"
    assert sorted((c["answer"], c["count"], c["samples"]) for c in add["wrong_classes"]) == [
        ("20", 1, [3]), ("<img src=y onerror=window.__pwned=3>", 1, [1])]
    sub = _problem_page(run_a, "demo", "sub")  # 26 and 26.0 are one wrong class
    assert [(c["count"], c["samples"]) for c in sub["wrong_classes"]] == [(2, [1, 2])]


def test_model_text_cannot_close_the_data_block(run_a):
    raw = (run_a / "explorer" / "problems" / problem_file("demo", "add")).read_text()
    assert "<" not in raw and ">" not in raw  # escaped: \u003c, \u003e
    assert HOSTILE in json.loads(embed_json(HOSTILE))
    assert "</script>" not in embed_json({"x": "</script><script>alert(1)</script>"})


def test_rebuild_from_folder_and_missing_store_says_why(run_a, tmp_path):
    copy = tmp_path / "copy"
    shutil.copytree(run_a, copy)
    (copy / "index.html").unlink()
    shutil.rmtree(copy / "explorer")
    missing = tmp_path / "nowhere.sqlite"
    write_explorer(copy, store_path=missing)
    _, data = _page_data(copy)
    assert str(missing) in data["texts_missing"]
    add = _problem_page(copy, "demo", "add")
    assert add["texts_missing"] == 4 and all(s["text"] is None for s in add["samples"])
    assert add["samples"][0]["x"] == "19"  # verdicts still come from samples.jsonl


@pytest.mark.slow
def test_compare_command_writes_the_comparison_page(run_a, tmp_path):
    run_b = run_suite(tmp_path / "b", SCRIPT_B, "fake/model-b")
    out = tmp_path / "cmp"
    done = subprocess.run([sys.executable, "-m", "capability_tests.cli", "compare", str(run_a),
                           str(run_b), "-o", str(out), "--no-plot", "--resamples", "200"],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "comparison explorer: file://" in done.stdout
    _, data = _page_data(out)
    assert data["kind"] == "compare"
    pair = data["benchmarks"]["demo"]["pairs"][0]
    result = json.loads((out / "compare.json").read_text())["benchmarks"]["demo"]["pairs"][0]
    assert pair["coverage"] == result["coverage"]
    only = {o["id"]: o for o in pair["only"]}
    assert set(only) == set(result["coverage"]["a_only"]) | set(result["coverage"]["b_only"])
    assert {"add", "mul"} <= set(only)
    for side in only["mul"]["runs"]:  # both runs' samples are in the comparison's own folder
        assert (out / "explorer" / "problems" / side["f"]).is_file()


def test_store_found_beside_a_moved_reports_folder(run_a, tmp_path):
    moved = tmp_path / "moved-reports"
    shutil.copytree(run_a.parent, moved)
    folder = moved / run_a.name
    summary = json.loads((folder / "summary.json").read_text())
    old = summary["store"]["path"]
    summary["store"]["path"] = "somewhere/else/" + old.rsplit("/", 1)[-1]  # recorded elsewhere
    (folder / "summary.json").write_text(json.dumps(summary))
    write_explorer(folder)
    _, data = _page_data(folder)
    assert data["texts_missing"] is None
    assert _problem_page(folder, "demo", "add")["samples"][1]["text"] == HOSTILE
