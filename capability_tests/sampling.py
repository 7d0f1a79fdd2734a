"""The sampling plan: which problems this process samples, in one batched submission, and the
lazily started engine that does it.

Serial runs submit every selected problem at the first test that needs samples. Under xdist with
`--dist loadgroup` (which the plugin makes the default) a benchmark is one group and goes to one
worker whole, so a worker submits the whole group at its first test; it never samples problems
another worker runs.
"""

from __future__ import annotations

import contextlib
import os
import time
import warnings
from dataclasses import dataclass, field, replace
from typing import Callable, ContextManager, Sequence

from capability_tests.config import RunConfig
from capability_tests.engines import (
    Engine,
    EngineError,
    EngineSettings,
    GenerationRequest,
    SamplingSettings,
    create_engine,
)
from capability_tests.grading import grade
from capability_tests.models import resolve_model, prepare_model
from capability_tests.problems import Problem
from capability_tests.results import ProblemResult
from capability_tests.templates import get_template


@contextlib.contextmanager
def _quiet_child_warnings():
    """Engine processes spawned now inherit PYTHONWARNINGS: keep their deprecation chatter out of
    the user's terminal (unless the user set PYTHONWARNINGS)."""
    if "PYTHONWARNINGS" in os.environ:
        yield
        return
    os.environ["PYTHONWARNINGS"] = "ignore::DeprecationWarning,ignore::FutureWarning"
    try:
        yield
    finally:
        os.environ.pop("PYTHONWARNINGS", None)


class SamplingError(Exception):
    """Sampling failed for a batch; every problem of the batch reports it."""


@dataclass
class BatchStats:
    prompts: int
    samples: int
    tokens: int
    seconds: float


@dataclass
class SamplingRun:
    """One per pytest process: holds the engine, the results, and the batches already submitted.

    `log` writes a line where the user sees it; `live_output` suspends output capture while the
    engine starts and samples, so its progress shows.
    """

    config: RunConfig
    log: Callable[[str], None] = print
    live_output: Callable[[], ContextManager[None]] = contextlib.nullcontext
    progress: bool = True
    engine_factory: Callable[[str, EngineSettings], Engine] = create_engine
    results: dict[str, ProblemResult] = field(default_factory=dict)
    failures: dict[str, str] = field(default_factory=dict)
    batches: list[BatchStats] = field(default_factory=list)
    engine: Engine | None = None
    engine_error: str | None = None
    model_path: str | None = None

    def sampling_settings(self) -> SamplingSettings:
        c = self.config
        return SamplingSettings(
            n=c.k, temperature=c.temperature, top_p=c.top_p, max_tokens=c.max_tokens, seed=c.seed
        )

    def result_for(self, problem: Problem, batch: Callable[[], Sequence[Problem]]) -> ProblemResult:
        """The graded samples of `problem`, sampling `batch()` (which includes it) if not yet done."""
        key = problem.key
        if key not in self.results and key not in self.failures:
            todo = [p for p in batch() if p.error is None and p.key not in self.results]
            if all(p.key != key for p in todo):
                todo.append(problem)
            self._sample(todo)
        if key in self.failures:
            raise SamplingError(self.failures[key])
        return self.results[key]

    def _start_engine(self) -> Engine:
        if self.engine_error is not None:  # do not retry a failed start for every batch
            raise EngineError(self.engine_error)
        if self.engine is None:
            try:
                model = resolve_model(self.config.model)
                self.log(
                    f"capability-tests: starting {self.config.engine} engine for model "
                    f"{model.spec} ({model.kind})"
                )
                settings = EngineSettings(
                    model="",
                    seed=self.config.seed,
                    engine_args=self.config.engine_args,
                    progress=self.progress,
                )
                with self.live_output(), warnings.catch_warnings():
                    # Deprecation chatter from torch/vLLM internals is not the user's business.
                    warnings.simplefilter("ignore", DeprecationWarning)
                    warnings.simplefilter("ignore", FutureWarning)
                    self.model_path = prepare_model(model, progress=self.progress)
                    with _quiet_child_warnings():
                        self.engine = self.engine_factory(
                            self.config.engine, replace(settings, model=self.model_path)
                        )
            except Exception as exc:
                self.engine_error = f"{type(exc).__name__}: {exc}"
                raise
        return self.engine

    def _sample(self, problems: Sequence[Problem]) -> None:
        try:
            engine = self._start_engine()
            template = get_template(self.config.template)
            requests = [
                GenerationRequest(p.key, template.prompt(p, engine.chat_prompt)) for p in problems
            ]
            by_key = {p.key: p for p in problems}
            settings = self.sampling_settings()
            self.log(
                f"capability-tests: sampling {len(requests)} prompts x {settings.n} samples "
                f"(max {settings.max_tokens} tokens, T={settings.temperature}, "
                f"top-p={settings.top_p}, seed={settings.seed}) in one submission"
            )
            start = time.perf_counter()
            tokens = 0
            with self.live_output():
                for key, completions in engine.generate(requests, settings):
                    problem = by_key[key]
                    verdicts = [grade(c.text, problem) for c in completions]
                    tokens += sum(c.tokens for c in completions)
                    self.results[key] = ProblemResult.from_samples(
                        problem.benchmark, problem.problem_id, completions, verdicts
                    )
            seconds = time.perf_counter() - start
            self.batches.append(BatchStats(len(requests), len(requests) * settings.n, tokens, seconds))
            self.log(
                f"capability-tests: {len(requests) * settings.n} samples, {tokens} tokens in "
                f"{seconds:.1f} s ({tokens / seconds if seconds else 0:.0f} tokens/s)"
            )
        except Exception as exc:  # the engine died or refused: fail these problems, keep the rest
            message = f"sampling failed: {type(exc).__name__}: {exc}"
            if not isinstance(exc, EngineError):
                warnings.warn(message, RuntimeWarning, stacklevel=1)
            for p in problems:
                if p.key not in self.results:
                    self.failures[p.key] = message
        else:
            for p in problems:
                if p.key not in self.results:
                    self.failures[p.key] = f"the engine returned no completions for {p.key}"

    def close(self) -> None:
        engine, self.engine = self.engine, None
        if engine is not None:
            engine.close()
