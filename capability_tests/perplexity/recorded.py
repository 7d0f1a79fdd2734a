"""From a recorded run to what scoring needs: each sample's prompt text and stored completion.

A run folder already names everything, read through the one recorded-run API
(`reporting.recorded_runs.RecordedRun`): the completion store's path and the run's generation key
as the run recorded them (never rebuilt from the engine installed now), the run settings (model,
template, data dir, limit), and per sample its benchmark, problem id, index and prompt digest. The
prompt *text* is not stored anywhere, so it is rendered again from the
benchmark data and the template, and checked against the recorded digest: a prompt that no
longer matches (edited data, another template) is an error naming the problem, never a score
conditioned on the wrong prompt.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping, Sequence

from capability_tests.problems import Problem


class RunInputError(Exception):
    """A run cannot be scored; the message names the run, file, problem or setting at fault."""


@dataclass(frozen=True)
class ProblemSamples:
    """The recorded samples of one problem of a run: where they are in the store."""

    benchmark: str
    problem_id: str
    prompt: str  # prompt digest (store key part)
    indices: tuple[int, ...]


@dataclass
class RunSource:
    """One recorded run, ready to be read sample by sample (nothing is held but the problems of
    the benchmarks met so far)."""

    path: Path
    run_id: str
    document: dict[str, Any]
    store_path: Path
    generation_key: str
    recorded: Any = None  # the RecordedRun (reporting/recorded_runs.py)
    data_dir: Path | None = None
    _problems: dict[str, dict[str, Problem]] = field(default_factory=dict, repr=False)
    _chat: Callable[[Sequence[Mapping[str, str]]], str] | None = field(default=None, repr=False)
    _chat_source: tuple[str | None] | None = field(default=None, repr=False)

    @property
    def settings(self) -> dict[str, Any]:
        return dict(self.document.get("run") or {})

    @property
    def label(self) -> str:
        return f"{self.document.get('model') or self.settings.get('model') or '?'} ({self.run_id})"

    def problems(self) -> Iterator[ProblemSamples]:
        """The run's problems in samples.jsonl order (sorted by benchmark and problem id), each
        with its sample indices; reads the file as it goes (`RecordedRun`, the one reader)."""
        from capability_tests.reporting.recorded_runs import RecordError

        try:
            for key, prompt, indices in self.recorded._recorded_samples():
                benchmark, _, problem_id = key.partition("/")
                yield ProblemSamples(benchmark, problem_id, prompt, indices)
        except RecordError as exc:
            raise RunInputError(str(exc)) from None
        except (ValueError, KeyError, TypeError) as exc:
            raise RunInputError(f"{self.path}: {exc}") from None

    def prompt_text(self, samples: ProblemSamples) -> str:
        """The exact prompt the run sampled this problem from (checked against its digest)."""
        from capability_tests.templates import TemplateError, get_template

        problem = self._problem(samples.benchmark, samples.problem_id)
        name = self.settings.get("template") or "qwen-boxed"
        try:
            template = get_template(name)
        except TemplateError as exc:
            raise RunInputError(f"{self.run_id}: {exc}") from None
        # the sampling path's own formula (stop sequences and the problem's key included); a run
        # recorded before the problem's key was part of it is read under its older digest
        source = None if template.render is not None else self._chat_template_source()
        if samples.prompt not in (template.prompt_key(problem, source),
                                  template.legacy_prompt_key(problem, source)):
            raise RunInputError(
                f"{self.run_id}: the prompt of {samples.benchmark}/{samples.problem_id} rendered "
                f"now (template {name!r}, data from {self._data_origin()}) is not the one the run "
                "sampled from (its digest differs): the benchmark data or the template changed; "
                "pass --data-dir=DIR with the data the run used")
        if template.render is not None:
            return template.render(problem)
        return self._render_chat(template.messages(problem))

    # -- helpers ----------------------------------------------------------------------------------

    def _data_origin(self) -> str:
        return str(self.data_dir) if self.data_dir else "the Hub"

    def _problem(self, benchmark: str, problem_id: str) -> Problem:
        from capability_tests.benchmarks import BenchmarkError, load_problems

        if benchmark not in self._problems:
            try:
                loaded = load_problems(benchmark, self.data_dir, self.settings.get("limit"))
            except BenchmarkError as exc:
                raise RunInputError(f"{self.run_id}: benchmark {benchmark}: cannot load its "
                                    f"problems ({exc}); pass --data-dir=DIR") from None
            self._problems = {benchmark: {p.problem_id: p for p in loaded}}  # one at a time
        problem = self._problems[benchmark].get(problem_id)
        if problem is None or problem.error is not None:
            raise RunInputError(f"{self.run_id}: {benchmark}/{problem_id} is not in the benchmark "
                                f"data from {self._data_origin()} now; pass --data-dir=DIR")
        return problem

    def _run_model(self):
        from capability_tests.models import ModelError, resolve_model

        spec = self.settings.get("model")
        try:
            return resolve_model(spec)
        except ModelError as exc:
            raise RunInputError(f"{self.run_id}: the run's model {spec!r} is needed to render its "
                                f"chat prompts: {exc}") from None

    def _revision(self) -> str | None:
        model = ((self.document.get("provenance") or {}).get("model") or {})
        return model.get("revision") or (self.settings.get("engine_args") or {}).get("revision")

    def _chat_template_source(self) -> str | None:
        from capability_tests.fingerprints import chat_template_source

        if self._chat_source is None:
            self._chat_source = (chat_template_source(self._run_model(), self._revision()),)
        return self._chat_source[0]

    def _render_chat(self, messages: Sequence[Mapping[str, str]]) -> str:
        """`--template chat`: the run's model's own tokenizer renders the messages, as its engine
        did when sampling (the digest check above proved the chat template is the same)."""
        if self._chat is None:
            from capability_tests.models import prepare_model

            model = self._run_model()
            try:
                from transformers import AutoTokenizer

                tokenizer = AutoTokenizer.from_pretrained(prepare_model(model, progress=False),
                                                          revision=self._revision())
            except Exception as exc:
                raise RunInputError(f"{self.run_id}: cannot load the tokenizer of the run's model "
                                    f"{model.spec!r} to render its chat prompts "
                                    f"({type(exc).__name__}: {exc})") from None
            self._chat = lambda m: tokenizer.apply_chat_template(
                list(m), tokenize=False, add_generation_prompt=True)
        return self._chat(messages)


def open_run(spec: str, report_dir: Path, *, store: Path | None = None,
             data_dir: Path | None = None) -> RunSource:
    """Resolve RUN (as `compare` does) and check it can be scored: it has per-sample records and
    one generation key in a completion store that exists and holds it."""
    from capability_tests.reporting.recorded_runs import RecordError, RunNotFound, load_run
    from capability_tests.reporting.samples import SAMPLES

    try:
        recorded = load_run(spec, report_dir)
    except RunNotFound as exc:
        raise RunInputError(str(exc)) from None
    document, path = recorded.document, recorded.path
    if not (path / SAMPLES).is_file():
        raise RunInputError(f"run {recorded.run_id} ({path}) has no {SAMPLES}: it was recorded "
                            "before per-sample records, or sampled nothing; rerun it")
    try:
        key = recorded.generation_key()
        store = recorded.store_path(store)
    except RecordError as exc:
        raise RunInputError(f"run {recorded.run_id} has no stored completions to score: {exc}") \
            from None
    if not Path(store).is_file():
        raise RunInputError(f"run {recorded.run_id}: completion store {store} not found; pass "
                            "--store=PATH")
    run = document.get("run") or {}
    if data_dir is None and run.get("data_dir"):
        data_dir = Path(run["data_dir"])
    return RunSource(path=path, run_id=recorded.run_id, document=document, store_path=Path(store),
                     generation_key=key, recorded=recorded, data_dir=data_dir)
