"""The pytest plugin. Not a `pytest11` entry point: it loads only where the suite is asked for
(the repository's root `conftest.py`, `-p capability_tests.plugin`, `capability-tests run`), and
even when loaded it acts only in a session that runs the suite (`suite_requested`); see
docs/ARCHITECTURE.md, "Loading the plugin".

Hooks in data-flow order: options -> run configuration (configure) -> problems loaded, usage
errors (sessionstart) -> one parametrized test per problem (generate_tests) -> final selection
(collection_finish) -> the sampling phase (runtestloop; runtest_protocol on xdist workers) ->
each test reads its result through fixtures -> results to the controller (runtest_logreport) ->
reports (terminal_summary, sessionfinish).

Importing this module imports neither torch nor vLLM: `--help` and `--collect-only` stay fast.
"""

from __future__ import annotations

import os
import re
import sys
import warnings
from pathlib import Path
from typing import Any

import pytest

from capability_tests import config as cfg
from capability_tests.benchmarks import BenchmarkError, available_benchmarks, get_benchmark, load_problems
from capability_tests.models import EMBEDDED_ALIAS, ModelError, resolve_model
from capability_tests.problems import Problem
from capability_tests.results import (
    SAMPLES_PROPERTY,
    ProblemResult,
    result_from_properties,
    samples_from_properties,
)
from capability_tests.sampling import SamplingError, SamplingRun

RUN_KEY = pytest.StashKey["CapabilityState"]()
SAMPLES_KEY = pytest.StashKey[str]()  # a test's per-sample records, for its setup report
FAMILY_MARKER = "capability"
PATH_OPTIONS = ("--model", "--data-dir", "--report-dir")
VALUE_OPTIONS = PATH_OPTIONS + (
    "--k", "--engine", "--engine-arg", "--temperature", "--top-p", "--max-tokens", "--seed",
    "--template", "--limit", "--benchmarks", "--min-correct", "--unsolved", "--store", "--sampling",
)


SUITE_PACKAGE = "capability_tests.suite"
PLUGIN_MODULE = __name__


def suite_requested(config: pytest.Config) -> bool:
    """Does this session run the capability suite? True when the plugin was named with `-p`
    (which only a user who wants the suite writes) or when a collection argument is the suite's
    folder or package, lies inside it, or contains it (`pytest` in the repository root, whose
    testpaths name it). Otherwise the plugin stays inert: no header, no xdist changes, no
    environment changes, no store, no problems loaded."""
    if any(str(p).strip() == PLUGIN_MODULE for p in (config.getoption("plugins", None) or ())):
        return True
    suite_dir = (Path(__file__).parent / "suite").resolve()
    pyargs = bool(config.getoption("pyargs", False))
    for arg in config.args:
        target = str(arg).split("::", 1)[0]
        if pyargs and (target == "capability_tests" or target == SUITE_PACKAGE
                       or target.startswith(SUITE_PACKAGE + ".")):
            return True
        try:
            path = (config.invocation_params.dir / target).resolve()
        except (OSError, ValueError):
            continue
        if path == suite_dir or suite_dir in path.parents or path in suite_dir.parents:
            return True
    return False


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("capability", "capability tests: pass@k of a language model")
    group.addoption("--model", default=None, metavar="MODEL",
                    help="Hub id, local Hugging Face folder, local .gguf file, or "
                    f"'{EMBEDDED_ALIAS}' (the embedded default, used when --model is not given). "
                    "Write local paths as --model=PATH.")
    group.addoption("--k", type=cfg.positive_int, default=cfg.DEFAULT_K, metavar="N",
                    help=f"samples per problem (default {cfg.DEFAULT_K}); not pytest's -k")
    group.addoption("--engine", default=cfg.DEFAULT_ENGINE,
                    help="vllm (default), transformers, an engine plugin's name, or module:Class")
    group.addoption("--engine-arg", type=cfg.engine_arg, action="append", default=[],
                    metavar="KEY=VALUE",
                    help="extra engine argument, e.g. tensor_parallel_size=2 (repeatable; "
                    "VALUE is read as JSON when it parses)")
    group.addoption("--temperature", type=cfg.temperature, default=cfg.DEFAULT_TEMPERATURE,
                    help=f"sampling temperature (default {cfg.DEFAULT_TEMPERATURE})")
    group.addoption("--top-p", type=cfg.probability, default=cfg.DEFAULT_TOP_P,
                    help=f"nucleus sampling top-p (default {cfg.DEFAULT_TOP_P})")
    group.addoption("--max-tokens", type=cfg.positive_int, default=cfg.DEFAULT_MAX_TOKENS,
                    metavar="N", help=f"new tokens per sample (default {cfg.DEFAULT_MAX_TOKENS})")
    group.addoption("--seed", type=cfg.run_seed, default=cfg.DEFAULT_SEED,
                    help=f"run seed, seeds the engine (default {cfg.DEFAULT_SEED})")
    group.addoption("--template", type=cfg.template_name, default=cfg.DEFAULT_TEMPLATE,
                    help=f"prompt template (default {cfg.DEFAULT_TEMPLATE}; "
                    "also chat, abel)")
    group.addoption("--data-dir", default=None, metavar="DIR",
                    help="local benchmark files DIR/<benchmark>/test.jsonl "
                    "(default: the Hugging Face Hub). Write it as --data-dir=DIR.")
    group.addoption("--limit", type=cfg.positive_int, default=None, metavar="N",
                    help="only the first N problems of each benchmark")
    group.addoption("--benchmarks", type=cfg.benchmark_list, default=None, metavar="NAMES",
                    help="comma-separated benchmarks to collect (default: the study's six)")
    group.addoption("--min-correct", type=cfg.positive_int, default=1, metavar="C",
                    help="a problem's test passes when at least C of its k samples are correct")
    group.addoption("--unsolved", choices=("fail", "xfail"), default="fail",
                    help="what an unsolved problem's test does: fail (default), or xfail to "
                    "measure pass@k without failing the session")
    group.addoption("--grading-workers", type=cfg.non_negative_int, default=None, metavar="N",
                    help="grading processes (default: one per core; 0 grades in the test "
                    "process, without the hard kill of a stuck comparison)")
    group.addoption("--report-dir", default=cfg.DEFAULT_REPORT_DIR, metavar="DIR",
                    help="where summary.json and summary.md go (default ./reports)")
    from capability_tests.reporting.options import add_options as add_report_options

    add_report_options(group)
    _add_store_options(group)


def _add_store_options(group) -> None:
    """The completion store (capability_tests.store, docs/STORE.md)."""
    group.addoption("--store", default=None, metavar="PATH",
                    help=f"the completion store, a SQLite file (default <report-dir>/"
                    f"{cfg.DEFAULT_STORE_NAME}); 'none' disables it. Stored samples are reused: "
                    "a raised --k generates only the missing ones")
    group.addoption("--sampling", choices=cfg.SAMPLING_MODES, default=cfg.DEFAULT_SAMPLING,
                    help="seeded (default): one request per sample with a seed derived from "
                    "--seed, benchmark, problem and index, so the first k samples are the same "
                    "for any k; batched: one n=k request per prompt, seeded from the indices it "
                    "fills (a raised --k draws new samples)")
    group.addoption("--batch-invariant", action="store_true", default=False,
                    help="ask the engine for batch-invariant kernels, so sample i is the same "
                    "text whatever else is batched with it (vLLM's VLLM_BATCH_INVARIANT mode on "
                    "GPUs; a usage error where the installed engine has none)")
    group.addoption("--fresh", action="store_true", default=False,
                    help="ignore stored samples: generate anew and replace them in the store")
    group.addoption("--regrade", action="store_true", default=False,
                    help="grade the stored samples again and report, without an engine "
                    "(a problem with fewer than k stored samples is an error)")


def _store_config(config: pytest.Config, base: Path, report_dir: Path) -> dict[str, Any]:
    option = config.getoption
    value = option("store")
    if value is not None and value.lower() == "none":
        store = None
    elif value is None:
        store = report_dir / cfg.DEFAULT_STORE_NAME
    else:
        store = Path(value).expanduser()
        store = store if store.is_absolute() else base / store
    if option("fresh") and option("regrade"):
        raise pytest.UsageError("--fresh and --regrade contradict each other: choose one")
    if option("regrade") and store is None:
        raise pytest.UsageError("--regrade reads the completion store: it needs --store")
    if option("regrade") and store is not None and not store.is_file():
        raise pytest.UsageError(f"--regrade: there is no completion store at {store}")
    if store is not None and store.is_dir():
        raise pytest.UsageError(f"--store={value}: {store} is a folder; name a file in it")
    return {"store": store, "sampling": option("sampling"), "fresh": option("fresh"),
            "regrade": option("regrade"), "batch_invariant": option("batch_invariant")}


def _check_batch_invariant(run_config: cfg.RunConfig) -> None:
    """--batch-invariant where the engine cannot provide it is a usage error naming the option
    (not under --regrade, which starts no engine and only needs the option for the store key)."""
    if not run_config.batch_invariant or run_config.regrade:
        return
    from capability_tests.engines import EngineError, EngineSettings, engine_class

    settings = EngineSettings(model="", seed=run_config.seed, engine_args=run_config.engine_args,
                              seeded=run_config.sampling == "seeded", batch_invariant=True)
    try:
        check = getattr(engine_class(run_config.engine), "batch_invariant_problem", None)
    except EngineError as exc:
        raise pytest.UsageError(f"--engine: {exc}") from None
    problem = (check(settings) if callable(check) else
               f"engine {run_config.engine!r} declares no batch-invariant mode "
               "(no batch_invariant_problem); drop the option")
    if problem is not None:
        raise pytest.UsageError(f"--batch-invariant: {problem}")


def _check_store(run_config: cfg.RunConfig) -> None:
    """Refuse a corrupt, foreign or other-version store before anything runs (without creating
    a store that does not exist yet: --collect-only writes nothing)."""
    if run_config.store is None or not run_config.store.exists():
        return
    from capability_tests.store import CompletionStore, StoreError

    try:
        CompletionStore(run_config.store).close()
    except StoreError as exc:
        raise pytest.UsageError(f"--store: {exc}") from None


class CapabilityState:
    """Per-process plugin state: configuration, loaded problems, final selection, results."""

    def __init__(self, run_config: cfg.RunConfig, pytest_config: pytest.Config) -> None:
        self.run_config = run_config
        self.pytest_config = pytest_config
        self._problems: dict[str, list[Problem]] = {}
        self.selected: list[Problem] = []
        self.sampling = SamplingRun(
            run_config,
            log=self._log,
            live_output=self._live_output,
            progress=self._progress_wanted(),
            grading_workers=pytest_config.getoption("grading_workers"),
        )
        self.warned_batching = False
        self.sampling_interrupted = False  # Ctrl-C in the serial sampling phase

    @property
    def is_worker(self) -> bool:
        return hasattr(self.pytest_config, "workerinput")

    def _progress_wanted(self) -> bool:
        return (
            not self.is_worker
            and sys.stderr.isatty()
            and self.pytest_config.get_verbosity() >= 0
        )

    def _log(self, message: str) -> None:
        reporter = self.pytest_config.pluginmanager.get_plugin("terminalreporter")
        if reporter is not None and not self.is_worker:
            with self._live_output():  # not into the capture of whichever test is running
                reporter.ensure_newline()
                reporter.write_line(message)

    def _live_output(self):
        capman = self.pytest_config.pluginmanager.get_plugin("capturemanager")
        if capman is None or self.is_worker:
            import contextlib

            return contextlib.nullcontext()
        return capman.global_and_fixture_disabled()

    def load_all(self) -> None:
        """Load every benchmark of the run now, so that a missing or unreadable file or an
        unreachable Hub dataset is a usage error before collection."""
        for name in self.run_config.benchmarks:
            if name not in self._problems:
                self._problems[name] = load_problems(
                    name, self.run_config.data_dir, self.run_config.limit
                )

    def problems(self, family: str) -> list[Problem]:
        """Problems of the run's benchmarks that belong to `family`, loaded once per process."""
        out = []
        for name in self.run_config.benchmarks:
            benchmark = get_benchmark(name)
            if benchmark.family != family:
                continue
            if name not in self._problems:
                self._problems[name] = load_problems(
                    name, self.run_config.data_dir, self.run_config.limit
                )
            out.extend(self._problems[name])
        return out

    def batch_for(self, problem: Problem) -> list[Problem]:
        """What to sample together with `problem`: see capability_tests.sampling."""
        if not self.is_worker:
            return self.selected
        # Workers re-parse the command line, so the controller's --dist (possibly switched to
        # loadgroup by _default_to_loadgroup) reaches them through workerinput.
        if self.pytest_config.workerinput.get("capability_dist") == "loadgroup":
            return [p for p in self.selected if p.benchmark == problem.benchmark]
        if not self.warned_batching:
            self.warned_batching = True
            warnings.warn(
                "capability-tests: under xdist with a --dist other than loadgroup a worker cannot "
                "know which tests it will run, so it samples one problem at a time (slow). "
                "Use --dist loadgroup (the default when you give no --dist).",
                pytest.PytestWarning,
                stacklevel=1,
            )
        return [problem]


# -- configuration -------------------------------------------------------------------------------


def _build_run_config(config: pytest.Config) -> cfg.RunConfig:
    base = config.invocation_params.dir
    option = config.getoption
    try:
        data_dir = cfg.existing_dir("--data-dir", option("data_dir"), base)
    except cfg.ConfigError as exc:
        raise pytest.UsageError(str(exc)) from None
    model = option("model")
    if model is not None:
        try:
            resolve_model(model)
        except ModelError as exc:
            raise pytest.UsageError(str(exc)) from None
    benchmarks = option("benchmarks") or cfg.benchmark_list("study")
    for name in benchmarks:
        try:
            get_benchmark(name)
        except BenchmarkError as exc:
            raise pytest.UsageError(f"--benchmarks: {exc}") from None
    from capability_tests.engines import engine_names, is_known_engine

    if not is_known_engine(option("engine")):
        raise pytest.UsageError(
            f"--engine: unknown engine {option('engine')!r}; known: {', '.join(engine_names())}"
        )
    report_dir = Path(option("report_dir")).expanduser()
    report_dir = report_dir if report_dir.is_absolute() else base / report_dir
    return cfg.RunConfig(
        model=model,
        k=option("k"),
        engine=option("engine"),
        engine_args=dict(option("engine_arg")),
        temperature=option("temperature"),
        top_p=option("top_p"),
        max_tokens=option("max_tokens"),
        seed=option("seed"),
        template=option("template"),
        data_dir=data_dir,
        limit=option("limit"),
        benchmarks=tuple(benchmarks),
        report_dir=report_dir,
        **_store_config(config, base, report_dir),
    )


def _check_space_separated_paths(config: pytest.Config) -> None:
    """Stop when `--model PATH` (with a space) made pytest pick another rootdir or config file.

    pytest decides its rootdir from a first pass over the arguments that does not know plugin
    options, so an existing PATH after a space counts as a test path there (pytest issues 6904,
    8846, 9749). Recompute the setup without those values; if it differs, the run would use the
    wrong configuration, so refuse it.
    """
    args = [str(a) for a in config.invocation_params.args]
    base = config.invocation_params.dir
    suspicious = [
        (opt, args[i + 1])
        for i, opt in enumerate(args[:-1])
        if opt in VALUE_OPTIONS and (base / args[i + 1]).exists()
    ]
    if not suspicious:
        return
    values = {v for _, v in suspicious}
    rest = [a for a in args if a not in values]
    try:
        from _pytest.config.findpaths import determine_setup

        rootpath, inipath, *_ = determine_setup(
            inifile=config.getoption("inifilename"),
            override_ini=config.getoption("override_ini"),
            args=rest,
            rootdir_cmd_arg=config.getoption("rootdir") or None,
            invocation_dir=base,
        )
        same = rootpath == config.rootpath and inipath == config.inipath
    except Exception:  # private API moved: be safe and refuse
        same = False
    if not same:
        fixes = " ".join(f"{opt}={value}" for opt, value in suspicious)
        raise pytest.UsageError(
            f"write {fixes} (with '='): pytest took {suspicious[0][1]!r} for a test path while "
            f"choosing its rootdir and config file, which changed them "
            f"(rootdir {config.rootpath}, config {config.inipath})"
        )


def _default_to_loadgroup(config: pytest.Config) -> None:
    """Under -n without an explicit --dist, send each benchmark to one worker whole.

    The controller switches its scheduler; workers re-parse the original command line (no
    --dist), so they learn it from workerinput and turn on the `@group` node ids loadgroup needs.
    """
    workerinput = getattr(config, "workerinput", None)
    if workerinput is not None:
        if workerinput.get("capability_dist") == "loadgroup":
            config.option.loadgroup = True
        return
    if not getattr(config.option, "numprocesses", None) or config.getoption("dist", None) != "load":
        return
    given = list(config.invocation_params.args) + os.environ.get("PYTEST_ADDOPTS", "").split()
    try:
        given += config.getini("addopts")
    except (ValueError, KeyError):
        pass
    if any(str(a) in ("--dist", "-d") or str(a).startswith("--dist=") for a in given):
        return
    config.option.dist = "loadgroup"


@pytest.hookimpl(optionalhook=True, tryfirst=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log):
    """Under loadgroup, keep each benchmark on one worker (see capability_tests.xdist_scheduling)."""
    if RUN_KEY not in config.stash or config.getoption("dist", "no") != "loadgroup":
        return None
    from capability_tests.xdist_scheduling import BenchmarkGroupScheduling

    return BenchmarkGroupScheduling(config, log)


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node) -> None:
    """xdist controller: tell each worker how tests are distributed (see batch_for)."""
    if RUN_KEY not in node.config.stash:
        return
    node.workerinput["capability_dist"] = node.config.getoption("dist", "no")


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    if not suite_requested(config):
        return
    config.addinivalue_line(
        "markers", f"{FAMILY_MARKER}(family): a capability test parametrized over problems"
    )
    for name in available_benchmarks():
        config.addinivalue_line("markers", f"{name}: problems of the {name} benchmark")
    _check_space_separated_paths(config)
    keyword = config.getoption("keyword", "")
    if keyword and re.fullmatch(r"\s*\d+\s*", keyword):
        config.issue_config_time_warning(
            pytest.PytestConfigWarning(
                f"-k {keyword.strip()} is pytest's keyword filter (it selects tests whose id "
                f"contains {keyword.strip()!r}); for {keyword.strip()} samples per problem write "
                f"--k {keyword.strip()}"
            ),
            stacklevel=2,
        )
    _default_to_loadgroup(config)
    if "VLLM_LOGGING_LEVEL" not in os.environ and config.get_verbosity() < 1:
        os.environ["VLLM_LOGGING_LEVEL"] = "ERROR"  # -v shows vLLM's warnings and info
        config.add_cleanup(lambda: os.environ.pop("VLLM_LOGGING_LEVEL", None))
    state = CapabilityState(_build_run_config(config), config)
    config.stash[RUN_KEY] = state
    _check_batch_invariant(state.run_config)
    if not state.is_worker:
        _check_store(state.run_config)
        config.pluginmanager.register(ResultCollector(state), "capability-results")


def pytest_unconfigure(config: pytest.Config) -> None:
    state = config.stash.get(RUN_KEY, None)
    if state is not None:
        state.sampling.close()


def pytest_report_header(config: pytest.Config) -> list[str]:
    state = config.stash.get(RUN_KEY, None)
    if state is None:
        return []
    c = state.run_config
    return [
        f"capability-tests: model={c.model or 'smollm2-135m (embedded)'} engine={c.engine} "
        f"k={c.k} temperature={c.temperature} top_p={c.top_p} max_tokens={c.max_tokens} "
        f"seed={c.seed} template={c.template} sampling={c.sampling} "
        f"store={c.store or 'none'}{' (fresh)' if c.fresh else ''}"
        f"{' (regrade: no engine)' if c.regrade else ''} data={_data_source(c)}"
    ]


def _data_source(c: cfg.RunConfig) -> str:
    if c.data_dir is not None:
        return f"--data-dir={c.data_dir}"
    packaged = [name for name in c.benchmarks if get_benchmark(name).packaged_file is not None]
    return "packaged" if len(packaged) == len(c.benchmarks) else "Hugging Face Hub"


def pytest_sessionstart(session: pytest.Session) -> None:
    """Usage errors before collection: every benchmark of the run loads here (once per process;
    collection reuses them). Not in `pytest_configure`, which `--help` and `--markers` also run.
    On the xdist controller this runs before the workers start."""
    state = session.config.stash.get(RUN_KEY, None)
    if state is None:
        return
    try:
        state.load_all()
    except BenchmarkError as exc:
        raise pytest.UsageError(str(exc)) from None


# -- collection ----------------------------------------------------------------------------------


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "capability_problem" not in metafunc.fixturenames:
        return
    marker = metafunc.definition.get_closest_marker(FAMILY_MARKER)
    family = (marker.kwargs.get("family") if marker else None) or "math"
    state = metafunc.config.stash.get(RUN_KEY, None)
    if state is None:
        raise pytest.UsageError(
            f"{metafunc.definition.nodeid} is a capability test outside {SUITE_PACKAGE}: "
            f"load the plugin explicitly with -p {PLUGIN_MODULE}"
        )
    try:
        problems = state.problems(family)
    except BenchmarkError as exc:
        raise pytest.UsageError(str(exc)) from None
    params = [
        pytest.param(
            p,
            id=p.key,
            marks=[getattr(pytest.mark, p.benchmark), pytest.mark.xdist_group(p.benchmark)],
        )
        for p in problems
    ]
    metafunc.parametrize("capability_problem", params)


def _problem_of(item: pytest.Item) -> Problem | None:
    callspec = getattr(item, "callspec", None)
    return callspec.params.get("capability_problem") if callspec is not None else None


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Let `-k` match a problem's keywords (e.g. `-k "math500 and level5"`)."""
    for item in items:
        problem = _problem_of(item)
        if problem is not None:
            item.extra_keyword_matches.update(problem.keywords)


def pytest_collection_finish(session: pytest.Session) -> None:
    """The final selection (after -k/-m/--deselect): the only problems ever sampled."""
    state = session.config.stash.get(RUN_KEY, None)
    if state is None:
        return
    seen: set[str] = set()
    selected = []
    for item in session.items:
        problem = _problem_of(item)
        if problem is not None and problem.key not in seen:
            seen.add(problem.key)
            selected.append(problem)
    state.selected = selected


# -- the sampling phase --------------------------------------------------------------------------


def _sample_reporting_warnings(config: pytest.Config, state: CapabilityState,
                               problems: list[Problem]) -> None:
    """`state.sampling.sample(problems)` outside any test: pytest attributes warnings only to
    tests, collection and configuration, so the ones raised here go to its warnings summary
    through the public hook (xdist forwards it from workers) rather than raw to stderr."""
    with warnings.catch_warnings(record=True) as caught:
        try:
            state.sampling.sample(problems)
        finally:
            for message in caught:
                config.hook.pytest_warning_recorded.call_historic(kwargs=dict(
                    warning_message=message, when="runtest", nodeid="", location=None))


@pytest.hookimpl(wrapper=True)
def pytest_runtestloop(session: pytest.Session):
    """Serial run: sample, grade and store every selected problem after collection and before
    the first test, so each test only reads its result (JUnit durations, --durations and per-test
    timeouts measure the test). Never under --collect-only or --setup-plan, nor after collection
    errors. A Ctrl-C
    here stops the session with the finished problems reported (incomplete run)."""
    state = session.config.stash.get(RUN_KEY, None)
    option = session.config.option
    if (state is not None and not state.is_worker and state.selected
            and not option.collectonly and not getattr(option, "setupplan", False)
            and not (session.testsfailed and not option.continue_on_collection_errors)):
        reporter = session.config.pluginmanager.get_plugin("terminalreporter")
        if reporter is not None and session.config.get_verbosity() >= 0:
            reporter.ensure_newline()
            reporter.write_sep("-", f"capability-tests: sampling {len(state.selected)} problems")
        try:
            _sample_reporting_warnings(session.config, state, state.selected)
        except KeyboardInterrupt:
            state.sampling_interrupted = True
            state._log(
                f"capability-tests: interrupted while sampling: {len(state.sampling.results)} of "
                f"{len(state.selected)} problems finished; every sample received is stored"
            )
            raise
    return (yield)


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem):
    """xdist worker: a worker learns its tests a batch at a time, so it samples a problem's
    batch (its whole benchmark under loadgroup) just before that problem's first test, outside
    the test's setup/call/teardown (and, as the outermost wrapper, before a per-test timeout
    starts)."""
    state = item.config.stash.get(RUN_KEY, None)
    if state is not None and state.is_worker:
        problem = _problem_of(item)
        if problem is not None and problem.error is None and not state.sampling.done(problem):
            batch = list(state.batch_for(problem))
            if all(p.key != problem.key for p in batch):
                batch.append(problem)
            _sample_reporting_warnings(item.config, state, batch)
    return (yield)


# -- fixtures ------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def capability_run(pytestconfig: pytest.Config):
    """The session's sampling run (sampled before the tests, see the sampling phase above); the
    engine inside is shut down here, before pytest closes its output streams."""
    state: CapabilityState = pytestconfig.stash[RUN_KEY]
    yield state.sampling
    state.sampling.close()


@pytest.fixture
def capability_samples(request: pytest.FixtureRequest, capability_problem: Problem, capability_run):
    """The graded k samples of this test's problem (a `ProblemResult`), recorded as JUnit
    properties `benchmark`, `problem_id`, `n`, `correct`. A problem with samples that could not be
    graded errors here (no pass@k from part of its samples)."""
    state: CapabilityState = request.config.stash[RUN_KEY]
    problem = capability_problem
    node = request.node
    if problem.error is not None:
        failed = ProblemResult(problem.benchmark, problem.problem_id, 0, 0, error=problem.error)
        node.user_properties.extend(failed.properties())
        pytest.fail(problem.error, pytrace=False)
    try:
        result = capability_run.result_for(problem, lambda: state.batch_for(problem))
    except SamplingError as exc:
        failed = ProblemResult(problem.benchmark, problem.problem_id, 0, 0, error=str(exc))
        node.user_properties.extend(failed.properties())
        pytest.fail(f"{problem.key}: {exc}", pytrace=False)
    records = capability_run.records.pop(problem.key, None)
    if records is not None:
        node.stash[SAMPLES_KEY] = records
    node.user_properties.extend(result.properties())
    if result.error is not None:
        pytest.fail(f"{problem.key}: {result.error}", pytrace=False)
    return result


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call):
    """Per-sample records ride on the setup report to the controller (xdist serialises its
    `user_properties`); JUnit writes only the teardown report's properties, so they stay out of
    the XML."""
    report = yield
    if report.when == "setup":
        records = item.stash.get(SAMPLES_KEY, None)
        if records is not None:
            report.user_properties.append((SAMPLES_PROPERTY, records))
    return report


class SolvedCheck:
    """Turns a problem's result into the test's outcome (--min-correct, --unsolved)."""

    def __init__(self, min_correct: int, unsolved: str) -> None:
        self.min_correct = min_correct
        self.unsolved = unsolved

    def __call__(self, problem: Problem, result: ProblemResult) -> None:
        if result.correct >= self.min_correct:
            return
        answers = ", ".join(repr(a) for a in result.extracted[:8]) or "none"
        message = (
            f"{problem.key}: {result.correct} of {result.n} samples correct (need "
            f"{self.min_correct}); reference {problem.answer!r}; answers given: {answers}"
        )
        if self.unsolved == "xfail":
            pytest.xfail(message)
        pytest.fail(message, pytrace=False)


@pytest.fixture
def capability_check(pytestconfig: pytest.Config) -> SolvedCheck:
    """`capability_check(problem, result)` passes, fails or xfails the test."""
    return SolvedCheck(pytestconfig.getoption("min_correct"), pytestconfig.getoption("unsolved"))


# -- results and reports (serial process or xdist controller) ------------------------------------


class ResultCollector:
    """Registered only where results meet: the serial process or the xdist controller. Workers
    send results here inside `report.user_properties`. Reports: capability_tests.reporting."""

    def __init__(self, state: CapabilityState) -> None:
        from capability_tests.reporting.session import ReportOptionError, ReportSession

        self.state = state
        from capability_tests.reporting.samples import SampleSpool

        self.results: dict[str, ProblemResult] = {}
        self.samples = SampleSpool()  # per-sample records, on disk until the run folder exists
        self.summaries: dict = {}
        self.complete = True
        self.expected: set[str] = set()  # test ids selected (serial) or sent to workers (xdist)
        self.reported: set[str] = set()  # test ids that produced a report
        self.worker_provenance: list[dict] = []  # from xdist workers (pytest_testnodedown)
        config = state.pytest_config
        try:
            self.reports = ReportSession(
                state.run_config, config.getoption, config.invocation_params.dir
            )
        except ReportOptionError as exc:
            raise pytest.UsageError(str(exc)) from None

    def pytest_collection_finish(self, session: pytest.Session) -> None:
        self.expected = {item.nodeid for item in session.items}

    @pytest.hookimpl(optionalhook=True)
    def pytest_xdist_node_collection_finished(self, node, ids) -> None:
        self.expected |= set(ids)

    @pytest.hookimpl(optionalhook=True)
    def pytest_testnodedown(self, node, error) -> None:
        """xdist: a worker's sampling provenance (see capability_tests.reporting.provenance)."""
        from capability_tests.reporting.provenance import WORKEROUTPUT_KEY

        text = getattr(node, "workeroutput", {}).get(WORKEROUTPUT_KEY)
        if text:
            import json

            self.worker_provenance.append(json.loads(text))

    def _sampling_provenance(self) -> dict:
        from capability_tests.reporting.provenance import merge_sampling

        if self.worker_provenance:
            return merge_sampling(self.worker_provenance)
        try:  # serial run, or no worker reported: this process knows the settings
            return self.state.sampling.provenance()
        except Exception as exc:  # a model that cannot be fingerprinted never costs the report
            return {"error": f"{type(exc).__name__}: {exc}"}

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        self.reported.add(report.nodeid)
        result = result_from_properties(report.user_properties)
        if result is not None:
            self.results[f"{result.benchmark}/{result.problem_id}"] = result
        records = samples_from_properties(report.user_properties)
        if records is not None:
            self.samples.add(records)

    def _add_unreported_results(self) -> None:
        """Serial run interrupted in the sampling phase: no test ran, so the (incomplete) report
        covers the problems whose samples all arrived and were graded. Otherwise the report
        covers the tests that ran, as under xdist, where only reported tests reach here."""
        if self.state.is_worker or not self.state.sampling_interrupted:
            return
        sampling = self.state.sampling
        for key, result in list(sampling.results.items()):
            if key not in self.results:
                self.results[key] = result
                records = sampling.records.pop(key, None)
                if records is not None:
                    self.samples.add(records)

    @pytest.hookimpl(wrapper=True)
    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int):
        # before every other sessionfinish: JUnit's writer must see the suite properties
        self._add_unreported_results()
        if self.results:
            self._write_reports(session, exitstatus)
        return (yield)

    def _write_reports(self, session: pytest.Session, exitstatus: int) -> None:
        selected = self.state.selected
        self.complete = (
            exitstatus in (pytest.ExitCode.OK, pytest.ExitCode.TESTS_FAILED)
            and not (session.shouldstop or session.shouldfail)
            and not (selected and len(self.results) < len(selected))
            and not (self.expected - self.reported)
        )
        from _pytest.junitxml import xml_key

        try:
            session.exitstatus = self.reports.finish(
                list(self.results.values()), self.complete, int(exitstatus),
                xml=self.state.pytest_config.stash.get(xml_key, None), samples=self.samples,
                sampling_provenance=self._sampling_provenance(),
            )
        except Exception as exc:  # never lose the session over a report; say so and fail
            import traceback

            self.reports.error = "".join(traceback.format_exception_only(type(exc), exc)).strip()
            traceback.print_exc()
            if exitstatus in (pytest.ExitCode.OK, pytest.ExitCode.TESTS_FAILED):
                session.exitstatus = pytest.ExitCode.INTERNAL_ERROR
        finally:
            self.samples.close()
        if self.reports.report is not None:
            self.summaries = self.reports.report.summaries

    def pytest_terminal_summary(self, terminalreporter) -> None:
        if not self.summaries and not self.reports.error:
            return
        terminalreporter.section("pass@k")
        for line in self.reports.terminal_lines():
            terminalreporter.write_line(line, red=line.startswith("GATE FAILED"))
        if self.reports.error:
            terminalreporter.write_line(f"reports not written: {self.reports.error}", red=True)
        if self.summaries:
            where = self.state.run_config.report_dir / "summary.json"
            note = "" if self.complete else " (incomplete run)"
            terminalreporter.write_line(f"written: {where}{note}")


def pytest_sessionfinish(session: pytest.Session) -> None:
    state = session.config.stash.get(RUN_KEY, None)
    if state is None:
        return
    if state.is_worker and state.sampling.batches:  # the controller writes the reports
        from capability_tests.reporting.provenance import WORKEROUTPUT_KEY

        try:
            import json

            session.config.workeroutput[WORKEROUTPUT_KEY] = json.dumps(
                state.sampling.provenance(), default=str)
        except Exception as exc:
            session.config.workeroutput[WORKEROUTPUT_KEY] = json.dumps(
                {"error": f"{type(exc).__name__}: {exc}"})
    state.sampling.close()
