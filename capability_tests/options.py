"""The one table of command-line options: the pytest plugin's options (`pytest --model X --k 8`,
`capability-tests run`) and the subcommands' shared arguments (`--report-dir`, `--store`,
`--data-dir`, `--engine`, `--engine-arg`, ...) are generated from `OPTIONS`, so a flag, its
type (the validator that makes a bad value a usage error naming the option), its default and its
help are written once. Modelled on vLLM's `EngineArgs` (one source for every option).

`Option.commands` says where a flag exists: `RUN` (the pytest plugin) and the subcommands by name;
`Option.per_command` changes a keyword for one command (a subcommand's help, a required flag).
The validated values become `config.RunConfig` (sampling, engine, data, store: built by
`plugin/options.py`) and `reporting.session.ReportConfig` (gates, baseline, comparisons).
Positional arguments and flags that only one subcommand has stay in that subcommand's module.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

from capability_tests import config as cfg
from capability_tests.engines.base import ServerSettings
from capability_tests.models import EMBEDDED_ALIAS
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

RUN = "run"  # the pytest plugin's options (pytest in the repository, `capability-tests run`)
LOOKUP_HELP = "where run ids are looked up (default ./reports)"


@dataclass(frozen=True)
class Option:
    flag: str
    help: str
    type: Callable[[str], Any] | None = None
    default: Any = None
    metavar: str | None = None
    action: str | None = None
    choices: tuple[str, ...] | None = None
    commands: tuple[str, ...] = (RUN,)
    aliases: tuple[str, ...] = ()  # further flags for the same value (subcommands only)
    per_command: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)

    @property
    def dest(self) -> str:
        return self.flag.lstrip("-").replace("-", "_")

    def keywords(self, command: str) -> dict[str, Any]:
        kwargs: dict[str, Any] = {"help": self.help, "default": self.default}
        for name in ("type", "metavar", "action", "choices"):
            value = getattr(self, name)
            if value is not None:
                kwargs[name] = value
        kwargs.update(self.per_command.get(command, {}))
        if kwargs.get("action") == "store_true":
            kwargs.pop("type", None)
            kwargs.pop("metavar", None)
        return kwargs


OPTIONS: tuple[Option, ...] = (
    # -- what is sampled (RunConfig) -----------------------------------------------------------
    Option("--model", metavar="MODEL", commands=(RUN, "perplexity"),
           help="Hub id, local Hugging Face folder, local .gguf file, or "
           f"'{EMBEDDED_ALIAS}' (the embedded default, used when --model is not given). "
           "Write local paths as --model=PATH.",
           per_command={"perplexity": {"required": True, "metavar": "BASE", "help":
                        "the scoring model: Hub id, local folder, .gguf file or "
                        f"{EMBEDDED_ALIAS} (write local paths with =)"}}),
    Option("--k", type=cfg.positive_int, default=cfg.DEFAULT_K, metavar="N",
           help=f"samples per problem (default {cfg.DEFAULT_K}); not pytest's -k"),
    Option("--engine", default=cfg.DEFAULT_ENGINE, commands=(RUN, "perplexity"),
           help="vllm (default), transformers, openai (a running OpenAI-compatible server, with "
           "--base-url), an engine plugin's name, or module:Class",
           per_command={"perplexity": {"help": "vllm (prompt log-probabilities, default), "
                        "transformers, or module:Class of an engine that scores"}}),
    Option("--base-url", type=cfg.base_url, action="append", default=[], metavar="URL",
           help="--engine openai: an OpenAI-compatible server, http(s)://HOST[:PORT][/v1] "
           "(repeatable: all serve the same model); a token comes from the environment "
           "variable CAPABILITY_TESTS_API_KEY (or OPENAI_API_KEY), never the command line"),
    Option("--concurrency", type=cfg.positive_int, default=ServerSettings.concurrency, metavar="N",
           help="--engine openai: requests in flight per --base-url "
           f"(default {ServerSettings.concurrency})"),
    Option("--request-timeout", type=cfg.positive_seconds, default=ServerSettings.request_timeout,
           metavar="SECONDS",
           help="--engine openai: seconds one request may take, queueing included "
           f"(default {ServerSettings.request_timeout:g}); a timeout is retried"),
    Option("--retries", type=cfg.non_negative_int, default=ServerSettings.retries, metavar="N",
           help="--engine openai: further attempts of a request after a timeout, connection "
           f"error, 429 or 5xx (default {ServerSettings.retries}); other 4xx fail the request's "
           "problem"),
    Option("--engine-arg", type=cfg.engine_arg, action="append", default=[], metavar="KEY=VALUE",
           commands=(RUN, "perplexity"),
           help="extra engine argument, e.g. tensor_parallel_size=2 (repeatable; VALUE is read "
           "as JSON when it parses)"),
    Option("--temperature", type=cfg.temperature, default=cfg.DEFAULT_TEMPERATURE,
           help=f"sampling temperature (default {cfg.DEFAULT_TEMPERATURE})"),
    Option("--top-p", type=cfg.probability, default=cfg.DEFAULT_TOP_P,
           help=f"nucleus sampling top-p (default {cfg.DEFAULT_TOP_P})"),
    Option("--max-tokens", type=cfg.positive_int, default=cfg.DEFAULT_MAX_TOKENS, metavar="N",
           help=f"new tokens per sample (default {cfg.DEFAULT_MAX_TOKENS})"),
    Option("--seed", type=cfg.run_seed, default=cfg.DEFAULT_SEED,
           help=f"run seed, seeds the engine and every sample (default {cfg.DEFAULT_SEED})"),
    Option("--template", type=cfg.template_name, default=cfg.DEFAULT_TEMPLATE,
           help=f"prompt template (default {cfg.DEFAULT_TEMPLATE}; also chat, abel, completion)"),
    Option("--data-dir", metavar="DIR", commands=(RUN, "grade", "regrade-diff", "perplexity", "selftest"),
           help="local benchmark files DIR/<benchmark>/test.jsonl (default: the Hugging Face "
           "Hub). Write it as --data-dir=DIR.",
           per_command={"regrade-diff": {"help": "benchmark files (default: as the run had them)"},
                        "perplexity": {"help": "benchmark files, to render the prompts "
                                       "(default: as the run had them)"}}),
    Option("--data-revision", type=cfg.data_revision, action="append", default=[],
           metavar="BENCH=REV",
           help="read benchmark BENCH from the Hugging Face Hub at revision REV instead of its "
           "pinned commit (repeatable); a branch such as main is read with a warning, since its "
           "rows can change between runs"),
    Option("--shard", type=cfg.shard, metavar="I/N",
           help="sample only shard I of N (0 <= I < N) of the selected problems, balanced by "
           "expected cost and the same on every machine; its own store (default <report-dir>/"
           "completions-shard-I-of-N.sqlite) and run folder; combine the N runs with "
           "`capability-tests merge` (docs/SCALING.md)"),
    Option("--limit", type=cfg.positive_int, metavar="N",
           help="only the first N problems of each benchmark"),
    Option("--benchmarks", type=cfg.benchmark_list, metavar="NAMES", commands=(RUN, "selftest"),
           per_command={"selftest": {"help": "check the verifiers (and code test kinds) these "
                        "benchmarks use (default: every registered verifier, every code test kind)"}},
           help="comma-separated benchmarks to collect (default: the study's six and humaneval, "
           "less what -k/-m cannot select; 'study' is the six, 'demo' the packaged set)"),
    # -- pass/fail of a problem's test ----------------------------------------------------------
    Option("--min-correct", type=cfg.positive_int, default=1, metavar="C",
           help="a problem's test passes when at least C of its k samples are correct"),
    Option("--unsolved", choices=("fail", "xfail"), default="fail",
           help="what an unsolved problem's test does: fail (default), or xfail to measure "
           "pass@k without failing the session"),
    # -- grading ---------------------------------------------------------------------------------
    Option("--grading-workers", type=cfg.non_negative_int, metavar="N",
           commands=(RUN, "grade", "regrade-diff", "selftest"), aliases=("--workers",),
           help="grading processes (default: one per CPU this process may use, split among "
           "xdist workers; 0 grades in the test process, without the hard kill of a stuck "
           "comparison)"),
    Option("--selftest", choices=("cached", "always"), default="cached",
           help="the graders' known-answer self-test that runs before sampling: cached (default: "
           "a pass is remembered per grader identity and environment) or always (run the cases "
           "again)"),
    # -- where things go ------------------------------------------------------------------------
    Option("--report-dir", default=cfg.DEFAULT_REPORT_DIR, metavar="DIR",
           commands=(RUN, "compare", "regrade-diff", "perplexity"),
           help="where summary.json, the run folders and the store go (default ./reports)",
           per_command={c: {"help": LOOKUP_HELP} for c in ("compare", "regrade-diff", "perplexity")}),
    Option("--store", metavar="PATH", commands=(RUN, "regrade-diff", "perplexity"),
           help=f"the completion store, a SQLite file (default <report-dir>/"
           f"{cfg.DEFAULT_STORE_NAME}); 'none' disables it. Stored samples are reused: a raised "
           "--k generates only the missing ones",
           per_command={c: {"help": "the completion store (default: the one the run's "
                            "summary.json names)"} for c in ("regrade-diff", "perplexity")}),
    Option("--sampling", choices=cfg.SAMPLING_MODES, default=cfg.DEFAULT_SAMPLING,
           help="seeded (default): one request per sample with a seed derived from --seed, "
           "benchmark, problem and index, so the first k samples are the same for any k; "
           "batched: one n=k request per prompt, seeded from the indices it fills (a raised "
           "--k draws new samples)"),
    Option("--batch-invariant", action="store_true", default=False,
           help="ask the engine for batch-invariant kernels, so sample i is the same text "
           "whatever else is batched with it (vLLM's VLLM_BATCH_INVARIANT mode on GPUs; a usage "
           "error where the installed engine has none)"),
    Option("--fresh", action="store_true", default=False,
           help="ignore stored samples: generate anew and replace them in the store"),
    Option("--regrade", action="store_true", default=False,
           help="grade the stored samples again and report, without an engine (a problem with "
           "fewer than k stored samples is an error)"),
    # -- reports and gates (reporting.session.ReportConfig) -------------------------------------
    Option("--fail-under", type=fail_under, action="append", default=[], metavar="SPEC",
           help=f"fail the session (exit status {GATE_FAILED}) when a benchmark's metric is "
           "below a threshold: BENCH:METRIC@K>=X with METRIC pass, maj or any registered one "
           "(pass^K too), X a fraction or NN%%, BENCH * for all (repeatable), e.g. "
           "aime24:pass@1>=0.25, gsm8k:maj@8>=0.4"),
    Option("--baseline", metavar="RUN",
           help="a recorded run (folder under --report-dir, path, or 'latest') to gate against: "
           "fails when pass@k dropped significantly; see --baseline-k, --max-drop, --drop-rule, "
           "--baseline-alpha, --baseline-allow-different"),
    Option("--baseline-k", type=baseline_ks, default=DEFAULT_BASELINE_KS, metavar="KS",
           help="with --baseline: the ks to test, comma-separated (e.g. 1,64), or 'all' (every "
           "table k). Default 1: pass@1 averages every sample, so it is the least noisy pass@k "
           "and exists for any n"),
    Option("--baseline-alpha", type=family_alpha, default=DEFAULT_ALPHA, metavar="A",
           help="with --baseline: the family-wise false-alarm rate across all tested "
           f"(benchmark, k) pairs, Holm-corrected (default {DEFAULT_ALPHA})"),
    Option("--max-drop", type=max_drop, default=0.0, metavar="D",
           help="with --baseline: a practical tolerance; a drop must exceed D to fail (fraction "
           "or NN%%; default 0: any significant drop fails)"),
    Option("--drop-rule", choices=DROP_RULES, default="significant",
           help="with --baseline: 'significant' (default) fails a drop above --max-drop only "
           "when its Holm-adjusted one-sided sign-flip p-value is <= --baseline-alpha; 'point' "
           "fails on the point estimate alone (no false-alarm control)"),
    Option("--baseline-allow-different", type=allowed_settings, action="append", default=[],
           metavar="SETTINGS",
           help="with --baseline: gate even though these sampling settings differ from the "
           f"baseline's (comma-separated: {', '.join(SAMPLING_SETTINGS)}; or 'all'); otherwise a "
           "difference is a usage error"),
    Option("--compare", action="append", default=[], metavar="RUN",
           help="after the run, overlay it with recorded run RUN (repeatable): curves, crossover "
           "k, per-problem coverage; written to <run folder>/compare/"),
    Option("--at-k", type=cfg.positive_int, metavar="K", commands=(RUN, "compare"),
           help="k for the comparison's solved-by-A-only/B-only/both/neither sets (default: the "
           "largest k both runs have)"),
    Option("--bootstrap-resamples", type=cfg.positive_int, default=DEFAULT_RESAMPLES, metavar="N",
           commands=(RUN, "compare"), aliases=("--resamples",),
           help=f"bootstrap resamples for intervals (default {DEFAULT_RESAMPLES})"),
)


def option_named(flag: str) -> Option:
    for option in OPTIONS:
        if option.flag == flag:
            return option
    raise KeyError(flag)


def add_pytest_options(group) -> None:
    """Every `RUN` option on the plugin's option group (aliases are for subcommands only)."""
    for option in OPTIONS:
        if RUN in option.commands:
            group.addoption(option.flag, dest=option.dest, **option.keywords(RUN))


def add_arguments(parser: argparse.ArgumentParser, command: str) -> None:
    """The table's options of subcommand `command` on its argparse parser."""
    for option in OPTIONS:
        if command in option.commands:
            parser.add_argument(option.flag, *option.aliases, dest=option.dest,
                                **option.keywords(command))


def value_options() -> tuple[str, ...]:
    """The run's flags that take a value (for the `--model PATH` rootdir check)."""
    return tuple(o.flag for o in OPTIONS if RUN in o.commands and o.action not in ("store_true",))
