"""Figures: pass@k against k on a log2 axis, one panel per benchmark, bootstrap bands; a run's
panels also carry maj@k and pass^k (with bands), pass@k without the rare solves (dotted) and a
uniform guesser's pass@k (dashed) where the benchmark has them.

matplotlib is imported lazily, with the Agg backend (no display needed).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np

from capability_tests.reporting.curves import Band, BenchmarkCurve
from capability_tests.reporting.metrics import secondary_metrics

COLORS = ("#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf")


def _pyplot():
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def _grid(panels: int) -> tuple[int, int]:
    cols = min(3, panels)
    return math.ceil(panels / cols), cols


def _style_axis(ax, max_k: int, title: str) -> None:
    ax.set_xscale("log", base=2)
    ax.set_xlim(1, max(2, max_k))
    ticks = [2**i for i in range(0, int(math.log2(max(2, max_k))) + 1)]
    if len(ticks) > 9:
        ticks = ticks[:: math.ceil(len(ticks) / 9)]
    ax.set_xticks(ticks)
    ax.set_xticklabels([str(t) for t in ticks])
    ax.set_ylim(0, 100)
    ax.set_xlabel("k (samples)")
    ax.set_ylabel("% of problems")
    ax.set_title(title)
    ax.grid(True, which="major", alpha=0.3)


def _draw(ax, bench: BenchmarkCurve, color: str, label: str, marker: str = "o") -> None:
    ks = np.arange(1, bench.n + 1)
    ax.fill_between(ks, 100 * bench.low, 100 * bench.high, color=color, alpha=0.18, linewidth=0)
    ax.plot(ks, 100 * bench.curve, color=color, linewidth=1.8, label=label)
    table_ks = np.array(bench.ks)
    ax.plot(table_ks, 100 * bench.curve[table_ks - 1], marker, color=color, markersize=4)


def _draw_band(ax, band: Band, n: int, color: str, label: str) -> None:
    ks = np.arange(1, n + 1)
    ax.fill_between(ks, 100 * band.low[:n], 100 * band.high[:n], color=color, alpha=0.15, linewidth=0)
    ax.plot(ks, 100 * band.curve[:n], color=color, linewidth=1.4, label=label)


def _draw_analyses(ax, bench: BenchmarkCurve) -> None:
    """Every registered metric (maj@k, pass^k, ...), pass@k without rare solves, the uniform
    guesser (docs/ANALYSES.md)."""
    n = bench.n
    ks = np.arange(1, n + 1)
    for metric in secondary_metrics():
        found = bench.bands.get(metric.name)
        if found is not None:
            _draw_band(ax, found, n, metric.color, f"{metric.title} (95% band)")
    if bench.without_rare is not None and bench.rare_solves:
        ax.plot(ks, 100 * bench.without_rare.curve[:n], color=COLORS[0], linestyle=":", linewidth=1.4,
                label="pass@k without rare solves")
    if bench.guessing is not None:
        low, high = bench.answer_range
        ax.plot(ks, 100 * bench.guessing[:n], color="grey", linestyle="--", linewidth=1.2,
                label=f"uniform guesser ({low}-{high})")


def plot_run(
    curves: Mapping[str, BenchmarkCurve], path: Path, title: str = "", complete: bool = True
) -> Path:
    plt = _pyplot()
    shown = [c for c in curves.values() if c.problems]
    rows, cols = _grid(len(shown))
    fig, axes = plt.subplots(rows, cols, figsize=(4.6 * cols, 3.8 * rows), squeeze=False)
    handles = {}
    for ax, bench in zip(axes.flat, shown):
        _draw(ax, bench, COLORS[0], "pass@k (95% band)")
        _draw_analyses(ax, bench)
        _style_axis(ax, bench.n, f"{bench.name}  ({bench.problems} problems, n={bench.n})")
        for line in ax.get_lines():
            if not line.get_label().startswith("_"):
                handles.setdefault(line.get_label(), line)
    for ax in list(axes.flat)[len(shown):]:
        ax.set_visible(False)
    if handles:
        axes.flat[0].legend(list(handles.values()), list(handles), loc="best", fontsize=7)
    if not complete:
        title = f"{title}  [INCOMPLETE RUN]"
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def plot_compare(
    panels: Mapping[str, Sequence[tuple[str, BenchmarkCurve]]],
    crossovers: Mapping[str, Sequence[Mapping]],
    path: Path,
    title: str = "",
) -> Path:
    """`panels[benchmark]` = [(label, curve) per run]; `crossovers[benchmark]` = crossover dicts
    (`k`, `interval` [low, high or None]) drawn as a dotted line with a shaded k interval."""
    plt = _pyplot()
    names = [name for name, runs in panels.items() if any(c.problems for _, c in runs)]
    rows, cols = _grid(len(names))
    runs = max((len(panels[name]) for name in names), default=1)
    ncol = max(1, min(runs, cols))
    has_cross = any(c.get("k") is not None for name in names for c in crossovers.get(name, ()))
    legend_rows = math.ceil((runs + has_cross) / ncol)
    legend_in = 0.2 * legend_rows + 0.1
    height = 4.0 * rows + legend_in
    fig, axes = plt.subplots(rows, cols, figsize=(max(6.4, 5.2 * cols), height), squeeze=False)
    handles = {}
    for ax, name in zip(axes.flat, names):
        max_k = 1
        for i, (label, bench) in enumerate(panels[name]):
            if not bench.problems:
                continue
            _draw(ax, bench, COLORS[i % len(COLORS)], label, marker="os^vD<>p"[i % 8])
            max_k = max(max_k, bench.n)
        for cross in crossovers.get(name, ()):
            if cross.get("k") is None:
                continue
            low, high = (cross.get("interval") or [None, None])[:2]
            if low is not None:
                ax.axvspan(low, high if high is not None else max_k, color="grey", alpha=0.12, linewidth=0)
            ax.axvline(cross["k"], color="black", linestyle=":", linewidth=1.2)
            span = "" if low is None else f" [{low}, {high if high is not None else '>' + str(max_k)}]"
            ax.annotate(f"crossover k={cross['k']}{span}", xy=(cross["k"], 4), xytext=(4, 0),
                        textcoords="offset points", fontsize=8, rotation=90, va="bottom")
        problems = max(b.problems for _, b in panels[name])
        _style_axis(ax, max_k, f"{name}  ({problems} problems)")
        for line in ax.get_lines():
            label = line.get_label()
            if not label.startswith("_") and label not in handles:
                handles[label] = line
    for ax in list(axes.flat)[len(names):]:
        ax.set_visible(False)
    if has_cross:
        from matplotlib.patches import Patch

        handles["crossover k (dotted), its bootstrap interval (grey)"] = Patch(color="grey", alpha=0.25)
    if handles:
        fig.legend(list(handles.values()), list(handles), loc="lower center",
                   ncol=ncol, fontsize=8, frameon=False)
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout(rect=(0, legend_in / height, 1, 1))
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path
