"""Options and run configuration: the suite's command-line options, their validation into the
frozen `RunConfig` (before anything heavy starts), the checks that make bad values usage errors
naming the option, and the session header."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from capability_tests import config as cfg
from capability_tests.benchmarks import BenchmarkError, get_benchmark
from capability_tests.engines.base import ServerSettings
from capability_tests.models import ModelError, resolve_model
from capability_tests.plugin.state import RUN_KEY


def pytest_addoption(parser: pytest.Parser) -> None:
    """The plugin's options, from the one options table (`capability_tests/options.py`)."""
    from capability_tests.options import add_pytest_options

    add_pytest_options(parser.getgroup("capability", "capability tests: pass@k of a language model"))


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


def build_run_config(config: pytest.Config) -> cfg.RunConfig:
    base = config.invocation_params.dir
    option = config.getoption
    try:
        data_dir = cfg.existing_dir("--data-dir", option("data_dir"), base)
    except cfg.ConfigError as exc:
        raise pytest.UsageError(str(exc)) from None
    model = option("model")
    from capability_tests.engines import is_remote

    if model is not None and not is_remote(option("engine")):  # a served name is not resolved
        try:
            resolve_model(model)
        except ModelError as exc:
            raise pytest.UsageError(str(exc)) from None
    from capability_tests.selection import default_benchmarks

    # without --benchmarks: the study's six and HumanEval, less what -k / -m cannot select
    benchmarks = option("benchmarks") or default_benchmarks(option("keyword"), option("markexpr"))
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
    server = _server_settings(config)
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
        server=server,
        **_shard_config(config, _store_config(config, base, report_dir), report_dir),
        data_revisions=_data_revisions(config),
    )


def _server_settings(config: pytest.Config) -> ServerSettings:
    """--base-url and company: required by an engine that reaches servers, refused by the others."""
    from capability_tests.engines import EngineError, engine_capabilities

    option = config.getoption
    urls = tuple(option("base_url") or ())
    try:
        servers = engine_capabilities(option("engine")).servers
    except EngineError as exc:
        raise pytest.UsageError(f"--engine: {exc}") from None
    if servers:
        if not urls:
            raise pytest.UsageError(
                f"--engine {option('engine')} needs --base-url URL (repeatable): the address of "
                "an OpenAI-compatible server, e.g. --base-url http://127.0.0.1:8000/v1")
    elif urls:
        raise pytest.UsageError(
            f"--base-url is for an engine that reaches servers (--engine openai); --engine "
            f"{option('engine')} does not use it")
    return ServerSettings(urls, option("concurrency"), option("request_timeout"),
                          option("retries"))


def check_batch_invariant(run_config: cfg.RunConfig) -> None:
    """--batch-invariant where the engine cannot provide it is a usage error naming the option
    (not under --regrade, which starts no engine and only needs the option for the store key)."""
    if not run_config.batch_invariant or run_config.regrade:
        return
    from capability_tests.engines import EngineError, EngineSettings, engine_class

    settings = EngineSettings(model="", seed=run_config.seed, engine_args=run_config.engine_args,
                              seeded=run_config.sampling == "seeded", batch_invariant=True)
    try:
        problem = engine_class(run_config.engine).batch_invariant_problem(settings)
    except EngineError as exc:
        raise pytest.UsageError(f"--engine: {exc}") from None
    if problem is not None:
        raise pytest.UsageError(f"--batch-invariant: {problem}")


def check_store(run_config: cfg.RunConfig) -> None:
    """Refuse a corrupt, foreign or other-version store before anything runs (without creating
    a store that does not exist yet: --collect-only writes nothing)."""
    if run_config.store is None or not run_config.store.exists():
        return
    from capability_tests.store import CompletionStore, StoreError

    try:
        CompletionStore(run_config.store).close()
    except StoreError as exc:
        raise pytest.UsageError(f"--store: {exc}") from None


def check_space_separated_paths(config: pytest.Config) -> None:
    """Stop when `--model PATH` (with a space) made pytest pick another rootdir or config file.

    pytest decides its rootdir from a first pass over the arguments that does not know plugin
    options, so an existing PATH after a space counts as a test path there (pytest issues 6904,
    8846, 9749). Recompute the setup without those values; if it differs, the run would use the
    wrong configuration, so refuse it.
    """
    from capability_tests.options import value_options

    args = [str(a) for a in config.invocation_params.args]
    base = config.invocation_params.dir
    suspicious = [
        (opt, args[i + 1])
        for i, opt in enumerate(args[:-1])
        if opt in value_options() and (base / args[i + 1]).exists()
    ]
    if not suspicious:
        return
    values = {v for _, v in suspicious}
    rest = [a for a in args if a not in values]
    fixes = " ".join(f"{opt}={value}" for opt, value in suspicious)
    try:  # no public API recomputes the rootdir; a pytest that moved it gets a clear message
        from _pytest.config.findpaths import determine_setup

        rootpath, inipath, *_ = determine_setup(
            inifile=config.getoption("inifilename"),
            override_ini=config.getoption("override_ini"),
            args=rest,
            rootdir_cmd_arg=config.getoption("rootdir") or None,
            invocation_dir=base,
        )
    except (ImportError, TypeError, AttributeError, ValueError) as exc:
        raise pytest.UsageError(
            f"write {fixes} (with '='): with a space, pytest may take {suspicious[0][1]!r} for a "
            f"test path while choosing its rootdir, and this pytest ({pytest.__version__}) no "
            f"longer offers the internal function used to check that ({type(exc).__name__}: "
            f"{exc})"
        ) from None
    same = rootpath == config.rootpath and inipath == config.inipath
    if not same:
        raise pytest.UsageError(
            f"write {fixes} (with '='): pytest took {suspicious[0][1]!r} for a test path while "
            f"choosing its rootdir and config file, which changed them "
            f"(rootdir {config.rootpath}, config {config.inipath})"
        )


def pytest_report_header(config: pytest.Config) -> list[str]:
    state = config.stash.get(RUN_KEY, None)
    if state is None:
        return []
    c = state.run_config
    return [
        f"capability-tests: model={_model_label(c)} engine={c.engine} "
        f"k={c.k} temperature={c.temperature} top_p={c.top_p} max_tokens={c.max_tokens} "
        f"seed={c.seed} template={c.template} sampling={c.sampling} "
        f"store={c.store or 'none'}{' (fresh)' if c.fresh else ''}"
        f"{' (regrade: no engine)' if c.regrade else ''} data={_data_source(c)}"
    ]


def _model_label(c: cfg.RunConfig) -> str:
    if c.server.base_urls:
        return (f"{c.model or '(the one served)'} at {', '.join(c.server.base_urls)} "
                f"(concurrency {c.server.concurrency} per URL)")
    return c.model or "smollm2-135m (embedded)"


def _data_source(c: cfg.RunConfig) -> str:
    if c.data_dir is not None:
        return f"--data-dir={c.data_dir}"
    packaged = [name for name in c.benchmarks if get_benchmark(name).packaged_file is not None]
    return "packaged" if len(packaged) == len(c.benchmarks) else "Hugging Face Hub"


# -- Hub data revisions (docs/BENCHMARKS.md) -----------------------------------------------------


def _data_revisions(config: pytest.Config) -> dict[str, str]:
    """--data-revision values by benchmark; a name that is not a benchmark read from the Hub is a
    usage error naming it."""
    out: dict[str, str] = {}
    for name, revision in config.getoption("data_revision") or []:
        try:
            benchmark = get_benchmark(name)
        except BenchmarkError as exc:
            raise pytest.UsageError(f"--data-revision {name}={revision}: {exc}") from None
        if benchmark.hub is None:
            raise pytest.UsageError(f"--data-revision {name}={revision}: benchmark {name!r} has "
                                    "no Hub source (it is read from a file)")
        if name in out and out[name] != revision:
            raise pytest.UsageError(f"--data-revision: two revisions for {name} "
                                    f"({out[name]} and {revision}); give one")
        out[name] = revision
    return out


# -- --shard I/N: one machine's slice of the selection (shard_plan.py, docs/SCALING.md) ----------


def _shard_config(config: pytest.Config, store: dict[str, Any], report_dir: Path) -> dict[str, Any]:
    """The store options plus `shard`; a shard's default store is its own file."""
    spec = config.getoption("shard", None)
    if spec is None:
        return store
    if config.getoption("store") is None:
        path = report_dir / f"completions-shard-{spec.index}-of-{spec.count}.sqlite"
        if store["regrade"] and not path.is_file():
            raise pytest.UsageError(f"--regrade: there is no completion store at {path}")
        store = {**store, "store": path}
    return {**store, "shard": (spec.index, spec.count)}
