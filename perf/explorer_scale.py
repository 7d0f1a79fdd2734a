"""The run explorer at the study's scale: a synthetic run folder of 2,836 problems x k = 1,024
(2.9 million samples, texts in a completion store), the page built by `write_explorer`, then
opened in headless Chromium from file://.

    PYTHONPATH=. python perf/explorer_scale.py [--problems 2836] [--k 1024] [--folder DIR]

Measures: building the page (time, peak Python memory, bytes written); opening index.html (time
to interactive: navigation start to the page's ready mark, and wall time seen by the driver; JS
heap and DOM nodes); opening the heaviest problem (1,024 samples of ~12,000 characters) and 20
ordinary ones one after another (time each, JS heap after: the page keeps one problem's samples).
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import shutil
import statistics
import sys
import time
from pathlib import Path

BENCHMARKS = {"aime24": 30, "amc23": 40, "gsm8k": 1319, "math500": 500, "minerva": 272,
              "olympiadbench": 675}  # 2,836 problems
WORDS = ("we", "have", "the", "sum", "so", "let", "x", "=", "then", "equation", "gives", "therefore",
         "\\frac{1}{2}", "+", "2", "3", "7", "square", "root", "of", "both", "sides", "check")


def scaled(total: int) -> dict[str, int]:
    whole = sum(BENCHMARKS.values())
    out = {name: max(1, round(size * total / whole)) for name, size in BENCHMARKS.items()}
    return out


def text_of(rng: random.Random, chars: int, answer: str) -> str:
    words = []
    size = 0
    while size < chars:
        word = rng.choice(WORDS)
        words.append(word)
        size += len(word) + 1
    return " ".join(words) + f"\nThe answer is \\boxed{{{answer}}}."


def build_folder(folder: Path, total: int, k: int, recorded: int, seed: int = 0) -> Path:
    """A run folder as a session writes it, from synthetic results. Every problem has its row
    (n = k, a correct count, answer classes, truncations); per-sample records and texts in a
    completion store are made for `recorded` problems (the heaviest, math500/0000, with ~12,000
    characters per sample, then olympiadbench's first problems: the ones the page opens)."""
    from capability_tests.reporting.bootstrap import BootstrapSettings
    from capability_tests.reporting.run_writer import utc_now, write_run_folder
    from capability_tests.results import ProblemResult
    from capability_tests.store import CompletionStore, GenerationKey, NewSample

    rng = random.Random(seed)
    pool = [text_of(rng, rng.randint(3000, 9000) if i % 20 == 0 else rng.randint(150, 900), "")
            [:-len("\nThe answer is \\boxed{}.")] for i in range(400)]
    long_pool = [text_of(rng, 12000, "")[:-len("\nThe answer is \\boxed{}.")] for _ in range(20)]
    folder.mkdir(parents=True, exist_ok=True)
    store_path = folder / "completions.sqlite"
    store = CompletionStore(store_path)
    key = GenerationKey(model="synthetic@0", engine="synthetic", engine_version=None,
                        engine_settings="{}", mode="seeded", temperature=0.6, top_p=0.95,
                        max_tokens=4096, seed=0, seed_policy="base63+index")
    generation = store.generation_id(key)
    sizes = scaled(total)
    wanted = [("math500", "0000")] + [("olympiadbench", f"{i:04d}") for i in range(1, sizes["olympiadbench"])]
    wanted = set(wanted[:recorded])
    results = []
    records = folder / "records.jsonl"
    with open(records, "w", encoding="utf-8") as out:
        for name, size in sorted(sizes.items()):
            for i in range(size):
                pid = f"{i:04d}"
                rate = rng.betavariate(0.6, 0.9)
                reference = str(rng.randint(0, 999))
                wrong_answers = [str(rng.randint(0, 999)) for _ in range(rng.randint(1, 30))]
                prompt = f"{name}/{pid}"
                keep = (name, pid) in wanted
                batch, c, na, length = [], 0, 0, 0
                classes: dict[str, int] = {}
                for index in range(k):
                    draw = rng.random()
                    if draw < rate:
                        outcome, answer, c = "correct", reference, c + 1
                    elif draw < rate + 0.05:
                        outcome, answer, na = "no_answer", None, na + 1
                    else:
                        outcome, answer = "wrong", rng.choice(wrong_answers)
                        classes[answer] = classes.get(answer, 0) + 1
                    finish = "length" if outcome == "no_answer" and rng.random() < 0.5 else "stop"
                    length += finish == "length"
                    if not keep:
                        continue
                    body = rng.choice(long_pool if (name, pid) == ("math500", "0000") else pool)
                    text = body if answer is None else body + f"\nThe answer is \\boxed{{{answer}}}."
                    batch.append(NewSample(prompt=prompt, problem=prompt, index=index, seed=index,
                                           text=text, tokens=len(text) // 4, finish_reason=finish,
                                           correct=outcome == "correct", extracted=answer,
                                           reason=f"{outcome} (boxed)"))
                    out.write(json.dumps({"benchmark": name, "problem_id": pid, "index": index,
                                          "extracted": answer, "correct": outcome == "correct",
                                          "outcome": outcome, "reason": f"{outcome} (boxed)",
                                          "grader": "synthetic", "prompt": prompt}) + "\n")
                if batch:
                    store.add(generation, batch)
                results.append(ProblemResult(
                    name, pid, k, c, mean_tokens=200.0, finish_reasons={"stop": k - length, "length": length},
                    wrong=k - c - na, no_answer=na, grader="synthetic",
                    # without answer classes, so the summary skips maj@k: at n = 1,024 the exact
                    # maj@k takes minutes per hundred problems on this machine (curves.py), which
                    # is the run writer's cost, not the page's
                    wrong_classes=None))
    store.close()
    run = {"model": "synthetic/model", "k": k, "engine": "synthetic", "temperature": 0.6,
           "top_p": 0.95, "max_tokens": 4096, "seed": 0, "template": "qwen-boxed",
           "data_dir": str(folder / "no-data"), "benchmarks": sorted(BENCHMARKS)}
    report = write_run_folder(
        folder / "reports", "synthetic", run, results, complete=True, started_at=utc_now(),
        settings=BootstrapSettings(resamples=200), plot=False,
        more={"store": {"path": str(store_path), "generation": key.as_json()}})
    shutil.move(str(records), report.path / "samples.jsonl")
    return report.path


def measure_build(run_dir: Path) -> dict:
    import tracemalloc

    from capability_tests.reporting.explorer import write_explorer

    tracemalloc.start()
    start = time.perf_counter()
    write_explorer(run_dir)
    seconds = time.perf_counter() - start
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    files = list((run_dir / "explorer" / "problems").glob("*.js"))
    sizes = [f.stat().st_size for f in files]
    return {"seconds": round(seconds, 1), "python_peak_mib": round(peak / 2**20, 1),
            "index_html_mib": round((run_dir / "index.html").stat().st_size / 2**20, 2),
            "problem_files": len(files), "problem_files_gib": round(sum(sizes) / 2**30, 2),
            "largest_problem_file_mib": round(max(sizes) / 2**20, 1),
            "median_problem_file_kib": round(statistics.median(sizes) / 2**10)}


PAINTED = ("var done = arguments[arguments.length - 1];"
           "requestAnimationFrame(function () { setTimeout(function () { done(performance.now()); }, 0); });")


def _metrics(driver) -> dict:
    driver.execute_cdp_cmd("HeapProfiler.collectGarbage", {})  # what the page holds, not garbage
    values = {m["name"]: m["value"] for m in driver.execute_cdp_cmd("Performance.getMetrics", {})["metrics"]}
    return {"js_heap_mib": round(values["JSHeapUsedSize"] / 2**20, 1), "dom_nodes": int(values["Nodes"])}


def measure_page(run_dir: Path, repeats: int = 3) -> dict:
    from selenium.webdriver.support.ui import WebDriverWait

    from capability_tests.reporting.explorer.browser import console_errors, start_browser

    out: dict = {"open": [], "problems": []}
    driver = start_browser()
    try:
        driver.execute_cdp_cmd("Performance.enable", {})
        for _ in range(repeats):
            driver.get("about:blank")
            start = time.perf_counter()
            driver.get((run_dir / "index.html").resolve().as_uri())
            WebDriverWait(driver, 60).until(lambda d: d.execute_script(
                "return document.getElementById('app').getAttribute('data-state') === 'ready'"))
            painted = driver.execute_async_script(PAINTED) / 1000  # the first frame after ready
            wall = time.perf_counter() - start
            ready = driver.execute_script("return window.CTExplorer.readyAt") / 1000
            out["open"].append({"ready_s": round(ready, 2), "painted_s": round(painted, 2),
                                "driver_wall_s": round(wall, 2), **_metrics(driver)})
        rows = driver.find_elements("css selector", "tr[data-problem]")
        out["rows"] = len(rows)

        def open_problem(benchmark: str, pid: str) -> dict:
            row = driver.find_element("css selector", f'tr[data-benchmark="{benchmark}"][data-problem="{pid}"]')
            driver.execute_script("arguments[0].scrollIntoView({block: 'center'})", row)
            start = time.perf_counter()
            t0 = driver.execute_script("return performance.now()")
            driver.execute_script("arguments[0].click()", row)
            WebDriverWait(driver, 120).until(lambda d: d.execute_script(
                "var v = document.getElementById('problem-view'); return v && v.getAttribute('data-problem') "
                f"=== {json.dumps(pid)} && v.getAttribute('data-state') === 'ready'"))
            t1 = driver.execute_script("return window.CTExplorer.problemReadyAt")
            t2 = driver.execute_async_script(PAINTED)
            samples = len(driver.find_elements("css selector", "#problem-view [data-sample]"))
            return {"problem": f"{benchmark}/{pid}", "samples": samples, "ready_s": round((t1 - t0) / 1000, 2),
                    "painted_s": round((t2 - t0) / 1000, 2), "driver_wall_s": round(time.perf_counter() - start, 2), **_metrics(driver)}

        def page_rows(benchmark: str) -> int:
            return len(driver.find_elements("css selector", f'tr[data-benchmark="{benchmark}"]'))

        out["heaviest"] = open_problem("math500", "0000")
        for benchmark, pid in [("olympiadbench", f"{i:04d}") for i in range(1, min(21, page_rows("olympiadbench")))]:
            out["problems"].append(open_problem(benchmark, pid))
        out["console_errors"] = console_errors(driver)
    finally:
        driver.quit()
    return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--problems", type=int, default=2836)
    parser.add_argument("--k", type=int, default=1024)
    parser.add_argument("--recorded", type=int, default=40,
                        help="problems with per-sample records and texts (the ones the page opens)")
    parser.add_argument("--folder", type=Path, default=Path("/tmp/explorer-scale"))
    parser.add_argument("--reuse", action="store_true", help="reuse a folder built before")
    args = parser.parse_args(argv)
    if args.reuse:
        run_dir = args.folder / "reports" / "synthetic"
    else:
        if args.folder.exists():
            shutil.rmtree(args.folder)
        start = time.perf_counter()
        run_dir = build_folder(args.folder, args.problems, args.k, args.recorded)
        print(f"synthetic run folder: {run_dir} ({time.perf_counter() - start:.0f} s)", flush=True)
    build = measure_build(run_dir)
    samples = sum(1 for _ in open(run_dir / "samples.jsonl", encoding="utf-8"))
    build["samples"] = samples
    build["ms_per_sample"] = round(1000 * build["seconds"] / max(1, samples), 3)
    print("build:", json.dumps(build), flush=True)
    page = measure_page(run_dir)
    print("open index.html:", json.dumps(page["open"]))
    print("rows:", page["rows"])
    print("heaviest problem:", json.dumps(page["heaviest"]))
    ready = [p["painted_s"] for p in page["problems"]]
    heaps = [p["js_heap_mib"] for p in page["problems"]]
    print(f"20 problems of {page['problems'][0]['samples']} samples: painted median {statistics.median(ready):.2f} s, "
          f"max {max(ready):.2f} s; JS heap after each: min {min(heaps)} MiB, max {max(heaps)} MiB")
    print("console errors:", page["console_errors"])
    print(f"python max RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
