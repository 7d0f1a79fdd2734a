"""Writing the explorer: `index.html` in a run folder (or a comparison folder) plus its assets and
one script file per problem, so the page opens from file:// with no server and no network.

Layout written into the folder:
- `index.html`: the page; its data is a JSON block (`<script type="application/json">`, which
  no browser executes) with `<`, `>` and `&` escaped, under a Content-Security-Policy that allows
  scripts, styles and images from the folder only and no connections at all;
- `explorer/`: `explorer.js` and `explorer.css` (the page), `uPlot.iife.min.js`, `uPlot.min.css`
  and `uPlot-LICENSE` (the charting library, MIT, vendored from npm `uplot`);
- `explorer/problems/<hash>.js`: one problem's samples (texts, verdicts, answer classes), loaded
  with a script element when the problem is opened (file:// forbids fetch, not scripts).

Model output only ever reaches the page as JSON strings that explorer.js puts into text nodes.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from importlib import resources
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

INDEX = "index.html"
ASSET_DIR = "explorer"
PROBLEM_DIR = "problems"
ASSETS = ("explorer.js", "explorer.css", "uPlot.iife.min.js", "uPlot.min.css", "uPlot-LICENSE")
CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "connect-src 'none'; font-src 'none'; object-src 'none'; frame-src 'none'; "
       "base-uri 'none'; form-action 'none'")


def problem_file(benchmark: str, problem_id: str, prefix: str = "") -> str:
    """The file name of one problem's samples (a hash: ids may hold any character)."""
    digest = hashlib.sha256(f"{benchmark}\0{problem_id}".encode()).hexdigest()[:20]
    return f"{prefix}{digest}.js"


def embed_json(value: Any) -> str:
    """JSON safe inside an HTML element: no `<`, `>` or `&` that could close or open a tag."""
    return (json.dumps(value, ensure_ascii=False, allow_nan=False)
            .replace("&", "\\u0026").replace("<", "\\u003c").replace(">", "\\u003e")
            .replace("\u2028", "\\u2028").replace("\u2029", "\\u2029"))


def copy_assets(folder: Path) -> Path:
    target = folder / ASSET_DIR
    target.mkdir(parents=True, exist_ok=True)
    source = resources.files("capability_tests.reporting.explorer") / "assets"
    for name in ASSETS:
        (target / name).write_bytes((source / name).read_bytes())
    return target


def write_html(folder: Path, title: str, data: Mapping[str, Any]) -> Path:
    from html import escape

    from capability_tests.reporting.summary import write_atomic

    html = f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="{CSP}">
<meta name="referrer" content="no-referrer">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{escape(title)}</title>
<link rel="stylesheet" href="{ASSET_DIR}/uPlot.min.css">
<link rel="stylesheet" href="{ASSET_DIR}/explorer.css">
</head>
<body>
<noscript>This page needs JavaScript (it runs only the scripts in the folder beside it).</noscript>
<main id="app" data-state="loading"></main>
<script type="application/json" id="explorer-data">{embed_json(data)}</script>
<script src="{ASSET_DIR}/uPlot.iife.min.js"></script>
<script src="{ASSET_DIR}/explorer.js"></script>
</body>
</html>
"""
    path = folder / INDEX
    write_atomic(path, html)
    return path


def _fresh_problem_dir(folder: Path) -> Path:
    target = folder / ASSET_DIR / PROBLEM_DIR
    if target.exists():
        shutil.rmtree(target)
    target.mkdir(parents=True)
    return target


def _write_problem(target: Path, name: str, page: Mapping[str, Any]) -> None:
    text = f"CTExplorer.problemLoaded({json.dumps(name)}, {embed_json(page)});\n"
    (target / name).write_text(text, encoding="utf-8")


def write_explorer(run_dir: str | Path, store_path: str | Path | None = None) -> Path:
    """Build `index.html` (and `explorer/`) in a run folder from what the folder holds: summary,
    problems, curves, per-sample records, and the texts from the completion store it names
    (`store_path` overrides). Returns the page's path. Rebuilding replaces the previous page."""
    from capability_tests.reporting.explorer.run_data import (
        SampleTexts,
        _read_json,
        load_benchmark_data,
        page_data,
        problem_pages,
    )
    from capability_tests.reporting.run_writer import SUMMARY

    run_dir = Path(run_dir)
    document = _read_json(run_dir / SUMMARY)
    names = sorted((document.get("benchmarks") or {}).keys())
    data, missing = load_benchmark_data(document, names)
    texts = SampleTexts(document, Path(store_path) if store_path else None, run_dir)
    try:
        target = _fresh_problem_dir(run_dir)
        written = set()
        for (benchmark, pid), page in problem_pages(run_dir, texts, data):
            name = problem_file(benchmark, pid)
            _write_problem(target, name, page)
            written.add((benchmark, pid))
    finally:
        texts.close()
    info = page_data(run_dir, data, missing, texts.why)
    for name, bench in info["benchmarks"].items():
        for row in bench["rows"]:
            row["f"] = problem_file(name, row["id"]) if (name, row["id"]) in written else None
    copy_assets(run_dir)
    return write_html(run_dir, f"{info['model']} · {info['run_id']}", info)


def write_compare_explorer(result: Mapping[str, Any], runs: Sequence, output: str | Path) -> Path:
    """The comparison page in `output`: every run's curves overlaid per benchmark with the
    crossovers, coverage sets per pair, and the problems only one run of a pair solves with both
    runs' samples (copied into `output`, so the folder stands alone)."""
    from capability_tests.reporting.explorer.run_data import (
        SampleTexts,
        figures,
        load_benchmark_data,
        problem_pages,
        read_curves,
    )

    output = Path(output)
    target = _fresh_problem_dir(output)
    benchmarks: dict[str, Any] = {}
    wanted: list[set[tuple[str, str]]] = [set() for _ in runs]
    index = {run.run_id: i for i, run in enumerate(runs)}
    for name, entry in (result.get("benchmarks") or {}).items():
        for pair in entry.get("pairs", []):
            cov = pair.get("coverage") or {}
            for side in ("a_only", "b_only"):
                for pid in cov.get(side) or []:
                    wanted[index[pair["a"]]].add((name, str(pid)))
                    wanted[index[pair["b"]]].add((name, str(pid)))
    loaded: list[dict[tuple[str, str], str]] = []
    for i, run in enumerate(runs):
        files: dict[tuple[str, str], str] = {}
        if wanted[i]:
            names = sorted({b for b, _ in wanted[i]})
            data, _ = load_benchmark_data(run.document, names)
            texts = SampleTexts(run.document, run_dir=run.path)
            try:
                for (benchmark, pid), page in problem_pages(run.path, texts, data, wanted[i]):
                    page["texts_why"] = texts.why
                    fname = problem_file(benchmark, pid, prefix=f"r{i}-")
                    _write_problem(target, fname, page)
                    files[(benchmark, pid)] = fname
            finally:
                texts.close()
        loaded.append(files)
    curves = [read_curves(run.path) for run in runs]
    results = [{(r.benchmark, r.problem_id): r for r in run.results} for run in runs]
    for name, entry in (result.get("benchmarks") or {}).items():
        pairs = []
        for pair in entry.get("pairs", []):
            ia, ib = index[pair["a"]], index[pair["b"]]
            only = []
            cov = pair.get("coverage") or {}
            for side in ("a_only", "b_only"):
                for pid in cov.get(side) or []:
                    key = (name, str(pid))
                    only.append({"id": str(pid), "solved_by": pair["a" if side == "a_only" else "b"],
                                 "runs": [_side(results[j].get(key), loaded[j].get(key))
                                          for j in (ia, ib)]})
            pairs.append({**{k: v for k, v in pair.items() if k != "difference"}, "only": only})
        bench_runs = []
        for i, run in enumerate(runs):
            bench = (run.document.get("benchmarks") or {}).get(name) or {}
            bench_runs.append({"run_id": run.run_id, "curve": curves[i].get(name),
                               "figures": figures(bench)})
        benchmarks[name] = {"runs": bench_runs, "pairs": pairs, "coverage": entry.get("coverage")}
    info = {
        "kind": "compare", "runs": result.get("runs"), "at_k": result.get("at_k"),
        "solved_at_k": result.get("solved_at_k"), "benchmarks": benchmarks,
        "setting_differences": result.get("setting_differences"),
        "confidence_interval": result.get("confidence_interval"),
    }
    copy_assets(output)
    return write_html(output, "pass@k comparison: " + " vs ".join(r.run_id for r in runs), info)


def _side(result, fname: str | None) -> dict[str, Any]:
    if result is None:
        return {"n": None, "c": None, "f": fname}
    return {"n": result.n, "c": result.correct, "f": fname}


def problem_files_of(folder: Path) -> Iterable[Path]:
    return sorted((folder / ASSET_DIR / PROBLEM_DIR).glob("*.js"))
