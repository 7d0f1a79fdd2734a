"""The shard runs a merge combines: read back (run folder, `shard.json`, store file) and checked
to agree, to be disjoint, and to cover the selection (or which shards are missing).

Agreement is what makes the merge equal to one machine's run: the same sampling settings (the
run section, less where the model and data lay on each machine), the same generation key (model
fingerprint, engine, version, effective settings, sampling parameters, seed policy: what the
store keys samples by), the same grader identity (what the verdicts were made under), the same
data (file hashes, the same selection and shard plan) and the same bootstrap settings.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, Sequence

from capability_tests.reporting.recorded_runs import RecordedRun, RunNotFound, load_run

RECORD = "shard.json"  # written by plugin/shard_support.py
# run-section settings that may differ between machines: where the model and data lay
# (their content is checked by fingerprint and hash), and which shard ran
_LOCAL_SETTINGS = ("model", "data_dir", "shard")


class MergeError(ValueError):
    """The runs cannot be merged; the message names the runs and what differs."""


@dataclass
class ShardRun:
    run: RecordedRun
    record: dict[str, Any]
    store: Path

    @property
    def index(self) -> int:
        return int(self.record["shard"]["index"])

    @property
    def count(self) -> int:
        return int(self.record["shard"]["count"])

    @property
    def label(self) -> str:
        return f"shard {self.index}/{self.count} ({self.run.path})"

    @property
    def generation(self) -> str | None:
        return (self.run.document.get("store") or {}).get("generation")

    @property
    def grader(self) -> str | None:
        return (self.run.document.get("grader") or {}).get("identity")


def _read_run(spec: str, base: Path | None) -> RecordedRun:
    path = Path(spec).expanduser()
    try:
        return load_run(spec, None, base)
    except RunNotFound as first:
        if (path / "summary.json").is_file():  # a report dir: its latest run
            try:
                return load_run(path / "summary.json", None, base)
            except RunNotFound:
                pass
        raise MergeError(str(first)) from None


def _find_store(run: RecordedRun) -> Path:
    recorded = (run.document.get("store") or {}).get("path")
    if not recorded:
        raise MergeError(f"{run.path}: the run kept no completion store (--store none); a merge "
                         "needs each shard's store")
    candidates = [Path(recorded), run.path.parent / Path(recorded).name]
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    raise MergeError(f"{run.path}: its completion store is not at {candidates[0]} (recorded) nor "
                     f"at {candidates[1]} (beside the run folder); copy it there")


def read_shard(spec: str, base: Path | None = None) -> ShardRun:
    """A RUN argument (run folder, its summary.json, or a report dir: its latest run)."""
    run = _read_run(spec, base)
    record_path = run.path / RECORD
    if record_path.is_file():
        try:
            record = json.loads(record_path.read_text(encoding="utf-8"))
        except ValueError as exc:
            raise MergeError(f"{record_path}: not JSON ({exc})") from None
    else:  # a run without --shard: the whole selection, shard 0 of 1
        keys = sorted(f"{r.benchmark}/{r.problem_id}" for r in run.results)
        record = {"shard": {"index": 0, "count": 1}, "plan": None, "problems": keys,
                  "answers": None, "selection": {"problems": len(keys), "sha256": None}}
    return ShardRun(run, record, _find_store(run))


def _flat(value: Any, prefix: str, out: dict[str, Any]) -> dict[str, Any]:
    if isinstance(value, Mapping) and value:
        for key, item in value.items():
            _flat(item, f"{prefix}.{key}" if prefix else str(key), out)
    else:
        out[prefix] = value
    return out


def _generation_fields(key_json: str | None) -> dict[str, Any]:
    """The generation key as dotted names (`engine_settings.dtype`, `model`, `temperature`)."""
    if not key_json:
        return {}
    key = json.loads(key_json)
    settings = key.get("engine_settings")
    if isinstance(settings, str):
        try:
            key["engine_settings"] = json.loads(settings)
        except ValueError:
            pass
    return _flat(key, "", {})


def _data_identity(document: Mapping[str, Any]) -> dict[str, Any]:
    out = {}
    for name, entry in (document.get("data") or {}).items():
        entry = entry or {}
        out[f"data.{name}"] = entry.get("file_sha256") or entry.get("source")
    return out


def _settings(shard: ShardRun) -> list[tuple[str, dict[str, Any]]]:
    """What must agree, by kind, as dotted names."""
    doc = shard.run.document
    run = {k: v for k, v in (doc.get("run") or {}).items() if k not in _LOCAL_SETTINGS}
    selection = shard.record.get("selection") or {}
    return [
        ("shard count", {"shards": shard.count}),
        ("shard plan", {"plan": shard.record.get("plan")}),
        ("setting", _flat(run, "", {})),
        ("generation key", {f"{'model fingerprint' if k == 'model' else k}": v
                            for k, v in _generation_fields(shard.generation).items()}),
        ("grader identity", {"grader": shard.grader}),
        ("data", _data_identity(doc)),
        ("selection", {"selected problems": selection.get("problems"),
                       "selection sha256": selection.get("sha256")}),
        ("report setting", _flat(doc.get("confidence_interval") or {}, "confidence_interval", {})),
    ]


def _same(a: Any, b: Any) -> bool:
    return json.dumps(a, sort_keys=True, default=str) == json.dumps(b, sort_keys=True, default=str)


def check_agree(shards: Sequence[ShardRun]) -> None:
    """Raise MergeError naming the first kind of setting on which a run differs from the first."""
    first = shards[0]
    reference = _settings(first)
    for other in shards[1:]:
        for (kind, a), (_, b) in zip(reference, _settings(other)):
            differ = [n for n in sorted(set(a) | set(b)) if not _same(a.get(n), b.get(n))]
            if differ:
                said = "; ".join(f"{n} = {a.get(n)!r} in {first.label} but {b.get(n)!r} in "
                                 f"{other.label}" for n in differ)
                raise MergeError(f"the runs differ in their {kind}: {said}. Only runs of one "
                                 "sampling configuration merge into one run; rerun the odd shard "
                                 "with the others' settings")


def check_disjoint(shards: Sequence[ShardRun]) -> None:
    """No shard index twice, no problem in two runs."""
    seen: dict[int, ShardRun] = {}
    owner: dict[str, ShardRun] = {}
    for shard in shards:
        if shard.index in seen:
            raise MergeError(f"shard {shard.index}/{shard.count} is given twice: "
                             f"{seen[shard.index].run.path} and {shard.run.path}; name one")
        seen[shard.index] = shard
        for r in shard.run.results:
            key = f"{r.benchmark}/{r.problem_id}"
            if key in owner:
                raise MergeError(f"problem {key} is in two runs: {owner[key].label} and "
                                 f"{shard.label}; the runs are not shards of one selection")
            owner[key] = shard


def missing(shards: Sequence[ShardRun]) -> list[str]:
    """Why the merged run is not complete: missing shards, incomplete shards ([] when complete)."""
    count = shards[0].count
    present = {s.index for s in shards}
    selected = (shards[0].record.get("selection") or {}).get("problems")
    # fewer problems than shards: the plan leaves shards p..N-1 empty, and a session that
    # selects nothing writes no run folder
    planned = count if selected is None else min(count, selected)
    out = [f"shard {i}/{count} is missing" for i in range(planned) if i not in present]
    for shard in shards:
        reported = {f"{r.benchmark}/{r.problem_id}" for r in shard.run.results}
        lacking = sorted(set(shard.record.get("problems") or ()) - reported)
        if lacking:
            out.append(f"{shard.label} lacks {len(lacking)} of its problems (first: {lacking[0]})")
        elif not shard.run.complete:
            out.append(f"{shard.label} is an incomplete run")
    got = sum(len(s.run.results) for s in shards)
    if not out and selected is not None and got != selected:
        out.append(f"the runs report {got} problems of the {selected} selected")
    return out
