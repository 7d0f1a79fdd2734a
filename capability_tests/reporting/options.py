"""The reporting options of the pytest plugin (added by `add_options(group)`)."""

from __future__ import annotations

from capability_tests.reporting.bootstrap import DEFAULT_RESAMPLES
from capability_tests.reporting.gates import (
    DEFAULT_ALPHA,
    DEFAULT_BASELINE_KS,
    DROP_RULES,
    GATE_FAILED,
    baseline_ks,
    fail_under,
    family_alpha,
    max_drop,
)
from capability_tests.reporting.run_settings import SAMPLING_SETTINGS, allowed_settings


def _positive_int(text: str) -> int:
    from capability_tests.config import positive_int

    return positive_int(text)


def add_options(group) -> None:
    group.addoption("--fail-under", type=fail_under, action="append", default=[], metavar="SPEC",
                    help=f"fail the session (exit status {GATE_FAILED}) when a benchmark's pass@k "
                    "is below a threshold: BENCH:pass@K>=X, X a fraction or NN%%, BENCH * for all "
                    "(repeatable), e.g. aime24:pass@1>=0.25")
    group.addoption("--baseline", default=None, metavar="RUN",
                    help="a recorded run (folder under --report-dir, path, or 'latest') to gate "
                    "against: fails when pass@k dropped significantly; see --baseline-k, --max-drop, "
                    "--drop-rule, --baseline-alpha, --baseline-allow-different")
    group.addoption("--baseline-k", type=baseline_ks, default=DEFAULT_BASELINE_KS, metavar="KS",
                    help="with --baseline: the ks to test, comma-separated (e.g. 1,64), or 'all' "
                    "(every table k). Default 1: pass@1 averages every sample, so it is the least "
                    "noisy pass@k and exists for any n")
    group.addoption("--baseline-alpha", type=family_alpha, default=DEFAULT_ALPHA, metavar="A",
                    help="with --baseline: the family-wise false-alarm rate across all tested "
                    f"(benchmark, k) pairs, Holm-corrected (default {DEFAULT_ALPHA})")
    group.addoption("--max-drop", type=max_drop, default=0.0, metavar="D",
                    help="with --baseline: a practical tolerance; a drop must exceed D to fail "
                    "(fraction or NN%%; default 0: any significant drop fails)")
    group.addoption("--drop-rule", choices=DROP_RULES, default="significant",
                    help="with --baseline: 'significant' (default) fails a drop above --max-drop "
                    "only when its Holm-adjusted one-sided sign-flip p-value is <= --baseline-alpha; "
                    "'point' fails on the point estimate alone (no false-alarm control)")
    group.addoption("--baseline-allow-different", type=allowed_settings, action="append", default=[],
                    metavar="SETTINGS",
                    help="with --baseline: gate even though these sampling settings differ from the "
                    f"baseline's (comma-separated: {', '.join(SAMPLING_SETTINGS)}; or 'all'); "
                    "otherwise a difference is a usage error")
    group.addoption("--compare", action="append", default=[], metavar="RUN",
                    help="after the run, overlay it with recorded run RUN (repeatable): curves, "
                    "crossover k, per-problem coverage; written to <run folder>/compare/")
    group.addoption("--at-k", type=_positive_int, default=None, metavar="K",
                    help="k for the comparison's solved-by-A-only/B-only/both/neither sets "
                    "(default: the largest k both runs have)")
    group.addoption("--bootstrap-resamples", type=_positive_int, default=DEFAULT_RESAMPLES,
                    metavar="N", help=f"bootstrap resamples for intervals (default {DEFAULT_RESAMPLES})")
