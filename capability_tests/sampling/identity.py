"""Run identity: what the store key and the provenance say produced a run's samples (model
fingerprint, engine name, version and effective settings, sampling parameters, prompt digests).
Computed from the run configuration and the engine class's declared identity methods, before and
without starting an engine (engines/classes.py).

Under `--regrade` nothing is computed from the engine: the generation key, the prompt digests
and the provenance are those a recorded run of the report folder recorded
(`reporting.recorded_runs.regrade_source`), so a regrade works without the engine installed,
after an upgrade, on another device and with the server down."""

from __future__ import annotations

import json
import warnings
from typing import Any, Callable, Sequence

from capability_tests.config import RunConfig
from capability_tests.engines import EngineIdentity, EngineSettings, SamplingSettings, engine_class
from capability_tests.fingerprints import ModelIdentity
from capability_tests.problems import Problem
from capability_tests.seeds import SEED_POLICY
from capability_tests.store import GenerationKey, grading_digest
from capability_tests.templates import Template


class RunIdentity:
    """One per process; each fingerprint is computed once (hashing a model folder is not free).
    `log` gets the warning of an unpinned model."""

    def __init__(self, config: RunConfig, log: Callable[[str], None] = print,
                 progress: bool = True) -> None:
        self.config = config
        self.log = log
        self.progress = progress
        self._model: ModelIdentity | None = None
        self._engine: EngineIdentity | None = None
        self._chat_template: tuple[str | None] | None = None
        self._recorded = None  # --regrade: the RegradeSource read, once

    @property
    def from_record(self) -> bool:
        """--regrade: the key, digests and provenance come from a recorded run."""
        return bool(self.config.regrade and self.config.store is not None)

    def recorded(self):
        """The recorded run --regrade reads (RegradeSourceError, a StoreError, when none)."""
        if self._recorded is None:
            from capability_tests.reporting.recorded_runs import regrade_source

            self._recorded = regrade_source(self.config)
            self.log(f"capability-tests: --regrade: the samples of run {self._recorded.run.run_id}"
                     f" ({len(self._recorded.prompts)} problems recorded), found from its record; "
                     "no engine or server asked")
        return self._recorded

    @property
    def engine_class(self):
        return engine_class(self.config.engine)

    @property
    def seeded(self) -> bool:
        return self.config.sampling == "seeded"

    def engine_settings(self) -> EngineSettings:
        """The settings the engine class is asked about and started with (`prepare` turns the
        model spec into what it loads); a resolved Hub revision is passed on, so the engine loads
        the commit the store key names."""
        c = self.config
        args = dict(c.engine_args)
        if self._model is not None and self._model.revision and "revision" not in args:
            args["revision"] = self._model.revision
        return EngineSettings(model=c.model or "", seed=c.seed, engine_args=args,
                              progress=self.progress, seeded=self.seeded,
                              batch_invariant=c.batch_invariant, server=c.server)

    def model_identity(self) -> ModelIdentity:
        """The model's fingerprint and resolved revision, from the engine class; an unpinned
        model is warned about here, once."""
        if self._model is None:
            self._model = self.engine_class.model_identity(self.engine_settings())
            if self._model.warning:
                self.log(self._model.warning)
                warnings.warn(self._model.warning, UserWarning, stacklevel=2)
        return self._model

    def engine_identity(self) -> EngineIdentity:
        """The engine's version and effective settings, known before it starts."""
        if self._engine is None:
            self._engine = self.engine_class.identity(self.engine_settings())
        return self._engine

    def prompt_key(self, template: Template, problem: Problem) -> str:
        """The store's prompt digest (`Template.prompt_key`): under --regrade the one recorded
        for the problem (a problem no run recorded: computed where the template renders without
        the model, else it has no samples); otherwise computed, with the chat template from the
        engine class (no engine is started for it)."""
        if self.from_record:
            recorded = self.recorded().prompts.get(problem.key)
            if recorded is not None:
                return recorded
            if template.render is not None:
                return template.prompt_key(problem)
            return f"unrecorded:{problem.key}"
        if template.render is not None:
            return template.prompt_key(problem)
        if self._chat_template is None:
            self.model_identity()  # the revision the template is read at
            self._chat_template = (self.engine_class.chat_template_source(
                self.engine_settings()),)
        return template.prompt_key(problem, self._chat_template[0])

    @staticmethod
    def grading_key(problem: Problem, grader: str) -> str:
        """The key a verdict on `problem` is stored and kept under: the grader, the problem's
        reference and policy, and the effective limits on this machine (a code problem's
        reference solution is timed here once, if not recorded yet: `verdict_limits`)."""
        from capability_tests.grading.verifiers import verdict_limits

        return grading_digest(problem.verifier, problem.answer, problem.meta,
                              benchmark=problem.benchmark, grader=grader, policy=problem.policy,
                              limits=verdict_limits(problem))

    @classmethod
    def grading_keys(cls, problems: Sequence[Problem], grader: str,
                     workers: int | None = None) -> dict[str, str]:
        """`grading_key` of each problem, by problem key. What takes time is timing a code
        problem's reference the first time on a machine (three sandbox runs), so problems are
        keyed side by side on `workers` threads (default: the grading pool's size), as the pool's
        workers would have timed them."""
        from concurrent.futures import ThreadPoolExecutor

        from capability_tests.grading.pool import default_workers

        threads = max(1, min(len(problems), workers or default_workers()))
        if threads == 1:
            return {p.key: cls.grading_key(p, grader) for p in problems}
        with ThreadPoolExecutor(threads, thread_name_prefix="grading-keys") as pool:
            keys = pool.map(lambda p: cls.grading_key(p, grader), problems)
            return dict(zip([p.key for p in problems], keys))

    def sampling_settings(self) -> SamplingSettings:
        c = self.config
        return SamplingSettings(n=c.k, temperature=c.temperature, top_p=c.top_p,
                                max_tokens=c.max_tokens, seed=c.seed, seeded=self.seeded)

    def generation_key(self) -> GenerationKey:
        """The store key of this run's samples, less prompt and index (see capability_tests.store);
        speed-only engine arguments are left out: each engine lists its own. Under --regrade:
        the key the recorded run sampled under."""
        c = self.config
        if self.from_record:
            return GenerationKey(**json.loads(self.recorded().generation))
        engine = self.engine_identity()
        return GenerationKey(
            model=self.model_identity().fingerprint,
            engine=engine.name,
            engine_version=engine.version,
            engine_settings=json.dumps(engine.key_settings(), sort_keys=True, default=str),
            mode=c.sampling,
            temperature=c.temperature,
            top_p=c.top_p,
            max_tokens=c.max_tokens,
            seed=c.seed,
            seed_policy=SEED_POLICY,
        )

    def provenance(self, runtime: dict | None, generated: int, from_store: int) -> dict[str, Any]:
        """What produced this process's samples, as JSON primitives (crosses xdist as JSON).
        `runtime`: the started engine's `runtime()` (None: no engine started)."""
        c = self.config
        if self.from_record and runtime is None:
            return dict(self.recorded().provenance(),
                        samples={"generated": generated, "from_store": from_store})
        engine = self.engine_identity()
        run = dict(runtime or {})
        settings = engine.to_json()["settings"]
        return {
            "model": self.model_identity().to_json(),
            "engine": {
                "name": engine.name, "version": engine.version, "settings": settings,
                "speed_only": sorted(engine.speed_only), "started": runtime is not None,
            },
            "dtype": run.get("dtype") or settings.get("dtype"),
            "device": run.get("device"),
            "tensor_parallel_size": run.get(
                "tensor_parallel_size", settings.get("tensor_parallel_size", 1)),
            "data_parallel_size": run.get(
                "data_parallel_size", settings.get("data_parallel_size", 1)),
            "batch_invariant": bool(run.get("batch_invariant", c.batch_invariant)),
            "sampling": {"mode": c.sampling, "seed": c.seed, "seed_policy": SEED_POLICY},
            "samples": {"generated": generated, "from_store": from_store},
        }
