"""The reporting options of the pytest plugin (added by `add_options(group)`)."""

from __future__ import annotations

from capability_tests.reporting.bootstrap import DEFAULT_RESAMPLES
from capability_tests.reporting.gates import DROP_RULES, GATE_FAILED, fail_under, max_drop


def _positive_int(text: str) -> int:
    from capability_tests.config import positive_int

    return positive_int(text)


def add_options(group) -> None:
    group.addoption("--fail-under", type=fail_under, action="append", default=[], metavar="SPEC",
                    help=f"fail the session (exit status {GATE_FAILED}) when a benchmark's pass@k "
                    "is below a threshold: BENCH:pass@K>=X, X a fraction or NN%%, BENCH * for all "
                    "(repeatable), e.g. aime24:pass@1>=0.25")
    group.addoption("--baseline", default=None, metavar="RUN",
                    help="a recorded run (folder under --report-dir, path, or 'latest') to compare "
                    "with; see --max-drop and --drop-rule")
    group.addoption("--max-drop", type=max_drop, default=0.0, metavar="D",
                    help="with --baseline: the largest pass@k drop tolerated at any table k "
                    "(fraction or NN%%; default 0)")
    group.addoption("--drop-rule", choices=DROP_RULES, default="significant",
                    help="with --baseline: 'significant' (default) fails a drop above --max-drop "
                    "only when its paired bootstrap interval excludes 0; 'point' fails on the "
                    "point estimate alone")
    group.addoption("--compare", action="append", default=[], metavar="RUN",
                    help="after the run, overlay it with recorded run RUN (repeatable): curves, "
                    "crossover k, per-problem coverage; written to <run folder>/compare/")
    group.addoption("--at-k", type=_positive_int, default=None, metavar="K",
                    help="k for the comparison's solved-by-A-only/B-only/both/neither sets "
                    "(default: the largest k both runs have)")
    group.addoption("--bootstrap-resamples", type=_positive_int, default=DEFAULT_RESAMPLES,
                    metavar="N", help=f"bootstrap resamples for intervals (default {DEFAULT_RESAMPLES})")
