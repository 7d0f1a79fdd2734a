"""Reading recorded runs: a RUN argument (folder, summary.json, run id, `latest`) resolved to its
run folder and read back (`RecordedRun`), the one recorded-run API of `compare`, `--baseline`,
`--compare`, `regrade-diff`, `perplexity` and `--regrade`.

A run folder records where its samples are: `summary.json`'s `store` section (the completion
store's path and the generation key the run sampled under) and `generation.json` (the same, with
each problem's prompt digest; older folders: the `prompt` of every line of `samples.jsonl`).
Readers find samples from that record alone (`generation_key`, `prompt_digests`, `samples`),
never by rebuilding the key from the engine installed now or a live server, so they work on a
machine without the engine, after an upgrade, on another device, with the server down.
`regrade_source` picks the recorded run that `--regrade` reads. Writing run folders is
`run_writer.py` (and `write_generation_record` here)."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator, Mapping, NamedTuple

from capability_tests.reporting.run_writer import PROBLEMS, SUMMARY
from capability_tests.results import ProblemResult
from capability_tests.store import StoreError

GENERATION = "generation.json"  # the store, generation key and per-problem prompt digests


class RecordedSample(NamedTuple):
    """One recorded sample with its stored text (`RecordedRun.samples`)."""

    key: str  # benchmark/problem_id
    index: int
    text: str


class RunNotFound(ValueError):
    """A RUN argument names no readable run folder."""


class RecordError(ValueError):
    """A run folder does not record where its samples are (no store, several keys, no digests)."""


class RegradeSourceError(StoreError):
    """`--regrade` finds no recorded run whose samples it could regrade; names what differs."""


@dataclass
class RecordedRun:
    """A run read back from its folder: the summary document and per-problem results."""

    path: Path
    document: dict[str, Any]
    results: list[ProblemResult] = field(default_factory=list)

    @property
    def run_id(self) -> str:
        return str(self.document.get("run_id") or self.path.name)

    @property
    def model(self) -> str:
        return str(self.document.get("model") or self.document.get("run", {}).get("model") or "?")

    @property
    def label(self) -> str:
        return f"{self.model} ({self.run_id})"

    @property
    def complete(self) -> bool:
        return bool(self.document.get("complete", True))

    def by_benchmark(self) -> dict[str, list[ProblemResult]]:
        out: dict[str, list[ProblemResult]] = {}
        for r in self.results:
            out.setdefault(r.benchmark, []).append(r)
        return out

    # -- where the run's samples are ----------------------------------------------------------

    def generation_key(self) -> str:
        """The generation key (JSON) the run sampled under, as it recorded it."""
        section = self.document.get("store") or {}
        key = section.get("generation")
        if not isinstance(key, str):
            raise RecordError(
                f"run {self.run_id} ({self.path}) records no single store generation key "
                f"(store.generation is {key!r}): it ran with --store none, sampled nothing, or "
                "mixed several sampling keys")
        return key

    def store_path(self, override: str | os.PathLike | None = None) -> Path:
        """The completion store the run wrote to: `override`, else the recorded path, else a
        store of that name beside the run folder (a reports folder moved as a whole)."""
        if override is not None:
            return Path(override)
        recorded = Path((self.document.get("store") or {}).get("path") or "")
        if not str(recorded) or str(recorded) == ".":
            raise RecordError(f"run {self.run_id} records no completion store (--store none)")
        beside = self.path.parent / recorded.name
        return recorded if recorded.is_file() or not beside.is_file() else beside

    def prompt_digests(self) -> dict[str, str]:
        """`benchmark/problem_id` -> the prompt digest its samples are stored under: from
        `generation.json`, or for folders written before it from `samples.jsonl`."""
        record = self.path / GENERATION
        try:
            if record.is_file():
                prompts = json.loads(record.read_text(encoding="utf-8")).get("prompts") or {}
                return {str(k): str(v) for k, v in prompts.items()}
            return {key: digest for key, digest, _ in self._recorded_samples()}
        except (OSError, ValueError, AttributeError) as exc:
            raise RecordError(f"run {self.run_id}: cannot read {record.name} ({exc})") from None

    def _recorded_samples(self) -> Iterator[tuple[str, str, tuple[int, ...]]]:
        """(problem key, prompt digest, sample indices) from `samples.jsonl`, one problem at a
        time."""
        import itertools

        from capability_tests.reporting.samples import SAMPLES, read_samples

        if not (self.path / SAMPLES).is_file():
            raise RecordError(f"run {self.run_id} ({self.path}) has no {SAMPLES}: it was recorded "
                              "before per-sample records, or sampled nothing; rerun it")
        rows = read_samples(self.path / SAMPLES)
        for (benchmark, problem_id, prompt), group in itertools.groupby(
                rows, key=lambda r: (r["benchmark"], str(r["problem_id"]), r.get("prompt"))):
            if not isinstance(prompt, str):
                raise RecordError(f"{self.path / SAMPLES}: {benchmark}/{problem_id} has no "
                                  "prompt digest (recorded by an older version); rerun it")
            yield f"{benchmark}/{problem_id}", prompt, tuple(int(r["index"]) for r in group)

    def samples(self, store) -> Iterator[RecordedSample]:
        """Every sample the run recorded, its text read from `store` (a `CompletionStore`) one at
        a time; a text no longer in the store is skipped."""
        generation = store.find_generation(self.generation_key())
        if generation is None:
            raise RecordError(f"completion store {store.path} holds no samples of run "
                              f"{self.run_id}'s generation key (another store, or deleted)")
        for key, prompt, indices in self._recorded_samples():
            for index, text in store.texts(generation, prompt, indices):
                yield RecordedSample(key, index, text)


def resolve_run(
    spec: str | os.PathLike, report_dir: Path | None = None, base: Path | None = None
) -> Path:
    """A RUN argument -> its folder. Accepts a run folder path, a path to its summary.json, a run id
    under `report_dir` (default ./reports), or `latest` (the run `report_dir/summary.json` names).
    Relative paths are read from `base` (default: the current directory)."""
    report_dir = Path(report_dir) if report_dir is not None else Path("reports")
    text = str(spec)
    candidates = []
    path = Path(text).expanduser()
    if base is not None and not path.is_absolute():
        path = base / path
    if path.is_file() and path.name == SUMMARY:
        path = path.parent
        if (path / PROBLEMS).is_file():
            return path
        latest = _latest_id(path)
        if latest:
            candidates.append(path / latest)
    candidates += [path, report_dir / text]
    if text == "latest":
        latest = _latest_id(report_dir)
        if latest:
            candidates.insert(0, report_dir / latest)
    for candidate in candidates:
        if candidate.is_dir() and (candidate / SUMMARY).is_file() and (candidate / PROBLEMS).is_file():
            return candidate
    raise RunNotFound(
        f"{text!r} is not a run folder (a folder with {SUMMARY} and {PROBLEMS}), nor a run id under "
        f"{report_dir}"
    )


def _latest_id(report_dir: Path) -> str | None:
    try:
        return json.loads((report_dir / SUMMARY).read_text(encoding="utf-8")).get("run_id")
    except (OSError, ValueError, AttributeError):
        return None


def load_run(
    spec: str | os.PathLike, report_dir: Path | None = None, base: Path | None = None
) -> RecordedRun:
    path = resolve_run(spec, report_dir, base)
    try:
        document = json.loads((path / SUMMARY).read_text(encoding="utf-8"))
        results = [
            ProblemResult.from_json(json.loads(line))
            for line in (path / PROBLEMS).read_text(encoding="utf-8").splitlines()
            if line.strip()
        ]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise RunNotFound(f"{spec}: cannot read run folder {path}: {exc}") from None
    return RecordedRun(path=path, document=document, results=results)


def write_generation_record(folder: Path, store: str | None, keys: list[str] | str | None,
                            prompts: Mapping[str, str]) -> None:
    """`generation.json` of a run folder: the store, the generation key(s) and each problem's
    prompt digest, so a reader finds every problem's samples without reading `samples.jsonl`."""
    document = {"store": store, "generation": keys, "prompts": dict(sorted(prompts.items()))}
    tmp = folder / (GENERATION + ".part")
    tmp.write_text(json.dumps(document, separators=(",", ":")) + "\n", encoding="utf-8")
    tmp.replace(folder / GENERATION)


# -- which recorded run --regrade reads -------------------------------------------------------

# The run settings (the `run` section of summary.json) that decide which samples a run draws;
# engine arguments are compared less those the recorded engine declared speed-only.
SAMPLE_SETTINGS = ("model", "engine", "template", "sampling", "temperature", "top_p",
                   "max_tokens", "seed", "batch_invariant")


@dataclass(frozen=True)
class RegradeSource:
    """What `--regrade` reads: the newest recorded run of the report folder that sampled with
    this run's settings into this store, its generation key, and every problem's prompt digest
    (merged over all such runs of that key, the newest first)."""

    run: RecordedRun
    generation: str
    prompts: dict[str, str]

    def provenance(self) -> dict[str, Any]:
        """The recorded run's model and engine provenance (what made the samples)."""
        recorded = dict(self.run.document.get("provenance") or {})
        key = json.loads(self.generation)
        out = {name: recorded.get(name) for name in (
            "model", "engine", "dtype", "tensor_parallel_size", "data_parallel_size",
            "batch_invariant", "sampling")}
        if not isinstance(out["model"], dict):
            out["model"] = {"fingerprint": key.get("model")}
        engine = out["engine"] if isinstance(out["engine"], dict) else {
            "name": key.get("engine"), "version": key.get("engine_version"),
            "settings": json.loads(key.get("engine_settings") or "{}"), "speed_only": []}
        out["engine"] = dict(engine, started=False)
        out["device"] = None
        out["regraded_from"] = self.run.run_id
        return out


def _differences(wanted: Mapping[str, Any], run: RecordedRun) -> list[str]:
    recorded = run.document.get("run") or {}
    out = [f"{name} ({recorded.get(name)!r} recorded, {wanted.get(name)!r} now)"
           for name in SAMPLE_SETTINGS if recorded.get(name) != wanted.get(name)]
    engine = (run.document.get("provenance") or {}).get("engine") or {}
    speed_only = set(engine.get("speed_only") or ()) if isinstance(engine, dict) else set()
    args = [{k: v for k, v in (d or {}).items() if k not in speed_only}
            for d in (recorded.get("engine_args"), wanted.get("engine_args"))]
    if args[0] != args[1]:
        out.append(f"engine_args ({args[0]!r} recorded, {args[1]!r} now)")
    return out


def regrade_source(config) -> RegradeSource:
    """The recorded run `--regrade` reads for `config` (a `RunConfig`): among the run folders of
    `--report-dir` that recorded one generation key in `--store`, the newest whose sampling
    settings equal this run's. The key is taken as recorded, whatever engine or server is there
    now (none is asked). Raises `RegradeSourceError` naming what differs when none matches."""
    report_dir = Path(config.report_dir)
    store = Path(config.store).resolve()
    wanted = config.report_run_section()
    runs = []
    for summary in report_dir.glob(f"*/{SUMMARY}"):
        try:
            run = load_run(summary.parent)
            run.generation_key()
            if run.store_path().resolve() != store:
                continue
        except (RunNotFound, RecordError, OSError):
            continue
        runs.append(run)
    runs.sort(key=lambda r: str(r.document.get("finished_at") or r.document.get("started_at")
                                or ""), reverse=True)
    matching = [r for r in runs if not _differences(wanted, r)]
    if not matching:
        nearest = (f"; the newest, {runs[0].run_id}, differs in "
                   + ", ".join(_differences(wanted, runs[0]))) if runs else ""
        raise RegradeSourceError(
            f"--regrade: no run recorded in {report_dir} sampled with these settings into the "
            f"completion store {config.store}{nearest}. --regrade reads the generation key a "
            "run recorded; run without --regrade to sample")
    generation = matching[0].generation_key()
    prompts: dict[str, str] = {}
    for run in matching:
        if run.generation_key() == generation:
            try:
                for key, digest in run.prompt_digests().items():
                    prompts.setdefault(key, digest)
            except RecordError:
                continue
    return RegradeSource(matching[0], generation, prompts)
