"""Per-process plugin state: the run configuration, the loaded problems, the final selection and
the sampling coordinator, kept in the pytest config's stash under `RUN_KEY`."""

from __future__ import annotations

import sys
import warnings

import pytest

from capability_tests import config as cfg
from capability_tests.benchmarks import LoadedBenchmark, get_benchmark, load_benchmark
from capability_tests.problems import Problem
from capability_tests.sampling import SamplingCoordinator

RUN_KEY = pytest.StashKey["CapabilityState"]()


class CapabilityState:
    """Per-process plugin state: configuration, loaded problems, final selection, results."""

    def __init__(self, run_config: cfg.RunConfig, pytest_config: pytest.Config) -> None:
        self.run_config = run_config
        self.pytest_config = pytest_config
        self.loaded: dict[str, LoadedBenchmark] = {}
        self.selected: list[Problem] = []
        self.shards: dict[str, int] = {}  # problem key -> shard (xdist workers, loadgroup)
        self.sampling = SamplingCoordinator(
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

    def _load(self, name: str) -> LoadedBenchmark:
        if name not in self.loaded:
            self.loaded[name] = load_benchmark(name, self.run_config.data_dir, self.run_config.limit,
                                               self.run_config.data_revisions.get(name))
        return self.loaded[name]

    def load_all(self) -> None:
        """Load every benchmark of the run now, so that a missing or unreadable file or an
        unreachable Hub dataset is a usage error before collection."""
        for name in self.run_config.benchmarks:
            self._load(name)

    def data_sources(self) -> dict[str, dict]:
        """Per loaded benchmark: its source, file hash and reference answers (for the reports'
        data fingerprints, so they never read the data again)."""
        return {name: loaded.fingerprint_source() for name, loaded in self.loaded.items()}

    def problems(self, family: str) -> list[Problem]:
        """Problems of the run's benchmarks that belong to `family`, loaded once per process."""
        out = []
        for name in self.run_config.benchmarks:
            benchmark = get_benchmark(name)
            if benchmark.family != family:
                continue
            out.extend(self._load(name).problems)
        return out

    def batch_for(self, problem: Problem) -> list[Problem]:
        """What to sample together with `problem`: every selected problem (serial run), or
        its shard (xdist worker under loadgroup: the scheduler sends the shard to this worker
        whole, see capability_tests.shards)."""
        if not self.is_worker:
            return self.selected
        # Workers re-parse the command line, so the controller's --dist (possibly switched to
        # loadgroup by default_to_loadgroup) reaches them through workerinput.
        if self.pytest_config.workerinput.get("capability_dist") == "loadgroup":
            shard = self.shards.get(problem.key)
            return [p for p in self.selected if self.shards.get(p.key) == shard]
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

