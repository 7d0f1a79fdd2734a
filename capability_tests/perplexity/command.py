"""`capability-tests perplexity --model BASE RUN [RUN ...]`: score recorded runs' completions under
BASE and write `perplexity.json` + `perplexity.png` into each run folder (docs/ANALYSES.md,
"Perplexity under another model").

Exit status 0 when every run's file was written, 2 when a run, the store or the scoring model
cannot be used (one message naming it; scores of finished batches stay stored), 130 on Ctrl-C.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from capability_tests.perplexity.scoring import DEFAULT_BATCH


def add_parser(sub) -> argparse.ArgumentParser:
    from capability_tests.config import positive_int

    parser = sub.add_parser(
        "perplexity",
        help="score recorded runs' completions under another model (perplexity.json per run)",
        description=__doc__.split("\n\n")[0] + " RUN is a run folder under --report-dir (its run "
        "id), a path to a run folder or its summary.json, or 'latest'. Scores are stored in the "
        "run's completion store, so a rerun scores nothing again.",
    )
    parser.add_argument("runs", nargs="+", metavar="RUN", help="recorded runs to score")
    from capability_tests.options import add_arguments

    add_arguments(parser, "perplexity")  # --model, --engine, --engine-arg, --report-dir, --store, --data-dir
    parser.add_argument("--batch-size", type=positive_int, default=DEFAULT_BATCH, metavar="N",
                        help=f"samples per engine call (default {DEFAULT_BATCH})")
    parser.add_argument("--no-plot", action="store_true", help="skip perplexity.png")
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    parser.set_defaults(func=run)
    return parser


def run(args: argparse.Namespace) -> int:
    from capability_tests.perplexity.recorded import RunInputError, open_run
    from capability_tests.perplexity.report import (
        PERPLEXITY_PLOT,
        plot_perplexities,
        write_run_perplexity,
    )
    from capability_tests.perplexity.scoring import Scorer, ScoringError, StoreSet, score_runs

    def fail(message: str) -> int:
        print(f"capability-tests perplexity: error: {message}", file=sys.stderr)
        return 2

    engine_args = dict(args.engine_arg)
    scorer = Scorer(args.model, args.engine, engine_args,
                    progress=not args.quiet and sys.stderr.isatty())
    stores = StoreSet()
    try:
        try:
            sources = [open_run(spec, Path(args.report_dir),
                                store=Path(args.store) if args.store else None,
                                data_dir=Path(args.data_dir) if args.data_dir else None)
                       for spec in args.runs]
            score_runs(sources, scorer, stores, batch_size=args.batch_size)
            identity = scorer.identity()
            key = scorer.key()
            results = []
            for source in sources:
                store = stores.get(source.store_path)
                generation = store.find_generation(source.generation_key)
                results.append(write_run_perplexity(source, store, store.scorer_id(key),
                                                    generation, identity))
        except (RunInputError, ScoringError) as exc:
            return fail(str(exc))
        finally:
            scorer.close()
        for result in results:
            print(f"{result.source.run_id}: {result.source.path / 'perplexity.json'}")
            for benchmark, entry in result.summary().items():
                if entry["median"] is None:
                    print(f"  {benchmark:<16} no finite perplexity ({entry['empty_completions']} "
                          "empty completions)")
                    continue
                print(f"  {benchmark:<16} median {entry['median']:.3f}  quartiles "
                      f"{entry['q1']:.3f} - {entry['q3']:.3f}  ({entry['count']} samples)")
        if not args.no_plot and any(len(v) for r in results for v in r.values.values()):
            title = f"perplexity under {args.model}"
            for result in results:
                target = result.source.path / PERPLEXITY_PLOT
                try:
                    plot_perplexities(results, target, title)
                except Exception as exc:  # a plot never costs the numbers
                    print(f"capability-tests perplexity: no plot ({type(exc).__name__}: {exc})",
                          file=sys.stderr)
                    break
                print(f"written: {target}")
        return 0
    except KeyboardInterrupt:
        print("capability-tests perplexity: interrupted; the scores of finished batches are "
              "stored, no perplexity.json was written for unfinished runs", file=sys.stderr)
        return 130
    finally:
        stores.close()
