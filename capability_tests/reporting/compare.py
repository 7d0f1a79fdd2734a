"""Compare recorded runs per benchmark: overlaid curves, crossover k, per-problem coverage sets.

Definitions (also in docs/REPORTS.md):
- Pairs are compared on the problems both runs sampled (matched by problem id), up to the smaller
  of the two runs' n.
- The *leader* is the run ahead at the smallest k where the two mean curves differ; the *crossover*
  is the smallest k at which the other run (the trailer) is strictly ahead. None: never within k_max.
- Crossover uncertainty: a paired percentile bootstrap over problem ids (the same resampled ids for
  both runs). In each resample the crossover is the smallest k where the full-data trailer is
  strictly ahead (k=1 if it already leads there; "never" when it never does). We report the share of
  resamples with a crossover and the interval of resampled crossover ks, where "never" counts as
  beyond k_max (an upper bound of None).
- A crossover that has not happened by k_max is reported as "not within the sampled k", with the
  trend of the gap over the last doubling of k (leader minus trailer at k_max/2 and at k_max, and
  the paired bootstrap interval of its change); nothing is extrapolated beyond k_max.
- *Solved at k*: a problem's unbiased pass@k estimate is >= 0.5, i.e. a random k-subset of its n
  samples contains a correct one at least half the time. At k = n this is exactly "at least one of
  the n samples is correct" (pass@n is 1 or 0), the study's coverage. With three or more runs,
  `coverage.py` also counts the problems each subset of runs solves (N-way coverage).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np

from capability_tests.passk import report_ks
from capability_tests.reporting.bootstrap import (
    BootstrapSettings,
    column_chunks,
    resample_weights,
    resampled_means,
)
from capability_tests.reporting.coverage import SOLVED_THRESHOLD, coverage_markdown, coverage_table
from capability_tests.reporting.curves import (
    BenchmarkCurve,
    ProblemCounts,
    compute_curve,
    curve_table_json,
    format_value,
    problem_curve,
)
from capability_tests.reporting.recorded_runs import RecordedRun
from capability_tests.reporting.run_settings import (
    data_difference_text,
    data_differences,
    difference_text,
    setting_differences,
)
from capability_tests.results import ProblemResult

TOLERANCE = 1e-9
LIST_LIMIT = 20  # problem ids listed per set in Markdown (all of them are in the JSON)


@dataclass
class Paired:
    """Two runs on their common problems: per-problem curves up to k_max."""

    ids: list[str]
    a: list[ProblemCounts]
    b: list[ProblemCounts]
    k_max: int

    @classmethod
    def of(cls, a: Sequence[ProblemResult], b: Sequence[ProblemResult]) -> Paired:
        def sampled(rows):
            return {r.problem_id: ProblemCounts(r.n, r.correct) for r in rows
                    if r.error is None and r.n > 0}

        sa, sb = sampled(a), sampled(b)
        ids = sorted(set(sa) & set(sb))
        k_max = min([sa[i][0] for i in ids] + [sb[i][0] for i in ids], default=0)
        return cls(ids, [sa[i] for i in ids], [sb[i] for i in ids], k_max)

    @property
    def keys(self) -> list[tuple[int, int, int, int]]:
        return [(*x, *y) for x, y in zip(self.a, self.b)]

    def difference_row(self, key: tuple[int, int, int, int]) -> np.ndarray:
        return problem_curve(key[0], key[1], self.k_max) - problem_curve(key[2], key[3], self.k_max)

    def difference(self) -> np.ndarray:
        """Mean over problems of pass@k(a) - pass@k(b), k = 1..k_max."""
        return np.mean([self.difference_row(key) for key in self.keys], axis=0)


def _first_nonzero_sign(d: np.ndarray) -> int:
    nonzero = np.flatnonzero(np.abs(d) > TOLERANCE)
    return int(np.sign(d[nonzero[0]])) if nonzero.size else 0


def crossover(paired: Paired, settings: BootstrapSettings) -> dict[str, Any]:
    """The crossover of a's and b's curves, with its paired bootstrap distribution."""
    out: dict[str, Any] = {"k": None, "leader": None, "trailer": None, "interval": None,
                           "probability": None, "k_max": paired.k_max}
    if not paired.ids:
        return out
    d = paired.difference()
    sign = _first_nonzero_sign(d)
    if sign == 0:
        out["probability"] = 0.0
        return out
    out["leader"], out["trailer"] = ("a", "b") if sign > 0 else ("b", "a")
    behind = np.flatnonzero(sign * d < -TOLERANCE)
    out["k"] = int(behind[0]) + 1 if behind.size else None
    weights = resample_weights(len(paired.ids), settings)
    first = np.full(weights.shape[0], np.inf)
    keys = paired.keys
    for columns in column_chunks(paired.k_max, weights.shape[0]):
        todo = ~np.isfinite(first)
        if not todo.any():
            break
        means = resampled_means(weights[todo], keys, paired.difference_row, columns)
        hit = sign * means < -TOLERANCE
        found = hit.any(axis=1)
        where = np.flatnonzero(todo)[found]
        first[where] = columns.start + np.argmax(hit[found], axis=1) + 1
    finite = np.isfinite(first)
    out["probability"] = float(finite.mean())
    q_low, q_high = settings.quantiles
    low = np.quantile(first, q_low, method="lower")
    high = np.quantile(first, q_high, method="higher")
    out["interval"] = [int(low) if np.isfinite(low) else None, int(high) if np.isfinite(high) else None]
    out["within_sampled_k"] = out["k"] is not None
    if out["k"] is None and paired.k_max >= 2:
        out["gap_trend"] = gap_trend(paired, sign, weights, settings)
    return out


def gap_trend(paired: Paired, sign: int, weights: np.ndarray, settings: BootstrapSettings) -> dict[str, Any]:
    """Leader minus trailer at k_max // 2 and at k_max, and the change with its paired bootstrap
    interval: what the data say about the gap where no crossover was seen (no extrapolation)."""
    half, top = paired.k_max // 2, paired.k_max
    d = sign * paired.difference()
    rows = lambda key: sign * (paired.difference_row(key)[[top - 1]] - paired.difference_row(key)[[half - 1]])  # noqa: E731
    means = resampled_means(weights, paired.keys, rows, slice(None))[:, 0]
    change = float(d[top - 1] - d[half - 1])
    low, high = (float(q) for q in np.quantile(means, settings.quantiles))
    low, high = min(low, change), max(high, change)
    trend = "narrowing" if high < 0 else "widening" if low > 0 else "no significant change"
    return {"from_k": half, "to_k": top, "gap_from": float(d[half - 1]), "gap_to": float(d[top - 1]),
            "change": change, "interval": [low, high], "trend": trend}


def difference_table(paired: Paired, settings: BootstrapSettings, ks: Sequence[int]) -> dict[str, Any]:
    """a - b at each k in ks with a paired percentile interval."""
    if not paired.ids:
        return {}
    d = paired.difference()
    weights = resample_weights(len(paired.ids), settings)
    idx = np.array(ks) - 1
    table = {}
    keys = paired.keys
    rows = lambda key: paired.difference_row(key)[idx]  # noqa: E731
    means = resampled_means(weights, keys, rows, slice(None))
    lows, highs = np.quantile(means, settings.quantiles, axis=0)
    for j, k in enumerate(ks):
        low, high = min(lows[j], d[k - 1]), max(highs[j], d[k - 1])
        table[str(k)] = {"value": float(d[k - 1]), "interval": [float(low), float(high)]}
    return table


def coverage(paired: Paired, k: int) -> dict[str, Any]:
    """Problem ids solved at k by a only, b only, both, neither (see module doc for 'solved')."""
    if k > paired.k_max:
        return {"k": k, "error": f"k={k} is larger than the samples both runs have (n={paired.k_max})"}
    sets: dict[str, list[str]] = {"a_only": [], "b_only": [], "both": [], "neither": []}
    for pid, (na, ca), (nb, cb) in zip(paired.ids, paired.a, paired.b):
        sa = problem_curve(na, ca, k)[k - 1] >= SOLVED_THRESHOLD
        sb = problem_curve(nb, cb, k)[k - 1] >= SOLVED_THRESHOLD
        sets["both" if sa and sb else "a_only" if sa else "b_only" if sb else "neither"].append(pid)
    return {"k": k, **sets}


# Run settings that tell compared runs apart in labels (the model always shows).
LABEL_SETTINGS = ("engine", "template", "temperature", "top_p", "max_tokens", "seed", "sampling", "k")


def run_labels(runs: Sequence[RecordedRun]) -> dict[str, str]:
    """Label each run by its model plus the settings in which the compared runs differ (so two
    runs of one model at T=0.6 and T=1.0 read "model, temperature=1.0"); the run id where
    nothing differs."""
    settings = [r.document.get("run", {}) for r in runs]
    differing = [k for k in LABEL_SETTINGS if len({repr(s.get(k)) for s in settings}) > 1]
    labels = {
        run.run_id: ", ".join([run.model] + [f"{k}={s.get(k)}" for k in differing])
        for run, s in zip(runs, settings)
    }
    if len(set(labels.values())) < len(labels):  # still ambiguous: add the run id
        labels = {r.run_id: f"{labels[r.run_id]} ({r.run_id})" for r in runs}
    return labels


def compare_runs(
    runs: Sequence[RecordedRun], at_k: int | None = None, settings: BootstrapSettings | None = None
) -> dict[str, Any]:
    """Everything the comparison shows, as JSON primitives (plus curves for the plot)."""
    settings = settings or BootstrapSettings()
    labels = run_labels(runs)
    by_run = [run.by_benchmark() for run in runs]
    names = sorted({name for rb in by_run for name in rb})
    benchmarks: dict[str, Any] = {}
    curves: dict[str, list[tuple[str, BenchmarkCurve]]] = {}
    for name in names:
        entry: dict[str, Any] = {"runs": [], "pairs": []}
        curves[name] = []
        for run, rb in zip(runs, by_run):
            bench = compute_curve(name, rb.get(name, []), settings)
            curves[name].append((labels[run.run_id], bench))
            entry["runs"].append({
                "run_id": run.run_id, "model": run.model, "problems": bench.problems, "n": bench.n,
                **curve_table_json(bench),
            })
        for i in range(len(runs)):
            for j in range(i + 1, len(runs)):
                if name not in by_run[i] or name not in by_run[j]:
                    continue
                paired = Paired.of(by_run[i][name], by_run[j][name])
                ids = {"a": runs[i].run_id, "b": runs[j].run_id}
                pair: dict[str, Any] = {**ids, "paired_problems": len(paired.ids), "k_max": paired.k_max}
                if paired.ids:
                    cross = crossover(paired, settings)
                    for role in ("leader", "trailer"):
                        cross[role] = ids.get(cross[role]) if cross[role] else None
                    pair["crossover"] = cross
                    pair["difference"] = difference_table(paired, settings, report_ks(paired.k_max))
                    pair["coverage"] = coverage(paired, at_k or paired.k_max)
                entry["pairs"].append(pair)
        if len(runs) >= 3:
            entry["coverage"] = coverage_table([rb.get(name, []) for rb in by_run],
                                               [r.run_id for r in runs], at_k)
        benchmarks[name] = entry
    differences = [
        {"a": runs[i].run_id, "b": runs[j].run_id,
         "differences": setting_differences(runs[i].document, runs[j].document)}
        for i in range(len(runs)) for j in range(i + 1, len(runs))
    ]
    pairs = [(a, b) for a in range(len(runs)) for b in range(a + 1, len(runs))]
    for pair, (i, j) in zip(differences, pairs):
        data = data_differences(runs[i].document, runs[j].document)
        if data:  # only where the runs measured different data
            pair["data_differences"] = data
    return {
        "runs": [{"run_id": r.run_id, "model": r.model, "label": labels[r.run_id],
                  "path": str(r.path), "complete": r.complete} for r in runs],
        "setting_differences": differences,
        "at_k": at_k,
        "solved_at_k": f"pass@k estimate >= {SOLVED_THRESHOLD} (at k = n: at least one correct sample)",
        "confidence_interval": settings.to_json(),
        "benchmarks": benchmarks,
        "_curves": curves,
    }


def _k_text(k: int | None, k_max: int) -> str:
    return f"> {k_max} (none)" if k is None else str(k)


def _pp(value: float) -> str:
    """Percentage points with a sign; rounding noise (-0.0) prints as +0.0."""
    return f"{100 * value + 0.0:+.1f} pp" if abs(value) >= 5e-4 else "+0.0 pp"


def crossover_lines(name: str, pair: Mapping[str, Any], labels: Mapping[str, str]) -> list[str]:
    cross = pair.get("crossover")
    if not cross:
        return [f"- {name}: no problems in common between {pair['a']} and {pair['b']}"]
    if cross["leader"] is None:
        return [f"- {name}: the curves of {labels[pair['a']]} and {labels[pair['b']]} coincide"]
    lead, trail = labels[cross["leader"]], labels[cross["trailer"]]
    low, high = cross["interval"]
    interval = f"[{_k_text(low, cross['k_max'])}, {_k_text(high, cross['k_max'])}]"
    if cross["k"] is None:
        head = (f"- {name}: no crossover within the sampled k (k <= {cross['k_max']}): {trail} is "
                f"never strictly ahead of {lead}")
        trend = cross.get("gap_trend")
        if trend:
            low_c, high_c = trend["interval"]
            head += (f"; the gap ({lead} minus {trail}) is {_pp(trend['gap_from'])} at k = "
                     f"{trend['from_k']} and {_pp(trend['gap_to'])} at k = {trend['to_k']} "
                     f"({trend['trend']}: change {_pp(trend['change'])} "
                     f"[{_pp(low_c)}, {_pp(high_c)}]); whether the curves cross beyond "
                     f"k = {cross['k_max']} is not measured")
    else:
        head = f"- {name}: {trail} overtakes {lead} at k = {cross['k']}"
    return [f"{head} (paired bootstrap over problems: {trail} ahead at some k in "
            f"{100 * cross['probability']:.0f}% of resamples; crossover k interval {interval})"]


def difference_lines(result: Mapping[str, Any]) -> list[str]:
    """One line per pair of runs: every recorded setting that differs besides the model."""
    letters = {r["run_id"]: letter for letter, r in zip("ABCDEFGHIJKLMNOPQRSTUVWXYZ", result["runs"])}
    out = []
    for pair in result.get("setting_differences", []):
        a, b = letters[pair["a"]], letters[pair["b"]]
        out.append(f"- settings that differ between {a} ({pair['a']}) and {b} ({pair['b']}), besides "
                   f"the model: {difference_text(pair['differences'], a, b)}")
        if pair.get("data_differences"):
            out.append(f"- DATA DIFFERS between {a} and {b} (they measured different problems or "
                       f"answers): {data_difference_text(pair['data_differences'], a, b)}")
    return out


def markdown(result: Mapping[str, Any]) -> str:
    ci = result["confidence_interval"]
    labels = {r["run_id"]: r.get("label") or f"{r['model']} ({r['run_id']})" for r in result["runs"]}
    out = ["# pass@k comparison", "", "Runs:"]
    for letter, r in zip("ABCDEFGHIJKLMNOPQRSTUVWXYZ", result["runs"]):
        note = "" if r["complete"] else " **(incomplete run)**"
        label = labels[r["run_id"]]
        shown = label if r["run_id"] in label else f"{label}, `{r['run_id']}`"
        out.append(f"- {letter}: {shown}{note}")
    out += ["", *difference_lines(result)]
    out += ["", f"Cells: pass@k [{100 * ci['level']:.0f}% interval, {ci['method']}, "
                f"{ci['resamples']} resamples, seed {ci['seed']}].", ""]
    for name, entry in result["benchmarks"].items():
        out += [f"## {name}", ""]
        ks = sorted({int(k) for r in entry["runs"] for k in r["pass_at_k"]})
        out.append("| " + " | ".join(["run", "problems", "n"] + [f"pass@{k}" for k in ks]) + " |")
        out.append("|---|---:|---:|" + "---:|" * len(ks))
        for r in entry["runs"]:
            cells = [
                format_value(r["pass_at_k"][str(k)], r["pass_at_k_ci"][str(k)]) if str(k) in r["pass_at_k"] else ""
                for k in ks
            ]
            row = [labels[r["run_id"]], str(r["problems"]), str(r["n"]), *cells]
            out.append("| " + " | ".join(row) + " |")
        out.append("")
        for pair in entry["pairs"]:
            out += crossover_lines(name, pair, labels)
        out.append("")
        if entry.get("coverage"):
            out += coverage_markdown(entry["coverage"], labels)
        for pair in entry["pairs"]:
            cov = pair.get("coverage")
            if not cov:
                continue
            a, b = labels[pair["a"]], labels[pair["b"]]
            out += [f"Solved at k = {cov['k']} (pass@k estimate >= 0.5; at k = n: any correct) on "
                    f"{pair['paired_problems']} common problems:", ""]
            if "error" in cov:
                out += [f"- {cov['error']}", ""]
                continue
            out += ["| set | problems | ids |", "|---|---:|---|"]
            for key, title in (("a_only", f"{a} only"), ("b_only", f"{b} only"),
                               ("both", "both"), ("neither", "neither")):
                ids = cov[key]
                more = f", ... (+{len(ids) - LIST_LIMIT})" if len(ids) > LIST_LIMIT else ""
                shown = ", ".join(ids[:LIST_LIMIT]) + more
                out.append(f"| {title} | {len(ids)} | {shown} |")
            out.append("")
    return "\n".join(out) + "\n"


def write_comparison(
    runs: Sequence[RecordedRun],
    output: Path,
    at_k: int | None = None,
    settings: BootstrapSettings | None = None,
    plot: bool = True,
) -> dict[str, Any]:
    """Write compare.json, compare.md and compare.png into `output`; return the result."""
    from capability_tests.reporting.summary import write_atomic

    result = compare_runs(runs, at_k, settings)
    curves = result.pop("_curves")
    output.mkdir(parents=True, exist_ok=True)
    files = {"json": "compare.json", "markdown": "compare.md", "plot": None}
    if plot:
        from capability_tests.reporting.plots import plot_compare

        crosses = {
            name: [p["crossover"] for p in entry["pairs"] if p.get("crossover")]
            for name, entry in result["benchmarks"].items()
        }
        plot_compare(curves, crosses, output / "compare.png", title="pass@k comparison")
        files["plot"] = "compare.png"
    result["files"] = files
    text = markdown(result)
    if files["plot"]:
        text += f"\n![comparison]({files['plot']})\n"
    write_atomic(output / "compare.md", text)
    write_atomic(output / "compare.json", json.dumps(result, indent=2) + "\n")
    try:  # the comparison page: same explorer, overlaid runs (reporting/explorer/)
        from capability_tests.reporting.explorer import write_compare_explorer

        files["explorer"] = write_compare_explorer(result, runs, output).name
    except Exception as exc:  # the page never costs the comparison's numbers
        files["explorer"] = None
        result["explorer_error"] = f"{type(exc).__name__}: {exc}"
    result["_curves"] = curves
    return result
