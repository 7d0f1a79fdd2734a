"""`perplexity.json` and `perplexity.png` in each scored run folder.

Both are written only after every sample of every requested run has a stored score: a failed or
interrupted scoring leaves the previous files (or none), never a file that looks complete.
Each file is written beside its target and renamed into place. `perplexity.json` is streamed:
its per-sample lines pass through a temporary file, and memory holds one float per sample (for
the medians and the plot).
"""

from __future__ import annotations

import json
import tempfile
from array import array
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Sequence

from capability_tests.perplexity.measure import distribution, perplexity
from capability_tests.perplexity.recorded import RunInputError, RunSource

PERPLEXITY_JSON = "perplexity.json"
PERPLEXITY_PLOT = "perplexity.png"
SCHEMA = 1


@dataclass
class RunPerplexities:
    """One run's perplexities per benchmark (finite or inf; empty completions counted apart)."""

    source: RunSource
    values: dict[str, array] = field(default_factory=dict)
    empty: dict[str, int] = field(default_factory=dict)

    def summary(self) -> dict[str, dict[str, Any]]:
        out = {}
        for benchmark in sorted(set(self.values) | set(self.empty)):
            values = self.values.get(benchmark, array("d"))
            entry = distribution(values)
            entry["infinite"] = sum(1 for v in values if v == float("inf"))
            entry["empty_completions"] = self.empty.get(benchmark, 0)
            out[benchmark] = entry
        return out


def write_run_perplexity(source: RunSource, store, scorer_id: int, generation: int,
                         scorer: Mapping[str, Any]) -> RunPerplexities:
    """Write `perplexity.json` into the run folder from the stored scores."""
    result = RunPerplexities(source)
    target = source.path / PERPLEXITY_JSON
    with tempfile.TemporaryFile("w+", encoding="utf-8") as lines:
        first = True
        for samples in source.problems():
            scores = store.scores(scorer_id, generation, samples.prompt)
            for index in samples.indices:
                if index not in scores:
                    raise RunInputError(f"run {source.run_id}: {samples.benchmark}/"
                                        f"{samples.problem_id} #{index} has no stored score")
                tokens, total = scores[index]
                value = perplexity(tokens, total)
                if value is None:
                    result.empty[samples.benchmark] = result.empty.get(samples.benchmark, 0) + 1
                else:
                    result.values.setdefault(samples.benchmark, array("d")).append(value)
                row = {"benchmark": samples.benchmark, "problem_id": samples.problem_id,
                       "index": index, "tokens": tokens,
                       "mean_logprob": total / tokens if tokens else None,
                       "perplexity": _json_number(value)}
                lines.write(("" if first else ",\n") + json.dumps(row, ensure_ascii=False))
                first = False
        head = {
            "schema": SCHEMA,
            "run_id": source.run_id,
            "run_model": source.settings.get("model") or source.document.get("model"),
            "scoring_model": dict(scorer),
            "definition": "exp(-mean log-probability of the completion's tokens under the scoring "
                          "model, conditioned on the run's prompt); empty completions have none",
            "benchmarks": result.summary(),
        }
        for entry in head["benchmarks"].values():
            for name in ("median", "q1", "q3", "mean", "min", "max"):
                entry[name] = _json_number(entry[name])
        text = json.dumps(head, indent=2, ensure_ascii=False)
        part = target.with_name(target.name + ".part")
        with open(part, "w", encoding="utf-8") as out:
            out.write(text[:-2] + ',\n  "samples": [\n')  # head ends with "\n}"
            lines.seek(0)
            while chunk := lines.read(1 << 20):
                out.write(chunk)
            out.write("\n  ]\n}\n")
        part.replace(target)
    return result


def _json_number(value: float | None) -> float | str | None:
    """JSON has no infinity: an overflowed perplexity is written as the string "inf"."""
    if value is not None and value == float("inf"):
        return "inf"
    return value


def plot_perplexities(runs: Sequence[RunPerplexities], path: Path, title: str = "") -> Path:
    """One panel per benchmark, one box per run side by side (median, quartiles, whiskers at
    1.5 IQR), log y axis: the study's figure of the RL model's samples' perplexity under the
    base model next to the base model's own."""
    from capability_tests.reporting.plots import COLORS, _grid, _pyplot

    plt = _pyplot()
    benchmarks = sorted({b for r in runs for b, v in r.values.items() if len(v)})
    if not benchmarks:
        raise ValueError("no finite perplexities to plot")
    rows, cols = _grid(len(benchmarks))
    fig, axes = plt.subplots(rows, cols, figsize=(4.2 * cols + 1, 3.6 * rows + 0.6), squeeze=False)
    labels = [r.source.label for r in runs]
    for ax, benchmark in zip(axes.flat, benchmarks):
        data, positions, colors = [], [], []
        for i, run in enumerate(runs):
            values = [v for v in run.values.get(benchmark, ()) if v != float("inf")]
            if values:
                data.append(values)
                positions.append(i + 1)
                colors.append(COLORS[i % len(COLORS)])
        boxes = ax.boxplot(data, positions=positions, widths=0.6, patch_artist=True,
                           showfliers=True, flierprops={"markersize": 2, "alpha": 0.4})
        for patch, color in zip(boxes["boxes"], colors):
            patch.set_facecolor(color)
            patch.set_alpha(0.45)
        ax.set_yscale("log")
        from matplotlib.ticker import FormatStrFormatter

        ax.yaxis.set_major_formatter(FormatStrFormatter("%g"))
        ax.yaxis.set_minor_formatter(FormatStrFormatter("%g"))
        ax.set_xticks(range(1, len(runs) + 1))
        ax.set_xticklabels([f"run {i + 1}" for i in range(len(runs))])
        ax.set_title(benchmark)
        ax.set_ylabel("perplexity")
        ax.grid(True, axis="y", which="both", alpha=0.3)
    for ax in list(axes.flat)[len(benchmarks):]:
        ax.set_visible(False)
    legend = "\n".join(f"run {i + 1}: {label}" for i, label in enumerate(labels))
    fig.suptitle(title, fontsize=10)
    fig.text(0.01, 0.005, legend, fontsize=7, va="bottom")
    fig.tight_layout(rect=(0, 0.04 + 0.025 * len(runs), 1, 0.95))
    part = path.with_name(path.name + ".part.png")
    fig.savefig(part, dpi=110)
    plt.close(fig)
    part.replace(path)
    return path
