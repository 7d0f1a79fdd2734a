"""`capability-tests compare RUN...`: overlay recorded runs (see compare.py for the definitions)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from capability_tests.options import add_arguments
from capability_tests.reporting.bootstrap import DEFAULT_SEED


def add_parser(sub) -> argparse.ArgumentParser:
    parser = sub.add_parser(
        "compare",
        help="compare recorded runs: pass@k curves with bands, crossover k, coverage sets "
        "(N-way with three or more runs)",
        description="Overlay recorded runs per benchmark. RUN is a run folder under --report-dir "
        "(its run id), a path to a run folder or its summary.json, or 'latest'. Writes "
        "compare.png, compare.md, compare.json and index.html (the comparison explorer, "
        "opens offline) and prints the Markdown.",
    )
    parser.add_argument("runs", nargs="+", metavar="RUN", help="two or more recorded runs")
    add_arguments(parser, "compare")  # --report-dir, --at-k, --bootstrap-resamples (--resamples)
    parser.add_argument("--output", "-o", default=None, metavar="DIR",
                        help="output folder (default <report-dir>/compare-<run ids>)")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED, help="bootstrap seed (default 0)")
    parser.add_argument("--no-plot", action="store_true", help="skip the PNG")
    parser.set_defaults(handler=run)
    return parser


def run(args: argparse.Namespace) -> int:
    from capability_tests.reporting.bootstrap import BootstrapSettings
    from capability_tests.reporting.compare import write_comparison
    from capability_tests.reporting.recorded_runs import RunNotFound, load_run

    report_dir = Path(args.report_dir)
    if len(args.runs) < 2:
        print("capability-tests compare: error: give at least two runs", file=sys.stderr)
        return 2
    try:
        runs = [load_run(spec, report_dir) for spec in args.runs]
    except RunNotFound as exc:
        print(f"capability-tests compare: error: {exc}", file=sys.stderr)
        return 2
    output = Path(args.output) if args.output else report_dir / (
        "compare-" + "-vs-".join(r.run_id for r in runs)
    )[:200]
    settings = BootstrapSettings(resamples=args.bootstrap_resamples, seed=args.seed)
    result = write_comparison(runs, output, args.at_k, settings, plot=not args.no_plot)
    sys.stdout.write((output / "compare.md").read_text(encoding="utf-8"))
    print(f"\nwritten: {output}/compare.md, compare.json"
          + (", compare.png" if result["files"]["plot"] else "")
          + (", index.html" if result["files"].get("explorer") else ""))
    if result["files"].get("explorer"):
        print(f"comparison explorer: {(output / result['files']['explorer']).resolve().as_uri()}")
    elif result.get("explorer_error"):
        print(f"comparison explorer not written: {result['explorer_error']}")
    return 0
