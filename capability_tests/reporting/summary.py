"""Aggregate per-problem results into per-benchmark pass@k, and write them out.

Writers: the terminal table, `summary.json` (schema 2: schema 1's keys plus run metadata and
bootstrap intervals) and the Markdown report. The run folder writer (`run_writer.py`) calls these.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Sequence

from capability_tests.reporting.curves import BenchmarkCurve, analyses_json, format_value
from capability_tests.reporting.metrics import MAJ_AT_K, secondary_metrics

SCHEMA_VERSION = 2
RUN_SETTINGS = ("model", "engine", "k", "temperature", "top_p", "max_tokens", "seed", "template")


@dataclass(frozen=True)
class BenchmarkSummary:
    name: str
    problems: int  # problems with samples
    errors: int  # problems that could not be sampled (bad row, engine failure)
    n: int  # samples per problem (the smallest, if they differ)
    pass_at_k: Mapping[int, float]
    grading_timeouts: int
    pass_at_k_ci: Mapping[int, tuple[float, float]] | None = None
    wrong: int = 0  # samples with an answer that differs from the reference
    no_answer: int = 0  # samples where no final answer was found
    grading_errors: int = 0  # samples not graded (failure outside the completion)
    grader_errors: int = 0  # verdicts of a verifier that raised: counted as not correct
    # maj@k, pass^k, last doubling, guessing, rare solves (curves.analyses_json; docs/ANALYSES.md)
    analyses: Mapping[str, Any] = field(default_factory=dict)

    def outcome_line(self) -> str:
        return (f"{self.wrong} wrong answers, {self.no_answer} with no answer found, "
                f"{self.grading_timeouts} grading timeouts (counted wrong), "
                f"{self.grading_errors} grading errors (not graded)"
                + (f", {self.grader_errors} grader errors (a verifier raised; counted not "
                   "correct)" if self.grader_errors else ""))

    def to_json(self) -> dict[str, Any]:
        out = {
            "problems": self.problems,
            "errors": self.errors,
            "n": self.n,
            "pass_at_k": {str(k): v for k, v in self.pass_at_k.items()},
            "grading_timeouts": self.grading_timeouts,
            "wrong": self.wrong,
            "no_answer": self.no_answer,
            "grading_errors": self.grading_errors,
            "grader_errors": self.grader_errors,
        }
        if self.pass_at_k_ci is not None:
            out["pass_at_k_ci"] = {str(k): list(v) for k, v in self.pass_at_k_ci.items()}
        out.update(self.analyses)
        return out

    @classmethod
    def from_curve(cls, bench: BenchmarkCurve) -> BenchmarkSummary:
        return cls(
            name=bench.name,
            problems=bench.problems,
            errors=bench.errors,
            n=bench.n,
            pass_at_k={k: bench.at(k) for k in bench.ks},
            grading_timeouts=bench.grading_timeouts,
            pass_at_k_ci={k: bench.interval(k) for k in bench.ks},
            wrong=bench.wrong,
            no_answer=bench.no_answer,
            grading_errors=bench.grading_errors,
            grader_errors=bench.grader_errors,
            analyses=analyses_json(bench),
        )


def summary_document(
    run: Mapping[str, Any],
    summaries: Mapping[str, BenchmarkSummary],
    complete: bool,
    extra: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    document: dict[str, Any] = {
        "schema": SCHEMA_VERSION,
        "complete": complete,
        "run": dict(run),
    }
    document.update(extra or {})
    document["benchmarks"] = {name: s.to_json() for name, s in summaries.items()}
    return document


def terminal_lines(summaries: Mapping[str, BenchmarkSummary]) -> list[str]:
    lines = []
    level = None
    for s in summaries.values():
        ks = list(s.pass_at_k)
        width = 22 if s.pass_at_k_ci else 10
        header = f"{'benchmark':<16}{'problems':>9}{'n':>6}" + "".join(
            f"{'pass@' + str(k):>{width}}" for k in ks
        )
        cells = [
            format_value(v, s.pass_at_k_ci.get(k) if s.pass_at_k_ci else None)
            for k, v in s.pass_at_k.items()
        ]
        values = f"{s.name:<16}{s.problems:>9}{s.n:>6}" + "".join(f"{c:>{width}}" for c in cells)
        lines += [header, values]
        level = level or bool(s.pass_at_k_ci)
        lines.append(f"  samples: {s.outcome_line()}")
        for metric in secondary_metrics():
            values = s.analyses.get(metric.key)
            if values:
                label = metric.symbol
                lines.append(f"  {metric.name}: " + ", ".join(f"{label}{k} {100 * v:.1f}%" for k, v in values.items()))
        note = adequacy_note(s)
        if note:
            lines.append(f"  {note}")
        if s.errors:
            lines.append(f"  ({s.errors} problem(s) errored and are not counted"
                         + (f"; {s.grading_errors} sample(s) could not be graded: the next run "
                            "grades them" if s.grading_errors else "") + ")")
    if level:
        lines.append("[low, high]: 95% percentile bootstrap interval over problems (see docs/REPORTS.md)")
    return lines


def adequacy_note(s: BenchmarkSummary) -> str | None:
    """The sampling-adequacy sentence for a benchmark whose pass@k is still rising at n."""
    d = s.analyses.get("last_doubling")
    if not d or not d.get("rising"):
        return None
    low, high = d["interval"]
    return (f"still rising at k = n = {d['to_k']}: pass@{d['to_k']} - pass@{d['from_k']} = "
            f"{100 * d['gain']:+.1f} pp [{100 * low:+.1f}, {100 * high:+.1f}]; more samples would "
            "likely raise it, so its coverage at n is a lower bound")


def _curve_table(summaries: Mapping[str, BenchmarkSummary], key: str, label: str) -> list[str]:
    rows = {name: s for name, s in summaries.items() if s.analyses.get(key)}
    ks = sorted({int(k) for s in rows.values() for k in s.analyses[key]})
    if not rows:
        return []
    out = ["| " + " | ".join(["benchmark", "n"] + [f"{label}{k}" for k in ks]) + " |",
           "|---|---:|" + "---:|" * len(ks)]
    for s in rows.values():
        values, ci = s.analyses[key], s.analyses.get(key + "_ci") or {}
        cells = [format_value(values[str(k)], tuple(ci[str(k)]) if str(k) in ci else None)
                 if str(k) in values else "" for k in ks]
        out.append("| " + " | ".join([s.name, str(s.n), *cells]) + " |")
    return out


def analyses_markdown(summaries: Mapping[str, BenchmarkSummary]) -> list[str]:
    """maj@k, pass^k, sampling adequacy, guessing and rare solves (docs/ANALYSES.md)."""
    out: list[str] = []
    for metric in secondary_metrics():
        table = _curve_table(summaries, metric.key, metric.symbol)
        if table:
            description = metric.description
            if metric is MAJ_AT_K:
                methods = sorted({s.analyses.get("maj_at_k_method") for s in summaries.values()} - {None})
                description += f" Estimate: {', '.join(methods)} (docs/ANALYSES.md)."
            out += [f"## {metric.title}", "", *table, "", description, ""]
        missing = [f"- {s.name}: {metric.name} not computed: {s.analyses[metric.key + '_note']}"
                   for s in summaries.values() if s.analyses.get(metric.key + "_note")]
        if missing:
            out += missing + [""]
    adequacy = [s for s in summaries.values() if s.analyses.get("last_doubling")]
    if adequacy:
        out += ["## Sampling adequacy", "",
                "| benchmark | last doubling | gain | interval | still rising |", "|---|---|---:|---|---|"]
        for s in adequacy:
            d = s.analyses["last_doubling"]
            low, high = d["interval"]
            out.append(f"| {s.name} | pass@{d['to_k']} - pass@{d['from_k']} | {100 * d['gain']:+.1f} pp | "
                       f"[{100 * low:+.1f}, {100 * high:+.1f}] | {'yes' if d['rising'] else 'no'} |")
        out.append("")
        notes = [f"- **{s.name}**: {adequacy_note(s)}." for s in adequacy if adequacy_note(s)]
        out += (notes + [""]) if notes else []
    guessing = [s for s in summaries.values() if s.analyses.get("guessing")]
    for s in guessing:
        g = s.analyses["guessing"]
        low, high = g["answer_range"]
        cells = ", ".join(f"k={k}: {100 * v:.1f}%" for k, v in g["pass_at_k"].items())
        out += [f"**{s.name}**: a uniform guesser over the {high - low + 1} integers {low}-{high} "
                f"reaches pass@k {cells} (dashed line on the plot).", ""]
    rare = [s for s in summaries.values() if s.analyses.get("rare_solves")]
    if rare:
        out += ["## Rare solves", "", f"Rare solve: {rare[0].analyses['rare_solves']['definition']}.", ""]
        for s in rare:
            r = s.analyses["rare_solves"]
            ids = ", ".join(f"{p['problem_id']} ({p['correct']}/{p['n']}, {p['distinct_answers']} distinct)"
                            for p in r["problems"]) or "none"
            d = s.analyses.get("distinct_answers") or {}
            out.append(f"- {s.name}: {len(r['problems'])} rare solve(s): {ids}. Distinct answers per "
                       f"problem: mean {d.get('mean', 0):.1f}, max {d.get('max', 0)}.")
            if r["problems"]:
                cells = ", ".join(
                    f"pass@{k} {100 * s.pass_at_k[int(k)]:.1f}% -> {100 * v:.1f}%"
                    for k, v in r["pass_at_k_without"].items() if int(k) in s.pass_at_k)
                out.append(f"  Without them: {cells}.")
        out.append("")
    return out


def markdown_table(summaries: Mapping[str, BenchmarkSummary]) -> list[str]:
    ks = sorted({k for s in summaries.values() for k in s.pass_at_k})
    out = ["| " + " | ".join(["benchmark", "problems", "n"] + [f"pass@{k}" for k in ks]) + " |"]
    out.append("|---|---:|---:|" + "---:|" * len(ks))
    for s in summaries.values():
        cells = [
            format_value(s.pass_at_k[k], (s.pass_at_k_ci or {}).get(k)) if k in s.pass_at_k else ""
            for k in ks
        ]
        out.append("| " + " | ".join([s.name, str(s.problems), str(s.n), *cells]) + " |")
    return out


def markdown(
    run: Mapping[str, Any],
    summaries: Mapping[str, BenchmarkSummary],
    complete: bool,
    *,
    title: str = "# pass@k summary",
    run_id: str | None = None,
    interval: Mapping[str, Any] | None = None,
    plot: str | None = None,
    gates: Sequence[Mapping[str, Any]] = (),
    data: Mapping[str, Any] | None = None,
    grader: Mapping[str, Any] | None = None,
) -> str:
    out = [title, ""]
    if not complete:
        out += ["**Incomplete run**: the session stopped before every selected test ran; the "
                "numbers cover the problems that finished.", ""]
    if run_id:
        out += [f"Run id: `{run_id}`", ""]
    settings = ", ".join(f"{key}={run.get(key)}" for key in RUN_SETTINGS)
    out += [f"Run: {settings}", ""]
    out += markdown_table(summaries)
    out.append("")
    if interval:
        out += [
            f"Cells: pass@k estimate [{100 * interval['level']:.0f}% interval]; interval = "
            f"{interval['method']}, {interval['resamples']} resamples, seed {interval['seed']}.",
            "",
        ]
    notes = [
        f"- {s.name}: {s.errors} problem(s) errored and are not counted" for s in summaries.values() if s.errors
    ]
    if notes:
        out += notes + [""]
    out += analyses_markdown(summaries)
    out += ["## Samples", "",
            "| benchmark | wrong answers | no answer found | grading timeouts | grading errors "
            "| grader errors |",
            "|---|---:|---:|---:|---:|---:|"]
    out += [f"| {s.name} | {s.wrong} | {s.no_answer} | {s.grading_timeouts} | {s.grading_errors} "
            f"| {s.grader_errors} |" for s in summaries.values()]
    out += ["", "Grading timeouts count as wrong; samples with a grading error are not graded "
            "(their problem errors and the next run grades them); a grader error (the verifier "
            "raised) is a verdict that counts as not correct.", ""]
    if grader:
        out += [f"Grader: `{grader.get('identity')}` ({grader.get('regraded', 0)} stored verdicts "
                "of another grader regraded this run).", ""]
    if gates:
        out += ["## Gates", ""]
        out += [f"- {'NOTE' if g.get('note') else 'PASS' if g['passed'] else 'FAIL'}: {g['message']}"
                for g in gates]
        out.append("")
    if data:
        out += ["## Data", "", "| benchmark | source | file sha256 | problems | problems sha256 |",
                "|---|---|---|---:|---|"]
        for name, d in data.items():
            file_hash = (d.get("file_sha256") or "")[:16]
            out.append(
                f"| {name} | {d.get('source')} | {file_hash} | {d.get('problems')} | "
                f"{(d.get('problems_sha256') or '')[:16]} |"
            )
        out.append("")
    if plot:
        out += [f"![pass@k, maj@k and pass^k curves]({plot})", ""]
    return "\n".join(out) + "\n"


def write_atomic(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=path.name, dir=path.parent)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)
    os.replace(tmp, path)
