"""Scoring stored completions under a scoring model, in batches, with stored scores reused.

The scoring model runs in an engine of `capability_tests.engines` that can score
(`token_ids` + `completion_logprobs`: vLLM's prompt log-probabilities, or the transformers
fallback). It starts only when some sample of the requested runs has no stored score under this
scorer, so a rerun is free. Each batch (`batch_size` samples, their texts read from the store as
the batch fills) is scored in one engine call and its scores are written in one transaction, so
an interrupted scoring keeps every finished batch and memory holds one batch of texts.
"""

from __future__ import annotations

import json
import sys
import time
import warnings
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Callable, Iterator

from capability_tests.perplexity.measure import ScoreError, logprob_total
from capability_tests.perplexity.recorded import ProblemSamples, RunInputError, RunSource
from capability_tests.progress import progress_bar
from capability_tests.store import CompletionStore, ScoreRow, StoreError

DEFAULT_BATCH = 64


class ScoringError(Exception):
    """The scoring model could not be loaded or could not score; the message names it."""


@dataclass
class Scorer:
    """The scoring model (`--model BASE`) and its engine, started lazily."""

    model: str
    engine_name: str = "vllm"
    engine_args: dict[str, Any] = field(default_factory=dict)
    progress: bool = True
    log: Callable[[str], None] = lambda line: print(line, file=sys.stderr)
    engine_factory: Callable | None = None  # tests: a fake engine
    engine: Any = None
    _identity: dict[str, Any] | None = None
    _resolved: Any = None

    def _settings(self):
        from capability_tests.engines import EngineSettings

        return EngineSettings(model="", seed=0, engine_args=dict(self.engine_args),
                              progress=self.progress)

    def identity(self) -> dict[str, Any]:
        """What a stored score depends on: the scoring model's fingerprint, the engine, its
        version and its effective settings less speed-only ones (e.g. dtype float32 vs bfloat16
        give other numbers). Known without loading the model."""
        if self._identity is None:
            from capability_tests.engines import EngineError, engine_identity
            from capability_tests.fingerprints import model_identity
            from capability_tests.models import ModelError, resolve_model

            try:
                self._resolved = resolve_model(self.model)
                model = model_identity(self._resolved, self.engine_args.get("revision"))
            except (ModelError, OSError) as exc:
                raise ScoringError(f"scoring model --model={self.model}: {exc}") from None
            if model.warning:
                self.log(model.warning)
            try:
                engine = engine_identity(self.engine_name, self._settings())
            except EngineError as exc:
                raise ScoringError(str(exc)) from None
            self._identity = {"model": model.fingerprint, "model_spec": self.model,
                              "revision": model.revision, "engine": engine.name,
                              "engine_version": engine.version,
                              "engine_settings": engine.key_settings()}
        return self._identity

    def key(self) -> str:
        """The store key (JSON) of this scorer."""
        ident = self.identity()
        return json.dumps({k: ident[k] for k in ("model", "engine", "engine_version",
                                                 "engine_settings")}, sort_keys=True, default=str)

    def start(self):
        if self.engine is not None:
            return self.engine
        from capability_tests.engines import EngineError, create_engine
        from capability_tests.models import ModelError, prepare_model

        ident = self.identity()
        from capability_tests.engines import engine_capabilities

        try:
            scoring = engine_capabilities(self.engine_name).scoring
        except EngineError as exc:
            raise ScoringError(str(exc)) from None
        if not scoring:  # declared by the class: known before anything loads
            raise ScoringError(f"engine {self.engine_name!r} cannot score completions (its "
                               "capabilities say no scoring; use --engine vllm or transformers)")
        self.log(f"capability-tests perplexity: starting {self.engine_name} engine for scoring "
                 f"model {self.model}")
        settings = self._settings()
        args = dict(settings.engine_args)
        if ident.get("revision") and "revision" not in args:
            args["revision"] = ident["revision"]
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", DeprecationWarning)
                warnings.simplefilter("ignore", FutureWarning)
                path = prepare_model(self._resolved, progress=self.progress)
                engine = (self.engine_factory or create_engine)(
                    self.engine_name, replace(settings, model=path, engine_args=args))
        except (EngineError, ModelError, OSError) as exc:
            raise ScoringError(f"cannot load scoring model {self.model!r} with engine "
                               f"{self.engine_name!r}: {exc}") from None
        self.engine = engine
        return engine

    def close(self) -> None:
        engine, self.engine = self.engine, None
        if engine is not None:
            engine.close()


@dataclass
class ScoringStats:
    samples: int = 0  # samples of the runs
    already: int = 0  # scores found in the store
    scored: int = 0  # scored now
    tokens: int = 0
    seconds: float = 0.0
    engine_started: bool = False


@dataclass
class _Item:
    store: CompletionStore
    generation: int
    scorer: int
    samples: ProblemSamples
    index: int
    created: float
    prompt: str
    text: str


class StoreSet:
    """One open `CompletionStore` per distinct file (several runs may share one)."""

    def __init__(self) -> None:
        self._stores: dict[Path, CompletionStore] = {}

    def get(self, path: Path) -> CompletionStore:
        key = Path(path).resolve()
        if key not in self._stores:
            try:
                self._stores[key] = CompletionStore(key)
            except StoreError as exc:
                raise RunInputError(str(exc)) from None
        return self._stores[key]

    def close(self) -> None:
        for store in self._stores.values():
            store.close()
        self._stores.clear()


def _generation(source: RunSource, store: CompletionStore) -> int:
    generation = store.find_generation(source.generation_key)
    if generation is None:
        raise RunInputError(f"run {source.run_id} has no stored completions: completion store "
                            f"{source.store_path} holds no samples of its generation key "
                            "(another store, or the samples were deleted)")
    return generation


def count_missing(sources: list[RunSource], stores: StoreSet, scorer_key: str) -> ScoringStats:
    """How many samples each run has and how many lack a stored score; every recorded sample
    must be in the store (else an error naming the run and a sample), and no text is read."""
    stats = ScoringStats()
    for source in sources:
        store = stores.get(source.store_path)
        generation = _generation(source, store)
        scorer = store.scorer_id(scorer_key)
        absent, first_absent = 0, None
        for samples in source.problems():
            stored = store.stored(generation, samples.prompt)
            done = store.scores(scorer, generation, samples.prompt)
            for index in samples.indices:
                stats.samples += 1
                if index not in stored:
                    absent += 1
                    first_absent = first_absent or f"{samples.benchmark}/{samples.problem_id} #{index}"
                elif index in done:
                    stats.already += 1
        if stats.samples == 0:
            raise RunInputError(f"run {source.run_id} records no samples to score")
        if absent:
            raise RunInputError(f"run {source.run_id}: {absent} recorded samples are not in "
                                f"completion store {source.store_path} (e.g. {first_absent}); "
                                "their texts were deleted or the store was replaced")
    return stats


def _missing_items(sources: list[RunSource], stores: StoreSet, scorer_key: str) -> Iterator[_Item]:
    """Every sample without a stored score, its prompt rendered once per problem and its text
    read only when reached."""
    for source in sources:
        store = stores.get(source.store_path)
        generation = _generation(source, store)
        scorer = store.scorer_id(scorer_key)
        for samples in source.problems():
            done = store.scores(scorer, generation, samples.prompt)
            todo = [i for i in samples.indices if i not in done]
            if not todo:
                continue
            prompt = source.prompt_text(samples)
            for index, created, text in store.stamped_texts(generation, samples.prompt, todo):
                yield _Item(store, generation, scorer, samples, index, created, prompt, text)


def score_runs(sources: list[RunSource], scorer: Scorer, stores: StoreSet, *,
               batch_size: int = DEFAULT_BATCH) -> ScoringStats:
    """Score every sample of `sources` that has no stored score under `scorer`; the engine starts
    only when there is one."""
    key = scorer.key()
    stats = count_missing(sources, stores, key)
    missing = stats.samples - stats.already
    scorer.log(f"capability-tests perplexity: {stats.samples} samples in {len(sources)} run(s), "
               f"{stats.already} already scored under {scorer.model}, {missing} to score")
    if missing == 0:
        return stats
    engine = scorer.start()
    stats.engine_started = True
    start = time.perf_counter()
    with progress_bar(scorer.progress, missing, "scoring") as bar:
        batch: list[_Item] = []
        for item in _missing_items(sources, stores, key):
            batch.append(item)
            if len(batch) >= batch_size:
                _score_batch(engine, batch, stats, bar, start)
                batch = []
        if batch:
            _score_batch(engine, batch, stats, bar, start)
    stats.seconds = time.perf_counter() - start
    scorer.log(f"capability-tests perplexity: scored {stats.scored} samples, {stats.tokens} "
               f"tokens in {stats.seconds:.1f} s "
               f"({stats.tokens / stats.seconds if stats.seconds else 0:.0f} tokens/s)")
    return stats


def _score_batch(engine, batch: list[_Item], stats: ScoringStats, bar, start: float) -> None:
    from capability_tests.engines import EngineError

    where = f"{batch[0].samples.benchmark}/{batch[0].samples.problem_id} #{batch[0].index}"
    try:
        sequences = [engine.token_ids(item.prompt, item.text) for item in batch]
        for item, (prompt_ids, _) in zip(batch, sequences):
            if not prompt_ids:
                raise ScoreError(f"the prompt of {item.samples.benchmark}/"
                                 f"{item.samples.problem_id} tokenizes to nothing")
        wanted = [i for i, (_, c) in enumerate(sequences) if c]  # empty completions: no call
        scored = engine.completion_logprobs([sequences[i] for i in wanted]) if wanted else []
        if len(scored) != len(wanted):
            raise ScoreError(f"the engine returned {len(scored)} scores for {len(wanted)} "
                             "sequences")
        totals = [(0, 0.0)] * len(batch)
        for i, logprobs in zip(wanted, scored):
            if len(logprobs) != len(sequences[i][1]):
                raise ScoreError(f"{len(logprobs)} log-probabilities for "
                                 f"{len(sequences[i][1])} completion tokens")
            totals[i] = logprob_total(logprobs)
    except (EngineError, ScoreError) as exc:
        raise ScoringError(f"scoring the batch starting at {where} failed: {exc} (scores of "
                           "earlier batches are stored)") from None
    groups: dict[tuple[int, int, int, str], list[ScoreRow]] = {}
    stores: dict[int, CompletionStore] = {}
    for item, (tokens, total) in zip(batch, totals):
        group = (id(item.store), item.scorer, item.generation, item.samples.prompt)
        stores[id(item.store)] = item.store
        groups.setdefault(group, []).append(ScoreRow(item.index, item.created, tokens, total))
        stats.tokens += tokens
    for (store_id, scorer, generation, prompt), rows in groups.items():
        try:
            stores[store_id].add_scores(scorer, generation, prompt, rows)
        except StoreError as exc:
            raise ScoringError(str(exc)) from None
    stats.scored += len(batch)
    if bar is not None:
        elapsed = time.perf_counter() - start
        bar.set_postfix_str(f"{stats.tokens / elapsed:.0f} tokens/s", refresh=False)
        bar.update(len(batch))
