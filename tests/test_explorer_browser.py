"""The run explorer in a real browser: headless Chromium (Debian's chromium + chromium-driver)
driven by selenium opens index.html from file://. Skipped, with the reason, only where no browser
is installed; under CI (CI=true, where .ci/run installs it) a missing browser is a failure."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from capability_tests.reporting.explorer.browser import (
    console_errors,
    missing_browser,
    requested_urls,
    start_browser,
)
from fixtures.explorer_runs import HOSTILE, LONG, SCRIPT_A, SCRIPT_B, run_suite, texts_of

WHY = missing_browser()
if WHY and os.environ.get("CI", "").lower() == "true":
    raise RuntimeError(f"CI must run the browser tests: {WHY}")
# slow: a real browser and two suite runs (tox -e py runs them, the fast lane leaves them out)
pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(WHY is not None, reason=f"no headless browser: {WHY}")]


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    base = tmp_path_factory.mktemp("explorer-browser")
    a = run_suite(base / "a", SCRIPT_A, "fake/model-a")
    b = run_suite(base / "b", SCRIPT_B, "fake/model-b")
    out = base / "cmp"
    done = subprocess.run([sys.executable, "-m", "capability_tests.cli", "compare", str(a), str(b),
                           "-o", str(out), "--no-plot", "--resamples", "200"],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    return a, b, out


@pytest.fixture(scope="module")
def browser():
    driver = start_browser()
    yield driver
    driver.quit()


def _open(driver, folder):
    requested_urls(driver)  # drain the log: what follows is this page's
    driver.get_log("browser")
    driver.get((folder / "index.html").resolve().as_uri())
    _wait(driver, "return document.getElementById('app').getAttribute('data-state') !== 'loading'")
    assert driver.find_element("id", "app").get_attribute("data-state") == "ready"


def _wait(driver, script, timeout=10.0):
    from selenium.webdriver.support.ui import WebDriverWait

    WebDriverWait(driver, timeout).until(lambda d: d.execute_script(script))


def _open_problem(driver, row_selector, pid):
    row = driver.find_element("css selector", row_selector)
    row.click()
    _wait(driver, "var v = document.getElementById('problem-view'); return v && v.getAttribute("
                  f"'data-problem') === {json.dumps(pid)} && v.getAttribute('data-state') !== 'loading'")
    view = driver.find_element("id", "problem-view")
    assert view.get_attribute("data-state") == "ready"
    return view


def _assert_stayed_in(driver, folder):
    prefix = folder.resolve().as_uri() + "/"
    urls = requested_urls(driver)
    assert urls, "the performance log recorded no request at all"
    assert all(url.startswith(prefix) for url in urls), [u for u in urls if not u.startswith(prefix)]


def test_figures_equal_summary_json(runs, browser):
    a, _, _ = runs
    _open(browser, a)
    summary = json.loads((a / "summary.json").read_text())
    for name, bench in summary["benchmarks"].items():
        for key, prefix in (("pass_at_k", "pass@"), ("maj_at_k", "maj@"), ("pass_all_k", "pass^")):
            for k, value in bench[key].items():
                cells = browser.find_elements(
                    "css selector", f'[data-benchmark="{name}"][data-metric="{prefix}{k}"]')
                assert len(cells) == 1, (name, prefix, k)
                assert float(cells[0].get_attribute("data-value")) == value
    assert browser.find_elements("css selector", ".chart canvas"), "uPlot drew no chart"
    assert console_errors(browser) == []


def test_every_problem_opens_with_every_sample(runs, browser):
    a, _, _ = runs
    _open(browser, a)
    results = [json.loads(line) for line in (a / "problems.jsonl").read_text().splitlines()]
    for result in results:
        pid = result["problem_id"]
        view = _open_problem(browser, f'tr[data-problem="{pid}"]', pid)
        samples = view.find_elements("css selector", "[data-sample]")
        assert [int(s.get_attribute("data-sample")) for s in samples] == list(range(result["n"]))
        texts = [s.get_attribute("textContent") for s in samples]
        assert texts == texts_of(SCRIPT_A, f"demo/{pid}", result["n"])
        prompt = view.find_element("css selector", "[data-prompt]").get_attribute("textContent")
        assert prompt.strip()
    assert console_errors(browser) == []
    _assert_stayed_in(browser, a)


def test_hostile_completion_is_text_and_never_runs(runs, browser):
    a, _, _ = runs
    _open(browser, a)
    view = _open_problem(browser, 'tr[data-problem="add"]', "add")
    sample = view.find_element("css selector", '[data-sample="1"]')
    assert sample.get_attribute("textContent") == HOSTILE
    assert "<script>" in sample.text and "onerror" in sample.text  # shown literally, as typed
    # the extracted answer is marked, as text
    assert sample.find_element("css selector", "mark").text == "<img src=y onerror=window.__pwned=3>"
    assert view.find_elements("css selector", "img, script, iframe") == []
    assert browser.execute_script("return window.__pwned === undefined")
    assert console_errors(browser) == []


def test_long_text_collapsed_and_expands(runs, browser):
    a, _, _ = runs
    _open(browser, a)
    view = _open_problem(browser, 'tr[data-problem="sub"]', "sub")
    pre = view.find_element("css selector", '[data-sample="0"]')
    assert pre.get_attribute("textContent") == LONG
    collapsed = pre.size["height"]
    card = view.find_element("css selector", '[data-sample-card="0"]')
    card.find_element("css selector", "button.toggle").click()
    assert pre.size["height"] > 2 * collapsed


def test_table_filters_and_sorts(runs, browser):
    from selenium.webdriver.support.ui import Select

    a, _, _ = runs
    _open(browser, a)
    results = {json.loads(l)["problem_id"]: json.loads(l) for l in (a / "problems.jsonl").read_text().splitlines()}
    Select(browser.find_element("css selector", '[data-control="filter"]')).select_by_value("unsolved")
    shown = {tr.get_attribute("data-problem") for tr in
             browser.find_elements("css selector", "table.problems tbody tr")}
    assert shown == {pid for pid, r in results.items() if r["correct"] == 0}
    Select(browser.find_element("css selector", '[data-control="filter"]')).select_by_value("all")
    header = browser.find_element("css selector", 'th[data-sort="c"]')
    header.click()
    header.click()  # descending: the most-solved problem first
    first = browser.find_element("css selector", "table.problems tbody tr").get_attribute("data-problem")
    assert first == max(results, key=lambda p: (results[p]["correct"] / results[p]["n"], p))


def test_comparison_page(runs, browser):
    a, b, out = runs
    _open(browser, out)
    result = json.loads((out / "compare.json").read_text())
    pair = result["benchmarks"]["demo"]["pairs"][0]
    for key in ("a_only", "b_only", "both", "neither"):
        row = browser.find_element("css selector", f'[data-coverage="{key}"]')
        assert int(row.get_attribute("data-count")) == len(pair["coverage"][key])
    crossover = browser.find_element("css selector", "[data-crossover]").get_attribute("data-crossover")
    assert crossover == ("none" if pair["crossover"]["k"] is None else str(pair["crossover"]["k"]))
    view = _open_problem(browser, '.pair tr[data-problem="mul"]', "mul")
    sides = view.find_elements("css selector", ".side")
    assert [s.get_attribute("data-run") for s in sides] == [pair["a"], pair["b"]]
    assert [x.get_attribute("textContent") for x in sides[1].find_elements("css selector", "[data-sample]")] \
        == texts_of(SCRIPT_B, "demo/mul", 4)
    assert console_errors(browser) == []
    _assert_stayed_in(browser, out)
